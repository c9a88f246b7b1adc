//! `mailferry sync` end to end against a private Dovecot: initial sync in both layouts,
//! no-op re-sync, changes on both sides, pull/push, pairing of existing copies, a
//! UIDVALIDITY change, one folder failing among others, the lock, dry runs, config errors.

use crate::support::compare::{Messages, far_messages, near_messages};
use crate::support::corpus::{self, STANDARD_FOLDERS};
use crate::support::dovecot::{Dovecot, DovecotOptions, SeedMessage};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A Dovecot, a maildir root, a state dir and a config file tying them together.
pub(super) struct Env {
    pub(super) dovecot: Dovecot,
    pub(super) dir: tempfile::TempDir,
    pub(super) layout: &'static str,
}

impl Env {
    pub(super) fn new(options: DovecotOptions, layout: &'static str) -> Env {
        Self::with_channel_extra(options, layout, "")
    }

    pub(super) fn with_channel_extra(
        options: DovecotOptions,
        layout: &'static str,
        extra: &str,
    ) -> Env {
        let dovecot = Dovecot::start(options)
            .expect("Dovecot must start (is dovecot-imapd installed? run scripts/test)");
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            dovecot,
            dir,
            layout,
        };
        env.write_config(extra);
        env
    }

    pub(super) fn write_config(&self, channel_extra: &str) {
        let config = format!(
            r#"[general]
state_dir = "{state}"
jobs = 3

[account.test]
host = "localhost"
port = {port}
tls = "implicit"
ca_file = "{ca}"
user = "{user}"
password = "{password}"
connections = 3
timeout = 20

[channel.test]
account = "test"
maildir = "{maildir}"
layout = "{layout}"
{channel_extra}
"#,
            state = self.state_dir().display(),
            port = self.dovecot.imaps_port(),
            ca = self.dovecot.ca_file().display(),
            user = self.dovecot.user(),
            password = self.dovecot.password(),
            maildir = self.maildir().display(),
            layout = self.layout,
        );
        fs::write(self.config(), config).unwrap();
        let mut perms = fs::metadata(self.config()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        fs::set_permissions(self.config(), perms).unwrap();
    }

    pub(super) fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub(super) fn maildir(&self) -> PathBuf {
        self.dir.path().join("Mail")
    }

    pub(super) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The near directory of a folder, as SPEC §3 lays it out.
    pub(super) fn near_dir(&self, display: &str) -> PathBuf {
        if self.layout == "maildir++" {
            if display == "INBOX" {
                self.maildir()
            } else {
                self.maildir()
                    .join(format!(".{}", display.replace('/', ".")))
            }
        } else {
            self.maildir().join(display)
        }
    }

    pub(super) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The mailferry command with this env's config, not yet started.
    pub(super) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailferry"));
        command
            .arg("-c")
            .arg(self.config())
            .args(args)
            .env_remove("MAILFERRY_CONFIG")
            .env_remove("MAILFERRY_FAILPOINT");
        command
    }

    /// Runs `sync --json ARGS`, asserts the exit code and returns the report.
    pub(super) fn sync(&self, args: &[&str], expected_code: i32) -> Value {
        let mut all = vec!["sync", "--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(expected_code),
            "mailferry {all:?}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(self.dovecot.password())
                && !stderr.contains(self.dovecot.password()),
            "the password leaked into the output"
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "report is not JSON: {e}\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub(super) fn seed(&self, messages: &[SeedMessage]) {
        self.dovecot.seed(messages).unwrap();
    }

    pub(super) fn far(&self, display: &str) -> Messages {
        far_messages(&self.dovecot, display).unwrap()
    }

    pub(super) fn near(&self, display: &str) -> Messages {
        near_messages(&self.near_dir(display)).unwrap()
    }

    /// Asserts both sides of a folder hold the same messages (key = Message-ID + body
    /// hash) with the same flags, and returns how many.
    pub(super) fn assert_converged(&self, display: &str) -> usize {
        let far = flags_by_key(&self.far(display));
        let near = flags_by_key(&self.near(display));
        assert_eq!(
            far, near,
            "folder {display}: far (left) and near (right) differ"
        );
        far.len()
    }
}

pub(super) fn flags_by_key(messages: &Messages) -> BTreeMap<String, String> {
    messages
        .iter()
        .map(|(key, (flags, _))| (key.clone(), flags.clone()))
        .collect()
}

pub(super) fn totals(report: &Value) -> [u64; 7] {
    let t = &report["totals"];
    [
        "download",
        "upload",
        "flags_to_far",
        "flags_to_near",
        "delete_far",
        "delete_near",
        "errors",
    ]
    .map(|k| {
        t[k].as_u64()
            .unwrap_or_else(|| panic!("totals.{k} missing: {report}"))
    })
}

