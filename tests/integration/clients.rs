//! Mail clients at work between syncs: a message moved by a client from one folder to
//! another (the file renamed from one folder's `cur/` into another's, keeping its name, as
//! mutt, neomutt and aerc do) syncs as a move on the server; and notmuch indexes the
//! synced maildir, its tag changes (with `maildir.synchronize_flags`) reach the server,
//! and server flag changes become tags.

use super::sync::{Env, assert_nothing_planned, folder_report, near_files, small_corpus};
use crate::support::compare::message_key;
use crate::support::corpus;
use crate::support::dovecot::DovecotOptions;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// A near file of `folder` whose flags (after `:2,`) are exactly `flags`.
fn file_with_flags(env: &Env, folder: &str, flags: &str) -> PathBuf {
    near_files(&env.near_dir(folder))
        .into_iter()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split_once(":2,"))
                .is_some_and(|(_, f)| f == flags)
        })
        .unwrap_or_else(|| panic!("no file with flags {flags:?} in {folder}"))
}

#[test]
fn a_message_moved_between_folders_by_a_mail_client_moves_on_the_server() {
    for layout in ["verbatim", "maildir++"] {
        let env = Env::new(DovecotOptions::default(), layout);
        env.seed(&small_corpus());
        env.sync(&[], 0);
        assert_eq!(env.assert_converged("INBOX"), 12);
        assert_eq!(env.assert_converged("Archive"), 12);

        // Two moves INBOX/cur -> Archive/cur: one as it was (seen and flagged), one that
        // the client also flags while moving it (the unique part of the name is kept).
        let flagged = file_with_flags(&env, "INBOX", "FS");
        let reflagged = file_with_flags(&env, "INBOX", "S");
        let key_of = |path: &PathBuf| message_key(&fs::read(path).unwrap());
        let (flagged_key, reflagged_key) = (key_of(&flagged), key_of(&reflagged));
        let archive_cur = env.near_dir("Archive").join("cur");
        fs::rename(&flagged, archive_cur.join(flagged.file_name().unwrap())).unwrap();
        let old_name = reflagged.file_name().unwrap().to_str().unwrap().to_string();
        let reflagged_name = old_name.replace(":2,S", ":2,FS");
        assert_ne!(reflagged_name, old_name);
        fs::rename(&reflagged, archive_cur.join(&reflagged_name)).unwrap();

        let report = env.sync(&[], 0);
        let inbox = folder_report(&report, "INBOX");
        let archive = folder_report(&report, "Archive");
        assert_eq!(
            (inbox["delete_far"].as_u64(), archive["upload"].as_u64()),
            (Some(2), Some(2)),
            "{layout}: {report}"
        );
        assert_eq!(report["totals"]["errors"], 0, "{layout}: {report}");
        assert_eq!(
            report["totals"]["download"], 0,
            "{layout}: no copy comes back"
        );

        // Gone from the first far folder, present once in the second, flags kept.
        let far_inbox = env.far("INBOX");
        let far_archive = env.far("Archive");
        for key in [&flagged_key, &reflagged_key] {
            assert!(
                !far_inbox.contains_key(key),
                "{layout}: {key} still in INBOX"
            );
        }
        assert_eq!(far_archive[&flagged_key].0, "FS", "{layout}");
        assert_eq!(far_archive[&reflagged_key].0, "FS", "{layout}");
        // env.far/env.near refuse duplicates, so these counts also say "no duplicate".
        assert_eq!(env.assert_converged("INBOX"), 10, "{layout}");
        assert_eq!(env.assert_converged("Archive"), 14, "{layout}");
        // The moved files stayed where the client put them, under their names.
        assert!(archive_cur.join(flagged.file_name().unwrap()).is_file());
        assert!(archive_cur.join(&reflagged_name).is_file());
        assert_nothing_planned(&env.sync(&["--dry-run"], 0));
    }
}

