//! Incremental staging: raw JSON keys → Hive-partitioned Parquet, touching only what changed
//! (SPEC §2 "Incremental staging"). Shared by `stage-posts` and `stage-stats`.
//!
//! One run, in phases, each the one place for its guarantee:
//! 1. **lease**: one run per (output root, step) (`lease.rs`); a second exits 1 naming the
//!    holder. Temporary files of killed writes are removed from the table.
//! 2. **plan**: list the input prefix once; load the manifest (unreadable → exit 1 saying
//!    to use `--full-refresh`; none, or `--full-refresh` → rebuild every partition); survey
//!    the table: partitions the manifest points at that are missing or not Parquet are
//!    damaged, and their keys are read again (`table.rs`); diff the listing against the
//!    manifest (new or changed ETag/size/last-modified → read; gone → vanished, and more
//!    than `--max-delete-ratio` of them stops the run before any write).
//! 3. **read** and normalise the changed keys (and unchanged rivals of touched rows) in
//!    batches, straight into Polars frames; a key the listing could not turn into an
//!    object (not UTF-8, a symlink loop) is a reject with that reason.
//! 4. **resolve**: winners, losers and the rows to remove (`resolve.rs`, pure).
//! 5. **write** only the partitions that gained, lost or moved a row, each in one put.
//! 6. **commit**: the rejects log first, then the manifest, with a conditional put where
//!    the store has one; a retry of an attempt that exited 4 reports its still-rejected
//!    files again and exits 4 again.
//!
//! A crash anywhere before the manifest only causes re-work: the next run sees the same
//! keys as changed. A run that finds nothing changed reads no JSON and writes nothing.
//!
//! The bookkeeping borrows keys from the listing and the old manifest instead of copying
//! them: a full load of 1.25M files must stay well under 2 GiB.

mod lease;
mod resolve;
mod table;

use crate::contracts::manifest::{self, ManifestEntry, ManifestRow, Status as EntryStatus};
use crate::contracts::rejects::RejectRow;
use crate::contracts::{from_parquet_bytes, to_parquet_bytes};
use crate::lake::{Lake, LakeObject, Version};
use crate::report::{RunReport, Status, StepFailure};
use crate::tables;
use crate::telemetry::{rss_mib, Progress};
use anyhow::{bail, Result};
use chrono::NaiveDate;
use lease::Lease;
use polars::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use table::{PartitionEdit, TableState};
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
    /// Rebuild the table from the lake: every partition replaced, stale ones removed.
    pub full_refresh: bool,
    /// How long the lease lasts without renewal (a killed run blocks others this long).
    pub lease_ttl: Duration,
}

/// A freshly read, valid file: enough to pick winners without touching its row's data.
pub(crate) struct Parsed<'a> {
    object: &'a LakeObject,
    key_value: String,
    /// The partition directory, e.g. `post_month=2024-01` (shared, not one copy per row).
    partition: Arc<str>,
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

    /// Counts `object` as read and rejected for `reason`.
    fn reject(&mut self, object: &LakeObject, reason: &str) {
        self.seen += 1;
        self.rejects.push(RejectRow {
            source_key: object.key.clone(),
            source_etag: object.etag.clone(),
            size: object.size,
            last_modified_us: object.last_modified_us,
            reason: reason.to_string(),
        });
    }
}

/// Runs the step. On failure the error carries the counts reached so far.
pub fn run<S: Source>(input: &Lake, output: &Lake, opts: &StageOptions) -> Result<RunReport> {
    let started = Instant::now();
    let mut report = RunReport::new(S::STEP, opts.date.to_string(), opts.run_id.clone());
    let outcome = stage::<S>(input, output, opts, &mut report);
    report.seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => Ok(report),
        Err(error) => Err(StepFailure {
            report: Box::new(report),
            error,
        }
        .into()),
    }
}

