//! One post file → one `staging/posts` record (SPEC §1 "Post JSON", §2 columns, §5 rules).

use super::lenient::{is_placeholder, parse_timestamp};
use super::raw_json::{string_text, JsonKind, RawObject};
use super::tags::{collect_tags, TagKind};
use super::{count_field, document_text, id_field, object_field, text_field, SourceInfo};
use chrono::Datelike;

/// The five media types, after the story rule.
pub const MEDIA_TYPES: [&str; 5] = [
    "IMAGE",
    "CAROUSEL_ALBUM",
    "VIDEO",
    "STORY_IMAGE",
    "STORY_VIDEO",
];

/// Fields whose presence (not JSON null) marks a business connection.
const BUSINESS_MARKERS: [&str; 5] = ["impressions", "reach", "engagement", "saved", "video_views"];

#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub id: Option<String>,
    pub media_type: Option<String>,
    pub media_url: Option<String>,
}

/// A normalised post, in `staging/posts` column order.
#[derive(Debug, Clone, PartialEq)]
pub struct PostRecord {
    pub post_id: String,
    pub user_id: String,
    pub owner_username: Option<String>,
    pub media_type: &'static str,
    pub connection: &'static str,
    pub caption: Option<String>,
    pub permalink: Option<String>,
    pub shortcode: Option<String>,
    /// Microseconds since the Unix epoch, UTC.
    pub timestamp_us: i64,
    pub like_count: Option<i64>,
    pub comments_count: Option<i64>,
    pub views: Option<i64>,
    pub impressions: Option<i64>,
    pub reach: Option<i64>,
    pub engagement: Option<i64>,
    pub saved: Option<i64>,
    pub sticker_taps: Option<i64>,
    pub tap_backs: Option<i64>,
    pub swipe_ups: Option<i64>,
    pub followers_at_post: Option<i64>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
    /// None when the file has no `children`; Some(empty) for an empty album.
    pub children: Option<Vec<Child>>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub observed_at_us: i64,
    pub source_key: String,
    pub source_etag: Option<String>,
    /// The Hive partition, `YYYY-MM` of the UTC timestamp.
    pub post_month: String,
}

/// Normalises one post file found under `posts/<user_id>/`.
pub fn normalize_post(
    source: &SourceInfo,
    user_id: &str,
    bytes: &[u8],
) -> Result<PostRecord, String> {
    let text = document_text(bytes)?;
    let obj = RawObject::parse(&text)?;

    let post_id = id_field(&obj, "id")?.ok_or("missing field `id`")?;
    let media_type = media_type(&obj)?;
    let timestamp = match text_field(&obj, "timestamp")? {
        None => return Err("missing field `timestamp`".into()),
        Some(t) => parse_timestamp(&t)
            .ok_or_else(|| format!("field `timestamp`: not a timestamp: {t:?}"))?,
    };

    let owner = object_field(&obj, "owner")?;
    let owner_followers = match &owner {
        Some(o) => count_field(o, "followers_count")?,
        None => None,
    };
    let owner_username = match &owner {
        Some(o) => text_field(o, "username")?,
        None => None,
    };
    let business = BUSINESS_MARKERS
        .iter()
        .any(|m| obj.get_non_null(m).is_some())
        || owner
            .as_ref()
            .is_some_and(|o| o.get_non_null("followers_count").is_some());

    let caption = text_field(&obj, "caption")?;
    let hashtag_items = tag_field_items(&obj, "hashtags")?;
    let mention_items = tag_field_items(&obj, "mentioned_users")?;
    let hashtags = collect_tags(
        TagKind::Hashtag,
        hashtag_items.iter().map(String::as_str),
        caption.as_deref(),
    );
    let mentions = collect_tags(
        TagKind::Mention,
        mention_items.iter().map(String::as_str),
        caption.as_deref(),
    );

    let views = match count_field(&obj, "views")? {
        Some(v) => Some(v),
        None => count_field(&obj, "video_views")?,
    };
    let followers_at_post = match owner_followers {
        Some(v) => Some(v),
        None => count_field(&obj, "followers")?,
    };
    let owner_username = match owner_username {
        Some(u) => Some(u),
        None => text_field(&obj, "username")?,
    };

    Ok(PostRecord {
        post_id,
        user_id: user_id.to_string(),
        owner_username,
        media_type,
        connection: if business { "business" } else { "basic" },
        permalink: text_field(&obj, "permalink")?,
        shortcode: text_field(&obj, "shortcode")?,
        timestamp_us: timestamp.timestamp_micros(),
        like_count: count_field(&obj, "like_count")?,
        comments_count: count_field(&obj, "comments_count")?,
        views,
        impressions: count_field(&obj, "impressions")?,
        reach: count_field(&obj, "reach")?,
        engagement: count_field(&obj, "engagement")?,
        saved: count_field(&obj, "saved")?,
        sticker_taps: count_field(&obj, "sticker_taps")?,
        tap_backs: count_field(&obj, "tap_backs")?,
        swipe_ups: count_field(&obj, "swipe_ups")?,
        followers_at_post,
        media_url: text_field(&obj, "media_url")?,
        thumbnail_url: text_field(&obj, "thumbnail_url")?,
        children: children(&obj)?,
        caption,
        hashtags,
        mentions,
        observed_at_us: source.last_modified_us,
        source_key: source.key.to_string(),
        source_etag: source.etag.map(str::to_string),
        post_month: format!("{:04}-{:02}", timestamp.year(), timestamp.month()),
    })
}

