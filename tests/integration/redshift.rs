//! load-facts --load-to redshift-data://… through aws-sdk-redshiftdata against
//! `tests/doubles/redshift_data.py`, a test double of the Redshift Data API that speaks
//! awsJson1_1 on loopback (Amazon's service cannot be reached from here). The mart goes to
//! moto's S3 server, as Redshift's COPY reads it from S3.
//!
//! The double records every request (GET /_requests) and is scripted per test (POST
//! /_control): which SQL fails with which error, or a statement that never finishes.

use crate::facts::{assert_ok, staged_lake, DATE};
use crate::harness::{LocalLake, Run, S3Lake, TestLake};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const ROLE: &str = "arn:aws:iam::123456789012:role/igpipe-copy";
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dw-Ab12Cd";

/// The double, on a free loopback port, killed with the value.
struct Double {
    child: Child,
    port: u16,
}

impl Double {
    fn start() -> Double {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/doubles/redshift_data.py"
        );
        let mut child = Command::new("python3")
            .args([script, "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting python3 tests/doubles/redshift_data.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("the double said {line:?}"))
            .parse()
            .unwrap();
        Double { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 exchange with the double's test endpoints.
    fn http(&self, method: &str, path: &str, body: &str) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (_, body) = reply.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    fn script(&self, behaviour: Value) {
        self.http("POST", "/_control", &behaviour.to_string());
    }

    /// (X-Amz-Target, body) of every API request, in order.
    fn requests(&self) -> Vec<(String, Value)> {
        self.http("GET", "/_requests", "")
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["target"].as_str().unwrap().to_string(), r["body"].clone()))
            .collect()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fixtures staged on moto, with the day's aggregates.
fn lake_on_s3() -> S3Lake {
    let lake = S3Lake::new("MOTO", true);
    staged_lake(&lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    lake
}

fn cluster_url() -> String {
    format!("redshift-data://cluster/analytics/dw?db_user=loader&iam_role={ROLE}")
}

fn run_with_double(
    lake: &dyn TestLake,
    double: &Double,
    step: &str,
    url: &str,
    extra: &[&str],
) -> Run {
    let endpoint = double.endpoint();
    let mut args = vec![step, "--date", DATE, "--load-to", url];
    args.extend_from_slice(extra);
    lake.igpipe_with(&args, &[("AWS_ENDPOINT_URL_REDSHIFT_DATA", &endpoint)])
}

fn targets(requests: &[(String, Value)]) -> Vec<&str> {
    requests.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn the_load_creates_the_table_then_copies_and_merges_in_one_batch() {
    let (lake, double) = (lake_on_s3(), Double::start());
    let run = run_with_double(&lake, &double, "load-facts", &cluster_url(), &[]);
    assert_ok(&run);
    assert_eq!(
        run.report["load"]["target"],
        "redshift-data://cluster/analytics/dw"
    );
    assert_eq!(run.report["load"]["rows_staged"], 8);
    let requests = double.requests();
    // The double reports PICKED, STARTED, then FINISHED: three polls per statement.
    let describe = "RedshiftData.DescribeStatement";
    assert_eq!(
        targets(&requests),
        [
            "RedshiftData.ExecuteStatement",
            describe,
            describe,
            describe,
            "RedshiftData.BatchExecuteStatement",
            describe,
            describe,
            describe
        ]
    );
    let create = &requests[0].1;
    assert_eq!(
        (
            &create["ClusterIdentifier"],
            &create["Database"],
            &create["DbUser"]
        ),
        (&json!("analytics"), &json!("dw"), &json!("loader"))
    );
    assert!(create["Sql"]
        .as_str()
        .unwrap()
        .starts_with("CREATE TABLE IF NOT EXISTS history ("));
    let batch = &requests[4].1;
    let sqls: Vec<&str> = batch["Sqls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(sqls.len(), 5, "{sqls:#?}");
    assert!(sqls[0].starts_with("CREATE TEMP TABLE history_stage ("));
    // COPY reads exactly the partition load-facts wrote on S3.
    assert_eq!(
        sqls[1],
        format!(
            "COPY history_stage FROM '{}/marts/history/date=2024-05-06/part-0.parquet' IAM_ROLE '{ROLE}' \
             FORMAT AS PARQUET SERIALIZETOJSON",
            lake.url()
        )
    );
    assert!(lake
        .read("marts/history/date=2024-05-06/part-0.parquet")
        .is_some());
    assert!(sqls[2].starts_with("DELETE FROM history USING history_stage"));
    assert!(sqls[2].contains("history.as_of <= history_stage.as_of"));
    assert!(sqls[3].starts_with("INSERT INTO history"));
    assert!(sqls[3].contains("JSON_PARSE(s.colors)"));
    assert_eq!(sqls[4], "DROP TABLE history_stage");
    // Every poll asks about the statement just submitted.
    let ids: Vec<&Value> = requests
        .iter()
        .filter(|(t, _)| t == describe)
        .map(|(_, b)| &b["Id"])
        .collect();
    assert!(ids[..3].iter().all(|id| *id == ids[0]) && ids[3..].iter().all(|id| *id == ids[3]));
    assert_ne!(ids[0], ids[3]);
}

#[test]
fn a_failing_sub_statement_fails_the_run_with_redshifts_error() {
    let (lake, double) = (lake_on_s3(), Double::start());
    double.script(json!({
        "fail_on": "INSERT INTO history",
        "error": "ERROR: Invalid JSON in JSON_PARSE: row 3"
    }));
    let run = run_with_double(&lake, &double, "load-facts", &cluster_url(), &[]);
    let error = run.error();
    assert!(
        error.contains("statement 4 of 5 in sql/redshift/load_history.sql FAILED")
            && error.contains("ERROR: Invalid JSON in JSON_PARSE: row 3")
            && error.contains("the statement: INSERT INTO history"),
        "{error}"
    );
    assert!(
        error.contains("redshift-data://cluster/analytics/dw"),
        "{error}"
    );
}

#[test]
fn a_statement_that_never_finishes_is_cancelled_at_the_deadline() {
    let (lake, double) = (lake_on_s3(), Double::start());
    double.script(json!({"never_finish": true}));
    let started = std::time::Instant::now();
    let run = run_with_double(
        &lake,
        &double,
        "load-facts",
        &cluster_url(),
        &["--load-timeout", "2"],
    );
    let error = run.error();
    assert!(
        error.contains("did not finish before the deadline (--load-timeout); it was cancelled"),
        "{error}"
    );
    let requests = double.requests();
    let polls = requests
        .iter()
        .filter(|(t, _)| t == "RedshiftData.DescribeStatement")
        .count();
    // Backoff from 0.1 s by ×1.5: 0.1+0.15+0.225+0.34+0.51+0.76 ≈ 2.1 s, so about 6 polls
    // in 2 s (a fixed 0.1 s interval would make 20, no backoff cap at all 1 or 2).
    assert!(
        (4..=8).contains(&polls),
        "{polls} polls: {:?}",
        targets(&requests)
    );
    let (last, body) = requests.last().unwrap();
    assert_eq!(last, "RedshiftData.CancelStatement");
    // The statement cancelled is the one polled (the DDL, which never finished).
    assert_eq!(body["Id"], requests[1].1["Id"]);
    assert_eq!(requests[0].0, "RedshiftData.ExecuteStatement");
    assert!(started.elapsed().as_secs_f64() < 30.0, "gave up in time");
}

#[test]
fn a_workgroup_with_a_secret_arn_never_shows_the_arn() {
    let (lake, double) = (lake_on_s3(), Double::start());
    let encoded = SECRET_ARN.replace(':', "%3A");
    let url = format!("redshift-data://workgroup/wg-prod/dw?secret_arn={encoded}&iam_role={ROLE}");
    let run = run_with_double(&lake, &double, "load-facts", &url, &[]);
    assert_ok(&run);
    let requests = double.requests();
    let create = &requests[0].1;
    assert_eq!(create["WorkgroupName"], "wg-prod");
    assert_eq!(create["SecretArn"], SECRET_ARN, "decoded for the API");
    assert!(create.get("ClusterIdentifier").is_none());
    // A failure prints the target too: the ARN must not be in it either.
    double.script(json!({"fail_on": "COPY"}));
    let failed = run_with_double(&lake, &double, "load-facts", &url, &[]);
    assert_eq!(failed.code, 1);
    for run in [&run, &failed] {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains("secret:dw-Ab12Cd") && !all.contains("dw-Ab12Cd"),
            "{all}"
        );
    }
}

#[test]
fn quality_check_counts_the_warehouse_rows_through_the_data_api() {
    let (lake, double) = (lake_on_s3(), Double::start());
    assert_ok(&run_with_double(
        &lake,
        &double,
        "load-facts",
        &cluster_url(),
        &[],
    ));
    // (rows with as_of = D, rows with a later as_of) as the warehouse answers; the mart has 8.
    for (on_date, newer, code) in [(8, 0, 0), (7, 0, 3), (0, 8, 0), (0, 7, 3)] {
        double.script(json!({"result_rows": [[on_date, newer]]}));
        let run = run_with_double(&lake, &double, "quality-check", &cluster_url(), &[]);
        assert_eq!(run.code, code, "{on_date}, {newer}: {}", run.stderr);
        let requests = double.requests();
        let (_, select) = requests
            .iter()
            .rev()
            .find(|(t, _)| t == "RedshiftData.ExecuteStatement")
            .unwrap();
        let sql = select["Sql"].as_str().unwrap();
        assert!(
            sql.starts_with("SELECT COALESCE(SUM(CASE WHEN as_of = '2024-05-06' THEN 1")
                && sql.contains("WHEN as_of > '2024-05-06' THEN 1")
                && sql.ends_with("FROM history"),
            "{sql}"
        );
        assert_eq!(
            requests.last().unwrap().0,
            "RedshiftData.GetStatementResult"
        );
    }
}

#[test]
fn a_local_output_root_is_refused_before_anything_is_sent() {
    let (lake, double) = (LocalLake::new(), Double::start());
    staged_lake(&lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let run = lake.igpipe_with(
        &["load-facts", "--date", DATE, "--load-to", &cluster_url()],
        &[
            ("AWS_ENDPOINT_URL_REDSHIFT_DATA", &double.endpoint()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret-example"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.report["error"]
            .as_str()
            .unwrap()
            .contains("run with --out s3://bucket/prefix"),
        "{}",
        run.report
    );
    assert!(double.requests().is_empty());
}
