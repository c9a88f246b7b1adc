//! What mailferry remembers between runs, per folder pair: the UIDVALIDITY and the pairs
//! of (far UID, near id) with the flags last agreed; the journal of changes made since the
//! last save, and the one pure function that applies a journal record to the state.

pub mod journal;
pub mod lock;
pub mod store;

use crate::flags::Flags;
use crate::model::{FarSnapshot, FarUid, NearId, NearSnapshot, PairKey, UidValidity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state file format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// The state of one folder pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderState {
    pub version: u32,
    /// Far folder name as shown in reports (`Archive/2021`).
    pub far: String,
    /// Near folder path relative to the maildir root.
    pub near: String,
    /// The far folder's UIDVALIDITY when the pairs were made; `None` before the first sync.
    pub uid_validity: Option<UidValidity>,
    /// Seconds since the epoch of the last run that finished this folder.
    pub last_sync: Option<u64>,
    /// The error of the last run, if it failed.
    pub last_error: Option<String>,
    /// Far UID -> (near id, flags last agreed).
    #[serde(with = "pairs_as_list")]
    pub pairs: BTreeMap<FarUid, Pairing>,
    /// Downloads begun but not known to have finished (a run was cut between the copy
    /// and its pair record): far UID -> the near id the copy was given. The next run
    /// pairs the two copies, or, if the far original is gone, deletes the copy rather
    /// than uploading it back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_downloads: BTreeMap<FarUid, NearId>,
    /// Uploads begun but not known to have finished: near id -> (the far UIDNEXT before
    /// the APPEND, the message's pairing key). If the near original is gone by the next
    /// run, a far copy at or above that UIDNEXT with that key is deleted rather than
    /// downloaded back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_uploads: BTreeMap<NearId, (u32, PairKey)>,
    /// The far folder as listed by the last run that left every far message paired with
    /// its far flags as the agreed flags: the next run asks only for what changed since
    /// (CONDSTORE/QRESYNC), or skips the folder when STATUS still says the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub far_seen: Option<FarSnapshot>,
    /// The near folder's directory times when the last run listed it, recorded only when
    /// nothing changed them during that run and they were old enough that any later change
    /// must give a different time: the same times mean the same messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near_seen: Option<NearSnapshot>,
    /// The `expunge` setting (far, near) of the run that recorded the snapshots: a folder
    /// is skipped as unchanged only under the same setting (another one may purge
    /// messages that are flagged deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_expunge: Option<(bool, bool)>,
}

/// One paired message: its near id and the flags both sides last agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pairing {
    pub near_id: NearId,
    pub flags: Flags,
}

impl FolderState {
    pub fn new(far: &str, near: &str) -> FolderState {
        FolderState {
            version: STATE_VERSION,
            far: far.to_string(),
            near: near.to_string(),
            ..FolderState::default()
        }
    }
}

/// One journal record: a side effect about to happen (an intent, kept for diagnosis and
/// for finding an APPEND whose answer was lost) or one that has happened (an outcome,
/// applied to the state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// The far folder has a new UIDVALIDITY: every old pair is void.
    UidValidity(UidValidity),
    /// About to download far `uid` as near `near_id`.
    IntendDownload { uid: FarUid, near_id: NearId },
    /// About to APPEND near `near_id`; the far UIDNEXT before it was `uid_next`; `key`
    /// identifies the copy.
    IntendUpload {
        near_id: NearId,
        uid_next: u32,
        #[serde(default)]
        key: Option<PairKey>,
    },
    /// A begun upload needs no more attention.
    ForgetUpload { near_id: NearId },
    /// About to delete or change flags of messages; the outcome follows.
    IntendChange { op: String, uids: Vec<FarUid> },
    /// The two copies are paired with these agreed flags.
    Pair {
        uid: FarUid,
        near_id: NearId,
        flags: Flags,
    },
    /// The agreed flags of a pair changed.
    Base { uid: FarUid, flags: Flags },
    /// The pair is gone from both sides (or deliberately dropped).
    Forget { uid: FarUid },
}

