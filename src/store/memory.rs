//! In-memory far and near stores for tests: one IMAP folder and one maildir folder held in
//! maps, behind shared handles so a test can edit either side between runs (as a mail
//! client or another IMAP client would) and look at what a run left. Both count their
//! side effects and can be told to fail at the N-th one, by returning an error (a network
//! cut) or by unwinding with [`SimulatedCrash`] (a kill -9: nothing after it runs, so the
//! executor saves no state and its journal stays as it was).

use crate::flags::Flags;
use crate::model::{
    FarChanges, FarMessage, FarUid, Gone, NearId, NearMessage, PairKey, UidValidity,
};
use crate::pairkey::pair_key_from_header;
use crate::store::imap::{FarError, FarErrorKind, FarResult, FlagStore, Selected};
use crate::store::maildir::Scan;
use crate::store::traits::{FarStore, NearStore};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

/// Bodies per FETCH batch, small so that a few messages already make several batches.
const BATCH: usize = 2;

/// How an injected fault shows itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// The operation returns an error (a transient one on the far side).
    Error,
    /// The operation unwinds with [`SimulatedCrash`].
    Crash,
}

/// A fault to inject: the side effect numbered `at` (0-based, counted over both stores)
/// fails; when `lands`, its effect happens first (the answer is what got lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub at: u32,
    pub lands: bool,
    pub mode: FaultMode,
}

/// The panic payload of a simulated crash.
#[derive(Debug)]
pub struct SimulatedCrash;

/// The words every injected error carries, so a test can tell it from a real one.
pub const INJECTED: &str = "injected fault";

/// The fault plan shared by a far and a near store.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Cell<Option<Fault>>,
    count: Cell<u32>,
    fired: Cell<bool>,
}

impl Faults {
    /// Arms one fault, counting side effects from now on.
    pub fn arm(&self, fault: Fault) {
        self.armed.set(Some(fault));
        self.count.set(0);
        self.fired.set(false);
    }

    /// The side effects counted since the last `arm` (or since the start).
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// Disarms; whether the fault fired since it was armed.
    pub fn disarm(&self) -> bool {
        self.armed.set(None);
        self.fired.replace(false)
    }

    /// Called before each side effect: the fault that hits it, if any.
    fn next(&self) -> Option<Fault> {
        let n = self.count.get();
        self.count.set(n + 1);
        let fault = self.armed.get().filter(|f| f.at == n)?;
        self.armed.set(None);
        self.fired.set(true);
        Some(fault)
    }
}

fn crash() -> ! {
    quiet_crashes();
    std::panic::panic_any(SimulatedCrash)
}

/// Keeps simulated crashes out of the panic output (they are expected, and with
/// `RUST_BACKTRACE` set each would print a backtrace); every other panic is reported by
/// the hook that was in place before.
fn quiet_crashes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<SimulatedCrash>() {
                previous(info);
            }
        }));
    });
}

/// Runs one side effect under the fault plan: fails before or after `apply` when the
/// fault hits it, with `error(what)` or a simulated crash.
fn effect<T, E>(
    faults: &Faults,
    what: &str,
    error: impl Fn(String) -> E,
    apply: impl FnOnce() -> T,
) -> Result<T, E> {
    let fault = faults.next();
    let fail = |fault: Fault| -> Result<T, E> {
        match fault.mode {
            FaultMode::Crash => crash(),
            FaultMode::Error => Err(error(format!("{what}: {INJECTED}"))),
        }
    };
    match fault {
        Some(f) if !f.lands => fail(f),
        Some(f) => {
            apply();
            fail(f)
        }
        None => Ok(apply()),
    }
}

fn far_error(message: String) -> FarError {
    FarError {
        kind: FarErrorKind::Transient,
        message,
    }
}

/// One far message: its synced flags and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarEntry {
    pub flags: Flags,
    pub body: Vec<u8>,
    /// The MODSEQ of the message's last change (CONDSTORE).
    pub modseq: u64,
}

/// The one far folder.
#[derive(Clone, Debug)]
pub struct FarData {
    pub exists: bool,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: BTreeMap<FarUid, FarEntry>,
    /// Whether APPEND answers with the new UID (UIDPLUS).
    pub appenduid: bool,
    /// HIGHESTMODSEQ: bumped by every change, as a CONDSTORE server does.
    pub modseq: u64,
    /// Expunged UIDs with the MODSEQ of their expunge (for QRESYNC's VANISHED).
    pub expunged: Vec<(FarUid, u64)>,
}

