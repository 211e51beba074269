//! The DAGs in the real Airflow 3 (scripts/airflow.sh installs it from the pinned lock
//! file): every DAG file imports (tests/airflow/check_dags.py, a DagBag), then `airflow
//! dags test` runs the daily DAG and the weekly DAG with 2 shards end to end on a copy of
//! the fixtures with the built binary, and the marts, the run log and the quality report
//! show that every step ran and passed.

use crate::harness::{LocalLake, TestLake};
use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    PathBuf::from(
        std::env::var("IGPIPE_AIRFLOW_VENV")
            .expect("IGPIPE_AIRFLOW_VENV (scripts/test.sh sets it)"),
    )
}

/// An `airflow` command with its own AIRFLOW_HOME and the Variables the DAGs read.
fn airflow(home: &Path, lake: &LocalLake, args: &[&str]) -> std::process::Output {
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(venv().join("bin/airflow"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("AIRFLOW_HOME", home)
        .env("AIRFLOW__CORE__DAGS_FOLDER", format!("{repo}/dags"))
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
        .env("AIRFLOW_VAR_IGPIPE_BIN", env!("CARGO_BIN_EXE_igpipe"))
        .env("AIRFLOW_VAR_IGPIPE_LAKE", lake.url())
        .env("AIRFLOW_VAR_IGPIPE_PALETTE_SHARDS", "2");
    cmd.output().unwrap()
}

fn assert_success(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_dag_file_imports_in_airflow() {
    let out = Command::new(venv().join("bin/python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/airflow/check_dags.py"
        ))
        .env("AIRFLOW_HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_success("check_dags.py", &out);
}

#[test]
fn airflow_runs_the_daily_and_the_weekly_dag_on_the_fixtures() {
    let home = tempfile::tempdir().unwrap();
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    assert_success(
        "airflow db migrate",
        &airflow(home.path(), &lake, &["db", "migrate"]),
    );

    let daily = airflow(
        home.path(),
        &lake,
        // A run on 2024-05-07 processes the day before, 2024-05-06.
        &["dags", "test", "igpipe_daily", "2024-05-07"],
    );
    assert_success("airflow dags test igpipe_daily", &daily);
    let runs = lake.keys("_runs/date=2024-05-06");
    for step in [
        "stage-stats",
        "stage-posts",
        "fetch-media",
        "aggregate-posts",
        "load-facts",
        "quality-check",
    ] {
        let entry = runs
            .iter()
            .find(|k| k.contains(&format!("/{step}-igpipe_daily.")) && k.ends_with(".try1.json"))
            .unwrap_or_else(|| {
                panic!(
                    "no run-log entry for {step}: {runs:?}\n{}\n{}",
                    String::from_utf8_lossy(&daily.stdout),
                    String::from_utf8_lossy(&daily.stderr)
                )
            });
        let summary: serde_json::Value =
            serde_json::from_slice(&lake.read(entry).unwrap()).unwrap();
        assert_eq!(summary["status"], "ok", "{step}: {summary}");
    }
    let report: serde_json::Value = serde_json::from_slice(
        &lake
            .read("marts/quality/date=2024-05-06/report.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["failed"], 0, "{report}");
    assert!(lake.table("marts/history", "date").height() > 0);

    let weekly = airflow(
        home.path(),
        &lake,
        &["dags", "test", "igpipe_weekly", "2024-05-07"],
    );
    assert_success("airflow dags test igpipe_weekly", &weekly);
    assert_eq!(
        lake.keys("marts/palettes/date=2024-05-06"),
        [
            "marts/palettes/date=2024-05-06/part-0-of-2.parquet",
            "marts/palettes/date=2024-05-06/part-1-of-2.parquet"
        ]
    );
    let shards: Vec<String> = lake
        .keys("_runs/date=2024-05-06")
        .into_iter()
        .filter(|k| k.contains("/color-palette-"))
        .collect();
    assert_eq!(shards.len(), 2, "one run-log entry per shard: {shards:?}");
    assert!(shards.iter().all(|k| k.contains(".shard")), "{shards:?}");
    let history = lake.table("marts/history", "date");
    let colors = history.column("colors").unwrap().str().unwrap();
    assert!(
        colors.iter().flatten().count() >= 3,
        "the weekly load joined the palettes"
    );
    let report: serde_json::Value = serde_json::from_slice(
        &lake
            .read("marts/quality/date=2024-05-06/report.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["failed"], 0, "{report}");
}
