//! The `igpipe` binary: parse the command line, run one step, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = igpipe::cli::Cli::parse();
    std::process::ExitCode::from(igpipe::cli::run(cli))
}