fn stage<S: Source>(
    input: &Lake,
    output: &Lake,
    opts: &StageOptions,
    report: &mut RunReport,
) -> Result<()> {
    // 1. Lease, and what killed writes left behind.
    let lease = Lease::acquire(output, S::STEP, &opts.run_id, opts.lease_ttl)?;
    remove_temp_files::<S>(output, report)?;

    // 2. Plan.
    let listing = input.list_tree(S::LAKE_PREFIX)?;
    let bad_keys: Vec<LakeObject> = listing.bad.iter().map(bad_key_object).collect();
    let bad_reasons: PlHashMap<&str, &str> = listing
        .bad
        .iter()
        .map(|b| (b.key.as_str(), b.reason.as_str()))
        .collect();
    report.files_listed = (listing.objects.len() + bad_keys.len()) as u64;
    let mut json: Vec<&LakeObject> = listing
        .objects
        .iter()
        .filter(|o| o.key.ends_with(".json"))
        .collect();
    report.files_ignored = (listing.objects.len() - json.len()) as u64;
    json.extend(&bad_keys);
    info!(listed = report.files_listed, json = json.len(), prefix = %input.describe(S::LAKE_PREFIX), "Listed the lake.");
    tracing::debug!(rss_mib = rss_mib(), "Memory after listing.");
    if !S::input_present(&json, opts.date) {
        if opts.skip_if_missing {
            warn!(date = %opts.date, "No input for this date; skipping (exit 99).");
            report.status = Status::Skipped;
            return lease.release();
        }
        warn!(date = %opts.date, prefix = %input.describe(S::LAKE_PREFIX), "No input for this date; staging whatever else changed.");
    }
    let manifest = load_manifest::<S>(output, opts.full_refresh)?;
    let old_manifest = &manifest.entries;
    let table = table::survey::<S>(output, old_manifest, manifest.rebuild)?;
    report.partitions_repaired = table.damaged.len() as u64;
    let manifest_index: PlHashMap<&str, &ManifestEntry> = old_manifest
        .iter()
        .map(|e| (e.source_key.as_str(), e))
        .collect();
    let diff = diff(&json, old_manifest, &manifest_index, &table.damaged);
    report.files_unchanged = diff.unchanged as u64;
    report.files_vanished = diff.vanished.len() as u64;
    refuse_mass_deletion::<S>(input, output, &diff, old_manifest.len(), opts)?;
    if diff.to_read.is_empty()
        && diff.vanished.is_empty()
        && table.damaged.is_empty()
        && !manifest.rebuild
    {
        info!(
            unchanged = diff.unchanged,
            "Nothing changed since the last run."
        );
        repeat_exit_4_if_unchanged::<S>(output, opts, &manifest_index, report)?;
        return lease.release();
    }
    let vanished: Vec<&ManifestEntry> = diff.vanished.iter().map(|&i| &old_manifest[i]).collect();

    // 3. Read what changed, and the unchanged rivals of the rows it touches.
    let mut read = read_changes::<S>(
        input,
        &json,
        &diff,
        &bad_reasons,
        &vanished,
        &manifest_index,
        opts,
    )?;
    report.files_read = read.seen as u64;
    report.rejected = read.rejects.len() as u64;
    tracing::debug!(rss_mib = rss_mib(), "Memory after reading.");
    let frames = std::mem::take(&mut read.frames);

    // 4. Resolve.
    let touched = resolve::touched_identities::<S>(&read.parsed, &vanished, &manifest_index);
    let resolution = resolve::resolve::<S>(&read.parsed, old_manifest, &touched);
    report.rows_upserted = resolution.winners.len() as u64;
    report.rows_deleted = resolution.rows_deleted;

    // 5. Write the partitions; 6. commit.
    write_partitions::<S>(
        output,
        &lease,
        &resolution,
        frames,
        &table,
        manifest.rebuild,
        report,
    )?;
    commit::<S>(
        input, output, &lease, opts, &manifest, &vanished, &read, &table, report,
    )?;
    lease.release()
}

