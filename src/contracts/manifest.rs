//! `staging/_manifest/{posts,stats}.parquet`: what staging last saw of every source key.
//!
//! One row per JSON key in the lake: the listing's ETag, size and last-modified time (the
//! change detector), whether the file was staged or rejected (and why), and where its row
//! lives (`staged_key` within `staged_partition`), so that a vanished or changed key can
//! remove its row without scanning the table.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub source_key: String,
    /// As the listing reported it; None where a store lists no ETags.
    pub etag: Option<String>,
    pub size: u64,
    pub last_modified_us: i64,
    pub status: Status,
    pub reason: Option<String>,
    /// The staged row's key column value (post_id, or user_id for stats).
    pub staged_key: Option<String>,
    /// The staged row's partition directory, e.g. `post_month=2024-01`.
    pub staged_partition: Option<String>,
}

pub fn schema() -> Schema {
    use DataType::*;
    Schema::from_iter([
        Field::new("source_key".into(), String),
        Field::new("source_etag".into(), String),
        Field::new("size".into(), Int64),
        Field::new("last_modified".into(), utc_us()),
        Field::new("status".into(), String),
        Field::new("reason".into(), String),
        Field::new("staged_key".into(), String),
        Field::new("staged_partition".into(), String),
    ])
}

pub fn frame(entries: &[ManifestEntry]) -> Result<DataFrame> {
    let s = |f: fn(&ManifestEntry) -> Option<&str>| entries.iter().map(move |e| f(e));
    let columns = vec![
        str_col("source_key", s(|e| Some(&e.source_key))),
        str_col("source_etag", s(|e| e.etag.as_deref())),
        i64_col("size", entries.iter().map(|e| Some(e.size as i64))),
        utc_us_col(
            "last_modified",
            entries.iter().map(|e| Some(e.last_modified_us)),
        ),
        str_col("status", s(|e| Some(e.status.as_str()))),
        str_col("reason", s(|e| e.reason.as_deref())),
        str_col("staged_key", s(|e| e.staged_key.as_deref())),
        str_col("staged_partition", s(|e| e.staged_partition.as_deref())),
    ];
    Ok(DataFrame::new(entries.len(), columns)?)
}

pub fn entries(df: &DataFrame) -> Result<Vec<ManifestEntry>> {
    let col_str = |name: &str| -> Result<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
    let keys = col_str("source_key")?;
    let etags = col_str("source_etag")?;
    let sizes = df.column("size")?.i64()?.clone();
    let modified = df.column("last_modified")?.datetime()?.physical().clone();
    let status = col_str("status")?;
    let reasons = col_str("reason")?;
    let staged_keys = col_str("staged_key")?;
    let partitions = col_str("staged_partition")?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        out.push(ManifestEntry {
            source_key: keys.get(i).unwrap_or_default().to_string(),
            etag: etags.get(i).map(str::to_string),
            size: sizes.get(i).unwrap_or(-1) as u64,
            last_modified_us: modified.get(i).unwrap_or(0),
            status: if status.get(i) == Some("ok") {
                Status::Ok
            } else {
                Status::Rejected
            },
            reason: reasons.get(i).map(str::to_string),
            staged_key: staged_keys.get(i).map(str::to_string),
            staged_partition: partitions.get(i).map(str::to_string),
        });
    }
    Ok(out)
}
