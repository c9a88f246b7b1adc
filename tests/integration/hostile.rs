//! `mailferry sync` against broken and hostile servers (a scripted fake IMAP server):
//! folder names that would escape the maildir, literals cut short or announcing
//! gigabytes, malformed lines, UIDVALIDITY 0, and UIDs that go backwards or repeat. Each
//! must fail its own folder with a clear error (exit 1, no panic) while the good folder
//! syncs, write nothing outside the maildir root, keep memory bounded, and delete or
//! duplicate nothing on the strength of a broken listing. A CONDSTORE server that refuses
//! STATUS for a folder, or whose list of changes does not add up, costs only the shortcut.
//!
//! `HOSTILE_DEBUG=1` prints every run's stdout and stderr.

use crate::support::fake_imap::{
    self, FakeFolder, FakeImap, Logged, PASSWORD, Reply, Request, Script, ServerState, USER,
    listing_line,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `/usr/bin/time` lives (Debian package `time`, installed by scripts/ensure-deps).
const TIME: &str = "/usr/bin/time";
/// The peak resident memory a sync may reach while a server streams hundreds of MB.
const MAX_RSS_KIB: u64 = 200 * 1024;

/// A fake server, and a temporary directory holding the config, the state and a maildir
/// root nested four levels deep (`sandbox/l1/l2/l3/Mail`), so that any `..` escape a bug
/// let through would still land inside the directory the test watches.
struct Env {
    server: FakeImap,
    dir: tempfile::TempDir,
}

/// One finished `mailferry sync --json`.
struct Run {
    code: i32,
    report: Value,
    stderr: String,
    /// Peak resident set of the mailferry process, when measured.
    peak_rss_kib: Option<u64>,
}

impl Env {
    fn new(state: ServerState, script: Script) -> Env {
        let env = Env {
            server: FakeImap::start(state, script),
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(env.maildir()).unwrap();
        let config = format!(
            r#"[general]
state_dir = "{state}"
jobs = 2

[account.fake]
host = "127.0.0.1"
port = {port}
tls = "none"
user = "{USER}"
password = "{PASSWORD}"
connections = 2
timeout = 20

[channel.fake]
account = "fake"
maildir = "{maildir}"
layout = "verbatim"
"#,
            state = env.state_dir().display(),
            port = env.server.port(),
            maildir = env.maildir().display(),
        );
        fs::write(env.config(), config).unwrap();
        let mut perms = fs::metadata(env.config()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        fs::set_permissions(env.config(), perms).unwrap();
        env
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("sandbox/l1/l2/l3/Mail")
    }

    /// `mailferry sync --json`; asserts it ended by itself (exit 0 or 1, no signal), did
    /// not panic, leaked no password and printed a JSON report.
    fn sync(&self, expected_code: i32) -> Run {
        self.run(expected_code, false)
    }

    /// [`Env::sync`] under `/usr/bin/time`, which records the peak resident set.
    fn sync_measured(&self, expected_code: i32) -> Run {
        self.run(expected_code, true)
    }

    fn run(&self, expected_code: i32, measured: bool) -> Run {
        let rss_file = self.dir.path().join("peak-rss");
        let mut command = if measured {
            assert!(
                Path::new(TIME).exists(),
                "{TIME} is missing: install the Debian package `time` (scripts/ensure-deps does)"
            );
            let mut c = Command::new(TIME);
            c.arg("-f").arg("%M").arg("-o").arg(&rss_file);
            c.arg(env!("CARGO_BIN_EXE_mailferry"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_mailferry"))
        };
        let out = command
            .arg("-c")
            .arg(self.config())
            .args(["sync", "--json"])
            .env_remove("MAILFERRY_CONFIG")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let context = format!("stdout: {stdout}\nstderr: {stderr}");
        // /usr/bin/time reports a signal as "Command terminated by signal N" (and exits
        // 128+N); without it, no code means a signal.
        assert!(
            !stderr.contains("terminated by signal"),
            "killed by a signal\n{context}"
        );
        let code = out.status.code().expect("mailferry was killed by a signal");
        assert!(
            !stderr.contains("panicked"),
            "mailferry panicked\n{context}"
        );
        assert_eq!(code, expected_code, "exit code\n{context}");
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "the password leaked\n{context}"
        );
        if std::env::var_os("HOSTILE_DEBUG").is_some() {
            eprintln!("{context}");
        }
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("report is not JSON: {e}\n{context}"));
        let peak_rss_kib = measured.then(|| {
            let text = fs::read_to_string(&rss_file).unwrap();
            text.trim()
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or_else(|| panic!("no peak RSS in {text:?}"))
        });
        if std::env::var_os("HOSTILE_DEBUG").is_some() {
            eprintln!("peak RSS: {peak_rss_kib:?} KiB");
        }
        Run {
            code,
            report,
            stderr,
            peak_rss_kib,
        }
    }

    /// Message files (cur/ and new/) of a near folder; empty when it does not exist.
    fn near_files(&self, folder: &str) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(self.maildir().join(folder).join(sub)) else {
                continue;
            };
            for entry in entries {
                files.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        files
    }

    /// The bodies of a near folder's messages, sorted.
    fn near_bodies(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(self.maildir().join(folder).join(sub)) else {
                continue;
            };
            for entry in entries {
                bodies.push(fs::read(entry.unwrap().path()).unwrap());
            }
        }
        bodies.sort();
        bodies
    }

    /// Moves the server to `phase` and gives its INBOX new message `n`; returns its body.
    fn new_inbox_message(&self, phase: u32, n: u32) -> Vec<u8> {
        let body = fake_imap::message_body("INBOX", n);
        let mut server = self.server.state();
        server.phase = phase;
        server.folder_mut("INBOX").unwrap().push(&[], body.clone());
        body
    }

    /// The bodies of a far folder's messages, sorted.
    fn server_bodies(&self, folder: &str) -> Vec<Vec<u8>> {
        let state = self.server.state();
        let mut bodies: Vec<Vec<u8>> = state
            .folder(folder)
            .unwrap_or_else(|| panic!("no far folder {folder}"))
            .messages
            .iter()
            .map(|m| m.body.clone())
            .collect();
        bodies.sort();
        bodies
    }

    /// The commands of the server's log named `command` (e.g. `SELECT`, `UID FETCH`).
    fn logged(&self, command: &str) -> Vec<Logged> {
        self.server
            .log()
            .into_iter()
            .filter(|entry| entry.command == command)
            .collect()
    }
}

/// Every path under `root` (relative, not following symlinks), at most 10,000.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        assert!(out.len() < 10_000, "runaway tree under {}", root.display());
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            }
        }
    }
    out
}

