//! Splitting a large folder's download across connections: the folder's job fetches
//! its bodies a chunk at a time and, while it mostly waits on the server (a distant one),
//! recruits a connection the account has to spare (idle, or not yet opened under its
//! limit) after each chunk to fetch other chunks alongside. Where writing the mail is the
//! bottleneck (a server on the same machine), it recruits none: more connections would
//! only compete for the processor. Only the job's own thread writes to the maildir and
//! the journal: helpers hand it each body through a short queue, so every delivery takes
//! the one durable path (batch flush, then the pair record) and a crash leaves what any
//! download leaves.

use super::pool::AccountPool;
use crate::log;
use crate::model::{FarUid, UidValidity};
use crate::store::FarStore;
use crate::store::imap::BODY_BATCH_BYTES;
use anyhow::Result;
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

/// A download of at least this many messages is shared with spare connections.
pub const SPLIT_MIN_MESSAGES: usize = 500;
/// Messages per chunk: each connection takes the next chunk when done with one.
const CHUNK_MESSAGES: usize = 100;
/// Chunks that must be left for a connection to be recruited: a helper first opens the
/// folder, which a server may take a second or more to do for a folder of many thousand
/// messages it must re-read (Dovecot after changes), so it needs enough left to fetch.
const MIN_CHUNKS_LEFT: usize = 10;
/// Most extra connections one folder takes.
const MAX_HELPERS: usize = 3;
/// Bodies fetched by helpers and not yet written: each at most a batch (1 MiB; larger
/// messages are fetched by the job itself, one at a time process-wide), so this bounds
/// the memory the split adds.
const IN_FLIGHT: usize = 8;

/// Messages to fetch: (UID, size).
type Wanted = Vec<(FarUid, u32)>;

/// What a folder's download needs to know to be split.
pub struct Split<'a> {
    pub pool: &'a AccountPool,
    pub server_name: &'a str,
    /// The folder's UIDVALIDITY as the job selected it: a helper seeing another one
    /// (the folder was recreated meanwhile) fetches nothing.
    pub uid_validity: UidValidity,
    pub channel: &'a str,
    pub far: &'a str,
}

