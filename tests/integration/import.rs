//! `mailferry import mbsync` end to end: the real mbsync (Debian's isync) syncs a seeded
//! Dovecot account, mailferry imports its config and state, and the first mailferry sync
//! then changes nothing on either side; after that mailferry alone keeps both sides in
//! step. Also: a config full of keywords without an equivalent converts with one warning
//! per line, and `--write` never overwrites a config.

use super::sync::{Env, change_both_sides, totals, write_near};
use crate::support::compare::{Messages, far_messages, message_key, near_messages};
use crate::support::corpus::{self, STANDARD_FOLDERS};
use crate::support::dovecot::{Dovecot, DovecotOptions};
use crate::support::proxy::{Command as Watch, Dir, Fault, Proxy};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The mbsync binary; its absence fails the test (scripts/ensure-deps installs isync).
fn mbsync() -> Command {
    let probe = Command::new("mbsync").arg("--version").output();
    match probe {
        Ok(out) if out.status.success() => Command::new("mbsync"),
        other => panic!(
            "mbsync is required for the import tests and could not run ({other:?}); install Debian's isync package (scripts/ensure-deps does)"
        ),
    }
}

/// A Dovecot, an mbsyncrc for it, and the paths mailferry is pointed at.
struct Mb {
    env: Env,
}

/// Where the mbsync state of the test lives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StateAt {
    /// `SyncState *`: `.mbsyncstate` in each mailbox.
    Mailbox,
    /// The global `SyncState DIR/`: one file per mailbox pair, named after the stores.
    Central,
}

impl Mb {
    fn new(options: DovecotOptions, layout: &'static str) -> Mb {
        let dovecot = Dovecot::start(options)
            .expect("Dovecot must start (is dovecot-imapd installed? run scripts/test)");
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("Mail")).unwrap();
        Mb {
            env: Env {
                dovecot,
                dir,
                layout,
            },
        }
    }

    fn rc(&self) -> PathBuf {
        self.env.dir.path().join("mbsyncrc")
    }

    fn write_rc(&self, state_at: StateAt) {
        self.write_rc_to(state_at, None);
    }

    /// The mbsyncrc; with `plain_port`, over plaintext IMAP to that port (a proxy in
    /// front of Dovecot's plain port) instead of implicit TLS.
    fn write_rc_to(&self, state_at: StateAt, plain_port: Option<u16>) {
        let env = &self.env;
        let connection = match plain_port {
            Some(port) => format!("Port {port}\nSSLType None\nAuthMechs LOGIN\n"),
            None => format!(
                "Port {}\nSSLType IMAPS\nCertificateFile {}\n",
                env.dovecot.imaps_port(),
                env.dovecot.ca_file().display()
            ),
        };
        let maildir = env.maildir();
        let store = if env.layout == "maildir++" {
            format!("Inbox {}\nSubFolders Maildir++\n", maildir.display())
        } else {
            format!(
                "Path {m}/\nInbox {m}/INBOX\nSubFolders Verbatim\n",
                m = maildir.display()
            )
        };
        let (global_state, channel_state) = match state_at {
            StateAt::Mailbox => (String::new(), "SyncState *\n"),
            StateAt::Central => (
                format!(
                    "SyncState {}/\n\n",
                    env.dir.path().join("mbsync-state").display()
                ),
                "",
            ),
        };
        let text = format!(
            "# mbsync config of the import test\n{global_state}IMAPAccount test\nHost localhost\n{connection}User {user}\nPass \"{password}\"\n\nIMAPStore remote\nAccount test\n\nMaildirStore local\n{store}\nChannel mail\nFar :remote:\nNear :local:\nPatterns *\nSync All\nCreate Both\nExpunge Both\n{channel_state}",
            user = env.dovecot.user(),
            password = env.dovecot.password(),
        );
        fs::write(self.rc(), text).unwrap();
    }

    fn run_mbsync(&self) {
        let out = self.mbsync_output();
        assert!(
            out.status.success(),
            "mbsync failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn mbsync_output(&self) -> Output {
        mbsync()
            .arg("-c")
            .arg(self.rc())
            .arg("-a")
            .output()
            .unwrap()
    }

    /// mailferry with this test's config path and state home (the generated config keeps
    /// the default state_dir, $XDG_STATE_HOME/mailferry).
    fn mailferry(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .arg("-c")
            .arg(self.env.config())
            .args(args)
            .env("XDG_STATE_HOME", self.env.dir.path().join("xdg-state"))
            .env_remove("MAILFERRY_CONFIG")
            .env_remove("MAILFERRY_FAILPOINT")
            .output()
            .unwrap()
    }

    fn import(&self, write: bool) -> Output {
        let rc = self.rc().display().to_string();
        let mut args = vec!["import", "mbsync", "--mbsyncrc", &rc];
        if write {
            args.push("--write");
        }
        self.mailferry(&args)
    }

    fn sync(&self, args: &[&str]) -> Value {
        let mut all = vec!["sync", "--json"];
        all.extend_from_slice(args);
        let out = self.mailferry(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "mailferry {all:?}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains(self.env.dovecot.password()));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A folder's near directory as mbsync 1.4 names it (modified UTF-7 on disk).
    fn near_dir(&self, display: &str) -> PathBuf {
        let root = self.env.maildir();
        if display == "INBOX" {
            return if self.env.layout == "maildir++" {
                root
            } else {
                root.join("INBOX")
            };
        }
        let parts: Vec<String> = display
            .split('/')
            .map(mailferry::mapping::encode_mutf7)
            .collect();
        if self.env.layout == "maildir++" {
            root.join(format!(".{}", parts.join(".")))
        } else {
            root.join(parts.join("/"))
        }
    }

    fn near(&self, display: &str) -> Messages {
        near_messages(&self.near_dir(display)).unwrap()
    }

    fn far(&self, display: &str) -> Messages {
        far_messages(&self.env.dovecot, display).unwrap()
    }

    /// Both sides of every folder: display name -> (far, near).
    fn both(&self, folders: &[&str]) -> BTreeMap<String, (Messages, Messages)> {
        folders
            .iter()
            .map(|f| (f.to_string(), (self.far(f), self.near(f))))
            .collect()
    }

    /// Asserts both sides of a folder hold the same messages with the same flags; the
    /// `X-TUID` header mbsync adds to every message it copies is not compared.
    fn assert_converged(&self, display: &str) -> usize {
        let far = without_tuid(&self.far(display));
        let near = without_tuid(&self.near(display));
        assert_eq!(
            far, near,
            "folder {display}: far (left) and near (right) differ"
        );
        far.len()
    }
}

/// Message key (Message-ID + content hash, see `support::compare`) -> flags, computed
/// without the `X-TUID:` header line mbsync inserts into the messages it copies.
fn without_tuid(messages: &Messages) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (flags, raw) in messages.values() {
        let header_end = raw
            .windows(2)
            .position(|w| w == b"\n\n" || w == b"\n\r")
            .map_or(raw.len(), |p| p + 1);
        let (header, body) = raw.split_at(header_end);
        let mut stripped: Vec<u8> = header
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !l.starts_with(b"X-TUID: "))
            .flatten()
            .copied()
            .collect();
        stripped.extend_from_slice(body);
        let key = message_key(&stripped);
        assert!(
            out.insert(key.clone(), flags.clone()).is_none(),
            "duplicate {key}"
        );
    }
    out
}

