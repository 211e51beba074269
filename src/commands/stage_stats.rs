//! `igpipe stage-stats`: `instagram_graph/stats/<user_id>/<YYYY-MM-DD>.json` →
//! `staging/user_stats/date=D/part-0.parquet` (one row per user and day).
//!
//! Incremental like stage-posts; every new or changed file is staged whatever its date,
//! `--date` names the run. Exit codes: 0, 1, 4, 99 (`--skip-if-missing` and no
//! `stats/*/D.json` for `--date`).

use super::stage_posts::user_folder;
use super::{Context, StageArgs};
use crate::contracts::user_stats;
use crate::lake::LakeObject;
use crate::normalize::stats::{normalize_stats, StatsRecord};
use crate::normalize::SourceInfo;
use crate::report::RunReport;
use crate::staging::{self, Source};
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::{DataFrame, Schema};

pub const LAKE_PREFIX: &str = "instagram_graph/stats";

pub struct Stats;

impl Source for Stats {
    type Record = StatsRecord;
    const STEP: &'static str = "stage-stats";
    const LAKE_PREFIX: &'static str = LAKE_PREFIX;
    const TABLE_PREFIX: &'static str = user_stats::TABLE_PREFIX;
    const PARTITION_COLUMN: &'static str = user_stats::PARTITION_COLUMN;
    const KEY_COLUMN: &'static str = user_stats::KEY_COLUMN;
    const KEY_IS_PER_PARTITION: bool = true;
    const MANIFEST_KEY: &'static str = "staging/_manifest/stats.parquet";

    fn table_schema() -> Schema {
        user_stats::schema()
    }

    fn parse(object: &LakeObject, bytes: &[u8]) -> Result<StatsRecord, String> {
        let user_id = user_folder(&object.key, LAKE_PREFIX)
            .ok_or_else(|| format!("key is not {LAKE_PREFIX}/<user_id>/<YYYY-MM-DD>.json"))?;
        let file = object.key.rsplit('/').next().unwrap_or_default();
        let date = file_date(file)
            .ok_or_else(|| format!("file name {file:?} is not a date (YYYY-MM-DD.json)"))?;
        let source = SourceInfo {
            key: &object.key,
            etag: object.etag.as_deref(),
            last_modified_us: object.last_modified_us,
        };
        normalize_stats(&source, user_id, date, bytes)
    }

    fn key_value(record: &StatsRecord) -> &str {
        &record.user_id
    }

    fn partition_value(record: &StatsRecord) -> String {
        record.date.to_string()
    }

    fn frame(records: &[&StatsRecord]) -> Result<DataFrame> {
        user_stats::frame(records)
    }

    fn input_present(json_objects: &[&LakeObject], date: NaiveDate) -> bool {
        let name = format!("/{date}.json");
        json_objects
            .iter()
            .any(|o| o.key.ends_with(&name) && user_folder(&o.key, LAKE_PREFIX).is_some())
    }
}

/// `2024-05-01.json` → the date; strictly `YYYY-MM-DD`.
fn file_date(file: &str) -> Option<NaiveDate> {
    let stem = file.strip_suffix(".json")?;
    (stem.len() == 10)
        .then(|| NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok())
        .flatten()
}

pub fn run(args: &StageArgs, ctx: &Context) -> Result<RunReport> {
    let (input, output) = args.open_lakes(ctx)?;
    staging::run::<Stats>(&input, &output, &args.options(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_must_be_dates() {
        assert_eq!(
            file_date("2024-05-01.json"),
            NaiveDate::from_ymd_opt(2024, 5, 1)
        );
        assert_eq!(file_date("2024-5-1.json"), None);
        assert_eq!(file_date("latest.json"), None);
        assert_eq!(file_date("2024-02-30.json"), None);
    }
}
