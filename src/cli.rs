//! The command line: global flags, the subcommands, and dispatch.

use crate::commands::aggregate_posts::AggregateArgs;
use crate::commands::chain::{BackfillArgs, DailyArgs};
use crate::commands::color_palette::PaletteArgs;
use crate::commands::fetch_media::FetchArgs;
use crate::commands::load_facts::LoadArgs;
use crate::commands::quality_check::QualityArgs;
use crate::commands::report::ReportArgs;
use crate::commands::{self, Context, StageArgs};
use crate::report::{RunReport, Status};
use crate::settings::S3Settings;
use crate::telemetry::{self, LogFormat};
use clap::{Parser, Subcommand};

const ABOUT: &str = "\
igpipe turns an Instagram Graph API data lake (JSON written daily by the agency's API
client) into Parquet tables and a per-creator fact table. Each subcommand is one step for
one logical date; Airflow, cron or a person at a terminal calls them the same way.

Every step prints a one-line JSON summary as the last line on stdout and logs to stderr.
Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 quality check failed, 4 too many
rejected inputs, 99 input for --date absent with --skip-if-missing.

S3 (and MinIO or other S3-compatible servers) is configured only from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION; default
us-east-1), AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL) and AWS_ALLOW_HTTP=true.";

const EXAMPLES: &str = "\
Examples:
  # Stage yesterday's changes from an S3 lake:
  igpipe stage-stats --lake s3://agency-lake/raw --date 2024-05-01
  igpipe stage-posts --lake s3://agency-lake/raw --date 2024-05-01

  # The bundled fixtures, outputs to a scratch folder:
  igpipe stage-posts --lake fixtures/lake --out /tmp/igpipe-out --date 2024-05-01";

#[derive(Debug, Parser)]
#[command(name = "igpipe", version, about = ABOUT, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    /// Log format on stderr. Default: text on a terminal, json otherwise (Airflow, cron).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// More detail in the logs (debug level).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// Only warnings and errors in the logs.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also write the step's figures to this file in Prometheus' text format (for
    /// node_exporter's textfile collector): status, seconds, files read, rows written,
    /// rejects by reason, last success time. Several steps may share one file.
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<std::path::PathBuf>,

    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Read local folders through object_store instead of the std::fs fast path
    /// (for benchmarks and debugging).
    #[arg(long, global = true, hide = true)]
    pub no_local_fast_path: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stage per-user daily stats: instagram_graph/stats/<user>/<date>.json →
    /// staging/user_stats/date=D/. Incremental: only new or changed files are read.
    #[command(after_help = "\
Reads   instagram_graph/stats/<user_id>/<YYYY-MM-DD>.json (every new or changed file,
        whatever its date; --date names the run)
Writes  staging/user_stats/date=D/part-0.parquet (only the dates that changed)
        staging/_manifest/stats.parquet, staging/rejects/date=<--date>/stage-stats-<run>.parquet

Example:
  igpipe stage-stats --lake s3://agency-lake/raw --date 2024-05-01 --skip-if-missing")]
    StageStats(StageArgs),

    /// Stage posts: instagram_graph/posts/<user>/<post>.json → staging/posts/post_month=M/.
    /// Incremental: only new or changed files are read, only affected months rewritten.
    #[command(after_help = "\
Reads   instagram_graph/posts/<user_id>/<post_id>.json (new or changed files only)
Writes  staging/posts/post_month=YYYY-MM/part-0.parquet (latest version of each post_id;
        only the months that changed), staging/_manifest/posts.parquet,
        staging/rejects/date=<--date>/stage-posts-<run>.parquet

Example:
  igpipe stage-posts --lake s3://agency-lake/raw --date 2024-05-01")]
    StagePosts(StageArgs),

    /// Download the images of the last 30 days' staged posts into the image store
    /// (instagram_graph_image_store/<user>/<post>/), skipping those already there.
    #[command(after_help = "\