/// Runs notmuch with the config of `env` (database in the maildir root, flags synced
/// with maildir flags); returns its stdout.
fn notmuch(env: &Env, args: &[&str]) -> String {
    let config = env.dir.path().join("notmuch-config");
    if !config.exists() {
        fs::write(
            &config,
            format!(
                "[database]\npath={}\n[user]\nname=Alice\nprimary_email=alice@example.org\n\
                 [new]\ntags=unread;inbox;\nignore=\n[search]\nexclude_tags=\n\
                 [maildir]\nsynchronize_flags=true\n",
                env.maildir().display()
            ),
        )
        .unwrap();
    }
    let out = Command::new("timeout")
        .arg("120")
        .arg("notmuch")
        .args(args)
        .env("NOTMUCH_CONFIG", &config)
        .env("HOME", env.dir.path())
        .output()
        .expect("notmuch must be installed (scripts/ensure-deps)");
    assert!(
        out.status.success(),
        "notmuch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The tags notmuch gives a message, sorted.
fn tags(env: &Env, message_id: &str) -> Vec<String> {
    let id = trim(message_id);
    let mut tags: Vec<String> = notmuch(env, &["search", "--output=tags", &format!("id:{id}")])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

/// The far flags of a message, by Message-ID.
fn far_flags(env: &Env, folder: &str, message_id: &str) -> String {
    env.far(folder)
        .into_iter()
        .find(|(key, _)| key.starts_with(&format!("{message_id}|")))
        .map(|(_, (flags, _))| flags)
        .unwrap_or_else(|| panic!("{message_id} not in far {folder}"))
}

#[test]
fn notmuch_indexes_the_maildir_and_its_tags_and_the_server_flags_meet() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    notmuch(&env, &["new", "--quiet"]);
    assert_eq!(notmuch(&env, &["count", "*"]).trim(), "24");
    // Seeded flags became tags: message 0 has none, 1 is seen, 2 seen and flagged.
    let id = corpus::message_id;
    assert_eq!(tags(&env, &id(0)), ["inbox", "unread"]);
    assert_eq!(tags(&env, &id(1)), ["inbox"]);
    assert_eq!(tags(&env, &id(2)), ["flagged", "inbox"]);
    // notmuch's database in the maildir root is not taken for a folder.
    let report = env.sync(&["--dry-run"], 0);
    assert_nothing_planned(&report);

    // Tags changed in notmuch reach the server on the next sync.
    notmuch(
        &env,
        &[
            "tag",
            "-unread",
            "+flagged",
            "--",
            &format!("id:{}", trim(&id(0))),
        ],
    );
    notmuch(
        &env,
        &["tag", "-flagged", "--", &format!("id:{}", trim(&id(2)))],
    );
    env.sync(&[], 0);
    assert_eq!(far_flags(&env, "INBOX", &id(0)), "FS");
    assert_eq!(far_flags(&env, "INBOX", &id(2)), "S");

    // Flags changed on the server show up as tags after sync and notmuch new.
    let mut session = env.dovecot.session().unwrap();
    session.select("INBOX").unwrap();
    let uids = session
        .uid_search(format!("HEADER Message-ID {}", id(1)))
        .unwrap();
    assert_eq!(uids.len(), 1, "{uids:?}");
    let uid = uids.iter().next().unwrap().to_string();
    session
        .uid_store(&uid, "+FLAGS.SILENT (\\Flagged \\Answered)")
        .unwrap();
    session.uid_store(&uid, "-FLAGS.SILENT (\\Seen)").unwrap();
    session.logout().unwrap();
    env.sync(&[], 0);
    notmuch(&env, &["new", "--quiet"]);
    assert_eq!(
        tags(&env, &id(1)),
        ["flagged", "inbox", "replied", "unread"]
    );
    assert_eq!(notmuch(&env, &["count", "*"]).trim(), "24", "no duplicate");
    assert_eq!(env.assert_converged("INBOX"), 12);
    assert_nothing_planned(&env.sync(&["--dry-run"], 0));
}

fn trim(message_id: &str) -> &str {
    message_id.trim_start_matches('<').trim_end_matches('>')
}
