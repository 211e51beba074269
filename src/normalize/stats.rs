//! One user-stats file → one `staging/user_stats` record (SPEC §1 "User stats JSON", §5).

use super::lenient::parse_date;
use super::raw_json::RawObject;
use super::{count_field, document_text, id_field, text_field, SourceInfo};
use chrono::NaiveDate;

/// The business-only metrics: their presence (not JSON null) marks a business connection.
pub const BUSINESS_MARKERS: [&str; 9] = [
    "impressions",
    "reach",
    "follower_count",
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
    "profile_views",
];

/// A normalised stats row, in `staging/user_stats` column order (`date` is the partition).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRecord {
    pub user_id: String,
    pub date: NaiveDate,
    pub ig_id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub biography: Option<String>,
    pub website: Option<String>,
    pub profile_picture_url: Option<String>,
    pub created_at: Option<NaiveDate>,
    pub connection: &'static str,
    pub followers_count: Option<i64>,
    pub follows_count: Option<i64>,
    pub media_count: Option<i64>,
    pub impressions: Option<i64>,
    pub reach: Option<i64>,
    pub follower_count: Option<i64>,
    pub email_contacts: Option<i64>,
    pub phone_call_clicks: Option<i64>,
    pub text_message_clicks: Option<i64>,
    pub get_directions_clicks: Option<i64>,
    pub website_clicks: Option<i64>,
    pub profile_views: Option<i64>,
    pub observed_at_us: i64,
    pub source_key: String,
    pub source_etag: Option<String>,
}

/// Normalises `stats/<user_id>/<date>.json`; the caller has parsed the folder and file name.
pub fn normalize_stats(
    source: &SourceInfo,
    user_id: &str,
    date: NaiveDate,
    bytes: &[u8],
) -> Result<StatsRecord, String> {
    let text = document_text(bytes)?;
    let obj = RawObject::parse(&text)?;
    let id = id_field(&obj, "id")?.ok_or("missing field `id`")?;
    if id != user_id {
        return Err(format!(
            "field `id` ({id}) differs from the folder's user id ({user_id})"
        ));
    }
    let business = BUSINESS_MARKERS
        .iter()
        .any(|m| obj.get_non_null(m).is_some());
    Ok(StatsRecord {
        user_id: id,
        date,
        ig_id: id_field(&obj, "ig_id")?,
        username: text_field(&obj, "username")?,
        name: text_field(&obj, "name")?,
        biography: text_field(&obj, "biography")?,
        website: text_field(&obj, "website")?,
        profile_picture_url: text_field(&obj, "profile_picture_url")?,
        created_at: text_field(&obj, "created_at")?
            .as_deref()
            .and_then(parse_date),
        connection: if business { "business" } else { "basic" },
        followers_count: count_field(&obj, "followers_count")?,
        follows_count: count_field(&obj, "follows_count")?,
        media_count: count_field(&obj, "media_count")?,
        impressions: count_field(&obj, "impressions")?,
        reach: count_field(&obj, "reach")?,
        follower_count: count_field(&obj, "follower_count")?,
        email_contacts: count_field(&obj, "email_contacts")?,
        phone_call_clicks: count_field(&obj, "phone_call_clicks")?,
        text_message_clicks: count_field(&obj, "text_message_clicks")?,
        get_directions_clicks: count_field(&obj, "get_directions_clicks")?,
        website_clicks: count_field(&obj, "website_clicks")?,
        profile_views: count_field(&obj, "profile_views")?,
        observed_at_us: source.last_modified_us,
        source_key: source.key.to_string(),
        source_etag: source.etag.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(json: &str) -> Result<StatsRecord, String> {
        let source = SourceInfo {
            key: "instagram_graph/stats/17841400036094485/2024-05-01.json",
            etag: None,
            last_modified_us: 1,
        };
        normalize_stats(
            &source,
            "17841400036094485",
            NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            json.as_bytes(),
        )
    }

    #[test]
    fn basic_user_from_the_design_document() {
        let s = stats(r#"{"created_at":"2020-05-09","biography":"Person","id":"17841400036094485","ig_id":287041203,
            "followers_count":5333,"follows_count":18,"media_count":93,"name":"Printed Name","username":"udacity"}"#).unwrap();
        assert_eq!(s.connection, "basic");
        assert_eq!(s.ig_id.as_deref(), Some("287041203"));
        assert_eq!(s.created_at, NaiveDate::from_ymd_opt(2020, 5, 9));
        assert_eq!(
            (s.followers_count, s.follows_count, s.media_count),
            (Some(5333), Some(18), Some(93))
        );
        assert_eq!(s.impressions, None);
    }

    #[test]
    fn business_user_with_numeric_id_and_odd_values() {
        let s = stats(
            r#"{"id":17841400036094485,"created_at":"not a date","followers_count":"37.2k",
            "impressions":3759,"reach":"1,301","follower_count":3,"profile_views":"-"}"#,
        )
        .unwrap();
        assert_eq!(s.connection, "business");
        assert_eq!(
            s.created_at, None,
            "an unparseable created_at is null, not a reject"
        );
        assert_eq!(
            (s.followers_count, s.impressions, s.reach, s.profile_views),
            (Some(37200), Some(3759), Some(1301), None)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            stats(r#"{"username":"x"}"#).unwrap_err(),
            "missing field `id`"
        );
        assert_eq!(
            stats(r#"{"id":"99"}"#).unwrap_err(),
            "field `id` (99) differs from the folder's user id (17841400036094485)"
        );
        assert_eq!(
            stats(r#"{"id":"17841400036094485","media_count":{}}"#).unwrap_err(),
            "field `media_count`: expected a count, found an object"
        );
    }
}
