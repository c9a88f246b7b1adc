//! TLS and secrets: untrusted, expired and wrong-host certificates are refused, each with
//! an error saying which; STARTTLS is never downgraded to plaintext; plaintext to a
//! non-loopback host needs `allow_plaintext`; a readable config holding a password draws a
//! warning; and no password appears in any output, at any verbosity, in any error.

use super::faults::{Run, run_bounded, write_config};
use super::sync::{Env, folder_report, small_corpus, write_near};
use crate::support::corpus;
use crate::support::dovecot::{DovecotOptions, ServerTls};
use crate::support::proxy::{Dir, Proxy};
use std::fs;
use std::os::unix::fs::PermissionsExt;

/// An empty Dovecot with this TLS set-up, and a config for it (rewritten by each test).
fn env_with(tls: ServerTls) -> Env {
    Env::new(
        DovecotOptions {
            tls,
            ..DovecotOptions::default()
        },
        "verbatim",
    )
}

/// `[account.test]` keys: host, port and tls as given, the env's user and password,
/// timeout = 5, plus `extra` lines.
fn account(env: &Env, host: &str, port: u16, tls: &str, extra: &str) -> String {
    format!(
        "host = \"{host}\"\nport = {port}\ntls = \"{tls}\"\nuser = \"{}\"\npassword = \"{}\"\ntimeout = 5\n{extra}",
        env.dovecot.user(),
        env.dovecot.password(),
    )
}

fn ca_line(env: &Env) -> String {
    format!("ca_file = \"{}\"", env.dovecot.ca_file().display())
}

/// `sync --json` that must fail with exit 1 at the channel level; the channel's error.
fn channel_error(env: &Env) -> (String, Run) {
    let run = run_bounded(env, &["sync", "--json"]);
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_hides(env.dovecot.password());
    let report = run.report();
    let error = folder_report(&report, "*")["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no channel error: {run}"))
        .to_string();
    (error, run)
}

#[test]
fn untrusted_expired_and_wrong_host_certificates_are_refused_each_saying_which() {
    // What each refusal must say, and what it must not (so the three can be told apart).
    let cases = [
        (ServerTls::Good, false, "not trusted"),
        (ServerTls::Expired, true, "expired"),
        (ServerTls::WrongHost, true, "not valid for localhost"),
    ];
    for (tls, trust_it, says) in cases {
        let env = env_with(tls);
        let ca = if trust_it {
            ca_line(&env)
        } else {
            String::new()
        };
        let imaps = env.dovecot.imaps_port();
        write_config(
            &env,
            &account(&env, "localhost", imaps, "implicit", &ca),
            "",
        );
        let (error, run) = channel_error(&env);
        assert!(error.contains(says), "{tls:?}: {error}");
        for (_, _, other) in cases.iter().filter(|(_, _, o)| *o != says) {
            assert!(
                !error.contains(other),
                "{tls:?} also says {other:?}: {error}"
            );
        }
        assert!(
            !run.stderr.contains("retrying"),
            "{tls:?}: a certificate problem is not retried: {run}"
        );
        assert!(!env.maildir().exists(), "{tls:?}: nothing synced");
    }
}

#[test]
fn starttls_is_refused_when_the_server_does_not_offer_it() {
    let env = env_with(ServerTls::Off);
    // The premise: this server's plain port does not offer STARTTLS.
    let tcp = std::net::TcpStream::connect(("127.0.0.1", env.dovecot.imap_port())).unwrap();
    let greeting = imap::Client::new(tcp).read_greeting().unwrap();
    let greeting = String::from_utf8_lossy(&greeting).into_owned();
    assert!(greeting.contains("CAPABILITY"), "{greeting}");
    assert!(!greeting.contains("STARTTLS"), "{greeting}");

    let proxy = Proxy::start(env.dovecot.imap_port());
    write_config(
        &env,
        &account(&env, "localhost", proxy.port(), "starttls", ""),
        "",
    );
    let (error, run) = channel_error(&env);
    assert!(error.contains("does not offer STARTTLS"), "{error}");
    // No plaintext fallback: no credentials ever went over the wire.
    let sent = String::from_utf8_lossy(&proxy.transcript(Dir::ClientToServer)).to_uppercase();
    assert!(sent.contains("CAPABILITY"), "{sent}");
    for word in [
        "LOGIN",
        "AUTHENTICATE",
        &env.dovecot.password().to_uppercase(),
    ] {
        assert!(
            !sent.contains(word),
            "{word} was sent in plaintext: {sent}\n{run}"
        );
    }
}

