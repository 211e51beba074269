//! `staging/rejects/date=D/<step>-<run>.parquet`: the append-only log of bad inputs.
//!
//! Each run of a step writes its own file, so steps never race on it; the manifest, not this
//! log, says which keys are rejected now.

use super::*;

pub const TABLE_PREFIX: &str = "staging/rejects";

#[derive(Debug, Clone, PartialEq)]
pub struct RejectRow {
    pub source_key: String,
    pub source_etag: Option<String>,
    pub size: u64,
    pub last_modified_us: i64,
    pub reason: String,
}

pub fn schema() -> Schema {
    use DataType::*;
    Schema::from_iter([
        Field::new("step".into(), String),
        Field::new("source_key".into(), String),
        Field::new("source_etag".into(), String),
        Field::new("size".into(), Int64),
        Field::new("last_modified".into(), utc_us()),
        Field::new("reason".into(), String),
    ])
}

pub fn frame(step: &str, rows: &[RejectRow]) -> Result<DataFrame> {
    let columns = vec![
        str_col("step", rows.iter().map(|_| Some(step))),
        str_col(
            "source_key",
            rows.iter().map(|r| Some(r.source_key.as_str())),
        ),
        str_col("source_etag", rows.iter().map(|r| r.source_etag.as_deref())),
        i64_col("size", rows.iter().map(|r| Some(r.size as i64))),
        utc_us_col(
            "last_modified",
            rows.iter().map(|r| Some(r.last_modified_us)),
        ),
        str_col("reason", rows.iter().map(|r| Some(r.reason.as_str()))),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// `staging/rejects/date=D/<step>-<run_id>.parquet`
pub fn object_key(date: &str, step: &str, run_id: &str) -> String {
    format!("{TABLE_PREFIX}/date={date}/{step}-{run_id}.parquet")
}