fn folders(report: &Value) -> &Vec<Value> {
    report["channels"][0]["folders"]
        .as_array()
        .unwrap_or_else(|| panic!("no folders in {report}"))
}

fn folder<'a>(report: &'a Value, far: &str) -> &'a Value {
    folders(report)
        .iter()
        .find(|f| f["far"] == far)
        .unwrap_or_else(|| panic!("no folder {far:?} in {report}"))
}

/// Asserts `far` failed with an error containing every one of `words`; returns the error.
fn assert_failed(report: &Value, far: &str, words: &[&str]) -> String {
    let f = folder(report, far);
    assert_eq!(f["status"], "error", "{far}: {f}");
    let error = f["error"].as_str().unwrap_or_default().to_string();
    for word in words {
        assert!(error.contains(word), "{far}: {word:?} not in {error:?}");
    }
    error
}

/// Asserts `far` synced fine, downloading `downloads` messages.
fn assert_synced(report: &Value, far: &str, downloads: u64) {
    let f = folder(report, far);
    assert_eq!(f["status"], "ok", "{far}: {f}");
    assert_eq!(f["download"], downloads, "{far}: {f}");
}

/// The far name a report shows for a refused name: control characters escaped, cut at
/// 200 characters (src/app/sync.rs `printable`).
fn printable(name: &str) -> String {
    let mut out: String = name
        .chars()
        .flat_map(char::escape_debug)
        .take(200)
        .collect();
    if name.len() > 200 {
        out.push('…');
    }
    out
}

#[test]
fn a_sane_fake_server_syncs_cleanly_and_then_plans_nothing() {
    let env = Env::new(
        ServerState::new(vec![
            FakeFolder::with_messages("INBOX", 11, 3),
            FakeFolder::with_messages("Archive/2024", 12, 2),
        ]),
        fake_imap::sane(),
    );
    let first = env.sync(0);
    assert_synced(&first.report, "INBOX", 3);
    assert_synced(&first.report, "Archive/2024", 2);
    assert_eq!(env.near_bodies("INBOX"), env.server_bodies("INBOX"));
    let again = env.sync(0);
    assert_eq!(again.report["totals"]["download"], 0, "{}", again.report);
    assert_eq!(again.report["totals"]["errors"], 0, "{}", again.report);
}

