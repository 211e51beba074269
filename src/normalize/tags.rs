//! Hashtags and mentions (SPEC §5 "Hashtags", "mentions").
//!
//! Both come from two places: the API's own field (`hashtags`, `mentioned_users`: comma or
//! space separated) and the caption. The result is lower-case, without `#`/`@`,
//! de-duplicated, first seen first (field before caption).

use regex::Regex;
use std::sync::LazyLock;

// The regex crate has no look-behind, so the "not preceded by" rule is a consumed
// non-capturing prefix; adjacent tags never overlap because a tag's own last character is
// a word character, which disqualifies a directly following `#`/`@` anyway.
static HASHTAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w])#([\p{L}\p{M}\p{N}_]+)").expect("hashtag regex"));
static MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w.@])@([\p{L}\p{M}\p{N}_.]+)").expect("mention regex"));

/// Which kind of tag to extract.
#[derive(Clone, Copy)]
pub enum TagKind {
    Hashtag,
    Mention,
}

impl TagKind {
    fn sigil(self) -> char {
        match self {
            TagKind::Hashtag => '#',
            TagKind::Mention => '@',
        }
    }
}

/// Collects tags from the API field's items (already split or not) and the caption.
pub fn collect_tags<'a>(
    kind: TagKind,
    field_items: impl IntoIterator<Item = &'a str>,
    caption: Option<&str>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |raw: &str| {
        let tag = match kind {
            TagKind::Hashtag => raw,
            TagKind::Mention => raw.trim_end_matches('.'),
        };
        if tag.is_empty() {
            return;
        }
        let lower = tag.to_lowercase();
        if !out.contains(&lower) {
            out.push(lower);
        }
    };
    for item in field_items {
        for piece in item.split(|c: char| c == ',' || c.is_whitespace()) {
            push(piece.trim_start_matches(kind.sigil()));
        }
    }
    if let Some(text) = caption {
        let re = match kind {
            TagKind::Hashtag => &*HASHTAG,
            TagKind::Mention => &*MENTION,
        };
        // A match consumes the character before the sigil; when two tags are separated by
        // exactly one character the second is still found because that character is
        // consumed by the second match, not the first.
        for cap in re.captures_iter(text) {
            push(cap.get(1).map_or("", |m| m.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashtags(field: &[&str], caption: &str) -> Vec<String> {
        collect_tags(TagKind::Hashtag, field.iter().copied(), Some(caption))
    }
    fn mentions(field: &[&str], caption: &str) -> Vec<String> {
        collect_tags(TagKind::Mention, field.iter().copied(), Some(caption))
    }

    #[test]
    fn field_then_caption_lowercased_deduplicated() {
        assert_eq!(
            hashtags(
                &["learningData, #Travel  food"],
                "Off we go #travel #Sunset!"
            ),
            vec!["learningdata", "travel", "food", "sunset"]
        );
    }

    #[test]
    fn hashtag_needs_a_non_word_character_before_it() {
        assert_eq!(hashtags(&[], "a#b #c,#d x#y ##e"), vec!["c", "d", "e"]);
        assert_eq!(
            hashtags(&[], "#Café #東京 #ça_va #2024"),
            vec!["café", "東京", "ça_va", "2024"]
        );
        // Emoji are not tag characters: the tag ends before them.
        assert_eq!(hashtags(&[], "#sun🌞set"), vec!["sun"]);
    }

    #[test]
    fn mentions_skip_email_addresses_and_trailing_dots() {
        assert_eq!(
            mentions(
                &["udacity, nanodegree"],
                "mail me: me@example.com, thanks @Kariah.Von. and @a.b.c"
            ),
            vec!["udacity", "nanodegree", "kariah.von", "a.b.c"]
        );
        assert_eq!(mentions(&[], "x.@no @@no2 (@yes)"), vec!["yes"]);
    }

    #[test]
    fn no_caption_no_field() {
        assert!(collect_tags(TagKind::Hashtag, [], None).is_empty());
    }
}
