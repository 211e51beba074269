//! fetch-media against a loopback HTTP server that plays the CDN: images, 404s, 500 then
//! 200, 429 with Retry-After, a slow body, a non-image body, an oversized body and a
//! redirect to a non-http scheme. Then color-palette on what it fetched.

use crate::facts::assert_ok;
use crate::frames::str_at;
use crate::harness::TestLake;
use crate::palettes::{bands, encode};
use image::{DynamicImage, ImageFormat};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DATE: &str = "2024-05-06";
/// In every URL's query: must never reach a reject row, a log or the summary.
const SIGNATURE: &str = "oh=SECRET-SIGNATURE";

/// A CDN on loopback. Counts the requests per path and when each arrived.
pub struct Cdn {
    pub port: u16,
    hits: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
}

impl Cdn {
    pub fn start(images: HashMap<String, Vec<u8>>) -> Cdn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
        let images = Arc::new(images);
        let seen = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (images, seen) = (images.clone(), seen.clone());
                std::thread::spawn(move || serve(stream, &images, &seen));
            }
        });
        Cdn { port, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}?{SIGNATURE}&oe=66", self.port)
    }

    pub fn hits(&self, path: &str) -> Vec<Instant> {
        self.hits
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

fn serve(
    mut stream: TcpStream,
    images: &HashMap<String, Vec<u8>>,
    seen: &Mutex<HashMap<String, Vec<Instant>>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) <= 2 {
            break;
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let path = target.split('?').next().unwrap().to_string();
    let count = {
        let mut seen = seen.lock().unwrap();
        let times = seen.entry(path.clone()).or_default();
        times.push(Instant::now());
        times.len()
    };
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    let image = |name: &str| images.get(name).cloned().unwrap_or_default();
    match path.as_str() {
        p if p.starts_with("/img/") => respond(
            &mut stream,
            "200 OK",
            "Content-Type: image/jpeg\r\n",
            &image(&p[5..]),
        ),
        "/flaky.jpg" if count == 1 => {
            respond(&mut stream, "500 Internal Server Error", "", b"oops")
        }
        "/flaky.jpg" => respond(&mut stream, "200 OK", "", &image("a")),
        "/busy.jpg" if count == 1 => respond(
            &mut stream,
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            b"",
        ),
        "/busy.jpg" => respond(&mut stream, "200 OK", "", &image("b")),
        "/gone.jpg" => respond(&mut stream, "404 Not Found", "", b"not here"),
        "/page.jpg" => respond(
            &mut stream,
            "200 OK",
            "Content-Type: image/jpeg\r\n",
            b"<html>login</html>",
        ),
        "/ftp.jpg" => respond(
            &mut stream,
            "302 Found",
            "Location: ftp://127.0.0.1/a.jpg\r\n",
            b"",
        ),
        "/slow.jpg" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n\xFF\xD8\xFF");
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(500));
                if stream.write_all(b"\0").is_err() {
                    return;
                }
            }
        }
        "/huge.jpg" => {
            // No Content-Length: the cap must stop the reading itself.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\xFF\xD8\xFF");
            let block = vec![0u8; 1 << 20];
            for _ in 0..40 {
                if stream.write_all(&block).is_err() {
                    return;
                }
            }
        }
        _ => respond(&mut stream, "404 Not Found", "", b""),
    }
}

fn post(lake: &dyn TestLake, user: &str, post: &str, body: &str) {
    let json = format!(r#"{{"id": "{post}", "timestamp": "2024-05-05T10:00:00+0000", {body}}}"#);
    lake.write(
        &format!("instagram_graph/posts/{user}/{post}.json"),
        json.as_bytes(),
    );
}

fn jpeg_of(colour: [u8; 3]) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(bands(&[(colour, 1.0)], 48)),
        ImageFormat::Jpeg,
    )
}