#[test]
fn hostile_folder_names_are_refused_one_by_one_and_nothing_escapes_the_maildir() {
    let dir_for_abs = tempfile::tempdir().unwrap();
    let absolute = format!("{}/abs-escape", dir_for_abs.path().display());
    let long = "n".repeat(10_000);
    // (name as listed, name as decoded, what the error must say)
    let same = |name: &str, why: &'static str| (name.to_string(), name.to_string(), why);
    let hostile: Vec<(String, String, &str)> = vec![
        same("../../etc", "would refer to another directory"),
        same("a/../../b", "would refer to another directory"),
        same("..", "would refer to another directory"),
        same(&absolute, "empty component"),
        same("cur", "cur/new/tmp"),
        same("Deep/new", "cur/new/tmp"),
        same("nul\0name", "control character"),
        same("bell\x07ring", "control character"),
        same("esc\x1b[31mred", "control character"),
        same("line\r\nbreak", "control character"),
        // Modified UTF-7 for U+0000: a NUL only once decoded.
        ("enc&AAA-nul".into(), "enc\0nul".into(), "NUL"),
        same(&long, "longer than 255 bytes"),
    ];
    let mut listed = vec![FakeFolder::with_messages("Good", 7, 2)];
    for (name, _, _) in &hostile {
        listed.push(FakeFolder::with_messages(name, 9, 1));
    }
    let env = Env::new(ServerState::new(listed), fake_imap::sane());
    let before = tree(env.dir.path());
    let abs_before = tree(dir_for_abs.path());

    let run = env.sync(1);

    assert_synced(&run.report, "Good", 2);
    assert_eq!(env.near_files("Good").len(), 2);
    for (_, decoded, why) in &hostile {
        let error = assert_failed(&run.report, &printable(decoded), &[why]);
        assert!(
            error.contains("refused") || error.contains("not valid"),
            "{error}"
        );
        assert!(
            !error.chars().any(|c| c.is_control()),
            "raw control characters in {error:?}"
        );
        assert!(error.len() < 600, "{} bytes: {error}", error.len());
    }
    assert_eq!(
        folders(&run.report).len(),
        hostile.len() + 1,
        "{}",
        run.report
    );
    assert_eq!(run.report["totals"]["errors"], hostile.len());
    assert!(
        !run.stderr.contains('\x1b') && !run.stderr.contains('\0'),
        "raw control characters reached stderr"
    );
    // The server was never asked to open, create or delete a refused folder.
    for command in ["SELECT", "EXAMINE", "CREATE", "DELETE", "APPEND"] {
        for entry in env.logged(command) {
            assert_eq!(entry.args, "\"Good\"", "{entry:?}");
        }
    }
    // Nothing new outside the maildir root but the state, and in the maildir only Good.
    let after = tree(env.dir.path());
    let maildir = env.maildir();
    let maildir = maildir.strip_prefix(env.dir.path()).unwrap();
    for path in after.difference(&before) {
        let allowed = path.starts_with("state") || path.starts_with(maildir.join("Good"));
        assert!(allowed, "{} was created", path.display());
    }
    assert_eq!(
        tree(dir_for_abs.path()),
        abs_before,
        "the absolute name escaped"
    );
    for path in &after {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !["etc", "b", "abs-escape", "cur", "new"].contains(&name.as_ref())
                || path.starts_with(maildir.join("Good")),
            "{} exists",
            path.display()
        );
    }
}

#[test]
fn a_literal_cut_short_fails_its_folder_and_the_good_one_syncs() {
    let script: Script = Box::new(|req: &Request<'_>, _: &ServerState| {
        if req.command == "UID FETCH" && req.in_folder("Short") && req.mentions("BODY.PEEK[]") {
            // Announces 5000 bytes, sends a few, hangs up.
            Reply::SendAndClose(
                b"* 1 FETCH (UID 1 BODY[] {5000}\r\nFrom: only the start\r\n".to_vec(),
            )
        } else {
            Reply::Default
        }
    });
    let env = Env::new(
        ServerState::new(vec![
            FakeFolder::with_messages("Good", 7, 2),
            FakeFolder::with_messages("Short", 8, 1),
        ]),
        script,
    );
    let run = env.sync(1);
    assert_synced(&run.report, "Good", 2);
    assert_failed(
        &run.report,
        "Short",
        &["UID FETCH BODY.PEEK[]", "closed the connection"],
    );
    assert!(env.near_files("Short").is_empty());
    assert_eq!(env.near_files("Good").len(), 2);
    // A cut connection looks transient: retried, but a bounded number of times.
    let attempts = env
        .logged("UID FETCH")
        .iter()
        .filter(|e| e.selected.as_deref() == Some("Short") && e.args == "1 BODY.PEEK[]")
        .count();
    assert!((1..=5).contains(&attempts), "{attempts} attempts");
}

