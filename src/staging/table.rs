//! The staged table's partitions: which exist, which the manifest points at but are gone or
//! are not Parquet any more (a hand deletion, a truncated copy), and rewriting one.

use super::Source;
use crate::contracts::manifest::ManifestEntry;
use crate::contracts::{from_parquet_bytes, to_parquet_bytes, PART_FILE};
use crate::lake::Lake;
use anyhow::{Context, Result};
use polars::prelude::*;
use std::collections::BTreeSet;
use std::time::Instant;
use tracing::warn;

/// The table as the run found it.
#[derive(Debug, Default)]
pub struct TableState {
    /// Partition directories (`post_month=2024-01`) that hold a `part-0.parquet`.
    pub partitions: BTreeSet<String>,
    /// Partitions the manifest points at that are missing or do not end in Parquet's
    /// footer: their rows are lost, so every key pointing there is read again.
    pub damaged: BTreeSet<String>,
    /// Partitions an earlier run announced it was rewriting and never committed (also in
    /// `damaged`); empty when this run rebuilds everything anyway.
    pub pending: BTreeSet<String>,
}

pub fn part_key<S: Source>(partition: &str) -> String {
    format!("{}/{partition}/{PART_FILE}", S::TABLE_PREFIX)
}

/// Lists the table, checks the end of every partition the manifest points at (one small
/// ranged read each, concurrently), and takes in what an uncommitted run left pending.
pub fn survey<S: Source>(
    output: &Lake,
    manifest: &[ManifestEntry],
    rebuild: bool,
) -> Result<TableState> {
    let head = format!("{}/", S::TABLE_PREFIX);
    let partitions: BTreeSet<String> = output
        .list_tree(S::TABLE_PREFIX)?
        .objects
        .into_iter()
        .filter_map(|o| {
            let dir = o
                .key
                .strip_prefix(&head)?
                .strip_suffix(&format!("/{PART_FILE}"))?;
            (!dir.contains('/')).then(|| dir.to_string())
        })
        .collect();
    let referenced: BTreeSet<&str> = manifest
        .iter()
        .filter_map(|e| e.staged_partition.as_deref())
        .collect();
    let mut damaged: BTreeSet<String> = referenced
        .iter()
        .filter(|p| !partitions.contains(**p))
        .map(|p| p.to_string())
        .collect();
    for p in &damaged {
        warn!(partition = %output.describe(&part_key::<S>(p)), "A partition the manifest points at is missing; restaging its files.");
    }
    let present: Vec<String> = referenced
        .iter()
        .filter(|p| partitions.contains(**p))
        .map(|p| part_key::<S>(p))
        .collect();
    for (key, tail) in present.iter().zip(output.tails(&present, 4)) {
        if tail?.as_deref() != Some(b"PAR1".as_slice()) {
            warn!(partition = %output.describe(key), "A partition is not a whole Parquet file; restaging its files.");
            let dir = key
                .strip_prefix(&head)
                .and_then(|k| k.strip_suffix(&format!("/{PART_FILE}")));
            damaged.extend(dir.map(str::to_string));
        }
    }
    // A rebuild rewrites every partition anyway (and its announcement replaces the file,
    // which may be the very thing that is broken).
    let pending = if rebuild {
        BTreeSet::new()
    } else {
        load_pending::<S>(output)?
    };
    for p in &pending {
        if damaged.insert(p.clone()) {
            warn!(partition = %p, "An earlier run was stopped after rewriting this partition and before its manifest; rebuilding it.");
        }
    }
    Ok(TableState {
        partitions,
        damaged,
        pending,
    })
}

/// `staging/_manifest/<table>.pending.json`: the partitions a run is rewriting, written
/// before the first partition and deleted after the manifest.
pub fn pending_key<S: Source>() -> String {
    let stem = S::MANIFEST_KEY
        .strip_suffix(".parquet")
        .unwrap_or(S::MANIFEST_KEY);
    format!("{stem}.pending.json")
}