pub fn fetch_media_downloads_retries_refuses_and_resumes(lake: &dyn TestLake) {
    let images: HashMap<String, Vec<u8>> = [
        ("a".to_string(), jpeg_of([200, 30, 30])),
        (
            "b".to_string(),
            encode(
                DynamicImage::ImageRgb8(bands(&[([30, 30, 200], 1.0)], 48)),
                ImageFormat::Png,
            ),
        ),
        (
            "c".to_string(),
            encode(
                DynamicImage::ImageRgb8(bands(&[([30, 200, 30], 1.0)], 48)),
                ImageFormat::WebP,
            ),
        ),
    ]
    .into();
    let cdn = Cdn::start(images);
    let u = |p: &str| cdn.url(p);
    post(
        lake,
        "1",
        "11",
        &format!(r#""media_type": "IMAGE", "media_url": "{}""#, u("/img/a")),
    );
    post(
        lake,
        "1",
        "12",
        &format!(
            r#""media_type": "CAROUSEL_ALBUM", "children": {{"data": [{{"id": "121", "media_type": "IMAGE", "media_url": "{}"}}, {{"id": "122", "media_type": "VIDEO", "media_url": "{}"}}, {{"id": "123", "media_type": "IMAGE", "media_url": "{}"}}]}}"#,
            u("/img/b"),
            u("/clip.mp4"),
            u("/img/c")
        ),
    );
    post(
        lake,
        "1",
        "13",
        &format!(
            r#""media_type": "VIDEO", "media_url": "{}", "thumbnail_url": "{}""#,
            u("/clip.mp4"),
            u("/img/b")
        ),
    );
    post(
        lake,
        "2",
        "21",
        &format!(
            r#""media_type": "STORY_VIDEO", "thumbnail_url": "{}""#,
            u("/flaky.jpg")
        ),
    );
    post(
        lake,
        "2",
        "22",
        &format!(
            r#""media_type": "IMAGE", "media_product_type": "STORY", "media_url": "{}""#,
            u("/busy.jpg")
        ),
    );
    for (id, path) in [
        ("31", "/gone.jpg"),
        ("32", "/page.jpg"),
        ("33", "/ftp.jpg"),
        ("34", "/slow.jpg"),
        ("35", "/huge.jpg"),
    ] {
        post(
            lake,
            "3",
            id,
            &format!(r#""media_type": "IMAGE", "media_url": "{}""#, u(path)),
        );
    }
    post(
        lake,
        "3",
        "36",
        r#""media_type": "IMAGE", "media_url": "file:///etc/passwd""#,
    );
    // Outside the 30-day window: not fetched.
    lake.write(
        "instagram_graph/posts/3/37.json",
        format!(r#"{{"id": "37", "timestamp": "2024-03-01T10:00:00+0000", "media_type": "IMAGE", "media_url": "{}"}}"#, u("/img/a")).as_bytes(),
    );
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));

    let started = Instant::now();
    let run = lake.igpipe(&[
        "fetch-media",
        "--date",
        DATE,
        "--timeout",
        "3",
        "--retries",
        "1",
    ]);
    assert_ok(&run);
    assert!(started.elapsed() < Duration::from_secs(30));
    let store = |key: &str| lake.read(&format!("instagram_graph_image_store/{key}"));
    assert_eq!(store("1/11/original.jpg").unwrap(), jpeg_of([200, 30, 30]));
    assert!(
        store("1/12/121.png").is_some(),
        "extension from the bytes: {:?}",
        lake.keys("instagram_graph_image_store")
    );
    assert!(store("1/12/123.webp").is_some());
    assert!(store("1/13/thumbnail.png").is_some());
    assert!(
        store("2/21/thumbnail.jpg").is_some(),
        "500 then 200: retried"
    );
    assert!(
        store("2/22/original.png").is_some(),
        "429 then 200: retried"
    );
    let busy = cdn.hits("/busy.jpg");
    assert_eq!(busy.len(), 2);
    assert!(
        busy[1] - busy[0] >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
    assert!(
        cdn.hits("/clip.mp4").is_empty(),
        "videos are not downloaded"
    );
    assert_eq!(cdn.hits("/gone.jpg").len(), 1, "no retry on 404");
    assert_eq!(lake.keys("instagram_graph_image_store/3").len(), 0);
    assert_eq!(run.count("rows_written"), 6);
    assert_eq!(run.count("rejected"), 6);

    let rejects = lake.table("staging/rejects", "date");
    let reason = |path: &str| {
        str_at(
            &rejects,
            "source_key",
            &format!("http://127.0.0.1:{}{path}", cdn.port),
            "reason",
        )
        .unwrap()
    };
    assert!(
        reason("/gone.jpg").contains("HTTP 404"),
        "{}",
        reason("/gone.jpg")
    );
    assert!(reason("/page.jpg").contains("not a JPEG, PNG or WebP"));
    assert!(reason("/ftp.jpg").contains("ftp"), "{}", reason("/ftp.jpg"));
    assert!(
        reason("/slow.jpg").contains("timed out"),
        "{}",
        reason("/slow.jpg")
    );
    assert!(
        reason("/huge.jpg").contains("larger than 20 MiB"),
        "{}",
        reason("/huge.jpg")
    );
    assert!(
        str_at(&rejects, "source_key", "file:///etc/passwd", "reason")
            .unwrap()
            .contains("only http and https")
    );
    let cells = |name: &str| -> String {
        let column = rejects.column(name).unwrap().str().unwrap().clone();
        column.iter().flatten().collect::<Vec<_>>().join("\n")
    };
    for text in [
        cells("source_key"),
        cells("reason"),
        run.stdout.clone(),
        run.stderr.clone(),
    ] {
        assert!(!text.contains("SECRET"), "a URL's signature leaked: {text}");
    }

    // A re-run fetches only what is still missing.
    let before = cdn.hits("/img/a").len();
    let again = lake.igpipe(&[
        "fetch-media",
        "--date",
        DATE,
        "--timeout",
        "3",
        "--retries",
        "0",
    ]);
    assert_ok(&again);
    assert_eq!(again.count("files_unchanged"), 6);
    assert_eq!(again.count("rows_written"), 0);
    assert_eq!(cdn.hits("/img/a").len(), before);
    assert_eq!(
        cdn.hits("/gone.jpg").len(),
        2,
        "the failed one is tried again"
    );

    // What was fetched makes palettes.
    assert_ok(&lake.igpipe(&["color-palette", "--date", DATE]));
    let palettes = lake.table("marts/palettes", "date");
    assert_eq!(palettes.height(), 2);
}
