//! `mailferry list`, `status` and `check` end to end against a private Dovecot: the
//! pairs and counts after a sync with folders on one side only, the status from the
//! state with the server stopped, and check on a good account, a wrong password and an
//! untrusted certificate.

use super::sync::{Env, small_corpus, snapshot_tree, write_near};
use crate::support::corpus;
use crate::support::dovecot::DovecotOptions;
use mailferry::model::{FarUid, NearId};
use mailferry::state::Record;
use mailferry::state::store::ChannelStateDir;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// stdout and stderr of a run, after checking neither holds the password.
fn texts(out: &Output, password: &str) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(password) && !stderr.contains(password),
        "the password leaked into the output:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The words of the table row whose first column is `first`.
fn row(table: &str, first: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|words| words.first().is_some_and(|w| w == first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{table}"))
}

/// The step lines of a `check` report, step name -> result.
fn parse_steps(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((name, result)) => (name.to_string(), result.trim().to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect()
}

fn step<'a>(steps: &'a [(String, String)], name: &str) -> &'a str {
    steps
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, result)| result.as_str())
        .unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

#[test]
fn list_shows_every_pair_with_both_counts_and_marks_one_sided_folders() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    // After the sync: one more message near in INBOX, a folder only on the server, and
    // one only in the maildir.
    write_near(&env.near_dir("INBOX"), "new", "1700000000.extra.host", 900);
    env.seed(&[
        corpus::message("OnlyFar", 901, &[]),
        corpus::message("OnlyFar", 902, &["\\Seen"]),
    ]);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(env.near_dir("OnlyNear").join(sub)).unwrap();
    }
    write_near(
        &env.near_dir("OnlyNear"),
        "cur",
        "1700000001.near.host:2,S",
        903,
    );
    let before = (
        snapshot_tree(&env.maildir()),
        snapshot_tree(&env.state_dir()),
    );

    let out = env.run(&["list"]);
    let (stdout, stderr) = texts(&out, env.dovecot.password());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        row(&stdout, "FAR"),
        [
            "FAR", "NEAR", "ON", "FAR", "ON", "NEAR", "FAR", "MSGS", "NEAR", "MSGS", "NOTE"
        ]
    );
    assert_eq!(
        row(&stdout, "INBOX"),
        ["INBOX", "INBOX", "yes", "yes", "12", "13"]
    );
    assert_eq!(
        row(&stdout, "Archive"),
        ["Archive", "Archive", "yes", "yes", "12", "12"]
    );
    assert_eq!(
        row(&stdout, "OnlyFar")[..6],
        ["OnlyFar", "OnlyFar", "yes", "no", "2", "-"]
    );
    assert_eq!(
        row(&stdout, "OnlyNear")[..6],
        ["OnlyNear", "OnlyNear", "no", "yes", "-", "1"]
    );
    assert!(
        stdout.contains("new on the far side") && stdout.contains("new on the near side"),
        "{stdout}"
    );
    let rows = stdout
        .lines()
        .skip_while(|l| !l.starts_with("FAR "))
        .skip(1)
        .count();
    assert_eq!(rows, 4, "one row per pair:\n{stdout}");
    assert_eq!(
        (
            snapshot_tree(&env.maildir()),
            snapshot_tree(&env.state_dir())
        ),
        before,
        "list changes nothing"
    );

    // The same listing for the channel by name; an unknown channel is a usage error.
    let named = env.run(&["list", "test"]);
    assert_eq!(named.stdout, out.stdout);
    let unknown = env.run(&["list", "nosuchchannel"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nosuchchannel"));
}

#[test]
fn list_in_maildir_plus_plus_from_a_prefixed_server_shows_near_paths() {
    let env = Env::new(
        DovecotOptions {
            fs_layout: false,
            inbox_prefix: true,
            ..DovecotOptions::default()
        },
        "maildir++",
    );
    env.seed(&small_corpus());
    env.seed(&[corpus::message("Lists/rust", 904, &[])]);
    env.sync(&[], 0);
    let out = env.run(&["list"]);
    let (stdout, stderr) = texts(&out, env.dovecot.password());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        row(&stdout, "INBOX"),
        ["INBOX", ".", "yes", "yes", "12", "12"]
    );
    assert_eq!(
        row(&stdout, "Archive"),
        ["Archive", ".Archive", "yes", "yes", "12", "12"]
    );
    assert_eq!(
        row(&stdout, "Lists/rust"),
        ["Lists/rust", ".Lists.rust", "yes", "yes", "1", "1"]
    );
}