/// Fetches `wanted` (UID, size) with `session` and spare connections; `deliver` and
/// `after_batch` are called on this thread only, as by [`FarStore::fetch_bodies`].
/// Returns the UIDs the server no longer had.
pub fn fetch(
    split: &Split<'_>,
    session: &mut dyn FarStore,
    wanted: &[(FarUid, u32)],
    deliver: &mut dyn FnMut(FarUid, &[u8]) -> Result<()>,
    after_batch: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<FarUid>> {
    let (large, small): (Wanted, Wanted) = wanted
        .iter()
        .partition(|(_, size)| u64::from(*size) > BODY_BATCH_BYTES);
    let chunks: Mutex<VecDeque<Wanted>> = Mutex::new(
        small
            .chunks(CHUNK_MESSAGES)
            .map(<[(FarUid, u32)]>::to_vec)
            .collect(),
    );
    let missing: Mutex<Vec<FarUid>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| -> Result<()> {
        let (sender, received) = sync_channel::<(FarUid, Vec<u8>)>(IN_FLIGHT);
        let mut helpers = 0;
        // Time spent writing (delivering and flushing), as against waiting on the server.
        let writing = Cell::new(Duration::ZERO);
        let timed = |started: Instant| writing.set(writing.get() + started.elapsed());
        // Bodies from helpers are written between the job's own.
        let mut deliver_all = |uid: FarUid, body: &[u8]| -> Result<()> {
            let started = Instant::now();
            let delivered =
                deliver(uid, body).and_then(|()| take_received(&received, &mut *deliver));
            timed(started);
            delivered
        };
        let mut flush = || -> Result<()> {
            let started = Instant::now();
            let flushed = after_batch();
            timed(started);
            flushed
        };
        while let Some(chunk) = next_chunk(&chunks) {
            let (started, wrote) = (Instant::now(), writing.get());
            let gone = session.fetch_bodies(&chunk, &mut deliver_all, &mut flush)?;
            lock(&missing).extend(gone);
            // Another connection helps only while this one mostly waits on the server (a
            // distant server): where writing the mail is the bottleneck, more
            // connections would only compete for the processor.
            let waited = started.elapsed().saturating_sub(writing.get() - wrote);
            if waited > writing.get() - wrote
                && helpers < MAX_HELPERS
                && chunks_left(&chunks) >= MIN_CHUNKS_LEFT
                && split.pool.has_room()
            {
                helpers += 1;
                let sender = sender.clone();
                let (chunks, missing) = (&chunks, &missing);
                scope.spawn(move || help(split, chunks, missing, &sender));
            }
        }
        let gone = session.fetch_bodies(&large, &mut deliver_all, &mut flush)?;
        lock(&missing).extend(gone);
        // The helpers' last bodies, until every helper is done.
        drop(sender);
        let mut since_batch = 0;
        for (uid, body) in received.iter() {
            deliver(uid, &body)?;
            since_batch += 1;
            if since_batch == CHUNK_MESSAGES {
                flush()?;
                since_batch = 0;
            }
        }
        flush()?;
        // Chunks a failed helper handed back.
        while let Some(chunk) = next_chunk(&chunks) {
            let gone = session.fetch_bodies(&chunk, deliver, &mut flush)?;
            lock(&missing).extend(gone);
        }
        Ok(())
        // On an error, `received` is dropped here, before the helpers are joined: a
        // helper waiting to hand over a body then stops.
    })?;
    Ok(missing.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// Writes the bodies helpers have ready, without waiting for more.
fn take_received(
    received: &Receiver<(FarUid, Vec<u8>)>,
    deliver: &mut dyn FnMut(FarUid, &[u8]) -> Result<()>,
) -> Result<()> {
    loop {
        match received.try_recv() {
            Ok((uid, body)) => deliver(uid, &body)?,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn next_chunk(chunks: &Mutex<VecDeque<Wanted>>) -> Option<Wanted> {
    lock(chunks).pop_front()
}

fn chunks_left(chunks: &Mutex<VecDeque<Wanted>>) -> usize {
    lock(chunks).len()
}

/// One helper: a spare connection examines the folder and fetches chunks until none is
/// left, handing each body to the job. On a failure it hands the rest of its chunk back
/// and stops; the job fetches it.
fn help(
    split: &Split<'_>,
    chunks: &Mutex<VecDeque<Wanted>>,
    missing: &Mutex<Vec<FarUid>>,
    sender: &SyncSender<(FarUid, Vec<u8>)>,
) {
    let Some(mut lease) = split.pool.try_lease() else {
        return;
    };
    let session = lease.session();
    match session.select(split.server_name, true) {
        Ok(selected) if selected.uid_validity == split.uid_validity => {}
        Ok(_) => return,
        Err(e) => {
            log::folder(&format!(
                "{}: {}: a second connection could not open the folder ({e}); one connection fetches it",
                split.channel, split.far
            ));
            if super::is_transient(&anyhow::Error::new(e)) {
                lease.discard();
            }
            return;
        }
    }
    while let Some(chunk) = next_chunk(chunks) {
        let mut handed: Vec<FarUid> = Vec::new();
        let mut hand = |uid: FarUid, body: &[u8]| -> Result<()> {
            sender.send((uid, body.to_vec()))?;
            handed.push(uid);
            Ok(())
        };
        match session.fetch_bodies(&chunk, &mut hand, &mut || Ok(())) {
            Ok(gone) => lock(missing).extend(gone),
            Err(e) => {
                let rest: Wanted = chunk
                    .into_iter()
                    .filter(|(uid, _)| !handed.contains(uid))
                    .collect();
                lock(chunks).push_back(rest);
                if super::is_transient(&e) {
                    lease.discard();
                }
                return;
            }
        }
    }
}
