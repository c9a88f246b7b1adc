//! Network faults between mailferry and a real Dovecot, injected by the test proxy
//! (`support::proxy`): a stall ends in a timeout error instead of a hang; transient cuts
//! (mid-FETCH, mid-APPEND, during login and listing) are retried and the run converges; a
//! persistent cut fails that folder alone, and once the network heals the next run
//! converges with no duplicate on either side, an APPEND whose reply was lost included.

use super::sync::{Env, assert_nothing_planned, folder_report, small_corpus, write_near};
use crate::support::dovecot::DovecotOptions;
use crate::support::proxy::{Command, Dir, Fault, Proxy};
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// No run in these tests may take longer than this; a hang fails the test instead.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Rewrites the env's config with this account body (everything under
/// `[account.test]`) and extra channel keys.
pub(super) fn write_config(env: &Env, account: &str, channel_extra: &str) {
    let config = format!(
        r#"[general]
state_dir = "{state}"
jobs = 3

[account.test]
{account}

[channel.test]
account = "test"
maildir = "{maildir}"
layout = "{layout}"
{channel_extra}
"#,
        state = env.state_dir().display(),
        maildir = env.maildir().display(),
        layout = env.layout,
    );
    fs::write(env.config(), config).unwrap();
    let mut perms = fs::metadata(env.config()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    fs::set_permissions(env.config(), perms).unwrap();
}

/// An account reaching Dovecot's plain port through `port` (the proxy) without TLS, so
/// the proxy can read the commands; loopback, so mailferry allows it. timeout = 2.
pub(super) fn plain_account(env: &Env, port: u16) -> String {
    format!(
        r#"host = "127.0.0.1"
port = {port}
tls = "none"
user = "{user}"
password = "{password}"
connections = 3
timeout = 2"#,
        user = env.dovecot.user(),
        password = env.dovecot.password(),
    )
}

/// A finished mailferry run.
pub(super) struct Run {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) elapsed: Duration,
}

impl Run {
    /// The JSON report on stdout.
    pub(super) fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("report is not JSON: {e}\n{self}"))
    }

    /// Panics unless neither output holds `secret`.
    pub(super) fn assert_hides(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "a secret leaked into the output:\n{self}"
        );
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\nstdout: {}\nstderr: {}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs mailferry with the env's config and `args`, killing it (and failing the test) if
/// it is still running after [`RUN_LIMIT`].
pub(super) fn run_bounded(env: &Env, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = env
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        // A bounded poll for the child to exit.
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed: started.elapsed(),
    };
    assert!(
        status.is_some(),
        "mailferry {args:?} hung: killed after {RUN_LIMIT:?}\n{run}"
    );
    run
}

/// `sync --json ARGS`, bounded; asserts the exit code and that the password stayed hidden.
fn sync(env: &Env, args: &[&str], expected_code: i32) -> Run {
    let mut all = vec!["sync", "--json"];
    all.extend_from_slice(args);
    let run = run_bounded(env, &all);
    assert_eq!(run.code, Some(expected_code), "mailferry {all:?}: {run}");
    run.assert_hides(env.dovecot.password());
    run
}

/// A Dovecot seeded with [`small_corpus`] (INBOX and Archive, 12 each), reached through
/// a proxy that lets everything pass until told otherwise.
fn faulty_env() -> (Env, Proxy) {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    let proxy = Proxy::start(env.dovecot.imap_port());
    write_config(&env, &plain_account(&env, proxy.port()), "");
    (env, proxy)
}

/// Three near-only messages in a near folder (created if missing), in new/.
fn near_only_messages(env: &Env, folder: &str, first: u32) {
    let dir = env.near_dir(folder);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for n in first..first + 3 {
        write_near(&dir, "new", &format!("1800000{n}.M{n}P1.testhost"), n);
    }
}

#[test]
fn a_stall_ends_in_a_timeout_error_not_a_hang() {
    let (env, proxy) = faulty_env();
    // Whenever Archive is selected, the server falls silent (for longer than timeout = 2).
    proxy.always(Fault::StallOn(Command::in_folder("Archive", "SELECT")));
    let run = sync(&env, &[], 1);
    let report = run.report();
    let archive = folder_report(&report, "Archive");
    assert_eq!(archive["status"], "error", "{run}");
    let error = archive["error"].as_str().unwrap();
    assert!(
        error.contains("timed out"),
        "the error must say so: {error}"
    );
    let stalls = proxy.count("StallOn");
    assert!(stalls >= 2, "a timeout is retried: {:?}", proxy.fired());
    assert!(
        run.elapsed >= Duration::from_secs(2 * stalls as u64),
        "each stalled attempt waits out the timeout: {run}"
    );
    assert_eq!(folder_report(&report, "INBOX")["status"], "ok", "{run}");
    assert_eq!(env.assert_converged("INBOX"), 12);

    proxy.heal();
    sync(&env, &[], 0);
    assert_eq!(env.assert_converged("Archive"), 12);
    assert_eq!(env.assert_converged("INBOX"), 12);
}

