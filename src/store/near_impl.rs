//! [`NearStore`] for a real maildir folder: each method is [`MaildirFolder`]'s own.

use crate::flags::Flags;
use crate::model::{NearId, NearMessage, NearSnapshot, PairKey};
use crate::store::maildir::{MaildirFolder, Scan};
use crate::store::traits::{NearStore, timed_dir_times};
use std::io;
use std::path::Path;
use std::time::SystemTime;

impl NearStore for MaildirFolder {
    fn dir(&self) -> &Path {
        MaildirFolder::dir(self)
    }

    fn exists(&self) -> bool {
        MaildirFolder::exists(self)
    }

    fn dir_times(&self) -> Option<NearSnapshot> {
        MaildirFolder::dir_times(self)
    }

    fn clock(&self) -> Option<i128> {
        MaildirFolder::clock(self)
    }

    fn create(&self) -> io::Result<()> {
        MaildirFolder::create(self)
    }

    fn scan(&self) -> io::Result<Scan> {
        MaildirFolder::scan(self)
    }

    /// The listing runs on a thread of its own while `meanwhile` runs here (one after
    /// the other if no thread can be started).
    fn list_alongside(
        &self,
        meanwhile: &mut dyn FnMut(),
    ) -> (Option<(NearSnapshot, SystemTime)>, io::Result<Scan>) {
        std::thread::scope(|scope| {
            let list = || (timed_dir_times(self), MaildirFolder::scan(self));
            match std::thread::Builder::new().spawn_scoped(scope, list) {
                Ok(listing) => {
                    meanwhile();
                    listing.join().unwrap_or_else(|_| {
                        let failed = io::Error::other("the listing of the folder failed");
                        (None, Err(failed))
                    })
                }
                Err(_) => {
                    let times = timed_dir_times(self);
                    meanwhile();
                    (times, MaildirFolder::scan(self))
                }
            }
        })
    }

    fn pair_key(&self, msg: &NearMessage) -> io::Result<Option<PairKey>> {
        MaildirFolder::pair_key(self, msg)
    }

    fn read(&self, msg: &NearMessage) -> io::Result<Option<Vec<u8>>> {
        MaildirFolder::read(self, msg)
    }

    fn mtime(&self, msg: &NearMessage) -> io::Result<Option<SystemTime>> {
        MaildirFolder::mtime(self, msg)
    }

    fn fresh_id(&self) -> NearId {
        MaildirFolder::fresh_id()
    }

    fn deliver(&self, id: &NearId, body: &[u8], flags: Flags) -> io::Result<NearMessage> {
        MaildirFolder::deliver(self, id, body, flags)
    }

    fn sync_dirs(&self) -> io::Result<()> {
        MaildirFolder::sync_dirs(self)
    }

    fn change_flags(
        &self,
        msg: &NearMessage,
        add: Flags,
        remove: Flags,
    ) -> io::Result<Option<NearMessage>> {
        MaildirFolder::change_flags(self, msg, add, remove)
    }

    fn delete(&self, msg: &NearMessage) -> io::Result<bool> {
        MaildirFolder::delete(self, msg)
    }

    fn locate(&self, id: &NearId) -> io::Result<Option<NearMessage>> {
        MaildirFolder::locate(self, id)
    }

    fn remove_if_empty(&self) -> io::Result<bool> {
        MaildirFolder::remove_if_empty(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_alongside_runs_the_other_work_once_and_lists_as_scan_does() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = MaildirFolder::new(tmp.path().join("INBOX"));
        folder.create().unwrap();
        for flags in [Flags::EMPTY, Flags::SEEN] {
            folder
                .deliver(
                    &MaildirFolder::fresh_id(),
                    b"Subject: x\r\n\r\nbody\r\n",
                    flags,
                )
                .unwrap();
        }
        folder.sync_dirs().unwrap();
        let before = std::time::SystemTime::now();
        let mut calls = 0;
        let (times, scan) = NearStore::list_alongside(&folder, &mut || calls += 1);
        assert_eq!(calls, 1);
        let (times, read_at) = times.unwrap();
        assert_eq!(Some(times), folder.dir_times());
        assert!(read_at >= before);
        let listed = scan.unwrap().messages;
        assert_eq!(listed, folder.scan().unwrap().messages);
        assert_eq!(listed.len(), 2);
    }
}