#[test]
fn a_literal_announcing_gigabytes_fails_its_folder_with_bounded_memory() {
    const STREAM: u64 = 400 << 20;
    let script: Script = Box::new(|req: &Request<'_>, _: &ServerState| {
        if req.command == "UID FETCH" && req.in_folder("Giant") && req.mentions("BODY.PEEK[]") {
            Reply::Stream {
                head: b"* 1 FETCH (UID 1 BODY[] {4000000000}\r\n".to_vec(),
                len: STREAM,
            }
        } else {
            Reply::Default
        }
    });
    let env = Env::new(
        ServerState::new(vec![
            FakeFolder::with_messages("Good", 7, 2),
            FakeFolder::with_messages("Giant", 8, 1),
        ]),
        script,
    );
    let run = env.sync_measured(1);
    let peak = run.peak_rss_kib.unwrap();
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
    assert_synced(&run.report, "Good", 2);
    assert_failed(&run.report, "Giant", &["UID FETCH BODY.PEEK[]", "exceeded"]);
    assert!(env.near_files("Giant").is_empty());
    // mailferry stopped reading and hung up long before the server ran out of filler.
    let streamed = env.server.state().streamed;
    if std::env::var_os("HOSTILE_DEBUG").is_some() {
        eprintln!("streamed: {streamed} bytes");
    }
    assert!(streamed < STREAM / 2, "{streamed} bytes streamed");
    assert_eq!(run.code, 1);
}

/// The canned SELECT answer of `folder`, with `extra` untagged lines first and the
/// EXISTS line left out when `exists` is false.
fn select_answer(
    state: &ServerState,
    folder: &str,
    tag: &str,
    extra: &str,
    exists: bool,
) -> Vec<u8> {
    let f = state.folder(folder).unwrap();
    let exists_line = if exists {
        format!("* {} EXISTS\r\n", f.messages.len())
    } else {
        String::new()
    };
    format!(
        "{extra}* FLAGS (\\Seen)\r\n{exists_line}* OK [UIDVALIDITY {}] ok\r\n* OK [UIDNEXT {}] ok\r\n{tag} OK [READ-WRITE] done\r\n",
        f.uid_validity, f.uid_next
    )
    .into_bytes()
}

#[test]
fn malformed_answers_fail_their_folder_only_and_untagged_warnings_are_harmless() {
    let script: Script = Box::new(|req: &Request<'_>, state: &ServerState| {
        let tag = req.tag;
        let listing = req.command == "FETCH" && req.mentions("RFC822.SIZE");
        match req.command {
            "SELECT" | "EXAMINE" if req.first_arg_is("Warned") => {
                // Legal untagged NO/BAD/BYE among SELECT data (the imap crate's own
                // SELECT parser panics on these).
                Reply::Send(select_answer(
                    state,
                    "Warned",
                    tag,
                    "* NO [ALERT] mind the gap\r\n* BAD [PARSE] that was odd\r\n* BYE not really leaving\r\n",
                    true,
                ))
            }
            "SELECT" | "EXAMINE" if req.first_arg_is("NoExists") => {
                Reply::Send(select_answer(state, "NoExists", tag, "", false))
            }
            "SELECT" | "EXAMINE" if req.first_arg_is("WrongTag") => {
                Reply::Send(select_answer(state, "WrongTag", "zz999", "", true))
            }
            _ if listing && req.in_folder("Garbled") => Reply::Send(
                format!("* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE lots)\r\n{tag} OK done\r\n")
                    .into_bytes(),
            ),
            _ if listing && req.in_folder("Dated") => Reply::Send(
                // imap-proto unwraps the date of an INTERNALDATE and panics on NIL.
                format!("* 1 FETCH (UID 1 INTERNALDATE NIL)\r\n{tag} OK done\r\n").into_bytes(),
            ),
            _ if listing && req.in_folder("Junk") => {
                Reply::Send(format!("this is not IMAP at all\r\n{tag} OK done\r\n").into_bytes())
            }
            _ => Reply::Default,
        }
    });
    let names = [
        "Good", "Warned", "NoExists", "WrongTag", "Garbled", "Dated", "Junk",
    ];
    let env = Env::new(
        ServerState::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| FakeFolder::with_messages(n, 20 + i as u32, 2))
                .collect(),
        ),
        script,
    );
    let run = env.sync(1);
    assert_synced(&run.report, "Good", 2);
    assert_synced(&run.report, "Warned", 2);
    assert_failed(&run.report, "NoExists", &["no EXISTS"]);
    assert_failed(&run.report, "WrongTag", &["tag"]);
    assert_failed(&run.report, "Garbled", &["FETCH", "not valid IMAP"]);
    assert_failed(&run.report, "Dated", &["FETCH", "cannot handle"]);
    assert_failed(&run.report, "Junk", &["FETCH", "not valid IMAP"]);
    assert_eq!(run.report["totals"]["errors"], 5, "{}", run.report);
    for broken in ["NoExists", "WrongTag", "Garbled", "Dated", "Junk"] {
        assert!(env.near_files(broken).is_empty(), "{broken}");
    }
    assert_eq!(env.near_files("Warned").len(), 2);
}

