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
        // Valid by construction: serde_json already checked this string while scanning.
        Cow::Owned(serde_json::from_str::<String>(text).unwrap_or_default())
    } else {
        Cow::Borrowed(inner)
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
