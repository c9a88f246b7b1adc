//! The two contenders: their configs, their directories, and one measured run each under
//! `/usr/bin/time -v` (user and system CPU, peak RSS; wall time from our own clock).

use crate::dovecot::Dovecot;
use anyhow::{Context, Result, bail};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Mailferry,
    Mbsync,
}

/// One contender: its binary, its server user, and its own maildir, state and config.
pub struct Tool {
    pub kind: Kind,
    pub binary: PathBuf,
    /// Its server account (each tool has its own, seeded identically).
    pub user: String,
    /// Its working directory: config, logs, maildir, state.
    pub dir: PathBuf,
    /// mailferry only: `-vvv` instead of `-q`, so each run's log (`LABEL.log`) holds the
    /// timed IMAP trace (for looking into a run; tracing costs time).
    pub trace: bool,
}

/// One measured run.
#[derive(Clone, Copy, Debug)]
pub struct Measure {
    pub wall: f64,
    pub cpu: f64,
    pub rss_kb: u64,
    /// Seconds of processor time the server spent on the run (filled in by the caller,
    /// which watches the server).
    pub server_cpu: f64,
}

impl Tool {
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Mailferry => "mailferry",
            Kind::Mbsync => "mbsync",
        }
    }

    /// The near maildir root.
    pub fn maildir(&self) -> PathBuf {
        self.dir.join("Mail")
    }

    /// Whether the tool names folders on disk in modified UTF-7 (mbsync 1.4 does;
    /// mailferry's default `folder_names = "utf8"` does not).
    pub fn mutf7(&self) -> bool {
        self.kind == Kind::Mbsync
    }

    fn config(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Mailferry => "config.toml",
            Kind::Mbsync => "mbsyncrc",
        })
    }

    /// Writes the config for a server reached at `localhost:port` (the server itself, or
    /// the delay proxy in front of it).
    pub fn write_config(&self, d: &Dovecot, port: u16) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        let ca = d.ca_file().display().to_string();
        let text = match self.kind {
            // jobs and connections: the defaults.
            Kind::Mailferry => format!(
                r#"# Written by examples/bench.rs.
[general]
state_dir = {state}

[account.bench]
host = "localhost"
port = {port}
tls = "implicit"
ca_file = {ca}
user = {user}
password = {password}

[channel.bench]
account = "bench"
maildir = {maildir}
layout = "verbatim"
folders = ["*"]
create = "both"
expunge = "both"
"#,
                state = toml_str(&self.dir.join("state").display().to_string()),
                ca = toml_str(&ca),
                user = toml_str(&self.user),
                password = toml_str(d.password()),
                maildir = toml_str(&self.maildir().display().to_string()),
            ),
            Kind::Mbsync => format!(
                r#"# Written by examples/bench.rs.
FSync yes

IMAPAccount bench
Host localhost
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {ca}

IMAPStore far
Account bench

MaildirStore near
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel bench
Far :far:
Near :near:
Patterns *
Sync All
Create Both
Expunge Both
SyncState *
"#,
                user = self.user,
                password = d.password(),
                maildir = self.maildir().display(),
            ),
        };
        fs::write(self.config(), text)?;
        fs::set_permissions(self.config(), fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    /// Sets the maildir and the state aside (see [`set_aside`]) and makes an empty
    /// maildir root (mbsync wants its `Path` to exist): the next run is a first sync.
    pub fn wipe(&self) -> Result<()> {
        let work = self.dir.parent().unwrap_or(&self.dir);
        for d in [self.maildir(), self.dir.join("state")] {
            set_aside(&d, work)?;
        }
        fs::create_dir_all(self.maildir())?;
        Ok(())
    }

    /// One sync, measured. Fails (with the end of the tool's output) unless it exits 0.
    pub fn run(&self, label: &str) -> Result<Measure> {
        let time_out = self.dir.join("time.txt");
        let log = self.dir.join(format!("{label}.log"));
        let mut cmd = timed(&time_out);
        cmd.arg(&self.binary);
        match self.kind {
            Kind::Mailferry => cmd
                .arg(if self.trace { "-vvv" } else { "-q" })
                .arg("-c")
                .arg(self.config())
                .arg("sync"),
            Kind::Mbsync => cmd.arg("-q").arg("-c").arg(self.config()).arg("-a"),
        };
        let log_file = fs::File::create(&log)?;
        let started = Instant::now();
        let status = cmd
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .status()
            .context("running /usr/bin/time")?;
        let wall = started.elapsed().as_secs_f64();
        if !status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{} failed ({status}) in {label}; the end of its output ({}):\n{}",
                self.name(),
                log.display(),
                tail.join("\n")
            );
        }
        let (cpu, rss_kb) = read_time(&time_out)?;
        Ok(Measure {
            wall,
            cpu,
            rss_kb,
            server_cpu: 0.0,
        })
    }
}

/// `/usr/bin/time -v -o TIME_OUT`, to be given the command to measure; read its figures
/// with [`read_time`].
pub fn timed(time_out: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v").arg("-o").arg(time_out);
    cmd
}

/// User + system seconds and peak RSS (KiB) that [`timed`] wrote to `time_out`.
pub fn read_time(time_out: &Path) -> Result<(f64, u64)> {
    let text =
        fs::read_to_string(time_out).with_context(|| format!("reading {}", time_out.display()))?;
    parse_time(&text).with_context(|| format!("parsing /usr/bin/time -v output:\n{text}"))
}

/// User + system seconds and peak RSS (KiB) from `/usr/bin/time -v`.
fn parse_time(text: &str) -> Option<(f64, u64)> {
    let field = |name: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
    };
    let user: f64 = field("User time (seconds):")?.parse().ok()?;
    let sys: f64 = field("System time (seconds):")?.parse().ok()?;
    let rss: u64 = field("Maximum resident set size (kbytes):")?.parse().ok()?;
    Some((user + sys, rss))
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

/// Where [`set_aside`] puts what a repetition no longer needs, beside the tools' own
/// directories (so on the same file system); removed at the end of the benchmark.
pub fn set_aside_dir(work: &Path) -> PathBuf {
    work.join("set-aside")
}

/// Moves `path` into [`set_aside_dir`] of `work` (the same file system) instead of
/// removing it: on ext4 without a journal (as on the machines these figures come from),
/// the kernel avoids reusing an inode freed in the last minute (five while its inode
/// table block is dirty) and scans past each one, so creating 30,000 files right after
/// removing 30,000 others took both tools, and `cp -r`, 3-7 times their processor time.
pub fn set_aside(path: &Path, work: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let dir = set_aside_dir(work);
    fs::create_dir_all(&dir)?;
    let mut n = 0;
    let target = loop {
        let candidate = dir.join(n.to_string());
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    fs::rename(path, &target)
        .with_context(|| format!("moving {} to {}", path.display(), target.display()))
}

/// Flushes dirty pages and waits a little, so what a previous step wrote or deleted (a
/// discard-mounted disk slows writes for seconds after big deletes) does not land in the
/// next timed run.
pub fn settle(pause: std::time::Duration) {
    let _ = Command::new("sync").status();
    std::thread::sleep(pause);
}
