//! Interrupt a sync after every side effect (the test-only fail point aborts the process
//! like kill -9), resume it, and check nothing is lost or duplicated; and kill -9 the real
//! binary at many moments of a large sync.

use super::sync::{Env, assert_nothing_planned, change_both_sides, flags_by_key, small_corpus};
use crate::support::dovecot::DovecotOptions;
use std::collections::{BTreeMap, BTreeSet};

/// The folders of the interrupted scenario: two seeded, one new on each side.
const FOLDERS: [&str; 4] = ["INBOX", "Archive", "Notes", "Projects"];

/// A synced account with changes on both sides, waiting for the run under test.
fn scenario() -> Env {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    change_both_sides(&env);
    env
}

/// Per folder: (far key -> flags, near key -> flags).
type Sides = BTreeMap<&'static str, (BTreeMap<String, String>, BTreeMap<String, String>)>;

/// Both sides of every folder; `compare` fails on a duplicate key.
fn sides(env: &Env) -> Sides {
    FOLDERS
        .iter()
        .map(|f| (*f, (flags_by_key(&env.far(f)), flags_by_key(&env.near(f)))))
        .collect()
}

/// The state's pairs are exactly the present pairs: every pair's far UID and near file
/// exist, and every message on either side is in exactly one pair.
fn assert_state_pairs_present(env: &Env) {
    for folder in FOLDERS {
        let state_file = env
            .state_dir()
            .join("test")
            .join(format!("{}.state", folder));
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
        assert!(
            !env.state_dir()
                .join("test")
                .join(format!("{folder}.journal"))
                .exists(),
            "{folder}: a journal is left after a clean run"
        );
        let pairs = state["pairs"].as_array().unwrap();
        let mut session = env.dovecot.session().unwrap();
        session.examine(folder).unwrap();
        let far_uids: BTreeSet<u32> = session.uid_search("ALL").unwrap().into_iter().collect();
        session.logout().unwrap();
        let near_ids: BTreeSet<String> = ["cur", "new"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(env.near_dir(folder).join(sub)).unwrap())
            .map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.split(':').next().unwrap().to_string()
            })
            .collect();
        let paired_uids: BTreeSet<u32> = pairs
            .iter()
            .map(|p| p[0].as_u64().unwrap() as u32)
            .collect();
        let paired_ids: BTreeSet<String> = pairs
            .iter()
            .map(|p| p[1].as_str().unwrap().to_string())
            .collect();
        assert_eq!(paired_uids, far_uids, "{folder}: paired UIDs vs far UIDs");
        assert_eq!(paired_ids, near_ids, "{folder}: paired ids vs near files");
        assert_eq!(
            pairs.len(),
            far_uids.len(),
            "{folder}: a UID or id paired twice"
        );
    }
}

#[test]
fn a_sync_interrupted_after_any_side_effect_resumes_to_the_same_result() {
    let reference = scenario();
    reference.sync(&[], 0);
    let expected = sides(&reference);
    for (folder, (far, near)) in &expected {
        assert_eq!(
            far, near,
            "{folder}: the uninterrupted run did not converge"
        );
    }
    drop(reference);

    let mut interrupted = 0;
    for n in 1..500u32 {
        let env = scenario();
        let out = env
            .command(&["sync", "-q"])
            .env("MAILFERRY_FAILPOINT", n.to_string())
            .output()
            .unwrap();
        if out.status.success() {
            // The run has fewer than n side effects: every point has been tried.
            assert!(
                interrupted > 20,
                "only {interrupted} side effects were interrupted"
            );
            return;
        }
        assert_eq!(
            out.status.code(),
            None,
            "fail point {n}: the run should have aborted: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        interrupted += 1;
        env.sync(&[], 0);
        assert_eq!(sides(&env), expected, "after an abort at side effect {n}");
        assert_state_pairs_present(&env);
        assert_nothing_planned(&env.sync(&[], 0));
    }
    panic!("the scenario never finished within 500 side effects");
}