/// Applies one record to the state. The executor and the journal replay both go through
/// here, so what a run does and what a replay reconstructs cannot disagree.
pub fn apply(state: &mut FolderState, record: &Record) {
    // Any change to the pairs makes the snapshots of both sides stale: the run that
    // finishes records fresh ones, a cut run's replay leaves none.
    state.far_seen = None;
    state.near_seen = None;
    match record {
        Record::UidValidity(validity) => {
            state.uid_validity = Some(*validity);
            state.pairs.clear();
            state.pending_downloads.clear();
            state.pending_uploads.clear();
        }
        Record::IntendDownload { uid, near_id } => {
            state.pending_downloads.insert(*uid, near_id.clone());
        }
        Record::IntendUpload {
            near_id,
            uid_next,
            key: Some(key),
        } => {
            state
                .pending_uploads
                .insert(near_id.clone(), (*uid_next, key.clone()));
        }
        Record::IntendUpload { key: None, .. } | Record::IntendChange { .. } => {}
        Record::ForgetUpload { near_id } => {
            state.pending_uploads.remove(near_id);
        }
        Record::Pair {
            uid,
            near_id,
            flags,
        } => {
            state.pending_downloads.remove(uid);
            state.pending_uploads.remove(near_id);
            state.pairs.insert(
                *uid,
                Pairing {
                    near_id: near_id.clone(),
                    flags: *flags,
                },
            );
        }
        Record::Base { uid, flags } => {
            if let Some(pairing) = state.pairs.get_mut(uid) {
                pairing.flags = *flags;
            }
        }
        Record::Forget { uid } => {
            state.pairs.remove(uid);
            state.pending_downloads.remove(uid);
        }
    }
}

/// Pairs are stored as a compact list of `[uid, near_id, flags]` triples.
mod pairs_as_list {
    use super::Pairing;
    use crate::flags::Flags;
    use crate::model::{FarUid, NearId};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        pairs: &BTreeMap<FarUid, Pairing>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<(FarUid, &NearId, Flags)> = pairs
            .iter()
            .map(|(uid, p)| (*uid, &p.near_id, p.flags))
            .collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<FarUid, Pairing>, D::Error> {
        let mut list: Vec<(FarUid, NearId, Flags)> = Vec::deserialize(d)?;
        // Saved in UID order, so this sort finds nothing to move.
        list.sort_by_key(|(uid, _, _)| *uid);
        if let Some(pair) = list.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(serde::de::Error::custom(format!(
                "far UID {} is paired twice",
                pair[0].0
            )));
        }
        // Built from the sorted list at once, the map's nodes are full; inserted one
        // by one in order, each would be left about half empty.
        Ok(list
            .into_iter()
            .map(|(uid, near_id, flags)| (uid, Pairing { near_id, flags }))
            .collect())
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_apply_as_described() {
        let mut state = FolderState::new("INBOX", "INBOX");
        apply(&mut state, &Record::UidValidity(UidValidity(7)));
        apply(
            &mut state,
            &Record::Pair {
                uid: FarUid(1),
                near_id: NearId("a".into()),
                flags: Flags::SEEN,
            },
        );
        apply(
            &mut state,
            &Record::Base {
                uid: FarUid(1),
                flags: Flags::FLAGGED,
            },
        );
        assert_eq!(state.pairs[&FarUid(1)].flags, Flags::FLAGGED);
        apply(&mut state, &Record::Forget { uid: FarUid(1) });
        assert!(state.pairs.is_empty());
        apply(
            &mut state,
            &Record::Pair {
                uid: FarUid(2),
                near_id: NearId("b".into()),
                flags: Flags::EMPTY,
            },
        );
        apply(&mut state, &Record::UidValidity(UidValidity(8)));
        assert!(state.pairs.is_empty(), "a new UIDVALIDITY voids old pairs");
        assert_eq!(state.uid_validity, Some(UidValidity(8)));
    }

    #[test]
    fn state_round_trips_through_json_and_rejects_double_pairs() {
        let mut state = FolderState::new("Archive/2021", "Archive/2021");
        state.uid_validity = Some(UidValidity(42));
        state.pairs.insert(
            FarUid(3),
            Pairing {
                near_id: NearId("x.y".into()),
                flags: Flags::SEEN.union(Flags::FLAGGED),
            },
        );
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(r#"[3,"x.y","FS"]"#), "{text}");
        let back: FolderState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        let doubled = text.replace(r#"[3,"x.y","FS"]"#, r#"[3,"x.y","FS"],[3,"z","S"]"#);
        assert!(serde_json::from_str::<FolderState>(&doubled).is_err());
        // Out of UID order (an older or hand-edited file): read all the same, and a
        // UID paired twice is caught even when the two are not next to each other.
        let unordered = text.replace(r#"[3,"x.y","FS"]"#, r#"[9,"z","S"],[3,"x.y","FS"]"#);
        let back: FolderState = serde_json::from_str(&unordered).unwrap();
        assert_eq!(
            back.pairs.keys().copied().collect::<Vec<_>>(),
            [FarUid(3), FarUid(9)]
        );
        let apart = text.replace(
            r#"[3,"x.y","FS"]"#,
            r#"[9,"z","S"],[3,"x.y","FS"],[9,"w","S"]"#,
        );
        let err = serde_json::from_str::<FolderState>(&apart).unwrap_err();
        assert!(
            err.to_string().contains("far UID 9 is paired twice"),
            "{err}"
        );
    }
}
