//! `igpipe report` in a real headless browser (Debian's chromium; scripts/test.sh installs
//! it): the page loads without errors or requests, shows the expected creators, swatches
//! and checks, keeps a hostile username as text, and a screenshot is saved with the test
//! output (target/tmp/igpipe-report.png).

use crate::facts::assert_ok;
use crate::harness::{LocalLake, TestLake};
use crate::palettes::{bands, encode};
use image::{DynamicImage, ImageFormat};
use std::process::Command;

const DATE: &str = "2024-05-06";
const HOSTILE: &str = r#"<script>document.title='pwned'</script><b>bold</b>"#;

fn chromium() -> String {
    std::env::var("IGPIPE_CHROMIUM").expect("IGPIPE_CHROMIUM (scripts/test.sh sets it)")
}

fn browse(page: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn the_report_renders_in_a_browser_with_creators_swatches_and_checks() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    // A creator whose username is an attack, and the most followed, so it is shown.
    let stats =
        serde_json::json!({"id": "9009", "username": HOSTILE, "followers_count": 99_999_999});
    lake.write(
        "instagram_graph/stats/9009/2024-05-06.json",
        stats.to_string().as_bytes(),
    );
    lake.write(
        "instagram_graph/posts/9009/9009001.json",
        br#"{"id": "9009001", "media_type": "IMAGE", "timestamp": "2024-05-05T10:00:00+0000"}"#,
    );
    let img = bands(&[([200, 30, 30], 0.5), ([30, 30, 200], 0.5)], 64);
    lake.write(
        "instagram_graph_image_store/9009/9009001/original.png",
        &encode(DynamicImage::ImageRgb8(img), ImageFormat::Png),
    );
    for step in [
        "stage-stats",
        "stage-posts",
        "aggregate-posts",
        "color-palette",
        "load-facts",
        "quality-check",
        "report",
    ] {
        assert_ok(&lake.igpipe(&[step, "--date", DATE]));
    }

    let page = lake.path("marts/quality/date=2024-05-06/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for forbidden in ["<script", "http://", "https://", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "the page must be self-contained: found {forbidden}"
        );
    }

    let shown = browse(&page, &["--dump-dom"]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let dom = String::from_utf8(shown.stdout).unwrap();
    let log = String::from_utf8_lossy(&shown.stderr);
    for error in ["Uncaught", "Failed to load resource", "ERR_"] {
        assert!(!log.contains(error), "the browser reported {error}: {log}");
    }
    assert!(
        dom.contains("<title>igpipe report 2024-05-06</title>"),
        "the title is intact: {dom}"
    );
    // The hostile username is text, not markup.
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<b>bold</b>"));

    // Every creator of the fact table (fewer than 24) is shown, with its palette.
    let history = lake.table("marts/history", "date");
    let creators = dom.matches("<tr class=\"creator\">").count();
    assert_eq!(creators, history.height());
    let colors = history.column("colors").unwrap().str().unwrap();
    let entries: usize = colors
        .iter()
        .flatten()
        .map(|c| {
            serde_json::from_str::<serde_json::Value>(c)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert!(entries > 0);
    assert_eq!(dom.matches("class=\"swatch\"").count(), entries);
    assert!(dom.contains("background:#"), "swatches carry their colour");
    assert!(dom.matches("<svg class=\"sparkline\"").count() >= creators - 1);
    // Every check of the quality report, and every step that ran.
    let report: serde_json::Value = serde_json::from_slice(
        &lake
            .read("marts/quality/date=2024-05-06/report.json")
            .unwrap(),
    )
    .unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(dom.matches("<tr class=\"check\">").count(), checks.len());
    for check in checks {
        assert!(dom.contains(check["name"].as_str().unwrap()));
    }
    for step in [
        "stage-stats",
        "stage-posts",
        "aggregate-posts",
        "color-palette",
        "load-facts",
        "quality-check",
    ] {
        assert!(
            dom.contains(&format!("<td>{step}</td>")),
            "runs table lacks {step}"
        );
    }
    // The truncated fixture thumbnail is a reject row of color-palette.
    assert!(dom.contains("truncated JPEG"), "rejects by reason");

    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("igpipe-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = browse(
        &page,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2200",
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a screenshot at {}",
        screenshot.display()
    );
    eprintln!("report screenshot: {}", screenshot.display());
}
