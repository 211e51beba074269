//! Incremental staging: raw JSON keys → Hive-partitioned Parquet, touching only what changed
//! (SPEC §2 "Incremental staging"). Shared by `stage-posts` and `stage-stats`.
//!
//! One run:
//! 1. **list** the input prefix once (in parallel over user folders);
//! 2. **diff** against the manifest: a key is read when it is new or its ETag (or, where the
//!    listing has none, its last-modified time) or size changed; keys gone from the lake are
//!    "vanished", and more than `--max-delete-ratio` of them stops the run before any write;
//! 3. **read and normalise** the changed keys, in batches, straight into Polars frames;
//! 4. **pick winners**: one row per identity (post_id; user and date for stats), newest
//!    last-modified first, then the greater key;
//! 5. **rewrite** only the partitions that gained, lost or moved a row, each in one put;
//! 6. write the **manifest** last (a crash before it only causes re-work), then the
//!    **rejects** log for this run.
//!
//! A run that finds nothing changed reads no JSON and writes nothing.
//!
//! The bookkeeping borrows keys from the listing and the old manifest instead of copying
//! them: a full load of 1.25M files must stay well under 2 GiB.

use crate::contracts::manifest::{self, ManifestEntry, ManifestRow, Status as EntryStatus};
use crate::contracts::rejects::RejectRow;
use crate::contracts::{from_parquet_bytes, to_parquet_bytes, PART_FILE};
use crate::lake::{Lake, LakeObject};
use crate::report::{RunReport, Status};
use crate::tables;
use crate::telemetry::{rss_mib, Progress};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tracing::{info, warn};

/// How many files are read and normalised before their rows are packed into frames; bounds
/// the memory held as Rust structs during a full load.
const READ_BATCH: usize = 131_072;

/// What distinguishes posts from stats: where they live and how one file becomes a row.
pub trait Source: Sync {
    type Record: Send + Sync;
    /// Step name, as in the summary and the rejects log.
    const STEP: &'static str;
    /// Input folder under the lake root.
    const LAKE_PREFIX: &'static str;
    /// Output table folder under the output root.
    const TABLE_PREFIX: &'static str;
    const PARTITION_COLUMN: &'static str;
    /// The column that identifies a row within a partition.
    const KEY_COLUMN: &'static str;
    /// Whether a key value identifies a row only within its partition (stats: a user has
    /// a row per date) or across the whole table (posts: one row per post_id, whatever
    /// its month).
    const KEY_IS_PER_PARTITION: bool;
    const MANIFEST_KEY: &'static str;

    fn table_schema() -> Schema;
    /// Checks the key's layout and normalises the file; `Err` is the reject reason.
    fn parse(object: &LakeObject, bytes: &[u8]) -> Result<Self::Record, String>;
    fn key_value(record: &Self::Record) -> &str;
    fn partition_value(record: &Self::Record) -> String;
    fn frame(records: &[&Self::Record]) -> Result<DataFrame>;
    /// Whether the lake holds this run's input at all (for `--skip-if-missing`).
    fn input_present(json_objects: &[&LakeObject], date: NaiveDate) -> bool;
}

/// What "the same row" means: (partition directory or "", key value).
type Identity<'a> = (&'a str, &'a str);

fn identity<'a, S: Source>(partition: &'a str, key_value: &'a str) -> Identity<'a> {
    (
        if S::KEY_IS_PER_PARTITION {
            partition
        } else {
            ""
        },
        key_value,
    )
}

fn old_identity<'a, S: Source>(entry: &'a ManifestEntry) -> Option<Identity<'a>> {
    match (&entry.staged_partition, &entry.staged_key) {
        (Some(p), Some(k)) => Some(identity::<S>(p, k)),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct StageOptions {
    pub date: NaiveDate,
    pub run_id: String,
    pub max_delete_ratio: f64,
    pub max_reject_ratio: f64,
    pub skip_if_missing: bool,
    pub progress: bool,
}

/// A freshly read, valid file: enough to pick winners without touching its row's data.
struct Parsed<'a> {
    object: &'a LakeObject,
    key_value: String,
    /// The partition directory, e.g. `post_month=2024-01` (shared, not one copy per row).
    partition: Arc<str>,
}

