//! `igpipe daily` (the daily chain in one command, for cron and a terminal) and `igpipe
//! backfill` (a range of dates, resumable). Each step runs exactly as its own subcommand
//! would, with its own summary in the run log; the chain prints one summary of its own.

use super::{parse_date, Context};
use crate::report::{RunReport, Status, StepOutcome};
use crate::telemetry::Progress;
use crate::{run_log, tables};
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args;
use std::time::Instant;
use tracing::info;

/// What the daily DAG runs, in order.
pub const DAILY_STEPS: [&str; 6] = [
    "stage-stats",
    "stage-posts",
    "fetch-media",
    "aggregate-posts",
    "load-facts",
    "quality-check",
];

/// A backfill's default: the daily chain without fetch-media (old posts' CDN links have
/// expired; add it with --steps when they have not).
pub const BACKFILL_STEPS: [&str; 5] = [
    "stage-stats",
    "stage-posts",
    "aggregate-posts",
    "load-facts",
    "quality-check",
];

const KNOWN_STEPS: [&str; 7] = [
    "stage-stats",
    "stage-posts",
    "fetch-media",
    "aggregate-posts",
    "color-palette",
    "load-facts",
    "quality-check",
];

/// Options both chains pass on to their steps.
#[derive(Debug, Clone, Args)]
pub struct ChainOptions {
    /// Root of the raw lake: s3://bucket/prefix, file:///abs/path or a plain path.
    #[arg(long, value_name = "URL")]
    pub lake: String,

    /// Root for igpipe's outputs. Default: the lake root.
    #[arg(long, value_name = "URL")]
    pub out: Option<String>,

    /// Steps to run, comma-separated, in the order given (any of stage-stats, stage-posts,
    /// fetch-media, aggregate-posts, color-palette, load-facts, quality-check).
    #[arg(long, value_name = "STEP,…", value_delimiter = ',', value_parser = parse_step)]
    pub steps: Option<Vec<String>>,

    /// Passed to load-facts and quality-check (or set IGPIPE_LOAD_TO).
    #[arg(
        long,
        value_name = "URL",
        env = "IGPIPE_LOAD_TO",
        hide_env_values = true
    )]
    pub load_to: Option<String>,

    /// Names every step's run (run log, rejects). Default: the UTC start time and pid.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DailyArgs {
    #[command(flatten)]
    pub chain: ChainOptions,

    /// The logical date, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: NaiveDate,

    /// Exit 99 and run nothing further when the lake has no stats for --date
    /// (stage-stats --skip-if-missing).
    #[arg(long)]
    pub skip_if_missing: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub chain: ChainOptions,

    /// First date, YYYY-MM-DD.
    #[arg(long = "from", value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,

    /// Last date (included).
    #[arg(long = "to", value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,

    /// Run dates whose outputs are already complete too.
    #[arg(long)]
    pub force: bool,
}

fn parse_step(text: &str) -> Result<String, String> {
    let step = text.trim();
    if KNOWN_STEPS.contains(&step) {
        Ok(step.to_string())
    } else {
        Err(format!(
            "unknown step {step:?} (one of {})",
            KNOWN_STEPS.join(", ")
        ))
    }
}

