//! The planner: a pure function from (far listing, near listing, state, pairing keys,
//! options) to the steps that bring one folder pair into sync. No I/O, no clock.

use crate::flags::Flags;
use crate::model::{
    FarListing, FarMessage, FarUid, NearId, NearListing, NearMessage, PairKey, UidValidity,
};
use crate::state::FolderState;
use foldhash::{HashMap as FastMap, HashMapExt, HashSet as FastSet, HashSetExt};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// What the run may do to this folder pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Changes may be written to the far side (direction both or push).
    pub write_far: bool,
    /// Changes may be written to the near side (direction both or pull).
    pub write_near: bool,
    /// Messages flagged deleted are purged on the far side.
    pub expunge_far: bool,
    /// Messages flagged deleted are purged on the near side.
    pub expunge_near: bool,
    /// Far messages larger than this are not downloaded.
    pub max_size: Option<u64>,
    /// Carry out deletions the mass-deletion guard would hold back.
    pub force: bool,
}

/// Keys identifying unpaired messages by content (Message-ID or header hash), computed
/// by the caller for the unpaired messages of both sides when both sides have some.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub far: HashMap<FarUid, PairKey>,
    pub near: HashMap<NearId, PairKey>,
}

/// A change of flags on one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagChange {
    pub add: Flags,
    pub remove: Flags,
}

impl FlagChange {
    fn between(from: Flags, to: Flags) -> Option<FlagChange> {
        (from != to).then(|| FlagChange {
            add: to.difference(from),
            remove: from.difference(to),
        })
    }
}

/// Why a message is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// Its copy on the other side is gone.
    Propagated,
    /// It carries the deleted flag and `expunge` names this side.
    Purged,
}

/// One step of a plan. The first three only change the state; the others change a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Pair two copies found to be the same message, agreeing on `flags` as the base.
    Pair {
        uid: FarUid,
        near_id: NearId,
        flags: Flags,
    },
    /// Drop a pair both of whose copies are gone.
    Forget { uid: FarUid },
    /// Drop the record of a begun upload that needs no more attention.
    ForgetUpload { near_id: NearId },
    /// Record new agreed flags (both sides already agree).
    SetBase { uid: FarUid, flags: Flags },
    /// Copy a far message to the near side with these flags.
    Download {
        uid: FarUid,
        flags: Flags,
        size: u32,
    },
    /// Copy a near message to the far side with these flags.
    Upload { near_id: NearId, flags: Flags },
    /// Change flags on one or both sides of a pair, then record `base`.
    SyncFlags {
        uid: FarUid,
        near_id: NearId,
        far: Option<FlagChange>,
        near: Option<FlagChange>,
        base: Flags,
    },
    /// Delete a far message; `forget` drops its pair afterwards.
    DeleteFar {
        uid: FarUid,
        near_id: Option<NearId>,
        reason: DeleteReason,
        forget: bool,
    },
    /// Delete a near message; `forget` drops its pair (if any) afterwards.
    DeleteNear {
        uid: Option<FarUid>,
        near_id: NearId,
        reason: DeleteReason,
        forget: bool,
    },
}

/// The plan for one folder pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The far UIDVALIDITY the steps refer to.
    pub uid_validity: UidValidity,
    /// The state's pairs are void (first sync or a UIDVALIDITY change): record the new
    /// UIDVALIDITY before any step.
    pub reset_pairs: bool,
    pub steps: Vec<Step>,
    /// Deletions the mass-deletion guard held back, as messages for the user.
    pub held_back: Vec<String>,
    /// Far messages not downloaded because they exceed `max_size`.
    pub too_large: Vec<FarUid>,
}

impl Plan {
    /// True when the plan changes nothing anywhere, the state included.
    pub fn is_empty(&self) -> bool {
        !self.reset_pairs && self.steps.is_empty()
    }
}

/// The unpaired messages of each side, for which the caller computes pairing keys.
pub fn unpaired<'a>(
    far: &'a FarListing,
    near: &'a NearListing,
    state: &FolderState,
) -> (Vec<&'a FarMessage>, Vec<&'a NearMessage>) {
    let valid = state.uid_validity == Some(far.uid_validity);
    let paired_near: FastSet<&NearId> = if valid {
        state.pairs.values().map(|p| &p.near_id).collect()
    } else {
        FastSet::new()
    };
    let far_unpaired = far
        .messages
        .iter()
        .filter(|m| !valid || !state.pairs.contains_key(&m.uid))
        .collect();
    let near_unpaired = near
        .messages
        .iter()
        .filter(|m| !paired_near.contains(&m.id))
        .collect();
    (far_unpaired, near_unpaired)
}

