//! `igpipe quality-check`: named checks with a severity over every table of SPEC for one
//! date → `marts/quality/date=D/report.json`, a readable table on stderr, exit 3 when an
//! error-level check fails (0 with only warnings).

use super::aggregate_posts::window_months;
use super::load_facts::read_newest_palettes;
use super::{color_palette, fetch_media, Context, LakeArgs};
use crate::contracts::{from_parquet_bytes, history, manifest, post_aggregates, posts, user_stats};
use crate::lake::Lake;
use crate::quality::checks::*;
use crate::quality::{Check, Report, Severity};
use crate::report::{CheckSummary, RunReport, Status};
use crate::run_log;
use crate::tables::{self, partition_dir};
use crate::warehouse::{self, Target};
use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use polars::prelude::DataFrame;
use std::time::Instant;
use tracing::info;

pub const STEP: &str = "quality-check";
pub const TABLE_PREFIX: &str = "marts/quality";

#[derive(Debug, Clone, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Also check that the warehouse's `history` holds as many rows with as_of = --date as
    /// the mart (the same URL forms as load-facts).
    #[arg(
        long,
        value_name = "URL",
        env = "IGPIPE_LOAD_TO",
        hide_env_values = true
    )]
    pub load_to: Option<String>,

    /// The posts window whose months are checked (as aggregate-posts --window-days).
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = super::parse_days)]
    pub window_days: u32,

    /// Warn when more than this share of a step's files modified on --date were rejected.
    #[arg(long, default_value_t = 0.05, value_name = "RATIO")]
    pub max_reject_ratio: f64,
}

/// The frames the checks look at; None where a table or partition is absent.
struct Tables {
    stats: Option<DataFrame>,
    newest_stats: Option<NaiveDate>,
    posts: Option<DataFrame>,
    aggregates: Option<DataFrame>,
    history: Option<DataFrame>,
    palettes: Option<DataFrame>,
    posts_manifest: Option<DataFrame>,
    stats_manifest: Option<DataFrame>,
    /// The latest run-log summaries of the media steps for D.
    fetch_run: Option<serde_json::Value>,
    palette_run: Option<serde_json::Value>,
}