/// Newest last-modified wins, then the greater key (SPEC §5).
fn rank<'a>(p: &Parsed<'a>) -> (i64, &'a str) {
    (p.object.last_modified_us, p.object.key.as_str())
}

/// The files read this run; good rows are packed into frames as they are read.
#[derive(Default)]
struct ReadResult<'a> {
    parsed: Vec<Parsed<'a>>,
    /// Frames of new rows by partition directory.
    frames: PlHashMap<Arc<str>, Vec<DataFrame>>,
    rejects: Vec<RejectRow>,
    /// Keys read (parsed or rejected); keys deleted since the listing are in neither.
    seen: usize,
}

impl<'a> ReadResult<'a> {
    fn absorb(&mut self, other: ReadResult<'a>) {
        self.parsed.extend(other.parsed);
        for (partition, frames) in other.frames {
            self.frames.entry(partition).or_default().extend(frames);
        }
        self.rejects.extend(other.rejects);
        self.seen += other.seen;
    }
}

pub fn run<S: Source>(input: &Lake, output: &Lake, opts: &StageOptions) -> Result<RunReport> {
    let started = Instant::now();
    let mut report = RunReport::new(S::STEP, opts.date.to_string(), opts.run_id.clone());

    // 1. List.
    let listing = input.list_tree(S::LAKE_PREFIX)?;
    report.files_listed = listing.len() as u64;
    let json: Vec<&LakeObject> = listing
        .iter()
        .filter(|o| o.key.ends_with(".json"))
        .collect();
    report.files_ignored = (listing.len() - json.len()) as u64;
    info!(listed = listing.len(), json = json.len(), prefix = %input.describe(S::LAKE_PREFIX), "Listed the lake.");
    tracing::debug!(rss_mib = rss_mib(), "Memory after listing.");
    if !S::input_present(&json, opts.date) {
        if opts.skip_if_missing {
            warn!(date = %opts.date, "No input for this date; skipping (exit 99).");
            report.status = Status::Skipped;
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        warn!(date = %opts.date, prefix = %input.describe(S::LAKE_PREFIX), "No input for this date; staging whatever else changed.");
    }

    // 2. Diff against the manifest.
    let old_manifest = load_manifest(output, S::MANIFEST_KEY)?;
    let manifest_index: PlHashMap<&str, &ManifestEntry> = old_manifest
        .iter()
        .map(|e| (e.source_key.as_str(), e))
        .collect();
    let diff = diff(&json, &old_manifest, &manifest_index);
    report.files_unchanged = diff.unchanged as u64;
    report.files_vanished = diff.vanished.len() as u64;
    if !old_manifest.is_empty() {
        let ratio = diff.vanished.len() as f64 / old_manifest.len() as f64;
        if ratio > opts.max_delete_ratio {
            bail!(
                "{} of {} keys in {} vanished from {} ({:.1}%, more than --max-delete-ratio {}): \
                 refusing to delete their rows; nothing was changed. If the deletion is real, \
                 re-run with a higher --max-delete-ratio.",
                diff.vanished.len(),
                old_manifest.len(),
                output.describe(S::MANIFEST_KEY),
                input.describe(S::LAKE_PREFIX),
                ratio * 100.0,
                opts.max_delete_ratio
            );
        }
    }
    if diff.to_read.is_empty() && diff.vanished.is_empty() {
        info!(
            unchanged = diff.unchanged,
            "Nothing changed since the last run."
        );
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let vanished: Vec<&ManifestEntry> = diff.vanished.iter().map(|&i| &old_manifest[i]).collect();

    // 3. Read and normalise what changed.
    let to_read: Vec<&LakeObject> = diff.to_read.iter().map(|&i| json[i]).collect();
    let mut read = read_batches::<S>(input, &to_read, opts.progress)?;

    // Unchanged keys that share an identity with a touched one compete again for its row,
    // so the winner is always chosen among all candidates.
    // (A first load has no manifest, so no rivals: skip the bookkeeping.)
    let rivals: Vec<&LakeObject> = if old_manifest.is_empty() {
        Vec::new()
    } else {
        let touched = touched_identities::<S>(&read, &vanished, &manifest_index);
        let mut reading = vec![false; json.len()];
        for &i in &diff.to_read {
            reading[i] = true;
        }
        json.iter()
            .zip(reading)
            .filter(|(_, read_now)| !read_now)
            .filter_map(|(obj, _)| manifest_index.get(obj.key.as_str()).map(|e| (*obj, *e)))
            .filter(|(_, e)| e.status == EntryStatus::Ok)
            .filter(|(_, e)| old_identity::<S>(e).is_some_and(|id| touched.contains(&id)))
            .map(|(obj, _)| obj)
            .collect()
    };
    if !rivals.is_empty() {
        info!(
            count = rivals.len(),
            "Re-reading unchanged files that share a key with changed ones."
        );
        read.absorb(read_batches::<S>(input, &rivals, false)?);
    }
    report.files_read = read.seen as u64;
    tracing::debug!(
        rss_mib = rss_mib(),
        frames_mib = read
            .frames
            .values()
            .flatten()
            .map(|f| f.estimated_size())
            .sum::<usize>()
            >> 20,
        "Memory after reading."
    );
    report.rejected = read.rejects.len() as u64;
    let mut frames = std::mem::take(&mut read.frames);

    // 4. Winners, and the rows to remove from each partition.
    let touched = touched_identities::<S>(&read, &vanished, &manifest_index);
    let mut winner: PlHashMap<Identity, &Parsed> =
        PlHashMap::with_capacity_and_hasher(read.parsed.len(), Default::default());
    for p in &read.parsed {
        let slot = winner
            .entry(identity::<S>(&p.partition, &p.key_value))
            .or_insert(p);
        if rank(p) > rank(slot) {
            *slot = p;
        }
    }
    let losers: PlHashSet<&str> = read
        .parsed
        .iter()
        .filter(|p| !std::ptr::eq(winner[&identity::<S>(&p.partition, &p.key_value)], *p))
        .map(|p| p.object.key.as_str())
        .collect();
    let mut removals: BTreeMap<&str, PlHashSet<&str>> = BTreeMap::new();
    for entry in &old_manifest {
        if let (Some(id), Some(partition), Some(key)) = (
            old_identity::<S>(entry),
            &entry.staged_partition,
            &entry.staged_key,
        ) {
            if touched.contains(&id) {
                removals
                    .entry(partition.as_str())
                    .or_default()
                    .insert(key.as_str());
            }
        }
    }
    // Also clear the winners' own keys where they land, so a re-run after a crash between
    // the partition writes and the manifest write cannot leave a row twice.
    for w in winner.values() {
        removals
            .entry(&*w.partition)
            .or_default()
            .insert(w.key_value.as_str());
    }
    report.rows_upserted = winner.len() as u64;
    // Touched identities with no winner left: their rows go.
    report.rows_deleted = touched
        .iter()
        .filter(|id| !winner.contains_key(*id))
        .count() as u64;

    // 5. Rewrite the affected partitions, each in one atomic put. One at a time, each
    // taking its new rows along and freeing them when written: a full load holds the whole
    // table in memory once, never twice (Polars' sort and the Parquet encoder already use
    // both cores).
    for (partition, remove) in &removals {
        let new_frames = frames.remove(*partition).unwrap_or_default();
        let rows = rewrite_partition::<S>(output, partition, remove, new_frames, &losers)?;
        report.rows_written += rows as u64;
        if rows == 0 {
            report.partitions_deleted += 1;
        } else {
            report.partitions_written += 1;
        }
    }
    info!(
        written = report.partitions_written,
        deleted = report.partitions_deleted,
        rows = report.rows_written,
        table = %output.describe(S::TABLE_PREFIX),
        "Rewrote the affected partitions."
    );

    tracing::debug!(rss_mib = rss_mib(), "Memory after writing partitions.");

    // 6. The manifest, after the partitions.
    let rows = next_manifest(&old_manifest, &manifest_index, &vanished, &read);
    let mut manifest_df = manifest::frame(&rows)?;
    drop(rows);
    output.put(S::MANIFEST_KEY, to_parquet_bytes(&mut manifest_df)?)?;
    drop(manifest_df);

    // 7. This run's rejects.
    if !read.rejects.is_empty() {
        const SHOWN: usize = 20;
        for r in read.rejects.iter().take(SHOWN) {
            warn!(key = %input.describe(&r.source_key), reason = %r.reason, "Rejected a file.");
        }
        if read.rejects.len() > SHOWN {
            warn!(
                more = read.rejects.len() - SHOWN,
                "More rejected files; all are in the rejects log."
            );
        }
        report.count_rejects(read.rejects.iter().map(|r| r.reason.as_str()));
        let key = tables::write_rejects(output, opts.date, S::STEP, &opts.run_id, &read.rejects)?;
        info!(count = read.rejects.len(), log = %output.describe(&key), "Logged rejected files.");
    }

    if report.files_read >= 100
        && report.rejected as f64 / report.files_read as f64 > opts.max_reject_ratio
    {
        warn!(
            rejected = report.rejected,
            read = report.files_read,
            max_reject_ratio = opts.max_reject_ratio,
            "More rejected files than --max-reject-ratio allows (exit 4); the good rows were written."
        );
        report.status = Status::TooManyRejects;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Identities whose row may change: every freshly parsed row, the old rows of keys that
/// were re-read and parsed, and the rows of vanished keys. A changed file that no longer
/// parses keeps its previous row (nothing is lost), so it touches nothing.
fn touched_identities<'a, S: Source>(
    read: &'a ReadResult,
    vanished: &[&'a ManifestEntry],
    manifest_index: &PlHashMap<&str, &'a ManifestEntry>,
) -> PlHashSet<Identity<'a>> {
    let mut touched: PlHashSet<Identity> =
        PlHashSet::with_capacity_and_hasher(read.parsed.len(), Default::default());
    for p in &read.parsed {
        touched.insert(identity::<S>(&p.partition, &p.key_value));
        if let Some(entry) = manifest_index.get(p.object.key.as_str()) {
            touched.extend(old_identity::<S>(entry));
        }
    }
    for entry in vanished {
        touched.extend(old_identity::<S>(entry));
    }
    touched
}

fn load_manifest(output: &Lake, key: &str) -> Result<Vec<ManifestEntry>> {
    match output.get_opt(key)? {
        None => Ok(Vec::new()),
        Some(bytes) => {
            let df = from_parquet_bytes(&bytes, &manifest::schema(), &output.describe(key))?;
            manifest::entries(&df)
        }
    }
}

struct Diff {
    /// Indices into the JSON listing.
    to_read: Vec<usize>,
    /// Indices into the old manifest.
    vanished: Vec<usize>,
    unchanged: usize,
}

/// Stores quote ETags differently (object_store quotes local ones since 0.14.1), so
/// compare them without quotes.
fn etag_core(etag: &str) -> &str {
    etag.trim_matches('"')
}

fn diff(
    json: &[&LakeObject],
    manifest: &[ManifestEntry],
    index: &PlHashMap<&str, &ManifestEntry>,
) -> Diff {
    let mut to_read = Vec::new();
    let mut unchanged = 0;
    // Listed keys the manifest knows: when that is all of it, nothing vanished.
    let mut known = 0;
    for (i, obj) in json.iter().enumerate() {
        let entry = index.get(obj.key.as_str());
        known += usize::from(entry.is_some());
        let same = entry.is_some_and(|e| {
            e.size == obj.size
                && match (&obj.etag, &e.etag) {
                    (Some(now), Some(then)) => etag_core(now) == etag_core(then),
                    // No ETag in the listing: last-modified stands in for it.
                    _ => obj.last_modified_us == e.last_modified_us,
                }
        });
        if same {
            unchanged += 1;
        } else {
            to_read.push(i);
        }
    }
    let vanished = if known == manifest.len() {
        Vec::new() // every manifest key was listed: skip building the listed-key set
    } else {
        let listed: PlHashSet<&str> = json.iter().map(|o| o.key.as_str()).collect();
        (0..manifest.len())
            .filter(|&i| !listed.contains(manifest[i].source_key.as_str()))
            .collect()
    };
    Diff {
        to_read,
        vanished,
        unchanged,
    }
}

/// Reads and normalises `objects`, packing good rows into frames batch by batch.
fn read_batches<'a, S: Source>(
    input: &Lake,
    objects: &[&'a LakeObject],
    progress: bool,
) -> Result<ReadResult<'a>> {
    let mut result = ReadResult::default();
    let mut partitions: PlHashMap<String, Arc<str>> = PlHashMap::default();
    let bar = Progress::new(progress, objects.len() as u64, "reading JSON");
    for batch in objects.chunks(READ_BATCH) {
        let keys: Vec<&str> = batch.iter().map(|o| o.key.as_str()).collect();
        // A read that fails after object_store's retries stops the run (exit 1, naming
        // the object) rather than rejecting the file: a network blip must not mark a good
        // file rejected until it next changes.
        let outcomes = input
            .read_each(&keys, |i, bytes| {
                Ok(bytes?.map(|bytes| S::parse(batch[i], bytes)))
            })
            .into_iter()
            .collect::<Result<Vec<Option<Result<S::Record, String>>>>>()?;
        let mut by_partition: PlHashMap<Arc<str>, Vec<&S::Record>> = PlHashMap::default();
        for (obj, outcome) in batch.iter().zip(&outcomes) {
            let Some(outcome) = outcome else {
                // Deleted since it was listed: the next run will see it as vanished.
                tracing::debug!(key = %obj.key, "Gone since listed.");
                continue;
            };
            result.seen += 1;
            match outcome {
                Ok(record) => {
                    let dir = format!("{}={}", S::PARTITION_COLUMN, S::partition_value(record));
                    let partition = partitions
                        .entry(dir)
                        .or_insert_with_key(|d| Arc::from(d.as_str()))
                        .clone();
                    result.parsed.push(Parsed {
                        object: obj,
                        key_value: S::key_value(record).to_string(),
                        partition: partition.clone(),
                    });
                    by_partition.entry(partition).or_default().push(record);
                }
                Err(reason) => result.rejects.push(RejectRow {
                    source_key: obj.key.clone(),
                    source_etag: obj.etag.clone(),
                    size: obj.size,
                    last_modified_us: obj.last_modified_us,
                    reason: reason.clone(),
                }),
            }
        }
        // Columns are built on both cores: one frame per partition of this batch.
        let built: Vec<(Arc<str>, Result<DataFrame>)> = {
            use rayon::prelude::*;
            by_partition
                .into_par_iter()
                .map(|(partition, records)| (partition, S::frame(&records)))
                .collect()
        };
        for (partition, frame) in built {
            result.frames.entry(partition).or_default().push(frame?);
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish();
    Ok(result)
}

/// Rewrites one partition: existing rows minus `remove`, plus this run's rows (minus
/// losers), sorted by key. Returns its row count; an emptied partition's file is deleted.
fn rewrite_partition<S: Source>(
    output: &Lake,
    partition: &str,
    remove: &PlHashSet<&str>,
    new_frames: Vec<DataFrame>,
    losers: &PlHashSet<&str>,
) -> Result<usize> {
    let key = format!("{}/{partition}/{PART_FILE}", S::TABLE_PREFIX);
    let schema = S::table_schema();
    let mut combined = DataFrame::empty_with_schema(&schema);
    if let Some(bytes) = output.get_opt(&key)? {
        let existing = from_parquet_bytes(&bytes, &schema, &output.describe(&key))?;
        combined = existing.filter(&mask(&existing, S::KEY_COLUMN, |k| !remove.contains(k))?)?;
    }
    for frame in new_frames {
        if losers.is_empty() {
            combined.vstack_mut_owned(frame)?;
        } else {
            combined.vstack_mut_owned(
                frame.filter(&mask(&frame, "source_key", |k| !losers.contains(k))?)?,
            )?;
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

/// The manifest after this run, sorted by key: unchanged entries as they were, read keys
/// with what was found, vanished keys gone. Rows borrow from their sources.
fn next_manifest<'a>(
    old: &'a [ManifestEntry],
    index: &PlHashMap<&str, &'a ManifestEntry>,
    vanished: &[&ManifestEntry],
    read: &'a ReadResult,
) -> Vec<ManifestRow<'a>> {
    let mut replaced: PlHashSet<&str> = vanished.iter().map(|e| e.source_key.as_str()).collect();
    replaced.extend(read.parsed.iter().map(|p| p.object.key.as_str()));
    replaced.extend(read.rejects.iter().map(|r| r.source_key.as_str()));
    let mut rows: Vec<ManifestRow> = old
        .iter()
        .filter(|e| !replaced.contains(e.source_key.as_str()))
        .map(ManifestEntry::as_row)
        .collect();
    for p in &read.parsed {
        rows.push(ManifestRow {
            source_key: &p.object.key,
            etag: p.object.etag.as_deref(),
            size: p.object.size,
            last_modified_us: p.object.last_modified_us,
            status: EntryStatus::Ok,
            reason: None,
            staged_key: Some(&p.key_value),
            staged_partition: Some(&p.partition),
        });
    }
    for r in &read.rejects {
        // Keep pointing at the row a previous good version left, which stays staged.
        let previous = index.get(r.source_key.as_str());
        rows.push(ManifestRow {
            source_key: &r.source_key,
            etag: r.source_etag.as_deref(),
            size: r.size,
            last_modified_us: r.last_modified_us,
            status: EntryStatus::Rejected,
            reason: Some(&r.reason),
            staged_key: previous.and_then(|e| e.staged_key.as_deref()),
            staged_partition: previous.and_then(|e| e.staged_partition.as_deref()),
        });
    }
    rows.sort_unstable_by(|a, b| a.source_key.cmp(b.source_key));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, etag: Option<&str>, size: u64, modified: i64) -> LakeObject {
        LakeObject {
            key: key.into(),
            size,
            last_modified_us: modified,
            etag: etag.map(Into::into),
        }
    }

    fn entry(key: &str, etag: Option<&str>, size: u64, modified: i64) -> ManifestEntry {
        ManifestEntry {
            source_key: key.into(),
            etag: etag.map(Into::into),
            size,
            last_modified_us: modified,
            status: EntryStatus::Ok,
            reason: None,
            staged_key: None,
            staged_partition: None,
        }
    }

    #[test]
    fn diff_uses_etag_then_last_modified_and_size() {
        let listing = [
            obj("same", Some("\"e1\""), 10, 1),
            obj("quoting-differs", Some("\"e2\""), 10, 1),
            obj("etag-changed", Some("\"new\""), 10, 1),
            obj("size-changed", Some("\"e4\""), 11, 1),
            obj("no-etag-same-time", None, 10, 5),
            obj("no-etag-touched", None, 10, 6),
            obj("new", Some("\"e7\""), 10, 1),
        ];
        let manifest = [
            entry("same", Some("\"e1\""), 10, 1),
            entry("quoting-differs", Some("e2"), 10, 1),
            entry("etag-changed", Some("\"old\""), 10, 1),
            entry("size-changed", Some("\"e4\""), 10, 1),
            entry("no-etag-same-time", None, 10, 5),
            entry("no-etag-touched", None, 10, 5),
            entry("gone", Some("\"e8\""), 10, 1),
        ];
        let refs: Vec<&LakeObject> = listing.iter().collect();
        let index = manifest
            .iter()
            .map(|e| (e.source_key.as_str(), e))
            .collect();
        let d = diff(&refs, &manifest, &index);
        let read: Vec<&str> = d.to_read.iter().map(|&i| listing[i].key.as_str()).collect();
        assert_eq!(
            read,
            vec!["etag-changed", "size-changed", "no-etag-touched", "new"]
        );
        assert_eq!(d.unchanged, 3);
        assert_eq!(d.vanished, vec![6]);
    }
}