/// Every action of a report, per folder, for comparing a dry run with a real run.
pub(super) fn actions(report: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for channel in report["channels"].as_array().unwrap() {
        for folder in channel["folders"].as_array().unwrap() {
            out.insert(
                folder["far"].as_str().unwrap().to_string(),
                folder["actions"].clone(),
            );
        }
    }
    out
}

pub(super) fn folder_report<'a>(report: &'a Value, far: &str) -> &'a Value {
    report["channels"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["far"] == far)
        .unwrap_or_else(|| panic!("no folder {far} in {report}"))
}

pub(super) fn assert_nothing_planned(report: &Value) {
    assert_eq!(totals(report), [0; 7], "expected nothing to do: {report}");
    for (folder, actions) in actions(report) {
        assert_eq!(actions, Value::Array(vec![]), "folder {folder}");
    }
}

pub(super) fn initial_sync_in_layout(options: DovecotOptions, layout: &'static str) {
    let env = Env::new(options, layout);
    let corpus = corpus::standard_corpus();
    env.seed(&corpus);
    let report = env.sync(&[], 0);
    assert_eq!(totals(&report)[0] as usize, corpus.len(), "{report}");
    for (folder, count) in STANDARD_FOLDERS {
        let far = env.far(folder);
        let near = env.near(folder);
        assert_eq!(far.len(), count, "{folder}");
        // Byte-identical copies with the same flags.
        assert_eq!(
            far, near,
            "folder {folder}: far (left) and near (right) differ"
        );
    }
    // The folder tree of SPEC §3.
    let expected_dirs: &[&str] = if layout == "maildir++" {
        &[
            ".Archive",
            ".Archive.2021",
            ".Entwürfe",
            ".Lists.rust",
            ".Sent",
            "cur",
        ]
    } else {
        &["Archive/2021", "Entwürfe", "INBOX", "Lists/rust", "Sent"]
    };
    for dir in expected_dirs {
        assert!(env.maildir().join(dir).is_dir(), "{dir} missing");
    }
    // Nothing outside the maildir root but the state, and no state inside it.
    let mut names: Vec<String> = fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Mail", "config.toml", "state"]);
    // Unflagged messages went to new/, flagged ones to cur/.
    let inbox_new = fs::read_dir(env.near_dir("INBOX").join("new"))
        .unwrap()
        .count();
    assert!(inbox_new > 0 && inbox_new < 190, "new/ holds {inbox_new}");

    let again = env.sync(&[], 0);
    assert_nothing_planned(&again);
}

#[test]
fn initial_sync_is_byte_identical_in_verbatim_layout() {
    initial_sync_in_layout(DovecotOptions::default(), "verbatim");
}

#[test]
fn initial_sync_is_byte_identical_in_maildir_plus_plus_layout_from_a_prefixed_server() {
    initial_sync_in_layout(
        DovecotOptions {
            fs_layout: false,
            inbox_prefix: true,
            ..DovecotOptions::default()
        },
        "maildir++",
    );
}

/// A small account: INBOX and Archive, 12 messages each, some flagged.
pub(super) fn small_corpus() -> Vec<SeedMessage> {
    let mut messages = Vec::new();
    for n in 0..24 {
        let folder = if n < 12 { "INBOX" } else { "Archive" };
        let flags: &[&str] = match n % 3 {
            0 => &[],
            1 => &["\\Seen"],
            _ => &["\\Seen", "\\Flagged"],
        };
        messages.push(corpus::message(folder, n, flags));
    }
    messages
}

/// A maildir message file for a near-side change.
pub(super) fn write_near(dir: &Path, sub: &str, name: &str, n: u32) {
    let message = corpus::message("x", n, &[]);
    fs::create_dir_all(dir.join(sub)).unwrap();
    fs::write(dir.join(sub).join(name), message.bytes).unwrap();
}

/// Files of a near folder from cur/ and new/, ordered by content (then name): the same
/// messages come in the same order in every environment, whatever names a sync gave them
/// (the names follow the clock, so tests that edit "the first file" would otherwise edit
/// different messages in a reference run and in the run compared with it).
pub(super) fn near_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            files.push((fs::read(&path).unwrap(), path));
        }
    }
    files.sort();
    files.into_iter().map(|(_, path)| path).collect()
}

