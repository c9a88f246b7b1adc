//! One folder pair, start to finish: list both sides, plan, and (for a real run) carry
//! the plan out, journaling each side effect before it happens and its outcome after.

use super::pool::AccountPool;
use super::snapshot::{
    confirmed_near_times, far_agrees, listing_from_changes, near_agrees, settled,
    usable_far_snapshot,
};
use super::split;
use crate::flags::Flags;
use crate::log;
use crate::model::{
    FarChanges, FarListing, FarSnapshot, FarUid, NearId, NearListing, NearMessage, NearSnapshot,
    UidValidity,
};
use crate::plan::{self, Keys, Plan, PlanOptions, Step};
use crate::report::CreatedOn;
use crate::state::store::ChannelStateDir;
use crate::state::{self, FolderState, Record};
use crate::store::imap::FlagStore;
use crate::store::{FarStore, NearStore};
use anyhow::{Context, Result, anyhow};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Downloaded bytes written to `tmp/` before they are flushed and moved into place: each
/// flush costs two `syncfs` of the whole file system, so fewer flushes make a first sync
/// faster, at the price of that much mail downloaded again after a crash.
const FLUSH_BYTES: u64 = 8 << 20;
/// Downloaded messages written before they are flushed (see [`FLUSH_BYTES`]).
const FLUSH_MESSAGES: usize = 1000;

/// A folder pair to sync, as the channel's folder listing decided it.
#[derive(Clone, Debug)]
pub struct FolderTask {
    pub channel: String,
    /// Display name (`Archive/2021`).
    pub far: String,
    /// The name as the server spells it.
    pub server_name: String,
    /// Near path relative to the maildir root, for reports and state.
    pub near: String,
    pub near_dir: PathBuf,
    pub far_exists: bool,
    /// Create the folder on this side before syncing.
    pub create: Option<CreatedOn>,
    /// The folder was deleted on the other side and `remove` propagates that: delete the
    /// remaining copy instead of syncing.
    pub remove: bool,
    /// What STATUS said of the far folder at the start of the run, when the server has
    /// CONDSTORE: if it matches the state's snapshot, nothing changed there.
    pub far_status: Option<FarSnapshot>,
}

/// What every folder of a channel shares.
pub struct FolderContext<'a> {
    pub state: &'a ChannelStateDir,
    pub options: PlanOptions,
    pub dry_run: bool,
    /// Whether folder reports keep each message's action, or only the counts.
    pub report_actions: bool,
}

/// Both listings, the state and the plan for one folder.
pub struct Prepared {
    pub state: FolderState,
    pub near_listing: NearListing,
    pub far_listing: FarListing,
    pub plan: Plan,
    /// The far folder as SELECT described it, for the next run to start from.
    far_now: Option<FarSnapshot>,
    /// The near directories' times before the scan, and when they were read.
    near_before: Option<(NearSnapshot, SystemTime)>,
}

impl Prepared {
    /// Whether the far folder changed since the run that saved the state (as SELECT
    /// described it); false for a folder new to the state, and without CONDSTORE.
    pub fn far_changed(&self) -> bool {
        self.far_now
            .zip(self.state.far_seen)
            .is_some_and(|(now, seen)| now != seen)
    }
}