/// Every file under `root` (names and contents), mbsync's own files included.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    super::sync::snapshot_tree(root)
}

fn folder_list() -> Vec<&'static str> {
    let mut folders: Vec<&str> = STANDARD_FOLDERS.iter().map(|(f, _)| *f).collect();
    folders.extend(["Notes", "Projects"]);
    folders
}

/// mbsync syncs a seeded account, then changes on both sides, then syncs again (so its
/// state holds uploads it renamed to `,U=`, deletions and flag changes); mailferry imports
/// that and its first sync changes nothing; then mailferry alone syncs new changes.
fn switch_from_mbsync(options: DovecotOptions, layout: &'static str, state_at: StateAt) {
    let mb = Mb::new(options, layout);
    mb.env.seed(&corpus::standard_corpus());
    mb.env.seed(&[corpus::message(
        "Lists/rust",
        700,
        &["\\Answered", "$Forwarded"],
    )]);
    mb.write_rc(state_at);
    mb.run_mbsync();
    change_both_sides(&mb.env);
    mb.run_mbsync();
    let folders = folder_list();
    for f in &folders {
        mb.assert_converged(f);
    }
    let uploaded = fs::read_dir(mb.near_dir("INBOX").join("cur"))
        .unwrap()
        .chain(fs::read_dir(mb.near_dir("INBOX").join("new")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("1800000001.M2P1.testhost"))
        .expect("the near message mbsync uploaded");
    assert!(
        uploaded.contains(",U="),
        "mbsync names it with its UID: {uploaded}"
    );
    if layout == "verbatim" {
        assert!(
            mb.env.maildir().join("Entw&APw-rfe").is_dir(),
            "mbsync 1.4 spells it in modified UTF-7"
        );
    }
    let near_before = tree(&mb.env.maildir());
    let far_before = mb.both(&folders);

    // The import: config and state written, nothing to warn about in this config.
    let out = mb.import(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stdout.contains(mb.env.dovecot.password()), "{stdout}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning") && !l.contains("holds the password"))
        .collect();
    assert!(warnings.is_empty(), "unexpected warnings:\n{stderr}");
    // Every message mbsync synced is paired by the imported state (not left for the
    // first sync to pair by Message-ID).
    for f in &folders {
        let line = format!(
            "imported mail:{f}: {} message pairs",
            far_before[*f].0.len()
        );
        assert!(stdout.contains(&line), "expected {line:?} in:\n{stdout}");
    }
    let config = fs::read_to_string(mb.env.config()).unwrap();
    assert!(config.contains("folder_names = \"imap\""), "{config}");
    assert!(
        config.contains(&format!("layout = \"{layout}\"")),
        "{config}"
    );
    let mode = fs::metadata(mb.env.config()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config holds the password");

    // The first sync: nothing to download, upload, delete, or even re-flag.
    let dry = mb.sync(&["--dry-run"]);
    assert_eq!(totals(&dry), [0; 7], "dry run after the import: {dry}");
    let report = mb.sync(&[]);
    assert_eq!(
        totals(&report),
        [0; 7],
        "first sync after the import: {report}"
    );
    let synced: Vec<&str> = report["channels"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["far"].as_str().unwrap())
        .collect();
    for f in &folders {
        assert!(synced.contains(f), "{f} was not synced: {report}");
    }
    assert_eq!(
        tree(&mb.env.maildir()),
        near_before,
        "the near side changed (a file renamed, added or removed)"
    );
    assert_eq!(mb.both(&folders), far_before, "the far side changed");

    // mailferry alone from now on: changes on both sides converge.
    let d = &mb.env.dovecot;
    d.append(
        &d.server_name("Entwürfe"),
        &corpus::message("Entwürfe", 800, &[]).bytes,
        &["\\Seen"],
    )
    .unwrap();
    let mut session = d.session().unwrap();
    session.select(d.server_name("Archive/2021")).unwrap();
    let flagged = session
        .uid_fetch("1", "FLAGS")
        .unwrap()
        .iter()
        .any(|f| f.flags().iter().any(|f| f.to_string() == "\\Flagged"));
    let toggle = if flagged {
        "-FLAGS.SILENT (\\Flagged)"
    } else {
        "+FLAGS.SILENT (\\Flagged)"
    };
    session.uid_store("1", toggle).unwrap();
    session.logout().unwrap();
    let rust = mb.near_dir("Lists/rust");
    write_near(&rust, "new", "1800000100.M9P1.testhost", 801);
    let sent = super::sync::near_files(&mb.near_dir("Sent"));
    fs::remove_file(&sent[0]).unwrap();
    // Mark a read message unread on the near side: a flag removal, which only merges
    // right when the imported base holds the flags mbsync recorded.
    let read = super::sync::near_files(&mb.near_dir("Archive"))
        .into_iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.split_once(":2,")
                .is_some_and(|(_, info)| info.contains('S'))
        })
        .expect("a read message in Archive");
    let name = read.file_name().unwrap().to_string_lossy().into_owned();
    let (base, info) = name.split_once(":2,").unwrap();
    fs::rename(
        &read,
        read.with_file_name(format!("{base}:2,{}", info.replace('S', ""))),
    )
    .unwrap();
    let report = mb.sync(&[]);
    let t = totals(&report);
    assert_eq!(t[0], 1, "download: the new far message: {report}");
    assert_eq!(t[2], 1, "flags to far: the message marked unread: {report}");
    assert_eq!(t[1], 1, "upload: the new near message: {report}");
    assert_eq!(t[3], 1, "flags to near: the flagged far message: {report}");
    assert_eq!(t[4], 1, "delete far: the message deleted near: {report}");
    assert_eq!((t[5], t[6]), (0, 0), "{report}");
    for f in &folders {
        mb.assert_converged(f);
    }
    assert_eq!(mb.assert_converged("Sent"), 79);
    // Files mailferry made get no `,U=`; mbsync's keep theirs.
    let names: Vec<String> = super::sync::near_files(&mb.near_dir("Entwürfe"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.contains(",U=")).count(),
        20,
        "{names:?}"
    );
    assert_eq!(names.len(), 21, "{names:?}");
    let again = mb.sync(&[]);
    assert_eq!(totals(&again), [0; 7], "{again}");
}

