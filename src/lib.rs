//! mailferry: two-way sync between an IMAP account and a local Maildir tree.

pub mod app;
pub mod cli;
pub mod config;
pub mod exec;
pub mod failpoint;
pub mod flags;
pub mod import;
pub mod log;
pub mod mapping;
pub mod model;
pub mod pairkey;
pub mod plan;
pub mod progress;
pub mod report;
pub mod state;
pub mod store;