/// Runs the real binary with a config, outside any [`Env`].
fn run_with(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("MAILFERRY_CONFIG")
        .env_remove("MAILFERRY_FAILPOINT")
        .output()
        .unwrap()
}

#[test]
fn status_reads_the_state_alone_with_the_server_stopped() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    // Archive's maildir vanishes: the guard holds its 12 deletions back, an error.
    fs::remove_dir_all(env.near_dir("Archive")).unwrap();
    let report = env.sync(&[], 1);
    assert_eq!(report["totals"]["errors"], 1, "{report}");
    // A run interrupted in INBOX left its journal behind.
    let state = ChannelStateDir::new(&env.state_dir(), "test");
    state
        .journal("INBOX")
        .unwrap()
        .write(&Record::IntendDownload {
            uid: FarUid(99),
            near_id: NearId("1700000002.pending.host".into()),
        })
        .unwrap();
    let password = env.dovecot.password().to_string();

    let Env { dovecot, dir, .. } = env;
    drop(dovecot);
    let config = dir.path().join("config.toml");
    let server_down = run_with(&config, &["sync", "--json"]);
    assert_eq!(server_down.status.code(), Some(1), "the server is down");
    let state_before = snapshot_tree(&dir.path().join("state"));

    let out = run_with(&config, &["status"]);
    let (stdout, stderr) = texts(&out, &password);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let inbox = row(&stdout, "INBOX");
    assert_eq!(inbox.len(), 5, "{stdout}");
    assert_eq!(inbox[2].len(), "2024-01-01T00:00:00Z".len(), "{stdout}");
    assert!(
        inbox[2].ends_with('Z') && inbox[2].chars().nth(10) == Some('T'),
        "{stdout}"
    );
    assert_eq!(inbox[3..], ["12", "-"], "{stdout}");
    let archive = row(&stdout, "Archive");
    assert_eq!(archive[3], "12", "the held-back pairs are kept: {stdout}");
    let archive_line = stdout
        .lines()
        .find(|l| l.starts_with("Archive "))
        .unwrap_or_default();
    assert!(archive_line.contains("--force"), "{stdout}");
    assert!(
        stdout.contains("note: test: INBOX: a journal is pending"),
        "{stdout}"
    );
    assert!(!stdout.contains("note: test: Archive"), "{stdout}");
    assert_eq!(
        snapshot_tree(&dir.path().join("state")),
        state_before,
        "status replays nothing and writes nothing"
    );

    let unknown = run_with(&config, &["status", "nosuchchannel"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nosuchchannel"));
}

#[test]
fn status_of_a_channel_never_synced_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "[general]\nstate_dir = \"{}\"\n\n[account.a]\nhost = \"localhost\"\nport = 1\ntls = \"none\"\nuser = \"u\"\npassword = \"secret-never-shown\"\n\n[channel.c]\naccount = \"a\"\nmaildir = \"{}\"\n",
            dir.path().join("state").display(),
            dir.path().join("Mail").display()
        ),
    )
    .unwrap();
    let out = run_with(&config, &["status"]);
    let (stdout, stderr) = texts(&out, "secret-never-shown");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("channel c:") && stdout.contains("never synced"),
        "{stdout}"
    );
}