Reads   staging/posts/post_month=YYYY-MM/ (the window's months); the image store's listing
Writes  instagram_graph_image_store/<user_id>/<post_id>/original.<ext> (IMAGE, STORY_IMAGE),
        <child_id>.<ext> (carousel image children), thumbnail.<ext> (VIDEO, STORY_VIDEO);
        staging/rejects/date=D/fetch-media-<run>.parquet (failed downloads, URL without query)

Example:
  igpipe fetch-media --lake s3://agency-lake/raw --date 2024-05-06 --concurrency 128")]
    FetchMedia(FetchArgs),

    /// Aggregate each creator's posts over the window ending on --date: post counts,
    /// engagement means, top hashtags → marts/post_aggregates/date=D/.
    #[command(after_help = "\
Reads   staging/posts/post_month=YYYY-MM/part-*.parquet (only the months the window touches)
Writes  marts/post_aggregates/date=D/part-0.parquet (one row per creator with a post whose
        UTC date is in [D-W+1, D]; rewritten whole on every run)

Example:
  igpipe aggregate-posts --lake s3://agency-lake/raw --date 2024-05-06")]
    AggregatePosts(AggregateArgs),

    /// The colour palette of each creator's recent images (k-means, 6 colours) →
    /// marts/palettes/date=D/, which load-facts joins into the fact table's colors.
    #[command(after_help = "\
Reads   staging/posts (post ids and timestamps of every month up to --date), each creator's
        folder of the image store: the images of their 25 newest posts that have any
Writes  marts/palettes/date=D/part-0.parquet (part-<I>-of-<N>.parquet with --shard I/N),
        staging/rejects/date=D/color-palette-<run>.parquet (images that did not decode)

Examples:
  igpipe color-palette --lake s3://agency-lake/raw --date 2024-05-06
  # One of four workers (the weekly DAG maps this over I = 0..3):
  igpipe color-palette --lake s3://agency-lake/raw --date 2024-05-06 --shard 1/4")]
    ColorPalette(PaletteArgs),

    /// Build the fact table for --date (30 days of followers, impressions and reach, post
    /// engagement, palette) → marts/history/date=D/, and load it into a warehouse.
    #[command(after_help = "\
Reads   staging/user_stats/date=*/ (the window's dates), marts/post_aggregates/date=D/ (must
        exist: run aggregate-posts first), the newest marts/palettes/date=*/ dated <= D
Writes  marts/history/date=D/part-0.parquet; with --load-to, the warehouse table `history`
        (one row per creator, newest as_of; an older date never overwrites a newer row)

Examples:
  igpipe load-facts --lake fixtures/lake --out /tmp/out --date 2024-05-06
  IGPIPE_LOAD_TO='postgres://etl:secret@localhost:5432/analytics' \\
    igpipe load-facts --lake s3://agency-lake/raw --date 2024-05-06
  IGPIPE_LOAD_TO='redshift-data://cluster/analytics/dev?db_user=etl&iam_role=arn:aws:iam::123456789012:role/redshift-copy' \\
    igpipe load-facts --lake s3://agency-lake/raw --date 2024-05-06")]
    LoadFacts(LoadArgs),

    /// Check every table for --date: partitions present, keys unique, values in range,
    /// lists aligned, freshness, reject ratios, the warehouse's row count. Exit 3 when an
    /// error-level check fails.
    #[command(after_help = "\
Reads   staging/user_stats/date=D/, staging/posts (the window's months), the staging
        manifests, marts/post_aggregates/date=D/, marts/history/date=D/, the newest
        marts/palettes/date=*/ dated <= D; with --load-to, the warehouse's history
Writes  marts/quality/date=D/report.json; a table of the checks on stderr

Exit codes: 0 every error-level check passed (warnings allowed), 3 one or more failed,
1 the check itself could not run (e.g. the warehouse is unreachable).

Example:
  igpipe quality-check --lake s3://agency-lake/raw --date 2024-05-06")]
    QualityCheck(QualityArgs),

    /// Write marts/quality/date=D/report.html: the date's runs, rejects by reason, the
    /// quality checks, and the most followed creators with their 30-day followers and
    /// palette. One self-contained page (no scripts, fonts or CDNs): open it in a browser.
    #[command(after_help = "\
Reads   _runs/date=D/ (the run log), staging/rejects/date=D/, marts/quality/date=D/report.json,
        marts/history/date=D/
Writes  marts/quality/date=D/report.html

Example:
  igpipe report --lake s3://agency-lake/raw --date 2024-05-06 --creators 50")]
    Report(ReportArgs),

    /// The daily chain for --date in one command (for cron and a terminal): stage-stats →
    /// stage-posts → fetch-media → aggregate-posts → load-facts → quality-check, stopping
    /// at the first step that does not exit 0 (fetch-media's failure only is passed over),
    /// with that step's exit code.
    #[command(after_help = "\
Each step runs as its own subcommand would (same defaults, its own entry in the run log
_runs/date=D/<step>-<run>.json); the summary line lists every step's outcome.

Examples:
  igpipe daily --lake s3://agency-lake/raw --date 2024-05-06
  igpipe daily --lake fixtures/lake --out /tmp/out --date 2024-05-06 \\
    --steps stage-stats,stage-posts,aggregate-posts,color-palette,load-facts,quality-check")]
    Daily(DailyArgs),

    /// Run steps for every date from --from to --to, oldest first, with a progress bar.
    /// Resumable: dates whose outputs are complete are skipped (and said so); a failure
    /// stops the backfill, and a re-run resumes at that date.
    #[command(after_help = "\
A date is complete when every step's latest run for it in the run log succeeded and its
output (post aggregates, palettes, history, the quality report) still exists. Default
steps: stage-stats, stage-posts, aggregate-posts, load-facts, quality-check (fetch-media
left out: old posts' CDN links have expired).

Examples:
  igpipe backfill --lake s3://agency-lake/raw --from 2024-04-01 --to 2024-04-30
  IGPIPE_LOAD_TO=postgres://etl@db/analytics igpipe backfill --lake s3://agency-lake/raw \\
    --from 2024-04-01 --to 2024-04-30 --steps aggregate-posts,load-facts")]
    Backfill(BackfillArgs),
}

impl Command {
    /// Whether the step spends its time decoding images rather than in Polars (main.rs
    /// tunes the allocator for the Polars steps only).
    pub fn decodes_images(&self) -> bool {
        matches!(self, Command::ColorPalette(_) | Command::FetchMedia(_))
    }

    /// Every step's --lake, --out, --date and --run-id; None for the chains.
    fn lake_args_mut(&mut self) -> Option<&mut commands::LakeArgs> {
        Some(match self {
            Command::StageStats(a) => &mut a.lake,
            Command::StagePosts(a) => &mut a.lake,
            Command::FetchMedia(a) => &mut a.lake,
            Command::AggregatePosts(a) => &mut a.lake,
            Command::LoadFacts(a) => &mut a.lake,
            Command::ColorPalette(a) => &mut a.lake,
            Command::QualityCheck(a) => &mut a.lake,
            Command::Report(a) => &mut a.lake,
            Command::Daily(_) | Command::Backfill(_) => return None,
        })
    }

    fn step(&self) -> (&'static str, String) {
        match self {
            Command::Daily(a) => ("daily", a.date.to_string()),
            Command::Backfill(a) => ("backfill", format!("{}..{}", a.from, a.to)),
            Command::StageStats(a) => ("stage-stats", a.lake.date.to_string()),
            Command::StagePosts(a) => ("stage-posts", a.lake.date.to_string()),
            Command::AggregatePosts(a) => {
                (commands::aggregate_posts::STEP, a.lake.date.to_string())
            }
            Command::FetchMedia(a) => (commands::fetch_media::STEP, a.lake.date.to_string()),
            Command::LoadFacts(a) => (commands::load_facts::STEP, a.lake.date.to_string()),
            Command::ColorPalette(a) => (commands::color_palette::STEP, a.lake.date.to_string()),
            Command::QualityCheck(a) => (commands::quality_check::STEP, a.lake.date.to_string()),
            Command::Report(a) => (commands::report::STEP, a.lake.date.to_string()),
        }
    }
}

/// Runs the command, prints the summary line, and returns the process exit code.
pub fn run(mut cli: Cli) -> u8 {
    let level = match (cli.verbose, cli.quiet) {
        (true, _) => tracing::Level::DEBUG,
        (_, true) => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    let format = cli
        .log_format
        .unwrap_or(if telemetry::stderr_is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        });
    telemetry::init(format, level);
    let ctx = Context {
        s3: S3Settings::from_env(),
        progress: !cli.no_progress && telemetry::stderr_is_terminal(),
        local_fast_path: !cli.no_local_fast_path,
        metrics_file: cli.metrics_file.clone(),
    };
    ctx.s3.register_secrets();
    tracing::debug!(s3 = ?ctx.s3, "Settings.");
    let report = execute(&mut cli.command, &ctx);
    report.print();
    report.status.exit_code()
}

/// A command line clap refused (or `--help`, `--version`): prints clap's message, and for a
/// real usage error also the summary line (status `usage_error`), so an orchestrator that
/// reads the last line of stdout sees what went wrong. Returns the exit code.
pub fn usage_error(error: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let _ = error.print();
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return 0;
    }
    use clap::CommandFactory;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let step = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .find(|name| args.contains(name))
        .map_or("igpipe", |name| &*Box::leak(name.into_boxed_str()));
    let date = args
        .iter()
        .position(|a| a == "--date")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    let mut report = RunReport::new(step, date, String::new());
    report.status = Status::UsageError;
    let rendered = error.render().to_string();
    let first_line = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    report.error = Some(first_line.trim_start_matches("error: ").to_string());
    report.print();
    report.status.exit_code()
}

/// A step's own command line, parsed as `igpipe <step> …` would be (the chains run their
/// steps through this, so a step behaves the same from a chain and from a terminal).
#[derive(Debug, Parser)]
#[command(name = "igpipe")]
struct StepLine {
    #[command(subcommand)]
    command: Command,
}

/// Runs one step from its arguments (without the program name) and returns its summary,
/// logged in the run log like any run.
pub fn run_step(argv: &[String], ctx: &Context) -> RunReport {
    let line = std::iter::once("igpipe".to_string()).chain(argv.iter().cloned());
    match StepLine::try_parse_from(line) {
        Ok(mut step) => execute(&mut step.command, ctx),
        Err(error) => {
            // A chain builds these lines itself: a parse error is igpipe's bug.
            let mut failed = RunReport::new("unknown", String::new(), commands::run_id(None));
            failed.status = Status::Failed;
            // Only the step and the kind of error: the arguments may hold a --load-to URL.
            let step = argv.first().map_or("", String::as_str);
            failed.error = Some(format!(
                "the chain built an invalid command line for {step}: {:?}",
                error.kind()
            ));
            failed
        }
    }
}

/// Runs a command and returns its summary; a step's is also kept in the run log.
fn execute(command: &mut Command, ctx: &Context) -> RunReport {
    let started = std::time::Instant::now();
    // One run id for the step, its rejects file and its run-log entry, failed or not.
    let run_id = match command.lake_args_mut() {
        Some(lake_args) => {
            let id = commands::run_id(lake_args.run_id.as_deref());
            lake_args.run_id = Some(id.clone());
            id
        }
        None => String::new(),
    };
    // A panic is igpipe's bug, but the orchestrator still gets a summary line and exit 1.
    let dispatched =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&*command, ctx)));
    let result = dispatched.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(anyhow::anyhow!(
            "igpipe panicked (a bug; please report it with this run's log): {message}"
        ))
    });
    let report = result.unwrap_or_else(|error| {
        tracing::error!("{error:#}");
        // A step that failed part-way hands back the counts it had reached.
        let mut failed = match error.downcast_ref::<crate::report::StepFailure>() {
            Some(partial) => (*partial.report).clone(),
            None => {
                let (step, date) = command.step();
                RunReport::new(step, date, run_id)
            }
        };
        failed.status = Status::Failed;
        failed.error = Some(format!("{error:#}"));
        if failed.seconds == 0.0 {
            failed.seconds = started.elapsed().as_secs_f64();
        }
        failed
    });
    if let Some(lake_args) = command.lake_args_mut() {
        log_run(lake_args, ctx, &report);
        if let Some(path) = &ctx.metrics_file {
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            if let Err(error) = crate::metrics::write(path, &report, now) {
                tracing::warn!("Could not write the metrics file: {error:#}");
            }
        }
    }
    report
}

