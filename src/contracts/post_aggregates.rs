//! `marts/post_aggregates/date=D/part-0.parquet`: one row per user with a post in the
//! window ending on D (SPEC §2 "marts/post_aggregates", §5 "Aggregates and facts").

use super::*;

pub const TABLE_PREFIX: &str = "marts/post_aggregates";
pub const PARTITION_COLUMN: &str = "date";

/// Columns in file order.
pub fn schema() -> Schema {
    use DataType::*;
    Schema::from_iter([
        Field::new("user_id".into(), String),
        Field::new("as_of".into(), Date),
        Field::new("doc_count".into(), Int64),
        Field::new("feed_count".into(), Int64),
        Field::new("story_count".into(), Int64),
        Field::new("eng_avg".into(), Float64),
        Field::new("likes_avg".into(), Float64),
        Field::new("comments_avg".into(), Float64),
        Field::new("reach_avg".into(), Float64),
        Field::new("impressions_avg".into(), Float64),
        Field::new("top_hashtags".into(), List(Box::new(String))),
        Field::new("last_post_at".into(), utc_us()),
    ])
}