impl FarData {
    /// Adds a message as another client would; its UID.
    pub fn add(&mut self, flags: Flags, body: &[u8]) -> FarUid {
        let uid = FarUid(self.uid_next);
        self.uid_next += 1;
        self.modseq += 1;
        self.messages.insert(
            uid,
            FarEntry {
                flags,
                body: body.to_vec(),
                modseq: self.modseq,
            },
        );
        uid
    }

    /// Sets a message's flags as another client would (a new MODSEQ).
    pub fn set_flags(&mut self, uid: FarUid, flags: Flags) {
        if let Some(entry) = self.messages.get_mut(&uid) {
            self.modseq += 1;
            entry.flags = flags;
            entry.modseq = self.modseq;
        }
    }

    /// Expunges a message as another client would; the message, if there was one.
    pub fn expunge(&mut self, uid: FarUid) -> Option<FarEntry> {
        let entry = self.messages.remove(&uid)?;
        self.modseq += 1;
        self.expunged.push((uid, self.modseq));
        Some(entry)
    }

    /// The server renumbers the folder: a new UIDVALIDITY, every message a new UID.
    pub fn renumber(&mut self) {
        self.uid_validity += 1;
        self.expunged.clear();
        let old = std::mem::take(&mut self.messages);
        for entry in old.into_values() {
            self.add(entry.flags, &entry.body);
        }
    }
}

/// A handle on an in-memory far folder; clones share it.
#[derive(Clone, Debug)]
pub struct MemoryFar {
    pub data: Rc<RefCell<FarData>>,
    faults: Rc<Faults>,
}

impl MemoryFar {
    /// Adds or removes flags on the given messages: one side effect.
    fn store_flags(&mut self, uids: &[FarUid], add: bool, flags: Flags) -> FarResult<()> {
        if uids.is_empty() || flags.is_empty() {
            return Ok(());
        }
        self.effect("UID STORE", |d| {
            for uid in uids {
                if let Some(entry) = d.messages.get(uid) {
                    let new = if add {
                        entry.flags.union(flags)
                    } else {
                        entry.flags.difference(flags)
                    };
                    d.set_flags(*uid, new);
                }
            }
        })
    }

    pub fn new(appenduid: bool, faults: Rc<Faults>) -> MemoryFar {
        MemoryFar {
            data: Rc::new(RefCell::new(FarData {
                exists: true,
                uid_validity: 1,
                uid_next: 1,
                messages: BTreeMap::new(),
                appenduid,
                modseq: 1,
                expunged: Vec::new(),
            })),
            faults,
        }
    }

    /// An independent copy of the folder as it is now, counting into `faults`.
    pub fn snapshot(&self, faults: Rc<Faults>) -> MemoryFar {
        MemoryFar {
            data: Rc::new(RefCell::new(self.data.borrow().clone())),
            faults,
        }
    }

    fn effect<T>(&self, what: &str, apply: impl FnOnce(&mut FarData) -> T) -> FarResult<T> {
        effect(&self.faults, what, far_error, || {
            apply(&mut self.data.borrow_mut())
        })
    }
}

impl FarStore for MemoryFar {
    fn select(&mut self, server_name: &str, _read_only: bool) -> FarResult<Selected> {
        let data = self.data.borrow();
        if !data.exists {
            return Err(FarError::permanent(format!("no folder {server_name:?}")));
        }
        Ok(Selected {
            uid_validity: UidValidity(data.uid_validity),
            uid_next: Some(data.uid_next),
            exists: u32::try_from(data.messages.len()).unwrap_or(u32::MAX),
            highest_modseq: Some(data.modseq),
        })
    }

    /// As QRESYNC answers: changed flags and VANISHED below `below`, new ones above.
    fn changes_since(&mut self, modseq: u64, below: u32, _exists: u32) -> FarResult<FarChanges> {
        let data = self.data.borrow();
        let mut changes = FarChanges::default();
        for (uid, entry) in &data.messages {
            if uid.0 >= below {
                changes.new.push(FarMessage {
                    uid: *uid,
                    flags: entry.flags,
                    size: u32::try_from(entry.body.len()).unwrap_or(u32::MAX),
                });
            } else if entry.modseq > modseq {
                changes.changed.push((*uid, entry.flags));
            }
        }
        changes.gone = Gone::Vanished(
            data.expunged
                .iter()
                .filter(|(uid, at)| *at > modseq && uid.0 < below)
                .map(|(uid, _)| *uid)
                .collect(),
        );
        Ok(changes)
    }

