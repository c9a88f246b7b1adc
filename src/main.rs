//! The mailferry binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use mailferry::app::{self, AppError, Exit};
use mailferry::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match app::run(cli) {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::SomeFailed) => ExitCode::from(1),
        Ok(Exit::Locked) => ExitCode::from(75),
        Err(error) => {
            eprintln!("mailferry: {error}");
            match error {
                AppError::Usage(_) | AppError::Config(_) => ExitCode::from(2),
                AppError::Failed(_) => ExitCode::from(1),
            }
        }
    }
}