#[test]
fn switching_from_mbsync_in_the_verbatim_layout_downloads_nothing() {
    switch_from_mbsync(DovecotOptions::default(), "verbatim", StateAt::Mailbox);
}

#[test]
fn switching_from_mbsync_in_the_maildir_plus_plus_layout_with_central_state_downloads_nothing() {
    switch_from_mbsync(
        DovecotOptions {
            fs_layout: false,
            inbox_prefix: true,
            ..DovecotOptions::default()
        },
        "maildir++",
        StateAt::Central,
    );
}

#[test]
fn unsupported_keywords_convert_with_one_warning_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("mbsyncrc");
    // (line, keyword) of every line that does not carry over.
    let text = "\
FSync no
BufferLimit 20m

IMAPAccount acct
Host imap.example.org
User me
Pass \"sw0rdfish-secret\"
SSLType STARTTLS
PipelineDepth 1
TLSVersions +1.3
SystemCertificates no
AuthMechs XOAUTH2

IMAPStore remote
Account acct
Trash Trash
MapInbox inbox

MaildirStore local
Path ~/Mail/acct/
Inbox ~/Mail/acct/INBOX
SubFolders Verbatim
AltMap yes

Channel acct
Far :remote:
Near :local:
Patterns * !Trash
CopyArrivalDate yes
MaxMessages 1000
Sync All
SyncState *