    fn list_messages(&mut self, _exists: u32) -> FarResult<Vec<FarMessage>> {
        Ok(self
            .data
            .borrow()
            .messages
            .iter()
            .map(|(uid, e)| FarMessage {
                uid: *uid,
                flags: e.flags,
                size: u32::try_from(e.body.len()).unwrap_or(u32::MAX),
            })
            .collect())
    }

    fn pair_keys(&mut self, uids: &[FarUid]) -> FarResult<Vec<(FarUid, PairKey)>> {
        let data = self.data.borrow();
        Ok(uids
            .iter()
            .filter_map(|uid| {
                let entry = data.messages.get(uid)?;
                Some((*uid, pair_key_from_header(&entry.body)))
            })
            .collect())
    }

    fn fetch_bodies(
        &mut self,
        wanted: &[(FarUid, u32)],
        deliver: &mut dyn FnMut(FarUid, &[u8]) -> anyhow::Result<()>,
        after_batch: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<FarUid>> {
        let mut missing = Vec::new();
        for batch in wanted.chunks(BATCH) {
            for (uid, _) in batch {
                let body = self.data.borrow().messages.get(uid).map(|e| e.body.clone());
                match body {
                    Some(body) => deliver(*uid, &body)?,
                    None => missing.push(*uid),
                }
            }
            after_batch()?;
        }
        Ok(missing)
    }

    fn append(
        &mut self,
        _server_name: &str,
        body: &[u8],
        flags: Flags,
        _date: Option<SystemTime>,
    ) -> FarResult<Option<FarUid>> {
        let (uid, appenduid) = self.effect("APPEND", |d| (d.add(flags, body), d.appenduid))?;
        Ok(appenduid.then_some(uid))
    }

    fn uids_from(&mut self, from: u32) -> FarResult<Vec<FarUid>> {
        Ok(self
            .data
            .borrow()
            .messages
            .keys()
            .filter(|uid| uid.0 >= from)
            .copied()
            .collect())
    }

    /// Each store, then `\Deleted` and UID EXPUNGE, as separate side effects (so a crash
    /// can fall between any two).
    fn store_and_delete(
        &mut self,
        stores: &[FlagStore<'_>],
        deletes: &[FarUid],
        _expunge_others: bool,
    ) -> FarResult<()> {
        for store in stores {
            self.store_flags(store.uids, store.add, store.flags)?;
        }
        if deletes.is_empty() {
            return Ok(());
        }
        self.store_flags(deletes, true, Flags::DELETED)?;
        self.effect("UID EXPUNGE", |d| {
            for uid in deletes {
                d.expunge(*uid);
            }
        })
    }

    fn create_folder(&mut self, _server_name: &str) -> FarResult<()> {
        self.effect("CREATE", |d| d.exists = true)
    }

    fn delete_folder(&mut self, _server_name: &str) -> FarResult<()> {
        self.effect("DELETE", |d| {
            d.exists = false;
            d.messages.clear();
        })
    }
}

/// One near message: its synced flags and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearEntry {
    pub flags: Flags,
    pub body: Vec<u8>,
}

/// The one near folder.
#[derive(Clone, Debug, Default)]
pub struct NearData {
    pub exists: bool,
    pub messages: BTreeMap<NearId, NearEntry>,
    next_id: u64,
    /// Directory times and file-system clock, for tests that set them; `None` (the
    /// default) has the folder scanned every run.
    pub times: Option<crate::model::NearSnapshot>,
    pub clock: Option<i128>,
}

impl NearData {
    /// Adds a message as a mail client would; its id.
    pub fn add(&mut self, flags: Flags, body: &[u8]) -> NearId {
        let id = NearId(format!("{}.client", self.next_id));
        self.next_id += 1;
        self.messages.insert(
            id.clone(),
            NearEntry {
                flags,
                body: body.to_vec(),
            },
        );
        id
    }
}

fn near_message(id: &NearId, flags: Flags) -> NearMessage {
    NearMessage {
        id: id.clone(),
        flags,
        file: format!("cur/{id}:2,{flags}"),
    }
}

/// A handle on an in-memory near folder; clones share it.
#[derive(Clone, Debug)]
pub struct MemoryNear {
    pub data: Rc<RefCell<NearData>>,
    faults: Rc<Faults>,
    dir: PathBuf,
}

impl MemoryNear {
    pub fn new(faults: Rc<Faults>) -> MemoryNear {
        MemoryNear {
            data: Rc::new(RefCell::new(NearData {
                exists: true,
                ..NearData::default()
            })),
            faults,
            dir: PathBuf::from("memory:near"),
        }
    }

