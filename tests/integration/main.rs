//! Integration tests: against a private Dovecot, and against a scripted fake IMAP server.

#[path = "../support/mod.rs"]
mod support;

mod clients;
mod crash;
mod daily;
mod faults;
mod guard;
mod harness;
mod hostile;
mod import;
mod incremental;
mod output;
mod security;
mod sync;
