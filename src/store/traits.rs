//! The store interface the folder executor is written against: what it asks of the far
//! side (an IMAP folder) and of the near side (a maildir folder). The real stores
//! implement it by delegating to their own methods (`far_impl.rs`, `near_impl.rs`); tests
//! implement it in memory (`memory.rs`), so they drive the real planner and executor.
//!
//! Far errors stay [`FarError`]s, so a caller can still tell a transient failure (worth a
//! retry on a fresh connection) from a permanent one; near errors are `io::Error`s.

use crate::flags::Flags;
use crate::model::{FarChanges, FarMessage, FarUid, NearId, NearMessage, NearSnapshot, PairKey};
use crate::store::imap::{FarResult, FlagStore, Selected, Upload};
use crate::store::maildir::Scan;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// One connection to the far side, with at most one folder selected at a time.
pub trait FarStore {
    /// SELECTs a folder, or EXAMINEs it (read-only) for a dry run.
    fn select(&mut self, server_name: &str, read_only: bool) -> FarResult<Selected>;

    /// The selected folder's messages (UID, flags, size), sorted by UID, each UID once;
    /// `exists` is the message count SELECT reported.
    fn list_messages(&mut self, exists: u32) -> FarResult<Vec<FarMessage>>;

    /// What changed in the selected folder since HIGHESTMODSEQ `modseq`: flag changes and
    /// expunges among the messages below `below` (the UIDNEXT of then), and the messages
    /// at or above it. Only for a folder whose SELECT gave a HIGHESTMODSEQ.
    fn changes_since(&mut self, modseq: u64, below: u32, exists: u32) -> FarResult<FarChanges>;

    /// Pairing keys (Message-ID or header hash) of those of the given messages that
    /// still exist.
    fn pair_keys(&mut self, uids: &[FarUid]) -> FarResult<Vec<(FarUid, PairKey)>>;

    /// Fetches the bodies of `wanted` (UID, size) in size-capped batches, hands each to
    /// `deliver` with its UID, and calls `after_batch` after every batch (the caller makes
    /// the batch durable there). Returns the UIDs the folder no longer had.
    fn fetch_bodies(
        &mut self,
        wanted: &[(FarUid, u32)],
        deliver: &mut dyn FnMut(FarUid, &[u8]) -> anyhow::Result<()>,
        after_batch: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<FarUid>>;

    /// Appends a message with flags and internal date to `server_name`; its new UID when
    /// the server says (APPENDUID), else `None`.
    fn append(
        &mut self,
        server_name: &str,
        body: &[u8],
        flags: Flags,
        date: Option<SystemTime>,
    ) -> FarResult<Option<FarUid>>;

    /// Appends the messages in order (several per command where the server allows);
    /// for each, its new UID when the server says. A failed command adds none of its
    /// messages.
    fn append_many(
        &mut self,
        server_name: &str,
        uploads: &[Upload<'_>],
    ) -> FarResult<Vec<Option<FarUid>>> {
        uploads
            .iter()
            .map(|u| self.append(server_name, u.body, u.flags, u.date))
            .collect()
    }

    /// The UIDs at or above `from` in the selected folder, sorted.
    fn uids_from(&mut self, from: u32) -> FarResult<Vec<FarUid>>;

    /// Adds (`add`) or removes the synced flags of each store on its messages (leaving
    /// every other flag and keyword alone), then deletes exactly `deletes`;
    /// `expunge_others` allows purging other messages flagged deleted when the server
    /// cannot expunge by UID. A store may send them together (one round trip to an IMAP
    /// server).
    fn store_and_delete(
        &mut self,
        stores: &[FlagStore<'_>],
        deletes: &[FarUid],
        expunge_others: bool,
    ) -> FarResult<()>;

    /// Creates a folder; one that already exists is fine.
    fn create_folder(&mut self, server_name: &str) -> FarResult<()>;

    /// Deletes a folder (not the selected one).
    fn delete_folder(&mut self, server_name: &str) -> FarResult<()>;
}

/// One near folder. Methods take `&self`: the executor delivers from inside the far
/// store's fetch callbacks, and a message a mail client renamed or deleted since the scan
/// is looked up again by id (an operation on a message that is gone answers `None`).
pub trait NearStore {
    /// Where the folder is, for error messages.
    fn dir(&self) -> &Path;

    /// Whether the folder exists.
    fn exists(&self) -> bool;

    /// The times of the folder's message directories (`None` when unknown): while they
    /// stay the same, so do its messages.
    fn dir_times(&self) -> Option<NearSnapshot>;

    /// The time the file system would give a change made now (`None` when unknown):
    /// directory times strictly below it must change with any later change.
    fn clock(&self) -> Option<i128>;

    /// Creates the folder (and missing parents).
    fn create(&self) -> io::Result<()>;

    /// The folder's messages, sorted by id, and what was skipped and why.
    fn scan(&self) -> io::Result<Scan>;

    /// Lists the folder while `meanwhile` runs: its directory times (and when they were
    /// read), then [`NearStore::scan`], which starts after the times were read. Here one
    /// after the other, the times before `meanwhile`; a store that can be read from
    /// another thread overlaps the two.
    fn list_alongside(
        &self,
        meanwhile: &mut dyn FnMut(),
    ) -> (Option<(NearSnapshot, SystemTime)>, io::Result<Scan>) {
        let times = timed_dir_times(self);
        meanwhile();
        (times, self.scan())
    }

    /// The pairing key of a message, from its header; `None` when it is gone.
    fn pair_key(&self, msg: &NearMessage) -> io::Result<Option<PairKey>>;

    /// The message's bytes; `None` when it is gone.
    fn read(&self, msg: &NearMessage) -> io::Result<Option<Vec<u8>>>;

    /// The message's arrival time (the far internal date on upload); `None` when gone.
    fn mtime(&self, msg: &NearMessage) -> io::Result<Option<SystemTime>>;

    /// A unique id for a new delivery.
    fn fresh_id(&self) -> NearId;

    /// Delivers a new message under `id` with `flags`; never replaces another message.
    /// Not yet durable: see [`NearStore::sync_dirs`].
    fn deliver(&self, id: &NearId, body: &[u8], flags: Flags) -> io::Result<NearMessage>;

    /// Makes the deliveries and renames so far durable.
    fn sync_dirs(&self) -> io::Result<()>;

    /// Adds and removes synced flags relative to the message's flags *now*; the message
    /// as it is afterwards, or `None` when it is gone.
    fn change_flags(
        &self,
        msg: &NearMessage,
        add: Flags,
        remove: Flags,
    ) -> io::Result<Option<NearMessage>>;

    /// Deletes the message: `true` when deleted, `false` when it was already gone.
    fn delete(&self, msg: &NearMessage) -> io::Result<bool>;

    /// Where the message with this id is now; `None` when there is none.
    fn locate(&self, id: &NearId) -> io::Result<Option<NearMessage>>;

    /// Removes the folder when it holds no message; `false` (nothing removed) otherwise.
    fn remove_if_empty(&self) -> io::Result<bool>;
}

/// The directory times of `near` and the time they were read (taken just before).
pub fn timed_dir_times<N: NearStore + ?Sized>(near: &N) -> Option<(NearSnapshot, SystemTime)> {
    let read_at = SystemTime::now();
    near.dir_times().map(|times| (times, read_at))
}
