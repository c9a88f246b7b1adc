//! Log lines on stderr, filtered by the run's verbosity (-q, default, -v, -vv, -vvv). Nothing
//! logged here ever carries a password: callers pass only names, counts and errors.
//! While progress bars are drawn, lines go above them (see [`crate::progress`]).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI8, Ordering};
use std::time::Instant;

static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// When the run began, for the seconds on `-vvv` lines.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// -1 for -q, 0 by default, 1 for -v, 2 for -vv, 3 for -vvv.
pub fn set_verbosity(level: i8) {
    STARTED.get_or_init(Instant::now);
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// An error: printed even with -q.
pub fn error(message: &str) {
    crate::progress::emit(&format!("mailferry: error: {message}"));
}

/// A warning: printed unless -q.
pub fn warn(message: &str) {
    if verbosity() >= 0 {
        crate::progress::emit(&format!("mailferry: warning: {message}"));
    }
}

/// A note for the user that is neither a warning nor an error: printed unless -q.
pub fn info(message: &str) {
    if verbosity() >= 0 {
        crate::progress::emit(&format!("mailferry: {message}"));
    }
}

/// A per-folder decision: printed with -v.
pub fn folder(message: &str) {
    if verbosity() >= 1 {
        crate::progress::emit(&format!("mailferry: {message}"));
    }
}

/// A line of the IMAP conversation (secrets already masked): printed with -vvv, after
/// the seconds since the run began (to see where a run waits).
pub fn trace(message: &str) {
    if verbosity() >= 3 {
        let seconds = STARTED.get_or_init(Instant::now).elapsed().as_secs_f64();
        crate::progress::emit(&format!("mailferry: {seconds:8.3} {message}"));
    }
}

/// A per-message action: printed with -vv.
pub fn message(message: &str) {
    if verbosity() >= 2 {
        crate::progress::emit(&format!("mailferry: {message}"));
    }
}
