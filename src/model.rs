//! The shared vocabulary: sides, typed message ids, and what each store reports about a
//! folder's messages.

use crate::flags::Flags;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One side of a channel: the IMAP server (far) or the local maildir (near).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Far,
    Near,
}

/// An IMAP UID, meaningful only together with the folder's UIDVALIDITY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FarUid(pub u32);

/// A folder's UIDVALIDITY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UidValidity(pub u32);

/// A maildir message's identity: its unique name, the file name before `:2,`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NearId(pub String);

impl fmt::Display for FarUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for NearId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A far message as listed by `UID FETCH (UID FLAGS RFC822.SIZE)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarMessage {
    pub uid: FarUid,
    pub flags: Flags,
    pub size: u32,
}

/// A near message as found by scanning `cur/` and `new/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearMessage {
    pub id: NearId,
    pub flags: Flags,
    /// Path relative to the folder directory, e.g. `cur/1700000000.M1P2.host:2,S`.
    pub file: String,
}

/// What identifies the same message on both sides when no state pairs them: its
/// Message-ID, or else a SHA-256 of its header block with line endings normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PairKey(pub String);

/// A far folder's listing: everything the planner needs from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarListing {
    pub uid_validity: UidValidity,
    pub uid_next: u32,
    pub messages: Vec<FarMessage>,
}

/// What the server said of a far folder (STATUS, or SELECT with CONDSTORE): enough to
/// tell that nothing in it changed, since its HIGHESTMODSEQ grows with every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarSnapshot {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: u32,
    pub highest_modseq: u64,
}

/// The modification times (nanoseconds since the epoch) of a near folder's `new/` and
/// `cur/`: every delivery, rename or deletion in a directory changes its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearSnapshot {
    pub new: i128,
    pub cur: i128,
}

/// What changed in a far folder since a HIGHESTMODSEQ (CONDSTORE/QRESYNC), for messages
/// below the UIDNEXT of then (`old`) and at or above it (`new`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FarChanges {
    /// Old messages whose flags changed: UID and flags now.
    pub changed: Vec<(FarUid, Flags)>,
    /// New messages, with flags and size, sorted by UID.
    pub new: Vec<FarMessage>,
    /// Which old messages are gone.
    pub gone: Gone,
}

/// How a server tells which old messages are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gone {
    /// QRESYNC: the UIDs expunged since (VANISHED); may include UIDs never seen.
    Vanished(Vec<FarUid>),
    /// CONDSTORE alone: every old UID that still exists.
    Present(Vec<FarUid>),
}

impl Default for Gone {
    fn default() -> Gone {
        Gone::Vanished(Vec::new())
    }
}

/// A near folder's listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NearListing {
    pub messages: Vec<NearMessage>,
}