Group everything
Channel acct
";
    let expected = [
        (1, "FSync"),
        (2, "BufferLimit"),
        (9, "PipelineDepth"),
        (10, "TLSVersions"),
        (11, "SystemCertificates"),
        (12, "AuthMechs"),
        (16, "Trash"),
        (17, "MapInbox"),
        (23, "AltMap"),
        (29, "CopyArrivalDate"),
        (30, "MaxMessages"),
        (34, "Group"),
        (35, "Channel"),
    ];
    fs::write(&rc, text).unwrap();
    let config = dir.path().join("config.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("-c")
        .arg(&config)
        .args(["import", "mbsync", "--mbsyncrc"])
        .arg(&rc)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env_remove("MAILFERRY_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let prefix = format!("mailferry: warning: {}:", rc.display());
    let warned: Vec<(usize, String)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| !l.contains(": Pass: "))
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let line = parts.next().unwrap().parse().unwrap();
            let keyword = parts.next().unwrap().trim().to_string();
            (line, keyword)
        })
        .collect();
    let expected: Vec<(usize, String)> =
        expected.iter().map(|(l, k)| (*l, k.to_string())).collect();
    assert_eq!(warned, expected, "stderr:\n{stderr}");
    assert!(!stdout.contains("sw0rdfish") && !stderr.contains("sw0rdfish"));
    assert!(!config.exists(), "without --write nothing is written");
    // What it printed is a config mailferry loads.
    let loaded =
        mailferry::config::parse(&stdout, &config).unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    let channel = &loaded.channels["acct"];
    assert_eq!(channel.patterns.as_slice(), ["*", "!Trash"]);
    assert!(
        channel.maildir.ends_with("Mail/acct"),
        "{:?}",
        channel.maildir
    );
    assert_eq!(loaded.accounts["acct"].port, 143);
}

#[test]
fn write_never_overwrites_a_config() {
    let mb = Mb::new(DovecotOptions::default(), "verbatim");
    mb.env.seed(&super::sync::small_corpus());
    mb.write_rc(StateAt::Mailbox);
    mb.run_mbsync();
    fs::write(mb.env.config(), "# mine\n").unwrap();
    let out = mb.import(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&mb.env.config().display().to_string()) && stderr.contains("exists"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(mb.env.config()).unwrap(), "# mine\n");
    assert!(
        !mb.env.dir.path().join("xdg-state").exists(),
        "no state written either"
    );
    // Once moved away, the import goes through; a second import refuses the state it made.
    fs::remove_file(mb.env.config()).unwrap();
    assert_eq!(mb.import(true).status.code(), Some(0));
    fs::remove_file(mb.env.config()).unwrap();
    let out = mb.import(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("state for channel mail exists"), "{stderr}");
    assert!(!mb.env.config().exists(), "refused before writing anything");
}

