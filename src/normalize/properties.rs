//! Property tests (proptest) for the lenient parsers and the normalisers: whatever the lake
//! holds, they never panic, and they never accept what they must reject.

use super::lenient::{parse_count, parse_timestamp, CountError, YEARS};
use super::post::normalize_post;
use super::raw_json::without_lone_surrogates;
use super::stats::normalize_stats;
use super::SourceInfo;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

const SOURCE: SourceInfo = SourceInfo {
    key: "instagram_graph/posts/1/2.json",
    etag: None,
    last_modified_us: 0,
};

/// A JSON value for one field: the kinds and oddities the lake has.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "[0-9,.kKmMbB -]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        r#"(\\u[dD][89abAB][0-9a-fA-F]{2}|\\u[dD][c-fC-F][0-9a-fA-F]{2}|x){1,4}"#
            .prop_map(|s| format!("\"{s}\"")),
        Just("[1, \"a\"]".to_string()),
        Just("{\"data\": [{\"id\": \"1\"}]}".to_string()),
    ]
}

fn document(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(fields), json_value()), 0..10).prop_map(
        |pairs| {
            let members: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", members.join(", "))
        },
    )
}

const POST_FIELDS: &[&str] = &[
    "id",
    "media_type",
    "timestamp",
    "caption",
    "like_count",
    "comments_count",
    "impressions",
    "reach",
    "owner",
    "children",
    "hashtags",
    "media_url",
    "username",
    "media_product_type",
];
const STATS_FIELDS: &[&str] = &[
    "id",
    "username",
    "followers_count",
    "follows_count",
    "media_count",
    "impressions",
    "reach",
    "biography",
    "created_at",
    "ig_id",
];

proptest! {
    #[test]
    fn count_parser_never_panics(text in any::<String>(), display in any::<bool>()) {
        let _ = parse_count(&text, display);
    }

    #[test]
    fn counts_round_trip_exactly(n in 0i64..=i64::MAX) {
        prop_assert_eq!(parse_count(&n.to_string(), false), Ok(Some(n)));
        prop_assert_eq!(parse_count(&n.to_string(), true), Ok(Some(n)));
        let grouped = n.to_string().as_bytes().rchunks(3).rev()
            .map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(",");
        prop_assert_eq!(parse_count(&grouped, true), Ok(Some(n)));
    }

    #[test]
    fn counts_with_stray_letters_are_refused(
        // Not k/m/b (suffixes) nor e (an exponent).
        head in "[0-9]{1,6}", letter in "[acdf-jln-zACDF-JLN-Z]", tail in "[0-9]{0,3}",
    ) {
        let text = format!("{head}{letter}{tail}");
        prop_assert_eq!(parse_count(&text, true), Err(CountError::NotNumeric));
        prop_assert_eq!(parse_count(&text, false), Err(CountError::NotNumeric));
    }

    #[test]
    fn timestamp_parser_never_panics_and_keeps_years_in_range(text in any::<String>()) {
        if let Some(ts) = parse_timestamp(&text) {
            prop_assert!(YEARS.contains(&ts.year()));
        }
    }

    #[test]
    fn instagram_timestamps_round_trip(secs in 0i64..253_402_300_799, offset_min in -720i32..=840) {
        let utc = Utc.timestamp_opt(secs, 0).unwrap();
        let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
        let local = utc.with_timezone(&offset);
        prop_assume!(YEARS.contains(&local.year()));
        let text = local.format("%Y-%m-%dT%H:%M:%S%z").to_string();
        prop_assert_eq!(parse_timestamp(&text), Some(utc), "{}", text);
    }

    #[test]
    fn surrogate_repair_always_yields_a_json_string(body in r#"(\\u[dD][0-9a-fA-F]{3}|\\u00[0-7][0-9a-fA-F]|\\\\|[a-z ]){0,12}"#) {
        let quoted = format!("\"{body}\"");
        let repaired = without_lone_surrogates(&quoted);
        prop_assert!(serde_json::from_str::<String>(&repaired).is_ok(), "{} -> {}", quoted, repaired);
        if serde_json::from_str::<String>(&quoted).is_ok() {
            prop_assert_eq!(&*repaired, quoted.as_str(), "valid text is left alone");
        }
    }

    #[test]
    fn post_normaliser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = normalize_post(&SOURCE, "1", &bytes);
    }

    #[test]
    fn normalised_posts_are_well_formed(doc in document(POST_FIELDS)) {
        if let Ok(post) = normalize_post(&SOURCE, "1", doc.as_bytes()) {
            let replacement = '\u{fffd}';
            prop_assert!(!post.post_id.is_empty() && !post.post_id.contains(replacement));
            let ts = Utc.timestamp_micros(post.timestamp_us).unwrap();
            prop_assert!(YEARS.contains(&ts.year()));
            prop_assert_eq!(post.post_month, format!("{:04}-{:02}", ts.year(), ts.month()));
            for count in [post.like_count, post.comments_count].into_iter().flatten() {
                prop_assert!(count >= 0);
            }
        }
    }

    #[test]
    fn normalised_stats_are_well_formed(doc in document(STATS_FIELDS)) {
        let date = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        if let Ok(stats) = normalize_stats(&SOURCE, "7", date, doc.as_bytes()) {
            prop_assert_eq!(stats.user_id, "7");
            for count in [stats.followers_count, stats.follows_count, stats.media_count].into_iter().flatten() {
                prop_assert!(count >= 0);
            }
        }
    }
}
