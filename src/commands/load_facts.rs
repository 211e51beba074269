//! `igpipe load-facts`: `staging/user_stats` (the window's dates) + `marts/post_aggregates`
//! (D) + the newest `marts/palettes` partition dated ≤ D → `marts/history/date=D/`, then,
//! with `--load-to`, into the warehouse's `history` table (SPEC §2, §3).
//!
//! Exit codes: 0, 1 (including a missing post_aggregates partition for D, named).

use super::{parse_days, Context, LakeArgs};
use crate::contracts::{history, palettes, post_aggregates, user_stats};
use crate::facts::{self, date_lit, window_start};
use crate::lake::Lake;
use crate::report::{LoadSummary, RunReport};
use crate::tables;
use crate::warehouse::{self, Target};
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args;
use polars::prelude::*;
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub const STEP: &str = "load-facts";

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Days of stats in the fact table's lists: dates in [D−H+1, D].
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = parse_days)]
    pub history_days: u32,

    /// Also load the mart into a warehouse: postgres://user:pw@host:port/db[?sslmode=…] or
    /// redshift-data://cluster/<id>/<db>?db_user=…&iam_role=… (see README). Prefer the
    /// variable to the flag: a command line shows up in process lists and task logs.
    #[arg(
        long,
        value_name = "URL",
        env = "IGPIPE_LOAD_TO",
        hide_env_values = true
    )]
    pub load_to: Option<String>,

    /// Give up on a load that has not finished after this many seconds: Redshift's
    /// running statement is cancelled; PostgreSQL's statement_timeout is set to it.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    pub load_timeout: u64,
}