/// Changes both sides: far gets new mail, flag changes, a deletion with expunge and a new
/// folder; near gets flag renames, a deleted file, new files in new/ and cur/, a new folder.
pub(super) fn change_both_sides(env: &Env) {
    let d = &env.dovecot;
    let mut session = d.session().unwrap();
    session.select("INBOX").unwrap();
    session.uid_store("1", "+FLAGS.SILENT (\\Flagged)").unwrap();
    session.uid_store("2", "-FLAGS.SILENT (\\Seen)").unwrap();
    session.uid_store("3", "+FLAGS.SILENT (\\Deleted)").unwrap();
    session.expunge().unwrap();
    session.logout().unwrap();
    d.append(
        "INBOX",
        &corpus::message("INBOX", 100, &[]).bytes,
        &["\\Seen"],
    )
    .unwrap();
    d.seed(&[corpus::message("Projects", 101, &["\\Flagged"])])
        .unwrap();

    let inbox = env.near_dir("INBOX");
    let archive = env.near_dir("Archive");
    let files = near_files(&archive);
    // Flag renames: mark the first file answered (moving it to cur/), unflag another.
    let first = &files[0];
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap().to_string();
    let letters: String = name.split(":2,").nth(1).unwrap_or("").to_string();
    let mut new_letters: Vec<char> = letters.chars().chain(['R']).collect();
    new_letters.sort();
    new_letters.dedup();
    fs::rename(
        first,
        archive.join("cur").join(format!(
            "{base}:2,{}",
            new_letters.into_iter().collect::<String>()
        )),
    )
    .unwrap();
    // Delete another file.
    fs::remove_file(&files[1]).unwrap();
    // New files in new/ and in cur/.
    write_near(&inbox, "new", "1800000000.M1P1.testhost", 200);
    write_near(&inbox, "cur", "1800000001.M2P1.testhost:2,FS", 201);
    // A new folder.
    let notes = env.near_dir("Notes");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(notes.join(sub)).unwrap();
    }
    write_near(&notes, "cur", "1800000002.M3P1.testhost:2,S", 202);
}