/// The partitions an earlier run announced and did not commit (none when it committed).
fn load_pending<S: Source>(output: &Lake) -> Result<BTreeSet<String>> {
    let key = pending_key::<S>();
    match output.get_opt(&key)? {
        None => Ok(BTreeSet::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a list of partitions ({e}); re-run with --full-refresh",
                output.describe(&key)
            )
        }),
    }
}

/// What goes into one partition's new file.
pub struct PartitionEdit<'a> {
    /// Key values whose old rows go.
    pub remove: Option<&'a PlHashSet<&'a str>>,
    /// This run's rows for the partition.
    pub new_frames: Vec<DataFrame>,
    /// Source keys whose rows lost to another file of the same identity.
    pub losers: &'a PlHashSet<&'a str>,
    /// Start from nothing instead of the existing file (a rebuild, a damaged partition).
    pub fresh: bool,
}

/// Rewrites one partition: existing rows minus `remove`, plus this run's rows (minus
/// losers), sorted by key. Returns its row count; an emptied partition's file is deleted.
pub fn rewrite_partition<S: Source>(
    output: &Lake,
    partition: &str,
    edit: PartitionEdit,
) -> Result<usize> {
    let key = part_key::<S>(partition);
    let schema = S::table_schema();
    let mut combined = DataFrame::empty_with_schema(&schema);
    if !edit.fresh {
        if let Some(bytes) = output.get_opt(&key)? {
            let existing = from_parquet_bytes(&bytes, &schema, &output.describe(&key))
                .context("re-run with --full-refresh to rebuild the table from the lake")?;
            let remove = edit.remove;
            combined = existing.filter(&mask(&existing, S::KEY_COLUMN, |k| {
                !remove.is_some_and(|r| r.contains(k))
            })?)?;
        }
    }
    for frame in edit.new_frames {
        if edit.losers.is_empty() {
            combined.vstack_mut_owned(frame)?;
        } else {
            let keep = mask(&frame, "source_key", |k| !edit.losers.contains(k))?;
            combined.vstack_mut_owned(frame.filter(&keep)?)?;
        }
    }
    let rows = combined.height();
    if rows == 0 {
        output.delete(&key)?;
        return Ok(0);
    }
    let started = Instant::now();
    let mut sorted = sort_in_place_by_column(combined, S::KEY_COLUMN)?;
    let sort_seconds = started.elapsed().as_secs_f64();
    let bytes = to_parquet_bytes(&mut sorted).with_context(|| output.describe(&key))?;
    drop(sorted);
    let encode_seconds = started.elapsed().as_secs_f64() - sort_seconds;
    output.put(&key, bytes)?;
    tracing::debug!(rows, sort_seconds, encode_seconds, path = %output.describe(&key), "Wrote partition.");
    Ok(rows)
}

/// Sorts by `key`, gathering two columns at a time (one per core) and dropping the
/// unsorted ones, so the extra memory is two columns, not a second copy of the frame as
/// `DataFrame::sort` needs.
fn sort_in_place_by_column(mut df: DataFrame, key: &str) -> Result<DataFrame> {
    use rayon::prelude::*;
    let order = df
        .column(key)?
        .as_materialized_series()
        .arg_sort(SortOptions::default());
    let names: Vec<PlSmallStr> = df.get_column_names_owned();
    for pair in names.chunks(2) {
        let unsorted = pair
            .iter()
            .map(|name| df.drop_in_place(name))
            .collect::<PolarsResult<Vec<Column>>>()?;
        let sorted = unsorted
            .into_par_iter()
            .map(|c| c.take(&order))
            .collect::<PolarsResult<Vec<Column>>>()?;
        for column in sorted {
            df.with_column(column)?;
        }
    }
    Ok(df)
}

fn mask(df: &DataFrame, column: &str, keep: impl Fn(&str) -> bool) -> Result<BooleanChunked> {
    let values = df.column(column)?.str()?;
    Ok(values.iter().map(|v| v.is_none_or(&keep)).collect())
}
