//! Logs to stderr (human or `--log-format json`), and a progress bar on long work when
//! stderr is a terminal.

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global logger. `RUST_LOG` is not consulted: `--verbose`/`--quiet` decide.
pub fn init(format: LogFormat, level: tracing::Level) {
    let filter = EnvFilter::new(format!("igpipe={level},warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr_is_terminal())
        .with_writer(|| RedactingStderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// stderr, with every line passed through `redact::text` first (the logger hands each
/// event over in one write).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::redact::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether a progress bar may be drawn.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar that is a no-op when disabled, so callers need no branches.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Shown only when `enabled` and the work is long enough to be worth a bar.
    pub fn new(enabled: bool, total: u64, what: &'static str) -> Progress {
        if total < 1_000 {
            return Progress(None);
        }
        Progress::bar(
            enabled,
            total,
            what,
            "{msg} {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        )
    }

    /// Shown whenever `enabled`, however few the items (dates of a backfill).
    pub fn for_items(enabled: bool, total: u64, what: &'static str) -> Progress {
        Progress::bar(
            enabled,
            total,
            what,
            "{msg} {bar:40} {pos}/{len} (eta {eta})",
        )
    }

    fn bar(enabled: bool, total: u64, what: &'static str, template: &str) -> Progress {
        if !enabled {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template(template).expect("progress template"));
        bar.set_message(what);
        Progress(Some(bar))
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Resident memory of this process in MiB (Linux), for `-v` logs of long steps.
pub fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}
