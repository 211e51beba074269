//! `staging/user_stats/date=D/part-0.parquet`: one row per (user_id, date).

use super::*;
use crate::normalize::stats::StatsRecord;

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

/// A count column: its name and the record field it holds.
type CountColumn = (&'static str, fn(&StatsRecord) -> Option<i64>);

/// The integer metrics in file order, each name next to its field, so reordering the list
/// moves a column and never mislabels one. Business-only metrics are listed in
/// `normalize::stats::BUSINESS_MARKERS` as well (a test keeps the two in step).
const COUNT_COLUMNS: [CountColumn; 12] = [
    ("followers_count", |r| r.followers_count),
    ("follows_count", |r| r.follows_count),
    ("media_count", |r| r.media_count),
    ("impressions", |r| r.impressions),
    ("reach", |r| r.reach),
    ("follower_count", |r| r.follower_count),
    ("email_contacts", |r| r.email_contacts),
    ("phone_call_clicks", |r| r.phone_call_clicks),
    ("text_message_clicks", |r| r.text_message_clicks),
    ("get_directions_clicks", |r| r.get_directions_clicks),
    ("website_clicks", |r| r.website_clicks),
    ("profile_views", |r| r.profile_views),
];

fn count_columns() -> impl Iterator<Item = &'static str> {
    COUNT_COLUMNS.iter().map(|(name, _)| *name)
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
    for (name, field) in COUNT_COLUMNS {
        columns.push(i64_col(name, rows.iter().map(|r| field(r))));
    }
    columns.push(utc_us_col(
        "observed_at",
        rows.iter().map(|r| Some(r.observed_at_us)),
    ));
    columns.push(str_col("source_key", s(|r| Some(&r.source_key))));
    columns.push(str_col("source_etag", s(|r| r.source_etag.as_deref())));
    Ok(DataFrame::new(rows.len(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::stats::BUSINESS_MARKERS;

    /// Every metric column holds its own field: a record with a distinct value in each
    /// field, read back column by column by name.
    #[test]
    fn every_count_column_holds_its_own_field() {
        let text = r#"{"id":"7","followers_count":1,"follows_count":2,"media_count":3,
            "impressions":4,"reach":5,"follower_count":6,"email_contacts":7,
            "phone_call_clicks":8,"text_message_clicks":9,"get_directions_clicks":10,
            "website_clicks":11,"profile_views":12}"#;
        let source = crate::normalize::SourceInfo {
            key: "k",
            etag: None,
            last_modified_us: 0,
        };
        let date = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let record =
            crate::normalize::stats::normalize_stats(&source, "7", date, text.as_bytes()).unwrap();
        let df = frame(&[&record]).unwrap();
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        for name in count_columns() {
            let got = df.column(name).unwrap().i64().unwrap().get(0);
            assert_eq!(got, json[name].as_i64(), "{name}");
        }
        assert_eq!(df.schema().len(), schema().len());
        let business: Vec<&str> = count_columns().skip(3).collect();
        assert_eq!(
            business, BUSINESS_MARKERS,
            "BUSINESS_MARKERS lists the business metrics"
        );
    }
}
