//! `igpipe aggregate-posts`: `staging/posts` → `marts/post_aggregates/date=D/part-0.parquet`
//! (per user: posts, feed and story counts, engagement means, top hashtags over the window).
//!
//! Reads only the `post_month` partitions that overlap the window, every `part-*.parquet`
//! of each. Exit codes: 0, 1.

use super::{parse_days, Context, LakeArgs};
use crate::contracts::{post_aggregates, posts};
use crate::facts::{self, window_start};
use crate::report::RunReport;
use crate::tables;
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use clap::Args;
use polars::prelude::*;
use std::time::Instant;
use tracing::{info, warn};

pub const STEP: &str = "aggregate-posts";

#[derive(Debug, Clone, Args)]
pub struct AggregateArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Days in the window ending on --date: posts whose UTC date is in [D−W+1, D].
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = parse_days)]
    pub window_days: u32,
}

pub fn run(args: &AggregateArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date;
    let out = args.lake.open_output(ctx)?;
    let mut report = RunReport::new(
        STEP,
        date.to_string(),
        super::run_id(args.lake.run_id.as_deref()),
    );

    let mut keys = Vec::new();
    for month in window_months(date, args.window_days) {
        let dir = tables::partition_dir(posts::TABLE_PREFIX, posts::PARTITION_COLUMN, &month);
        keys.extend(tables::part_keys(&out, &dir)?);
    }
    report.files_listed = keys.len() as u64;
    let staged = tables::read_files(&out, &keys, &posts::schema())?;
    report.files_read = keys.len() as u64;
    let staged = staged.unwrap_or_else(|| {
        warn!(date = %date, "No staged posts in the window's months: every user gets no row. Has stage-posts run?");
        DataFrame::empty_with_schema(&posts::schema())
    });
    info!(
        files = keys.len(),
        posts = staged.height(),
        "Read the window's months."
    );

    let mut aggregates = facts::post_aggregates::aggregate(staged, date, args.window_days)?;
    let dir = tables::partition_dir(
        post_aggregates::TABLE_PREFIX,
        post_aggregates::PARTITION_COLUMN,
        &date.to_string(),
    );
    let key = tables::write_partition(&out, &dir, &mut aggregates)?;
    info!(users = aggregates.height(), object = %out.describe(&key), "Wrote post aggregates.");
    report.rows_written = aggregates.height() as u64;
    report.partitions_written = 1;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// `YYYY-MM` of every month the window [D−W+1, D] touches, oldest first.
pub(crate) fn window_months(date: NaiveDate, window_days: u32) -> Vec<String> {
    let mut month = window_start(date, window_days).with_day(1).expect("day 1");
    let mut months = Vec::new();
    while month <= date {
        months.push(month.format("%Y-%m").to_string());
        month = month + chrono::Months::new(1);
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_reads_only_the_months_it_touches() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(window_months(d("2024-05-06"), 30), ["2024-04", "2024-05"]);
        assert_eq!(window_months(d("2024-05-30"), 30), ["2024-05"]);
        // 2023-03-01 − 29 days = 2023-01-31 (February has 28 days): three months.
        assert_eq!(
            window_months(d("2023-03-01"), 30),
            ["2023-01", "2023-02", "2023-03"]
        );
        // In a leap year the same window starts on 2024-02-01.
        assert_eq!(window_months(d("2024-03-01"), 30), ["2024-02", "2024-03"]);
        assert_eq!(window_months(d("2024-03-01"), 1), ["2024-03"]);
    }
}
