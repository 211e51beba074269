//! `--metrics-file PATH`: the step's figures in Prometheus' text format, for
//! node_exporter's textfile collector. One file may serve every step: a run replaces its
//! own step's samples and keeps the others', and the file is replaced atomically (written
//! beside it, then renamed), so the collector never reads half a file.

use crate::report::{RunReport, Status};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Reject reasons kept as separate label values per step; the rest count as "other", so
/// a lake with many kinds of broken files cannot blow up the metric's cardinality.
const MAX_REASONS: usize = 20;

const METRICS: [(&str, &str); 7] = [
    ("igpipe_last_run_status", "Exit code of the step's last run: 0 ok, 1 failed, 3 quality check failed, 4 too many rejects, 99 skipped."),
    ("igpipe_last_run_seconds", "Wall-clock seconds of the step's last run."),
    ("igpipe_last_run_files_read", "Input files (or images, downloads) the step's last run read."),
    ("igpipe_last_run_rows_written", "Rows the step's last run wrote."),
    ("igpipe_last_run_rejected", "Inputs the step's last run rejected."),
    ("igpipe_last_run_rejects", "Inputs the step's last run rejected, by reason (numbers masked)."),
    ("igpipe_last_success_timestamp_seconds", "Unix time at which the step last finished with exit 0."),
];

/// Updates `path` with `report`'s samples.
pub fn write(path: &Path, report: &RunReport, now_unix: f64) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = render(&old, report, now_unix);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("igpipe.prom");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, text).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("replacing {}", path.display()))
}

/// The new file: `old`'s samples of other steps, this step's new ones (its last success
/// time carried over when this run did not succeed).
pub fn render(old: &str, report: &RunReport, now_unix: f64) -> String {
    let step_label = format!("step=\"{}\"", escape(report.step));
    let mut samples: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in old
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let Some((name, _)) = line.split_once('{') else {
            continue;
        };
        let Some((metric, _)) = METRICS.iter().find(|(m, _)| *m == name) else {
            continue;
        };
        let ours = line.contains(&format!("{{{step_label}"));
        let keep = !ours
            || (report.status != Status::Ok && *metric == "igpipe_last_success_timestamp_seconds");
        if keep {
            samples.entry(metric).or_default().push(line.to_string());
        }
    }
    let mut add = |metric: &'static str, labels: String, value: String| {
        samples
            .entry(metric)
            .or_default()
            .push(format!("{metric}{{{labels}}} {value}"));
    };
    add(
        "igpipe_last_run_status",
        step_label.clone(),
        report.status.exit_code().to_string(),
    );
    add(
        "igpipe_last_run_seconds",
        step_label.clone(),
        format!("{:.3}", report.seconds),
    );
    add(
        "igpipe_last_run_files_read",
        step_label.clone(),
        report.files_read.to_string(),
    );
    add(
        "igpipe_last_run_rows_written",
        step_label.clone(),
        report.rows_written.to_string(),
    );
    add(
        "igpipe_last_run_rejected",
        step_label.clone(),
        report.rejected.to_string(),
    );
    for (reason, count) in bounded(&report.rejects_by_reason) {
        add(
            "igpipe_last_run_rejects",
            format!("{step_label},reason=\"{}\"", escape(&reason)),
            count.to_string(),
        );
    }
    if report.status == Status::Ok {
        add(
            "igpipe_last_success_timestamp_seconds",
            step_label,
            format!("{now_unix:.0}"),
        );
    }
    let mut out = String::new();
    for (metric, help) in METRICS {
        let Some(lines) = samples.get_mut(metric) else {
            continue;
        };
        lines.sort();
        out.push_str(&format!("# HELP {metric} {help}\n# TYPE {metric} gauge\n"));
        for line in lines.iter() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn bounded(reasons: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut by_count: Vec<(String, u64)> = reasons.iter().map(|(r, n)| (r.clone(), *n)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if by_count.len() > MAX_REASONS {
        let other: u64 = by_count[MAX_REASONS - 1..].iter().map(|(_, n)| n).sum();
        by_count.truncate(MAX_REASONS - 1);
        by_count.push(("other".into(), other));
    }
    by_count
}

/// A label value: backslash, quote and newline escaped, as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: &'static str, status: Status) -> RunReport {
        let mut r = RunReport::new(step, "2024-05-06".into(), "r1".into());
        r.status = status;
        r.files_read = 10;
        r.rows_written = 7;
        r.rejected = 3;
        r.seconds = 1.5;
        r.rejects_by_reason = [
            ("bad \"json\"".to_string(), 2),
            ("missing field `id`".to_string(), 1),
        ]
        .into();
        r
    }

    #[test]
    fn a_run_replaces_its_step_and_keeps_the_others() {
        let first = render("", &report("stage-posts", Status::Ok), 1000.0);
        assert!(
            first.contains("igpipe_last_run_rows_written{step=\"stage-posts\"} 7\n"),
            "{first}"
        );
        assert!(
            first.contains(
                "igpipe_last_run_rejects{step=\"stage-posts\",reason=\"bad \\\"json\\\"\"} 2\n"
            ),
            "{first}"
        );
        assert!(
            first.contains("igpipe_last_success_timestamp_seconds{step=\"stage-posts\"} 1000\n")
        );
        assert!(first.contains("# TYPE igpipe_last_run_status gauge\n"));

        let second = render(&first, &report("load-facts", Status::Ok), 2000.0);
        assert!(second.contains("igpipe_last_run_rows_written{step=\"stage-posts\"} 7\n"));
        assert!(
            second.contains("igpipe_last_success_timestamp_seconds{step=\"load-facts\"} 2000\n")
        );
        assert_eq!(second.matches("# HELP igpipe_last_run_status").count(), 1);

        // A failed run: its figures are replaced, its last success time stays.
        let failed = render(&second, &report("stage-posts", Status::Failed), 3000.0);
        assert!(
            failed.contains("igpipe_last_run_status{step=\"stage-posts\"} 1\n"),
            "{failed}"
        );
        assert!(
            failed.contains("igpipe_last_success_timestamp_seconds{step=\"stage-posts\"} 1000\n"),
            "{failed}"
        );
        assert_eq!(
            failed
                .matches("igpipe_last_run_rows_written{step=\"stage-posts\"}")
                .count(),
            1
        );
    }

    #[test]
    fn many_reasons_fold_into_other() {
        let mut r = report("stage-posts", Status::Ok);
        r.rejects_by_reason = (0..30).map(|i| (format!("reason {i:02}"), 1)).collect();
        let text = render("", &r, 0.0);
        assert_eq!(
            text.matches("igpipe_last_run_rejects{").count(),
            MAX_REASONS
        );
        assert!(text.contains("reason=\"other\"} 11\n"), "{text}");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("igpipe.prom");
        write(&path, &report("stage-stats", Status::Ok), 5.0).unwrap();
        write(&path, &report("stage-posts", Status::Ok), 6.0).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("step=\"stage-stats\"") && text.contains("step=\"stage-posts\""));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