/// Works out the steps for one folder pair.
pub fn plan(
    far: &FarListing,
    near: &NearListing,
    state: &FolderState,
    keys: &Keys,
    options: &PlanOptions,
) -> Plan {
    let valid = state.uid_validity == Some(far.uid_validity);
    let empty = BTreeMap::new();
    let pairs = if valid { &state.pairs } else { &empty };
    // After a UIDVALIDITY change the old pairs are void, but the flags they agreed on
    // still serve as the base when a near message is paired again.
    let old_base: FastMap<&NearId, Flags> = if valid {
        FastMap::new()
    } else {
        state
            .pairs
            .values()
            .map(|p| (&p.near_id, p.flags))
            .collect()
    };
    let far_by_uid: FastMap<FarUid, &FarMessage> =
        far.messages.iter().map(|m| (m.uid, m)).collect();
    let near_by_id: FastMap<&NearId, &NearMessage> =
        near.messages.iter().map(|m| (&m.id, m)).collect();

    let mut builder = Builder {
        options,
        steps: Vec::new(),
    };

    for (uid, pairing) in pairs {
        match (far_by_uid.get(uid), near_by_id.get(&pairing.near_id)) {
            // Gone from both sides: only the pair is left to drop.
            (None, None) => builder.steps.push(Step::Forget { uid: *uid }),
            // Deleted near: delete the far copy.
            (Some(_), None) => {
                if options.write_far {
                    builder.steps.push(Step::DeleteFar {
                        uid: *uid,
                        near_id: Some(pairing.near_id.clone()),
                        reason: DeleteReason::Propagated,
                        forget: true,
                    });
                }
            }
            // Deleted far: delete the near copy.
            (None, Some(_)) => {
                if options.write_near {
                    builder.steps.push(Step::DeleteNear {
                        uid: Some(*uid),
                        near_id: pairing.near_id.clone(),
                        reason: DeleteReason::Propagated,
                        forget: true,
                    });
                }
            }
            // On both sides: merge the flags.
            (Some(f), Some(n)) => {
                builder.both_present(*uid, &n.id, pairing.flags, f.flags, n.flags)
            }
        }
    }

    let (mut far_unpaired, mut near_unpaired) = unpaired(far, near, state);
    // Downloads a cut run began: the copy carries the near id chosen for it.
    if valid {
        for (uid, near_id) in &state.pending_downloads {
            let far_copy = far_unpaired.iter().position(|m| m.uid == *uid);
            let near_copy = near_unpaired.iter().position(|m| m.id == *near_id);
            match (far_copy, near_copy) {
                // Both copies are there: pair them as the download meant to.
                (Some(f), Some(n)) => {
                    let (f, n) = (far_unpaired.remove(f), near_unpaired.remove(n));
                    let base = Flags::from_bits(f.flags.bits() & n.flags.bits());
                    builder.steps.push(Step::Pair {
                        uid: f.uid,
                        near_id: n.id.clone(),
                        flags: base,
                    });
                    builder.both_present(f.uid, &n.id, base, f.flags, n.flags);
                }
                // The far original went away after it was copied: the copy goes too
                // (it must not be uploaded back).
                (None, Some(n)) => {
                    let n = near_unpaired.remove(n);
                    if options.write_near && !state.pairs.contains_key(uid) {
                        builder.steps.push(Step::DeleteNear {
                            uid: Some(*uid),
                            near_id: n.id.clone(),
                            reason: DeleteReason::Propagated,
                            forget: true,
                        });
                    }
                }
                // The copy never landed (or was deleted): drop the record; the original,
                // if still there, is treated as new (downloaded again under a new id).
                (_, None) => {
                    if !state.pairs.contains_key(uid) {
                        builder.steps.push(Step::Forget { uid: *uid });
                    }
                }
            }
        }
    }
    // Uploads a cut run began whose near original is gone now: a far copy (at or above
    // the UIDNEXT seen before the APPEND, with the same key) is deleted, not downloaded.
    if valid {
        for (near_id, (uid_next, key)) in &state.pending_uploads {
            if near_by_id.contains_key(near_id) {
                continue; // still there: paired by key, or uploaded again
            }
            let copy = far_unpaired
                .iter()
                .position(|m| m.uid.0 >= *uid_next && keys.far.get(&m.uid) == Some(key));
            match copy {
                // Never downloaded back; deleted when this run may write far.
                Some(i) => {
                    let f = far_unpaired.remove(i);
                    if options.write_far {
                        builder.steps.push(Step::Pair {
                            uid: f.uid,
                            near_id: near_id.clone(),
                            flags: f.flags,
                        });
                        builder.steps.push(Step::DeleteFar {
                            uid: f.uid,
                            near_id: Some(near_id.clone()),
                            reason: DeleteReason::Propagated,
                            forget: true,
                        });
                    }
                }
                None => builder.steps.push(Step::ForgetUpload {
                    near_id: near_id.clone(),
                }),
            }
        }
    }
    // Unpaired messages with the same key on both sides are the same message: pair them
    // (first sync, a new UIDVALIDITY, or a copy whose journal record was lost).
    let mut near_by_key: FastMap<&PairKey, VecDeque<&NearMessage>> = FastMap::new();
    for n in &near_unpaired {
        if let Some(key) = keys.near.get(&n.id) {
            near_by_key.entry(key).or_default().push_back(n);
        }
    }
    let mut matched_near: FastSet<&NearId> = FastSet::new();
    for f in &far_unpaired {
        let Some(n) = keys
            .far
            .get(&f.uid)
            .and_then(|key| near_by_key.get_mut(key))
            .and_then(|queue| queue.pop_front())
        else {
            // Only on the far side: a new message.
            builder.far_only(f);
            continue;
        };
        matched_near.insert(&n.id);
        // With no earlier agreement, the base is what both copies have in common, so
        // the merge gives each side the flags the other has too.
        let base = old_base
            .get(&n.id)
            .copied()
            .unwrap_or_else(|| Flags::from_bits(f.flags.bits() & n.flags.bits()));
        builder.steps.push(Step::Pair {
            uid: f.uid,
            near_id: n.id.clone(),
            flags: base,
        });
        builder.both_present(f.uid, &n.id, base, f.flags, n.flags);
    }
    for n in near_unpaired {
        if !matched_near.contains(&n.id) {
            // Only on the near side: a new message (or one whose far copy went away
            // with an old UIDVALIDITY: nothing is deleted on inference).
            builder.near_only(n);
        }
    }

    let mut steps = builder.steps;
    // A begun upload whose near original is purged now needs no more attention.
    let purged_pending: Vec<Step> = steps
        .iter()
        .filter_map(|step| match step {
            Step::DeleteNear {
                uid: None, near_id, ..
            } if state.pending_uploads.contains_key(near_id) => Some(Step::ForgetUpload {
                near_id: near_id.clone(),
            }),
            _ => None,
        })
        .collect();
    steps.extend(purged_pending);
    let mut too_large = Vec::new();
    steps.retain(|step| match step {
        Step::Download { uid, size, .. } => {
            let fits = options.max_size.is_none_or(|max| u64::from(*size) <= max);
            if !fits {
                too_large.push(*uid);
            }
            fits
        }
        _ => true,
    });
    let held_back = guard(
        &mut steps,
        far.messages.len(),
        near.messages.len(),
        options.force,
    );
    steps.sort_by_key(step_order);
    Plan {
        uid_validity: far.uid_validity,
        reset_pairs: !valid,
        steps,
        held_back,
        too_large,
    }
}

