//! Writing a [`Conversion`] as mailferry's config file (SPEC §2): TOML text with a comment
//! naming the mbsync section behind each table. Pure.

use super::convert::{AccountOut, ChannelOut, Conversion, PROMPT_COMMAND, SecretOut};
use crate::mapping::FolderNames;
use std::fmt::Write;
use std::path::Path;

/// What stands in for a password when the config is printed rather than written.
pub const PASSWORD_PLACEHOLDER: &str = "PASSWORD-NOT-PRINTED";

/// Renders the config. With `reveal_passwords` false (the config goes to stdout), a
/// `Pass` is replaced by [`PASSWORD_PLACEHOLDER`] so that no password is ever printed.
pub fn render(conversion: &Conversion, source: &Path, reveal_passwords: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# mailferry config converted from {} by `mailferry import mbsync`.",
        source.display()
    );
    out.push_str("# Folder directories keep mbsync's names: folder_names = \"imap\".\n");
    for account in &conversion.accounts {
        out.push('\n');
        render_account(&mut out, account, reveal_passwords);
    }
    for channel in &conversion.channels {
        out.push('\n');
        render_channel(&mut out, channel);
    }
    out
}

fn render_account(out: &mut String, a: &AccountOut, reveal: bool) {
    let _ = writeln!(out, "# from {}", a.source);
    let _ = writeln!(out, "[account.{}]", key(&a.name));
    let _ = writeln!(out, "host = {}", string(&a.host));
    if let Some(port) = a.port {
        let _ = writeln!(out, "port = {port}");
    }
    let _ = writeln!(out, "tls = {}", string(a.tls));
    if a.allow_plaintext {
        out.push_str("allow_plaintext = true\n");
    }
    if let Some(ca) = &a.ca_file {
        let _ = writeln!(out, "ca_file = {}", path_string(ca));
    }
    let _ = writeln!(out, "user = {}", string(&a.user));
    match &a.secret {
        SecretOut::Password { value, line } => {
            if reveal {
                let _ = writeln!(out, "password = {}", string(value));
            } else {
                let _ = writeln!(
                    out,
                    "password = {}  # Pass on line {line}: --write puts it here (mode 0600)",
                    string(PASSWORD_PLACEHOLDER)
                );
            }
        }
        SecretOut::Command(command) => {
            let _ = writeln!(out, "pass_cmd = {}", string(command));
        }
        SecretOut::Prompt => {
            out.push_str("# mbsync asked for the password; so does this command\n");
            let _ = writeln!(out, "pass_cmd = {}", string(PROMPT_COMMAND));
        }
    }
    if let Some(timeout) = a.timeout {
        let _ = writeln!(out, "timeout = {timeout}");
    }
}

fn render_channel(out: &mut String, c: &ChannelOut) {
    let names: Vec<String> = c
        .sources
        .iter()
        .map(|s| format!("Channel {} (line {})", s.name, s.line))
        .collect();
    let _ = writeln!(out, "# from {}", names.join(", "));
    let _ = writeln!(out, "[channel.{}]", key(&c.name));
    let _ = writeln!(out, "account = {}", string(&c.account));
    let _ = writeln!(out, "maildir = {}", path_string(&c.maildir));
    let _ = writeln!(out, "layout = {}", string(c.layout.as_str()));
    let _ = writeln!(out, "folder_names = {}", string(FolderNames::Imap.as_str()));
    let folders: Vec<String> = c.folders.iter().map(|f| string(f)).collect();
    let _ = writeln!(out, "folders = [{}]", folders.join(", "));
    let _ = writeln!(out, "direction = {}", string(c.direction));
    let _ = writeln!(out, "create = {}", string(c.create));
    let _ = writeln!(out, "remove = {}", string(c.remove));
    let _ = writeln!(out, "expunge = {}", string(c.expunge));
    if let Some(size) = &c.max_size {
        let _ = writeln!(out, "max_size = {}", string(size));
    }
}

/// A table name: bare when TOML allows it, else quoted (a `.` would nest tables).
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_string()
    } else {
        string(name)
    }
}

/// A TOML basic string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path as a TOML string: mailferry expands `$VAR` in paths, mbsync does not, so a `$`
/// is written `$$`.
fn path_string(p: &str) -> String {
    string(&p.replace('$', "$$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(string("x\u{1}"), "\"x\\u0001\"");
        assert_eq!(path_string("/m/$x"), "\"/m/$$x\"");
        assert_eq!(key("work-2"), "work-2");
        assert_eq!(key("gmail.com"), "\"gmail.com\"");
    }
}
