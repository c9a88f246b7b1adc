//! `mailferry check [CHANNEL]`: for each account the channel(s) use, step by step: the
//! config, the address the host name resolves to, TLS and the server's certificate, the
//! password, the login, and the capabilities that matter to a sync. Syncs nothing; the
//! first step that fails ends that account's check with the reason, and the exit is 1.
//! The password is never printed.

use super::sync::channels_named;
use super::{AppError, Exit};
use crate::config::{Account, Config, Secret, TlsMode};
use crate::log;
use crate::store::imap::diagnose::probe_tls;
use crate::store::imap::{FarSession, ServerCaps, is_loopback};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::ToSocketAddrs;

/// Width of the step names, so the results line up.
const STEP: usize = 14;

/// Checks every account the named channel (or every channel) uses.
pub fn run(config: &Config, channel: Option<&str>, quiet: bool) -> Result<Exit, AppError> {
    let channels = channels_named(config, channel)?;
    let mut accounts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for channel in &channels {
        accounts
            .entry(channel.account.as_str())
            .or_default()
            .push(channel.name.as_str());
    }
    let mut failed = false;
    let mut first = true;
    for (name, channels) in accounts {
        let Some(account) = config.accounts.get(name) else {
            log::error(&format!("no account {name:?}"));
            failed = true;
            continue;
        };
        let mut out = Steps {
            quiet,
            blank_line: !first,
        };
        first = false;
        out.header(&format!(
            "account {name} (channel{} {})",
            if channels.len() == 1 { "" } else { "s" },
            channels.join(", ")
        ));
        out.step("config", &format!("OK ({})", config.path.display()));
        if let Err(reason) = check_account(account, &mut out) {
            failed = true;
            out.step("result", "FAILED");
            log::error(&format!("account {name}: {reason}"));
        } else {
            out.step("result", "OK");
        }
    }
    Ok(if failed { Exit::SomeFailed } else { Exit::Ok })
}

/// Prints one line per step as it completes, so a slow step shows where it is.
struct Steps {
    quiet: bool,
    blank_line: bool,
}

impl Steps {
    fn header(&mut self, text: &str) {
        if !self.quiet {
            if self.blank_line {
                println!();
            }
            println!("{text}");
        }
    }

    fn step(&mut self, name: &str, result: &str) {
        if !self.quiet {
            println!("  {name:<STEP$}{result}");
            let _ = std::io::stdout().flush();
        }
    }

    /// Prints the failed step and hands the reason on.
    fn fail(&mut self, name: &str, reason: String) -> Result<(), String> {
        self.step(name, &format!("FAILED: {reason}"));
        Err(reason)
    }
}

/// The steps after the config; the reason of the first one that fails.
fn check_account(account: &Account, out: &mut Steps) -> Result<(), String> {
    let endpoint = format!("{}:{}", account.host, account.port);
    let addresses = match (account.host.as_str(), account.port).to_socket_addrs() {
        Ok(addrs) => addrs.fold(Vec::new(), |mut seen: Vec<String>, a| {
            let ip = a.ip().to_string();
            if !seen.contains(&ip) {
                seen.push(ip);
            }
            seen
        }),
        Err(e) => return out.fail("address", format!("cannot resolve {}: {e}", account.host)),
    };
    if addresses.is_empty() {
        return out.fail(
            "address",
            format!("{} resolves to no address", account.host),
        );
    }
    out.step("address", &format!("{endpoint} = {}", addresses.join(", ")));

    match account.tls {
        TlsMode::Implicit => out.step("tls", "implicit (TLS from the first byte)"),
        TlsMode::StartTls => out.step("tls", "starttls (plain connection upgraded with STARTTLS)"),
        TlsMode::None => out.step(
            "tls",
            if is_loopback(&account.host) {
                "none (plaintext, loopback only)"
            } else {
                "none (plaintext: allow_plaintext is set; the password crosses the network unencrypted)"
            },
        ),
    }
    match probe_tls(account) {
        Ok(Some(cert)) => {
            out.step("certificate", &format!("subject {}", cert.subject));
            out.step("", &format!("issued by {}", cert.issuer));
            out.step("", &format!("valid until {}", cert.not_after));
            out.step("", &format!("SHA-256 {}", cert.sha256));
            out.step("", "trusted, and valid for the host name");
        }
        Ok(None) => out.step("certificate", "- (no TLS)"),
        Err(e) => return out.fail("certificate", e.message),
    }

    // Not even pass_cmd's command line is shown: some put the password in it.
    let source = match &account.secret {
        Secret::Password(_) => "from password in the config",
        Secret::Command { .. } => "from pass_cmd",
    };
    let password = match account.secret.resolve() {
        Ok(password) => password,
        Err(e) => return out.fail("password", e.to_string()),
    };
    out.step("password", &format!("OK ({source})"));

    let session = match FarSession::connect(account, &password) {
        Ok(session) => session,
        Err(e) => return out.fail("login", e.message),
    };
    drop(password);
    out.step("login", &format!("OK as {}", account.user));
    for (name, yes) in capabilities(&session.caps) {
        out.step(name, if yes { "yes" } else { "no" });
    }
    session.logout();
    Ok(())
}

/// The capabilities that change how a sync works, by their IMAP names.
fn capabilities(caps: &ServerCaps) -> [(&'static str, bool); 7] {
    [
        ("UIDPLUS", caps.uidplus),
        ("MOVE", caps.r#move),
        ("CONDSTORE", caps.condstore),
        ("QRESYNC", caps.qresync),
        ("LIST-STATUS", caps.list_status),
        ("IDLE", caps.idle),
        ("SPECIAL-USE", caps.special_use),
    ]
}
