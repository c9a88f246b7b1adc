//! What each side of a folder looked like when the state last agreed with it in full:
//! deciding that a folder is unchanged (and needs no connection at all), rebuilding a far
//! listing from the state and the server's changes, and deciding whether a finished run
//! may record fresh snapshots.

use super::folder::{FolderContext, FolderTask};
use crate::flags::Flags;
use crate::model::{
    FarChanges, FarListing, FarMessage, FarSnapshot, FarUid, Gone, NearId, NearMessage,
    NearSnapshot, UidValidity,
};
use crate::plan::Step;
use crate::state::FolderState;
use crate::store::NearStore;
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The state's snapshot of the far folder, when it can stand for a listing: same
/// UIDVALIDITY, and no copy left half-done by an interrupted run.
pub(super) fn usable_far_snapshot(state: &FolderState) -> Option<FarSnapshot> {
    state.far_seen.filter(|seen| {
        state.uid_validity == Some(UidValidity(seen.uid_validity))
            && state.pending_downloads.is_empty()
            && state.pending_uploads.is_empty()
    })
}

/// What [`unchanged`] found.
pub enum Look {
    /// Neither side changed since the last run that left nothing to do.
    Unchanged,
    /// Something may have changed. With the folder's state when it was read to tell (no
    /// journal was left to replay): the job goes on from it rather than reading it again.
    Changed(Option<Box<FolderState>>),
}

/// Whether neither side of the folder changed since the last run that left nothing to
/// do: STATUS says what the state's far snapshot says, and the near directories have the
/// times the state recorded (or, failing that, a listing of them holds exactly the
/// paired messages with their agreed flags). Such a folder needs no connection; with
/// the recorded times, no listing and no write either.
pub fn unchanged(near: &dyn NearStore, task: &FolderTask, ctx: &FolderContext) -> Result<Look> {
    if task.create.is_some() || task.remove || !task.far_exists || task.far_status.is_none() {
        return Ok(Look::Changed(None));
    }
    if ctx.state.has_journal(&task.far) {
        return Ok(Look::Changed(None));
    }
    let state = ctx.state.peek(&task.far, &task.near)?;
    let changed = |state| Ok(Look::Changed(Some(Box::new(state))));
    let Some(seen) = usable_far_snapshot(&state) else {
        return changed(state);
    };
    if state.seen_expunge != Some((ctx.options.expunge_far, ctx.options.expunge_near)) {
        return changed(state);
    }
    if task.far_status != Some(seen) || !near.exists() {
        return changed(state);
    }
    let read_at = SystemTime::now();
    let Some(times) = near.dir_times() else {
        return changed(state);
    };
    if state.near_seen == Some(times) {
        return Ok(Look::Unchanged);
    }
    // The far folder is unchanged but the near times are not the recorded ones (the run
    // that recorded the far snapshot had just written the folder, or a mail reader
    // touched it): one local listing, still no connection, tells whether anything
    // changed. If not, the times are recorded once settled, so the next run need not list.
    if !listing_agrees(near, &state)? || near.dir_times() != Some(times) {
        return changed(state);
    }
    if !ctx.dry_run && settled(times.new, read_at) && settled(times.cur, read_at) {
        let mut state = state;
        state.near_seen = Some(times);
        ctx.state.save(&state)?;
    }
    Ok(Look::Unchanged)
}

/// Whether the near folder changed after its state was last saved: a directory time
/// later than the state file's. Every run writes its near changes before it saves the
/// state, so only someone else's change makes that true; such a folder is opened
/// whatever the server says, so the server need not be asked whether it changed. A
/// wrong guess costs only time: an opened folder is compared in full.
pub fn near_changed_since_saved(near: &dyn NearStore, saved_at: Option<i128>) -> bool {
    match (saved_at, near.dir_times()) {
        (Some(saved), Some(times)) => times.new > saved || times.cur > saved,
        _ => false,
    }
}