/// `media_type`, upper-cased, with stories that arrive as IMAGE/VIDEO plus
/// `"media_product_type": "STORY"` normalised to STORY_IMAGE/STORY_VIDEO.
fn media_type(obj: &RawObject) -> Result<&'static str, String> {
    let raw = text_field(obj, "media_type")?.ok_or("missing field `media_type`")?;
    let upper = raw.trim().to_ascii_uppercase();
    let is_story = text_field(obj, "media_product_type")?
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("STORY"));
    let name = match (upper.as_str(), is_story) {
        ("IMAGE", true) => "STORY_IMAGE",
        ("VIDEO", true) => "STORY_VIDEO",
        (other, _) => other,
    };
    MEDIA_TYPES
        .iter()
        .find(|m| **m == name)
        .copied()
        .ok_or_else(|| format!("field `media_type`: unknown media type {raw:?}"))
}

/// `hashtags` / `mentioned_users`: a separated string, or (leniently) an array of strings.
fn tag_field_items(obj: &RawObject, name: &str) -> Result<Vec<String>, String> {
    let Some(raw) = obj.get(name) else {
        return Ok(Vec::new());
    };
    match JsonKind::of(raw) {
        JsonKind::Null => Ok(Vec::new()),
        JsonKind::String => {
            let text = string_text(raw);
            Ok(if is_placeholder(&text) {
                Vec::new()
            } else {
                vec![text.into_owned()]
            })
        }
        JsonKind::Array => {
            let items: Vec<serde_json::Value> =
                serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(format!("field `{name}`: expected strings in the array")),
                })
                .collect()
        }
        other => Err(format!(
            "field `{name}`: expected a string, found {}",
            other.name()
        )),
    }
}

