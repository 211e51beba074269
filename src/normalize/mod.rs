//! JSON from the raw lake → typed records (SPEC §1, §5).
//!
//! Pure functions only: bytes and the object's listing metadata in, a record or a one-line
//! reject reason out. No I/O, so every rule is unit-tested here.

pub mod lenient;
pub mod post;
#[cfg(test)]
mod properties;
pub mod raw_json;
pub mod stats;
pub mod tags;

use raw_json::{string_text, JsonKind, RawObject};
use serde_json::value::RawValue;

/// What the lake listing says about the object a document came from.
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    pub key: &'a str,
    pub etag: Option<&'a str>,
    /// Last-modified time, microseconds since the Unix epoch (UTC).
    pub last_modified_us: i64,
}

/// Decodes a file's bytes to text: a clear reason for empty files and bad UTF-8; a leading
/// byte-order mark is dropped, and unpaired UTF-16 surrogate escapes become U+FFFD
/// (`raw_json::without_lone_surrogates`).
pub fn document_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("empty file".to_string());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    Ok(raw_json::without_lone_surrogates(
        text.strip_prefix('\u{feff}').unwrap_or(text),
    ))
}

/// A count field: JSON numbers and display strings; placeholders and negatives → None.
pub fn count_field(obj: &RawObject, name: &str) -> Result<Option<i64>, String> {
    let Some(raw) = obj.get(name) else {
        return Ok(None);
    };
    count_value(raw, name)
}

fn count_value(raw: &RawValue, name: &str) -> Result<Option<i64>, String> {
    use lenient::{parse_count, CountError};
    let parsed = match JsonKind::of(raw) {
        JsonKind::Null => return Ok(None),
        JsonKind::Number => parse_count(raw.get(), false),
        JsonKind::String => parse_count(&string_text(raw), true),
        other => {
            return Err(format!(
                "field `{name}`: expected a count, found {}",
                other.name()
            ))
        }
    };
    parsed.map_err(|e| match e {
        CountError::NotNumeric => format!("field `{name}`: not a count: {}", shorten(raw.get())),
        CountError::OutOfRange => {
            format!("field `{name}`: count out of range: {}", shorten(raw.get()))
        }
    })
}

/// A text field: strings as they are, numbers as their literal; placeholders are kept
/// (a caption of "-" is a caption). Booleans, arrays and objects reject the file.
pub fn text_field(obj: &RawObject, name: &str) -> Result<Option<String>, String> {
    let Some(raw) = obj.get(name) else {
        return Ok(None);
    };
    match JsonKind::of(raw) {
        JsonKind::Null => Ok(None),
        JsonKind::String => Ok(Some(string_text(raw).into_owned())),
        JsonKind::Number => Ok(Some(raw.get().to_string())),
        other => Err(format!(
            "field `{name}`: expected a string, found {}",
            other.name()
        )),
    }
}

/// An id: a string (trimmed) or an integer literal kept digit for digit (never a float).
/// Placeholders and empty strings → None.
pub fn id_field(obj: &RawObject, name: &str) -> Result<Option<String>, String> {
    let Some(raw) = obj.get(name) else {
        return Ok(None);
    };
    match JsonKind::of(raw) {
        JsonKind::Null => Ok(None),
        JsonKind::String => {
            let text = string_text(raw);
            let t = text.trim();
            if t.contains('\u{fffd}') {
                return Err(format!(
                    "field `{name}`: not a usable id (it holds U+FFFD, e.g. from an unpaired \
                     surrogate escape): {}",
                    shorten(raw.get())
                ));
            }
            Ok((!lenient::is_placeholder(t)).then(|| t.to_string()))
        }
        JsonKind::Number if raw.get().bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(raw.get().to_string()))
        }
        JsonKind::Number => Err(format!(
            "field `{name}`: id is not an integer: {}",
            shorten(raw.get())
        )),
        other => Err(format!(
            "field `{name}`: expected an id, found {}",
            other.name()
        )),
    }
}

/// A nested object member; absent or null → None.
pub fn object_field<'a>(obj: &RawObject<'a>, name: &str) -> Result<Option<RawObject<'a>>, String> {
    let Some(raw) = obj.get_non_null(name) else {
        return Ok(None);
    };
    RawObject::from_raw(raw)
        .map(Some)
        .map_err(|kind| format!("field `{name}`: expected an object, found {}", kind.name()))
}

/// Cuts a raw value for a reject reason, which must stay one short line.
fn shorten(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > 40 {
        format!("{}…", one_line.chars().take(40).collect::<String>())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        assert_eq!(document_text(b"").unwrap_err(), "empty file");
        assert_eq!(document_text(b" \n").unwrap_err(), "empty file");
        assert_eq!(
            document_text(b"{\"a\":\"\xff\"}").unwrap_err(),
            "invalid UTF-8 at byte 6"
        );
        assert_eq!(document_text("\u{feff}{}".as_bytes()).unwrap(), "{}");
        assert_eq!(
            document_text(br#"{"a":"x \ud800 y"}"#).unwrap(),
            r#"{"a":"x \uFFFD y"}"#
        );
    }

    #[test]
    fn fields() {
        let obj = RawObject::parse(
            r#"{"a": "1,234", "b": true, "c": [1], "d": 17841400036094485, "e": 1.5, "f": "abc", "g": " 42 "}"#,
        )
        .unwrap();
        assert_eq!(count_field(&obj, "a"), Ok(Some(1234)));
        assert_eq!(
            count_field(&obj, "b").unwrap_err(),
            "field `b`: expected a count, found a boolean"
        );
        assert_eq!(
            count_field(&obj, "c").unwrap_err(),
            "field `c`: expected a count, found an array"
        );
        assert_eq!(
            count_field(&obj, "f").unwrap_err(),
            "field `f`: not a count: \"abc\""
        );
        assert_eq!(count_field(&obj, "missing"), Ok(None));
        assert_eq!(
            id_field(&obj, "d").unwrap().as_deref(),
            Some("17841400036094485")
        );
        assert_eq!(id_field(&obj, "g").unwrap().as_deref(), Some("42"));
        assert!(id_field(&obj, "e").is_err());
        assert!(id_field(&obj, "b").is_err());
        assert_eq!(
            text_field(&obj, "d").unwrap().as_deref(),
            Some("17841400036094485")
        );
        assert!(text_field(&obj, "c").is_err());
    }
}