    /// An independent copy of the folder as it is now, counting into `faults`.
    pub fn snapshot(&self, faults: Rc<Faults>) -> MemoryNear {
        MemoryNear {
            data: Rc::new(RefCell::new(self.data.borrow().clone())),
            faults,
            dir: self.dir.clone(),
        }
    }

    fn effect<T>(&self, what: &str, apply: impl FnOnce(&mut NearData) -> T) -> io::Result<T> {
        effect(&self.faults, what, io::Error::other, || {
            apply(&mut self.data.borrow_mut())
        })
    }
}

impl NearStore for MemoryNear {
    fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory times only where a test set them: otherwise the folder is always
    /// scanned.
    fn dir_times(&self) -> Option<crate::model::NearSnapshot> {
        self.data.borrow().times
    }

    fn clock(&self) -> Option<i128> {
        self.data.borrow().clock
    }

    fn exists(&self) -> bool {
        self.data.borrow().exists
    }

    fn create(&self) -> io::Result<()> {
        self.effect("create", |d| d.exists = true)
    }

    fn scan(&self) -> io::Result<Scan> {
        Ok(Scan {
            messages: self
                .data
                .borrow()
                .messages
                .iter()
                .map(|(id, e)| near_message(id, e.flags))
                .collect(),
            warnings: Vec::new(),
        })
    }

    fn pair_key(&self, msg: &NearMessage) -> io::Result<Option<PairKey>> {
        Ok(self
            .data
            .borrow()
            .messages
            .get(&msg.id)
            .map(|e| pair_key_from_header(&e.body)))
    }

    fn read(&self, msg: &NearMessage) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .data
            .borrow()
            .messages
            .get(&msg.id)
            .map(|e| e.body.clone()))
    }

    fn mtime(&self, msg: &NearMessage) -> io::Result<Option<SystemTime>> {
        Ok(self
            .data
            .borrow()
            .messages
            .contains_key(&msg.id)
            .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
    }

    fn fresh_id(&self) -> NearId {
        let mut data = self.data.borrow_mut();
        data.next_id += 1;
        NearId(format!("{}.mailferry", data.next_id))
    }

    fn deliver(&self, id: &NearId, body: &[u8], flags: Flags) -> io::Result<NearMessage> {
        if self.data.borrow().messages.contains_key(id) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{id} exists"),
            ));
        }
        self.effect("deliver", |d| {
            d.messages.insert(
                id.clone(),
                NearEntry {
                    flags,
                    body: body.to_vec(),
                },
            );
        })?;
        Ok(near_message(id, flags))
    }

    fn sync_dirs(&self) -> io::Result<()> {
        Ok(())
    }

    fn change_flags(
        &self,
        msg: &NearMessage,
        add: Flags,
        remove: Flags,
    ) -> io::Result<Option<NearMessage>> {
        let Some(current) = self.data.borrow().messages.get(&msg.id).map(|e| e.flags) else {
            return Ok(None);
        };
        let flags = current.union(add).difference(remove);
        if flags != current {
            self.effect("rename", |d| {
                if let Some(entry) = d.messages.get_mut(&msg.id) {
                    entry.flags = flags;
                }
            })?;
        }
        Ok(Some(near_message(&msg.id, flags)))
    }

    fn delete(&self, msg: &NearMessage) -> io::Result<bool> {
        if !self.data.borrow().messages.contains_key(&msg.id) {
            return Ok(false);
        }
        self.effect("unlink", |d| d.messages.remove(&msg.id).is_some())
    }

    fn locate(&self, id: &NearId) -> io::Result<Option<NearMessage>> {
        Ok(self
            .data
            .borrow()
            .messages
            .get(id)
            .map(|e| near_message(id, e.flags)))
    }

    fn remove_if_empty(&self) -> io::Result<bool> {
        if !self.data.borrow().messages.is_empty() {
            return Ok(false);
        }
        self.effect("rmdir", |d| d.exists = false)?;
        Ok(true)
    }
}