/// Whether a directory time read at `read_at` is old enough that any later change to the
/// directory must give it a different time: more than the file system's time granularity
/// (a clock tick, or whole seconds where the times have no fraction) in the past.
pub(super) fn settled(time_ns: i128, read_at: SystemTime) -> bool {
    let margin_ns: i128 = if time_ns % 1_000_000_000 == 0 {
        2_000_000_000
    } else {
        100_000_000
    };
    let Ok(read_at) = read_at.duration_since(UNIX_EPOCH) else {
        return false;
    };
    time_ns + margin_ns < i128::try_from(read_at.as_nanos()).unwrap_or(i128::MAX)
}

/// The far listing rebuilt from the state and what changed since its snapshot `seen`:
/// the pairs below the old UIDNEXT with their agreed flags, less the gone, with the
/// changed flags, plus the new messages. `None` when the answer does not fit the state
/// (a changed or present message the state does not know, or a count that differs from
/// EXISTS): the caller then lists the folder in full.
pub(super) fn listing_from_changes(
    state: &FolderState,
    seen: &FarSnapshot,
    changes: FarChanges,
    exists: u32,
) -> Option<Vec<FarMessage>> {
    let mut messages: BTreeMap<FarUid, FarMessage> = state
        .pairs
        .range(..FarUid(seen.uid_next))
        .map(|(uid, pairing)| {
            (
                *uid,
                FarMessage {
                    uid: *uid,
                    flags: pairing.flags,
                    size: 0,
                },
            )
        })
        .collect();
    match changes.gone {
        Gone::Vanished(uids) => {
            for uid in uids {
                messages.remove(&uid);
            }
        }
        Gone::Present(uids) => {
            if uids.iter().any(|uid| !messages.contains_key(uid)) {
                return None;
            }
            let present: std::collections::HashSet<FarUid> = uids.into_iter().collect();
            messages.retain(|uid, _| present.contains(uid));
        }
    }
    for (uid, flags) in changes.changed {
        messages.get_mut(&uid)?.flags = flags;
    }
    for message in changes.new {
        if message.uid.0 < seen.uid_next {
            return None;
        }
        messages.insert(message.uid, message);
    }
    (messages.len() == exists as usize).then(|| messages.into_values().collect())
}

/// Whether the state, after this run, agrees with the far folder as SELECT described it
/// (`now`), so the next run may start from that snapshot: the pairs below its UIDNEXT
/// are exactly the listed messages this run did not delete, each with its listed flags
/// as the agreed flags unless this run changed them (then the next run sees the change).
/// Nothing is pending.
pub(super) fn far_agrees(
    state: &FolderState,
    listing: &FarListing,
    now: &FarSnapshot,
    done: &[Step],
) -> bool {
    let mut deleted = std::collections::HashSet::new();
    let mut flagged = std::collections::HashSet::new();
    for step in done {
        match step {
            Step::DeleteFar { uid, .. } => {
                deleted.insert(*uid);
            }
            Step::SyncFlags {
                uid, far: Some(_), ..
            } => {
                flagged.insert(*uid);
            }
            _ => {}
        }
    }
    if !state.pending_downloads.is_empty() || !state.pending_uploads.is_empty() {
        return false;
    }
    let mut kept = 0usize;
    for message in &listing.messages {
        if deleted.contains(&message.uid) {
            continue;
        }
        kept += 1;
        match state.pairs.get(&message.uid) {
            Some(pairing) if pairing.flags == message.flags || flagged.contains(&message.uid) => {}
            _ => return false,
        }
    }
    state.pairs.range(..FarUid(now.uid_next)).count() == kept
}

/// Whether the near listing (which this run did not change) holds exactly the paired
/// near messages, each with its agreed flags.
pub(super) fn near_agrees(state: &FolderState, listing: &[NearMessage]) -> bool {
    let agreed: foldhash::HashMap<&NearId, Flags> = state
        .pairs
        .values()
        .map(|pairing| (&pairing.near_id, pairing.flags))
        .collect();
    agreed.len() == listing.len() && listing.iter().all(|m| agreed.get(&m.id) == Some(&m.flags))
}

