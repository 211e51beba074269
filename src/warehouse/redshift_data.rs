//! `--load-to redshift-data://…`: Amazon Redshift through the Redshift Data API (SPEC §3).
//!
//! URL forms (query parameters in any order):
//!
//! ```text
//! redshift-data://cluster/<cluster-id>/<database>?db_user=<user>&iam_role=<arn>
//! redshift-data://cluster/<cluster-id>/<database>?secret_arn=<arn>&iam_role=<arn>
//! redshift-data://workgroup/<workgroup>/<database>?secret_arn=<arn>&iam_role=<arn>
//! ```
//!
//! `iam_role` is the role Redshift assumes to read the mart for COPY; `region` may be given
//! too (default: `AWS_REGION`). A load is two calls: `sql/redshift/create_history.sql` as one
//! ExecuteStatement (safe to re-run), then `sql/redshift/load_history.sql` as one
//! BatchExecuteStatement, which Redshift runs as one transaction: COPY the mart's Parquet
//! from S3 into a temp table, replace older rows, insert new ones. Each call is polled with
//! DescribeStatement (backoff, deadline); FAILED or ABORTED is an error naming the failing
//! sub-statement and carrying Redshift's error text.

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_redshiftdata::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_redshiftdata::error::DisplayErrorContext;
use aws_sdk_redshiftdata::types::{StatementStatusString, StatusString};
use aws_sdk_redshiftdata::Client;
use std::time::{Duration, Instant};
use tracing::{debug, info};

use crate::settings::S3Settings;

const CREATE_SQL: &str = include_str!("../../sql/redshift/create_history.sql");
const LOAD_SQL: &str = include_str!("../../sql/redshift/load_history.sql");
/// Polling starts fast (a small load finishes in a second or two) and backs off to this.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Where a load goes: cluster or workgroup, database, who runs it, the COPY role.
#[derive(Clone, PartialEq)]
pub struct Target {
    pub compute: Compute,
    pub database: String,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
    pub iam_role: String,
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Compute {
    Cluster(String),
    Workgroup(String),
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let usage = "expected redshift-data://cluster/<id>/<database>?db_user=…|secret_arn=…\
                     &iam_role=… or redshift-data://workgroup/<name>/<database>?secret_arn=…\
                     &iam_role=…";
        let shown = crate::redact::url(url);
        let rest = url.strip_prefix("redshift-data://").unwrap_or(url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let [kind, name, database] = parts[..] else {
            bail!("--load-to {shown}: {usage}");
        };
        let compute = match kind {
            "cluster" => Compute::Cluster(name.to_string()),
            "workgroup" => Compute::Workgroup(name.to_string()),
            _ => bail!("--load-to {shown}: `{kind}` is neither cluster nor workgroup; {usage}"),
        };
        let mut target = Target {
            compute,
            database: database.to_string(),
            db_user: None,
            secret_arn: None,
            iam_role: String::new(),
            region: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "db_user" => target.db_user = Some(value),
                "secret_arn" => target.secret_arn = Some(value),
                "iam_role" => target.iam_role = value,
                "region" => target.region = Some(value),
                _ => bail!("--load-to {shown}: unknown parameter `{key}`; {usage}"),
            }
        }
        if name.is_empty() || database.is_empty() || target.iam_role.is_empty() {
            bail!("--load-to {shown}: the cluster or workgroup, the database and iam_role are required; {usage}");
        }
        match (&target.compute, &target.db_user, &target.secret_arn) {
            (_, Some(_), Some(_)) | (_, None, None) => {
                bail!("--load-to {shown}: give exactly one of db_user and secret_arn")
            }
            (Compute::Workgroup(_), Some(_), None) => {
                bail!("--load-to {shown}: a serverless workgroup takes secret_arn, not db_user")
            }
            _ => {}
        }
        Ok(target)
    }

    pub fn describe(&self) -> String {
        let (kind, name) = match &self.compute {
            Compute::Cluster(n) => ("cluster", n),
            Compute::Workgroup(n) => ("workgroup", n),
        };
        format!("redshift-data://{kind}/{name}/{}", self.database)
    }
}

