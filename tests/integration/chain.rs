//! `igpipe daily` and `igpipe backfill` on the fixtures, `--metrics-file`, and the default
//! log format when stderr is not a terminal (as under Airflow and cron).

use crate::harness::{LocalLake, TestLake};

const DATE: &str = "2024-05-06";

#[test]
fn daily_runs_the_chain_and_logs_every_step() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let run = lake.igpipe(&["daily", "--date", DATE, "--run-id", "cron-1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let steps: Vec<&str> = run.report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "stage-stats",
            "stage-posts",
            "fetch-media",
            "aggregate-posts",
            "load-facts",
            "quality-check"
        ]
    );
    assert!(
        run.report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "ok"),
        "{}",
        run.report
    );
    for step in &steps {
        assert!(
            lake.read(&format!("_runs/date={DATE}/{step}-cron-1.json"))
                .is_some(),
            "{step} is in the run log"
        );
    }
    assert_eq!(lake.table("marts/history", "date").height(), 6);
    // The fixtures' 17 posts: the chain's summary adds up its steps' rows.
    assert_eq!(run.report["steps"][1]["rows_written"], 17);
}

#[test]
fn daily_stops_at_the_first_failing_step_with_its_exit_code() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let run = lake.igpipe(&[
        "daily",
        "--date",
        DATE,
        "--steps",
        "stage-stats,load-facts,quality-check",
    ]);
    assert_eq!(
        run.code, 1,
        "load-facts needs aggregate-posts first: {}",
        run.stderr
    );
    let steps = run.report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "quality-check never ran: {}", run.report);
    assert!(
        run.error().contains("load-facts for 2024-05-06"),
        "{}",
        run.error()
    );
    assert!(
        run.error()
            .contains("marts/post_aggregates/date=2024-05-06"),
        "{}",
        run.error()
    );
    let bad = lake.igpipe(&["daily", "--date", DATE, "--steps", "stage-stats,teleport"]);
    assert_eq!(bad.code, 2, "an unknown step is a usage error");
}

#[test]
fn backfill_runs_each_date_once_and_resumes() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let steps = "stage-stats,stage-posts,aggregate-posts,load-facts";
    let args = [
        "backfill",
        "--from",
        "2024-05-04",
        "--to",
        "2024-05-06",
        "--steps",
        steps,
    ];
    let first = lake.igpipe(&args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.report["steps"].as_array().unwrap().len(), 12);
    assert_eq!(first.report["dates_skipped"], 0);
    for date in ["2024-05-04", "2024-05-05", "2024-05-06"] {
        assert!(
            !lake.keys(&format!("marts/history/date={date}")).is_empty(),
            "{date}"
        );
    }

    let again = lake.igpipe(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.report["dates_skipped"], 3);
    assert!(again.report["steps"]
        .as_array()
        .is_none_or(|s| s.is_empty()));
    assert_eq!(
        again.stderr.matches("Already complete").count(),
        3,
        "{}",
        again.stderr
    );

    // A lost output makes its date incomplete again; only that date runs.
    lake.remove("marts/history/date=2024-05-05/part-0.parquet");
    let resumed = lake.igpipe(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.report["dates_skipped"], 2);
    let ran: Vec<&str> = resumed.report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["date"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["2024-05-05"; 4]);
    assert!(!lake.keys("marts/history/date=2024-05-05").is_empty());

    let backwards = lake.igpipe(&["backfill", "--from", "2024-05-06", "--to", "2024-05-01"]);
    assert!(backwards
        .error()
        .contains("--to 2024-05-01 is before --from 2024-05-06"));
}

#[test]
fn metrics_file_keeps_every_step_in_prometheus_text() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("igpipe.prom");
    let path = metrics.to_str().unwrap();
    assert_eq!(
        lake.igpipe(&["--metrics-file", path, "stage-posts", "--date", DATE])
            .code,
        0
    );
    assert_eq!(
        lake.igpipe(&["--metrics-file", path, "load-facts", "--date", DATE])
            .code,
        1
    );
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("igpipe_last_run_rows_written{step=\"stage-posts\"} 17\n"),
        "{text}"
    );
    assert!(
        text.contains("igpipe_last_run_status{step=\"load-facts\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("igpipe_last_success_timestamp_seconds{step=\"stage-posts\"} "));
    assert!(
        !text.contains("igpipe_last_success_timestamp_seconds{step=\"load-facts\"}"),
        "it never succeeded"
    );
    assert!(text.contains("# TYPE igpipe_last_run_status gauge\n"));
}

#[test]
fn logs_are_json_when_stderr_is_not_a_terminal() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let run = lake.igpipe(&["stage-posts", "--date", DATE]);
    assert_eq!(run.code, 0);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty());
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["level"].is_string() && event["message"].is_string(),
            "{line}"
        );
    }
    let text = lake.igpipe(&["--log-format", "text", "stage-posts", "--date", DATE]);
    assert!(text
        .stderr
        .lines()
        .any(|l| serde_json::from_str::<serde_json::Value>(l).is_err()));
}

#[test]
fn a_chain_never_shows_the_warehouse_password() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    let url = "postgres://etl:chain-secret-7731@127.0.0.1:1/analytics";
    let run = lake.igpipe(&[
        "daily",
        "--date",
        DATE,
        "--steps",
        "stage-stats,stage-posts,aggregate-posts,load-facts",
        "--load-to",
        url,
    ]);
    assert_eq!(run.code, 1, "nothing listens on port 1: {}", run.stderr);
    assert!(run.error().contains("load-facts"), "{}", run.error());
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains("chain-secret-7731"),
            "the password leaked: {text}"
        );
    }
    let logged = lake.keys("_runs/date=2024-05-06");
    for key in logged {
        let entry = String::from_utf8(lake.read(&key).unwrap()).unwrap();
        assert!(!entry.contains("chain-secret-7731"), "{key}: {entry}");
    }
}

#[test]
fn a_failed_fetch_media_does_not_hold_up_the_fact_table() {
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    // The image store is a file, not a folder: fetch-media cannot list it and fails.
    std::fs::remove_dir_all(lake.path("instagram_graph_image_store")).unwrap();
    lake.write("instagram_graph_image_store", b"not a folder");
    let run = lake.igpipe(&["daily", "--date", DATE]);
    assert_eq!(
        run.code, 1,
        "the chain still reports fetch-media's failure: {}",
        run.stderr
    );
    let statuses: Vec<(&str, &str)> = run.report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses[2], ("fetch-media", "failed"));
    assert_eq!(statuses.len(), 6, "the steps after it ran: {statuses:?}");
    assert!(
        statuses[3..].iter().all(|(_, status)| *status == "ok"),
        "{statuses:?}"
    );
    assert_eq!(lake.table("marts/history", "date").height(), 6);
}
