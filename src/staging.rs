//! Incremental staging: raw JSON keys → Hive-partitioned Parquet, touching only what changed
//! (SPEC §2 "Incremental staging"). Shared by `stage-posts` and `stage-stats`.
//!
//! One run:
//! 1. **list** the input prefix once (in parallel over user folders);
//! 2. **diff** against the manifest: a key is read when it is new or its ETag (or, where the
//!    listing has none, its last-modified time) or size changed; keys gone from the lake are
//!    "vanished", and more than `--max-delete-ratio` of them stops the run before any write;
//! 3. **read and normalise** the changed keys, in batches, straight into Polars frames;
//! 4. **pick winners**: one row per identity (post_id; user/date for stats), newest
//!    last-modified first, then the greater key;
//! 5. **rewrite** only the partitions that gained, lost or moved a row, each in one put;
//! 6. write the **manifest** last (a crash before it only causes re-work), then the
//!    **rejects** log for this run.
//!
//! A run that finds nothing changed reads no JSON and writes nothing.

use crate::contracts::manifest::{self, ManifestEntry, Status as EntryStatus};
use crate::contracts::rejects::{self, RejectRow};
use crate::contracts::{from_parquet_bytes, to_parquet_bytes, PART_FILE};
use crate::lake::{Lake, LakeObject};
use crate::report::{RunReport, Status};
use crate::telemetry::Progress;
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;
use tracing::{info, warn};

/// How many files are read and normalised before their rows are packed into frames; bounds
/// the memory held as Rust structs during a full load.
const READ_BATCH: usize = 32_768;

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
    const MANIFEST_KEY: &'static str;

    fn table_schema() -> Schema;
    /// Checks the key's layout and normalises the file; `Err` is the reject reason.
    fn parse(object: &LakeObject, bytes: &[u8]) -> Result<Self::Record, String>;
    fn key_value(record: &Self::Record) -> &str;
    fn partition_value(record: &Self::Record) -> String;
    /// What "the same row" means across keys: posts dedupe by post_id across the whole
    /// table; stats rows are one per (user, date).
    fn identity(partition_value: &str, key_value: &str) -> String;
    fn frame(records: &[&Self::Record]) -> Result<DataFrame>;
    /// Whether the lake holds this run's input at all (for `--skip-if-missing`).
    fn input_present(json_objects: &[&LakeObject], date: NaiveDate) -> bool;
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
struct Parsed {
    key: String,
    last_modified_us: i64,
    identity: String,
    key_value: String,
    partition: String,
}

/// The rows read this run, packed into frames as they are read.
#[derive(Default)]
struct ReadResult {
    parsed: Vec<Parsed>,
    /// Frames of new rows by partition directory (`post_month=2024-01`).
    frames: HashMap<String, Vec<DataFrame>>,
    rejects: Vec<RejectRow>,
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
    let diff = diff(&json, &old_manifest);
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

    // 3. Read and normalise what changed.
    let to_read: Vec<&LakeObject> = diff.to_read.iter().map(|&i| json[i]).collect();
    let mut read = read_batches::<S>(input, &to_read, opts.progress)?;
    report.files_read = to_read.len() as u64;

    // 4. Identities whose row may change: new rows, and rows of keys that changed or vanished.
    let manifest_index: HashMap<&str, &ManifestEntry> = old_manifest
        .iter()
        .map(|e| (e.source_key.as_str(), e))
        .collect();
    let rejected_now: HashSet<&str> = read.rejects.iter().map(|r| r.source_key.as_str()).collect();
    let old_identity = |e: &ManifestEntry| match (&e.staged_partition, &e.staged_key) {
        (Some(p), Some(k)) => Some(S::identity(partition_value(p), k)),
        _ => None,
    };
    let mut touched: HashSet<String> = read.parsed.iter().map(|p| p.identity.clone()).collect();
    for obj in &to_read {
        // A changed file that no longer parses keeps its previous row (nothing is lost);
        // the manifest remembers where that row is.
        if let Some(entry) = manifest_index.get(obj.key.as_str()) {
            if !rejected_now.contains(obj.key.as_str()) {
                touched.extend(old_identity(entry));
            }
        }
    }
    for &i in &diff.vanished {
        touched.extend(old_identity(&old_manifest[i]));
    }

    // Unchanged keys that share an identity with a touched one compete again for its row.
    let reading: HashSet<&str> = to_read.iter().map(|o| o.key.as_str()).collect();
    let listed: HashMap<&str, &LakeObject> = json.iter().map(|o| (o.key.as_str(), *o)).collect();
    let rivals: Vec<&LakeObject> = old_manifest
        .iter()
        .filter(|e| e.status == EntryStatus::Ok && !reading.contains(e.source_key.as_str()))
        .filter(|e| old_identity(e).is_some_and(|id| touched.contains(&id)))
        .filter_map(|e| listed.get(e.source_key.as_str()).copied())
        .collect();
    if !rivals.is_empty() {
        info!(
            count = rivals.len(),
            "Re-reading unchanged files that share a key with changed ones."
        );
        let more = read_batches::<S>(input, &rivals, false)?;
        read.parsed.extend(more.parsed);
        for (partition, frames) in more.frames {
            read.frames.entry(partition).or_default().extend(frames);
        }
        read.rejects.extend(more.rejects);
        report.files_read += rivals.len() as u64;
    }
    report.rejected = read.rejects.len() as u64;

