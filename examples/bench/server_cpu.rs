//! The processor time Dovecot spends serving one tool's run (and the benchmark's own, for
//! its download alone): the user and system time of
//! the `imap` and `imap-login` processes (a pair per connection, ended with it; the login
//! process carries the TLS), which Linux adds to the master's children times once they
//! have ended and been reaped.

use crate::dovecot::Dovecot;
use anyhow::{Context, Result, bail};
use std::fs;
use std::time::{Duration, Instant};

/// Linux reports process times in USER_HZ ticks: 100 a second on x86-64 and arm64.
const TICKS_PER_SECOND: f64 = 100.0;

/// How long the connections of a run that has ended may take to close on the server.
const SESSIONS_END_WITHIN: Duration = Duration::from_secs(10);

/// A measurement begun before a run.
pub struct ServerCpu {
    master: u32,
    before: f64,
}

/// Starts measuring once no connection of an earlier run (say, the benchmark's own check)
/// is still open.
pub fn start(server: &Dovecot) -> Result<ServerCpu> {
    let master = server.master_pid();
    wait_for_sessions_to_end(master)?;
    Ok(ServerCpu {
        master,
        before: ended_children_seconds(master)?,
    })
}

impl ServerCpu {
    /// Seconds of processor time the server spent since [`start`], counted once every
    /// connection of the run has closed.
    pub fn finish(self) -> Result<f64> {
        wait_for_sessions_to_end(self.master)?;
        Ok(ended_children_seconds(self.master)? - self.before)
    }
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces), and that
/// name.
fn stat_of(pid: &str) -> Option<(String, Vec<String>)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let (_, comm) = head.split_once('(')?;
    Some((
        comm.to_string(),
        rest.split_whitespace().map(str::to_string).collect(),
    ))
}

/// User + system seconds of the master's children that have ended (`cutime` + `cstime`,
/// fields 16 and 17 of its stat).
fn ended_children_seconds(master: u32) -> Result<f64> {
    stat_seconds(&master.to_string(), [16, 17])
}

/// User + system seconds of the benchmark's own process, every thread (`utime` + `stime`,
/// fields 14 and 15 of its stat): what the download alone costs the client.
pub fn own_seconds() -> Result<f64> {
    stat_seconds("self", [14, 15])
}

/// The sum of two tick counts of `/proc/PID/stat` (numbered from 1, as in proc(5); the
/// list after the name starts at field 3), in seconds.
fn stat_seconds(pid: &str, which: [usize; 2]) -> Result<f64> {
    let (_, fields) = stat_of(pid).with_context(|| format!("reading /proc/{pid}/stat"))?;
    let ticks = |field: usize| -> Result<f64> {
        fields
            .get(field - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v as f64)
            .with_context(|| format!("field {field} of /proc/{pid}/stat"))
    };
    Ok((ticks(which[0])? + ticks(which[1])?) / TICKS_PER_SECOND)
}

/// Whether an `imap` or `imap-login` child of the master is still there (a process that
/// has exited but is not yet reaped counts: its time is not yet added).
fn sessions_open(master: u32) -> Result<bool> {
    let parent = master.to_string();
    for entry in fs::read_dir("/proc").context("listing /proc")? {
        let name = entry.context("listing /proc")?.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // A process that ended meanwhile has no stat any more.
        let Some((comm, fields)) = stat_of(pid) else {
            continue;
        };
        if fields.get(1) == Some(&parent) && (comm == "imap" || comm == "imap-login") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn wait_for_sessions_to_end(master: u32) -> Result<()> {
    let deadline = Instant::now() + SESSIONS_END_WITHIN;
    while sessions_open(master)? {
        if Instant::now() > deadline {
            bail!(
                "Dovecot still serves a connection {} s after the run ended",
                SESSIONS_END_WITHIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
