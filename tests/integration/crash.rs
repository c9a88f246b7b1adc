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

    for (interrupted, n) in (1..500u32).enumerate() {
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
        env.sync(&[], 0);
        assert_eq!(sides(&env), expected, "after an abort at side effect {n}");
        assert_state_pairs_present(&env);
        assert_nothing_planned(&env.sync(&[], 0));
    }
    panic!("the scenario never finished within 500 side effects");
}

/// A deterministic sequence of kill delays (xorshift), in milliseconds within [lo, hi).
struct Delays(u64);

impl Delays {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

/// Starts `mailferry sync`, SIGKILLs it after `delay_ms` unless it finished first.
/// Returns true when it was killed.
fn sync_and_kill(env: &Env, delay_ms: u64) -> bool {
    let mut child = env.command(&["sync", "-q"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(delay_ms);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "an uninterrupted run failed: {status}");
            return false;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        // Waiting for the moment of the kill, which is what this test varies.
        std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(5)));
    }
}

/// Runs `mailferry sync` again and again, SIGKILLing it at the next `delays` in
/// `between` (ms), until it was killed `kills` times or ran `tries` times; how many
/// times it was killed.
fn kill_at_moments(
    env: &Env,
    delays: &mut Delays,
    between: (u64, u64),
    kills: usize,
    tries: usize,
) -> usize {
    let mut killed = 0;
    for _ in 0..tries {
        killed += usize::from(sync_and_kill(env, delays.next(between.0, between.1)));
        if killed == kills {
            break;
        }
    }
    killed
}

/// The content keys of seeded messages.
fn keys_of(messages: &[crate::support::dovecot::SeedMessage]) -> BTreeSet<String> {
    messages
        .iter()
        .map(|m| crate::support::compare::message_key(&m.bytes))
        .collect()
}