/// Lists both sides and plans. Writes nothing anywhere when `ctx.dry_run` (the far
/// folder is opened with EXAMINE, the state is only read). `near` is the folder at
/// `task.near_dir`; `read` is the folder's state if it was just read (with no journal
/// to replay), else it is read here.
pub fn prepare(
    session: &mut dyn FarStore,
    near: &dyn NearStore,
    task: &FolderTask,
    ctx: &FolderContext,
    read: Option<FolderState>,
) -> Result<Prepared> {
    let state = match read {
        Some(state) => state,
        None if ctx.dry_run => ctx.state.peek(&task.far, &task.near)?,
        None => ctx.state.load(&task.far, &task.near)?,
    };
    if !ctx.dry_run {
        match task.create {
            Some(CreatedOn::Near) => near
                .create()
                .with_context(|| format!("cannot create {}", task.near_dir.display()))?,
            Some(CreatedOn::Far) => session.create_folder(&task.server_name)?,
            None => {}
        }
    }
    // The near folder is listed (its times, then its files) while the far folder is
    // selected and listed: the scan's disk and processor time overlaps the server's.
    let mut far = None;
    let mut select_and_list = || far = Some(list_far(session, task, ctx, &state));
    let (near_before, scan) = if near.exists() {
        let (times, scan) = near.list_alongside(&mut select_and_list);
        (times, Some(scan))
    } else {
        select_and_list();
        (None, None)
    };
    // A far error first: it may be worth a retry on a fresh connection.
    let (far_listing, far_now) = far.ok_or_else(|| anyhow!("the far folder was not listed"))??;
    let near_listing = match scan {
        Some(scan) => {
            let scan = scan.with_context(|| format!("cannot scan {}", task.near_dir.display()))?;
            for warning in scan.warnings {
                log::warn(&format!("{}: {}: {warning}", task.channel, task.far));
            }
            NearListing {
                messages: scan.messages,
            }
        }
        None => NearListing::default(),
    };

    let mut keys = Keys::default();
    let (far_unpaired, near_unpaired) = plan::unpaired(&far_listing, &near_listing, &state);
    // A begun upload whose near original is gone is looked for among far copies by key.
    let orphan_upload = state
        .pending_uploads
        .keys()
        .any(|id| !near_listing.messages.iter().any(|m| &m.id == id));
    if !far_unpaired.is_empty() && (!near_unpaired.is_empty() || orphan_upload) {
        let uids: Vec<FarUid> = far_unpaired.iter().map(|m| m.uid).collect();
        keys.far = session.pair_keys(&uids)?.into_iter().collect();
        for message in near_unpaired {
            if let Some(key) = near.pair_key(message).with_context(|| {
                format!("cannot read {}", near.dir().join(&message.file).display())
            })? {
                keys.near.insert(message.id.clone(), key);
            }
        }
    }
    let plan = plan::plan(&far_listing, &near_listing, &state, &keys, &ctx.options);
    for uid in &plan.too_large {
        log::warn(&format!(
            "{}: {}: far message UID {uid} is larger than max_size; not downloaded",
            task.channel, task.far
        ));
    }
    Ok(Prepared {
        state,
        near_listing,
        far_listing,
        plan,
        far_now,
        near_before,
    })
}

/// Selects and lists the far folder: from the changes since the state's snapshot where
/// it can stand for a listing, else in full. Also the folder as SELECT described it.
fn list_far(
    session: &mut dyn FarStore,
    task: &FolderTask,
    ctx: &FolderContext,
    state: &FolderState,
) -> Result<(FarListing, Option<FarSnapshot>)> {
    // The snapshot the state holds of the far folder, if it can stand for a listing.
    let seen = usable_far_snapshot(state);
    let far_will_exist = task.far_exists || (task.create == Some(CreatedOn::Far) && !ctx.dry_run);
    if !far_will_exist {
        // A dry run of a folder still to be created: empty, with a UIDVALIDITY no state
        // can hold, as the real run will see a new one.
        let empty = FarListing {
            uid_validity: UidValidity(0),
            uid_next: 1,
            messages: Vec::new(),
        };
        return Ok((empty, None));
    }
    let selected = session.select(&task.server_name, ctx.dry_run)?;
    selected.check_not_behind(state.uid_validity, state.pairs.keys().next_back().copied())?;
    let far_now =
        selected
            .highest_modseq
            .zip(selected.uid_next)
            .map(|(highest_modseq, uid_next)| FarSnapshot {
                uid_validity: selected.uid_validity.0,
                uid_next,
                messages: selected.exists,
                highest_modseq,
            });
    {
        let incremental = match (seen, far_now) {
            (Some(seen), Some(now)) if now.uid_validity == seen.uid_validity => {
                let changes = if now == seen {
                    FarChanges::default()
                } else {
                    session.changes_since(seen.highest_modseq, seen.uid_next, selected.exists)?
                };
                let listing = listing_from_changes(state, &seen, changes, selected.exists);
                if listing.is_none() {
                    log::folder(&format!(
                        "{}: {}: the server's changes do not fit the state; listing the folder in full",
                        task.channel, task.far
                    ));
                }
                listing
            }
            _ => None,
        };
        let messages = match incremental {
            Some(messages) => messages,
            None => session.list_messages(selected.exists)?,
        };
        let max_uid = messages.last().map_or(0, |m| m.uid.0);
        let listing = FarListing {
            uid_validity: selected.uid_validity,
            uid_next: selected.uid_next.unwrap_or(max_uid.saturating_add(1)),
            messages,
        };
        Ok((listing, far_now))
    }
}