pub fn run(args: &LoadArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date;
    // Parse the target first: a typo fails before any work.
    let target = args.load_to.as_deref().map(Target::parse).transpose()?;
    let out = args.lake.open_output(ctx)?;
    let mut report = RunReport::new(
        STEP,
        date.to_string(),
        super::run_id(args.lake.run_id.as_deref()),
    );

    let aggregates_dir = tables::partition_dir(
        post_aggregates::TABLE_PREFIX,
        post_aggregates::PARTITION_COLUMN,
        &date.to_string(),
    );
    let Some(aggregates) =
        tables::read_partition(&out, &aggregates_dir, &post_aggregates::schema())?
    else {
        bail!(
            "{}: no post_aggregates partition for {date}; run `igpipe aggregate-posts --date {date}` first",
            out.describe(&aggregates_dir)
        );
    };
    let (stats, stats_files) = read_stats_window(&out, date, args.history_days)?;
    let (palettes, palette_warnings) = read_newest_palettes(&out, date)?;
    report.warnings.extend(palette_warnings);
    report.files_listed = stats_files;
    report.files_read = stats_files + 1;

    let mut mart = facts::history::build(stats, aggregates, palettes, date)?;
    let dir = tables::partition_dir(
        history::TABLE_PREFIX,
        history::PARTITION_COLUMN,
        &date.to_string(),
    );
    let key = tables::write_partition(&out, &dir, &mut mart)?;
    info!(users = mart.height(), object = %out.describe(&key), "Wrote the fact table.");
    report.rows_written = mart.height() as u64;
    report.partitions_written = 1;

    if let Some(target) = target {
        report.load = Some(load(
            &target,
            &mart,
            &args.lake,
            &key,
            ctx,
            args.load_timeout,
        )?);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every staging/user_stats partition dated in the window, stacked, with the partition's
/// `date` column; also the number of files read.
fn read_stats_window(out: &Lake, date: NaiveDate, days: u32) -> Result<(DataFrame, u64)> {
    let first = window_start(date, days);
    let mut frames = Vec::new();
    let mut files = 0;
    for value in
        tables::partition_values(out, user_stats::TABLE_PREFIX, user_stats::PARTITION_COLUMN)?
    {
        let Ok(day) = NaiveDate::parse_from_str(&value, "%Y-%m-%d") else {
            warn!(partition = %value, "Not a date partition of staging/user_stats; left out.");
            continue;
        };
        if day < first || day > date {
            continue;
        }
        let dir = tables::partition_dir(
            user_stats::TABLE_PREFIX,
            user_stats::PARTITION_COLUMN,
            &value,
        );
        let keys = tables::part_keys(out, &dir)?;
        files += keys.len() as u64;
        if let Some(df) = tables::read_files(out, &keys, &user_stats::schema())? {
            frames.push(df.lazy().with_column(date_lit(day).alias("date")));
        }
    }
    if frames.is_empty() {
        warn!(from = %first, to = %date, "No staged stats in the window: the fact table is empty. Has stage-stats run?");
        let empty = DataFrame::empty_with_schema(&user_stats::schema())
            .lazy()
            .with_column(lit(NULL).cast(DataType::Date).alias("date"))
            .collect()?;
        return Ok((empty, 0));
    }
    Ok((concat(frames, UnionArgs::default())?.collect()?, files))
}

/// The newest marts/palettes partition dated ≤ D (every shard of it), or None. Warnings
/// name shards missing from a sharded partition, so one failed shard does not silently
/// leave its creators without colours.
pub(crate) fn read_newest_palettes(
    out: &Lake,
    date: NaiveDate,
) -> Result<(Option<DataFrame>, Vec<String>)> {
    let newest = tables::partition_values(out, palettes::TABLE_PREFIX, palettes::PARTITION_COLUMN)?
        .into_iter()
        .filter(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok_and(|d| d <= date))
        .max();
    let Some(value) = newest else {
        info!("No palette partition dated on or before {date}: colors are null.");
        return Ok((None, Vec::new()));
    };
    let dir = tables::partition_dir(palettes::TABLE_PREFIX, palettes::PARTITION_COLUMN, &value);
    let keys = tables::part_keys(out, &dir)?;
    let warnings = missing_shards(&keys)
        .map(|missing| {
            let text = format!(
                "{}: shards {missing} are missing; their creators have no colors",
                out.describe(&dir)
            );
            warn!("{text}");
            vec![text]
        })
        .unwrap_or_default();
    Ok((
        tables::read_files(out, &keys, &palettes::schema())?,
        warnings,
    ))
}

/// For `part-<I>-of-<N>` files: the shards 0..N not present, as "1/4, 3/4"; None when
/// complete or unsharded.
fn missing_shards(keys: &[String]) -> Option<String> {
    let shards: Vec<(u32, u32)> = keys
        .iter()
        .filter_map(|k| palettes::shard_of(k.rsplit('/').next().unwrap_or_default()))
        .collect();
    let total = shards.iter().map(|&(_, n)| n).max()?;
    let missing: Vec<String> = (0..total)
        .filter(|i| !shards.iter().any(|&(s, _)| s == *i))
        .map(|i| format!("{i}/{total}"))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

fn load(
    target: &Target,
    mart: &DataFrame,
    lake: &LakeArgs,
    mart_key: &str,
    ctx: &Context,
    timeout_secs: u64,
) -> Result<LoadSummary> {
    let started = Instant::now();
    let rows_merged = match target {
        Target::Postgres(url) => {
            let loaded = warehouse::postgres::load(url, mart, Duration::from_secs(timeout_secs))?;
            Some(loaded.merged)
        }
        Target::RedshiftData(rs) => {
            let out_url = lake.output_url().trim_end_matches('/');
            if !out_url.starts_with("s3://") {
                bail!(
                    "{}: Redshift COPYs the mart from S3, but the output root is {out_url}; \
                     run with --out s3://bucket/prefix (or an s3:// --lake)",
                    target.describe()
                );
            }
            // The exact object, not the folder: COPY loads every object under a prefix,
            // and a marker or stray file beside the part must not be loaded.
            let mart_s3 = format!("{out_url}/{mart_key}");
            warehouse::redshift_data::load(
                rs,
                &ctx.s3,
                &mart_s3,
                Duration::from_secs(timeout_secs),
            )?;
            None
        }
    };
    info!(target = %target.describe(), rows = mart.height(), seconds = started.elapsed().as_secs_f64(), "Loaded the warehouse.");
    Ok(LoadSummary {
        target: target.describe(),
        rows_staged: mart.height() as u64,
        rows_merged,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_shards_are_named() {
        let keys = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!("marts/palettes/date=2024-05-06/{n}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(missing_shards(&keys(&["part-0.parquet"])), None);
        assert_eq!(
            missing_shards(&keys(&["part-0-of-2.parquet", "part-1-of-2.parquet"])),
            None
        );
        assert_eq!(
            missing_shards(&keys(&["part-1-of-4.parquet", "part-3-of-4.parquet"])).as_deref(),
            Some("0/4, 2/4")
        );
    }
}
