//! `igpipe report`: `marts/quality/date=D/report.html`, a page for an operator or an
//! account manager: the date's runs (from the run log), rejects by reason, the quality
//! checks, and a sample of creators with a sparkline of their followers and their palette.
//! Exit codes: 0, 1.

use super::{Context, LakeArgs};
use crate::contracts::{history, rejects};
use crate::page::{self, Creator, Page, RejectGroup, RunRow, Swatch};
use crate::report::RunReport;
use crate::{run_log, tables};
use anyhow::{Context as _, Result};
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;
use tracing::info;

pub const STEP: &str = "report";

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Creators shown (the most followed of the fact table).
    #[arg(long, default_value_t = 24, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub creators: u32,
}

pub fn run(args: &ReportArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date.to_string();
    let mut report = RunReport::new(
        STEP,
        date.clone(),
        super::run_id(args.lake.run_id.as_deref()),
    );
    let out = args.lake.open_output(ctx)?;

    let runs = runs_of(&out, &date)?;
    let rejects = rejects_of(&out, &date)?;
    let checks = checks_of(&out, &date)?;
    let (creators, creators_total) = creators_of(&out, &date, args.creators as usize)?;
    report.files_read = runs.len() as u64;
    let page = Page {
        date: date.clone(),
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        runs,
        rejects,
        checks,
        creators,
        creators_total,
    };
    let key = format!("marts/quality/date={date}/report.html");
    out.put(&key, page::render(&page).into_bytes())?;
    info!(object = %out.describe(&key), "Wrote the report: open it in a browser.");
    report.rows_written = page.creators.len() as u64;
    report.partitions_written = 1;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every run of the date in the run log, by step then time.
fn runs_of(out: &crate::lake::Lake, date: &str) -> Result<Vec<RunRow>> {
    let (objects, _) = out.list_dir(&format!("{}/date={date}", run_log::PREFIX))?;
    let mut runs: Vec<(i64, RunRow)> = Vec::new();
    for object in objects.iter().filter(|o| o.key.ends_with(".json")) {
        let Some(bytes) = out.get_opt(&object.key)? else {
            continue;
        };
        let Ok(summary) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let text = |f: &str| summary[f].as_str().unwrap_or("").to_string();
        let count = |f: &str| summary[f].as_u64().unwrap_or(0);
        runs.push((
            object.last_modified_us,
            RunRow {
                step: text("step"),
                run_id: text("run_id"),
                status: text("status"),
                files_read: count("files_read"),
                rows_written: count("rows_written"),
                rejected: count("rejected"),
                seconds: summary["seconds"].as_f64().unwrap_or(0.0),
                error: summary["error"].as_str().map(str::to_string),
            },
        ));
    }
    runs.sort_by(|a, b| (a.0, &a.1.step).cmp(&(b.0, &b.1.step)));
    Ok(runs.into_iter().map(|(_, r)| r).collect())
}

/// The date's reject logs, grouped by step and kind of reason, most frequent first.
fn rejects_of(out: &crate::lake::Lake, date: &str) -> Result<Vec<RejectGroup>> {
    let dir = tables::partition_dir(rejects::TABLE_PREFIX, "date", date);
    let (objects, _) = out.list_dir(&dir)?;
    let keys: Vec<String> = objects
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    let Some(df) = tables::read_columns(out, &keys, &rejects::schema(), &["step", "reason"])?
    else {
        return Ok(Vec::new());
    };
    let mut groups: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (steps, reasons) = (df.column("step")?.str()?, df.column("reason")?.str()?);
    for (step, reason) in steps.iter().zip(reasons.iter()) {
        let kind = page::reason_kind(reason.unwrap_or(""));
        *groups
            .entry((step.unwrap_or("").to_string(), kind))
            .or_default() += 1;
    }
    let mut rows: Vec<RejectGroup> = groups
        .into_iter()
        .map(|((step, reason), count)| RejectGroup {
            step,
            reason,
            count,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.step, &a.reason).cmp(&(&b.step, &b.reason)))
    });
    Ok(rows)
}

fn checks_of(out: &crate::lake::Lake, date: &str) -> Result<Option<(String, Vec<page::CheckRow>)>> {
    let key = format!("marts/quality/date={date}/report.json");
    let Some(bytes) = out.get_opt(&key)? else {
        return Ok(None);
    };
    let report: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a quality report", out.describe(&key)))?;
    let text = |v: &Value, f: &str| v[f].as_str().unwrap_or("").to_string();
    let rows = report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| page::CheckRow {
                    name: text(c, "name"),
                    severity: text(c, "severity"),
                    outcome: text(c, "outcome"),
                    detail: text(c, "detail"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((text(&report, "status"), rows)))
}

/// The `limit` most followed creators of the date's fact table, and how many it has.
fn creators_of(out: &crate::lake::Lake, date: &str, limit: usize) -> Result<(Vec<Creator>, usize)> {
    let dir = tables::partition_dir(history::TABLE_PREFIX, history::PARTITION_COLUMN, date);
    let Some(df) = tables::read_partition(out, &dir, &history::schema())? else {
        return Ok((Vec::new(), 0));
    };
    let ids = df.column("id")?.str()?;
    let names = df.column("username")?.str()?;
    let followers = df.column("followers")?.list()?;
    let rates = df.column("engagement_rate")?.f64()?;
    let docs = df.column("doc_count")?.i64()?;
    let colors = df.column("colors")?.str()?;
    let mut creators = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let series: Vec<Option<i64>> = match followers.get_as_series(i) {
            Some(s) => s.i64()?.iter().collect(),
            None => Vec::new(),
        };
        creators.push(Creator {
            id: ids.get(i).unwrap_or("").to_string(),
            username: names.get(i).map(str::to_string),
            followers: series,
            engagement_rate: rates.get(i),
            doc_count: docs.get(i).unwrap_or(0),
            palette: colors.get(i).map(swatches).unwrap_or_default(),
        });
    }
    let latest = |c: &Creator| {
        c.followers
            .iter()
            .rev()
            .flatten()
            .next()
            .copied()
            .unwrap_or(-1)
    };
    creators.sort_by(|a, b| latest(b).cmp(&latest(a)).then_with(|| a.id.cmp(&b.id)));
    let total = creators.len();
    creators.truncate(limit);
    Ok((creators, total))
}

/// The `colors` JSON as swatches; text that is not a palette gives none.
fn swatches(json: &str) -> Vec<Swatch> {
    let Ok(Value::Array(entries)) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            Some(Swatch {
                hex: e["hex"].as_str()?.to_string(),
                percentage: e["percentage"].as_f64()?,
            })
        })
        .collect()
}
