//! quality-check's pure core: named checks with a severity over the tables of one date, and
//! the report they make (`marts/quality/date=D/report.json`, a table on stderr).
//!
//! Each check function takes frames and returns a `Check`; none reads the lake, so each is
//! tested on frames built in the test. `commands/quality_check.rs` gathers the frames.

pub mod checks;

use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure makes quality-check exit 3.
    Error,
    /// Reported, never fails the run.
    Warn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// The table it needs is absent; another check reports that.
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable, dotted: `<table>.<what>`, e.g. `history.lists_aligned`.
    pub name: String,
    pub severity: Severity,
    pub outcome: Outcome,
    /// What was found, in a sentence: counts, and an example offender on failure.
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, severity: Severity, failed: bool, detail: String) -> Check {
        Check {
            name: name.to_string(),
            severity,
            outcome: if failed { Outcome::Fail } else { Outcome::Pass },
            detail,
        }
    }

    pub fn skip(name: &str, severity: Severity, why: &str) -> Check {
        Check {
            name: name.to_string(),
            severity,
            outcome: Outcome::Skip,
            detail: why.to_string(),
        }
    }

    pub fn is_error_failure(&self) -> bool {
        self.outcome == Outcome::Fail && self.severity == Severity::Error
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    /// `passed`, `passed_with_warnings` or `failed`.
    pub status: &'static str,
    pub failed: usize,
    pub warned: usize,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(date: String, checks: Vec<Check>) -> Report {
        let failed = checks.iter().filter(|c| c.is_error_failure()).count();
        let warned = checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail && c.severity == Severity::Warn)
            .count();
        let status = match (failed, warned) {
            (0, 0) => "passed",
            (0, _) => "passed_with_warnings",
            _ => "failed",
        };
        Report {
            date,
            status,
            failed,
            warned,
            checks,
        }
    }

    /// The table printed to stderr: one line per check, failures marked.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = format!("{:<4}  {:<5}  {:<width$}  detail\n", "", "level", "check");
        for c in &self.checks {
            let mark = match (c.outcome, c.severity) {
                (Outcome::Pass, _) => "ok",
                (Outcome::Skip, _) => "skip",
                (Outcome::Fail, Severity::Error) => "FAIL",
                (Outcome::Fail, Severity::Warn) => "warn",
            };
            let level = match c.severity {
                Severity::Error => "error",
                Severity::Warn => "warn",
            };
            let _ = writeln!(
                out,
                "{mark:<4}  {level:<5}  {:<width$}  {}",
                c.name, c.detail
            );
        }
        let _ = write!(
            out,
            "{} checks: {} failed, {} warnings → {}",
            self.checks.len(),
            self.failed,
            self.warned,
            self.status
        );
        out
    }
}
