//! The checks. Each takes the frames it needs and returns one `Check`; a frame that is
//! absent makes a `skip` (the partition checks report the absence itself).

use super::{Check, Severity};
use crate::warehouse::RowsAsOf;
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

const MEDIA_TYPES: [&str; 5] = [
    "IMAGE",
    "CAROUSEL_ALBUM",
    "VIDEO",
    "STORY_IMAGE",
    "STORY_VIDEO",
];

/// The partition exists and holds rows.
pub fn partition_non_empty(
    name: &str,
    severity: Severity,
    dir: &str,
    df: Option<&DataFrame>,
) -> Check {
    match df {
        None => Check::new(name, severity, true, format!("{dir}: no part-*.parquet")),
        Some(df) => Check::new(
            name,
            severity,
            df.height() == 0,
            format!("{dir}: {} rows", df.height()),
        ),
    }
}

/// `columns` are never null and identify a row.
pub fn keys_unique(name: &str, df: Option<&DataFrame>, columns: &[&str]) -> Result<Check> {
    let Some(df) = df else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let nulls: usize = columns
        .iter()
        .map(|c| df.column(c).map(|col| col.null_count()))
        .sum::<PolarsResult<usize>>()?;
    let keys: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
    let duplicated = df
        .clone()
        .lazy()
        .group_by(keys)
        .agg([len().alias("rows")])
        .filter(col("rows").gt(lit(1)))
        .collect()?;
    let example = first_value(&duplicated, columns[0]);
    Ok(Check::new(
        name,
        Severity::Error,
        nulls > 0 || duplicated.height() > 0,
        format!(
            "{} rows; {nulls} null keys, {} duplicated keys{example}",
            df.height(),
            duplicated.height()
        ),
    ))
}

/// No negative value in an Int64 column (nulls allowed: "not available").
pub fn non_negative(name: &str, df: Option<&DataFrame>, column: &str) -> Result<Check> {
    let Some(df) = df else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let negative = df
        .column(column)?
        .i64()?
        .iter()
        .flatten()
        .filter(|v| *v < 0)
        .count();
    Ok(Check::new(
        name,
        Severity::Error,
        negative > 0,
        format!("{negative} negative {column} values"),
    ))
}

/// Every history `followers` entry is ≥ 0.
pub fn history_followers_non_negative(name: &str, history: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = history else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let lists = df.column("followers")?.list()?;
    let mut negative = 0;
    for i in 0..lists.len() {
        if let Some(items) = lists.get_as_series(i) {
            negative += items.i64()?.iter().flatten().filter(|v| *v < 0).count();
        }
    }
    Ok(Check::new(
        name,
        Severity::Error,
        negative > 0,
        format!("{negative} negative followers entries"),
    ))
}

/// media_type is one of SPEC's five.
pub fn media_types_known(name: &str, posts: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = posts else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let unknown: Vec<&str> = df
        .column("media_type")?
        .str()?
        .iter()
        .filter(|t| !t.is_some_and(|t| MEDIA_TYPES.contains(&t)))
        .map(|t| t.unwrap_or("null"))
        .collect();
    let example = unknown
        .first()
        .map(|t| format!(", e.g. {t:?}"))
        .unwrap_or_default();
    Ok(Check::new(
        name,
        Severity::Error,
        !unknown.is_empty(),
        format!(
            "{} posts, {} with an unknown media_type{example}",
            df.height(),
            unknown.len()
        ),
    ))
}

/// followers, impressions and reach have one entry per `dates` entry.
pub fn history_lists_aligned(name: &str, history: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = history else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let lengths = |c: &str| -> Result<Vec<Option<usize>>> {
        let lists = df.column(c)?.list()?;
        Ok((0..lists.len())
            .map(|i| lists.get_as_series(i).map(|s| s.len()))
            .collect())
    };
    let dates = lengths("dates")?;
    let ids = df.column("id")?.str()?;
    let mut misaligned = Vec::new();
    for column in ["followers", "impressions", "reach"] {
        for (i, len) in lengths(column)?.into_iter().enumerate() {
            if len != dates[i] {
                misaligned.push(format!("{} ({column})", ids.get(i).unwrap_or("?")));
            }
        }
    }
    Ok(Check::new(
        name,
        Severity::Error,
        !misaligned.is_empty(),
        format!(
            "{} misaligned lists{}",
            misaligned.len(),
            example(&misaligned)
        ),
    ))
}