#[test]
fn a_uidvalidity_of_zero_is_refused_and_the_good_folder_syncs() {
    let env = Env::new(
        ServerState::new(vec![
            FakeFolder::with_messages("Good", 7, 2),
            FakeFolder::with_messages("Zero", 0, 2),
        ]),
        fake_imap::sane(),
    );
    for good_downloads in [2, 0] {
        let run = env.sync(1);
        assert_synced(&run.report, "Good", good_downloads);
        assert_failed(
            &run.report,
            "Zero",
            &["UIDVALIDITY", "cannot sync it safely"],
        );
        assert!(env.near_files("Zero").is_empty());
    }
    // Zero was selected, but never listed or fetched.
    assert!(env.logged("SELECT").iter().any(|e| e.args == "\"Zero\""));
    for entry in env.logged("FETCH").iter().chain(&env.logged("UID FETCH")) {
        assert_ne!(entry.selected.as_deref(), Some("Zero"), "{entry:?}");
    }
}

#[test]
fn uids_going_backwards_between_runs_delete_and_duplicate_nothing() {
    let mut renumbered = FakeFolder::new("Renumbered", 42);
    renumbered.uid_next = 10;
    for n in 0..3 {
        renumbered.push(&["\\Seen"], fake_imap::message_body("Renumbered", n));
    }
    let env = Env::new(
        ServerState::new(vec![FakeFolder::with_messages("Good", 7, 2), renumbered]),
        fake_imap::sane(),
    );
    let first = env.sync(0);
    assert_synced(&first.report, "Renumbered", 3);
    let files = env.near_files("Renumbered");
    assert_eq!(files.len(), 3);

    // The server loses its UID records but keeps UIDVALIDITY: UIDs 10..12 become 1..3.
    {
        let mut state = env.server.state();
        let folder = state.folder_mut("Renumbered").unwrap();
        for (i, m) in folder.messages.iter_mut().enumerate() {
            m.uid = i as u32 + 1;
        }
        folder.uid_next = 4;
    }
    let second = env.sync(1);
    assert_synced(&second.report, "Good", 0);
    let error = assert_failed(
        &second.report,
        "Renumbered",
        &["UIDNEXT 4", "UID 12", "backwards"],
    );
    assert!(error.contains("42"), "{error}");
    let f = folder(&second.report, "Renumbered");
    assert_eq!(
        (f["download"].as_u64(), f["delete_near"].as_u64()),
        (Some(0), Some(0)),
        "{f}"
    );
    assert_eq!(env.near_files("Renumbered"), files, "near copies changed");
}

