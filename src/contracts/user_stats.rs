//! `staging/user_stats/date=D/part-0.parquet`: one row per (user_id, date).

use super::*;
use crate::normalize::stats::{StatsRecord, BUSINESS_MARKERS};

pub const TABLE_PREFIX: &str = "staging/user_stats";
pub const PARTITION_COLUMN: &str = "date";
pub const KEY_COLUMN: &str = "user_id";

/// Columns in file order; `date` is the Hive partition and not repeated in the file.
pub fn schema() -> Schema {
    use DataType::*;
    let mut fields = vec![
        Field::new("user_id".into(), String),
        Field::new("ig_id".into(), String),
        Field::new("username".into(), String),
        Field::new("name".into(), String),
        Field::new("biography".into(), String),
        Field::new("website".into(), String),
        Field::new("profile_picture_url".into(), String),
        Field::new("created_at".into(), Date),
        Field::new("connection".into(), String),
    ];
    for name in count_columns() {
        fields.push(Field::new(name.into(), Int64));
    }
    fields.push(Field::new("observed_at".into(), utc_us()));
    fields.push(Field::new("source_key".into(), String));
    fields.push(Field::new("source_etag".into(), String));
    Schema::from_iter(fields)
}

/// The integer metrics, in file order: three every user has, then the business-only ones
/// (in `BUSINESS_MARKERS` order); `counts()` returns them in the same order.
fn count_columns() -> impl Iterator<Item = &'static str> {
    ["followers_count", "follows_count", "media_count"]
        .into_iter()
        .chain(BUSINESS_MARKERS)
}

fn counts(r: &StatsRecord) -> [Option<i64>; 12] {
    [
        r.followers_count,
        r.follows_count,
        r.media_count,
        r.impressions,
        r.reach,
        r.follower_count,
        r.email_contacts,
        r.phone_call_clicks,
        r.text_message_clicks,
        r.get_directions_clicks,
        r.website_clicks,
        r.profile_views,
    ]
}

pub fn frame(rows: &[&StatsRecord]) -> Result<DataFrame> {
    let s = |f: fn(&StatsRecord) -> Option<&str>| rows.iter().map(move |r| f(r));
    let mut columns = vec![
        str_col("user_id", s(|r| Some(&r.user_id))),
        str_col("ig_id", s(|r| r.ig_id.as_deref())),
        str_col("username", s(|r| r.username.as_deref())),
        str_col("name", s(|r| r.name.as_deref())),
        str_col("biography", s(|r| r.biography.as_deref())),
        str_col("website", s(|r| r.website.as_deref())),
        str_col(
            "profile_picture_url",
            s(|r| r.profile_picture_url.as_deref()),
        ),
        date_col("created_at", rows.iter().map(|r| r.created_at)),
        str_col("connection", s(|r| Some(r.connection))),
    ];
    for (i, name) in count_columns().enumerate() {
        columns.push(i64_col(name, rows.iter().map(|r| counts(r)[i])));
    }
    columns.push(utc_us_col(
        "observed_at",
        rows.iter().map(|r| Some(r.observed_at_us)),
    ));
    columns.push(str_col("source_key", s(|r| Some(&r.source_key))));
    columns.push(str_col("source_etag", s(|r| r.source_etag.as_deref())));
    Ok(DataFrame::new(rows.len(), columns)?)
}
