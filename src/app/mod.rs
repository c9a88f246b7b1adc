//! The subcommands, and the errors that end a run before any folder is synced.

pub mod check;
pub mod generate;
pub mod list;
mod man_sections;
pub mod status;
pub mod sync;
mod table;

use crate::cli::{Cli, Command, ImportFrom};
use crate::config::{self, ConfigError};
use crate::log;
use std::path::PathBuf;
use std::time::Instant;

/// Errors that stop the whole run; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A bad command line (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A bad config (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else that stops the run (exit 1).
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked was done (or planned).
    Ok,
    /// At least one folder or channel failed.
    SomeFailed,
    /// Another mailferry holds a channel's lock.
    Locked,
}

/// The config file: `$MAILFERRY_CONFIG`, else `-c FILE`, else the XDG default.
fn config_path(cli: &Cli) -> PathBuf {
    if let Some(path) = std::env::var_os("MAILFERRY_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    cli.config.clone().unwrap_or_else(config::default_path)
}

/// Loads the config, warning when a file holding a password is readable by others.
fn load_config(cli: &Cli) -> Result<config::Config, AppError> {
    let path = config_path(cli);
    let config = config::load(&path)?;
    if let Some(warning) = config::permission_warning(&path, config.has_password()) {
        log::warn(&warning);
    }
    Ok(config)
}

pub fn run(cli: Cli) -> Result<Exit, AppError> {
    let verbosity = if cli.quiet {
        -1
    } else {
        i8::try_from(cli.verbose).unwrap_or(3)
    };
    log::set_verbosity(verbosity);
    match &cli.command {
        Command::Sync(args) => {
            let config = load_config(&cli)?;
            let started = Instant::now();
            let request = sync::SyncRequest {
                targets: args.targets.clone(),
                dry_run: args.dry_run,
                pull_only: args.pull,
                push_only: args.push,
                jobs: args.jobs.map(usize::from),
                force: args.force,
                report_actions: args.json,
            };
            let outcome = sync::run(&config, &request)?;
            if args.json {
                let json = serde_json::to_string_pretty(&outcome.report)
                    .map_err(|e| AppError::Failed(e.into()))?;
                println!("{json}");
            } else if verbosity >= 0 {
                print!("{}", outcome.report.human(started.elapsed().as_secs_f64()));
            }
            Ok(if outcome.report.totals.errors > 0 {
                Exit::SomeFailed
            } else if outcome.lock_busy {
                Exit::Locked
            } else {
                Exit::Ok
            })
        }
        Command::List(args) => list::run(
            &load_config(&cli)?,
            args.channel.as_deref(),
            args.paths,
            cli.quiet,
        ),
        Command::Status(args) => {
            status::run(&load_config(&cli)?, args.channel.as_deref(), cli.quiet)
        }
        Command::Check(args) => check::run(&load_config(&cli)?, args.channel.as_deref(), cli.quiet),
        Command::Import(args) => match &args.from {
            ImportFrom::Mbsync(m) => crate::import::run_mbsync(&crate::import::MbsyncRequest {
                mbsyncrc: m.mbsyncrc.clone(),
                write: m.write,
                config_path: config_path(&cli),
            }),
        },
        Command::Completions { shell } => {
            print!("{}", generate::completions(*shell));
            Ok(Exit::Ok)
        }
        Command::Man => {
            let page = generate::man_page().map_err(|e| AppError::Failed(e.into()))?;
            print!("{page}");
            Ok(Exit::Ok)
        }
    }
}
