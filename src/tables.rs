//! Whole partitions of igpipe's tables, read and written through the lake (SPEC §2, §5).
//!
//! A partition is a folder `<table>/<column>=<value>/`. Unsharded steps write one
//! `part-0.parquet`; sharded steps write `part-<I>-of-<N>.parquet`. Readers take every
//! `part-*.parquet` of a partition, and nothing else (a `_SUCCESS` or an editor's backup
//! never becomes rows).

use crate::contracts::{
    from_parquet_bytes, from_parquet_bytes_projected, to_parquet_bytes, PART_FILE,
};
use crate::lake::Lake;
use anyhow::{Context, Result};
use polars::prelude::*;

/// `<table>/<column>=<value>`
pub fn partition_dir(table: &str, column: &str, value: &str) -> String {
    format!("{table}/{column}={value}")
}

/// The values of a table's partitions (`date=2024-05-01` → `2024-05-01`), sorted. Folders
/// that are not `<column>=…` are left out.
pub fn partition_values(lake: &Lake, table: &str, column: &str) -> Result<Vec<String>> {
    let (_, folders) = lake.list_dir(table)?;
    let head = format!("{column}=");
    Ok(folders
        .iter()
        .filter_map(|f| f.strip_prefix(&head).map(str::to_string))
        .collect())
}

/// Whether a file name is one of a partition's data files.
pub fn is_part_file(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

/// The keys of a partition's data files, sorted.
pub fn part_keys(lake: &Lake, dir: &str) -> Result<Vec<String>> {
    let (objects, _) = lake.list_dir(dir)?;
    Ok(objects
        .into_iter()
        .filter(|o| is_part_file(o.key.rsplit('/').next().unwrap_or_default()))
        .map(|o| o.key)
        .collect())
}

/// Reads every data file of the partition `dir`, checks each against `schema` and stacks
/// them; `None` when the partition has no data file.
pub fn read_partition(lake: &Lake, dir: &str, schema: &Schema) -> Result<Option<DataFrame>> {
    let keys = part_keys(lake, dir)?;
    read_files(lake, &keys, schema)
}

/// Reads and stacks the Parquet objects `keys` (concurrently); `None` for no keys.
pub fn read_files(lake: &Lake, keys: &[String], schema: &Schema) -> Result<Option<DataFrame>> {
    read_files_with(lake, keys, |bytes, key| {
        from_parquet_bytes(bytes, schema, key)
    })
}

/// `read_files` of only `columns` (in the schema's order).
pub fn read_columns(
    lake: &Lake,
    keys: &[String],
    schema: &Schema,
    columns: &[&str],
) -> Result<Option<DataFrame>> {
    read_files_with(lake, keys, |bytes, key| {
        from_parquet_bytes_projected(bytes, schema, columns, key)
    })
}

fn read_files_with(
    lake: &Lake,
    keys: &[String],
    decode: impl Fn(&[u8], &str) -> Result<DataFrame>,
) -> Result<Option<DataFrame>> {
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    // The bytes are copied out and decoded after the reads: decoding inside the reader's
    // handler would run Polars' thread pool from the reader pool's threads, which may then
    // pick up another read and re-enter the thread's lent buffer.
    let fetched = lake.read_each(&refs, |i, read| match read? {
        Some(bytes) => Ok(bytes.to_vec()),
        None => anyhow::bail!(
            "{}: vanished while being read (re-run the step)",
            lake.describe(&keys[i])
        ),
    });
    let frames = fetched
        .into_iter()
        .zip(keys)
        .map(|(bytes, key)| decode(&bytes?, &lake.describe(key)));
    let mut stacked: Option<DataFrame> = None;
    for frame in frames {
        let frame = frame?;
        stacked = Some(match stacked {
            None => frame,
            Some(mut acc) => {
                acc.vstack_mut_owned(frame)?;
                acc
            }
        });
    }
    Ok(stacked.map(|mut df| {
        df.rechunk_mut();
        df
    }))
}

/// Writes `df` as the partition's single file, in one atomic put, and returns its key.
pub fn write_partition(lake: &Lake, dir: &str, df: &mut DataFrame) -> Result<String> {
    write_part(lake, dir, PART_FILE, df)
}

/// Writes `df` as the partition's file `file` (a shard's `part-<I>-of-<N>.parquet`).
pub fn write_part(lake: &Lake, dir: &str, file: &str, df: &mut DataFrame) -> Result<String> {
    let key = format!("{dir}/{file}");
    let bytes = to_parquet_bytes(df).with_context(|| lake.describe(&key))?;
    lake.put(&key, bytes)?;
    Ok(key)
}

/// Writes a run's rejects log, `staging/rejects/date=D/<step>-<run_id>.parquet`, in one put
/// (the steps write it before their outputs, so a run that dies later keeps it), and returns
/// its key.
pub fn write_rejects(
    lake: &Lake,
    date: chrono::NaiveDate,
    step: &str,
    run_id: &str,
    rows: &[crate::contracts::rejects::RejectRow],
) -> Result<String> {
    use crate::contracts::rejects;
    let key = rejects::object_key(&date.to_string(), step, run_id);
    let mut df = rejects::frame(step, rows)?;
    let bytes = to_parquet_bytes(&mut df).with_context(|| lake.describe(&key))?;
    lake.put(&key, bytes)?;
    Ok(key)
}
