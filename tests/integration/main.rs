//! Integration tests against a private Dovecot.

#[path = "../support/mod.rs"]
mod support;

mod crash;
mod guard;
mod harness;
mod sync;
