//! Lenient readers for the raw lake's scalar values (SPEC §1 "Input hygiene", §5 "Field rules").
//!
//! The agency's API client writes whatever Instagram and its own scrapers hand it: counts as
//! JSON numbers or as display strings ("1,234", "12.3k"), `-1` for "not available", and a zoo
//! of placeholders. Everything here is pure and exact: counts are computed in decimal, never
//! through a float, so "1.15k" is 1150 and a 19-digit id survives unchanged.

use chrono::{DateTime, NaiveDate, Utc};

/// Strings that mean "no value" (compared trimmed and case-insensitively).
const PLACEHOLDERS: &[&str] = &[
    "",
    "-",
    "--",
    "—",
    "n/a",
    "na",
    "null",
    "none",
    "nan",
    "undefined",
    "?",
];

pub fn is_placeholder(text: &str) -> bool {
    let t = text.trim();
    PLACEHOLDERS.iter().any(|p| t.eq_ignore_ascii_case(p))
}

/// Why a count could not be read. The caller names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountError {
    NotNumeric,
    OutOfRange,
}

/// Reads a count written as text: a JSON number's literal (`allow_display = false`) or a
/// display string (`allow_display = true`: thousands commas and k/m/b suffixes allowed).
///
/// Returns `Ok(None)` for placeholders and negative values (Instagram's `-1` = "not
/// available"); non-integral values are rounded half up.
pub fn parse_count(text: &str, allow_display: bool) -> Result<Option<i64>, CountError> {
    let t = text.trim();
    if allow_display && is_placeholder(t) {
        return Ok(None);
    }
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') if allow_display => (false, &t[1..]),
        _ => (false, t),
    };
    let (body, suffix_exp) = if allow_display {
        match body.as_bytes().last() {
            Some(b'k' | b'K') => (&body[..body.len() - 1], 3),
            Some(b'm' | b'M') => (&body[..body.len() - 1], 6),
            Some(b'b' | b'B') => (&body[..body.len() - 1], 9),
            _ => (body, 0),
        }
    } else {
        (body, 0)
    };
    let body = body.trim_end();
    // Split off a JSON exponent ("1e3", "2.5E-1").
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => {
            let exp: i32 = body[i + 1..].parse().map_err(|_| CountError::NotNumeric)?;
            (&body[..i], exp)
        }
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let int_digits = if allow_display && int_part.contains(',') {
        strip_thousands_commas(int_part).ok_or(CountError::NotNumeric)?
    } else {
        int_part.to_string()
    };
    if (int_digits.is_empty() && frac_part.is_empty())
        || !int_digits.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(CountError::NotNumeric);
    }
    // value = digits * 10^(scale) where digits holds int and fraction digits together.
    let digits = format!("{int_digits}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let scale = exp
        .saturating_add(suffix_exp)
        .saturating_sub(frac_part.len() as i32);
    if digits.is_empty() {
        return Ok(Some(0));
    }
    if negative {
        // -1 and every other negative count mean "not available" (SPEC §1).
        return Ok(None);
    }
    if (digits.len() as i32).saturating_add(scale) > 19 {
        return Err(CountError::OutOfRange);
    }
    let value: i128 = if scale >= 0 {
        let base: i128 = digits.parse().map_err(|_| CountError::OutOfRange)?;
        base.checked_mul(10i128.pow(scale as u32))
            .ok_or(CountError::OutOfRange)?
    } else {
        // Keep the digits that stay left of the point; round half up on the first dropped one.
        let drop = scale.unsigned_abs() as usize;
        if drop > digits.len() {
            0
        } else {
            let keep = &digits[..digits.len() - drop];
            let first_dropped = digits.as_bytes()[digits.len() - drop];
            let kept: i128 = if keep.is_empty() {
                0
            } else {
                keep.parse().map_err(|_| CountError::OutOfRange)?
            };
            kept + i128::from(first_dropped >= b'5')
        }
    };
    i64::try_from(value)
        .map(Some)
        .map_err(|_| CountError::OutOfRange)
}

/// "1,234,567" → "1234567"; None unless every group after the first has three digits.
fn strip_thousands_commas(int_part: &str) -> Option<String> {
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut out = first.to_string();
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        out.push_str(g);
    }
    Some(out)
}

