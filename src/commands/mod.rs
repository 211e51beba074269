//! One module per step. Each has an `Args` (its `--help`) and a `run` that returns the
//! step's `RunReport`.

pub mod aggregate_posts;
pub mod chain;
pub mod color_palette;
pub mod fetch_media;
pub mod load_facts;
pub mod quality_check;
pub mod report;
pub mod stage_posts;
pub mod stage_stats;

use crate::lake::Lake;
use crate::media::ImageStore;
use crate::settings::S3Settings;
use crate::staging::StageOptions;
use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

/// Where a step reads and writes; shared by every step.
#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// Root of the raw lake: s3://bucket/prefix, file:///abs/path or a plain path.
    #[arg(long, value_name = "URL")]
    pub lake: String,

    /// Root for igpipe's outputs (staging/, marts/). Default: the lake root.
    #[arg(long, value_name = "URL")]
    pub out: Option<String>,

    /// The orchestrator's logical date (Airflow's {{ ds }}), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: NaiveDate,

    /// Names this run in the run log (_runs/date=D/<step>-<run>.json) and the rejects log
    /// (staging/rejects/date=D/<step>-<run>.parquet). Default: the UTC start time and
    /// process id. Airflow: --run-id '{{ run_id }}'.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

impl LakeArgs {
    /// The output root (`--out`, else `--lake`): where staging/ and marts/ live, which
    /// the steps after staging read and write.
    pub fn open_output(&self, ctx: &Context) -> Result<Lake> {
        Lake::open(self.output_url(), &ctx.s3, true, ctx.local_fast_path)
    }

    /// The output root, only if it exists already: the run log must not create a folder
    /// that a mistyped --lake or --out names.
    pub fn open_existing_output(&self, ctx: &Context) -> Result<Lake> {
        Lake::open(self.output_url(), &ctx.s3, false, ctx.local_fast_path)
    }

    /// The output root's URL.
    pub fn output_url(&self) -> &str {
        self.out.as_deref().unwrap_or(&self.lake)
    }
}

/// Where the image store is (fetch-media writes it, color-palette reads it).
#[derive(Debug, Clone, Args)]
pub struct ImageStoreArgs {
    /// The image store's root. Default: instagram_graph_image_store/ under --lake.
    #[arg(long, value_name = "URL")]
    pub image_store: Option<String>,
}

impl ImageStoreArgs {
    /// Opens the store; with `create`, a missing local folder is made (fetch-media).
    pub fn open(&self, lake: &LakeArgs, ctx: &Context, create: bool) -> Result<ImageStore> {
        let url = self.image_store.as_deref().unwrap_or(&lake.lake);
        let store = Lake::open(url, &ctx.s3, create, ctx.local_fast_path)?;
        Ok(ImageStore::new(store, self.image_store.is_some()))
    }
}

/// Options of the two incremental staging steps.
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Refuse to run (exit 1, nothing changed) when more than this share of the manifest's
    /// keys vanished from the lake at once: a lake that lost most of its files is far more
    /// often a wrong --lake or a broken sync than a real deletion.
    #[arg(long, default_value_t = 0.05, value_name = "RATIO", value_parser = parse_ratio)]
    pub max_delete_ratio: f64,

    /// Exit 4 (after writing the good rows) when more than this share of the JSON files
    /// read were rejected; checked only when at least 100 files were read.
    #[arg(long, default_value_t = 0.05, value_name = "RATIO", value_parser = parse_ratio)]
    pub max_reject_ratio: f64,

    /// Exit 99 (Airflow: task skipped) instead of running when the lake holds no input for
    /// --date. Without it a missing input is a normal run with a warning.
    #[arg(long)]
    pub skip_if_missing: bool,

    /// Rebuild the table from the lake: read every file, replace every partition, remove
    /// partitions no file maps to, write a new manifest. The way back from an unreadable
    /// manifest or a table edited by hand (never delete the manifest instead: the next run
    /// would keep stale rows).
    #[arg(long)]
    pub full_refresh: bool,

    /// How long this run's lease on the table lasts without renewal (renewed every third
    /// of it while the run works). A second run on the same output root exits 1 while the
    /// lease is held; a killed run's lease lapses after this long.
    #[arg(long, default_value_t = 120, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_ttl: u64,
}

/// Process-wide settings a command needs besides its own flags.
pub struct Context {
    pub s3: S3Settings,
    pub progress: bool,
    pub local_fast_path: bool,
    /// --metrics-file: where each step's figures go, if anywhere.
    pub metrics_file: Option<std::path::PathBuf>,
}

impl StageArgs {
    pub fn open_lakes(&self, ctx: &Context) -> Result<(Lake, Lake)> {
        let input = Lake::open(&self.lake.lake, &ctx.s3, false, ctx.local_fast_path)?;
        let out_url = self.lake.out.as_deref().unwrap_or(&self.lake.lake);
        let output = Lake::open(out_url, &ctx.s3, true, ctx.local_fast_path)?;
        Ok((input, output))
    }

    pub fn options(&self, ctx: &Context) -> StageOptions {
        StageOptions {
            date: self.lake.date,
            run_id: run_id(self.lake.run_id.as_deref()),
            max_delete_ratio: self.max_delete_ratio,
            max_reject_ratio: self.max_reject_ratio,
            skip_if_missing: self.skip_if_missing,
            progress: ctx.progress,
            full_refresh: self.full_refresh,
            lease_ttl: std::time::Duration::from_secs(self.lease_ttl),
        }
    }
}

/// A run id safe in an object key: Airflow's `scheduled__2024-05-01T00:00:00+00:00` keeps
/// its letters, digits, `.`, `_` and `-`; anything else becomes `_`.
pub fn run_id(given: Option<&str>) -> String {
    match given {
        Some(id) if !id.trim().is_empty() => id
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        _ => format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        ),
    }
}

pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("expected a date as YYYY-MM-DD, got {text:?}"))
}

/// A window length in days: 1 to 366.
pub fn parse_days(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(days) if (1..=366).contains(&days) => Ok(days),
        _ => Err(format!(
            "expected a number of days from 1 to 366, got {text:?}"
        )),
    }
}

pub(crate) fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a ratio between 0 and 1, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_safe_in_keys() {
        assert_eq!(
            run_id(Some("scheduled__2024-05-01T00:00:00+00:00")),
            "scheduled__2024-05-01T00_00_00_00_00"
        );
        assert!(run_id(None).len() > 16);
    }

    #[test]
    fn dates_and_ratios() {
        assert!(parse_date("2024-02-30").is_err());
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert!(parse_ratio("1.5").is_err());
        assert_eq!(parse_ratio("0.2"), Ok(0.2));
    }
}