/// fol_avg lies between the smallest and largest non-null followers entry.
pub fn fol_avg_within_range(name: &str, history: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = history else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let (ids, averages, lists) = (
        df.column("id")?.str()?,
        df.column("fol_avg")?.f64()?,
        df.column("followers")?.list()?,
    );
    let mut outside = Vec::new();
    for i in 0..df.height() {
        let values: Vec<i64> = match lists.get_as_series(i) {
            Some(s) => s.i64()?.iter().flatten().collect(),
            None => Vec::new(),
        };
        let (min, max) = (values.iter().min(), values.iter().max());
        let ok = match (averages.get(i), min, max) {
            (None, None, None) => true,
            (Some(avg), Some(&lo), Some(&hi)) => avg >= lo as f64 - 1e-9 && avg <= hi as f64 + 1e-9,
            _ => false,
        };
        if !ok {
            outside.push(ids.get(i).unwrap_or("?").to_string());
        }
    }
    Ok(Check::new(
        name,
        Severity::Error,
        !outside.is_empty(),
        format!(
            "{} rows with fol_avg outside their followers' range{}",
            outside.len(),
            example(&outside)
        ),
    ))
}

/// doc_count = feed_count + story_count.
pub fn doc_count_adds_up(name: &str, aggregates: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = aggregates else {
        return Ok(Check::skip(name, Severity::Error, "table absent"));
    };
    let (docs, feed, stories) = (
        df.column("doc_count")?.i64()?,
        df.column("feed_count")?.i64()?,
        df.column("story_count")?.i64()?,
    );
    let users = df.column("user_id")?.str()?;
    let wrong: Vec<String> = (0..df.height())
        .filter(|&i| docs.get(i) != Some(feed.get(i).unwrap_or(0) + stories.get(i).unwrap_or(0)))
        .map(|i| users.get(i).unwrap_or("?").to_string())
        .collect();
    Ok(Check::new(
        name,
        Severity::Error,
        !wrong.is_empty(),
        format!(
            "{} users where doc_count ≠ feed_count + story_count{}",
            wrong.len(),
            example(&wrong)
        ),
    ))
}