    // 5. Winners, and the rows to remove from each partition.
    let mut winner: HashMap<&str, &Parsed> = HashMap::new();
    for p in &read.parsed {
        let slot = winner.entry(p.identity.as_str()).or_insert(p);
        if (p.last_modified_us, &p.key) > (slot.last_modified_us, &slot.key) {
            *slot = p;
        }
    }
    let losers: HashSet<&str> = read
        .parsed
        .iter()
        .filter(|p| !std::ptr::eq(winner[p.identity.as_str()], *p))
        .map(|p| p.key.as_str())
        .collect();
    let mut removals: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for entry in &old_manifest {
        if let (Some(partition), Some(key)) = (&entry.staged_partition, &entry.staged_key) {
            if touched.contains(&S::identity(partition_value(partition), key)) {
                removals
                    .entry(partition.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
    }
    // Also clear the winners' own keys where they land, so a re-run after a crash between
    // the partition writes and the manifest write cannot leave a row twice.
    for w in winner.values() {
        removals
            .entry(w.partition.clone())
            .or_default()
            .insert(w.key_value.clone());
    }
    report.rows_upserted = winner.len() as u64;
    // Touched identities with no winner left: their rows go.
    report.rows_deleted = touched
        .iter()
        .filter(|id| !winner.contains_key(id.as_str()))
        .count() as u64;

    // 6. Rewrite the affected partitions, each in one atomic put.
    let partitions: BTreeSet<&str> = removals.keys().map(String::as_str).collect();
    let empty = HashSet::new();
    let frames = std::mem::take(&mut read.frames);
    let results: Vec<Result<PartitionWrite>> = {
        use rayon::prelude::*;
        partitions
            .par_iter()
            .map(|partition| {
                let new_frames = frames.get(*partition).map(Vec::as_slice).unwrap_or(&[]);
                rewrite_partition::<S>(
                    output,
                    partition,
                    removals.get(*partition).unwrap_or(&empty),
                    new_frames,
                    &losers,
                )
            })
            .collect()
    };
    drop(frames);
    for result in results {
        let written = result?;
        report.rows_written += written.rows as u64;
        if written.rows == 0 {
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

    // 7. The manifest, after the partitions.
    let new_manifest = next_manifest(&old_manifest, &diff, &json, &read);
    let mut manifest_df = manifest::frame(&new_manifest)?;
    output.put(S::MANIFEST_KEY, to_parquet_bytes(&mut manifest_df)?)?;

    // 8. This run's rejects.
    if !read.rejects.is_empty() {
        for r in read.rejects.iter().take(20) {
            warn!(key = %input.describe(&r.source_key), reason = %r.reason, "Rejected a file.");
        }
        let key = rejects::object_key(&opts.date.to_string(), S::STEP, &opts.run_id);
        let mut df = rejects::frame(S::STEP, &read.rejects)?;
        output.put(&key, to_parquet_bytes(&mut df)?)?;
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

/// `post_month=2024-01` → `2024-01`.
fn partition_value(dir: &str) -> &str {
    dir.split_once('=').map_or(dir, |(_, v)| v)
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

fn diff(json: &[&LakeObject], manifest: &[ManifestEntry]) -> Diff {
    let index: HashMap<&str, &ManifestEntry> = manifest
        .iter()
        .map(|e| (e.source_key.as_str(), e))
        .collect();
    let mut to_read = Vec::new();
    let mut unchanged = 0;
    for (i, obj) in json.iter().enumerate() {
        let same = index.get(obj.key.as_str()).is_some_and(|e| {
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
    let listed: HashSet<&str> = json.iter().map(|o| o.key.as_str()).collect();
    let vanished = (0..manifest.len())
        .filter(|&i| !listed.contains(manifest[i].source_key.as_str()))
        .collect();
    Diff {
        to_read,
        vanished,
        unchanged,
    }
}

/// Reads and normalises `objects`, packing good rows into frames batch by batch.
fn read_batches<S: Source>(
    input: &Lake,
    objects: &[&LakeObject],
    progress: bool,
) -> Result<ReadResult> {
    let mut result = ReadResult::default();
    let bar = Progress::new(progress, objects.len() as u64, "reading JSON");
    for batch in objects.chunks(READ_BATCH) {
        let keys: Vec<&str> = batch.iter().map(|o| o.key.as_str()).collect();
        let outcomes = input.read_each(&keys, |i, bytes| match bytes {
            Ok(bytes) => S::parse(batch[i], &bytes),
            Err(e) => Err(format!("could not read: {e:#}")),
        });
        let mut by_partition: HashMap<String, Vec<&S::Record>> = HashMap::new();
        for (obj, outcome) in batch.iter().zip(&outcomes) {
            match outcome {
                Ok(record) => {
                    let partition_value = S::partition_value(record);
                    let key_value = S::key_value(record).to_string();
                    let partition = format!("{}={partition_value}", S::PARTITION_COLUMN);
                    result.parsed.push(Parsed {
                        key: obj.key.clone(),
                        last_modified_us: obj.last_modified_us,
                        identity: S::identity(&partition_value, &key_value),
                        key_value,
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
        for (partition, records) in by_partition {
            result
                .frames
                .entry(partition)
                .or_default()
                .push(S::frame(&records)?);
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish();
    Ok(result)
}

struct PartitionWrite {
    rows: usize,
}

fn rewrite_partition<S: Source>(
    output: &Lake,
    partition: &str,
    remove: &HashSet<String>,
    new_frames: &[DataFrame],
    losers: &HashSet<&str>,
) -> Result<PartitionWrite> {
    let key = format!("{}/{partition}/{PART_FILE}", S::TABLE_PREFIX);
    let schema = S::table_schema();
    let mut combined = DataFrame::empty_with_schema(&schema);
    if let Some(bytes) = output.get_opt(&key)? {
        let existing = from_parquet_bytes(&bytes, &schema, &output.describe(&key))?;
        combined = existing.filter(&mask(&existing, S::KEY_COLUMN, |k| !remove.contains(k))?)?;
    }
    for frame in new_frames {
        let frame = if losers.is_empty() {
            frame.clone()
        } else {
            frame.filter(&mask(frame, "source_key", |k| !losers.contains(k))?)?
        };
        combined.vstack_mut(&frame)?;
    }
    if combined.height() == 0 {
        output.delete(&key)?;
        return Ok(PartitionWrite { rows: 0 });
    }
    let mut sorted = combined.sort([S::KEY_COLUMN], SortMultipleOptions::default())?;
    let bytes = to_parquet_bytes(&mut sorted).with_context(|| output.describe(&key))?;
    output.put(&key, bytes)?;
    tracing::debug!(rows = sorted.height(), path = %output.describe(&key), "Wrote partition.");
    Ok(PartitionWrite {
        rows: sorted.height(),
    })
}

fn mask(df: &DataFrame, column: &str, keep: impl Fn(&str) -> bool) -> Result<BooleanChunked> {
    let values = df.column(column)?.str()?;
    Ok(values.iter().map(|v| v.is_none_or(&keep)).collect())
}

/// The manifest after this run: unchanged entries as they were, read keys with what was
/// found, vanished keys gone; sorted by key.
fn next_manifest(
    old: &[ManifestEntry],
    diff: &Diff,
    json: &[&LakeObject],
    read: &ReadResult,
) -> Vec<ManifestEntry> {
    let vanished: HashSet<&str> = diff
        .vanished
        .iter()
        .map(|&i| old[i].source_key.as_str())
        .collect();
    let mut by_key: BTreeMap<&str, ManifestEntry> = old
        .iter()
        .filter(|e| !vanished.contains(e.source_key.as_str()))
        .map(|e| (e.source_key.as_str(), e.clone()))
        .collect();
    let listed: HashMap<&str, &LakeObject> = json.iter().map(|o| (o.key.as_str(), *o)).collect();
    for p in &read.parsed {
        let obj = listed[p.key.as_str()];
        by_key.insert(
            &obj.key,
            ManifestEntry {
                source_key: obj.key.clone(),
                etag: obj.etag.clone(),
                size: obj.size,
                last_modified_us: obj.last_modified_us,
                status: EntryStatus::Ok,
                reason: None,
                staged_key: Some(p.key_value.clone()),
                staged_partition: Some(p.partition.clone()),
            },
        );
    }
    for r in &read.rejects {
        let previous = by_key.get(r.source_key.as_str());
        // Keep pointing at the row a previous good version left, which stays staged.
        let (staged_key, staged_partition) = previous
            .map(|e| (e.staged_key.clone(), e.staged_partition.clone()))
            .unwrap_or((None, None));
        by_key.insert(
            listed[r.source_key.as_str()].key.as_str(),
            ManifestEntry {
                source_key: r.source_key.clone(),
                etag: r.source_etag.clone(),
                size: r.size,
                last_modified_us: r.last_modified_us,
                status: EntryStatus::Rejected,
                reason: Some(r.reason.clone()),
                staged_key,
                staged_partition,
            },
        );
    }
    by_key.into_values().collect()
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
        let d = diff(&refs, &manifest);
        let read: Vec<&str> = d.to_read.iter().map(|&i| listing[i].key.as_str()).collect();
        assert_eq!(
            read,
            vec!["etag-changed", "size-changed", "no-etag-touched", "new"]
        );
        assert_eq!(d.unchanged, 3);
        assert_eq!(d.vanished, vec![6]);
    }
}
