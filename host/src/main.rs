//! The `computehub` binary: see [`computehub::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    computehub::memory::configure();
    let cli = computehub::cli::Cli::parse();
    match computehub::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