/// A lying listing: its (sequence number, UID) entries, and what the error must say.
type Lie = (&'static [(u32, u32)], &'static [&'static str]);

#[test]
fn self_contradicting_listings_delete_and_duplicate_nothing() {
    // Each folder holds UIDs 1, 2, 3 (UIDNEXT 4); on the second run its listing lies.
    let lies: BTreeMap<&str, Lie> = BTreeMap::from([
        // The same UID twice, UID 2 missing: without the check, a dedup would drop 2
        // and delete its near copy.
        (
            "Dup",
            (&[(1, 1), (2, 1), (3, 3)][..], &["UID 1 follows UID 1"][..]),
        ),
        // Message 2 left out: its near copy would be deleted.
        (
            "Missing",
            (&[(1, 1), (3, 3)][..], &["listed 2 of messages 1 to 3"][..]),
        ),
        // A UID at or above UIDNEXT.
        (
            "Above",
            (&[(1, 1), (2, 2), (3, 9)][..], &["UID 9", "UIDNEXT 4"][..]),
        ),
        // UIDs descending with the sequence numbers.
        (
            "Desc",
            (&[(1, 3), (2, 2), (3, 1)][..], &["UID 2 follows UID 3"][..]),
        ),
        // Two sequence numbers' worth of disagreement about one message.
        (
            "Twice",
            (
                &[(1, 1), (2, 2), (2, 3), (3, 3)][..],
                &["message 2 was listed as UID 2 and as UID 3"][..],
            ),
        ),
    ]);
    let script_lies: BTreeMap<String, Vec<(u32, u32)>> = lies
        .iter()
        .map(|(name, (entries, _))| (name.to_string(), entries.to_vec()))
        .collect();
    let script: Script = Box::new(move |req: &Request<'_>, state: &ServerState| {
        let listing = req.command == "FETCH" && req.mentions("RFC822.SIZE");
        let Some(folder) = req
            .selected
            .map(|s| String::from_utf8_lossy(s).into_owned())
        else {
            return Reply::Default;
        };
        match script_lies.get(&folder) {
            Some(entries) if listing && state.phase == 1 => {
                let size = state.folder(&folder).unwrap().messages[0].body.len();
                let mut answer: String = entries
                    .iter()
                    .map(|(seq, uid)| listing_line(*seq, *uid, size))
                    .collect();
                answer.push_str(&format!("{} OK done\r\n", req.tag));
                Reply::Send(answer.into_bytes())
            }
            _ => Reply::Default,
        }
    });
    let mut listed = vec![FakeFolder::with_messages("Good", 7, 2)];
    for (i, name) in lies.keys().enumerate() {
        listed.push(FakeFolder::with_messages(name, 30 + i as u32, 3));
    }
    let env = Env::new(ServerState::new(listed), script);
    let first = env.sync(0);
    let mut files = BTreeMap::new();
    for name in lies.keys() {
        assert_synced(&first.report, name, 3);
        files.insert(*name, env.near_files(name));
        assert_eq!(files[name].len(), 3);
    }

    env.server.state().phase = 1;
    let second = env.sync(1);
    assert_synced(&second.report, "Good", 0);
    for (name, (_, words)) in &lies {
        assert_failed(&second.report, name, words);
        assert_failed(
            &second.report,
            name,
            &["inconsistent", "not syncing this folder"],
        );
        let f = folder(&second.report, name);
        for count in ["download", "delete_near", "delete_far", "upload"] {
            assert_eq!(f[count], 0, "{name}: {f}");
        }
        assert_eq!(
            &env.near_files(name),
            &files[name],
            "{name}: near copies changed"
        );
    }
    assert_eq!(second.report["totals"]["errors"], lies.len());
}

/// A script for a server with CONDSTORE (no QRESYNC, no LIST-STATUS): STATUS and SELECT
/// report a HIGHESTMODSEQ that moves with the folder's UIDNEXT and the phase; STATUS of
/// `refused` is answered NO; from phase 1 on, `UID FETCH ... (CHANGEDSINCE ...)` in
/// `forgetful` reports nothing at all (a server that forgets its new messages).
fn condstore_script(refused: &'static str, forgetful: &'static str) -> Script {
    Box::new(move |req: &Request<'_>, state: &ServerState| {
        let tag = req.tag;
        let modseq = |name: &str| {
            state
                .folder(name)
                .map_or(1, |f| u64::from(f.uid_next) + 10 * u64::from(state.phase))
        };
        match req.command {
            "STATUS" => {
                let name = String::from_utf8_lossy(req.args[0].bytes()).into_owned();
                if name == refused {
                    return Reply::Send(format!("{tag} NO [NOPERM] not for you\r\n").into_bytes());
                }
                let Some(f) = state.folder(&name) else {
                    return Reply::Send(format!("{tag} NO no such folder\r\n").into_bytes());
                };
                Reply::Send(
                    format!(
                        "* STATUS \"{name}\" (UIDVALIDITY {} UIDNEXT {} MESSAGES {} HIGHESTMODSEQ {})\r\n{tag} OK done\r\n",
                        f.uid_validity,
                        f.uid_next,
                        f.messages.len(),
                        modseq(&name)
                    )
                    .into_bytes(),
                )
            }
            "SELECT" | "EXAMINE" => {
                let name = String::from_utf8_lossy(req.args[0].bytes()).into_owned();
                if state.folder(&name).is_none() {
                    return Reply::Default;
                }
                let extra = format!("* OK [HIGHESTMODSEQ {}] ok\r\n", modseq(&name));
                Reply::Send(select_answer(state, &name, tag, &extra, true))
            }
            "UID FETCH"
                if req.mentions("CHANGEDSINCE") && state.phase >= 1 && req.in_folder(forgetful) =>
            {
                Reply::Send(format!("{tag} OK nothing changed, says the server\r\n").into_bytes())
            }
            _ => Reply::Default,
        }
    })
}

