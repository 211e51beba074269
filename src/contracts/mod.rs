//! The tables of SPEC §2 and §5: where each lives, its columns and types, and how a set of
//! records becomes a Polars frame and Parquet bytes (and back).
//!
//! One file per table. Writers build frames in exactly the documented column order, and
//! readers check what they read against the same schema, so a drifted file is named in an
//! error instead of silently mis-merged.

pub mod history;
pub mod manifest;
pub mod palettes;
pub mod post_aggregates;
pub mod posts;
pub mod rejects;
pub mod user_stats;

use anyhow::{bail, Context as _, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::io::Cursor;

/// The name of a partition's single file (SPEC §5 "Types and layout").
pub const PART_FILE: &str = "part-0.parquet";

pub(crate) fn str_col<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    let ca: StringChunked = values.collect();
    ca.with_name(name.into()).into_column()
}

pub(crate) fn i64_col(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    let ca: Int64Chunked = values.collect();
    ca.with_name(name.into()).into_column()
}

/// Datetime(µs, UTC) from microseconds since the epoch.
pub(crate) fn utc_us_col(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    let ca: Int64Chunked = values.collect();
    ca.with_name(name.into())
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

pub(crate) fn date_col(name: &str, values: impl Iterator<Item = Option<NaiveDate>>) -> Column {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let ca: Int32Chunked = values
        .map(|d| d.map(|d| (d - epoch).num_days() as i32))
        .collect();
    ca.with_name(name.into()).into_date().into_column()
}

pub(crate) fn str_list_col<'a>(
    name: &str,
    rows: impl ExactSizeIterator<Item = &'a [String]>,
) -> Column {
    let mut builder = ListStringChunkedBuilder::new(name.into(), rows.len(), rows.len() * 2);
    for tags in rows {
        builder.append_values_iter(tags.iter().map(String::as_str));
    }
    builder.finish().into_column()
}

pub(crate) fn utc_us() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// A list<struct> column built flat: `fields` hold every row's items one after another
/// (`total` of them), `lengths` each row's item count (None: a null list). One struct
/// array plus offsets, rather than a Series per row, which would dominate a large frame.
pub(crate) fn list_of_structs(
    name: &str,
    fields: &[Series],
    total: usize,
    lengths: &[Option<usize>],
    item: DataType,
) -> Result<Column> {
    use polars_arrow::array::ListArray;
    use polars_arrow::offset::OffsetsBuffer;
    let values = StructChunked::from_series("item".into(), total, fields.iter())?
        .into_series()
        .rechunk()
        .to_arrow(0, CompatLevel::newest());
    let mut offsets = Vec::with_capacity(lengths.len() + 1);
    offsets.push(0i64);
    for len in lengths {
        offsets.push(offsets.last().copied().unwrap_or(0) + len.unwrap_or(0) as i64);
    }
    let validity = lengths.iter().map(Option::is_some).collect();
    let dtype = ListArray::<i64>::default_datatype(values.dtype().clone());
    let list = ListArray::<i64>::try_new(
        dtype,
        OffsetsBuffer::try_from(offsets)?,
        values,
        Some(validity),
    )?;
    let series = Series::from_arrow(name.into(), Box::new(list))?;
    Ok(series.cast(&DataType::List(Box::new(item)))?.into_column())
}

/// Encodes a frame as zstd Parquet, ready for one atomic put.
pub fn to_parquet_bytes(df: &mut DataFrame) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .finish(df)
        .map_err(anyhow::Error::from)
        .context("encoding Parquet")?;
    Ok(buf)
}

/// Decodes a Parquet object and checks it against `expected`; `what` names the object.
pub fn from_parquet_bytes(bytes: &[u8], expected: &Schema, what: &str) -> Result<DataFrame> {
    let df = ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{what}: not a readable Parquet file"))?;
    check_schema(&df, expected, what)?;
    Ok(df)
}

/// Like `from_parquet_bytes`, reading only `columns` (which must be in `expected`, in its
/// order): a step that needs three columns of a wide table does not decode the rest.
pub fn from_parquet_bytes_projected(
    bytes: &[u8],
    expected: &Schema,
    columns: &[&str],
    what: &str,
) -> Result<DataFrame> {
    let wanted: Schema = expected
        .iter()
        .filter(|(name, _)| columns.contains(&name.as_str()))
        .map(|(name, dtype)| Field::new(name.clone(), dtype.clone()))
        .collect();
    let df = ParquetReader::new(Cursor::new(bytes))
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!("{what}: not a readable Parquet file with the columns {columns:?}")
        })?;
    check_schema(&df, &wanted, what)?;
    Ok(df)
}

fn check_schema(df: &DataFrame, expected: &Schema, what: &str) -> Result<()> {
    let found = df.schema();
    if found.len() != expected.len() {
        bail!(
            "{what}: has {} columns, the contract has {} ({:?})",
            found.len(),
            expected.len(),
            expected.iter_names().collect::<Vec<_>>()
        );
    }
    for ((name, dtype), (want_name, want_dtype)) in found.iter().zip(expected.iter()) {
        if name != want_name || dtype != want_dtype {
            bail!("{what}: column `{name}` ({dtype}) where the contract has `{want_name}` ({want_dtype})");
        }
    }
    Ok(())
}