struct Builder<'a> {
    options: &'a PlanOptions,
    steps: Vec<Step>,
}

impl Builder<'_> {
    /// A message present on both sides with agreed flags `base`.
    fn both_present(
        &mut self,
        uid: FarUid,
        near_id: &NearId,
        base: Flags,
        far: Flags,
        near: Flags,
    ) {
        let o = self.options;
        let merged = Flags::merge(base, far, near);
        let purge_far = o.expunge_far && o.write_far;
        let purge_near = o.expunge_near && o.write_near;
        if merged.contains(Flags::DELETED) && (purge_far || purge_near) {
            // Purged on the side that expunges, and the purge propagates as a deletion;
            // the last deletion drops the pair.
            if o.write_far {
                self.steps.push(Step::DeleteFar {
                    uid,
                    near_id: Some(near_id.clone()),
                    reason: if purge_far {
                        DeleteReason::Purged
                    } else {
                        DeleteReason::Propagated
                    },
                    forget: !o.write_near,
                });
            }
            if o.write_near {
                self.steps.push(Step::DeleteNear {
                    uid: Some(uid),
                    near_id: near_id.clone(),
                    reason: if purge_near {
                        DeleteReason::Purged
                    } else {
                        DeleteReason::Propagated
                    },
                    forget: true,
                });
            }
            return;
        }
        let (far_target, near_target, new_base) = match (o.write_far, o.write_near) {
            (true, true) => (merged, merged, merged),
            // Pull: the far side's changes go to the near side; the near side's own
            // changes stay pending against a base that equals the far flags.
            (false, true) => {
                let changed = far.bits() ^ base.bits();
                let near_target =
                    Flags::from_bits((near.bits() & !changed) | (far.bits() & changed));
                (far, near_target, far)
            }
            (true, false) => {
                let changed = near.bits() ^ base.bits();
                let far_target =
                    Flags::from_bits((far.bits() & !changed) | (near.bits() & changed));
                (far_target, near, near)
            }
            (false, false) => (far, near, base),
        };
        let far_change = FlagChange::between(far, far_target);
        let near_change = FlagChange::between(near, near_target);
        if far_change.is_some() || near_change.is_some() {
            self.steps.push(Step::SyncFlags {
                uid,
                near_id: near_id.clone(),
                far: far_change,
                near: near_change,
                base: new_base,
            });
        } else if new_base != base {
            self.steps.push(Step::SetBase {
                uid,
                flags: new_base,
            });
        }
    }

    /// A far message no pair and no key match accounts for.
    fn far_only(&mut self, f: &FarMessage) {
        let o = self.options;
        if f.flags.contains(Flags::DELETED) {
            // Flagged deleted: never copied; purged where expunge says so.
            if o.expunge_far && o.write_far {
                self.steps.push(Step::DeleteFar {
                    uid: f.uid,
                    near_id: None,
                    reason: DeleteReason::Purged,
                    forget: false,
                });
            }
        } else if o.write_near {
            self.steps.push(Step::Download {
                uid: f.uid,
                flags: f.flags,
                size: f.size,
            });
        }
    }

    /// A near message no pair and no key match accounts for.
    fn near_only(&mut self, n: &NearMessage) {
        let o = self.options;
        if n.flags.contains(Flags::DELETED) {
            if o.expunge_near && o.write_near {
                self.steps.push(Step::DeleteNear {
                    uid: None,
                    near_id: n.id.clone(),
                    reason: DeleteReason::Purged,
                    forget: false,
                });
            }
        } else if o.write_far {
            self.steps.push(Step::Upload {
                near_id: n.id.clone(),
                flags: n.flags,
            });
        }
    }
}