#[test]
fn changes_on_both_sides_converge_and_a_further_run_plans_nothing() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    change_both_sides(&env);
    let report = env.sync(&[], 0);
    let t = totals(&report);
    assert_eq!(t[0], 2, "downloads: new INBOX mail + Projects: {report}");
    assert_eq!(t[1], 3, "uploads: two INBOX files + Notes: {report}");
    assert_eq!(t[4], 1, "the near deletion reaches the far side: {report}");
    assert_eq!(t[5], 1, "the far expunge reaches the near side: {report}");
    assert!(t[2] >= 1 && t[3] >= 2, "flags both ways: {report}");
    assert_eq!(folder_report(&report, "Notes")["create"], "far");
    assert_eq!(folder_report(&report, "Projects")["create"], "near");
    assert_eq!(env.assert_converged("INBOX"), 12 - 1 + 1 + 2);
    assert_eq!(env.assert_converged("Archive"), 11);
    assert_eq!(env.assert_converged("Notes"), 1);
    assert_eq!(env.assert_converged("Projects"), 1);
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn pull_and_push_each_apply_one_direction_and_a_plain_run_completes_the_other() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    change_both_sides(&env);
    let far_before = flags_by_key(&env.far("Archive"));

    let pulled = env.sync(&["--pull"], 0);
    let t = totals(&pulled);
    assert_eq!(
        (t[1], t[2], t[4]),
        (0, 0, 0),
        "pull writes nothing far: {pulled}"
    );
    assert!(t[0] >= 2 && t[5] == 1, "{pulled}");
    assert_eq!(
        flags_by_key(&env.far("Archive")),
        far_before,
        "far untouched by --pull"
    );
    assert!(!env.near_dir("Projects").join("cur").exists() || env.near("Projects").len() == 1);

    let pushed = env.sync(&["--push"], 0);
    let t = totals(&pushed);
    assert_eq!(
        (t[0], t[3], t[5]),
        (0, 0, 0),
        "push writes nothing near: {pushed}"
    );
    assert!(t[1] == 3 && t[4] == 1, "{pushed}");

    let rest = env.sync(&[], 0);
    for folder in ["INBOX", "Archive", "Notes", "Projects"] {
        env.assert_converged(folder);
    }
    let _ = rest;
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn first_sync_onto_a_maildir_holding_copies_duplicates_nothing() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let messages = small_corpus();
    env.seed(&messages);
    // The near side already holds every INBOX message (as another tool left them), some
    // with other flags, plus one message the server lacks.
    let inbox = env.near_dir("INBOX");
    for (i, m) in messages.iter().filter(|m| m.folder == "INBOX").enumerate() {
        let flags = if i % 2 == 0 { "S" } else { "" };
        fs::create_dir_all(inbox.join("cur")).unwrap();
        fs::write(
            inbox.join(format!("cur/170000000{i}.M{i}P9.old:2,{flags}")),
            &m.bytes,
        )
        .unwrap();
    }
    for sub in ["new", "tmp"] {
        fs::create_dir_all(inbox.join(sub)).unwrap();
    }
    write_near(&inbox, "new", "1700000099.M99P9.old", 300);
    let report = env.sync(&[], 0);
    let inbox_report = folder_report(&report, "INBOX");
    assert_eq!(inbox_report["download"], 0, "{report}");
    assert_eq!(inbox_report["upload"], 1, "{report}");
    assert_eq!(env.assert_converged("INBOX"), 13);
    assert_eq!(env.assert_converged("Archive"), 12);
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn a_recreated_server_folder_with_a_new_uidvalidity_is_paired_again() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let messages = small_corpus();
    env.seed(&messages);
    env.sync(&[], 0);
    let near_before = near_files(&env.near_dir("Archive"));
    let mut session = env.dovecot.session().unwrap();
    let old_validity = session.select("Archive").unwrap().uid_validity;
    session.select("INBOX").unwrap();
    session.delete("Archive").unwrap();
    session.logout().unwrap();
    let archive: Vec<SeedMessage> = messages
        .into_iter()
        .filter(|m| m.folder == "Archive")
        .collect();
    env.seed(&archive);
    let mut session = env.dovecot.session().unwrap();
    let new_validity = session.select("Archive").unwrap().uid_validity;
    session.logout().unwrap();
    assert_ne!(
        old_validity, new_validity,
        "the test needs a new UIDVALIDITY"
    );

    let report = env.sync(&[], 0);
    let archive_report = folder_report(&report, "Archive");
    for count in ["download", "upload", "delete_far", "delete_near"] {
        assert_eq!(archive_report[count], 0, "{count}: {report}");
    }
    assert_eq!(
        near_files(&env.near_dir("Archive")).len(),
        near_before.len()
    );
    assert_eq!(env.assert_converged("Archive"), 12);
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn one_failing_folder_does_not_stop_the_others() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    // Occupy the near path of Archive with a plain file: its folder cannot be created.
    fs::create_dir_all(env.maildir()).unwrap();
    fs::write(env.maildir().join("Archive"), "not a folder").unwrap();
    let report = env.sync(&[], 1);
    let failed = folder_report(&report, "Archive");
    assert_eq!(failed["status"], "error", "{report}");
    assert!(
        failed["error"].as_str().unwrap().contains("Archive"),
        "{report}"
    );
    assert_eq!(folder_report(&report, "INBOX")["status"], "ok");
    assert_eq!(env.assert_converged("INBOX"), 12);
    assert_eq!(report["totals"]["errors"], 1);
}

#[test]
fn a_second_mailferry_on_a_locked_channel_exits_75() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus()[..2]);
    let held = mailferry::state::lock::try_lock(&env.state_dir(), "test").unwrap();
    assert!(matches!(held, mailferry::state::lock::LockOutcome::Held(_)));
    let out = env.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !env.near_dir("INBOX").exists(),
        "nothing synced while locked"
    );
    drop(held);
    env.sync(&[], 0);
    assert_eq!(env.assert_converged("INBOX"), 2);
}

/// Every file under a directory with its contents.
pub(super) fn snapshot_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.clone(), Vec::new());
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_dry_run_changes_nothing_and_reports_what_the_real_run_does() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    change_both_sides(&env);
    let folders = ["INBOX", "Archive", "Projects"];
    let far_before: Vec<Messages> = folders.iter().map(|f| env.far(f)).collect();
    let near_before = snapshot_tree(&env.maildir());
    let state_before = snapshot_tree(&env.state_dir());
    let far_list_before = env
        .dovecot
        .doveadm(&["mailbox", "list", "-u", env.dovecot.user()])
        .unwrap();

    let dry = env.sync(&["--dry-run"], 0);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        folders.map(|f| env.far(f)).to_vec(),
        far_before,
        "dry run changed the server"
    );
    assert_eq!(
        snapshot_tree(&env.maildir()),
        near_before,
        "dry run changed the maildir"
    );
    assert_eq!(
        snapshot_tree(&env.state_dir()),
        state_before,
        "dry run changed the state"
    );
    assert_eq!(
        env.dovecot
            .doveadm(&["mailbox", "list", "-u", env.dovecot.user()])
            .unwrap(),
        far_list_before,
        "dry run created a far folder"
    );

    let real = env.sync(&[], 0);
    assert_eq!(real["dry_run"], false);
    assert_eq!(actions(&dry), actions(&real));
    assert_eq!(totals(&dry), totals(&real));
}

