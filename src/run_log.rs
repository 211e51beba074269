//! The run log: every step's summary, also kept in the output root as
//! `_runs/date=D/<step>-<run_id>.json` (SPEC §2), one small object per run id (a run id
//! given twice replaces its entry: the DAG adds the try number), so the history of runs
//! can be read without Airflow.

use crate::lake::Lake;
use crate::report::RunReport;
use anyhow::Result;

pub const PREFIX: &str = "_runs";

/// `_runs/date=D/<step>-<run_id>.json`.
pub fn key(report: &RunReport) -> String {
    format!(
        "{PREFIX}/date={}/{}-{}.json",
        report.date, report.step, report.run_id
    )
}

/// Puts the summary (the same JSON as the summary line) under `key(report)`.
pub fn write(out: &Lake, report: &RunReport) -> Result<String> {
    let key = key(report);
    let json = serde_json::to_string(report)?;
    out.put(&key, crate::redact::text(&json).as_bytes().to_vec())?;
    Ok(key)
}

/// The summary of the step's most recent run for `date` (the newest object among
/// `_runs/date=D/<step>-*.json`), or None if the step has not run for that date.
pub fn latest(out: &Lake, date: &str, step: &str) -> Result<Option<serde_json::Value>> {
    let (objects, _) = out.list_dir(&format!("{PREFIX}/date={date}"))?;
    let head = format!("{step}-");
    let newest = objects
        .into_iter()
        .filter(|o| {
            let name = o.key.rsplit('/').next().unwrap_or_default();
            name.starts_with(&head) && name.ends_with(".json")
        })
        .max_by(|a, b| (a.last_modified_us, &a.key).cmp(&(b.last_modified_us, &b.key)));
    let Some(newest) = newest else {
        return Ok(None);
    };
    let Some(bytes) = out.get_opt(&newest.key)? else {
        return Ok(None);
    };
    let summary = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a run summary ({e})", out.describe(&newest.key)))?;
    Ok(Some(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_per_step_and_run_under_the_date() {
        let report = RunReport::new("load-facts", "2024-05-06".into(), "manual_1".into());
        assert_eq!(
            key(&report),
            "_runs/date=2024-05-06/load-facts-manual_1.json"
        );
    }
}