/// Deletes the remaining side of a folder deleted on the other side (`remove`). Refused
/// when it holds messages the state does not know (they arrived since the last sync) and,
/// without `--force`, when it holds ten or more (the other side may just be unmounted).
/// Every deleted message is a step in `done`, so dry runs show them.
pub fn remove_folder(
    session: &mut dyn FarStore,
    near: &dyn NearStore,
    task: &FolderTask,
    ctx: &FolderContext,
    done: &mut Vec<Step>,
) -> Result<()> {
    let state = ctx.state.peek(&task.far, &task.near)?;
    let paired: std::collections::HashSet<&NearId> =
        state.pairs.values().map(|p| &p.near_id).collect();
    let mut steps = Vec::new();
    if task.far_exists {
        let selected = session.select(&task.server_name, true)?;
        let messages = session.list_messages(selected.exists)?;
        let valid = state.uid_validity == Some(selected.uid_validity);
        let unknown = messages
            .iter()
            .filter(|m| !valid || !state.pairs.contains_key(&m.uid))
            .count();
        if unknown > 0 {
            return Err(anyhow!(
                "deleted on the near side, but the far folder is not removed: {unknown} of its messages arrived since the last sync; delete it by hand or recreate the near folder"
            ));
        }
        for m in &messages {
            steps.push(Step::DeleteFar {
                uid: m.uid,
                near_id: state.pairs.get(&m.uid).map(|p| p.near_id.clone()),
                reason: plan::DeleteReason::Propagated,
                forget: true,
            });
        }
    } else {
        let scan = near
            .scan()
            .with_context(|| format!("cannot scan {}", task.near_dir.display()))?;
        let unknown = scan
            .messages
            .iter()
            .filter(|m| !paired.contains(&m.id))
            .count();
        if unknown > 0 {
            return Err(anyhow!(
                "deleted on the far side, but the near folder is not removed: {unknown} of its messages arrived since the last sync; delete it by hand or recreate the far folder"
            ));
        }
        for m in &scan.messages {
            let uid = state
                .pairs
                .iter()
                .find(|(_, p)| p.near_id == m.id)
                .map(|(uid, _)| *uid);
            steps.push(Step::DeleteNear {
                uid,
                near_id: m.id.clone(),
                reason: plan::DeleteReason::Propagated,
                forget: true,
            });
        }
    }
    if steps.len() >= 10 && !ctx.options.force {
        return Err(anyhow!(
            "held back removing this folder and its {} messages because the other side's copy is gone; if that is what you want, run again with --force",
            steps.len()
        ));
    }
    if ctx.dry_run {
        done.extend(steps);
        return Ok(());
    }
    if task.far_exists {
        // Leave the folder before deleting it: some servers end a session whose
        // selected folder disappears.
        session.select("INBOX", true)?;
        session.delete_folder(&task.server_name)?;
    } else {
        for step in &steps {
            if let Step::DeleteNear { near_id, .. } = step
                && let Some(message) = near.locate(near_id)?
            {
                near.delete(&message)?;
            }
        }
        if !near.remove_if_empty()? {
            return Err(anyhow!(
                "{} is not empty any more (a message arrived meanwhile); not removed",
                task.near_dir.display()
            ));
        }
    }
    ctx.state.remove(&task.far)?;
    done.extend(steps);
    Ok(())
}