/// mbsync cut off halfway through downloading new mail leaves its journal (and the `.new`
/// state it began); the import replays it and reports the copies mbsync had not finished,
/// which the first mailferry sync downloads, nothing else.
#[test]
fn an_interrupted_mbsync_run_is_replayed_from_its_journal() {
    let mb = Mb::new(DovecotOptions::default(), "verbatim");
    mb.env.seed(&super::sync::small_corpus());
    let proxy = Proxy::start(mb.env.dovecot.imap_port());
    mb.write_rc_to(StateAt::Mailbox, Some(proxy.port()));
    mb.run_mbsync();
    assert_eq!(mb.assert_converged("INBOX"), 12);
    for n in 300..306 {
        mb.env
            .dovecot
            .append(
                "INBOX",
                &corpus::message("INBOX", n, &[]).bytes,
                &["\\Seen"],
            )
            .unwrap();
    }
    // The fourth new message's body is cut halfway.
    proxy.times(
        1,
        Fault::CutMidLiteral {
            dir: Dir::ServerToClient,
            on: Watch::in_folder("INBOX", "BODY.PEEK[]"),
            nth: 3,
        },
    );
    let out = mb.mbsync_output();
    assert!(
        !out.status.success(),
        "mbsync should have failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.count("cut mid-literal"), 1, "{:?}", proxy.fired());
    let inbox = mb.near_dir("INBOX");
    assert!(
        inbox.join(".mbsyncstate.journal").exists(),
        "no journal left"
    );
    assert!(
        inbox.join(".mbsyncstate.new").exists(),
        "no .new state left"
    );
    // How many of the new messages mbsync stored before it gave up depends on how much
    // it read before the cut (mbsync 1.4 tends to drop them all); whatever it stored
    // and journaled is paired by the import, the rest is downloaded by mailferry.
    let stored = mb.near("INBOX").len() - 12;
    assert!(stored < 6, "mbsync cannot have stored all six");

    let out = mb.import(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let line = format!("imported mail:INBOX: {} message pairs", 12 + stored);
    assert!(
        stdout.contains(&line),
        "expected {line:?}: {stdout}{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "mail: INBOX: {} messages mbsync had not finished propagating",
            6 - stored
        )),
        "the unfinished copies are reported: {stderr}"
    );
    assert!(
        stderr.contains("mail: INBOX: mbsync was interrupted here"),
        "the replay is reported: {stderr}"
    );
    let rest = 6 - stored as u64;
    let dry = mb.sync(&["--dry-run"]);
    assert_eq!(totals(&dry), [rest, 0, 0, 0, 0, 0, 0], "{dry}");
    let report = mb.sync(&[]);
    assert_eq!(totals(&report), [rest, 0, 0, 0, 0, 0, 0], "{report}");
    assert_eq!(mb.assert_converged("INBOX"), 18);
    assert_eq!(mb.assert_converged("Archive"), 12);
    assert_eq!(totals(&mb.sync(&[])), [0; 7]);
}

/// Flag changes made after mbsync's last run, removals included, reach the other side on
/// the first mailferry sync: the imported pairs carry the flags mbsync recorded as their
/// base, so neither a removal nor an addition is mistaken for the other side's state.
#[test]
fn flag_changes_since_mbsyncs_last_run_propagate_on_the_first_sync() {
    let mb = Mb::new(DovecotOptions::default(), "verbatim");
    mb.env.seed(&super::sync::small_corpus());
    mb.write_rc(StateAt::Mailbox);
    mb.run_mbsync();
    // Near: a read INBOX message marked unread. Far: Archive UID 3 (read, flagged)
    // unflagged.
    let read = super::sync::near_files(&mb.near_dir("INBOX"))
        .into_iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.split_once(":2,")
                .is_some_and(|(_, info)| info.contains('S'))
        })
        .expect("a read message in INBOX");
    let name = read.file_name().unwrap().to_string_lossy().into_owned();
    let (base, info) = name.split_once(":2,").unwrap();
    fs::rename(
        &read,
        read.with_file_name(format!("{base}:2,{}", info.replace('S', ""))),
    )
    .unwrap();
    let mut session = mb.env.dovecot.session().unwrap();
    session.select("Archive").unwrap();
    session.uid_store("3", "-FLAGS.SILENT (\\Flagged)").unwrap();
    session.logout().unwrap();

    assert_eq!(mb.import(true).status.code(), Some(0));
    let report = mb.sync(&[]);
    assert_eq!(totals(&report), [0, 0, 1, 1, 0, 0, 0], "{report}");
    let inbox = mb.far("INBOX");
    let unread = inbox
        .values()
        .filter(|(flags, _)| !flags.contains('S'))
        .count();
    assert_eq!(
        unread,
        4 + 1,
        "the message marked unread near is unread far"
    );
    assert_eq!(mb.assert_converged("INBOX"), 12);
    assert_eq!(mb.assert_converged("Archive"), 12);
    let flagged = mb
        .near("Archive")
        .values()
        .filter(|(flags, _)| flags.contains('F'))
        .count();
    assert_eq!(
        flagged,
        4 - 1,
        "the message unflagged far is unflagged near"
    );
    assert_eq!(totals(&mb.sync(&[])), [0; 7]);
}
