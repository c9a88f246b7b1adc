//! [`NearStore`] for a real maildir folder: each method is [`MaildirFolder`]'s own.

use crate::flags::Flags;
use crate::model::{NearId, NearMessage, NearSnapshot, PairKey};
use crate::store::maildir::{MaildirFolder, Scan};
use crate::store::traits::NearStore;
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