#[test]
fn kill_9_at_many_moments_loses_and_duplicates_nothing() {
    use crate::support::corpus;
    let env = Env::new(DovecotOptions::default(), "verbatim");
    // Each answer comes 10 ms late, so a run lasts long enough for the kills below to land
    // while it works however fast the machine is (on loopback alone, a fast machine
    // finished the first sync before the first kill, then ran only no-ops of ~20 ms).
    let proxy = crate::support::proxy::Proxy::start(env.dovecot.imap_port());
    proxy.delay_replies(std::time::Duration::from_millis(10));
    super::faults::write_config(&env, &super::faults::plain_account(&env, proxy.port()), "");
    // 2,100 far messages in three folders, 300 near-only messages, and 200 near copies of
    // far messages (to be paired, not copied).
    let flag_sets: [&[&str]; 4] = [&[], &["\\Seen"], &["\\Seen", "\\Flagged"], &["\\Answered"]];
    let far: Vec<_> = (0..2100u32)
        .map(|n| {
            let folder = ["INBOX", "Archive", "Lists/rust"][(n % 3) as usize];
            corpus::message(folder, n, flag_sets[(n % 4) as usize])
        })
        .collect();
    env.seed(&far);
    let inbox = env.near_dir("INBOX");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub)).unwrap();
    }
    let near_only: Vec<_> = (5000..5300u32)
        .map(|n| corpus::message("INBOX", n, &[]))
        .collect();
    for (i, m) in near_only.iter().enumerate() {
        std::fs::write(inbox.join(format!("new/1700000000.N{i}P1.near")), &m.bytes).unwrap();
    }
    for (i, m) in far
        .iter()
        .filter(|m| m.folder == "INBOX")
        .take(200)
        .enumerate()
    {
        std::fs::write(
            inbox.join(format!("cur/1700000001.C{i}P1.near:2,S")),
            &m.bytes,
        )
        .unwrap();
    }

    let mut delays = Delays(0x5eed_0001);
    let mut kills = kill_at_moments(&env, &mut delays, (30, 600), 14, 60);
    // Downloads wait for their flush as files without a name: a killed run leaves
    // nothing in tmp/.
    for folder in ["INBOX", "Archive", "Lists/rust"] {
        let tmp = env.near_dir(folder).join("tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{folder}: left in tmp/: {left:?}");
    }
    env.sync(&[], 0);
    let mut expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for folder in ["INBOX", "Archive", "Lists/rust"] {
        let seeded: Vec<_> = far.iter().filter(|m| m.folder == folder).cloned().collect();
        let mut keys = keys_of(&seeded);
        if folder == "INBOX" {
            keys.extend(keys_of(&near_only));
        }
        expected.insert(folder, keys);
    }
    for (folder, keys) in &expected {
        let converged = env.assert_converged(folder);
        let present: BTreeSet<String> = env.far(folder).into_keys().collect();
        assert_eq!(&present, keys, "{folder}: messages lost or added");
        assert_eq!(converged, keys.len());
    }

    // Changes on both sides, then more kills.
    let mut session = env.dovecot.session().unwrap();
    session.select("Archive").unwrap();
    session
        .uid_store("1:100", "+FLAGS.SILENT (\\Flagged)")
        .unwrap();
    session
        .uid_store("101:150", "+FLAGS.SILENT (\\Deleted)")
        .unwrap();
    session.expunge().unwrap();
    session.logout().unwrap();
    let far_new: Vec<_> = (6000..6300u32)
        .map(|n| corpus::message("Archive", n, &["\\Seen"]))
        .collect();
    env.seed(&far_new);
    let mut removed = BTreeSet::new();
    for (i, path) in super::sync::near_files(&env.near_dir("Lists/rust"))
        .iter()
        .enumerate()
    {
        if i % 10 == 0 {
            removed.insert(crate::support::compare::message_key(
                &std::fs::read(path).unwrap(),
            ));
            std::fs::remove_file(path).unwrap();
        }
    }
    // Runs get shorter as the work is done; short delays keep landing inside them.
    kills += kill_at_moments(&env, &mut delays, (5, 250), 24 - kills, 120);
    env.sync(&[], 0);
    assert!(kills >= 20, "only {kills} runs were killed mid-way");
    let archive = env.far("Archive");
    assert_eq!(
        env.assert_converged("Archive"),
        700 - 50 + 300,
        "Archive: 700 seeded, 50 expunged far, 300 new"
    );
    assert!(keys_of(&far_new).iter().all(|k| archive.contains_key(k)));
    let rust: BTreeSet<String> = env.far("Lists/rust").into_keys().collect();
    assert_eq!(
        rust,
        &expected["Lists/rust"] - &removed,
        "Lists/rust after near deletions"
    );
    env.assert_converged("Lists/rust");
    env.assert_converged("INBOX");
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn a_large_folder_is_split_across_connections_and_arrives_once_even_when_killed() {
    use crate::support::corpus;
    let env = Env::new(DovecotOptions::default(), "verbatim");
    // A distant server (each answer 100 ms late): fetching, not writing, is the
    // bottleneck, which is when spare connections help. (At 20 ms, writing a chunk of 100
    // messages and flushing it took longer on a busy disk, and rightly no helper came.)
    // The config allows 3 connections.
    let proxy = crate::support::proxy::Proxy::start(env.dovecot.imap_port());
    proxy.delay_replies(std::time::Duration::from_millis(100));
    super::faults::write_config(&env, &super::faults::plain_account(&env, proxy.port()), "");
    // One folder, well over the split threshold.
    let flag_sets: [&[&str]; 3] = [&[], &["\\Seen"], &["\\Seen", "\\Flagged"]];
    let far: Vec<_> = (0..1200u32)
        .map(|n| corpus::message("INBOX", n, flag_sets[(n % 3) as usize]))
        .collect();
    env.seed(&far);
    let expected = keys_of(&far);

    let out = env.run(&["-vvv", "sync", "--json"]);
    let trace = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{trace}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["totals"]["download"], 1200, "{report}");
    // The folder was SELECTed on one connection and EXAMINEd on another, and bodies came
    // over more than one.
    let connections_of = |needle: &str| -> BTreeSet<String> {
        trace
            .lines()
            .filter(|l| l.contains(" C: ") && l.contains(needle))
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("imap#")))
            .map(str::to_string)
            .collect()
    };
    assert!(!connections_of("EXAMINE \"INBOX\"").is_empty(), "no helper");
    assert!(
        connections_of("BODY.PEEK[]").len() >= 2,
        "bodies over one connection only"
    );
    let present: BTreeSet<String> = env.far("INBOX").into_keys().collect();
    assert_eq!(present, expected);
    assert_eq!(env.assert_converged("INBOX"), 1200);
    assert_nothing_planned(&env.sync(&[], 0));

    // Again from nothing, killed at many moments: nothing lost, nothing twice.
    std::fs::remove_dir_all(env.maildir()).unwrap();
    std::fs::remove_dir_all(env.state_dir()).unwrap();
    kill_at_moments(&env, &mut Delays(0x5eed_0002), (100, 1500), 6, 30);
    env.sync(&[], 0);
    let present: BTreeSet<String> = env.far("INBOX").into_keys().collect();
    assert_eq!(present, expected, "the server's messages changed");
    assert_eq!(env.assert_converged("INBOX"), 1200);
    assert_nothing_planned(&env.sync(&[], 0));
}