/// Reads the changed keys (keys the listing could not turn into objects are rejected
/// unread, with the listing's reason), then the unchanged rivals of the rows they touch.
fn read_changes<'a, S: Source>(
    input: &Lake,
    json: &[&'a LakeObject],
    diff: &Diff,
    bad_reasons: &PlHashMap<&str, &str>,
    vanished: &[&'a ManifestEntry],
    manifest_index: &PlHashMap<&str, &'a ManifestEntry>,
    opts: &StageOptions,
) -> Result<ReadResult<'a>> {
    let (unlistable, to_read): (Vec<&LakeObject>, Vec<&LakeObject>) = diff
        .to_read
        .iter()
        .map(|&i| json[i])
        .partition(|o| bad_reasons.contains_key(o.key.as_str()));
    let mut read = read_batches::<S>(input, &to_read, opts.progress)?;
    for object in unlistable {
        read.reject(object, bad_reasons[object.key.as_str()]);
    }
    let rivals = rivals::<S>(json, diff, &read, vanished, manifest_index);
    if !rivals.is_empty() {
        info!(
            count = rivals.len(),
            "Re-reading unchanged files that share a key with changed ones."
        );
        read.absorb(read_batches::<S>(input, &rivals, false)?);
    }
    Ok(read)
}

/// A run with nothing to do still repeats an earlier attempt's exit 4 (its rejected files
/// are unchanged, so the manifest as it is says which still are).
fn repeat_exit_4_if_unchanged<S: Source>(
    output: &Lake,
    opts: &StageOptions,
    manifest_index: &PlHashMap<&str, &ManifestEntry>,
    report: &mut RunReport,
) -> Result<()> {
    let unchanged_reject = |key: &str, etag: Option<&str>| {
        manifest_index
            .get(key)
            .is_some_and(|e| e.status == EntryStatus::Rejected && e.etag.as_deref() == etag)
    };
    carry_earlier_rejects::<S>(output, opts, unchanged_reject, report)?;
    decide_exit_4(report, opts);
    Ok(())
}

/// Keys the listing could not turn into objects, as objects of size 0: the diff then sees
/// them once (and the manifest remembers them as rejected), instead of on every run.
fn bad_key_object(bad: &crate::lake::BadKey) -> LakeObject {
    LakeObject {
        key: bad.key.clone(),
        size: 0,
        last_modified_us: 0,
        etag: None,
    }
}

fn remove_temp_files<S: Source>(output: &Lake, report: &mut RunReport) -> Result<()> {
    let mut removed = output.remove_temp_files(S::TABLE_PREFIX)?;
    removed.extend(output.remove_temp_files(manifest_folder::<S>())?);
    for key in &removed {
        warn!(file = %output.describe(key), "Removed a temporary file a killed write left behind.");
    }
    report.temp_files_removed = removed.len() as u64;
    Ok(())
}

fn manifest_folder<S: Source>() -> &'static str {
    S::MANIFEST_KEY
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder)
}

fn refuse_mass_deletion<S: Source>(
    input: &Lake,
    output: &Lake,
    diff: &Diff,
    known: usize,
    opts: &StageOptions,
) -> Result<()> {
    if known == 0 {
        return Ok(());
    }
    let ratio = diff.vanished.len() as f64 / known as f64;
    if ratio > opts.max_delete_ratio {
        bail!(
            "{} of {} keys in {} vanished from {} ({:.1}%, more than --max-delete-ratio {}): \
             refusing to delete their rows; nothing was changed. If the deletion is real, \
             re-run with a higher --max-delete-ratio.",
            diff.vanished.len(),
            known,
            output.describe(S::MANIFEST_KEY),
            input.describe(S::LAKE_PREFIX),
            ratio * 100.0,
            opts.max_delete_ratio
        );
    }
    Ok(())
}

