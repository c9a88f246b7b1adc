//! Integration tests against a private Dovecot.

#[path = "../support/mod.rs"]
mod support;

mod crash;
mod daily;
mod guard;
mod harness;
mod sync;
