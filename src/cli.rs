//! The command line, defined once: the help text, the man page and the completions all
//! come from these doc comments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Two-way sync between an IMAP account and a local Maildir tree.
#[derive(Debug, Parser)]
#[command(name = "mailferry", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: $MAILFERRY_CONFIG, else $XDG_CONFIG_HOME/mailferry/config.toml)
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Print nothing but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail: -v folder decisions, -vv message actions, -vvv the IMAP conversation
    /// (passwords and AUTHENTICATE data masked, message bodies shown by size only)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync every channel, or only the TARGETs
    Sync(SyncArgs),
    /// Show the folder pairs: far name, near path, whether each side has the folder, and
    /// how many messages each side holds (asks the server)
    List(ListArgs),
    /// Show from the state alone, without the network: per folder the last sync (UTC),
    /// the pairs, the last error, and any run left unfinished
    Status(ChannelArg),
    /// Check each account a channel uses: config, address, TLS and the server's
    /// certificate, login, capabilities; syncs nothing, exits 1 naming the step that failed
    Check(ChannelArg),
    /// Convert another tool's config and sync state to mailferry's
    Import(ImportArgs),
    /// Print the completion script for SHELL
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// CHANNEL or CHANNEL:FOLDER (default: every channel)
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Work out and report what would change; change nothing anywhere
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as one JSON document on stdout
    #[arg(long)]
    pub json: bool,

    /// Only far -> near this run
    #[arg(long, conflicts_with = "push")]
    pub pull: bool,

    /// Only near -> far this run
    #[arg(long)]
    pub push: bool,

    /// Folders synced at once (overrides general.jobs)
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Carry out deletions that the mass-deletion guard held back
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this channel (default: every channel)
    #[arg(value_name = "CHANNEL")]
    pub channel: Option<String>,

    /// Print only the near folder directories that exist, one absolute path a line (for
    /// neomutt's `mailboxes`)
    #[arg(long)]
    pub paths: bool,
}

#[derive(Debug, Args)]
pub struct ChannelArg {
    /// Only this channel (default: every channel)
    #[arg(value_name = "CHANNEL")]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub from: ImportFrom,
}

#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// From mbsync (isync): print the equivalent config, or with --write write it and
    /// import mbsync's sync state, so the first sync downloads nothing again. Whatever
    /// does not carry over is warned about on stderr, naming the line
    Mbsync(MbsyncArgs),
}

#[derive(Debug, Args)]
pub struct MbsyncArgs {
    /// The mbsync config (default: $XDG_CONFIG_HOME/isyncrc, else ~/.mbsyncrc)
    #[arg(long, value_name = "FILE")]
    pub mbsyncrc: Option<PathBuf>,

    /// Write the config to the config path (never over an existing file) and import
    /// mbsync's sync state into the state directory
    #[arg(long)]
    pub write: bool,
}
