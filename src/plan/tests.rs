//! Case-by-case tests of the planner: one test per (far, near, state) situation.

use super::*;
use crate::state::Pairing;

const V: UidValidity = UidValidity(100);

fn both() -> PlanOptions {
    PlanOptions {
        write_far: true,
        write_near: true,
        expunge_far: true,
        expunge_near: true,
        max_size: None,
        force: false,
    }
}

fn pull() -> PlanOptions {
    PlanOptions {
        write_far: false,
        ..both()
    }
}

fn push() -> PlanOptions {
    PlanOptions {
        write_near: false,
        ..both()
    }
}

fn f(letters: &str) -> Flags {
    Flags::from_maildir(letters)
}

fn far(msgs: &[(u32, &str)]) -> FarListing {
    FarListing {
        uid_validity: V,
        uid_next: msgs.iter().map(|m| m.0 + 1).max().unwrap_or(1),
        messages: msgs
            .iter()
            .map(|(uid, flags)| FarMessage {
                uid: FarUid(*uid),
                flags: f(flags),
                size: 100,
            })
            .collect(),
    }
}

fn near(msgs: &[(&str, &str)]) -> NearListing {
    NearListing {
        messages: msgs
            .iter()
            .map(|(id, flags)| NearMessage {
                id: NearId(id.to_string()),
                flags: f(flags),
                file: format!("cur/{id}:2,{flags}"),
            })
            .collect(),
    }
}

fn state(pairs: &[(u32, &str, &str)]) -> FolderState {
    let mut s = FolderState::new("INBOX", "INBOX");
    s.uid_validity = Some(V);
    for (uid, id, flags) in pairs {
        s.pairs.insert(
            FarUid(*uid),
            Pairing {
                near_id: NearId(id.to_string()),
                flags: f(flags),
            },
        );
    }
    s
}

fn id(s: &str) -> NearId {
    NearId(s.to_string())
}

fn run(far: &FarListing, near: &NearListing, state: &FolderState, options: PlanOptions) -> Plan {
    plan(far, near, state, &Keys::default(), &options)
}

