//! The near side misbehaving under mailferry: a vanished maildir (the mass-deletion
//! guard), a mail client working in the maildir during a sync, and a full disk.

use super::sync::{Env, assert_nothing_planned, folder_report, near_files, small_corpus};
use crate::support::corpus;
use crate::support::dovecot::DovecotOptions;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn a_vanished_maildir_root_holds_deletions_back_until_forced() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let mut messages = small_corpus();
    messages.push(corpus::message("Tiny", 700, &["\\Seen"]));
    messages.push(corpus::message("Tiny", 701, &[]));
    env.seed(&messages);
    env.sync(&[], 0);

    fs::remove_dir_all(env.maildir()).unwrap();
    let held = env.sync(&[], 1);
    for folder in ["INBOX", "Archive"] {
        let report = folder_report(&held, folder);
        assert_eq!(report["status"], "error", "{held}");
        assert!(
            report["error"].as_str().unwrap().contains("--force"),
            "{held}"
        );
        assert_eq!(report["delete_far"], 0, "{held}");
        assert_eq!(
            env.far(folder).len(),
            12,
            "{folder}: deleted without --force"
        );
    }
    // A folder under 10 messages is not guarded: its deletions go through.
    assert_eq!(folder_report(&held, "Tiny")["delete_far"], 2, "{held}");
    assert!(env.far("Tiny").is_empty());

    // Held back again on the next run, until --force.
    let again = env.sync(&[], 1);
    assert_eq!(folder_report(&again, "INBOX")["delete_far"], 0);
    let forced = env.sync(&["--force"], 0);
    assert_eq!(
        folder_report(&forced, "INBOX")["delete_far"],
        12,
        "{forced}"
    );
    assert_eq!(
        folder_report(&forced, "Archive")["delete_far"],
        12,
        "{forced}"
    );
    assert!(env.far("INBOX").is_empty() && env.far("Archive").is_empty());
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn deleting_one_folders_files_is_held_back_but_a_minority_is_not() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    // All of Archive's files go, and 3 of INBOX's 12.
    for file in near_files(&env.near_dir("Archive")) {
        fs::remove_file(file).unwrap();
    }
    for file in near_files(&env.near_dir("INBOX")).iter().take(3) {
        fs::remove_file(file).unwrap();
    }
    let report = env.sync(&[], 1);
    assert_eq!(folder_report(&report, "INBOX")["delete_far"], 3, "{report}");
    assert_eq!(folder_report(&report, "INBOX")["status"], "ok");
    let archive = folder_report(&report, "Archive");
    assert_eq!(archive["status"], "error");
    assert!(
        archive["error"].as_str().unwrap().contains("12 of 12"),
        "{report}"
    );
    assert_eq!(env.far("Archive").len(), 12);
    env.sync(&["--force", "test:Archive"], 0);
    assert!(env.far("Archive").is_empty());
    assert_eq!(env.assert_converged("INBOX"), 9);
    assert_nothing_planned(&env.sync(&[], 0));
}

/// Files of a folder's cur/ and new/ as (path, unique name).
fn files_with_ids(dir: &Path) -> Vec<(PathBuf, String)> {
    near_files(dir)
        .into_iter()
        .map(|p| {
            let id = p.file_name().unwrap().to_string_lossy();
            let id = id.split(':').next().unwrap().to_string();
            (p, id)
        })
        .collect()
}

#[test]
fn a_mail_client_working_during_a_sync_loses_nothing() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    // INBOX is synced already; then 600 new far messages arrive in Archive.
    let inbox: Vec<_> = (0..40u32)
        .map(|n| corpus::message("INBOX", n, &[]))
        .collect();
    env.seed(&inbox);
    env.sync(&[], 0);
    let archive: Vec<_> = (1000..1600u32)
        .map(|n| corpus::message("Archive", n, &[]))
        .collect();
    env.seed(&archive);

    let mut child = env.command(&["sync", "-q"]).spawn().unwrap();
    // The "client", while the sync runs: in rounds over INBOX, flags a message seen,
    // deletes one, delivers a new one — bounded to 60 rounds, paced like a person.
    let inbox_dir = env.near_dir("INBOX");
    let mut delivered = 0u32;
    let mut deleted = 0usize;
    let mut rounds = 0;
    while rounds < 60 && child.try_wait().unwrap().is_none() {
        let files = files_with_ids(&inbox_dir);
        let unseen: Vec<_> = files
            .iter()
            .filter(|(p, _)| !p.to_string_lossy().ends_with(",S"))
            .collect();
        if let Some((path, id)) = unseen.first() {
            fs::rename(path, inbox_dir.join(format!("cur/{id}:2,S"))).unwrap();
        }
        if rounds % 3 == 0
            && files.len() > 20
            && let Some((path, _)) = unseen.last()
        {
            fs::remove_file(path).unwrap();
            deleted += 1;
        }
        let m = corpus::message("INBOX", 2000 + delivered, &[]);
        fs::write(
            inbox_dir.join(format!("new/1800000000.L{delivered}P7.client")),
            m.bytes,
        )
        .unwrap();
        delivered += 1;
        rounds += 1;
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the sync failed while a client worked: {status}"
    );

    env.sync(&[], 0);
    assert!(rounds > 0, "the client never ran while the sync did");
    assert_eq!(env.assert_converged("Archive"), 600);
    // Nothing lost: every message not deleted by the client, and every one it delivered.
    let expected = 40 + delivered as usize - deleted;
    assert_eq!(env.assert_converged("INBOX"), expected);
    // The client's flags won: the near files it marked seen are seen on the server too
    // (assert_converged compares flags), and at least one message it marked is seen.
    let seen = env
        .far("INBOX")
        .values()
        .filter(|(flags, _)| flags.contains('S'))
        .count();
    assert!(seen >= 1, "no seen message on the server");
    assert_nothing_planned(&env.sync(&[], 0));
}

/// A small tmpfs mounted at a directory for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a tmpfs (it runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_folder_cleanly_and_the_next_run_completes() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    // 40 messages of about 100 KiB each: 4 MB, into a 1 MiB maildir.
    let big: Vec<_> = (0..40u32)
        .map(|n| {
            let mut m = corpus::message("INBOX", 3000 + n, &["\\Seen"]);
            let filler = format!("{}\r\n", "x".repeat(76)).repeat(1300);
            m.bytes.extend_from_slice(filler.as_bytes());
            m
        })
        .collect();
    env.seed(&big);
    let disk = Tmpfs::mount(&env.maildir(), "1m");

    let report = env.sync(&[], 1);
    let inbox = folder_report(&report, "INBOX");
    assert_eq!(inbox["status"], "error", "{report}");
    assert!(
        inbox["error"].as_str().unwrap().contains("No space left"),
        "{report}"
    );
    // Every file in cur/ and new/ is a whole message as the server has it.
    let far = env.far("INBOX");
    let near = env.near("INBOX");
    assert!(
        !near.is_empty() && near.len() < 40,
        "{} delivered",
        near.len()
    );
    for (key, (_, bytes)) in &near {
        assert_eq!(
            far.get(key).map(|(_, b)| b),
            Some(bytes),
            "partial or foreign file"
        );
    }
    // The state pairs exactly the delivered messages.
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("test/INBOX.state")).unwrap())
            .unwrap();
    assert_eq!(state["pairs"].as_array().unwrap().len(), near.len());

    disk.resize("16m");
    env.sync(&[], 0);
    assert_eq!(env.assert_converged("INBOX"), 40);
    assert_nothing_planned(&env.sync(&[], 0));
}