pub fn run(args: &QualityArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date;
    let target = args.load_to.as_deref().map(Target::parse).transpose()?;
    let out = args.lake.open_output(ctx)?;
    let mut summary = RunReport::new(
        STEP,
        date.to_string(),
        super::run_id(args.lake.run_id.as_deref()),
    );

    let t = gather(&out, date, args.window_days)?;
    let mut checks = table_checks(&t, date, args.max_reject_ratio)?;
    if let Some(target) = &target {
        checks.push(warehouse_check(
            target,
            t.history.as_ref().map(DataFrame::height),
            date,
            ctx,
        )?);
    }
    let report = Report::new(date.to_string(), checks);
    let key = format!(
        "{}/report.json",
        partition_dir(TABLE_PREFIX, "date", &date.to_string())
    );
    out.put(&key, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("{}", report.table());
    info!(object = %out.describe(&key), status = report.status, "Wrote the quality report.");

    summary.files_read = [&t.stats, &t.posts, &t.aggregates, &t.history, &t.palettes]
        .iter()
        .filter(|f| f.is_some())
        .count() as u64;
    summary.rows_written = report.checks.len() as u64;
    summary.checks = Some(CheckSummary {
        run: report.checks.len() as u64,
        failed: report.failed as u64,
        warned: report.warned as u64,
        report: out.describe(&key),
    });
    if report.failed > 0 {
        summary.status = Status::QualityFailed;
        summary.error = Some(format!(
            "{} error-level checks failed; see {}",
            report.failed,
            out.describe(&key)
        ));
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn gather(out: &Lake, date: NaiveDate, window_days: u32) -> Result<Tables> {
    let day = date.to_string();
    let stats_dates =
        tables::partition_values(out, user_stats::TABLE_PREFIX, user_stats::PARTITION_COLUMN)?;
    let mut post_keys = Vec::new();
    for month in window_months(date, window_days) {
        post_keys.extend(tables::part_keys(
            out,
            &partition_dir(posts::TABLE_PREFIX, posts::PARTITION_COLUMN, &month),
        )?);
    }
    Ok(Tables {
        stats: tables::read_partition(
            out,
            &partition_dir(user_stats::TABLE_PREFIX, "date", &day),
            &user_stats::schema(),
        )?,
        newest_stats: stats_dates
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .max(),
        posts: tables::read_files(out, &post_keys, &posts::schema())?,
        aggregates: tables::read_partition(
            out,
            &partition_dir(post_aggregates::TABLE_PREFIX, "date", &day),
            &post_aggregates::schema(),
        )?,
        history: tables::read_partition(
            out,
            &partition_dir(history::TABLE_PREFIX, "date", &day),
            &history::schema(),
        )?,
        palettes: read_newest_palettes(out, date)?.0,
        posts_manifest: read_manifest(out, "staging/_manifest/posts.parquet")?,
        stats_manifest: read_manifest(out, "staging/_manifest/stats.parquet")?,
        fetch_run: run_log::latest(out, &day, fetch_media::STEP)?,
        palette_run: run_log::latest(out, &day, color_palette::STEP)?,
    })
}

fn read_manifest(out: &Lake, key: &str) -> Result<Option<DataFrame>> {
    out.get_opt(key)?
        .map(|bytes| from_parquet_bytes(&bytes, &manifest::schema(), &out.describe(key)))
        .transpose()
}

fn table_checks(t: &Tables, date: NaiveDate, max_reject_ratio: f64) -> Result<Vec<Check>> {
    let day = date.to_string();
    let dir = |table: &str| partition_dir(table, "date", &day);
    Ok(vec![
        partition_non_empty(
            "user_stats.partition",
            Severity::Error,
            &dir(user_stats::TABLE_PREFIX),
            t.stats.as_ref(),
        ),
        partition_non_empty(
            "posts.window_partitions",
            Severity::Error,
            posts::TABLE_PREFIX,
            t.posts.as_ref(),
        ),
        partition_non_empty(
            "post_aggregates.partition",
            Severity::Error,
            &dir(post_aggregates::TABLE_PREFIX),
            t.aggregates.as_ref(),
        ),
        partition_non_empty(
            "history.partition",
            Severity::Error,
            &dir(history::TABLE_PREFIX),
            t.history.as_ref(),
        ),
        partition_non_empty(
            "palettes.partition",
            Severity::Warn,
            "marts/palettes (newest dated on or before the date)",
            t.palettes.as_ref(),
        ),
        keys_unique("user_stats.key_unique", t.stats.as_ref(), &["user_id"])?,
        keys_unique("posts.key_unique", t.posts.as_ref(), &["post_id"])?,
        keys_unique(
            "post_aggregates.key_unique",
            t.aggregates.as_ref(),
            &["user_id"],
        )?,
        keys_unique("history.key_unique", t.history.as_ref(), &["id"])?,
        keys_unique("palettes.key_unique", t.palettes.as_ref(), &["user_id"])?,
        non_negative(
            "user_stats.followers_non_negative",
            t.stats.as_ref(),
            "followers_count",
        )?,
        history_followers_non_negative("history.followers_non_negative", t.history.as_ref())?,
        media_types_known("posts.media_type_known", t.posts.as_ref())?,
        history_lists_aligned("history.lists_aligned", t.history.as_ref())?,
        fol_avg_within_range("history.fol_avg_in_range", t.history.as_ref())?,
        doc_count_adds_up("post_aggregates.doc_count_adds_up", t.aggregates.as_ref())?,
        palettes_consistent("palettes.percentages_and_hex", t.palettes.as_ref())?,
        stats_fresh("user_stats.fresh", t.newest_stats, date),
        reject_ratio(
            "stage-stats.reject_ratio",
            t.stats_manifest.as_ref(),
            date,
            max_reject_ratio,
        )?,
        reject_ratio(
            "stage-posts.reject_ratio",
            t.posts_manifest.as_ref(),
            date,
            max_reject_ratio,
        )?,
        run_reject_ratio(
            "fetch-media.reject_ratio",
            fetch_media::STEP,
            t.fetch_run.as_ref(),
            max_reject_ratio,
        ),
        run_reject_ratio(
            "color-palette.reject_ratio",
            color_palette::STEP,
            t.palette_run.as_ref(),
            max_reject_ratio,
        ),
    ])
}

fn warehouse_check(
    target: &Target,
    mart_rows: Option<usize>,
    date: NaiveDate,
    ctx: &Context,
) -> Result<Check> {
    let rows = match target {
        Target::Postgres(url) => warehouse::postgres::rows_as_of(url, date)?,
        Target::RedshiftData(rs) => warehouse::redshift_data::rows_as_of(rs, &ctx.s3, date)?,
    };
    Ok(warehouse_rows_match(
        "warehouse.history_rows",
        mart_rows,
        rows,
        &target.describe(),
    ))
}