#[test]
fn nothing_changed_plans_nothing() {
    let p = run(
        &far(&[(1, "S")]),
        &near(&[("a", "S")]),
        &state(&[(1, "a", "S")]),
        both(),
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn new_far_message_is_downloaded_with_its_flags() {
    let p = run(&far(&[(1, "SF")]), &near(&[]), &state(&[]), both());
    assert_eq!(
        p.steps,
        vec![Step::Download {
            uid: FarUid(1),
            flags: f("FS"),
            size: 100
        }]
    );
    assert!(!p.reset_pairs);
}

#[test]
fn new_near_message_is_uploaded_with_its_flags() {
    let p = run(&far(&[]), &near(&[("a", "R")]), &state(&[]), both());
    assert_eq!(
        p.steps,
        vec![Step::Upload {
            near_id: id("a"),
            flags: f("R")
        }]
    );
}

#[test]
fn pair_gone_from_both_sides_is_forgotten() {
    let p = run(&far(&[]), &near(&[]), &state(&[(1, "a", "")]), both());
    assert_eq!(p.steps, vec![Step::Forget { uid: FarUid(1) }]);
}

#[test]
fn deletion_near_propagates_to_far() {
    let p = run(
        &far(&[(1, "S")]),
        &near(&[]),
        &state(&[(1, "a", "S")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![Step::DeleteFar {
            uid: FarUid(1),
            near_id: Some(id("a")),
            reason: DeleteReason::Propagated,
            forget: true
        }]
    );
}

#[test]
fn deletion_far_propagates_to_near() {
    let p = run(
        &far(&[]),
        &near(&[("a", "S")]),
        &state(&[(1, "a", "S")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![Step::DeleteNear {
            uid: Some(FarUid(1)),
            near_id: id("a"),
            reason: DeleteReason::Propagated,
            forget: true
        }]
    );
}

#[test]
fn flag_changes_on_each_side_merge_and_go_both_ways() {
    // far added F, near added S: both sides end with FS.
    let p = run(
        &far(&[(1, "F")]),
        &near(&[("a", "S")]),
        &state(&[(1, "a", "")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![Step::SyncFlags {
            uid: FarUid(1),
            near_id: id("a"),
            far: Some(FlagChange {
                add: f("S"),
                remove: f("")
            }),
            near: Some(FlagChange {
                add: f("F"),
                remove: f("")
            }),
            base: f("FS"),
        }]
    );
}

#[test]
fn flag_removed_on_one_side_is_removed_on_the_other() {
    let p = run(
        &far(&[(1, "S")]),
        &near(&[("a", "")]),
        &state(&[(1, "a", "S")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![Step::SyncFlags {
            uid: FarUid(1),
            near_id: id("a"),
            far: Some(FlagChange {
                add: f(""),
                remove: f("S")
            }),
            near: None,
            base: f(""),
        }]
    );
}

#[test]
fn same_change_on_both_sides_only_updates_the_base() {
    let p = run(
        &far(&[(1, "S")]),
        &near(&[("a", "S")]),
        &state(&[(1, "a", "")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![Step::SetBase {
            uid: FarUid(1),
            flags: f("S")
        }]
    );
}

#[test]
fn deleted_flag_is_purged_on_both_sides_when_expunging() {
    let p = run(
        &far(&[(1, "T")]),
        &near(&[("a", "")]),
        &state(&[(1, "a", "")]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![
            Step::DeleteFar {
                uid: FarUid(1),
                near_id: Some(id("a")),
                reason: DeleteReason::Purged,
                forget: false
            },
            Step::DeleteNear {
                uid: Some(FarUid(1)),
                near_id: id("a"),
                reason: DeleteReason::Purged,
                forget: true
            },
        ]
    );
}

#[test]
fn deleted_flag_only_syncs_as_a_flag_when_not_expunging() {
    let options = PlanOptions {
        expunge_far: false,
        expunge_near: false,
        ..both()
    };
    let p = run(
        &far(&[(1, "T")]),
        &near(&[("a", "")]),
        &state(&[(1, "a", "")]),
        options,
    );
    assert!(
        matches!(&p.steps[..], [Step::SyncFlags { near: Some(FlagChange { add, .. }), .. }] if *add == f("T"))
    );
}

#[test]
fn far_purge_propagates_as_a_near_deletion() {
    let options = PlanOptions {
        expunge_near: false,
        ..both()
    };
    let p = run(
        &far(&[(1, "")]),
        &near(&[("a", "T")]),
        &state(&[(1, "a", "")]),
        options,
    );
    assert_eq!(
        p.steps,
        vec![
            Step::DeleteFar {
                uid: FarUid(1),
                near_id: Some(id("a")),
                reason: DeleteReason::Purged,
                forget: false
            },
            Step::DeleteNear {
                uid: Some(FarUid(1)),
                near_id: id("a"),
                reason: DeleteReason::Propagated,
                forget: true
            },
        ]
    );
}

#[test]
fn new_messages_flagged_deleted_are_never_copied() {
    let p = run(
        &far(&[(1, "T")]),
        &near(&[("a", "ST")]),
        &state(&[]),
        both(),
    );
    assert_eq!(
        p.steps,
        vec![
            Step::DeleteFar {
                uid: FarUid(1),
                near_id: None,
                reason: DeleteReason::Purged,
                forget: false
            },
            Step::DeleteNear {
                uid: None,
                near_id: id("a"),
                reason: DeleteReason::Purged,
                forget: false
            },
        ]
    );
    let options = PlanOptions {
        expunge_far: false,
        expunge_near: false,
        ..both()
    };
    assert!(
        run(
            &far(&[(1, "T")]),
            &near(&[("a", "ST")]),
            &state(&[]),
            options
        )
        .steps
        .is_empty()
    );
}

#[test]
fn pull_applies_far_changes_only_and_leaves_near_changes_pending() {
    let far_l = far(&[(1, "F"), (2, ""), (4, "")]);
    let near_l = near(&[("a", "S"), ("c", ""), ("new", "")]);
    // 1: flags changed both sides; 2: deleted near; 3: deleted far; 4: new far; new: new near.
    let st = state(&[(1, "a", ""), (2, "b", ""), (3, "c", "")]);
    let p = run(&far_l, &near_l, &st, pull());
    assert_eq!(
        p.steps,
        vec![
            Step::SyncFlags {
                uid: FarUid(1),
                near_id: id("a"),
                far: None,
                near: Some(FlagChange {
                    add: f("F"),
                    remove: f("")
                }),
                base: f("F"),
            },
            Step::Download {
                uid: FarUid(4),
                flags: f(""),
                size: 100
            },
            Step::DeleteNear {
                uid: Some(FarUid(3)),
                near_id: id("c"),
                reason: DeleteReason::Propagated,
                forget: true
            },
        ]
    );
    // After the pull, a plain run pushes the near side's pending changes.
    let after_far = far(&[(1, "F"), (2, ""), (4, "")]);
    let after_near = near(&[("a", "FS"), ("new", ""), ("d4", "")]);
    let after_state = state(&[(1, "a", "F"), (2, "b", ""), (4, "d4", "")]);
    let p = run(&after_far, &after_near, &after_state, both());
    assert_eq!(
        p.steps,
        vec![
            Step::SyncFlags {
                uid: FarUid(1),
                near_id: id("a"),
                far: Some(FlagChange {
                    add: f("S"),
                    remove: f("")
                }),
                near: None,
                base: f("FS"),
            },
            Step::Upload {
                near_id: id("new"),
                flags: f("")
            },
            Step::DeleteFar {
                uid: FarUid(2),
                near_id: Some(id("b")),
                reason: DeleteReason::Propagated,
                forget: true
            },
        ]
    );
}

#[test]
fn push_applies_near_changes_only() {
    let p = run(
        &far(&[(1, "F"), (5, "")]),
        &near(&[("a", "S"), ("new", "D")]),
        &state(&[(1, "a", ""), (3, "c", "")]),
        push(),
    );
    assert_eq!(
        p.steps,
        vec![
            Step::Forget { uid: FarUid(3) },
            Step::SyncFlags {
                uid: FarUid(1),
                near_id: id("a"),
                far: Some(FlagChange {
                    add: f("S"),
                    remove: f("")
                }),
                near: None,
                base: f("S"),
            },
            Step::Upload {
                near_id: id("new"),
                flags: f("D")
            },
        ],
        "far message 5 is not downloaded; pair 3, gone from both sides, is forgotten"
    );
}

#[test]
fn first_sync_pairs_copies_by_key_and_unions_their_flags() {
    let far_l = far(&[(1, "S"), (2, ""), (3, "")]);
    let near_l = near(&[("a", "F"), ("b", ""), ("z", "")]);
    let keys = Keys {
        far: [
            (FarUid(1), PairKey("m1".into())),
            (FarUid(2), PairKey("m2".into())),
            (FarUid(3), PairKey("m3".into())),
        ]
        .into(),
        near: [
            (id("a"), PairKey("m1".into())),
            (id("b"), PairKey("m2".into())),
            (id("z"), PairKey("mz".into())),
        ]
        .into(),
    };
    let mut fresh = FolderState::new("INBOX", "INBOX");
    fresh.uid_validity = None;
    let p = plan(&far_l, &near_l, &fresh, &keys, &both());
    assert!(p.reset_pairs);
    assert_eq!(
        p.steps,
        vec![
            Step::Pair {
                uid: FarUid(1),
                near_id: id("a"),
                flags: f("")
            },
            Step::Pair {
                uid: FarUid(2),
                near_id: id("b"),
                flags: f("")
            },
            Step::SyncFlags {
                uid: FarUid(1),
                near_id: id("a"),
                far: Some(FlagChange {
                    add: f("F"),
                    remove: f("")
                }),
                near: Some(FlagChange {
                    add: f("S"),
                    remove: f("")
                }),
                base: f("FS"),
            },
            Step::Download {
                uid: FarUid(3),
                flags: f(""),
                size: 100
            },
            Step::Upload {
                near_id: id("z"),
                flags: f("")
            },
        ]
    );
}

#[test]
fn duplicate_keys_pair_one_to_one() {
    let keys = Keys {
        far: [
            (FarUid(1), PairKey("k".into())),
            (FarUid(2), PairKey("k".into())),
        ]
        .into(),
        near: [(id("a"), PairKey("k".into()))].into(),
    };
    let p = plan(
        &far(&[(1, ""), (2, "")]),
        &near(&[("a", "")]),
        &FolderState::new("I", "I"),
        &keys,
        &both(),
    );
    assert_eq!(
        p.steps,
        vec![
            Step::Pair {
                uid: FarUid(1),
                near_id: id("a"),
                flags: f("")
            },
            Step::Download {
                uid: FarUid(2),
                flags: f(""),
                size: 100
            },
        ]
    );
}

#[test]
fn uidvalidity_change_repairs_instead_of_deleting_or_copying() {
    let mut st = state(&[(1, "a", "S"), (2, "b", "S"), (3, "c", "")]);
    st.uid_validity = Some(UidValidity(99));
    // The folder was recreated: same messages under new UIDs; "c" is not there any more.
    let far_l = far(&[(11, "S"), (12, "SF")]);
    let keys = Keys {
        far: [
            (FarUid(11), PairKey("ma".into())),
            (FarUid(12), PairKey("mb".into())),
        ]
        .into(),
        near: [
            (id("a"), PairKey("ma".into())),
            (id("b"), PairKey("mb".into())),
            (id("c"), PairKey("mc".into())),
        ]
        .into(),
    };
    let p = plan(
        &far_l,
        &near(&[("a", "S"), ("b", "S"), ("c", "")]),
        &st,
        &keys,
        &both(),
    );
    assert!(p.reset_pairs);
    assert_eq!(
        p.steps,
        vec![
            Step::Pair {
                uid: FarUid(11),
                near_id: id("a"),
                flags: f("S")
            },
            Step::Pair {
                uid: FarUid(12),
                near_id: id("b"),
                flags: f("S")
            },
            Step::SyncFlags {
                uid: FarUid(12),
                near_id: id("b"),
                far: None,
                near: Some(FlagChange {
                    add: f("F"),
                    remove: f("")
                }),
                base: f("FS"),
            },
            Step::Upload {
                near_id: id("c"),
                flags: f("")
            },
        ],
        "nothing deleted, nothing downloaded again; the unmatched near copy goes back up"
    );
}

#[test]
fn too_large_messages_are_not_downloaded_but_reported() {
    let mut far_l = far(&[(1, ""), (2, "")]);
    far_l.messages[1].size = 5000;
    let options = PlanOptions {
        max_size: Some(1000),
        ..both()
    };
    let p = run(&far_l, &near(&[]), &state(&[]), options);
    assert_eq!(
        p.steps,
        vec![Step::Download {
            uid: FarUid(1),
            flags: f(""),
            size: 100
        }]
    );
    assert_eq!(p.too_large, vec![FarUid(2)]);
}

fn many(n: u32) -> (FarListing, NearListing, FolderState) {
    let far_msgs: Vec<(u32, &str)> = (1..=n).map(|u| (u, "")).collect();
    let ids: Vec<String> = (1..=n).map(|u| format!("n{u}")).collect();
    let near_msgs: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "")).collect();
    let pairs: Vec<(u32, &str, &str)> = (1..=n)
        .map(|u| (u, ids[u as usize - 1].as_str(), ""))
        .collect();
    (far(&far_msgs), near(&near_msgs), state(&pairs))
}

#[test]
fn mass_deletion_is_held_back_unless_forced() {
    let (far_l, _, st) = many(12);
    // The near folder lost 7 of 12 messages.
    let (_, near_full, _) = many(12);
    let near_l = NearListing {
        messages: near_full.messages[7..].to_vec(),
    };
    let p = run(&far_l, &near_l, &st, both());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(p.held_back.len(), 1);
    assert!(p.held_back[0].contains("7 of 12") && p.held_back[0].contains("--force"));
    let forced = run(
        &far_l,
        &near_l,
        &st,
        PlanOptions {
            force: true,
            ..both()
        },
    );
    assert_eq!(forced.steps.len(), 7);
    assert!(forced.held_back.is_empty());
}

#[test]
fn vanished_folder_deletions_are_held_back() {
    let (far_l, _, st) = many(10);
    let p = run(&far_l, &near(&[]), &st, both());
    assert!(p.steps.is_empty());
    assert_eq!(p.held_back.len(), 1);
}

#[test]
fn small_folders_and_minority_deletions_are_not_guarded() {
    let (far_l, near_full, st) = many(9);
    let p = run(&far_l, &near(&[]), &st, both());
    assert_eq!(p.steps.len(), 9);
    let _ = near_full;
    let (far_l, near_full, st) = many(20);
    let near_l = NearListing {
        messages: near_full.messages[10..].to_vec(),
    };
    let p = run(&far_l, &near_l, &st, both());
    assert_eq!(p.steps.len(), 10, "exactly half is not more than half");
    assert!(p.held_back.is_empty());
}

#[test]
fn purges_are_never_held_back() {
    let (mut far_l, near_l, st) = many(12);
    for m in &mut far_l.messages {
        m.flags = f("T");
    }
    let p = run(&far_l, &near_l, &st, both());
    assert!(p.held_back.is_empty());
    assert_eq!(p.steps.len(), 24);
}

/// The planner owns no I/O: its source names neither the file system, the network, nor
/// the stores.
#[test]
fn planner_does_no_io() {
    let source = include_str!("mod.rs");
    for forbidden in [
        "std::fs",
        "std::net",
        "std::io",
        "crate::store",
        "std::time",
        "std::process",
    ] {
        assert!(
            !source.contains(forbidden),
            "src/plan/mod.rs uses {forbidden}"
        );
    }
}

fn pending(st: &mut FolderState, uid: u32, near_id: &str) {
    st.pending_downloads.insert(FarUid(uid), id(near_id));
}

#[test]
fn a_cut_download_whose_copy_landed_is_paired_by_its_recorded_id() {
    let mut st = state(&[]);
    pending(&mut st, 5, "copy");
    let p = run(&far(&[(5, "S")]), &near(&[("copy", "S")]), &st, both());
    assert_eq!(
        p.steps,
        vec![Step::Pair {
            uid: FarUid(5),
            near_id: id("copy"),
            flags: f("S")
        }]
    );
}

#[test]
fn a_cut_download_whose_original_was_deleted_deletes_the_copy_instead_of_uploading_it() {
    let mut st = state(&[]);
    pending(&mut st, 5, "copy");
    let p = run(&far(&[]), &near(&[("copy", "S")]), &st, both());
    assert_eq!(
        p.steps,
        vec![Step::DeleteNear {
            uid: Some(FarUid(5)),
            near_id: id("copy"),
            reason: DeleteReason::Propagated,
            forget: true
        }]
    );
}

#[test]
fn a_cut_download_whose_copy_never_landed_downloads_again_or_is_forgotten() {
    let mut st = state(&[]);
    pending(&mut st, 5, "copy");
    let p = run(&far(&[(5, "")]), &near(&[]), &st, both());
    assert_eq!(
        p.steps,
        vec![
            Step::Forget { uid: FarUid(5) },
            Step::Download {
                uid: FarUid(5),
                flags: f(""),
                size: 100
            }
        ]
    );
    let p = run(&far(&[]), &near(&[]), &st, both());
    assert_eq!(p.steps, vec![Step::Forget { uid: FarUid(5) }]);
}

fn pending_upload(st: &mut FolderState, near_id: &str, uid_next: u32, key: &str) {
    st.pending_uploads
        .insert(id(near_id), (uid_next, PairKey(key.to_string())));
}

#[test]
fn a_cut_upload_whose_original_was_deleted_deletes_the_far_copy_instead_of_downloading_it() {
    let mut st = state(&[(1, "old", "")]);
    pending_upload(&mut st, "gone", 5, "k");
    let keys = Keys {
        far: [
            (FarUid(4), PairKey("k".into())),
            (FarUid(6), PairKey("k".into())),
        ]
        .into(),
        near: Default::default(),
    };
    let far_l = far(&[(1, ""), (4, ""), (6, "S")]);
    let p = plan(&far_l, &near(&[("old", "")]), &st, &keys, &both());
    assert_eq!(
        p.steps,
        vec![
            Step::Pair {
                uid: FarUid(6),
                near_id: id("gone"),
                flags: f("S")
            },
            Step::Download {
                uid: FarUid(4),
                flags: f(""),
                size: 100
            },
            Step::DeleteFar {
                uid: FarUid(6),
                near_id: Some(id("gone")),
                reason: DeleteReason::Propagated,
                forget: true
            },
        ],
        "UID 4 is below the recorded UIDNEXT, so it is not the copy"
    );
    let p = plan(&far_l, &near(&[("old", "")]), &st, &keys, &pull());
    assert_eq!(
        p.steps,
        vec![Step::Download {
            uid: FarUid(4),
            flags: f(""),
            size: 100
        }],
        "under --pull the copy is left alone, not downloaded back"
    );
}

#[test]
fn a_cut_upload_with_no_far_copy_is_forgotten_or_uploaded_again() {
    let mut st = state(&[]);
    pending_upload(&mut st, "n", 1, "k");
    let p = run(&far(&[]), &near(&[]), &st, both());
    assert_eq!(p.steps, vec![Step::ForgetUpload { near_id: id("n") }]);
    let p = run(&far(&[]), &near(&[("n", "")]), &st, both());
    assert_eq!(
        p.steps,
        vec![Step::Upload {
            near_id: id("n"),
            flags: f("")
        }]
    );
}
