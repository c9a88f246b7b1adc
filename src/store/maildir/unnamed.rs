//! Deliveries waiting for their flush as files without a name (`O_TMPFILE` in `tmp/`),
//! linked into place by `/proc/self/fd/N` once flushed, and the budget of descriptors
//! they may hold open meanwhile. Where the file system refuses such files, or the budget
//! is spent, deliveries take named files in `tmp/` instead.

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Unnamed files open in the process.
static OPEN: AtomicUsize = AtomicUsize::new(0);
/// Set once a file system refused `O_TMPFILE`: named files from then on.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// A delivery's contents in a file without a name; closing it (dropping) frees it.
#[derive(Debug)]
pub struct Unnamed {
    file: File,
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Unnamed {
    /// Gives the file the name `target`; fails (AlreadyExists) rather than replace a
    /// file there.
    pub fn link(self, target: &Path) -> io::Result<()> {
        let by_descriptor = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        rustix::fs::linkat(
            CWD,
            by_descriptor.as_str(),
            CWD,
            target,
            AtFlags::SYMLINK_FOLLOW,
        )
        .map_err(io::Error::from)
    }
}

/// The descriptor limit this process raises its own (soft) limit to, where the hard
/// limit allows: four folder jobs each holding a flush's worth of unnamed files
/// (1,000) fit in half of it. Systems commonly start processes at 1,024.
const WANTED_DESCRIPTORS: u64 = 8192;

/// How many unnamed files may be open at once: half the process's descriptor limit
/// (raised first towards [`WANTED_DESCRIPTORS`]), where `/proc` is there to link them
/// by; none otherwise.
fn budget() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        if !Path::new("/proc/self/fd").is_dir() {
            return 0;
        }
        let mut limit = getrlimit(Resource::Nofile);
        if let Some(current) = limit.current {
            let raised = limit
                .maximum
                .map_or(WANTED_DESCRIPTORS, |max| max.min(WANTED_DESCRIPTORS));
            if raised > current {
                limit.current = Some(raised);
                // Refused, the limit stays as it was: the budget is half of that.
                let _ = setrlimit(Resource::Nofile, limit);
            }
        }
        let current = getrlimit(Resource::Nofile).current;
        current.map_or(WANTED_DESCRIPTORS as usize / 2, |n| {
            usize::try_from(n / 2).unwrap_or(usize::MAX)
        })
    })
}

/// Writes `body` into a new file without a name in `tmp_dir`; `None` when the file
/// system refuses such files or the budget is spent (the caller writes a named file,
/// which also reports a missing directory or a full disk).
pub fn write(tmp_dir: &Path, body: &[u8]) -> io::Result<Option<Unnamed>> {
    if REFUSED.load(Ordering::Relaxed) || named_only_here() {
        return Ok(None);
    }
    if OPEN.fetch_add(1, Ordering::Relaxed) >= budget() {
        OPEN.fetch_sub(1, Ordering::Relaxed);
        return Ok(None);
    }
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let file = match rustix::fs::open(tmp_dir, flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => Unnamed {
            file: File::from(fd),
        },
        Err(e) => {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            // Kernels and file systems without O_TMPFILE answer one of these.
            if [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL].contains(&e) {
                REFUSED.store(true, Ordering::Relaxed);
            }
            return Ok(None);
        }
    };
    (&file.file).write_all(body).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot write a message into {}: {e}", tmp_dir.display()),
        )
    })?;
    Ok(Some(file))
}

#[cfg(test)]
thread_local! {
    static NAMED_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests of the named way switch this one off on their thread.
#[cfg(test)]
pub fn use_named_only_on_this_thread() {
    NAMED_ONLY.with(|named| named.set(true));
}

#[cfg(test)]
fn named_only_here() -> bool {
    NAMED_ONLY.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn named_only_here() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    // Needs a file system with O_TMPFILE for the temporary directory (ext4, xfs, btrfs,
    // tmpfs): the machines this project runs its tests on.
    #[test]
    fn unnamed_files_take_a_name_only_when_linked_and_never_replace_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), b"mail")
            .unwrap()
            .expect("O_TMPFILE refused");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let target = dir.path().join("in-place");
        file.link(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"mail");

        let other = write(dir.path(), b"other").unwrap().unwrap();
        let err = other.link(&target).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"mail");
        // Dropped unlinked, it leaves nothing behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["in-place"]);
    }

    #[test]
    fn the_named_way_can_be_forced_for_tests() {
        let dir = tempfile::tempdir().unwrap();
        use_named_only_on_this_thread();
        assert!(write(dir.path(), b"mail").unwrap().is_none());
    }
}