#[test]
fn a_refused_status_only_costs_the_shortcut_and_changes_that_do_not_fit_are_relisted() {
    let mut state = ServerState::new(vec![
        FakeFolder::with_messages("INBOX", 21, 3),
        FakeFolder::with_messages("Private", 22, 2),
    ]);
    state.capabilities = "IMAP4rev1 AUTH=PLAIN UIDPLUS CONDSTORE".to_string();
    let env = Env::new(state, condstore_script("Private", "INBOX"));
    // STATUS of Private is refused: Private is selected and listed like any other
    // folder, and the run succeeds.
    let first = env.sync(0);
    assert_synced(&first.report, "INBOX", 3);
    assert_synced(&first.report, "Private", 2);

    // A new message in INBOX, which the server then leaves out of its list of changes:
    // the rebuilt listing has one message fewer than SELECT's EXISTS, so the folder is
    // listed in full and the message arrives; nothing is deleted anywhere.
    let new_body = env.new_inbox_message(1, 99);
    let before = env.server.log().len();
    let second = env.sync(0);
    assert_synced(&second.report, "INBOX", 1);
    assert_synced(&second.report, "Private", 0);
    assert_eq!(
        second.report["totals"]["delete_near"], 0,
        "{}",
        second.report
    );
    assert_eq!(
        second.report["totals"]["delete_far"], 0,
        "{}",
        second.report
    );
    let inbox: Vec<Logged> = env.server.log()[before..]
        .iter()
        .filter(|entry| entry.selected.as_deref() == Some("INBOX"))
        .cloned()
        .collect();
    let changes_asked = inbox
        .iter()
        .position(|e| e.command == "UID FETCH" && e.args.contains("CHANGEDSINCE"))
        .unwrap_or_else(|| panic!("no CHANGEDSINCE asked: {inbox:?}"));
    assert!(
        inbox[changes_asked..]
            .iter()
            .any(|e| e.command == "FETCH" && e.args.starts_with("1:")),
        "no full listing after the changes: {inbox:?}"
    );
    let expected = env.server_bodies("INBOX");
    assert_eq!(env.near_bodies("INBOX"), expected);
    assert!(expected.contains(&new_body));
    let third = env.sync(0);
    assert_eq!(third.report["totals"]["download"], 0, "{}", third.report);
    assert_eq!(third.report["totals"]["errors"], 0, "{}", third.report);
}