fn dispatch(command: &Command, ctx: &Context) -> anyhow::Result<RunReport> {
    match command {
        Command::StageStats(args) => commands::stage_stats::run(args, ctx),
        Command::StagePosts(args) => commands::stage_posts::run(args, ctx),
        Command::FetchMedia(args) => commands::fetch_media::run(args, ctx),
        Command::AggregatePosts(args) => commands::aggregate_posts::run(args, ctx),
        Command::ColorPalette(args) => commands::color_palette::run(args, ctx),
        Command::LoadFacts(args) => commands::load_facts::run(args, ctx),
        Command::QualityCheck(args) => commands::quality_check::run(args, ctx),
        Command::Report(args) => commands::report::run(args, ctx),
        Command::Daily(args) => commands::chain::daily(args, ctx),
        Command::Backfill(args) => commands::chain::backfill(args, ctx),
    }
}

/// Keeps the summary in the run log. A log that cannot be written (the output root is the
/// very thing that failed, say) is a warning: the step's own outcome stands.
fn log_run(lake: &commands::LakeArgs, ctx: &Context, report: &RunReport) {
    let written = lake
        .open_existing_output(ctx)
        .and_then(|out| crate::run_log::write(&out, report).map(|key| out.describe(&key)));
    match written {
        Ok(object) => tracing::debug!(%object, "Logged the run."),
        Err(error) => tracing::warn!("Could not write the run log: {error:#}"),
    }
}