/// Unchanged keys that share an identity with a touched one compete again for its row,
/// so the winner is always chosen among all candidates. (A first load has no manifest, so
/// no rivals.)
fn rivals<'a, S: Source>(
    json: &[&'a LakeObject],
    diff: &Diff,
    read: &ReadResult<'a>,
    vanished: &[&'a ManifestEntry],
    manifest_index: &PlHashMap<&str, &'a ManifestEntry>,
) -> Vec<&'a LakeObject> {
    if manifest_index.is_empty() {
        return Vec::new();
    }
    let touched = resolve::touched_identities::<S>(&read.parsed, vanished, manifest_index);
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
}

/// Rewrites every partition the run changes (and, on a rebuild, replaces or removes every
/// partition there was), each in one put, one at a time: each takes its new rows along and
/// frees them when written, so a full load holds the table in memory once, never twice.
fn write_partitions<S: Source>(
    output: &Lake,
    lease: &Lease,
    resolution: &resolve::Resolution,
    mut frames: PlHashMap<Arc<str>, Vec<DataFrame>>,
    table: &TableState,
    rebuild: bool,
    report: &mut RunReport,
) -> Result<()> {
    let mut partitions: BTreeSet<&str> = resolution.removals.keys().copied().collect();
    partitions.extend(table.damaged.iter().map(String::as_str));
    if rebuild {
        partitions.extend(table.partitions.iter().map(String::as_str));
    }
    // Say which partitions are about to change before changing any: a run killed between
    // them and the manifest leaves rows the manifest does not know about (a post moved to
    // a month, and then elsewhere before the next run), so the next run rebuilds exactly
    // these partitions from the lake.
    let mut announced: BTreeSet<&str> = table.pending.iter().map(String::as_str).collect();
    announced.extend(partitions.iter().copied());
    lease.check()?;
    output.put(&table::pending_key::<S>(), serde_json::to_vec(&announced)?)?;
    for partition in partitions {
        // The renewer re-reads the lease every third of its TTL; asking it costs no request.
        lease.ensure_not_lost()?;
        let edit = PartitionEdit {
            remove: resolution.removals.get(partition),
            new_frames: frames.remove(partition).unwrap_or_default(),
            losers: &resolution.losers,
            fresh: rebuild || table.damaged.contains(partition),
        };
        let rows = table::rewrite_partition::<S>(output, partition, edit)?;
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
    Ok(())
}

/// The rejects log, then the manifest (so a run that dies between them loses nothing: its
/// keys are still unrecorded and are read again), then the exit-4 decision.
#[allow(clippy::too_many_arguments)]
fn commit<S: Source>(
    input: &Lake,
    output: &Lake,
    lease: &Lease,
    opts: &StageOptions,
    manifest: &Manifest,
    vanished: &[&ManifestEntry],
    read: &ReadResult,
    table: &TableState,
    report: &mut RunReport,
) -> Result<()> {
    if !read.rejects.is_empty() {
        log_rejects(input, &read.rejects);
        report.count_rejects(read.rejects.iter().map(|r| r.reason.as_str()));
        let key = tables::write_rejects(output, opts.date, S::STEP, &opts.run_id, &read.rejects)?;
        info!(count = read.rejects.len(), log = %output.describe(&key), "Logged rejected files.");
    }
    let index: PlHashMap<&str, &ManifestEntry> = manifest
        .entries
        .iter()
        .map(|e| (e.source_key.as_str(), e))
        .collect();
    let rows = next_manifest(&manifest.entries, &index, vanished, read, &table.damaged);
    {
        // Built only if an earlier attempt exited 4: most runs never look a key up here.
        let next_index: std::cell::OnceCell<PlHashMap<&str, &ManifestRow>> = Default::default();
        let rejected_now: PlHashSet<&str> =
            read.rejects.iter().map(|r| r.source_key.as_str()).collect();
        let unchanged_reject = |key: &str, etag: Option<&str>| {
            let next = next_index.get_or_init(|| rows.iter().map(|r| (r.source_key, r)).collect());
            !rejected_now.contains(key)
                && next
                    .get(key)
                    .is_some_and(|r| r.status == EntryStatus::Rejected && r.etag == etag)
        };
        carry_earlier_rejects::<S>(output, opts, unchanged_reject, report)?;
    }
    let mut manifest_df = manifest::frame(&rows)?;
    drop(rows);
    let bytes = to_parquet_bytes(&mut manifest_df)?;
    drop(manifest_df);
    lease.check()?;
    let written = match &manifest.version {
        Some(version) => output.put_replacing(S::MANIFEST_KEY, bytes, version)?,
        None => output.put_new(S::MANIFEST_KEY, bytes)?,
    };
    if !written {
        bail!(
            "{} changed while this run was working (another run of {}?); this run's \
             manifest was not written, so its changes will be redone: re-run it",
            output.describe(S::MANIFEST_KEY),
            S::STEP
        );
    }
    // Committed: an uncommitted run's partitions are settled now.
    output.delete(&table::pending_key::<S>())?;
    decide_exit_4(report, opts);
    Ok(())
}

fn log_rejects(input: &Lake, rejects: &[RejectRow]) {
    const SHOWN: usize = 20;
    for r in rejects.iter().take(SHOWN) {
        warn!(key = %input.describe(&r.source_key), reason = %r.reason, "Rejected a file.");
    }
    if rejects.len() > SHOWN {
        warn!(
            more = rejects.len() - SHOWN,
            "More rejected files; all are in the rejects log."
        );
    }
}

/// Exit 4 when more than `--max-reject-ratio` of the files read were rejected, this
/// attempt's and (for a retry) the earlier attempts' still-rejected ones together.
fn decide_exit_4(report: &mut RunReport, opts: &StageOptions) {
    let rejected = report.rejected + report.rejected_before;
    let read = report.files_read + report.files_read_before;
    if read >= 100 && rejected as f64 / read as f64 > opts.max_reject_ratio {
        if report.rejected_before > 0 {
            report.warnings.push(format!(
                "{} files rejected by an earlier attempt for this date (run {}) are still rejected",
                report.rejected_before,
                report.rejects_from.as_deref().unwrap_or("?")
            ));
        }
        warn!(
            rejected,
            read,
            max_reject_ratio = opts.max_reject_ratio,
            "More rejected files than --max-reject-ratio allows (exit 4); the good rows were written."
        );
        report.status = Status::TooManyRejects;
    }
}

/// If the latest earlier attempt of this step for this date exited 4, counts its rejected
/// files that are still rejected (unchanged since, not read again now) into the report's
/// `rejected_before`, with the files that attempt read: the retry of a run that exited 4
/// must exit 4 again, not 0 because it found nothing new to read. `still_rejected(key,
/// etag)`: whether the manifest this run commits still has that version rejected, and this
/// run did not count it itself.
fn carry_earlier_rejects<S: Source>(
    output: &Lake,
    opts: &StageOptions,
    still_rejected: impl Fn(&str, Option<&str>) -> bool,
    report: &mut RunReport,
) -> Result<()> {
    let Some(entry) = crate::run_log::latest(output, &opts.date.to_string(), S::STEP)? else {
        return Ok(());
    };
    if entry["status"] != "too_many_rejects" {
        return Ok(());
    }
    let run_id = entry["rejects_from"]
        .as_str()
        .or(entry["run_id"].as_str())
        .unwrap_or_default()
        .to_string();
    let count = |field: &str| entry[field].as_u64().unwrap_or(0);
    let files_read = count("files_read") + count("files_read_before");
    let key = crate::contracts::rejects::object_key(&opts.date.to_string(), S::STEP, &run_id);
    let Some(bytes) = output.get_opt(&key)? else {
        return Ok(());
    };
    let logged = from_parquet_bytes(
        &bytes,
        &crate::contracts::rejects::schema(),
        &output.describe(&key),
    )?;
    let keys = logged.column("source_key")?.str()?;
    let etags = logged.column("source_etag")?.str()?;
    let still: PlHashSet<&str> = keys
        .iter()
        .zip(etags.iter())
        .filter_map(|(key, etag)| key.filter(|k| still_rejected(k, etag)))
        .collect();
    if !still.is_empty() {
        report.rejected_before = still.len() as u64;
        report.files_read_before = files_read;
        report.rejects_from = Some(run_id);
    }
    Ok(())
}

/// The manifest as the run found it.
struct Manifest {
    entries: Vec<ManifestEntry>,
    /// The stored object's version, for the conditional replace; None when there is none.
    version: Option<Version>,
    /// No usable manifest (none, or `--full-refresh`): every partition is rebuilt from the
    /// lake and the stale ones removed, instead of treating the run as a first load over a
    /// table that already has rows.
    rebuild: bool,
}

fn load_manifest<S: Source>(output: &Lake, full_refresh: bool) -> Result<Manifest> {
    let key = S::MANIFEST_KEY;
    let Some((bytes, version)) = output.get_versioned(key)? else {
        return Ok(Manifest {
            entries: Vec::new(),
            version: None,
            rebuild: true,
        });
    };
    if full_refresh {
        info!(manifest = %output.describe(key), "--full-refresh: rebuilding the table from the lake.");
        return Ok(Manifest {
            entries: Vec::new(),
            version: Some(version),
            rebuild: true,
        });
    }
    let entries = from_parquet_bytes(&bytes, &manifest::schema(), &output.describe(key))
        .and_then(|df| manifest::entries(&df));
    match entries {
        Ok(entries) => Ok(Manifest {
            entries,
            version: Some(version),
            rebuild: false,
        }),
        Err(error) => bail!(
            "{error:#}. The staging manifest is unreadable: re-run {} with --full-refresh to \
             rebuild {} from the lake (do not delete the manifest by hand)",
            S::STEP,
            output.describe(S::TABLE_PREFIX)
        ),
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

/// New or changed keys, and keys whose row lives in a damaged partition, are read;
/// manifest keys no longer listed have vanished.
fn diff(
    json: &[&LakeObject],
    manifest: &[ManifestEntry],
    index: &PlHashMap<&str, &ManifestEntry>,
    damaged: &BTreeSet<String>,
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
        let row_lost = !damaged.is_empty()
            && entry
                .and_then(|e| e.staged_partition.as_ref())
                .is_some_and(|p| damaged.contains(p));
        if same && !row_lost {
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
                tracing::debug!(key = %input.describe(&obj.key), "Gone since listed.");
                continue;
            };
            match outcome {
                Ok(record) => {
                    result.seen += 1;
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
                Err(reason) => result.reject(obj, reason),
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

/// The manifest after this run, sorted by key: unchanged entries as they were, read keys
/// with what was found, vanished keys gone. Rows borrow from their sources.
fn next_manifest<'a>(
    old: &'a [ManifestEntry],
    index: &PlHashMap<&str, &'a ManifestEntry>,
    vanished: &[&ManifestEntry],
    read: &'a ReadResult,
    damaged: &BTreeSet<String>,
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
        // Keep pointing at the row a previous good version left, which stays staged
        // (unless its partition was lost: then that row is gone).
        let previous = index.get(r.source_key.as_str()).filter(|e| {
            !e.staged_partition
                .as_ref()
                .is_some_and(|p| damaged.contains(p))
        });
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
        let d = diff(&refs, &manifest, &index, &BTreeSet::new());
        let read: Vec<&str> = d.to_read.iter().map(|&i| listing[i].key.as_str()).collect();
        assert_eq!(
            read,
            vec!["etag-changed", "size-changed", "no-etag-touched", "new"]
        );
        assert_eq!(d.unchanged, 3);
        assert_eq!(d.vanished, vec![6]);
    }
}
