//! The `igpipe` binary: parse the command line, run one step, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = igpipe::cli::Cli::parse();
    std::process::ExitCode::from(igpipe::cli::run(cli))
}

/// glibc raises its mmap threshold each time a large block is freed, after which Polars'
/// big column buffers come from the heap and stay resident when freed. A fixed 128 KiB
/// threshold keeps them mmapped and returned on free: on a 1.25M-file full load, peak
/// RSS 2.14 GiB → 1.77 GiB (bench/stage_posts.py).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
