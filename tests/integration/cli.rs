//! The command line itself: help, usage errors, the summary line, log formats.

use crate::harness::{LocalLake, TestLake};
use std::process::Command;

fn igpipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_igpipe"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_lists_the_built_steps_with_their_defaults() {
    let out = igpipe(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for built in [
        "stage-stats",
        "stage-posts",
        "fetch-media",
        "aggregate-posts",
        "color-palette",
        "load-facts",
        "quality-check",
        "report",
        "daily",
        "backfill",
    ] {
        assert!(
            help.contains(&format!("\n  {built} ")),
            "{built} is missing: {help}"
        );
    }
    let sub = String::from_utf8(igpipe(&["stage-posts", "--help"]).stdout).unwrap();
    assert!(
        sub.contains("--max-delete-ratio") && sub.contains("[default: 0.05]"),
        "{sub}"
    );
    assert!(sub.contains("--skip-if-missing"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        igpipe(&["stage-posts", "--lake", "x", "--date", "2024-13-01"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        igpipe(&["stage-posts", "--date", "2024-05-01"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        igpipe(&[
            "stage-posts",
            "--lake",
            "x",
            "--date",
            "2024-05-01",
            "--max-reject-ratio",
            "3"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(igpipe(&["no-such-step"]).status.code(), Some(2));
}

#[test]
fn a_missing_lake_is_a_runtime_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-lake");
    let missing = missing.to_str().unwrap();
    let out = igpipe(&["stage-posts", "--lake", missing, "--date", "2024-05-01"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["status"], "failed");
    assert!(report["error"].as_str().unwrap().contains(missing));
    assert_eq!(report["step"], "stage-posts");
    // Not even the run log may create the mistyped folder.
    assert!(!std::path::Path::new(missing).exists());
}

#[test]
fn stdout_is_one_summary_line_and_logs_can_be_json() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let run = lake.igpipe(&[
        "--log-format",
        "json",
        "stage-posts",
        "--date",
        "2024-05-06",
    ]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 1, "stdout: {}", run.stdout);
    for key in [
        "step",
        "date",
        "files_listed",
        "files_read",
        "rows_written",
        "rejected",
        "seconds",
    ] {
        assert!(
            run.report.get(key).is_some(),
            "summary lacks {key}: {}",
            run.report
        );
    }
    assert!(!run.stderr.is_empty());
    for line in run.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v.get("level").is_some());
    }
}
