//! A thin, exact view of one JSON document from the lake.
//!
//! serde's derived structs refuse duplicate keys and turn big numbers into floats; the lake
//! needs "last key wins" and exact ids and counts (SPEC §5). So a document is read once into
//! its top-level `(key, raw value)` pairs, and each field is interpreted from its raw text.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The JSON kind of a raw value, for error messages and dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl JsonKind {
    pub fn of(raw: &RawValue) -> JsonKind {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'n') => JsonKind::Null,
            Some(b't' | b'f') => JsonKind::Bool,
            Some(b'"') => JsonKind::String,
            Some(b'[') => JsonKind::Array,
            Some(b'{') => JsonKind::Object,
            _ => JsonKind::Number,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "a boolean",
            JsonKind::Number => "a number",
            JsonKind::String => "a string",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        }
    }
}

/// The unescaped text of a raw JSON string (borrowed when it has no escapes).
pub fn string_text(raw: &RawValue) -> Cow<'_, str> {
    let text = raw.get().trim();
    let inner = &text[1..text.len() - 1];
    if inner.contains('\\') {
        // serde_json checked the escapes while scanning, and `without_lone_surrogates` ran
        // on the document; should unescaping fail anyway, keep the raw text, never "".
        match serde_json::from_str::<String>(text) {
            Ok(unescaped) => Cow::Owned(unescaped),
            Err(_) => Cow::Borrowed(inner),
        }
    } else {
        Cow::Borrowed(inner)
    }
}

/// Replaces every `\uXXXX` escape of an unpaired UTF-16 surrogate (a high one not followed
/// by a low one, or a low one alone) with `\uFFFD`, the replacement character. Such text
/// is not Unicode, so serde_json refuses it, which blanked captions and rejected ids as
/// missing; lenient JSON readers (browsers, Python's `errors="replace"`) do the same.
/// Borrowed when there is nothing to replace.
pub fn without_lone_surrogates(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let escape_at = |i: usize| -> Option<u16> {
        let hex = text.get(i + 2..i + 6)?;
        (bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u'))
            .then(|| u16::from_str_radix(hex, 16).ok())
            .flatten()
    };
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(i) else {
            i += 2; // another escape (`\\\\`, `\\"`…): skip both characters
            continue;
        };
        let paired = (0xD800..0xDC00).contains(&unit)
            && escape_at(i + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low));
        if paired {
            i += 12;
        } else if (0xD800..0xE000).contains(&unit) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..i]);
            o.push_str("\\uFFFD");
            i += 6;
            copied = i;
        } else {
            i += 6;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// A JSON object's members in document order; lookups honour "the last key wins".
pub struct RawObject<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// Parses `text` as a JSON object. The error says what was found instead.
    pub fn parse(text: &'a str) -> Result<RawObject<'a>, String> {
        let raw: &RawValue =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        Self::from_raw(raw)
            .map_err(|kind| format!("not a JSON object (the document is {})", kind.name()))
    }

    /// Reads a nested value as an object, or returns its kind.
    pub fn from_raw(raw: &'a RawValue) -> Result<RawObject<'a>, JsonKind> {
        match JsonKind::of(raw) {
            JsonKind::Object => serde_json::from_str(raw.get()).map_err(|_| JsonKind::Object),
            other => Err(other),
        }
    }

    /// The member's raw value; `None` when absent. A JSON `null` is returned as present.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Like `get`, but a JSON `null` counts as absent.
    pub fn get_non_null(&self, name: &str) -> Option<&'a RawValue> {
        self.get(name).filter(|v| JsonKind::of(v) != JsonKind::Null)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawObject { members })
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_duplicate_key_wins() {
        let obj = RawObject::parse(r#"{"id": "1", "x": 2, "id": "3"}"#).unwrap();
        assert_eq!(string_text(obj.get("id").unwrap()), "3");
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let cases = [
            (r#""a \ud800 b""#, r#""a \uFFFD b""#),
            (r#""\udc00""#, r#""\uFFFD""#),
            (r#""\ud83d\ude00""#, r#""\ud83d\ude00""#), // a pair: an emoji, kept
            (r#""\ud83d\u0041""#, r#""\uFFFD\u0041""#),
            (r#""\\ud800""#, r#""\\ud800""#), // an escaped backslash, then text
            (r#""\ud800"#, r#""\uFFFD"#),
            (r#""\u12""#, r#""\u12""#), // too short: serde_json's to reject
        ];
        for (raw, want) in cases {
            assert_eq!(without_lone_surrogates(raw), want, "{raw}");
        }
        let text = without_lone_surrogates(r#"{"c\udfff": "x \ud800"}"#);
        let obj = RawObject::parse(&text).unwrap();
        assert_eq!(string_text(obj.get("c\u{fffd}").unwrap()), "x \u{fffd}");
    }

    #[test]
    fn kinds_and_errors() {
        assert_eq!(
            RawObject::parse("[1]").err().unwrap(),
            "not a JSON object (the document is an array)"
        );
        assert!(RawObject::parse(r#"{"a": 1"#)
            .err()
            .unwrap()
            .starts_with("invalid JSON: EOF"));
        let obj =
            RawObject::parse(r#"{"a": null, "b": "x\"y", "c": 12345678901234567890123}"#).unwrap();
        assert!(obj.get("a").is_some() && obj.get_non_null("a").is_none());
        assert_eq!(string_text(obj.get("b").unwrap()), "x\"y");
        assert_eq!(obj.get("c").unwrap().get(), "12345678901234567890123");
    }
}
