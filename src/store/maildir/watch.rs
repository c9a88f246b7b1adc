//! Telling a job's own changes to a maildir folder from anyone else's: an inotify watch
//! on `new/` and `cur/`, kept from before the folder is listed to the end of the job,
//! whose events must be exactly the changes the job made.

use std::path::Path;

/// One change to an entry of `new/` or `cur/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Created,
    Deleted,
    MovedFrom,
    MovedTo,
}

/// The watch and the changes the job says it made.
#[derive(Debug)]
pub struct Watch {
    #[cfg(target_os = "linux")]
    inotify: rustix::fd::OwnedFd,
    /// The watch descriptors of `new/` and `cur/`, with the subdirectory each stands for.
    #[cfg(target_os = "linux")]
    subs: [(i32, &'static str); 2],
    expected: Vec<(Change, &'static str, String)>,
}

impl Watch {
    /// Starts watching `dir/new` and `dir/cur`; `None` where that is not possible (no
    /// inotify, or no instance left), and the caller does without.
    #[cfg(target_os = "linux")]
    pub fn start(dir: &Path) -> Option<Watch> {
        use rustix::fs::inotify::{CreateFlags, WatchFlags, add_watch, init};
        let inotify = init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
        let flags = WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR;
        // Symlinks are followed, as the scan and the directory times follow them: the
        // watch is on the directories that hold the files.
        let new = add_watch(&inotify, dir.join("new"), flags).ok()?;
        let cur = add_watch(&inotify, dir.join("cur"), flags).ok()?;
        Some(Watch {
            inotify,
            subs: [(new, "new"), (cur, "cur")],
            expected: Vec::new(),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn start(_dir: &Path) -> Option<Watch> {
        None
    }

    /// Notes a change the job made to `file` (`cur/<name>` or `new/<name>`).
    pub fn expect(&mut self, change: Change, file: &str) {
        let sub = if file.starts_with("new/") {
            "new"
        } else {
            "cur"
        };
        let name = file.split_once('/').map_or(file, |(_, name)| name);
        self.expected.push((change, sub, name.to_string()));
    }

    /// Whether every change to the entries of `new/` and `cur/` since the watch started
    /// is one of those noted with [`Watch::expect`], each as often as noted: then nobody
    /// else changed the folder meanwhile. Any doubt (a lost event, a directory replaced,
    /// a read error) answers `false`.
    #[cfg(target_os = "linux")]
    pub fn only_expected(self) -> bool {
        use rustix::fs::inotify::{ReadFlags, Reader};
        let mut buffer = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
        let mut reader = Reader::new(&self.inotify, &mut buffer);
        let mut seen = Vec::with_capacity(self.expected.len());
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(_) => return false,
            };
            let flags = event.events();
            let change = if flags.contains(ReadFlags::ISDIR) {
                return false;
            } else if flags.contains(ReadFlags::CREATE) {
                Change::Created
            } else if flags.contains(ReadFlags::DELETE) {
                Change::Deleted
            } else if flags.contains(ReadFlags::MOVED_FROM) {
                Change::MovedFrom
            } else if flags.contains(ReadFlags::MOVED_TO) {
                Change::MovedTo
            } else {
                // Overflow, the directory itself deleted or moved, anything else.
                return false;
            };
            let Some(sub) = self
                .subs
                .iter()
                .find(|(wd, _)| *wd == event.wd())
                .map(|(_, sub)| *sub)
            else {
                return false;
            };
            let Some(name) = event.file_name().and_then(|name| name.to_str().ok()) else {
                return false;
            };
            seen.push((change, sub, name.to_string()));
        }
        let mut expected = self.expected;
        expected.sort_unstable();
        seen.sort_unstable();
        expected == seen
    }

    #[cfg(not(target_os = "linux"))]
    pub fn only_expected(self) -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::fs;

    fn folder() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(tmp.path().join(sub)).unwrap();
        }
        tmp
    }

    #[test]
    fn changes_noted_are_told_from_changes_not_noted() {
        let tmp = folder();
        let dir = tmp.path();
        fs::write(dir.join("new/a"), "a").unwrap();
        fs::write(dir.join("cur/b:2,S"), "b").unwrap();
        // Before the watch: not reported.
        fs::write(dir.join("cur/old:2,"), "old").unwrap();

        let mut watch = Watch::start(dir).unwrap();
        fs::rename(dir.join("new/a"), dir.join("cur/a:2,S")).unwrap();
        watch.expect(Change::MovedFrom, "new/a");
        watch.expect(Change::MovedTo, "cur/a:2,S");
        fs::remove_file(dir.join("cur/b:2,S")).unwrap();
        watch.expect(Change::Deleted, "cur/b:2,S");
        fs::write(dir.join("tmp/c"), "c").unwrap();
        fs::hard_link(dir.join("tmp/c"), dir.join("new/c")).unwrap();
        fs::remove_file(dir.join("tmp/c")).unwrap();
        watch.expect(Change::Created, "new/c");
        assert!(watch.only_expected());

        // Someone else's rename, or a change noted that did not happen: not only ours.
        let mut watch = Watch::start(dir).unwrap();
        fs::rename(dir.join("cur/a:2,S"), dir.join("cur/a:2,FS")).unwrap();
        watch.expect(Change::MovedFrom, "cur/a:2,S");
        watch.expect(Change::MovedTo, "cur/a:2,FS");
        fs::rename(dir.join("new/c"), dir.join("cur/c:2,")).unwrap();
        assert!(!watch.only_expected());
        let mut watch = Watch::start(dir).unwrap();
        watch.expect(Change::Deleted, "cur/old:2,");
        assert!(!watch.only_expected());
        // A subdirectory made in cur/, or cur/ itself replaced.
        let watch = Watch::start(dir).unwrap();
        fs::create_dir(dir.join("cur/sub")).unwrap();
        assert!(!watch.only_expected());
        let watch = Watch::start(dir).unwrap();
        fs::rename(dir.join("cur"), dir.join("cur.old")).unwrap();
        assert!(!watch.only_expected());
    }
}
