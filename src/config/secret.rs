//! An account's password: given in the config, or printed by `pass_cmd`. Never shown by
//! `Debug` or `Display`, and never put into an error message.

use super::ConfigError;
use std::fmt;
use std::process::{Command, Stdio};

/// Where an account's password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// `password = "..."` in the config file.
    Password(String),
    /// `pass_cmd = "..."`: run with `sh -c`, the first line of its stdout is the password.
    /// `account` is the account's name, so that a failure can say whose command failed.
    Command { account: String, command: String },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::Command { account, command } => f
                .debug_struct("Command")
                .field("account", account)
                .field("command", command)
                .finish(),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::Command { command, .. } => write!(f, "pass_cmd `{command}`"),
        }
    }
}

impl Secret {
    /// The password. For `pass_cmd`, runs `sh -c COMMAND` with stdin and stderr left to
    /// the terminal (gpg and pinentry may prompt) and takes the first line of its stdout.
    /// Fails, naming the account and the exit status but never the output, when the
    /// command cannot run, exits non-zero, or prints an empty or non-UTF-8 first line.
    pub fn resolve(&self) -> Result<String, ConfigError> {
        let (account, command) = match self {
            Secret::Password(p) => return Ok(p.clone()),
            Secret::Command { account, command } => (account, command),
        };
        let fail = |problem: String, fix: &str| ConfigError::PassCmd {
            account: account.clone(),
            problem,
            fix: fix.to_string(),
        };
        let by_hand =
            "run the command by hand: it must print the password on its first line and exit 0";
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::inherit())
            .stderr(Stdio::inherit())
            .stdout(Stdio::piped())
            .output()
            .map_err(|e| {
                fail(
                    format!("could not run `sh`: {e}"),
                    "check that sh is on PATH",
                )
            })?;
        if !output.status.success() {
            return Err(fail(
                format!("the command failed ({})", output.status),
                by_hand,
            ));
        }
        let first = output.stdout.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        if first.is_empty() {
            return Err(fail(
                "the command printed no password on its first line".to_string(),
                by_hand,
            ));
        }
        match std::str::from_utf8(first) {
            Ok(p) => Ok(p.to_string()),
            Err(_) => Err(fail(
                "the command's first line is not UTF-8".to_string(),
                by_hand,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(c: &str) -> Secret {
        Secret::Command {
            account: "personal".into(),
            command: c.into(),
        }
    }

    #[test]
    fn password_is_never_shown() {
        let s = Secret::Password("hunter2".into());
        assert_eq!(format!("{s:?}"), "Password(<redacted>)");
        assert_eq!(format!("{s}"), "Password(<redacted>)");
        assert_eq!(format!("{s:#?}"), "Password(<redacted>)");
        assert_eq!(s.resolve().unwrap(), "hunter2");
    }

    #[test]
    fn command_takes_the_first_line() {
        assert_eq!(
            cmd("printf 'hunter2\\nsecond line\\n'").resolve().unwrap(),
            "hunter2"
        );
        assert_eq!(cmd("printf 'pw\\r\\n'").resolve().unwrap(), "pw");
        assert_eq!(cmd("printf 'no newline'").resolve().unwrap(), "no newline");
        assert_eq!(cmd("printf ' sp '").resolve().unwrap(), " sp ");
    }

    #[test]
    fn failing_command_names_account_and_status_not_output() {
        let e = cmd("echo hunter2; exit 3")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("account.personal.pass_cmd"), "{e}");
        assert!(e.contains('3'), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn empty_output_is_an_error() {
        for c in ["true", "printf '\\nhunter2\\n'"] {
            let e = cmd(c).resolve().unwrap_err().to_string();
            assert!(e.contains("account.personal.pass_cmd"), "{e}");
            assert!(e.contains("no password"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