/// `%2F`-style escapes in query values (ARNs hold `:` and `/`, which URLs may escape).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loads the mart at `mart_s3` (`s3://bucket/…/marts/history/date=D/part-0.parquet`) into `history`.
/// Returns the number of statements run.
pub fn load(
    target: &Target,
    settings: &S3Settings,
    mart_s3: &str,
    deadline: Duration,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(async {
            let client = client(target, settings)?;
            let started = Instant::now();
            let create = split_statements(CREATE_SQL);
            run_batch(
                &client,
                target,
                "sql/redshift/create_history.sql",
                create,
                started + deadline,
            )
            .await?;
            let load = load_statements(mart_s3, &target.iam_role);
            run_batch(
                &client,
                target,
                "sql/redshift/load_history.sql",
                load,
                started + deadline,
            )
            .await?;
            Ok::<(), anyhow::Error>(())
        })
        .with_context(|| format!("loading history into {}", target.describe()))
}

/// The statements of `load_history.sql`, with the mart's location and the role filled in.
pub fn load_statements(mart_s3: &str, iam_role: &str) -> Vec<String> {
    let filled = LOAD_SQL
        .replace("{mart_s3}", &quote(mart_s3))
        .replace("{iam_role}", &quote(iam_role));
    split_statements(&filled)
}

/// A SQL string literal.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Splits a file of `;`-terminated statements, dropping `--` comment lines. The files in
/// `sql/` hold no `;` inside literals or comments' statements.
fn split_statements(sql: &str) -> Vec<String> {
    let code: Vec<&str> = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn client(target: &Target, settings: &S3Settings) -> Result<Client> {
    let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) else {
        bail!("no AWS credentials for the Redshift Data API: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)");
    };
    let region = target
        .region
        .clone()
        .unwrap_or_else(|| settings.region.clone());
    let mut config = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(Credentials::new(
            key,
            secret,
            settings.session_token.clone(),
            None,
            "igpipe-environment",
        ));
    if let Some(endpoint) = &settings.redshift_data_endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(config.build()))
}

/// How many `history` rows have as_of = D and how many a later one, for quality-check.
pub fn rows_as_of(
    target: &Target,
    settings: &S3Settings,
    date: chrono::NaiveDate,
) -> Result<super::RowsAsOf> {
    use aws_sdk_redshiftdata::types::Field;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sql = super::rows_as_of_sql(date);
    runtime
        .block_on(async {
            let client = client(target, settings)?;
            let deadline = Instant::now() + Duration::from_secs(300);
            let id = run_batch(
                &client,
                target,
                "the row count",
                vec![sql.clone()],
                deadline,
            )
            .await?;
            let result = client
                .get_statement_result()
                .id(&id)
                .send()
                .await
                .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("GetStatementResult {id}"))?;
            match result.records().first().map(Vec::as_slice) {
                Some([Field::LongValue(on_date), Field::LongValue(newer)]) => Ok(super::RowsAsOf {
                    on_date: *on_date,
                    newer: *newer,
                }),
                other => bail!("{sql}: expected one row of two integers, got {other:?}"),
            }
        })
        .with_context(|| format!("counting history rows in {}", target.describe()))
}

/// Submits `sqls` (one statement as ExecuteStatement, several as one
/// BatchExecuteStatement), waits for it to end and returns its id.
async fn run_batch(
    client: &Client,
    target: &Target,
    file: &str,
    sqls: Vec<String>,
    deadline: Instant,
) -> Result<String> {
    let id = submit(client, target, &sqls)
        .await
        .with_context(|| format!("submitting {file}"))?;
    info!(statement = %id, file, statements = sqls.len(), "Submitted to the Redshift Data API.");
    let mut interval = Duration::from_millis(100);
    loop {
        let described = client
            .describe_statement()
            .id(&id)
            .send()
            .await
            .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("DescribeStatement {id} ({file})"))?;
        let status = described.status().cloned();
        debug!(statement = %id, ?status, "Polled.");
        match status {
            Some(StatusString::Finished) => return Ok(id),
            Some(StatusString::Failed) | Some(StatusString::Aborted) => {
                bail!("{}", failure(file, &sqls, &described))
            }
            _ => {}
        }
        if Instant::now() + interval > deadline {
            // Best effort: a statement left running holds locks on history.
            let cancelled = client.cancel_statement().id(&id).send().await.is_ok();
            bail!(
                "{file}: statement {id} did not finish before the deadline (--load-timeout); {}",
                if cancelled {
                    "it was cancelled"
                } else {
                    "cancelling it failed: cancel it in the Redshift console"
                }
            );
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(MAX_POLL_INTERVAL);
    }
}

