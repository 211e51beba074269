//! The Airflow DAG's commands, rendered as Airflow would and run against the fixtures:
//! a DAG that calls a flag igpipe does not have fails here, not at 3 a.m.

use crate::harness::{LocalLake, TestLake};

/// `task_id -> bash_command` templates from the DAG's STEPS dict.
fn steps(dag: &str) -> Vec<(String, String)> {
    let body = dag
        .split("STEPS = {")
        .nth(1)
        .expect("STEPS in the DAG")
        .split("\n}")
        .next()
        .unwrap();
    let mut out = Vec::new();
    // Lines look like:    "stage_stats": "<igpipe> stage-stats ... ",
    for line in body.lines().map(str::trim).filter(|l| l.starts_with('"')) {
        let mut quoted = line.split('"').skip(1).step_by(2);
        out.push((
            quoted.next().unwrap().to_string(),
            quoted.next().unwrap().to_string(),
        ));
    }
    out
}

#[test]
fn daily_dag_commands_run_on_the_fixtures() {
    let dag = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dags/igpipe_daily.py"))
        .unwrap();
    let steps = steps(&dag);
    assert_eq!(
        steps.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        [
            "stage_stats",
            "stage_posts",
            "fetch_media",
            "aggregate_posts",
            "load_facts",
            "quality_check"
        ]
    );
    let lake = LocalLake::new();
    lake.load_fixture("lake");
    for (task, template) in &steps {
        let out = run_rendered(
            template,
            &lake,
            "2024-05-06",
            "scheduled__2024-05-06T00:00:00+00:00",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{task}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(
            summary["run_id"],
            "scheduled__2024-05-06T00_00_00_00_00.try1"
        );
        // fetch_media finds the fixtures' images already in the store and the rest of
        // their CDN unreachable from here: it writes nothing and still succeeds.
        if *task != "fetch_media" {
            assert!(
                summary["rows_written"].as_u64().unwrap() > 0,
                "{task}: {summary}"
            );
        }
    }
    // The next day has no stats: stage_stats is skipped (exit 99), as BashOperator expects.
    let (_, stats) = &steps[0];
    let out = run_rendered(stats, &lake, "2024-05-07", "scheduled__2024-05-07");
    assert_eq!(out.status.code(), Some(99));
}

/// Renders a command template as Airflow would for (ds, run_id) and runs it with bash.
fn run_rendered(template: &str, lake: &LocalLake, ds: &str, run_id: &str) -> std::process::Output {
    // As dags/igpipe_common.py renders them, with the Variables unset except the lake.
    let command = template
        .replace("<igpipe>", env!("CARGO_BIN_EXE_igpipe"))
        .replace("<lake>", &lake.url())
        .replace("<out>", "")
        .replace("<run-id>", &format!("'{run_id}.try1'"))
        .replace("<date>", ds);
    std::process::Command::new("bash")
        .args(["-c", &command])
        .output()
        .unwrap()
}
