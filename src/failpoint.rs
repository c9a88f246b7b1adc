//! A test-only fail point: with `MAILFERRY_FAILPOINT=N` in the environment, the process
//! aborts (no cleanup, as with kill -9) right after its N-th side effect — a journal
//! record, a state save, or a change to either store. Tests use it to interrupt a sync
//! after every step; users never set it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
static COUNT: AtomicU64 = AtomicU64::new(0);

/// Counts one side effect that has just happened; aborts when it is the N-th.
pub fn hit() {
    let limit = LIMIT.get_or_init(|| {
        std::env::var("MAILFERRY_FAILPOINT")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(limit) = limit {
        let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        if n == *limit {
            eprintln!("mailferry: fail point: aborting after side effect {n}");
            std::process::abort();
        }
    }
}