async fn submit(client: &Client, target: &Target, sqls: &[String]) -> Result<String> {
    let (cluster, workgroup) = match &target.compute {
        Compute::Cluster(c) => (Some(c.clone()), None),
        Compute::Workgroup(w) => (None, Some(w.clone())),
    };
    let id = if let [sql] = sqls {
        client
            .execute_statement()
            .sql(sql)
            .database(&target.database)
            .set_cluster_identifier(cluster)
            .set_workgroup_name(workgroup)
            .set_db_user(target.db_user.clone())
            .set_secret_arn(target.secret_arn.clone())
            .statement_name("igpipe-load-facts")
            .send()
            .await
            .map(|out| out.id().map(str::to_string))
            .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))?
    } else {
        client
            .batch_execute_statement()
            .set_sqls(Some(sqls.to_vec()))
            .database(&target.database)
            .set_cluster_identifier(cluster)
            .set_workgroup_name(workgroup)
            .set_db_user(target.db_user.clone())
            .set_secret_arn(target.secret_arn.clone())
            .statement_name("igpipe-load-facts")
            .send()
            .await
            .map(|out| out.id().map(str::to_string))
            .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))?
    };
    id.ok_or_else(|| anyhow!("the Redshift Data API returned no statement id"))
}

/// "statement 2 of 5 in <file> FAILED: <error> — <sql>"
fn failure(
    file: &str,
    sqls: &[String],
    described: &aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput,
) -> String {
    let status = described.status().map_or("?", |s| s.as_str());
    let failed_sub = described
        .sub_statements()
        .iter()
        .enumerate()
        .find(|(_, sub)| matches!(sub.status(), Some(StatementStatusString::Failed)));
    match failed_sub {
        Some((i, sub)) => format!(
            "statement {} of {} in {file} {status}: {}; the statement: {}",
            i + 1,
            sqls.len(),
            sub.error().or(described.error()).unwrap_or("no error text"),
            first_line(sub.query_string().unwrap_or(&sqls[i])),
        ),
        None => format!(
            "{file} {status}: {}; the statement: {}",
            described.error().unwrap_or("no error text"),
            first_line(described.query_string().unwrap_or(&sqls[0])),
        ),
    }
}

fn first_line(sql: &str) -> &str {
    let line = sql.lines().next().unwrap_or_default();
    &line[..line.len().min(200)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_cluster_or_workgroup_and_one_identity() {
        let t = Target::parse(
            "redshift-data://cluster/analytics/dev?db_user=etl&iam_role=arn:aws:iam::1:role%2Fcopy",
        )
        .unwrap();
        assert_eq!(t.compute, Compute::Cluster("analytics".into()));
        assert_eq!(
            (t.database.as_str(), t.db_user.as_deref()),
            ("dev", Some("etl"))
        );
        assert_eq!(t.iam_role, "arn:aws:iam::1:role/copy");
        let t = Target::parse(
            "redshift-data://workgroup/wg/dw?secret_arn=arn:sm:x&iam_role=r&region=eu-west-1",
        )
        .unwrap();
        assert_eq!(t.compute, Compute::Workgroup("wg".into()));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        for bad in [
            "redshift-data://cluster/c/dev?iam_role=r",
            "redshift-data://cluster/c/dev?db_user=u",
            "redshift-data://cluster/c/dev?db_user=u&secret_arn=s&iam_role=r",
            "redshift-data://workgroup/w/dev?db_user=u&iam_role=r",
            "redshift-data://c/dev?db_user=u&iam_role=r",
            "redshift-data://cluster/c/dev?db_user=u&iam_role=r&colour=blue",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} accepted");
        }
        let Err(e) = Target::parse("redshift-data://cluster/c/dev?secret_arn=TOPSECRET") else {
            panic!("no iam_role accepted")
        };
        assert!(!format!("{e:#}").contains("TOPSECRET"));
    }

    #[test]
    fn the_load_batch_copies_the_mart_then_replaces_older_rows() {
        let sqls = load_statements(
            "s3://b/p/marts/history/date=2024-05-06/",
            "arn:aws:iam::1:role/it's",
        );
        assert_eq!(sqls.len(), 5, "{sqls:#?}");
        assert!(sqls[0].starts_with("CREATE TEMP TABLE history_stage ("));
        assert_eq!(
            sqls[1],
            "COPY history_stage FROM 's3://b/p/marts/history/date=2024-05-06/' IAM_ROLE \
             'arn:aws:iam::1:role/it''s' FORMAT AS PARQUET SERIALIZETOJSON"
        );
        assert!(sqls[2].starts_with("DELETE FROM history USING history_stage"));
        assert!(sqls[3].starts_with("INSERT INTO history"));
        assert_eq!(sqls[4], "DROP TABLE history_stage");
        assert!(sqls.iter().all(|s| !s.contains("TRUNCATE")));
    }
}
