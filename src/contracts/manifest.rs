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

/// A manifest row to write, borrowing from wherever its values live (the old manifest, the
/// listing, this run's reads), so writing 1.25M rows copies no strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManifestRow<'a> {
    pub source_key: &'a str,
    pub etag: Option<&'a str>,
    pub size: u64,
    pub last_modified_us: i64,
    pub status: Status,
    pub reason: Option<&'a str>,
    pub staged_key: Option<&'a str>,
    pub staged_partition: Option<&'a str>,
}

impl ManifestEntry {
    pub fn as_row(&self) -> ManifestRow<'_> {
        ManifestRow {
            source_key: &self.source_key,
            etag: self.etag.as_deref(),
            size: self.size,
            last_modified_us: self.last_modified_us,
            status: self.status,
            reason: self.reason.as_deref(),
            staged_key: self.staged_key.as_deref(),
            staged_partition: self.staged_partition.as_deref(),
        }
    }
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

pub fn frame<'a>(rows: &[ManifestRow<'a>]) -> Result<DataFrame> {
    let s = |f: fn(&ManifestRow<'a>) -> Option<&'a str>| rows.iter().map(f);
    let columns = vec![
        str_col("source_key", s(|r| Some(r.source_key))),
        str_col("source_etag", s(|r| r.etag)),
        i64_col("size", rows.iter().map(|r| Some(r.size as i64))),
        utc_us_col(
            "last_modified",
            rows.iter().map(|r| Some(r.last_modified_us)),
        ),
        str_col("status", s(|r| Some(r.status.as_str()))),
        str_col("reason", s(|r| r.reason)),
        str_col("staged_key", s(|r| r.staged_key)),
        str_col("staged_partition", s(|r| r.staged_partition)),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
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