#[test]
fn check_reports_certificate_login_and_capabilities_of_a_good_account() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let out = env.run(&["check"]);
    let (stdout, stderr) = texts(&out, env.dovecot.password());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let steps = parse_steps(&stdout);
    assert!(step(&steps, "config").starts_with("OK"), "{stdout}");
    assert!(step(&steps, "address").contains("127.0.0.1"), "{stdout}");
    assert!(step(&steps, "tls").starts_with("implicit"), "{stdout}");
    assert_eq!(
        step(&steps, "certificate"),
        "subject CN=localhost",
        "{stdout}"
    );
    assert_eq!(
        step(&steps, "login"),
        format!("OK as {}", env.dovecot.user()),
        "{stdout}"
    );
    for cap in [
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
        "LIST-STATUS",
        "IDLE",
    ] {
        assert_eq!(step(&steps, cap), "yes", "{cap}: {stdout}");
    }
    assert!(
        ["yes", "no"].contains(&step(&steps, "SPECIAL-USE")),
        "{stdout}"
    );
    assert_eq!(step(&steps, "result"), "OK", "{stdout}");

    // The same over STARTTLS on the plain port.
    let config = fs::read_to_string(env.config())
        .unwrap()
        .replace(
            &format!("port = {}", env.dovecot.imaps_port()),
            &format!("port = {}", env.dovecot.imap_port()),
        )
        .replace("tls = \"implicit\"", "tls = \"starttls\"");
    fs::write(env.config(), config).unwrap();
    let out = env.run(&["check"]);
    let (stdout, stderr) = texts(&out, env.dovecot.password());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let steps = parse_steps(&stdout);
    assert!(step(&steps, "tls").starts_with("starttls"), "{stdout}");
    assert_eq!(
        step(&steps, "certificate"),
        "subject CN=localhost",
        "{stdout}"
    );
    assert!(step(&steps, "login").starts_with("OK"), "{stdout}");

    // The capabilities are the server's: one without UIDPLUS, MOVE and QRESYNC says so.
    let reduced = Env::new(
        DovecotOptions {
            capabilities: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE CONDSTORE".to_string()),
            ..DovecotOptions::default()
        },
        "verbatim",
    );
    let out = reduced.run(&["check", "test"]);
    let (stdout, stderr) = texts(&out, reduced.dovecot.password());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let steps = parse_steps(&stdout);
    for (cap, expected) in [
        ("UIDPLUS", "no"),
        ("MOVE", "no"),
        ("QRESYNC", "no"),
        ("CONDSTORE", "yes"),
        ("IDLE", "yes"),
    ] {
        assert_eq!(step(&steps, cap), expected, "{cap}: {stdout}");
    }
}

#[test]
fn check_with_a_wrong_password_says_the_login_was_refused() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let wrong = "wrong-Pa55word-xyz";
    let config = fs::read_to_string(env.config()).unwrap().replace(
        &format!("password = \"{}\"", env.dovecot.password()),
        &format!("password = \"{wrong}\""),
    );
    assert!(config.contains(wrong));
    fs::write(env.config(), config).unwrap();
    let out = env.run(&["check"]);
    let (stdout, stderr) = texts(&out, wrong);
    assert!(
        !stdout.contains(env.dovecot.password()) && !stderr.contains(env.dovecot.password()),
        "{stdout}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let steps = parse_steps(&stdout);
    assert_eq!(
        step(&steps, "certificate"),
        "subject CN=localhost",
        "{stdout}"
    );
    let login = step(&steps, "login");
    assert!(
        login.starts_with("FAILED") && login.contains("refused"),
        "{stdout}"
    );
    assert!(
        !steps.iter().any(|(name, _)| name == "UIDPLUS"),
        "no capabilities without a login: {stdout}"
    );
    assert!(
        stderr.contains("login") && stderr.contains("refused"),
        "{stderr}"
    );
}

#[test]
fn check_without_ca_file_says_the_certificate_is_not_trusted() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    let config = fs::read_to_string(env.config()).unwrap();
    let without_ca: String = config
        .lines()
        .filter(|line| !line.starts_with("ca_file"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without_ca, config);
    fs::write(env.config(), without_ca).unwrap();
    let out = env.run(&["check"]);
    let (stdout, stderr) = texts(&out, env.dovecot.password());
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let steps = parse_steps(&stdout);
    let certificate = step(&steps, "certificate");
    assert!(
        certificate.starts_with("FAILED") && certificate.contains("not trusted"),
        "{stdout}"
    );
    assert!(certificate.contains("CN=localhost"), "{stdout}");
    assert!(
        !steps.iter().any(|(name, _)| name == "login"),
        "no login over an untrusted connection: {stdout}"
    );
    assert!(stderr.contains("not trusted"), "{stderr}");
}

#[test]
fn list_paths_prints_one_existing_near_folder_per_line_for_neomutt() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&super::sync::small_corpus());
    env.sync(&[], 0);
    let out = env.run(&["list", "--paths", "test"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert!(std::path::Path::new(line).join("cur").is_dir(), "{line}");
    }
    assert!(lines.iter().any(|l| l.ends_with("/Archive")), "{text}");
}