/// Each palette's percentages sum to 1 ± 0.001, and each hex is its rgb.
pub fn palettes_consistent(name: &str, palettes: Option<&DataFrame>) -> Result<Check> {
    let Some(df) = palettes else {
        return Ok(Check::skip(
            name,
            Severity::Error,
            "no palette partition dated on or before the date",
        ));
    };
    let (users, lists) = (df.column("user_id")?.str()?, df.column("palette")?.list()?);
    let mut bad = Vec::new();
    for i in 0..df.height() {
        let user = users.get(i).unwrap_or("?");
        let Some(entries) = lists.get_as_series(i) else {
            bad.push(format!("{user} (no palette)"));
            continue;
        };
        let entries = entries.struct_()?;
        let field = |n: &str| entries.field_by_name(n);
        let (pct, red, green, blue, hex) = (
            field("percentage")?,
            field("red")?,
            field("green")?,
            field("blue")?,
            field("hex")?,
        );
        let sum: f64 = pct.f64()?.iter().flatten().sum();
        if (sum - 1.0).abs() > 0.001 {
            bad.push(format!("{user} (percentages sum to {sum:.4})"));
        }
        let (r, g, b, h) = (red.i64()?, green.i64()?, blue.i64()?, hex.str()?);
        for j in 0..entries.len() {
            let want = match (r.get(j), g.get(j), b.get(j)) {
                (Some(r), Some(g), Some(b)) if [r, g, b].iter().all(|c| (0..=255).contains(c)) => {
                    format!("#{r:02x}{g:02x}{b:02x}")
                }
                _ => "a colour in 0..=255".to_string(),
            };
            if h.get(j) != Some(want.as_str()) {
                bad.push(format!(
                    "{user} (hex {:?} for {want})",
                    h.get(j).unwrap_or("null")
                ));
            }
        }
    }
    Ok(Check::new(
        name,
        Severity::Error,
        !bad.is_empty(),
        format!(
            "{} palettes, {} problems{}",
            df.height(),
            bad.len(),
            example(&bad)
        ),
    ))
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

/// The newest staged stats date is D (a later one is a backfill, also fine).
pub fn stats_fresh(name: &str, newest: Option<NaiveDate>, date: NaiveDate) -> Check {
    match newest {
        None => Check::new(name, Severity::Error, true, "no staged stats at all".into()),
        Some(newest) if newest < date => Check::new(
            name,
            Severity::Error,
            true,
            format!(
                "newest staged stats date is {newest}, {} before {date}",
                days((date - newest).num_days())
            ),
        ),
        Some(newest) if newest > date => Check::new(
            name,
            Severity::Error,
            false,
            format!("newest staged stats date is {newest} (a backfill of {date})"),
        ),
        Some(newest) => Check::new(
            name,
            Severity::Error,
            false,
            format!("newest staged stats date is {newest}"),
        ),
    }
}

/// Of the step's input files last modified on D (from its manifest), the share rejected.
pub fn reject_ratio(
    name: &str,
    manifest: Option<&DataFrame>,
    date: NaiveDate,
    max_ratio: f64,
) -> Result<Check> {
    let Some(df) = manifest else {
        return Ok(Check::skip(
            name,
            Severity::Warn,
            "no manifest: the step has not run",
        ));
    };
    let from = crate::facts::midnight_us(date);
    let until = crate::facts::midnight_us(date + chrono::Days::new(1));
    let modified = df.column("last_modified")?.cast(&DataType::Int64)?;
    let (modified, status) = (modified.i64()?, df.column("status")?.str()?);
    let (mut files, mut rejected) = (0u64, 0u64);
    for (at, st) in modified.iter().zip(status.iter()) {
        if at.is_some_and(|at| at >= from && at < until) {
            files += 1;
            rejected += u64::from(st == Some("rejected"));
        }
    }
    let ratio = if files == 0 {
        0.0
    } else {
        rejected as f64 / files as f64
    };
    Ok(Check::new(
        name,
        Severity::Warn,
        ratio > max_ratio,
        format!(
            "{rejected} of {files} files modified on {date} rejected ({:.2}%, limit {:.2}%)",
            ratio * 100.0,
            max_ratio * 100.0
        ),
    ))
}

/// From the step's latest run on D in the run log: the share of the inputs it read that it
/// rejected (fetch-media: downloads that failed; color-palette: images that did not decode).
pub fn run_reject_ratio(
    name: &str,
    step: &str,
    latest: Option<&serde_json::Value>,
    max_ratio: f64,
) -> Check {
    let Some(run) = latest else {
        return Check::skip(
            name,
            Severity::Warn,
            &format!("{step} has not run for this date"),
        );
    };
    let count = |field: &str| run[field].as_u64().unwrap_or(0);
    let (read, rejected) = (count("files_read"), count("rejected"));
    let ratio = if read == 0 {
        0.0
    } else {
        rejected as f64 / read as f64
    };
    Check::new(
        name,
        Severity::Warn,
        ratio > max_ratio,
        format!(
            "{rejected} of {read} inputs rejected in run {} ({:.2}%, limit {:.2}%)",
            run["run_id"].as_str().unwrap_or("?"),
            ratio * 100.0,
            max_ratio * 100.0
        ),
    )
}

/// The warehouse holds the mart's rows for D: exactly as many rows with as_of = D, or,
/// after a backfill (rows with a later as_of exist, which an older date never
/// overwrites), at least as many rows dated D or later as the mart has.
pub fn warehouse_rows_match(
    name: &str,
    mart_rows: Option<usize>,
    warehouse: RowsAsOf,
    target: &str,
) -> Check {
    let Some(mart) = mart_rows else {
        return Check::skip(name, Severity::Error, "marts/history absent");
    };
    let mart = mart as i64;
    let RowsAsOf { on_date, newer } = warehouse;
    if newer == 0 {
        return Check::new(
            name,
            Severity::Error,
            on_date != mart,
            format!("{target}: {on_date} rows with as_of = the date; the mart has {mart}"),
        );
    }
    Check::new(
        name,
        Severity::Error,
        on_date + newer < mart,
        format!(
            "{target}: {on_date} rows with as_of = the date and {newer} newer (a backfill: \
             newer rows are kept); the mart has {mart}"
        ),
    )
}

fn example(offenders: &[String]) -> String {
    offenders
        .first()
        .map(|o| format!(", e.g. {o}"))
        .unwrap_or_default()
}

fn first_value(df: &DataFrame, column: &str) -> String {
    df.column(column)
        .ok()
        .and_then(|c| c.get(0).ok().map(|v| format!(", e.g. {v}")))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(check: &Check) -> bool {
        check.outcome == super::super::Outcome::Fail
    }

    #[test]
    fn media_types_outside_the_five_fail() {
        let posts = df!("media_type" => ["IMAGE", "REEL", "STORY_VIDEO"]).unwrap();
        let check = media_types_known("posts.media_type_known", Some(&posts)).unwrap();
        assert!(failed(&check), "{}", check.detail);
        assert!(check.detail.contains("REEL"), "{}", check.detail);
        let posts =
            df!("media_type" => ["IMAGE", "VIDEO", "CAROUSEL_ALBUM", "STORY_IMAGE", "STORY_VIDEO"])
                .unwrap();
        assert!(!failed(&media_types_known("m", Some(&posts)).unwrap()));
    }

    #[test]
    fn doc_count_must_be_feed_plus_stories() {
        let aggregates = df!(
            "user_id" => ["1", "2"],
            "doc_count" => [3i64, 5],
            "feed_count" => [2i64, 2],
            "story_count" => [1i64, 2]
        )
        .unwrap();
        let check =
            doc_count_adds_up("post_aggregates.doc_count_adds_up", Some(&aggregates)).unwrap();
        assert!(failed(&check), "{}", check.detail);
        assert!(check.detail.starts_with("1 users"), "{}", check.detail);
    }

    #[test]
    fn negative_followers_fail() {
        let stats = df!("followers_count" => [Some(10i64), None, Some(-1)]).unwrap();
        assert!(failed(
            &non_negative("s", Some(&stats), "followers_count").unwrap()
        ));
        let stats = df!("followers_count" => [Some(10i64), None]).unwrap();
        assert!(!failed(
            &non_negative("s", Some(&stats), "followers_count").unwrap()
        ));
    }

    #[test]
    fn stale_stats_fail_and_a_backfill_passes() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let stale = stats_fresh("f", Some(d("2024-05-04")), d("2024-05-06"));
        assert!(failed(&stale));
        assert!(stale.detail.contains("2 days before"), "{}", stale.detail);
        assert!(!failed(&stats_fresh(
            "f",
            Some(d("2024-05-09")),
            d("2024-05-06")
        )));
        assert!(failed(&stats_fresh("f", None, d("2024-05-06"))));
    }

    #[test]
    fn warehouse_rows_must_match_unless_newer_rows_superseded_them() {
        let rows = |on_date, newer| RowsAsOf { on_date, newer };
        let check = |r| warehouse_rows_match("w", Some(8), r, "pg");
        assert!(!failed(&check(rows(8, 0))));
        assert!(failed(&check(rows(7, 0))), "a row lost");
        assert!(failed(&check(rows(9, 0))), "a row too many");
        // A backfill of an older date: its rows were kept out by newer ones.
        assert!(!failed(&check(rows(0, 8))));
        assert!(!failed(&check(rows(2, 7))));
        assert!(
            failed(&check(rows(0, 7))),
            "fewer rows dated D or later than the mart"
        );
        assert_eq!(
            warehouse_rows_match("w", None, rows(0, 0), "pg").outcome,
            super::super::Outcome::Skip
        );
    }
}