#[test]
fn config_errors_exit_2_naming_the_file_and_key() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config");
    for (file, key) in [
        ("bad-unknown-key.toml", "pasword"),
        ("bad-missing-account.toml", "channel.work.account"),
        ("bad-plaintext-remote.toml", "account.personal.tls"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .args(["-c"])
            .arg(fixtures.join(file))
            .args(["sync", "--dry-run"])
            .env_remove("MAILFERRY_CONFIG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.contains(file) && stderr.contains(key),
            "{file}: {stderr}"
        );
    }
}

#[test]
fn starttls_sync_works_and_a_missing_channel_is_a_usage_error() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus()[..3]);
    let config = fs::read_to_string(env.config())
        .unwrap()
        .replace(
            &format!("port = {}", env.dovecot.imaps_port()),
            &format!("port = {}", env.dovecot.imap_port()),
        )
        .replace("tls = \"implicit\"", "tls = \"starttls\"");
    fs::write(env.config(), config).unwrap();
    env.sync(&["test:INBOX"], 0);
    assert_eq!(env.assert_converged("INBOX"), 3);
    let out = env.run(&["sync", "nosuchchannel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchchannel"));
}

#[test]
fn remove_propagates_folder_deletions_behind_the_mass_deletion_guard() {
    let env = Env::with_channel_extra(DovecotOptions::default(), "verbatim", "remove = \"both\"");
    let mut messages = small_corpus();
    messages.push(corpus::message("Tiny", 500, &["\\Seen"]));
    messages.push(corpus::message("Tiny", 501, &[]));
    env.seed(&messages);
    env.sync(&[], 0);
    assert_eq!(env.assert_converged("Tiny"), 2);

    // A small folder deleted on the server goes from the maildir too.
    let mut session = env.dovecot.session().unwrap();
    session.delete("Tiny").unwrap();
    session.logout().unwrap();
    let report = env.sync(&[], 0);
    assert_eq!(folder_report(&report, "Tiny")["delete_near"], 2, "{report}");
    assert!(!env.near_dir("Tiny").exists());

    // A near folder of 12 vanishes: held back without --force, carried out with it.
    fs::remove_dir_all(env.near_dir("Archive")).unwrap();
    let held = env.sync(&[], 1);
    let archive = folder_report(&held, "Archive");
    assert!(
        archive["error"].as_str().unwrap().contains("--force"),
        "{held}"
    );
    assert_eq!(
        env.far("Archive").len(),
        12,
        "nothing deleted without --force"
    );
    assert!(!env.near_dir("Archive").exists(), "not recreated either");
    let forced = env.sync(&["--force"], 0);
    assert_eq!(
        folder_report(&forced, "Archive")["delete_far"],
        12,
        "{forced}"
    );
    let listed = env
        .dovecot
        .doveadm(&["mailbox", "list", "-u", env.dovecot.user()])
        .unwrap();
    assert!(!listed.lines().any(|l| l.trim() == "Archive"), "{listed}");
    assert_nothing_planned(&env.sync(&[], 0));
    assert_eq!(env.assert_converged("INBOX"), 12);
}

#[test]
fn a_server_without_uidplus_still_converges_without_duplicates() {
    let env = Env::new(
        DovecotOptions {
            capabilities: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE".to_string()),
            ..DovecotOptions::default()
        },
        "verbatim",
    );
    env.seed(&small_corpus());
    env.sync(&[], 0);
    change_both_sides(&env);
    env.sync(&[], 0);
    for folder in ["INBOX", "Archive", "Notes", "Projects"] {
        env.assert_converged(folder);
    }
    // Uploads were paired by searching above UIDNEXT, so nothing is left to do.
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn a_folder_failing_before_it_is_listed_records_its_error_for_status() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    // Archive's near folder becomes a plain file: the next run cannot even scan it.
    fs::remove_dir_all(env.near_dir("Archive")).unwrap();
    fs::write(env.near_dir("Archive"), "not a folder").unwrap();
    let report = env.sync(&[], 1);
    let error = folder_report(&report, "Archive")["error"]
        .as_str()
        .unwrap()
        .to_string();
    let status = env.run(&["status"]);
    assert_eq!(status.status.code(), Some(0));
    let text = String::from_utf8_lossy(&status.stdout);
    let archive_line = text
        .lines()
        .find(|l| l.contains("Archive"))
        .unwrap_or_default();
    assert!(
        text.contains("cannot create") && text.contains(&error[..error.len().min(30)]),
        "status does not show Archive's error {error:?}:\n{text}\n{archive_line}"
    );
}
