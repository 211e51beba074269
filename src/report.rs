//! The run summary: the last line on stdout, one JSON object (SPEC §4), so Airflow's
//! BashOperator pushes it to XCom. Nothing else in igpipe writes to stdout.

use serde::Serialize;

/// Exit codes of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 0
    Ok,
    /// 1: the error is in `error`.
    Failed,
    /// 2: the command line was wrong (clap's message is in `error`).
    UsageError,
    /// 3: an error-level quality check failed.
    QualityFailed,
    /// 4: more rejected inputs than `--max-reject-ratio`; good rows were written.
    TooManyRejects,
    /// 99: the input for `--date` is absent and `--skip-if-missing` was given.
    Skipped,
}

impl Status {
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::UsageError => 2,
            Status::QualityFailed => 3,
            Status::TooManyRejects => 4,
            Status::Skipped => 99,
        }
    }
}

/// Counts that do not apply to a step stay 0.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub step: &'static str,
    pub date: String,
    pub run_id: String,
    pub status: Status,
    /// Objects the listing found under the step's input prefix.
    pub files_listed: u64,
    /// Listed keys that are not `.json` (`.DS_Store`, `_SUCCESS`, `x.json.tmp`).
    pub files_ignored: u64,
    /// JSON keys whose ETag/size match the manifest: not read.
    pub files_unchanged: u64,
    pub files_read: u64,
    /// Keys in the manifest that are no longer in the lake.
    pub files_vanished: u64,
    pub rejected: u64,
    /// Rows in the partition files this run wrote.
    pub rows_written: u64,
    /// Rows added or replaced, and rows removed because their key vanished.
    pub rows_upserted: u64,
    pub rows_deleted: u64,
    pub partitions_written: u64,
    pub partitions_deleted: u64,
    /// Staging: partitions the manifest points at that were missing or not Parquet, and
    /// were rebuilt from the lake.
    #[serde(skip_serializing_if = "is_zero")]
    pub partitions_repaired: u64,
    /// Temporary files of killed writes (`part-0.parquet#3`) removed from the outputs.
    #[serde(skip_serializing_if = "is_zero")]
    pub temp_files_removed: u64,
    /// Staging: rejected files of an earlier attempt of this step for this date that are
    /// still rejected (a retry reports them again, and exits 4 again).
    #[serde(skip_serializing_if = "is_zero")]
    pub rejected_before: u64,
    /// With `rejected_before`: the files the earlier attempts read, and the run whose
    /// rejects log lists those files (a retry writes no second copy of them).
    #[serde(skip_serializing_if = "is_zero")]
    pub files_read_before: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_from: Option<String>,
    pub seconds: f64,
    /// load-facts with --load-to: where, rows staged in the warehouse, rows merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSummary>,
    /// quality-check: checks run, failed (error level), warned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<CheckSummary>,
    /// Rejected inputs by kind of reason (numbers masked), for --metrics-file; not in the
    /// summary line (the rejects log has every reason).
    #[serde(skip)]
    pub rejects_by_reason: std::collections::BTreeMap<String, u64>,
    /// daily and backfill: each step they ran, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepOutcome>,
    /// backfill: dates skipped because their outputs were complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dates_skipped: Option<u64>,
    /// Warnings a reader of the summary should see (e.g. missing palette shards).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One step of a chain (daily, backfill), from its own summary.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub step: &'static str,
    pub date: String,
    pub status: Status,
    pub files_read: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepOutcome {
    pub fn of(report: &RunReport) -> StepOutcome {
        StepOutcome {
            step: report.step,
            date: report.date.clone(),
            status: report.status,
            files_read: report.files_read,
            rows_written: report.rows_written,
            rejected: report.rejected,
            seconds: report.seconds,
            error: report.error.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    /// The target, without secrets.
    pub target: String,
    pub rows_staged: u64,
    /// Rows inserted or replaced; None where the warehouse does not say (Redshift).
    pub rows_merged: Option<u64>,
    /// Time spent loading (connecting, staging, merging).
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    pub run: u64,
    pub failed: u64,
    pub warned: u64,
    pub report: String,
}

impl RunReport {
    pub fn new(step: &'static str, date: String, run_id: String) -> RunReport {
        RunReport {
            step,
            date,
            run_id,
            status: Status::Ok,
            files_listed: 0,
            files_ignored: 0,
            files_unchanged: 0,
            files_read: 0,
            files_vanished: 0,
            rejected: 0,
            rows_written: 0,
            rows_upserted: 0,
            rows_deleted: 0,
            partitions_written: 0,
            partitions_deleted: 0,
            partitions_repaired: 0,
            temp_files_removed: 0,
            rejected_before: 0,
            files_read_before: 0,
            rejects_from: None,
            seconds: 0.0,
            load: None,
            checks: None,
            rejects_by_reason: Default::default(),
            steps: Vec::new(),
            dates_skipped: None,
            warnings: Vec::new(),
            error: None,
        }
    }

    /// Counts `rows` into `rejects_by_reason`.
    pub fn count_rejects<'a>(&mut self, reasons: impl Iterator<Item = &'a str>) {
        for reason in reasons {
            *self
                .rejects_by_reason
                .entry(crate::page::reason_kind(reason))
                .or_default() += 1;
        }
    }

    /// Prints the summary as the last line on stdout.
    #[allow(clippy::print_stdout)]
    pub fn print(&self) {
        let line = serde_json::to_string(self).expect("a report always serialises");
        println!("{}", crate::redact::text(&line));
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A step that failed part-way, with the counts it had reached (the summary of a refused
/// delete says how many keys vanished). The cli takes the report out; the message is the
/// error's.
#[derive(Debug)]
pub struct StepFailure {
    pub report: Box<RunReport>,
    pub error: anyhow::Error,
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for StepFailure {}