/// The error for deletions the guard held back, if any.
pub fn held_back_error(plan: &Plan) -> Option<anyhow::Error> {
    (!plan.held_back.is_empty()).then(|| anyhow!(plan.held_back.join("; ")))
}

/// Carries out a plan. Each step that completes is pushed to `done` (the report is built
/// from it). The state is saved at the end, or when a step fails, with what was done;
/// a folder where nothing changed and nothing was to be done is not written at all.
/// `helpers`: the account's connections, some of which may help download a large
/// folder (see [`super::split`]); `None` keeps to `session`.
pub fn execute(
    session: &mut dyn FarStore,
    helpers: Option<&AccountPool>,
    near: &dyn NearStore,
    task: &FolderTask,
    ctx: &FolderContext,
    prepared: Prepared,
    done: &mut Vec<Step>,
) -> Result<()> {
    let Prepared {
        mut state,
        near_listing,
        far_listing,
        plan,
        far_now,
        near_before,
    } = prepared;
    let before = (
        state.far_seen,
        state.near_seen,
        state.seen_expunge,
        state.last_error.clone(),
    );
    // Sorted by unique name, so the executor finds a message by binary search and the
    // listing is kept once (no map of copied names beside it).
    let mut near_messages = near_listing.messages;
    near_messages.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let outcome = if plan.is_empty() {
        Ok(())
    } else {
        let mut executor = Executor {
            session,
            helpers,
            task,
            ctx,
            near,
            journal: ctx.state.journal(&task.far)?,
            state: &mut state,
            near_messages: &mut near_messages,
        };
        executor.run(&plan, far_listing.uid_next, done)
    };
    let outcome = outcome.and_then(|()| held_back_error(&plan).map_or(Ok(()), Err));
    state.last_error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    if outcome.is_ok() {
        state.far_seen = far_now.filter(|now| far_agrees(&state, &far_listing, now, done));
        state.seen_expunge = Some((ctx.options.expunge_far, ctx.options.expunge_near));
        // The near directories did not change while this run listed and worked on them,
        // were settled when it began, and hold exactly the pairs with their agreed flags:
        // the same times next run mean the same files, with nothing left to do. Else,
        // when this run changed them, they are confirmed afresh (one more listing).
        state.near_seen = near_before
            .and_then(|(times, read_at)| {
                (settled(times.new, read_at)
                    && settled(times.cur, read_at)
                    && near.dir_times() == Some(times)
                    // The directories did not change during the run, so no rename
                    // touched the listing: it is still the one read before the run.
                    && near_agrees(&state, &near_messages))
                .then_some(times)
            })
            .or_else(|| {
                near.exists()
                    .then(|| confirmed_near_times(near, &state))
                    .flatten()
            });
    } else {
        state.far_seen = None;
        state.near_seen = None;
    }
    if plan.is_empty()
        && outcome.is_ok()
        && before
            == (
                state.far_seen,
                state.near_seen,
                state.seen_expunge,
                state.last_error.clone(),
            )
    {
        return Ok(());
    }
    state.last_sync = Some(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let saved = ctx.state.save(&state);
    outcome.and(saved)
}

/// An upload read and journaled, waiting for its APPEND: body, arrival time, near id,
/// flags, and the plan's step.
type PendingUpload = (Vec<u8>, Option<SystemTime>, NearId, Flags, Step);

struct Executor<'a> {
    session: &'a mut dyn FarStore,
    helpers: Option<&'a AccountPool>,
    task: &'a FolderTask,
    ctx: &'a FolderContext<'a>,
    near: &'a dyn NearStore,
    journal: state::journal::Journal,
    state: &'a mut FolderState,
    /// The near listing, sorted by unique name; a rename replaces its entry.
    near_messages: &'a mut [NearMessage],
}

