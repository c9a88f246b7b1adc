//! Demo: sync the sample account in `fixtures/mail` from a private Dovecot into `target/demo`.
//!
//! `cargo run --example demo -- <path-to-mailferry-binary>` (or `scripts/demo`): starts a
//! Dovecot, seeds it with the fixtures, writes `target/demo/config.toml`, runs
//! `mailferry -c target/demo/config.toml sync`, prints the maildir tree, syncs again and
//! stops Dovecot. Exits non-zero if a mailferry run fails.

#[allow(dead_code)] // the demo uses only part of the test harness
#[path = "../tests/support/dovecot.rs"]
mod dovecot;

use anyhow::{Context, Result, bail};
use dovecot::{Dovecot, DovecotOptions, fixture_messages};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let binary = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: cargo run --example demo -- <path-to-mailferry-binary>")?;
    let binary = fs::canonicalize(&binary)
        .with_context(|| format!("mailferry binary {}", binary.display()))?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = repo.join("target").join("demo");

    println!("== starting Dovecot");
    let server = Dovecot::start(DovecotOptions::default())?;
    let fixtures = fixture_messages(&repo.join("fixtures").join("mail"))?;
    server.seed(&fixtures)?;
    println!(
        "   127.0.0.1:{} (implicit TLS), user {}, seeded {} messages from fixtures/mail",
        server.imaps_port(),
        server.user(),
        fixtures.len()
    );

    if demo.exists() {
        fs::remove_dir_all(&demo).with_context(|| format!("removing {}", demo.display()))?;
    }
    fs::create_dir_all(&demo)?;
    let config = demo.join("config.toml");
    fs::write(&config, config_text(&server, &demo))?;
    // It holds a password: readable by its owner only.
    fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    println!("== wrote {}", config.display());

    sync(&binary, &config, "first sync")?;
    println!("== maildir tree of {}", demo.join("Mail").display());
    print_tree(&demo.join("Mail"))?;
    sync(&binary, &config, "second sync (should change nothing)")?;

    drop(server);
    println!("== Dovecot stopped");
    Ok(())
}

fn config_text(server: &Dovecot, demo: &Path) -> String {
    format!(
        r#"# Written by examples/demo.rs for a throwaway Dovecot.
[general]
state_dir = {state}

[account.demo]
host = "127.0.0.1"
port = {port}
tls = "implicit"
ca_file = {ca}
user = {user}
password = {password}

[channel.demo]
account = "demo"
maildir = {maildir}
layout = "verbatim"
"#,
        state = toml_str(&demo.join("state").display().to_string()),
        port = server.imaps_port(),
        ca = toml_str(&server.ca_file().display().to_string()),
        user = toml_str(server.user()),
        password = toml_str(server.password()),
        maildir = toml_str(&demo.join("Mail").display().to_string()),
    )
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn sync(binary: &Path, config: &Path, what: &str) -> Result<()> {
    println!(
        "== {what}: {} -c {} sync",
        binary.display(),
        config.display()
    );
    let status = Command::new(binary)
        .arg("-c")
        .arg(config)
        .arg("sync")
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!("{what} failed: mailferry exited with {status}");
    }
    Ok(())
}

/// Every maildir folder under `root` (a directory with `cur/`), with its message count.
fn print_tree(root: &Path) -> Result<()> {
    if !root.is_dir() {
        bail!("mailferry succeeded but {} does not exist", root.display());
    }
    let mut folders = Vec::new();
    collect_folders(root, root, &mut folders)?;
    folders.sort();
    if folders.is_empty() {
        println!("   (no folders)");
    }
    for (name, count) in folders {
        println!("   {name:<20} {count:>4} messages");
    }
    Ok(())
}

fn collect_folders(root: &Path, dir: &Path, out: &mut Vec<(String, usize)>) -> Result<()> {
    if dir.join("cur").is_dir() {
        let mut count = 0;
        for sub in ["cur", "new"] {
            if let Ok(entries) = fs::read_dir(dir.join(sub)) {
                count += entries.count();
            }
        }
        let name = dir.strip_prefix(root)?.display().to_string();
        out.push((if name.is_empty() { ".".into() } else { name }, count));
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        if path.is_dir() && !["cur", "new", "tmp"].iter().any(|s| name == *s) {
            collect_folders(root, &path, out)?;
        }
    }
    Ok(())
}