/// The mass-deletion guard: when more than half of one side's messages (in a folder of
/// ten or more) would be deleted because their copies on the other side are gone, hold
/// those deletions back unless forced. Purges of messages flagged deleted are the user's
/// explicit wish and never held.
fn guard(steps: &mut Vec<Step>, far_count: usize, near_count: usize, force: bool) -> Vec<String> {
    let propagated_far = steps
        .iter()
        .filter(|s| {
            matches!(
                s,
                Step::DeleteFar {
                    reason: DeleteReason::Propagated,
                    ..
                }
            )
        })
        .filter(|s| !is_purge_partner(s, steps))
        .count();
    let propagated_near = steps
        .iter()
        .filter(|s| {
            matches!(
                s,
                Step::DeleteNear {
                    reason: DeleteReason::Propagated,
                    ..
                }
            )
        })
        .filter(|s| !is_purge_partner(s, steps))
        .count();
    let mut held = Vec::new();
    let mut hold_far = false;
    let mut hold_near = false;
    if !force && far_count >= 10 && propagated_far * 2 > far_count {
        hold_far = true;
        held.push(format!(
            "held back deleting {propagated_far} of {far_count} far messages whose near copies are gone; \
             if that is what you want, run again with --force"
        ));
    }
    if !force && near_count >= 10 && propagated_near * 2 > near_count {
        hold_near = true;
        held.push(format!(
            "held back deleting {propagated_near} of {near_count} near messages whose far copies are gone; \
             if that is what you want, run again with --force"
        ));
    }
    if hold_far || hold_near {
        let snapshot = steps.clone();
        steps.retain(|s| match s {
            Step::DeleteFar {
                reason: DeleteReason::Propagated,
                ..
            } => !hold_far || is_purge_partner(s, &snapshot),
            Step::DeleteNear {
                reason: DeleteReason::Propagated,
                ..
            } => !hold_near || is_purge_partner(s, &snapshot),
            _ => true,
        });
    }
    held
}

/// True for a propagated deletion that accompanies a purge of the same pair (the purge
/// was asked for, so its other half is not a guarded deletion).
fn is_purge_partner(step: &Step, steps: &[Step]) -> bool {
    let uid = match step {
        Step::DeleteFar { uid, .. } => Some(*uid),
        Step::DeleteNear { uid, .. } => *uid,
        _ => None,
    };
    let Some(uid) = uid else { return false };
    steps.iter().any(|other| match other {
        Step::DeleteFar {
            uid: u,
            reason: DeleteReason::Purged,
            ..
        } => *u == uid,
        Step::DeleteNear {
            uid: Some(u),
            reason: DeleteReason::Purged,
            ..
        } => *u == uid,
        _ => false,
    })
}

/// Execution order: state-only steps, flags, copies, then deletions; far deletions before
/// near ones so that a pair is dropped only by its last deletion.
fn step_order(step: &Step) -> u8 {
    match step {
        Step::Forget { .. }
        | Step::ForgetUpload { .. }
        | Step::Pair { .. }
        | Step::SetBase { .. } => 0,
        Step::SyncFlags { .. } => 1,
        Step::Download { .. } => 2,
        Step::Upload { .. } => 3,
        Step::DeleteFar { .. } => 4,
        Step::DeleteNear { .. } => 5,
    }
}

#[cfg(test)]
mod tests;
