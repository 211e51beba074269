//! `staging/posts/post_month=YYYY-MM/part-0.parquet`: one row per post_id, latest version.

use super::*;
use crate::normalize::post::PostRecord;

pub const TABLE_PREFIX: &str = "staging/posts";
pub const PARTITION_COLUMN: &str = "post_month";
pub const KEY_COLUMN: &str = "post_id";

fn child_dtype() -> DataType {
    DataType::Struct(vec![
        Field::new("id".into(), DataType::String),
        Field::new("media_type".into(), DataType::String),
        Field::new("media_url".into(), DataType::String),
    ])
}

/// Columns in file order (the partition column is in the path, not the file).
pub fn schema() -> Schema {
    use DataType::*;
    let list_str = List(Box::new(String));
    Schema::from_iter([
        Field::new("post_id".into(), String),
        Field::new("user_id".into(), String),
        Field::new("owner_username".into(), String),
        Field::new("media_type".into(), String),
        Field::new("connection".into(), String),
        Field::new("caption".into(), String),
        Field::new("permalink".into(), String),
        Field::new("shortcode".into(), String),
        Field::new("timestamp".into(), utc_us()),
        Field::new("like_count".into(), Int64),
        Field::new("comments_count".into(), Int64),
        Field::new("views".into(), Int64),
        Field::new("impressions".into(), Int64),
        Field::new("reach".into(), Int64),
        Field::new("engagement".into(), Int64),
        Field::new("saved".into(), Int64),
        Field::new("sticker_taps".into(), Int64),
        Field::new("tap_backs".into(), Int64),
        Field::new("swipe_ups".into(), Int64),
        Field::new("followers_at_post".into(), Int64),
        Field::new("media_url".into(), String),
        Field::new("thumbnail_url".into(), String),
        Field::new("children".into(), List(Box::new(child_dtype()))),
        Field::new("hashtags".into(), list_str.clone()),
        Field::new("mentions".into(), list_str),
        Field::new("observed_at".into(), utc_us()),
        Field::new("source_key".into(), String),
        Field::new("source_etag".into(), String),
    ])
}

/// Builds the frame for a set of records (any order; callers sort).
pub fn frame(rows: &[&PostRecord]) -> Result<DataFrame> {
    let s = |f: fn(&PostRecord) -> Option<&str>| rows.iter().map(move |r| f(r));
    let n = |f: fn(&PostRecord) -> Option<i64>| rows.iter().map(move |r| f(r));
    let columns = vec![
        str_col("post_id", s(|r| Some(&r.post_id))),
        str_col("user_id", s(|r| Some(&r.user_id))),
        str_col("owner_username", s(|r| r.owner_username.as_deref())),
        str_col("media_type", s(|r| Some(r.media_type))),
        str_col("connection", s(|r| Some(r.connection))),
        str_col("caption", s(|r| r.caption.as_deref())),
        str_col("permalink", s(|r| r.permalink.as_deref())),
        str_col("shortcode", s(|r| r.shortcode.as_deref())),
        utc_us_col("timestamp", n(|r| Some(r.timestamp_us))),
        i64_col("like_count", n(|r| r.like_count)),
        i64_col("comments_count", n(|r| r.comments_count)),
        i64_col("views", n(|r| r.views)),
        i64_col("impressions", n(|r| r.impressions)),
        i64_col("reach", n(|r| r.reach)),
        i64_col("engagement", n(|r| r.engagement)),
        i64_col("saved", n(|r| r.saved)),
        i64_col("sticker_taps", n(|r| r.sticker_taps)),
        i64_col("tap_backs", n(|r| r.tap_backs)),
        i64_col("swipe_ups", n(|r| r.swipe_ups)),
        i64_col("followers_at_post", n(|r| r.followers_at_post)),
        str_col("media_url", s(|r| r.media_url.as_deref())),
        str_col("thumbnail_url", s(|r| r.thumbnail_url.as_deref())),
        children_col(rows)?,
        str_list_col("hashtags", rows.iter().map(|r| r.hashtags.as_slice())),
        str_list_col("mentions", rows.iter().map(|r| r.mentions.as_slice())),
        utc_us_col("observed_at", n(|r| Some(r.observed_at_us))),
        str_col("source_key", s(|r| Some(&r.source_key))),
        str_col("source_etag", s(|r| r.source_etag.as_deref())),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// `children` as list<struct<id, media_type, media_url>>, built flat (one struct array for all
/// children plus offsets) rather than one Series per row, which would dominate a full load.
fn children_col(rows: &[&PostRecord]) -> Result<Column> {
    let all = || rows.iter().flat_map(|r| r.children.iter().flatten());
    let total = all().count();
    let fields = [
        str_col("id", all().map(|c| c.id.as_deref())).take_materialized_series(),
        str_col("media_type", all().map(|c| c.media_type.as_deref())).take_materialized_series(),
        str_col("media_url", all().map(|c| c.media_url.as_deref())).take_materialized_series(),
    ];
    let lengths: Vec<Option<usize>> = rows
        .iter()
        .map(|r| r.children.as_ref().map(Vec::len))
        .collect();
    list_of_structs("children", &fields, total, &lengths, child_dtype())
}