#[test]
fn transient_cuts_mid_fetch_and_mid_append_are_retried_and_converge() {
    let (env, proxy) = faulty_env();
    near_only_messages(&env, "INBOX", 300);
    // Once each: the Archive download is cut in its fifth body, an INBOX upload halfway
    // through the message.
    proxy.times(
        1,
        Fault::CutMidLiteral {
            dir: Dir::ServerToClient,
            on: Command::in_folder("Archive", "BODY.PEEK[]"),
            nth: 4,
        },
    );
    proxy.times(
        1,
        Fault::CutMidLiteral {
            dir: Dir::ClientToServer,
            on: Command::any("APPEND"),
            nth: 0,
        },
    );
    let run = sync(&env, &[], 0);
    assert_eq!(
        proxy.count("cut mid-literal server->client"),
        1,
        "{:?}",
        proxy.fired()
    );
    assert_eq!(
        proxy.count("cut mid-literal client->server"),
        1,
        "{:?}",
        proxy.fired()
    );
    assert!(run.stderr.contains("retrying"), "{run}");
    assert_eq!(env.assert_converged("INBOX"), 15);
    assert_eq!(env.assert_converged("Archive"), 12);
    assert_nothing_planned(&sync(&env, &[], 0).report());
}

#[test]
fn a_persistent_cut_fails_that_folder_alone_and_the_healed_run_converges() {
    let (env, proxy) = faulty_env();
    near_only_messages(&env, "Notes", 400);
    // Every Archive download is cut in its first body; every APPEND to Notes reaches the
    // server but its tagged reply (with the new UIDs) is lost.
    proxy.always(Fault::CutMidLiteral {
        dir: Dir::ServerToClient,
        on: Command::in_folder("Archive", "BODY.PEEK[]"),
        nth: 0,
    });
    proxy.always(Fault::LoseReply(Command::any("APPEND \"Notes\"")));
    let run = sync(&env, &[], 1);
    let report = run.report();
    assert_eq!(
        folder_report(&report, "Archive")["status"],
        "error",
        "{run}"
    );
    for fine in ["INBOX", "Notes"] {
        assert_eq!(
            folder_report(&report, fine)["status"],
            "ok",
            "{fine}: {run}"
        );
    }
    assert_eq!(report["totals"]["errors"], 1, "{run}");
    assert_eq!(env.assert_converged("INBOX"), 12);
    // One APPEND carried Notes' three messages (MULTIAPPEND) and its reply was lost: the
    // retry paired the three copies by Message-ID instead of appending them again (`far`
    // fails on a duplicate), and needed no APPEND of its own.
    assert_eq!(proxy.count("swallowed the reply"), 1, "{:?}", proxy.fired());
    assert_eq!(env.assert_converged("Notes"), 3);

    proxy.heal();
    sync(&env, &[], 0);
    assert_eq!(env.assert_converged("INBOX"), 12);
    assert_eq!(env.assert_converged("Archive"), 12);
    assert_eq!(env.assert_converged("Notes"), 3);
    assert_nothing_planned(&sync(&env, &[], 0).report());
}

#[test]
fn cuts_during_the_tls_handshake_login_and_listing_are_retried() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    let proxy = Proxy::start(env.dovecot.imaps_port());
    let account = format!(
        r#"host = "localhost"
port = {port}
tls = "implicit"
ca_file = "{ca}"
user = "{user}"
password = "{password}"
connections = 3
timeout = 2"#,
        port = proxy.port(),
        ca = env.dovecot.ca_file().display(),
        user = env.dovecot.user(),
        password = env.dovecot.password(),
    );
    write_config(&env, &account, "");
    // The first connection of each run is the one that logs in and lists the folders;
    // over TLS the proxy sees only bytes, so the cuts are placed by count: 100 bytes in
    // either direction is inside the handshake, the others around the greeting,
    // CAPABILITY and login.
    let cuts = [
        (Dir::ServerToClient, 100),
        (Dir::ClientToServer, 100),
        (Dir::ServerToClient, 1200),
        (Dir::ClientToServer, 600),
        (Dir::ServerToClient, 1800),
    ];
    for (i, (dir, bytes)) in cuts.into_iter().enumerate() {
        // New mail each run, so each run has work after its retry.
        let n = 500 + i as u32;
        env.dovecot
            .append(
                "INBOX",
                &crate::support::corpus::message("INBOX", n, &[]).bytes,
                &[],
            )
            .unwrap();
        proxy.heal();
        proxy.times(1, Fault::CutAfter { dir, bytes });
        let run = sync(&env, &[], 0);
        assert_eq!(
            proxy.count(&format!("cut: CutAfter {{ dir: {dir:?}, bytes: {bytes} }}")),
            1,
            "{:?}",
            proxy.fired()
        );
        assert!(run.stderr.contains("retrying"), "{dir:?} {bytes}: {run}");
        if bytes == 100 {
            assert!(
                run.stderr.contains("listing folders")
                    && run.stderr.contains("during the handshake"),
                "{dir:?} {bytes}: {run}"
            );
        }
        assert_eq!(env.assert_converged("INBOX"), 12 + i + 1);
    }
    assert_eq!(env.assert_converged("Archive"), 12);
}
