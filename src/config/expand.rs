//! Expansion of `~` (at the start) and `$VAR` / `${VAR}` (anywhere) in path values, with
//! the environment passed in so tests need not touch the process environment.

use std::ffi::OsString;
use std::path::PathBuf;

/// Looks up an environment variable.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment; `HOME` falls back to the password database when unset.
pub(crate) fn process_env(name: &str) -> Option<OsString> {
    match std::env::var_os(name) {
        Some(v) => Some(v),
        None if name == "HOME" => std::env::home_dir().map(PathBuf::into_os_string),
        None => None,
    }
}

/// Why a path value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `$NAME` or `${NAME}` names a variable that is not set.
    Unset(String),
    /// `~` was used but HOME is unknown.
    NoHome,
    /// `~user` is not supported.
    TildeUser,
    /// A `$` not followed by a name, `{NAME}` or another `$`.
    BadDollar,
}

impl ExpandError {
    /// What is wrong and how to fix it.
    pub(crate) fn problem_and_fix(&self) -> (String, String) {
        match self {
            ExpandError::Unset(name) => (
                format!("uses the environment variable {name}, which is not set"),
                format!("set {name} or write the path out"),
            ),
            ExpandError::NoHome => (
                "starts with ~ but HOME is not set".to_string(),
                "set HOME or write the path out".to_string(),
            ),
            ExpandError::TildeUser => (
                "~user is not supported".to_string(),
                "write ~/... for your own home, or the path out".to_string(),
            ),
            ExpandError::BadDollar => (
                "has a $ not followed by a variable name".to_string(),
                "write $NAME or ${NAME}, or $$ for a literal $".to_string(),
            ),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `raw`: a leading `~` or `~/` becomes `$HOME`; `$NAME` and `${NAME}` become the
/// variable's value; `$$` is a literal `$`.
pub(crate) fn expand_path(raw: &str, env: Env<'_>) -> Result<PathBuf, ExpandError> {
    let mut out = OsString::new();
    let mut rest = raw;
    if let Some(after) = rest.strip_prefix('~') {
        if !(after.is_empty() || after.starts_with('/')) {
            return Err(ExpandError::TildeUser);
        }
        out.push(env("HOME").ok_or(ExpandError::NoHome)?);
        rest = after;
    }
    let mut literal_start = 0;
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push(&rest[literal_start..i]);
        let after = &rest[i + 1..];
        let (name, used) = if after.starts_with('$') {
            out.push("$");
            i += 2;
            literal_start = i;
            continue;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or(ExpandError::BadDollar)?;
            (&braced[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !is_name_char(c))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let mut chars = name.chars();
        if !chars.next().is_some_and(is_name_start) || !chars.all(is_name_char) {
            return Err(ExpandError::BadDollar);
        }
        out.push(env(name).ok_or_else(|| ExpandError::Unset(name.to_string()))?);
        i += 1 + used;
        literal_start = i;
    }
    out.push(&rest[literal_start..]);
    Ok(PathBuf::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<OsString> {
        match name {
            "HOME" => Some("/home/me".into()),
            "MAIL_ROOT" => Some("/srv/mail".into()),
            "X" => Some("x".into()),
            _ => None,
        }
    }

    fn ok(raw: &str) -> String {
        expand_path(raw, &env).unwrap().display().to_string()
    }

    #[test]
    fn expands_tilde_and_variables() {
        assert_eq!(ok("~"), "/home/me");
        assert_eq!(ok("~/Mail"), "/home/me/Mail");
        assert_eq!(ok("$MAIL_ROOT/me"), "/srv/mail/me");
        assert_eq!(ok("${MAIL_ROOT}/me"), "/srv/mail/me");
        assert_eq!(ok("/a/${X}y/$X.d"), "/a/xy/x.d");
        assert_eq!(ok("/a/$X-$X"), "/a/x-x");
        assert_eq!(ok("/cost/$$5"), "/cost/$5");
        assert_eq!(ok("/no/tilde/~here"), "/no/tilde/~here");
        assert_eq!(ok("/plain"), "/plain");
        assert_eq!(ok(""), "");
    }

    #[test]
    fn refuses_what_it_cannot_expand() {
        assert_eq!(
            expand_path("$NOPE/x", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(
            expand_path("/a/${NOPE}", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(expand_path("~bob/x", &env), Err(ExpandError::TildeUser));
        assert_eq!(expand_path("~", &|_: &str| None), Err(ExpandError::NoHome));
        for bad in ["/a/$", "/a/$/b", "/a/${X", "/a/${}", "/a/${1X}", "/a/$1"] {
            assert_eq!(expand_path(bad, &env), Err(ExpandError::BadDollar), "{bad}");
        }
    }
}