#[test]
fn plaintext_to_a_host_that_is_not_loopback_needs_allow_plaintext() {
    let env = env_with(ServerTls::Good);
    env.seed(&small_corpus()[..2]);
    let port = env.dovecot.imap_port();
    // A remote name, and 0.0.0.0: not loopback by address, though Linux connects it to
    // this machine, so the allowed case can run without a network.
    for host in ["imap.example.org", "0.0.0.0"] {
        write_config(&env, &account(&env, host, port, "none", ""), "");
        for args in [&["sync"][..], &["sync", "--dry-run", "--json"]] {
            let run = run_bounded(&env, args);
            assert_eq!(run.code, Some(2), "{host} {args:?}: {run}");
            let config = env.config().display().to_string();
            for needle in [&config[..], "account.test.tls", "allow_plaintext"] {
                assert!(run.stderr.contains(needle), "{host}: {needle}: {run}");
            }
            assert!(run.stdout.is_empty(), "{run}");
            run.assert_hides(env.dovecot.password());
        }
        assert!(!env.state_dir().exists(), "nothing ran");
    }
    write_config(
        &env,
        &account(&env, "0.0.0.0", port, "none", "allow_plaintext = true"),
        "",
    );
    let run = run_bounded(&env, &["sync", "--json"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.assert_converged("INBOX"), 2);
}

#[test]
fn a_config_holding_a_password_readable_by_others_draws_a_warning() {
    let env = env_with(ServerTls::Good);
    let imaps = env.dovecot.imaps_port();
    let with_password = account(&env, "localhost", imaps, "implicit", &ca_line(&env));
    let secret_file = env.dir.path().join("secret");
    fs::write(&secret_file, format!("{}\n", env.dovecot.password())).unwrap();
    let with_pass_cmd = with_password.replace(
        &format!("password = \"{}\"", env.dovecot.password()),
        &format!("pass_cmd = \"cat {}\"", secret_file.display()),
    );
    assert_ne!(with_password, with_pass_cmd);
    let config = env.config().display().to_string();
    for (account, mode, warns) in [
        (&with_password, 0o644, true),
        (&with_password, 0o640, true),
        (&with_password, 0o604, true),
        (&with_password, 0o600, false),
        (&with_password, 0o400, false),
        (&with_pass_cmd, 0o644, false),
    ] {
        write_config(&env, account, "");
        fs::set_permissions(env.config(), fs::Permissions::from_mode(mode)).unwrap();
        let run = run_bounded(&env, &["sync", "--dry-run"]);
        assert_eq!(run.code, Some(0), "{mode:o}: {run}");
        run.assert_hides(env.dovecot.password());
        let warned = run
            .stderr
            .lines()
            .any(|l| l.contains("warning") && l.contains(&config) && l.contains("chmod 600"));
        assert_eq!(warned, warns, "mode {mode:o}: {run}");
    }
}

#[test]
fn no_secret_appears_in_any_output_at_any_verbosity() {
    let env = env_with(ServerTls::Good);
    env.seed(&small_corpus());
    let password = env.dovecot.password().to_string();
    let imaps = env.dovecot.imaps_port();
    let good = account(&env, "localhost", imaps, "implicit", &ca_line(&env));
    let secret_file = env.dir.path().join("secret");
    fs::write(&secret_file, format!("{password}\n")).unwrap();
    let by_command = good.replace(
        &format!("password = \"{password}\""),
        &format!("pass_cmd = \"cat {}\"", secret_file.display()),
    );
    let wrong_password = "Wr0ng-Pa55-for-the-test";
    let wrong = good.replace(&password, wrong_password);
    // The command prints the password, then fails: its output must not be shown.
    let failing_command = by_command.replace(
        &format!("cat {}\"", secret_file.display()),
        &format!("cat {}; exit 3\"", secret_file.display()),
    );
    assert!(failing_command.contains("; exit 3\""), "{failing_command}");

    let verbosities: [&[&str]; 5] = [&["-q"], &[], &["-v"], &["-vv"], &["-vvv"]];
    let mut n = 600;
    let mut runs = 0;
    for verbosity in verbosities {
        // The JSON report at both ends of the scale, the human summary at every level.
        let jsons: &[bool] = match verbosity {
            ["-q"] | ["-vvv"] => &[false, true],
            _ => &[false],
        };
        for &json in jsons {
            let mut args: Vec<&str> = verbosity.to_vec();
            args.push("sync");
            if json {
                args.push("--json");
            }
            for (config, code, says) in [
                (&good, 0, ""),
                (&by_command, 0, ""),
                (&wrong, 1, "refused"),
                (&failing_command, 1, "pass_cmd"),
            ] {
                // Something to do both ways, so -vv has message lines to print.
                n += 1;
                env.dovecot
                    .append("INBOX", &corpus::message("INBOX", n, &[]).bytes, &[])
                    .unwrap();
                n += 1;
                let name = format!("1900000{n}.M{n}P1.testhost");
                write_near(&env.near_dir("INBOX"), "new", &name, n);
                write_config(&env, config, "");
                let run = run_bounded(&env, &args);
                assert_eq!(run.code, Some(code), "{args:?}: {run}");
                run.assert_hides(&password);
                run.assert_hides(wrong_password);
                // Errors show even with -q: the failure was the one meant.
                assert!(run.stderr.contains(says), "{args:?}: {run}");
                // Each level printed what it promises (so its lines were checked too).
                if code == 0 && verbosity.first().is_some_and(|v| v.starts_with("-vv")) {
                    assert!(run.stderr.contains("downloaded UID"), "{args:?}: {run}");
                    assert!(run.stderr.contains("uploaded"), "{args:?}: {run}");
                }
                if verbosity == ["-q"] && !json {
                    assert!(run.stdout.is_empty(), "{args:?}: {run}");
                }
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 28);
    // The successful runs did sync: the last one's changes are on both sides.
    write_config(&env, &good, "");
    let run = run_bounded(&env, &["sync"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.assert_converged("INBOX"), 12 + (n as usize - 600));
}

/// Standard base64 with padding, for the forms an `AUTHENTICATE PLAIN` payload takes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut b = [0u8; 3];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_vvv_trace_shows_the_conversation_but_no_credentials_with_plain_or_login() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fo"), "Zm8=");
    // Dovecot's LOGIN command needs its PLAIN mechanism, so the LOGIN path is forced by
    // a proxy hiding AUTH=PLAIN from the client (plaintext on loopback).
    for (mechanisms, login_line) in [("plain", "AUTHENTICATE PLAIN"), ("login", "LOGIN <masked>")] {
        let env = env_with(ServerTls::Good);
        let proxy = Proxy::start(env.dovecot.imap_port());
        if mechanisms == "login" {
            proxy.rewrite_replies("AUTH=PLAIN", "AUTH=XXXXX");
            write_config(
                &env,
                &account(&env, "localhost", proxy.port(), "none", ""),
                "",
            );
        }
        env.seed(&small_corpus()[..3]);
        write_near(
            &env.near_dir("INBOX"),
            "new",
            "1900000001.M1P1.testhost",
            900,
        );
        let run = run_bounded(&env, &["-vvv", "sync"]);
        assert_eq!(run.code, Some(0), "{mechanisms}: {run}");
        let password = env.dovecot.password();
        let user = env.dovecot.user();
        run.assert_hides(password);
        for payload in [
            format!("\0{user}\0{password}"),
            format!("{user}\0{user}\0{password}"),
        ] {
            run.assert_hides(&base64(payload.as_bytes()));
        }
        // The conversation is there, both ways, with the login step masked.
        for needle in [" C: ", " S: ", "SELECT", login_line, "<masked>"] {
            assert!(
                run.stderr.contains(needle),
                "{mechanisms}: no {needle:?}: {run}"
            );
        }
        if mechanisms == "login" {
            assert!(!run.stderr.contains("AUTHENTICATE"), "{run}");
        } else {
            assert!(run.stderr.contains("(AUTHENTICATE response)"), "{run}");
        }
        // Bodies went both ways (a download, an upload) but only as sizes.
        assert!(run.stderr.contains("APPEND"), "{run}");
        assert!(run.stderr.contains(" bytes>"), "{run}");
        assert!(
            !run.stderr.contains("Subject:"),
            "a message was dumped: {run}"
        );
        assert!(
            !run.stdout.contains(" C: "),
            "the trace goes to stderr: {run}"
        );
        assert_eq!(env.assert_converged("INBOX"), 4);
        if mechanisms == "login" {
            // The premise: the proxy carried the session, and the client saw no AUTH=PLAIN.
            let sent = String::from_utf8_lossy(&proxy.transcript(Dir::ClientToServer)).into_owned();
            assert!(sent.contains(" LOGIN "), "{sent}");
            assert!(run.stderr.contains("AUTH=XXXXX"), "{run}");
        }
    }
}