/// `children.data[]` of `{id, media_type, media_url}`.
fn children(obj: &RawObject) -> Result<Option<Vec<Child>>, String> {
    let Some(wrapper) = object_field(obj, "children")? else {
        return Ok(None);
    };
    let Some(data) = wrapper.get_non_null("data") else {
        return Ok(Some(Vec::new()));
    };
    if JsonKind::of(data) != JsonKind::Array {
        return Err(format!(
            "field `children.data`: expected an array, found {}",
            JsonKind::of(data).name()
        ));
    }
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(data.get()).map_err(|e| format!("field `children.data`: {e}"))?;
    items
        .into_iter()
        .map(|item| {
            let child = RawObject::from_raw(item).map_err(|kind| {
                format!(
                    "field `children.data`: expected objects, found {}",
                    kind.name()
                )
            })?;
            Ok(Child {
                id: id_field(&child, "id").map_err(|e| format!("children: {e}"))?,
                media_type: text_field(&child, "media_type")
                    .map_err(|e| format!("children: {e}"))?,
                media_url: text_field(&child, "media_url").map_err(|e| format!("children: {e}"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceInfo<'static> {
        SourceInfo {
            key: "instagram_graph/posts/42/1.json",
            etag: Some("\"abc\""),
            last_modified_us: 7,
        }
    }

    fn post(json: &str) -> Result<PostRecord, String> {
        normalize_post(&source(), "42", json.as_bytes())
    }

    #[test]
    fn carousel_from_the_design_document() {
        let p = post(
            r#"{"caption":"This is the caption of the post #Fun with @Friend","comments_count":199,
            "id":"1784999999","like_count":888,"media_type":"CAROUSEL_ALBUM","media_url":"https://x/m",
            "owner":{"id":"178414000888888","username":"kariah.von","followers_count":5993},
            "permalink":"https://www.instagram.com/p/B8y/","shortcode":"B8y","timestamp":"2021-02-20T17:05:52+0000",
            "username":"igUser","children":{"data":[{"id":"178823899999999","media_type":"IMAGE","media_url":"https://x/1"}]},
            "mentioned_users":"udacity, nanodegree","hashtags":"learningData"}"#,
        )
        .unwrap();
        assert_eq!(p.post_id, "1784999999");
        assert_eq!(p.user_id, "42");
        assert_eq!(p.media_type, "CAROUSEL_ALBUM");
        // owner.followers_count is a business marker.
        assert_eq!(p.connection, "business");
        assert_eq!(p.owner_username.as_deref(), Some("kariah.von"));
        assert_eq!(p.followers_at_post, Some(5993));
        assert_eq!(p.timestamp_us, 1_613_840_752_000_000);
        assert_eq!(p.post_month, "2021-02");
        assert_eq!(p.hashtags, vec!["learningdata", "fun"]);
        assert_eq!(p.mentions, vec!["udacity", "nanodegree", "friend"]);
        let kids = p.children.unwrap();
        assert_eq!(kids.len(), 1);
        assert_eq!(kids[0].id.as_deref(), Some("178823899999999"));
        assert_eq!(p.source_etag.as_deref(), Some("\"abc\""));
        assert_eq!(p.observed_at_us, 7);
    }

    #[test]
    fn basic_video_with_string_counts_and_missing_followers() {
        let p = post(
            r#"{"id": 17912345678901234, "media_type": "VIDEO", "timestamp": "2024-03-31T23:59:59+0000",
            "like_count": "1,234", "comments_count": "12.3k", "video_views": "1.2M", "followers": -1,
            "username": "cook"}"#,
        )
        .unwrap();
        assert_eq!(p.post_id, "17912345678901234");
        assert_eq!(p.connection, "business", "video_views marks business");
        assert_eq!(
            (p.like_count, p.comments_count, p.views),
            (Some(1234), Some(12300), Some(1_200_000))
        );
        assert_eq!(p.followers_at_post, None);
        assert_eq!(p.owner_username.as_deref(), Some("cook"));
        assert_eq!(p.children, None);
    }

    #[test]
    fn basic_image() {
        let p = post(r#"{"id":"1","media_type":"IMAGE","timestamp":"2024-01-01T00:00:00+0000","like_count":5,"impressions":null}"#).unwrap();
        assert_eq!(
            p.connection, "basic",
            "a JSON null is not a business marker"
        );
        assert_eq!(p.impressions, None);
    }

    #[test]
    fn stories_arriving_as_image_or_video() {
        let p = post(r#"{"id":"1","media_type":"IMAGE","media_product_type":"STORY","timestamp":"2024-01-01T00:00:00+0000","sticker_taps":"3","tap_backs":2,"swipe_ups":"n/a"}"#).unwrap();
        assert_eq!(p.media_type, "STORY_IMAGE");
        assert_eq!(
            (p.sticker_taps, p.tap_backs, p.swipe_ups),
            (Some(3), Some(2), None)
        );
        let v = post(r#"{"id":"2","media_type":"VIDEO","media_product_type":"STORY","timestamp":"2024-01-01T00:00:00+0000","thumbnail_url":"https://t"}"#).unwrap();
        assert_eq!(v.media_type, "STORY_VIDEO");
        assert_eq!(v.thumbnail_url.as_deref(), Some("https://t"));
    }

    #[test]
    fn reject_reasons_name_the_problem() {
        let cases = [
            ("", "empty file"),
            ("[1,2]", "not a JSON object (the document is an array)"),
            (
                r#"{"media_type":"IMAGE","timestamp":"2024-01-01T00:00:00+0000"}"#,
                "missing field `id`",
            ),
            (
                r#"{"id":"1","timestamp":"2024-01-01T00:00:00+0000"}"#,
                "missing field `media_type`",
            ),
            (
                r#"{"id":"1","media_type":"REEL","timestamp":"2024-01-01T00:00:00+0000"}"#,
                "field `media_type`: unknown media type \"REEL\"",
            ),
            (
                r#"{"id":"1","media_type":"IMAGE"}"#,
                "missing field `timestamp`",
            ),
            (
                r#"{"id":"1","media_type":"IMAGE","timestamp":"soon"}"#,
                "field `timestamp`: not a timestamp: \"soon\"",
            ),
            (
                r#"{"id":"1","media_type":"IMAGE","timestamp":"2024-01-01T00:00:00+0000","like_count":true}"#,
                "field `like_count`: expected a count, found a boolean",
            ),
            (
                r#"{"id":"1","media_type":"IMAGE","timestamp":"2024-01-01T00:00:00+0000","owner":[]}"#,
                "field `owner`: expected an object, found an array",
            ),
            (
                r#"{"id":true,"media_type":"IMAGE","timestamp":"2024-01-01T00:00:00+0000"}"#,
                "field `id`: expected an id, found a boolean",
            ),
        ];
        for (json, reason) in cases {
            assert_eq!(post(json).unwrap_err(), reason, "{json}");
        }
        assert!(post(r#"{"id":"1","media_type":"IMAGE""#)
            .unwrap_err()
            .starts_with("invalid JSON: EOF while parsing"));
    }
}
