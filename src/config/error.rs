//! The config error type, and turning byte offsets and toml errors into
//! `<file>:<line>: <key path>: <what is wrong>; <how to fix>` messages.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// Everything that can be wrong with a config, each message naming the file, the line
/// (when known), the key, what is wrong and how to fix it. None ever holds a password.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error(
        "{}: cannot read the config file: {error}; check the path, or name another file with -c FILE or $MAILFERRY_CONFIG",
        path.display()
    )]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A key is missing, unknown, or has a value that cannot be used.
    #[error("{}", Located { path, line: *line, key, problem, fix })]
    Invalid {
        path: PathBuf,
        /// 1-based line of the offending key or table, when there is one.
        line: Option<usize>,
        /// Dotted key path, e.g. `account.personal.tls`; empty when unknown.
        key: String,
        problem: String,
        fix: String,
    },
    /// An account's `pass_cmd` failed. Never holds the command's output.
    #[error("account.{account}.pass_cmd: {problem}; {fix}")]
    PassCmd {
        account: String,
        problem: String,
        fix: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The dotted key path the error is about (`account.personal.tls`), if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } if !key.is_empty() => Some(key),
            _ => None,
        }
    }
}

struct Located<'a> {
    path: &'a Path,
    line: Option<usize>,
    key: &'a str,
    problem: &'a str,
    fix: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, "{line}:")?;
        }
        if !self.key.is_empty() {
            write!(f, " {}:", self.key)?;
        }
        write!(f, " {}; {}", self.problem, self.fix)
    }
}

/// Spells one key as TOML would need it in a dotted path.
pub(super) fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// Joins key parts into a dotted path, quoting those that need it.
pub(super) fn key_path<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(|p| quote_key(p.as_ref()))
        .collect::<Vec<_>>()
        .join(".")
}

/// The 1-based line holding byte `offset` of `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn contains(span: &Range<usize>, pos: usize) -> bool {
    (span.start <= pos && pos < span.end) || (span.is_empty() && span.start == pos)
}

fn find_in_table(table: &DeTable<'_>, pos: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in table.iter() {
        path.push(k.get_ref().to_string());
        if find_in_value(v.get_ref(), pos, path)
            || contains(&k.span(), pos)
            || contains(&v.span(), pos)
        {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(value: &DeValue<'_>, pos: usize, path: &mut Vec<String>) -> bool {
    match value {
        DeValue::Table(t) => find_in_table(t, pos, path),
        DeValue::Array(a) => a.iter().any(|e| find_in_value(e.get_ref(), pos, path)),
        _ => false,
    }
}

/// The dotted path of the deepest key whose key or value covers byte `pos`; empty when
/// none does. Parses with recovery so that it also works next to a syntax error.
pub(super) fn key_path_at(text: &str, pos: usize) -> String {
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut path = Vec::new();
    find_in_table(doc.get_ref(), pos, &mut path);
    key_path(&path)
}

/// Turns an error from the toml parser or from deserializing the raw structs into a
/// located [`ConfigError`]. Values are quoted in these messages, so an error about a
/// `password` key is reworded to keep the value out.
pub(super) fn from_toml(text: &str, path: &Path, err: &toml::de::Error) -> ConfigError {
    let span = err.span();
    let line = span.as_ref().map(|s| line_of(text, s.start));
    let key = span
        .as_ref()
        .map(|s| key_path_at(text, s.start))
        .unwrap_or_default();
    let msg = err.message().trim();
    let (problem, fix) = if msg.starts_with("unknown field") {
        (
            msg.replacen("unknown field", "unknown key", 1),
            "remove it or correct its spelling".to_string(),
        )
    } else if key == "password" || key.ends_with(".password") {
        (
            "must be a string".to_string(),
            "quote the password: password = \"...\"".to_string(),
        )
    } else if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        (
            msg.replace("expected i64", "expected an integer")
                .replace("expected a sequence", "expected an array")
                .replace("expected a map", "expected a table"),
            "give it a value of the expected type".to_string(),
        )
    } else if msg == "duplicate key" {
        // The span is the repeated key itself, never a value.
        let name = span
            .as_ref()
            .and_then(|s| text.get(s.clone()))
            .unwrap_or_default();
        (
            format!("invalid TOML: the key `{name}` is set twice"),
            "keep only one of them".to_string(),
        )
    } else {
        (
            format!("invalid TOML: {msg}"),
            "correct the syntax there".to_string(),
        )
    };
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        key,
        problem,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let t = "a\nb\n\nc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 5), 4);
        assert_eq!(line_of(t, 999), 4);
    }

    #[test]
    fn key_paths_quote_when_needed() {
        assert_eq!(
            key_path(&["account", "personal", "tls"]),
            "account.personal.tls"
        );
        assert_eq!(key_path(&["account", "my.box"]), "account.\"my.box\"");
    }

    #[test]
    fn key_path_found_by_offset() {
        let t = "[general]\njobs = 4\n\n[account.personal]\nhost = \"x\"\nbogus = 1\n";
        let at = t.find("bogus").unwrap();
        assert_eq!(key_path_at(t, at), "account.personal.bogus");
        let at = t.find("[account").unwrap();
        assert_eq!(key_path_at(t, at), "account.personal");
        let inline = "[channel]\nc = { maildir = \"/m\", zz = 1 }\n";
        assert_eq!(
            key_path_at(inline, inline.find("zz").unwrap()),
            "channel.c.zz"
        );
    }

    #[test]
    fn display_omits_unknown_line_and_key() {
        let e = ConfigError::Invalid {
            path: "/c.toml".into(),
            line: None,
            key: String::new(),
            problem: "p".into(),
            fix: "f".into(),
        };
        assert_eq!(e.to_string(), "/c.toml: p; f");
        let e = ConfigError::Invalid {
            path: "/c.toml".into(),
            line: Some(3),
            key: "general.jobs".into(),
            problem: "p".into(),
            fix: "f".into(),
        };
        assert_eq!(e.to_string(), "/c.toml:3: general.jobs: p; f");
    }
}
