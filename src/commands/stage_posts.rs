//! `igpipe stage-posts`: `instagram_graph/posts/<user_id>/<post_id>.json` →
//! `staging/posts/post_month=YYYY-MM/part-0.parquet` (latest version of each post_id).
//!
//! Incremental (see `staging.rs`): unchanged files are not read; only the months that gain,
//! lose or change a post are rewritten. Exit codes: 0, 1 (names the failing object),
//! 4 (too many rejects), 99 (`--skip-if-missing` and no post file at all).

use super::{Context, StageArgs};
use crate::contracts::posts;
use crate::lake::LakeObject;
use crate::normalize::post::{normalize_post, PostRecord};
use crate::normalize::SourceInfo;
use crate::report::RunReport;
use crate::staging::{self, Source};
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::{DataFrame, Schema};

pub const LAKE_PREFIX: &str = "instagram_graph/posts";

pub struct Posts;

impl Source for Posts {
    type Record = PostRecord;
    const STEP: &'static str = "stage-posts";
    const LAKE_PREFIX: &'static str = LAKE_PREFIX;
    const TABLE_PREFIX: &'static str = posts::TABLE_PREFIX;
    const PARTITION_COLUMN: &'static str = posts::PARTITION_COLUMN;
    const KEY_COLUMN: &'static str = posts::KEY_COLUMN;
    // A post keeps its identity when its timestamp (so its month) changes.
    const KEY_IS_PER_PARTITION: bool = false;
    const MANIFEST_KEY: &'static str = "staging/_manifest/posts.parquet";

    fn table_schema() -> Schema {
        posts::schema()
    }

    fn parse(object: &LakeObject, bytes: &[u8]) -> Result<PostRecord, String> {
        let user_id = user_folder(&object.key, LAKE_PREFIX)
            .ok_or_else(|| format!("key is not {LAKE_PREFIX}/<user_id>/<post_id>.json"))?;
        let source = SourceInfo {
            key: &object.key,
            etag: object.etag.as_deref(),
            last_modified_us: object.last_modified_us,
        };
        normalize_post(&source, user_id, bytes)
    }

    fn key_value(record: &PostRecord) -> &str {
        &record.post_id
    }

    fn partition_value(record: &PostRecord) -> String {
        record.post_month.clone()
    }

    fn frame(records: &[&PostRecord]) -> Result<DataFrame> {
        posts::frame(records)
    }

    fn input_present(json_objects: &[&LakeObject], _date: NaiveDate) -> bool {
        !json_objects.is_empty()
    }
}

/// `<prefix>/<user_id>/<file>.json` → `user_id`; None for any other depth.
pub fn user_folder<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let (user, file) = rest.split_once('/')?;
    (!user.is_empty() && !file.is_empty() && !file.contains('/')).then_some(user)
}

pub fn run(args: &StageArgs, ctx: &Context) -> Result<RunReport> {
    let (input, output) = args.open_lakes(ctx)?;
    staging::run::<Posts>(&input, &output, &args.options(ctx))
}