/// The years a timestamp may have: anything else is a zeroed or overflowed clock, and
/// would become a `post_month=0000-01` or `10000-01` partition.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Parses Instagram's `2021-02-20T17:05:52+0000` and RFC 3339 forms to UTC. A leap second
/// (`23:59:60`) is read as the last microsecond before the next second, so it stays in
/// its own day and month; years outside `YEARS` are not timestamps.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, Timelike};
    let t = text.trim();
    let parsed = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(t))
        .ok()?
        .with_timezone(&Utc);
    // chrono keeps a leap second as nanoseconds >= 1e9, which count into the next second
    // (and month, at a month's end) once turned into microseconds.
    let dt = if parsed.nanosecond() >= 1_000_000_000 {
        parsed.with_nanosecond(999_999_000)?
    } else {
        parsed
    };
    YEARS.contains(&dt.year()).then_some(dt)
}

/// A calendar date: `2020-05-09`, or the date part of a timestamp (taken in UTC).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_timestamp(t).map(|dt| dt.date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display(s: &str) -> Result<Option<i64>, CountError> {
        parse_count(s, true)
    }

    #[test]
    fn display_strings_from_spec() {
        assert_eq!(display("1,234"), Ok(Some(1234)));
        assert_eq!(display("12.3k"), Ok(Some(12300)));
        assert_eq!(display("1.2M"), Ok(Some(1_200_000)));
        assert_eq!(display("1.15k"), Ok(Some(1150)));
        assert_eq!(display("2b"), Ok(Some(2_000_000_000)));
        assert_eq!(display(" 7 "), Ok(Some(7)));
        assert_eq!(display("1,234,567"), Ok(Some(1_234_567)));
    }

    #[test]
    fn rounding_is_half_up_and_exact() {
        assert_eq!(display("2.5"), Ok(Some(3)));
        assert_eq!(display("2.4999999999999999999"), Ok(Some(2)));
        assert_eq!(display("1.0005k"), Ok(Some(1001)));
        assert_eq!(parse_count("12.5", false), Ok(Some(13)));
        assert_eq!(parse_count("1e3", false), Ok(Some(1000)));
        assert_eq!(parse_count("0.4", false), Ok(Some(0)));
    }

    #[test]
    fn negatives_and_placeholders_are_null() {
        for s in [
            "-1",
            "-5",
            "",
            "  ",
            "-",
            "--",
            "—",
            "N/A",
            "na",
            "NULL",
            "None",
            "NaN",
            "undefined",
            "?",
        ] {
            assert_eq!(display(s), Ok(None), "{s:?}");
        }
        assert_eq!(parse_count("-1", false), Ok(None));
    }

    #[test]
    fn junk_is_an_error() {
        for s in [
            "abc", "12abc", "1,2", "1,2345", "k", "1.2.3", "0x10", "1 000",
        ] {
            assert_eq!(display(s), Err(CountError::NotNumeric), "{s:?}");
        }
        assert_eq!(display("99999999999999999999"), Err(CountError::OutOfRange));
        // Suffixes and commas are for display strings only, not JSON number literals.
        assert_eq!(parse_count("1k", false), Err(CountError::NotNumeric));
    }

    #[test]
    fn timestamps_and_dates() {
        let ts = parse_timestamp("2021-02-20T17:05:52+0000").unwrap();
        assert_eq!(ts.to_rfc3339(), "2021-02-20T17:05:52+00:00");
        let shifted = parse_timestamp("2021-02-20T23:30:00-0300").unwrap();
        assert_eq!(shifted.to_rfc3339(), "2021-02-21T02:30:00+00:00");
        assert!(parse_timestamp("2021-02-20T17:05:52Z").is_some());
        assert!(parse_timestamp("yesterday").is_none());
        assert_eq!(parse_date("2020-05-09").unwrap().to_string(), "2020-05-09");
        assert_eq!(
            parse_date("2020-05-09T23:00:00-0200").unwrap().to_string(),
            "2020-05-10"
        );
        assert!(parse_date("09/05/2020").is_none());
    }

    #[test]
    fn leap_seconds_stay_in_their_month() {
        let ts = parse_timestamp("2016-12-31T23:59:60+0000").unwrap();
        assert_eq!(ts.to_rfc3339(), "2016-12-31T23:59:59.999999+00:00");
        assert_eq!(ts.timestamp_micros() / 1_000_000, 1_483_228_799);
        let shifted = parse_timestamp("2017-01-01T02:59:60+03:00").unwrap();
        assert_eq!(shifted.to_rfc3339(), "2016-12-31T23:59:59.999999+00:00");
    }

    #[test]
    fn years_outside_1970_to_9999_are_not_timestamps() {
        for t in [
            "0000-01-01T00:00:00+0000",
            "1969-12-31T23:59:59+0000",
            "+10000-01-01T00:00:00+0000",
            "10000-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp(t), None, "{t}");
        }
        assert!(parse_timestamp("1970-01-01T00:00:00+0000").is_some());
        assert!(parse_timestamp("9999-12-31T23:59:59+0000").is_some());
    }
}