/// The near directories' times after a run that changed them (or that began before
/// they settled), when they can stand for the folder: the times are read and must be
/// strictly older than the file system's clock now (so any later change gives them new
/// times), then the folder is listed again and must hold exactly the pairs with their
/// agreed flags, then the times are read again, unchanged. A change made after the first
/// read either shows in that listing or changes the times; no waiting needed.
pub(super) fn confirmed_near_times(
    near: &dyn NearStore,
    state: &FolderState,
) -> Option<NearSnapshot> {
    let times = near.dir_times()?;
    let clock = near.clock()?;
    if times.new >= clock || times.cur >= clock {
        return None;
    }
    (listing_agrees(near, state).ok()? && near.dir_times() == Some(times)).then_some(times)
}

/// Whether the near folder, listed now, holds exactly the paired messages with their
/// agreed flags.
fn listing_agrees(near: &dyn NearStore, state: &FolderState) -> std::io::Result<bool> {
    Ok(near_agrees(state, &near.scan()?.messages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Pairing;

    fn state_with(pairs: &[(u32, &str)]) -> FolderState {
        let mut state = FolderState::new("INBOX", "INBOX");
        state.uid_validity = Some(UidValidity(7));
        for (uid, flags) in pairs {
            state.pairs.insert(
                FarUid(*uid),
                Pairing {
                    near_id: NearId(format!("id{uid}")),
                    flags: Flags::from_maildir(flags),
                },
            );
        }
        state
    }

    fn seen() -> FarSnapshot {
        FarSnapshot {
            uid_validity: 7,
            uid_next: 4,
            messages: 3,
            highest_modseq: 10,
        }
    }

    fn listed(listing: &[FarMessage]) -> Vec<(u32, String)> {
        listing
            .iter()
            .map(|m| (m.uid.0, m.flags.to_maildir()))
            .collect()
    }

    #[test]
    fn a_listing_is_rebuilt_from_the_state_and_the_changes() {
        let state = state_with(&[(1, "S"), (2, ""), (3, "F")]);
        let changes = FarChanges {
            changed: vec![(FarUid(2), Flags::from_maildir("RS"))],
            new: vec![FarMessage {
                uid: FarUid(5),
                flags: Flags::from_maildir("S"),
                size: 99,
            }],
            gone: Gone::Vanished(vec![FarUid(3), FarUid(40)]),
        };
        let listing = listing_from_changes(&state, &seen(), changes, 3).unwrap();
        assert_eq!(
            listed(&listing),
            [(1, "S".into()), (2, "RS".into()), (5, "S".into())]
        );
        assert_eq!(listing[2].size, 99);
        // CONDSTORE alone: the present old UIDs say what is gone.
        let changes = FarChanges {
            gone: Gone::Present(vec![FarUid(1), FarUid(3)]),
            ..FarChanges::default()
        };
        let listing = listing_from_changes(&state, &seen(), changes, 2).unwrap();
        assert_eq!(listed(&listing), [(1, "S".into()), (3, "F".into())]);
    }

    #[test]
    fn changes_that_do_not_fit_the_state_ask_for_a_full_listing() {
        let state = state_with(&[(1, "S"), (2, "")]);
        // A changed message the state does not know (an unpaired old one).
        let unknown = FarChanges {
            changed: vec![(FarUid(3), Flags::default())],
            ..FarChanges::default()
        };
        assert!(listing_from_changes(&state, &seen(), unknown, 3).is_none());
        // An old message present that the state does not pair.
        let present = FarChanges {
            gone: Gone::Present(vec![FarUid(1), FarUid(2), FarUid(3)]),
            ..FarChanges::default()
        };
        assert!(listing_from_changes(&state, &seen(), present, 3).is_none());
        // A "new" message below the old UIDNEXT.
        let old_as_new = FarChanges {
            new: vec![FarMessage {
                uid: FarUid(3),
                flags: Flags::default(),
                size: 1,
            }],
            ..FarChanges::default()
        };
        assert!(listing_from_changes(&state, &seen(), old_as_new, 3).is_none());
        // EXISTS disagrees with the rebuilt count.
        assert!(listing_from_changes(&state, &seen(), FarChanges::default(), 3).is_none());
        assert!(listing_from_changes(&state, &seen(), FarChanges::default(), 2).is_some());
    }

    #[test]
    fn near_times_are_confirmed_only_below_the_clock_and_with_an_agreeing_listing() {
        use crate::store::memory::MemoryNear;
        let near = MemoryNear::new(std::rc::Rc::default());
        let mut state = state_with(&[]);
        for flags in ["S", ""] {
            let flags = Flags::from_maildir(flags);
            let id = near.data.borrow_mut().add(flags, b"body");
            let uid = FarUid(state.pairs.len() as u32 + 1);
            state
                .pairs
                .insert(uid, crate::state::Pairing { near_id: id, flags });
        }
        let times = NearSnapshot { new: 100, cur: 200 };
        // Unknown times or clock: nothing to record.
        assert_eq!(confirmed_near_times(&near, &state), None);
        near.data.borrow_mut().times = Some(times);
        assert_eq!(confirmed_near_times(&near, &state), None);
        // A time not strictly below the clock could be shared by a change made now.
        near.data.borrow_mut().clock = Some(200);
        assert_eq!(confirmed_near_times(&near, &state), None);
        near.data.borrow_mut().clock = Some(201);
        assert_eq!(confirmed_near_times(&near, &state), Some(times));
        // A file the state does not pair, or other flags than agreed: not recorded.
        let extra = near.data.borrow_mut().add(Flags::default(), b"new mail");
        assert_eq!(confirmed_near_times(&near, &state), None);
        near.data.borrow_mut().messages.remove(&extra);
        let first = state.pairs.values().next().unwrap().near_id.clone();
        near.data
            .borrow_mut()
            .messages
            .get_mut(&first)
            .unwrap()
            .flags = Flags::from_maildir("FS");
        assert_eq!(confirmed_near_times(&near, &state), None);
    }

    #[test]
    fn a_near_change_shows_as_a_directory_time_after_the_state_was_saved() {
        use crate::store::memory::MemoryNear;
        let near = MemoryNear::new(std::rc::Rc::default());
        // Unknown times or no state: not known to have changed (the server is asked).
        assert!(!near_changed_since_saved(&near, Some(150)));
        near.data.borrow_mut().times = Some(NearSnapshot { new: 100, cur: 200 });
        assert!(!near_changed_since_saved(&near, None));
        assert!(
            !near_changed_since_saved(&near, Some(200)),
            "written before the save"
        );
        assert!(
            near_changed_since_saved(&near, Some(150)),
            "cur/ changed after"
        );
        near.data.borrow_mut().times = Some(NearSnapshot { new: 300, cur: 100 });
        assert!(
            near_changed_since_saved(&near, Some(250)),
            "new/ changed after"
        );
    }

    #[test]
    fn directory_times_count_only_once_settled() {
        let at = |ns: i128| UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64);
        let t = 1_700_000_000_123_456_789i128;
        assert!(!settled(t, at(t)));
        assert!(!settled(t, at(t + 50_000_000)));
        assert!(settled(t, at(t + 150_000_000)));
        // Whole-second times (a coarse file system): two seconds.
        let whole = 1_700_000_000_000_000_000i128;
        assert!(!settled(whole, at(whole + 1_500_000_000)));
        assert!(settled(whole, at(whole + 2_500_000_000)));
        assert!(!settled(t, at(t - 1_000_000_000)), "a time in the future");
    }
}