#[test]
fn a_status_refused_or_cut_off_costs_only_the_shortcut() {
    let mut state = ServerState::new(vec![
        FakeFolder::with_messages("INBOX", 41, 6),
        FakeFolder::with_messages("Private", 42, 2),
    ]);
    state.capabilities = "IMAP4rev1 AUTH=PLAIN UIDPLUS CONDSTORE".to_string();
    // The larger folder's STATUS goes first. In phase 1 the server refuses it; in phase 2
    // it closes the connection instead of answering (Private's STATUS, asked after it,
    // is then never answered: that folder is selected instead).
    let inner = condstore_script("none", "none");
    let script: Script = Box::new(move |req: &Request<'_>, state: &ServerState| {
        if req.command == "STATUS" && req.args[0].bytes() == b"INBOX" {
            match state.phase {
                1 => {
                    return Reply::Send(
                        format!("{} NO [UNAVAILABLE] ask later\r\n", req.tag).into_bytes(),
                    );
                }
                2 => return Reply::SendAndClose(b"* BYE going away\r\n".to_vec()),
                _ => {}
            }
        }
        inner(req, state)
    });
    let env = Env::new(state, script);
    let first = env.sync(0);
    assert_synced(&first.report, "INBOX", 6);
    assert_synced(&first.report, "Private", 2);
    for phase in [1, 2] {
        let new_body = env.new_inbox_message(phase, 90 + phase);
        let before = env.server.log().len();
        let run = env.sync(0);
        assert_synced(&run.report, "INBOX", 1);
        assert_synced(&run.report, "Private", 0);
        assert_eq!(run.report["totals"]["errors"], 0, "{}", run.report);
        let log = &env.server.log()[before..];
        let asked: Vec<&str> = log
            .iter()
            .filter(|e| e.command == "STATUS")
            .map(|e| e.args.as_str())
            .collect();
        assert!(
            asked.first().is_some_and(|args| args.contains("INBOX")),
            "phase {phase}: INBOX's STATUS not sent first: {log:?}"
        );
        assert!(
            log.iter()
                .any(|e| e.command == "SELECT" && e.args.contains("INBOX")),
            "phase {phase}: INBOX not selected: {log:?}"
        );
        let expected = env.server_bodies("INBOX");
        assert_eq!(env.near_bodies("INBOX"), expected, "phase {phase}");
        assert!(expected.contains(&new_body), "phase {phase}");
        // INBOX changed on the server, so the next run selects it without asking STATUS
        // first; finding it unchanged lets it rest, and the run after asks again.
        let before = env.server.log().len();
        let run = env.sync(0);
        assert_eq!(run.report["totals"]["download"], 0, "{}", run.report);
        let log = &env.server.log()[before..];
        assert!(
            !log.iter()
                .any(|e| e.command == "STATUS" && e.args.contains("INBOX")),
            "phase {phase}: INBOX asked about right after it changed: {log:?}"
        );
        assert!(
            log.iter()
                .any(|e| e.command == "SELECT" && e.args.contains("INBOX")),
            "phase {phase}: INBOX not selected right after it changed: {log:?}"
        );
    }
}

#[test]
fn a_refused_store_sent_ahead_fails_the_folder_but_new_mail_still_arrives() {
    let mut state = ServerState::new(vec![FakeFolder::with_messages("INBOX", 31, 4)]);
    state.capabilities = "IMAP4rev1 AUTH=PLAIN UIDPLUS".to_string();
    // Flag changes pass; marking messages deleted is refused (a folder the user may
    // read and flag but not delete from). The expunge after it then finds nothing to do.
    let script: Script = Box::new(|req: &Request<'_>, _state: &ServerState| {
        if req.command == "UID STORE" && req.mentions("\\Deleted") {
            return Reply::Send(
                format!("{} NO [NOPERM] no deleting here\r\n", req.tag).into_bytes(),
            );
        }
        Reply::Default
    });
    let env = Env::new(state, script);
    assert_synced(&env.sync(0).report, "INBOX", 4);

    // Near: one message deleted, one flagged. Far: a new message.
    let mut names: Vec<String> = env.near_files("INBOX").into_iter().collect();
    names.sort();
    let inbox = env.maildir().join("INBOX");
    let path_of = |name: &str| {
        ["cur", "new"]
            .iter()
            .map(|sub| inbox.join(sub).join(name))
            .find(|p| p.exists())
            .unwrap()
    };
    let deleted = fs::read(path_of(&names[0])).unwrap();
    fs::remove_file(path_of(&names[0])).unwrap();
    let base = names[1].split(":2,").next().unwrap().to_string();
    fs::rename(
        path_of(&names[1]),
        inbox.join("cur").join(format!("{base}:2,F")),
    )
    .unwrap();
    env.server
        .state()
        .folder_mut("INBOX")
        .unwrap()
        .push(&[], fake_imap::message_body("INBOX", 99));

    let run = env.sync(1);
    let error = assert_failed(&run.report, "INBOX", &["NO", "no deleting here"]);
    assert!(error.contains("UID STORE"), "{error}");
    // The refusal did not hold back the new far message, nor lose anything: the far
    // side still holds the message deleted near (the next run will ask again), and the
    // flag went up.
    let near = env.near_bodies("INBOX");
    assert!(
        near.contains(&fake_imap::message_body("INBOX", 99)),
        "new mail held back"
    );
    let far = env.server_bodies("INBOX");
    assert!(
        far.contains(&deleted),
        "the refused deletion still removed the message"
    );
    assert_eq!(far.len(), 5);
    let state = env.server.state();
    let flagged = state
        .folder("INBOX")
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.flags.iter().any(|f| f == "\\Flagged"))
        .count();
    assert_eq!(
        flagged, 1,
        "the flag store sent ahead of the refused one went through"
    );
}