impl ChainOptions {
    fn steps_or(&self, default: &[&str]) -> Vec<String> {
        match &self.steps {
            Some(steps) => steps.clone(),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The step's command line, as a person would type it.
    fn argv(
        &self,
        step: &str,
        date: NaiveDate,
        run_id: &str,
        skip_if_missing: bool,
    ) -> Vec<String> {
        let mut argv: Vec<String> = vec![step.into(), "--lake".into(), self.lake.clone()];
        if let Some(out) = &self.out {
            argv.extend(["--out".into(), out.clone()]);
        }
        argv.extend([
            "--date".into(),
            date.to_string(),
            "--run-id".into(),
            run_id.into(),
        ]);
        if let (Some(url), "load-facts" | "quality-check") = (&self.load_to, step) {
            argv.extend(["--load-to".into(), url.clone()]);
        }
        if skip_if_missing && step == "stage-stats" {
            argv.push("--skip-if-missing".into());
        }
        argv
    }
}

/// Runs `steps` for `date`, stopping at the first that does not exit 0 (but for
/// fetch-media).
fn run_date(
    opts: &ChainOptions,
    steps: &[String],
    date: NaiveDate,
    run_id: &str,
    skip_if_missing: bool,
    ctx: &Context,
) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    for step in steps {
        info!(step = %step, date = %date, "Running.");
        let report = crate::cli::run_step(&opts.argv(step, date, run_id, skip_if_missing), ctx);
        let outcome = StepOutcome::of(&report);
        info!(step = %step, status = ?report.status, seconds = format!("{:.2}", report.seconds), "Finished.");
        outcomes.push(outcome);
        // Images only feed the weekly palettes: a CDN outage must not hold up the fact
        // table. The chain still ends with fetch-media's exit code.
        if report.status != Status::Ok && step != "fetch-media" {
            break;
        }
    }
    outcomes
}

/// The chain's summary: the last step's status, counts summed over the steps.
fn summarise(
    name: &'static str,
    date: String,
    run_id: String,
    outcomes: Vec<StepOutcome>,
    started: Instant,
) -> RunReport {
    let mut report = RunReport::new(name, date, run_id);
    report.status = outcomes
        .iter()
        .map(|o| o.status)
        .find(|s| *s != Status::Ok)
        .unwrap_or(Status::Ok);
    if let Some(failed) = outcomes.iter().find(|o| o.status != Status::Ok) {
        report.error = failed
            .error
            .as_ref()
            .map(|e| format!("{} for {}: {e}", failed.step, failed.date));
    }
    report.rows_written = outcomes.iter().map(|o| o.rows_written).sum();
    report.rejected = outcomes.iter().map(|o| o.rejected).sum();
    report.steps = outcomes;
    report.seconds = started.elapsed().as_secs_f64();
    report
}

pub fn daily(args: &DailyArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let run_id = super::run_id(args.chain.run_id.as_deref());
    let steps = args.chain.steps_or(&DAILY_STEPS);
    let outcomes = run_date(
        &args.chain,
        &steps,
        args.date,
        &run_id,
        args.skip_if_missing,
        ctx,
    );
    Ok(summarise(
        "daily",
        args.date.to_string(),
        run_id,
        outcomes,
        started,
    ))
}

pub fn backfill(args: &BackfillArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    if args.to < args.from {
        bail!("--to {} is before --from {}", args.to, args.from);
    }
    let run_id = super::run_id(args.chain.run_id.as_deref());
    let steps = args.chain.steps_or(&BACKFILL_STEPS);
    let dates: Vec<NaiveDate> = args
        .from
        .iter_days()
        .take_while(|d| *d <= args.to)
        .collect();
    let out = crate::lake::Lake::open(
        args.chain.out.as_deref().unwrap_or(&args.chain.lake),
        &ctx.s3,
        true,
        ctx.local_fast_path,
    )?;
    let progress = Progress::for_items(ctx.progress, dates.len() as u64, "dates");
    let mut outcomes = Vec::new();
    let mut skipped = 0;
    for date in &dates {
        if !args.force && complete(&out, *date, &steps)? {
            info!(date = %date, "Already complete (every step's latest run succeeded and its output exists): skipped. --force runs it again.");
            skipped += 1;
            progress.inc(1);
            continue;
        }
        let ran = run_date(&args.chain, &steps, *date, &run_id, false, ctx);
        let failed = ran.iter().any(|o| o.status != Status::Ok);
        outcomes.extend(ran);
        progress.inc(1);
        if failed {
            break; // a re-run resumes here: the dates before are complete
        }
    }
    progress.finish();
    let label = format!("{}..{}", args.from, args.to);
    let mut report = summarise("backfill", label, run_id, outcomes, started);
    report.dates_skipped = Some(skipped);
    info!(dates = dates.len(), skipped, "Backfill finished.");
    Ok(report)
}

/// Whether every step's latest run for `date` succeeded and, for the mart steps, its
/// output is still there.
fn complete(out: &crate::lake::Lake, date: NaiveDate, steps: &[String]) -> Result<bool> {
    let day = date.to_string();
    for step in steps {
        let succeeded = run_log::latest(out, &day, step)?.is_some_and(|run| run["status"] == "ok");
        if !succeeded {
            return Ok(false);
        }
        let output = match step.as_str() {
            "aggregate-posts" => Some("marts/post_aggregates"),
            "color-palette" => Some("marts/palettes"),
            "load-facts" => Some("marts/history"),
            _ => None,
        };
        if let Some(table) = output {
            if tables::part_keys(out, &tables::partition_dir(table, "date", &day))?.is_empty() {
                return Ok(false);
            }
        }
        if step == "quality-check"
            && out
                .get_opt(&format!("marts/quality/date={day}/report.json"))?
                .is_none()
        {
            return Ok(false);
        }
    }
    Ok(true)
}
