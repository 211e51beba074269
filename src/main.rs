//! The `igpipe` binary: parse the command line, run one step, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = match igpipe::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return std::process::ExitCode::from(igpipe::cli::usage_error(error)),
    };
    if !cli.command.decodes_images() {
        tune_allocator();
    }
    std::process::ExitCode::from(igpipe::cli::run(cli))
}

/// glibc raises its mmap threshold each time a large block is freed, after which Polars'
/// big column buffers come from the heap and stay resident when freed. A fixed 128 KiB
/// threshold keeps them mmapped and returned on free: on a 1.25M-file full load, peak
/// RSS 2.14 GiB → 1.77 GiB (bench/stage_posts.py). Not for the image steps: there every
/// image's multi-megabyte decode buffers would be fresh mmapped pages, faulted in and
/// zeroed each time, which cost color-palette a fifth of its CPU.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
