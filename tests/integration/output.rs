//! What a run prints: progress bars on a terminal (driven under a pseudo-terminal with
//! `script` from util-linux), none in piped output (no carriage return, no escape
//! sequence), nothing at all from a successful `-q` run, and the summary with the
//! elapsed time otherwise; and the README's crontab line, run as cron would.

use super::faults::run_bounded;
use super::sync::{Env, small_corpus, write_near};
use crate::support::dovecot::DovecotOptions;
use std::process::{Command, Stdio};

/// `text` quoted for `sh`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Runs mailferry `args` under a pseudo-terminal; returns its exit code and everything it
/// wrote to the terminal (stdout and stderr together).
fn run_on_a_terminal(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut command = vec![
        sh_quote(env!("CARGO_BIN_EXE_mailferry")),
        "-c".to_string(),
        sh_quote(&env.config().display().to_string()),
    ];
    command.extend(args.iter().map(|a| sh_quote(a)));
    let out = Command::new("timeout")
        .args(["120", "script", "-qec", &command.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .env_remove("MAILFERRY_CONFIG")
        .env_remove("MAILFERRY_FAILPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux, Debian's bsdutils) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !text.contains(env.dovecot.password()),
        "the password leaked: {text}"
    );
    (out.status.code(), text)
}

fn env_with_work() -> Env {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    for n in 0..3 {
        let name = format!("190000000{n}.M{n}P1.testhost");
        write_near(&env.near_dir("INBOX"), "new", &name, 700 + n);
    }
    env
}

#[test]
fn bars_are_drawn_on_a_terminal_and_never_in_piped_output() {
    let env = env_with_work();
    let (code, text) = run_on_a_terminal(&env, &["sync"]);
    assert_eq!(code, Some(0), "{text}");
    // indicatif's drawing: the bar templates, redrawn in place with escape sequences.
    assert!(text.contains("folders"), "no overall bar: {text:?}");
    assert!(text.contains("messages"), "no folder bar: {text:?}");
    assert!(text.contains('\x1b'), "no escape sequence: {text:?}");
    // The summary still comes, with the elapsed time.
    assert!(text.contains(" 0 errors ("), "no summary: {text:?}");
    assert!(text.contains(" s)\r\n"), "no elapsed time: {text:?}");
    assert_eq!(env.assert_converged("INBOX"), 15);

    // With bars and -vv at once, each log line still comes whole, above the bars.
    let env = env_with_work();
    let (code, text) = run_on_a_terminal(&env, &["-vv", "sync"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("messages"), "no folder bar: {text:?}");
    for n in 1..=12 {
        let line = format!("mailferry: test: INBOX: downloaded UID {n}\r\n");
        assert!(text.contains(&line), "{line:?} missing or torn: {text:?}");
    }

    // The same work, piped: log lines only.
    let env = env_with_work();
    for args in [&["-vv", "sync"][..], &["sync"]] {
        let run = run_bounded(&env, args);
        assert_eq!(run.code, Some(0), "{run}");
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains('\r'),
                "carriage return in piped output: {run}"
            );
            assert!(
                !text.contains('\x1b'),
                "escape sequence in piped output: {run}"
            );
            assert!(!text.contains("folders ["), "a bar in piped output: {run}");
        }
        if args[0] == "-vv" {
            assert!(run.stderr.contains("downloaded UID"), "{run}");
        } else {
            assert!(run.stdout.contains(" 0 errors ("), "{run}");
        }
    }
    assert_eq!(env.assert_converged("INBOX"), 15);
}

#[test]
fn a_quiet_run_prints_nothing_at_all_unless_it_fails() {
    let env = env_with_work();
    for _ in 0..2 {
        // A run with work to do, then a run with none.
        let run = run_bounded(&env, &["-q", "sync"]);
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("", ""),
            "{run}"
        );
    }
    assert_eq!(env.assert_converged("INBOX"), 15);
    // On a terminal too: no bars with -q.
    let (code, text) = run_on_a_terminal(&env, &["-q", "sync"]);
    assert_eq!((code, text.as_str()), (Some(0), ""));
    // A failure still shows.
    std::fs::write(env.config(), "[general]\nbogus = 1\n").unwrap();
    let run = run_bounded(&env, &["-q", "sync"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("bogus"), "{run}");
}

/// The crontab line of README.md, without its schedule.
fn readme_cron_command() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```crontab\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a crontab block");
    let line = block.trim();
    assert_eq!(line.lines().count(), 1, "{block}");
    // Five schedule fields, then the command (no % in it: cron would cut the line there).
    let command: Vec<&str> = line.splitn(6, ' ').collect();
    assert_eq!(command.len(), 6, "{line}");
    assert!(!command[5].contains('%'), "{line}");
    command[5].to_string()
}

#[test]
fn the_readme_crontab_line_is_silent_on_success_and_on_a_held_lock() {
    let command = readme_cron_command();
    let env = env_with_work();
    // $HOME/.cargo/bin/mailferry, as `cargo install` puts it.
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_mailferry"),
        home.join(".cargo/bin/mailferry"),
    )
    .unwrap();
    let cron = || {
        let out = Command::new("timeout")
            .args(["120", "sh", "-c", &command])
            .env("HOME", &home)
            .env("MAILFERRY_CONFIG", env.config())
            .env_remove("MAILFERRY_FAILPOINT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert_eq!(cron(), "", "a successful sync mails nothing");
    assert_eq!(env.assert_converged("INBOX"), 15);
    // Another mailferry holds the lock: exit 75, skipped quietly.
    let held = mailferry::state::lock::try_lock(&env.state_dir(), "test").unwrap();
    assert!(matches!(held, mailferry::state::lock::LockOutcome::Held(_)));
    assert_eq!(env.run(&["-q", "sync"]).status.code(), Some(75));
    assert_eq!(cron(), "", "a held lock mails nothing");
    drop(held);
    // A real problem is mailed.
    std::fs::write(env.config(), "[general]\nbogus = 1\n").unwrap();
    let mail = cron();
    assert!(mail.contains("bogus"), "{mail}");
}

/// Runs `shell -c script` and returns (success, stdout + stderr).
fn shell(shell: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(shell)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shell} must be installed (scripts/ensure-deps): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_checked_in_completion_scripts_load_in_bash_zsh_and_fish() {
    let (ok, text) = shell(
        "bash",
        &[
            "-c",
            "source completions/mailferry.bash && complete -p mailferry",
        ],
    );
    assert!(ok && text.contains("mailferry"), "bash: {text}");

    // compinit's dump goes to a file of the test's own: it writes a temporary file and
    // renames it onto the name given, so `-d /dev/null`, run as root, replaced the
    // system's /dev/null with a regular file (and later readers of /dev/null, such as
    // cargo's probe of rustc, read what others had written there).
    let dump = tempfile::tempdir().unwrap();
    let zsh = format!(
        "autoload -Uz compinit && compinit -u -d {}/zcompdump && source completions/_mailferry && print -r -- $_comps[mailferry]",
        dump.path().display()
    );
    let (ok, text) = shell("zsh", &["-fc", &zsh]);
    assert!(ok && text.contains("_mailferry"), "zsh: {text}");
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(
            &std::fs::metadata("/dev/null").unwrap().file_type()
        ),
        "/dev/null is no longer a device"
    );

    let (ok, text) = shell(
        "fish",
        &[
            "--no-config",
            "-c",
            "source completions/mailferry.fish; complete -C 'mailferry sy'",
        ],
    );
    assert!(ok && text.contains("sync"), "fish: {text}");
}

#[test]
fn a_file_a_client_delivered_keeps_its_name() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus()[..2]);
    env.sync(&[], 0);
    let inbox = env.near_dir("INBOX");
    write_near(&inbox, "new", "1800000000.M9P9.client", 900);
    write_near(&inbox, "cur", "1800000001.M9P9.client:2,S", 901);
    let report = env.sync(&[], 0);
    assert_eq!(report["totals"]["upload"], 2, "{report}");
    assert!(
        inbox.join("new/1800000000.M9P9.client").is_file(),
        "renamed or moved"
    );
    assert!(
        inbox.join("cur/1800000001.M9P9.client:2,S").is_file(),
        "renamed"
    );
    assert_eq!(env.assert_converged("INBOX"), 4);
}