impl Executor<'_> {
    fn record(&mut self, record: Record) -> Result<()> {
        self.journal.write(&record)?;
        state::apply(self.state, &record);
        Ok(())
    }

    /// [`Self::record`] for many records, journaled with one write.
    fn record_all(&mut self, records: Vec<Record>) -> Result<()> {
        self.journal.write_all(&records)?;
        for record in &records {
            state::apply(self.state, record);
        }
        Ok(())
    }

    /// Where the near message `id` is in the sorted listing.
    fn near_index(&self, id: &NearId) -> Result<usize> {
        self.near_messages
            .binary_search_by(|m| m.id.cmp(id))
            .map_err(|_| anyhow!("near message {id} vanished from the listing"))
    }

    fn near_message(&self, id: &NearId) -> Result<&NearMessage> {
        Ok(&self.near_messages[self.near_index(id)?])
    }

    fn run(&mut self, plan: &Plan, uid_next: u32, done: &mut Vec<Step>) -> Result<()> {
        if plan.reset_pairs {
            self.record(Record::UidValidity(plan.uid_validity))?;
        }
        let mut flag_steps = Vec::new();
        let mut downloads = Vec::new();
        let mut uploads = Vec::new();
        let mut far_deletes = Vec::new();
        let mut near_deletes = Vec::new();
        for step in &plan.steps {
            match step {
                Step::Pair {
                    uid,
                    near_id,
                    flags,
                } => {
                    self.record(Record::Pair {
                        uid: *uid,
                        near_id: near_id.clone(),
                        flags: *flags,
                    })?;
                    done.push(step.clone());
                }
                Step::Forget { uid } => {
                    self.record(Record::Forget { uid: *uid })?;
                    done.push(step.clone());
                }
                Step::ForgetUpload { near_id } => {
                    self.record(Record::ForgetUpload {
                        near_id: near_id.clone(),
                    })?;
                    done.push(step.clone());
                }
                Step::SetBase { uid, flags } => {
                    self.record(Record::Base {
                        uid: *uid,
                        flags: *flags,
                    })?;
                    done.push(step.clone());
                }
                Step::SyncFlags { .. } => flag_steps.push(step),
                Step::Download { .. } => downloads.push(step),
                Step::Upload { .. } => uploads.push(step),
                Step::DeleteFar { .. } => far_deletes.push(step),
                Step::DeleteNear { .. } => near_deletes.push(step),
            }
        }
        // A refusal (say, of a read-only folder) still lets the new mail through; the
        // folder is reported failed afterwards, and the next run plans the changes again.
        let far_changed = self.change_far(&flag_steps, &far_deletes, done);
        if far_changed.as_ref().is_err_and(super::is_transient) {
            return far_changed;
        }
        self.download(&downloads, plan.uid_validity, done)?;
        self.upload(&uploads, uid_next, done)?;
        self.delete_near(&near_deletes, done)?;
        far_changed
    }

    /// The far flag changes (one UID STORE per distinct change) and the far deletions go
    /// out as one batch, so the server settles the folder once; then the near files are
    /// renamed and the outcomes recorded.
    fn change_far(
        &mut self,
        flag_steps: &[&Step],
        far_deletes: &[&Step],
        done: &mut Vec<Step>,
    ) -> Result<()> {
        let mut adds: BTreeMap<Flags, Vec<FarUid>> = BTreeMap::new();
        let mut removes: BTreeMap<Flags, Vec<FarUid>> = BTreeMap::new();
        for step in flag_steps {
            if let Step::SyncFlags {
                uid,
                far: Some(change),
                ..
            } = step
            {
                if !change.add.is_empty() {
                    adds.entry(change.add).or_default().push(*uid);
                }
                if !change.remove.is_empty() {
                    removes.entry(change.remove).or_default().push(*uid);
                }
            }
        }
        let stores: Vec<FlagStore<'_>> = adds
            .iter()
            .map(|(flags, uids)| (true, flags, uids))
            .chain(removes.iter().map(|(flags, uids)| (false, flags, uids)))
            .map(|(add, flags, uids)| FlagStore {
                uids,
                add,
                flags: *flags,
            })
            .collect();
        let deletes: Vec<FarUid> = far_deletes
            .iter()
            .filter_map(|s| match s {
                Step::DeleteFar { uid, .. } => Some(*uid),
                _ => None,
            })
            .collect();
        if !deletes.is_empty() {
            self.record(Record::IntendChange {
                op: "delete_far".into(),
                uids: deletes.clone(),
            })?;
        }
        if !stores.is_empty() || !deletes.is_empty() {
            let expunge_others = self.ctx.options.expunge_far && self.ctx.options.write_far;
            self.session
                .store_and_delete(&stores, &deletes, expunge_others)?;
        }
        self.sync_flags(flag_steps, done)?;
        self.delete_far(far_deletes, done)
    }

    /// The near side of flag changes whose far side [`Executor::change_far`] sent: the
    /// near files are renamed, then the new agreed flags are recorded.
    fn sync_flags(&mut self, steps: &[&Step], done: &mut Vec<Step>) -> Result<()> {
        for step in steps {
            let Step::SyncFlags {
                uid,
                near_id,
                near,
                base,
                ..
            } = step
            else {
                continue;
            };
            if let Some(change) = near {
                let at = self.near_index(near_id)?;
                let message = &self.near_messages[at];
                let renamed = self
                    .near
                    .change_flags(message, change.add, change.remove)
                    .with_context(|| format!("cannot change flags of {}", message.file))?;
                match renamed {
                    Some(renamed) => self.near_messages[at] = renamed,
                    // Deleted by a mail client meanwhile: the next run deletes the far copy.
                    None => continue,
                }
            }
            self.record(Record::Base {
                uid: *uid,
                flags: *base,
            })?;
            log::message(&format!(
                "{}: {}: flags of UID {uid} synced",
                self.task.channel, self.task.far
            ));
            crate::progress::message_done(0);
            done.push((*step).clone());
        }
        Ok(())
    }

    /// Bodies come in size-capped batches, written to `tmp/` as they come; every
    /// [`FLUSH_BYTES`] or [`FLUSH_MESSAGES`] (and at the end, failure or not) what was
    /// written is made durable and moved into place (see `sync_dirs`) before the pairs
    /// naming those messages are journaled.
    fn download(
        &mut self,
        steps: &[&Step],
        uid_validity: UidValidity,
        done: &mut Vec<Step>,
    ) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        // Per message, only what the batches need besides the near id, which the state
        // holds as the pending download (memory per message counts on big folders).
        let mut planned: HashMap<FarUid, (Flags, u32)> = HashMap::new();
        let mut wanted = Vec::new();
        let mut intents = Vec::new();
        for step in steps {
            if let Step::Download { uid, flags, size } = step {
                let near_id = self.near.fresh_id();
                intents.push(Record::IntendDownload { uid: *uid, near_id });
                planned.insert(*uid, (*flags, *size));
                wanted.push((*uid, *size));
            }
        }
        self.record_all(intents)?;
        let delivered: RefCell<Vec<FarUid>> = RefCell::new(Vec::new());
        let delivered_bytes = Cell::new(0u64);
        let near = self.near;
        let journal = RefCell::new(&mut self.journal);
        let state = RefCell::new(&mut *self.state);
        let done = RefCell::new(done);
        let (channel, far) = (&self.task.channel, &self.task.far);
        let mut deliver = |uid: FarUid, body: &[u8]| -> Result<()> {
            let Some((flags, _)) = planned.get(&uid) else {
                return Ok(());
            };
            let Some(near_id) = state.borrow().pending_downloads.get(&uid).cloned() else {
                return Ok(());
            };
            // No later step of this run refers to a message it downloads, so the copy
            // is not added to the listing (that would cost memory per message).
            near.deliver(&near_id, body, *flags)
                .with_context(|| format!("cannot deliver into {}", near.dir().display()))?;
            delivered.borrow_mut().push(uid);
            delivered_bytes.set(delivered_bytes.get() + body.len() as u64);
            crate::progress::message_done(body.len() as u64);
            Ok(())
        };
        let flush = || -> Result<()> {
            delivered_bytes.set(0);
            near.sync_dirs()
                .with_context(|| format!("cannot sync {}", near.dir().display()))?;
            let mut pairs = Vec::new();
            for uid in delivered.borrow_mut().drain(..) {
                let Some((flags, size)) = planned.get(&uid) else {
                    continue;
                };
                let Some(near_id) = state.borrow().pending_downloads.get(&uid).cloned() else {
                    continue;
                };
                pairs.push(Record::Pair {
                    uid,
                    near_id,
                    flags: *flags,
                });
                log::message(&format!("{channel}: {far}: downloaded UID {uid}"));
                done.borrow_mut().push(Step::Download {
                    uid,
                    flags: *flags,
                    size: *size,
                });
            }
            journal.borrow_mut().write_all(&pairs)?;
            let mut state = state.borrow_mut();
            for record in &pairs {
                state::apply(&mut state, record);
            }
            Ok(())
        };
        let mut after_batch = || -> Result<()> {
            if delivered.borrow().len() >= FLUSH_MESSAGES || delivered_bytes.get() >= FLUSH_BYTES {
                flush()?;
            }
            Ok(())
        };
        let fetched = match self.helpers {
            Some(pool) if wanted.len() >= split::SPLIT_MIN_MESSAGES => split::fetch(
                &split::Split {
                    pool,
                    server_name: &self.task.server_name,
                    uid_validity,
                    channel,
                    far,
                },
                self.session,
                &wanted,
                &mut deliver,
                &mut after_batch,
            ),
            _ => self
                .session
                .fetch_bodies(&wanted, &mut deliver, &mut after_batch),
        };
        // What was delivered is kept even when the download failed (say, a full disk):
        // made durable and recorded, then the error.
        let flushed = flush();
        let missing = fetched?;
        flushed?;
        for uid in missing {
            log::folder(&format!(
                "{}: {}: far message UID {uid} vanished before it could be downloaded",
                self.task.channel, self.task.far
            ));
        }
        Ok(())
    }

    /// APPENDs the new near messages, several per command where the server allows
    /// (a few MB at a time); without APPENDUID the new UIDs are found by searching above
    /// the UIDNEXT seen before and matching pairing keys.
    fn upload(&mut self, steps: &[&Step], uid_next: u32, done: &mut Vec<Step>) -> Result<()> {
        const CHUNK_BYTES: usize = 4 << 20;
        let mut unresolved: Vec<(crate::model::PairKey, NearId, Flags, Step)> = Vec::new();
        let mut chunk: Vec<PendingUpload> = Vec::new();
        let mut chunk_bytes = 0;
        let mut pending = steps.iter().peekable();
        while let Some(step) = pending.next() {
            let Step::Upload { near_id, flags } = step else {
                continue;
            };
            let message = self.near_message(near_id)?.clone();
            let path = self.near.dir().join(&message.file);
            let Some(body) = self
                .near
                .read(&message)
                .with_context(|| format!("cannot read {}", path.display()))?
            else {
                continue; // deleted by a mail client meanwhile
            };
            let date = self.near.mtime(&message).ok().flatten();
            self.record(Record::IntendUpload {
                near_id: near_id.clone(),
                uid_next,
                key: Some(crate::pairkey::pair_key_from_header(&body)),
            })?;
            chunk_bytes += body.len();
            chunk.push((body, date, near_id.clone(), *flags, (*step).clone()));
            if chunk_bytes >= CHUNK_BYTES || pending.peek().is_none() {
                self.append_chunk(std::mem::take(&mut chunk), &mut unresolved, done)?;
                chunk_bytes = 0;
            }
        }
        if !chunk.is_empty() {
            self.append_chunk(chunk, &mut unresolved, done)?;
        }
        if unresolved.is_empty() {
            return Ok(());
        }
        let candidates: Vec<FarUid> = self
            .session
            .uids_from(uid_next)?
            .into_iter()
            .filter(|uid| !self.state.pairs.contains_key(uid))
            .collect();
        let mut by_key: HashMap<crate::model::PairKey, Vec<FarUid>> = HashMap::new();
        for (uid, key) in self.session.pair_keys(&candidates)? {
            by_key.entry(key).or_default().push(uid);
        }
        for (key, near_id, flags, step) in unresolved {
            // Uploaded but not found: the next run pairs it by Message-ID.
            let Some(uid) = by_key
                .get_mut(&key)
                .and_then(|uids| (!uids.is_empty()).then(|| uids.remove(0)))
            else {
                done.push(step);
                continue;
            };
            self.record(Record::Pair {
                uid,
                near_id,
                flags,
            })?;
            done.push(step);
        }
        Ok(())
    }

    /// Appends one chunk of uploads and pairs those whose new UID the server said; the
    /// others go to `unresolved`.
    fn append_chunk(
        &mut self,
        chunk: Vec<PendingUpload>,
        unresolved: &mut Vec<(crate::model::PairKey, NearId, Flags, Step)>,
        done: &mut Vec<Step>,
    ) -> Result<()> {
        let uploads: Vec<crate::store::imap::Upload<'_>> = chunk
            .iter()
            .map(|(body, date, _, flags, _)| crate::store::imap::Upload {
                body,
                flags: *flags,
                date: *date,
            })
            .collect();
        let uids = self.session.append_many(&self.task.server_name, &uploads)?;
        drop(uploads);
        for ((body, _, near_id, flags, step), uid) in chunk.into_iter().zip(uids) {
            crate::progress::message_done(body.len() as u64);
            match uid {
                Some(uid) => {
                    self.record(Record::Pair {
                        uid,
                        near_id: near_id.clone(),
                        flags,
                    })?;
                    log::message(&format!(
                        "{}: {}: uploaded {near_id} as UID {uid}",
                        self.task.channel, self.task.far
                    ));
                    done.push(step);
                }
                None => unresolved.push((
                    crate::pairkey::pair_key_from_header(&body),
                    near_id,
                    flags,
                    step,
                )),
            }
        }
        Ok(())
    }

    /// The records of far deletions [`Executor::change_far`] carried out.
    fn delete_far(&mut self, steps: &[&Step], done: &mut Vec<Step>) -> Result<()> {
        for step in steps {
            if let Step::DeleteFar { uid, forget, .. } = step {
                if *forget {
                    self.record(Record::Forget { uid: *uid })?;
                }
                log::message(&format!(
                    "{}: {}: deleted far UID {uid}",
                    self.task.channel, self.task.far
                ));
                crate::progress::message_done(0);
                done.push((*step).clone());
            }
        }
        Ok(())
    }

    fn delete_near(&mut self, steps: &[&Step], done: &mut Vec<Step>) -> Result<()> {
        for step in steps {
            let Step::DeleteNear {
                uid,
                near_id,
                forget,
                ..
            } = step
            else {
                continue;
            };
            let message = self.near_message(near_id)?.clone();
            self.near.delete(&message).with_context(|| {
                format!(
                    "cannot delete {}",
                    self.near.dir().join(&message.file).display()
                )
            })?;
            if let (Some(uid), true) = (uid, forget) {
                self.record(Record::Forget { uid: *uid })?;
            }
            log::message(&format!(
                "{}: {}: deleted near {near_id}",
                self.task.channel, self.task.far
            ));
            crate::progress::message_done(0);
            done.push((*step).clone());
        }
        Ok(())
    }
}
