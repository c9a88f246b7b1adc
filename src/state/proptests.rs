//! Property tests of what mailferry reads back from disk: the state file round-trips
//! through JSON, and the journal reader takes any bytes, reading a journal cut at any
//! byte (a crash mid-write) as a prefix of its records.

use super::journal::{self, Journal};
use super::*;
use proptest::prelude::*;

fn flags() -> impl Strategy<Value = Flags> {
    any::<u8>().prop_map(Flags::from_bits)
}

fn near_id() -> impl Strategy<Value = NearId> {
    prop_oneof![
        any::<String>(),
        "[0-9]{1,10}\\.M[0-9]+P[0-9]+Q[0-9]+\\.host"
    ]
    .prop_map(NearId)
}

fn uid() -> impl Strategy<Value = FarUid> {
    any::<u32>().prop_map(FarUid)
}

fn state() -> impl Strategy<Value = FolderState> {
    (
        any::<u32>(),
        any::<String>(),
        any::<String>(),
        proptest::option::of(any::<u32>().prop_map(UidValidity)),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<String>()),
        proptest::collection::btree_map(
            uid(),
            (near_id(), flags()).prop_map(|(near_id, flags)| Pairing { near_id, flags }),
            0..8,
        ),
    )
        .prop_map(
            |(version, far, near, uid_validity, last_sync, last_error, pairs)| FolderState {
                version,
                far,
                near,
                uid_validity,
                last_sync,
                last_error,
                pairs,
                pending_downloads: Default::default(),
                pending_uploads: Default::default(),
                far_seen: None,
                near_seen: None,
                seen_expunge: None,
            },
        )
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        any::<u32>().prop_map(|v| Record::UidValidity(UidValidity(v))),
        (uid(), near_id()).prop_map(|(uid, near_id)| Record::IntendDownload { uid, near_id }),
        (near_id(), any::<u32>()).prop_map(|(near_id, uid_next)| Record::IntendUpload {
            near_id,
            uid_next,
            key: None
        }),
        (any::<String>(), proptest::collection::vec(uid(), 0..4))
            .prop_map(|(op, uids)| Record::IntendChange { op, uids }),
        (uid(), near_id(), flags()).prop_map(|(uid, near_id, flags)| Record::Pair {
            uid,
            near_id,
            flags
        }),
        (uid(), flags()).prop_map(|(uid, flags)| Record::Base { uid, flags }),
        uid().prop_map(|uid| Record::Forget { uid }),
    ]
}

/// Bytes a damaged or foreign journal might hold: anything, or lines of JSON with junk.
fn journal_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(
            prop_oneof![
                record().prop_map(|r| serde_json::to_vec(&r).expect("serialisable")),
                "[{}\\[\\]\":a-z0-9,\\n]{0,24}".prop_map(String::into_bytes),
            ],
            0..6,
        )
        .prop_map(|lines| lines.join(&b'\n')),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// A state saved as JSON reads back the same.
    #[test]
    fn state_round_trips_through_json(state in state()) {
        let text = serde_json::to_string(&state).expect("serialisable");
        let back: FolderState = serde_json::from_str(&text).expect("what we wrote reads back");
        prop_assert_eq!(back, state);
    }

    /// A record reads back the same, alone on one line whatever its strings hold.
    #[test]
    fn records_round_trip_on_one_line(record in record()) {
        let line = serde_json::to_vec(&record).expect("serialisable");
        prop_assert!(!line.contains(&b'\n'));
        let back: Record = serde_json::from_slice(&line).expect("what we wrote reads back");
        prop_assert_eq!(back, record);
    }

    /// Any bytes read as a journal give records or an error, never a panic; never more
    /// records than lines.
    #[test]
    fn reading_any_bytes_never_panics(bytes in journal_bytes()) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j");
        std::fs::write(&path, &bytes).expect("write");
        if let Ok(records) = journal::read(&path) {
            let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
            prop_assert!(records.len() <= lines);
        }
    }

    /// A journal cut at any byte (a crash in the middle of a write) reads as a prefix
    /// of its records, holding at least every record whose line was complete.
    #[test]
    fn a_cut_journal_reads_as_a_prefix(
        records in proptest::collection::vec(record(), 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j");
        let mut journal = Journal::open(&path).expect("open");
        for record in &records {
            journal.write(record).expect("write");
        }
        drop(journal);
        prop_assert_eq!(&journal::read(&path).expect("whole journal"), &records);
        let bytes = std::fs::read(&path).expect("read");
        let cut_path = tmp.path().join("cut");
        for cut in cuts {
            let at = cut.index(bytes.len() + 1);
            let kept = &bytes[..at];
            std::fs::write(&cut_path, kept).expect("write");
            let read = journal::read(&cut_path);
            prop_assert!(read.is_ok(), "cut at {}: {:?}", at, read);
            let read = read.expect("checked");
            let complete = kept.iter().filter(|b| **b == b'\n').count();
            prop_assert!(read.len() >= complete, "cut at {}: {} of {} lines", at, read.len(), complete);
            prop_assert!(read.len() <= records.len());
            prop_assert_eq!(read.as_slice(), &records[..read.len()], "cut at {}", at);
        }
    }
}
