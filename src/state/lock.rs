//! One mailferry at a time per channel: an exclusive lock on `<state_dir>/<channel>.lock`,
//! released when the process ends, however it ends.

use super::store::escape;
use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::Path;

/// A held channel lock; dropping it releases the lock.
#[derive(Debug)]
pub struct ChannelLock {
    _file: File,
}

/// Why a lock could not be taken.
pub enum LockOutcome {
    Held(ChannelLock),
    Busy,
}

/// Takes the channel's lock without waiting.
pub fn try_lock(state_dir: &Path, channel: &str) -> Result<LockOutcome> {
    fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
    let path = state_dir.join(format!("{}.lock", escape(channel)));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(LockOutcome::Held(ChannelLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(LockOutcome::Busy),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_channel_is_refused_until_the_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let first = try_lock(tmp.path(), "personal").unwrap();
        assert!(matches!(first, LockOutcome::Held(_)));
        assert!(matches!(
            try_lock(tmp.path(), "personal").unwrap(),
            LockOutcome::Busy
        ));
        assert!(matches!(
            try_lock(tmp.path(), "work").unwrap(),
            LockOutcome::Held(_)
        ));
        drop(first);
        assert!(matches!(
            try_lock(tmp.path(), "personal").unwrap(),
            LockOutcome::Held(_)
        ));
    }
}
