//! Folder names (pure, no I/O): modified UTF-7, far server name <-> display name, display
//! name <-> path under the maildir root (SPEC §3), the refusal of unsafe names, and the
//! folder patterns of SPEC §2.
//!
//! Three spellings of one folder:
//! - the **server name**, as IMAP sends it: modified UTF-7, the server's hierarchy
//!   delimiter, the personal namespace prefix (`INBOX.Archive.2021`);
//! - the **display name** mailferry uses everywhere else (reports, patterns, CLI targets,
//!   state): UTF-8, `/` between components, no prefix (`Archive/2021`), and the name of
//!   the primary mailbox is always spelled `INBOX`;
//! - the **near path**, relative to the channel's maildir root (`Archive/2021` in the
//!   verbatim layout, `.Archive.2021` in maildir++).
//!
//! Every conversion here is total over valid input and refuses anything else with a
//! [`MappingError`] that names the folder and the reason. A near path produced here is
//! always relative and made of normal components only, so nothing can leave the root.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// The name of the primary mailbox, matched case-insensitively everywhere.
pub const INBOX: &str = "INBOX";

/// The longest name of one directory entry on the filesystems mailferry runs on.
const MAX_COMPONENT_BYTES: usize = 255;

/// How folders are laid out under a channel's maildir root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `A/B` is the directory `<root>/A/B`; INBOX is `<root>/INBOX`.
    Verbatim,
    /// INBOX is `<root>` itself; `A/B` is `<root>/.A.B` (Courier's maildir++).
    MaildirPlusPlus,
}

impl Layout {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Verbatim => "verbatim",
            Layout::MaildirPlusPlus => "maildir++",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layout {
    type Err = String;
    /// Parses the config spelling; the error text lists the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "verbatim" => Ok(Layout::Verbatim),
            "maildir++" => Ok(Layout::MaildirPlusPlus),
            _ => Err(format!(
                "{s:?} is not a layout; use \"verbatim\" or \"maildir++\""
            )),
        }
    }
}

/// How folder names are spelled on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderNames {
    /// Plain UTF-8 (`Entwürfe`).
    Utf8,
    /// The server's modified UTF-7 (`Entw&APw-rfe`), as mbsync 1.4 wrote them.
    Imap,
}

impl FolderNames {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            FolderNames::Utf8 => "utf8",
            FolderNames::Imap => "imap",
        }
    }
}

impl fmt::Display for FolderNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FolderNames {
    type Err = String;
    /// Parses the config spelling; the error text lists the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "utf8" => Ok(FolderNames::Utf8),
            "imap" => Ok(FolderNames::Imap),
            _ => Err(format!(
                "{s:?} is not a folder name spelling; use \"utf8\" or \"imap\""
            )),
        }
    }
}

/// Why a folder name cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A name is not valid modified UTF-7 (RFC 3501 §5.1.3).
    #[error("folder {folder:?} is not valid modified UTF-7: {reason}")]
    BadMutf7 { folder: String, reason: String },
    /// A folder that cannot be represented safely on one side; it is skipped alone.
    #[error("folder {folder:?} is refused: {reason}")]
    Refused { folder: String, reason: Refusal },
    /// A path under the maildir root that is not a folder in the channel's layout.
    #[error("{path:?} is not a folder in the {layout} layout: {reason}")]
    NotAFolder {
        path: String,
        layout: Layout,
        reason: String,
    },
    /// A folder pattern that cannot be used.
    #[error("folder pattern {pattern:?} is invalid: {reason}")]
    BadPattern { pattern: String, reason: String },
}

/// The reasons a folder name is refused, each saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the name is empty")]
    Empty,
    #[error("it starts with '/', which would make it an absolute path")]
    LeadingSlash,
    #[error("it has an empty component (two '/' in a row, or one at the end)")]
    EmptyComponent,
    #[error("its component {0:?} would refer to another directory")]
    DotComponent(String),
    #[error("it contains a NUL or control character")]
    ControlChar,
    #[error(
        "its component {0:?} would clash with a maildir's cur/new/tmp directory in the verbatim layout"
    )]
    Reserved(String),
    #[error(
        "its component {0:?} contains '.', the hierarchy separator of the maildir++ layout; use layout = \"verbatim\" or rename the folder"
    )]
    DotInComponent(String),
    #[error("its name on disk, {0:?}, is longer than 255 bytes")]
    TooLong(String),
    #[error(
        "its component {0:?} contains '/', which mailferry uses as the hierarchy separator, but the server's separator is not '/'"
    )]
    SlashInComponent(String),
    #[error("it is outside the personal namespace {0:?}")]
    OutsideNamespace(String),
    #[error("once the namespace prefix is removed it reads INBOX, the same as the real INBOX")]
    AmbiguousInbox,
    #[error(
        "the server would read it as another folder, {0:?} (a component contains the server's hierarchy delimiter, or the server has no hierarchy)"
    )]
    NotRepresentable(String),
    #[error("it would not stay inside the maildir root")]
    Escapes,
}

fn refused(folder: &str, reason: Refusal) -> MappingError {
    MappingError::Refused {
        folder: shown(folder),
        reason,
    }
}

/// A name as errors show it: a server may send names of any length, and a message
/// quoting 10,000 characters (twice) says nothing more than one quoting the first 100.
fn shown(name: &str) -> String {
    const SHOWN_CHARS: usize = 100;
    match name.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &name[..cut], name.len()),
        None => name.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Modified UTF-7 (RFC 3501 §5.1.3)

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// A character that modified UTF-7 writes as itself: printable US-ASCII.
fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

fn flush_shifted(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut buf: u32 = 0;
    let mut bits = 0u32;
    for unit in units.drain(..) {
        buf = (buf << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(B64[((buf >> bits) & 0x3f) as usize]));
        }
        buf &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(B64[((buf << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
}

/// Encodes a name in modified UTF-7: printable ASCII stands for itself (`&` as `&-`),
/// every other run of characters is UTF-16 in modified base64 between `&` and `-`.
pub fn encode_mutf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut units: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_shifted(&mut out, &mut units);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut pair = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut pair));
        }
    }
    flush_shifted(&mut out, &mut units);
    out
}

/// Decodes a modified UTF-7 name. Refuses raw non-ASCII or control characters, an
/// unterminated `&`, characters outside the modified base64 alphabet, leftover or
/// non-zero padding bits, lone surrogates, and every non-canonical spelling (printable
/// ASCII in base64, two adjacent encoded runs), so that each name has exactly one
/// spelling and decoding then encoding gives the input back.
pub fn decode_mutf7(name: &str) -> Result<String, MappingError> {
    let bad = |reason: String| MappingError::BadMutf7 {
        folder: shown(name),
        reason,
    };
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    let mut after_shifted_run = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(bad(
                    "it contains a raw non-ASCII or control character".to_string()
                ));
            }
            out.push(char::from(b));
            after_shifted_run = false;
            i += 1;
            continue;
        }
        let start = i + 1;
        let Some(len) = bytes[start..].iter().position(|&c| c == b'-') else {
            return Err(bad("an '&' is not closed by '-'".to_string()));
        };
        let end = start + len;
        i = end + 1;
        if len == 0 {
            out.push('&');
            after_shifted_run = false;
            continue;
        }
        if after_shifted_run {
            return Err(bad(
                "two encoded runs follow each other; they must be one".to_string()
            ));
        }
        after_shifted_run = true;
        let mut units: Vec<u16> = Vec::with_capacity(len * 6 / 16);
        let mut buf: u32 = 0;
        let mut bits = 0u32;
        for &c in &bytes[start..end] {
            let Some(v) = b64_value(c) else {
                return Err(bad(format!(
                    "{:?} is not a modified base64 character",
                    char::from(c)
                )));
            };
            buf = (buf << 6) | v;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                units.push(((buf >> bits) & 0xffff) as u16);
                buf &= (1 << bits) - 1;
            }
        }
        if bits >= 6 {
            return Err(bad(
                "an encoded run does not hold a whole number of UTF-16 units".to_string(),
            ));
        }
        if buf != 0 {
            return Err(bad(
                "an encoded run ends with non-zero padding bits".to_string()
            ));
        }
        for c in char::decode_utf16(units) {
            let Ok(c) = c else {
                return Err(bad("it encodes a lone UTF-16 surrogate".to_string()));
            };
            if is_direct(c) {
                return Err(bad(format!(
                    "it encodes the printable character {c:?}, which must be written as itself"
                )));
            }
            out.push(c);
        }
    }
    if encode_mutf7(&out) != name {
        return Err(bad("it is not in canonical form".to_string()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Far side: server name <-> display name

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case(INBOX)
}

/// Strips `prefix` from `name`; a prefix starting with INBOX matches that part in any case.
fn strip_namespace<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let inbox_len = INBOX.len();
    if prefix.len() >= inbox_len
        && prefix.is_char_boundary(inbox_len)
        && is_inbox(&prefix[..inbox_len])
    {
        let head = name.get(..inbox_len)?;
        if !is_inbox(head) {
            return None;
        }
        return name[inbox_len..].strip_prefix(&prefix[inbox_len..]);
    }
    name.strip_prefix(prefix)
}

/// Server folder name -> the display name mailferry uses everywhere (`Archive/2021`):
/// decodes modified UTF-7, strips the personal namespace `prefix` (`INBOX.`; INBOX itself
/// stays `INBOX`, and the INBOX part of a prefix matches in any case), splits on the
/// server's `delimiter` (`None` = a flat server) and joins with `/`.
///
/// Refuses: a name outside the namespace, an empty name or component, a component holding
/// `/` when the delimiter is not `/`, invalid modified UTF-7, and a name that reads INBOX
/// only once the prefix is removed (it would be confused with the real INBOX).
pub fn far_display_name(
    server_name: &str,
    delimiter: Option<char>,
    prefix: &str,
) -> Result<String, MappingError> {
    if is_inbox(server_name) {
        return Ok(INBOX.to_string());
    }
    let rest = if prefix.is_empty() {
        server_name
    } else {
        strip_namespace(server_name, prefix)
            .ok_or_else(|| refused(server_name, Refusal::OutsideNamespace(prefix.to_string())))?
    };
    if rest.is_empty() {
        return Err(refused(server_name, Refusal::Empty));
    }
    let decoded = decode_mutf7(rest).map_err(|e| match e {
        MappingError::BadMutf7 { reason, .. } => MappingError::BadMutf7 {
            folder: shown(server_name),
            reason,
        },
        other => other,
    })?;
    let components: Vec<&str> = match delimiter {
        Some(d) => decoded.split(d).collect(),
        None => vec![decoded.as_str()],
    };
    for c in &components {
        if c.is_empty() {
            return Err(refused(server_name, Refusal::EmptyComponent));
        }
        if delimiter != Some('/') && c.contains('/') {
            return Err(refused(
                server_name,
                Refusal::SlashInComponent((*c).to_string()),
            ));
        }
    }
    let display = components.join("/");
    if is_inbox(&display) {
        return Err(refused(server_name, Refusal::AmbiguousInbox));
    }
    Ok(display)
}

/// Display name -> server name: components joined with the server's `delimiter`, the
/// namespace `prefix` added (except for INBOX), modified UTF-7 encoded. With no delimiter
/// (a flat server) the display name is encoded whole.
///
/// This never fails; when a name may not be representable on the server (a component
/// holding the delimiter, a hierarchy on a flat server), use [`far_server_name_checked`].
pub fn far_server_name(display: &str, delimiter: Option<char>, prefix: &str) -> String {
    if is_inbox(display) {
        return INBOX.to_string();
    }
    let body = match delimiter {
        Some(d) => {
            let mut s = String::with_capacity(display.len());
            for (i, c) in display.split('/').enumerate() {
                if i > 0 {
                    s.push(d);
                }
                s.push_str(&encode_mutf7(c));
            }
            s
        }
        None => encode_mutf7(display),
    };
    format!("{prefix}{body}")
}

/// [`far_server_name`], refusing a display name the server would read back as a
/// different folder (for instance `v1.2` on a server whose delimiter is `.`). Use it
/// before creating a far folder for a near one.
pub fn far_server_name_checked(
    display: &str,
    delimiter: Option<char>,
    prefix: &str,
) -> Result<String, MappingError> {
    let server = far_server_name(display, delimiter, prefix);
    let back = far_display_name(&server, delimiter, prefix)?;
    let same = if is_inbox(display) {
        back == INBOX
    } else {
        back == display
    };
    if !same {
        return Err(refused(display, Refusal::NotRepresentable(back)));
    }
    Ok(server)
}

// ---------------------------------------------------------------------------------------
// Near side: display name <-> path under the maildir root

/// Display name -> path relative to the maildir root (SPEC §3).
///
/// verbatim: `A/B` -> `A/B`, `INBOX` -> `INBOX`; maildir++: `INBOX` -> `` (the root
/// itself), `A/B` -> `.A.B`. With [`FolderNames::Imap`] each component is spelled in
/// modified UTF-7 on disk, else UTF-8. `INBOX` in any case is the INBOX.
///
/// Refuses an empty name or component, `.` or `..`, a NUL or control character, a
/// leading `/`, a component `cur`/`new`/`tmp` (in any case) in verbatim, a `.` inside a
/// component in maildir++, and a name on disk longer than 255 bytes. The result is
/// always relative with only normal components.
pub fn near_rel_path(
    display: &str,
    layout: Layout,
    names: FolderNames,
) -> Result<PathBuf, MappingError> {
    let refuse = |reason| Err(refused(display, reason));
    if display.is_empty() {
        return refuse(Refusal::Empty);
    }
    if display.starts_with('/') {
        return refuse(Refusal::LeadingSlash);
    }
    if display.chars().any(char::is_control) {
        return refuse(Refusal::ControlChar);
    }
    if is_inbox(display) {
        return Ok(match layout {
            Layout::Verbatim => PathBuf::from(INBOX),
            Layout::MaildirPlusPlus => PathBuf::new(),
        });
    }
    let mut on_disk: Vec<String> = Vec::new();
    for c in display.split('/') {
        if c.is_empty() {
            return refuse(Refusal::EmptyComponent);
        }
        if c == "." || c == ".." {
            return refuse(Refusal::DotComponent(c.to_string()));
        }
        match layout {
            Layout::Verbatim => {
                if ["cur", "new", "tmp"]
                    .iter()
                    .any(|r| c.eq_ignore_ascii_case(r))
                {
                    return refuse(Refusal::Reserved(c.to_string()));
                }
            }
            Layout::MaildirPlusPlus => {
                if c.contains('.') {
                    return refuse(Refusal::DotInComponent(c.to_string()));
                }
            }
        }
        on_disk.push(match names {
            FolderNames::Utf8 => c.to_string(),
            FolderNames::Imap => encode_mutf7(c),
        });
    }
    let entries = match layout {
        Layout::Verbatim => on_disk,
        Layout::MaildirPlusPlus => vec![format!(".{}", on_disk.join("."))],
    };
    let mut path = PathBuf::new();
    for e in &entries {
        if e.len() > MAX_COMPONENT_BYTES {
            return refuse(Refusal::TooLong(shown(e)));
        }
        path.push(e);
    }
    // Belt and braces: whatever the checks above missed, never hand out a path that is
    // absolute or has a `.`/`..` component.
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
        || path.components().count() != entries.len()
    {
        return refuse(Refusal::Escapes);
    }
    Ok(path)
}

/// The inverse of [`near_rel_path`], for folders found on disk: path relative to the
/// maildir root -> display name. verbatim `INBOX` (any case) -> `INBOX`; maildir++ ``
/// (the root) -> `INBOX`.
///
/// Fails when the path is not a folder name in this layout (a maildir++ directory not
/// starting with `.`, a nested maildir++ path, the root in verbatim, a name that is not
/// UTF-8 or not valid modified UTF-7 with [`FolderNames::Imap`], or a spelling that
/// [`near_rel_path`] would not produce, such as maildir++ `.INBOX`).
pub fn display_from_near(
    rel: &Path,
    layout: Layout,
    names: FolderNames,
) -> Result<String, MappingError> {
    let not_folder = |reason: String| MappingError::NotAFolder {
        path: rel.display().to_string(),
        layout,
        reason,
    };
    let mut entries: Vec<&str> = Vec::new();
    for c in rel.components() {
        let Component::Normal(s) = c else {
            return Err(not_folder(
                "it is not a plain relative path below the maildir root".to_string(),
            ));
        };
        let Some(s) = s.to_str() else {
            return Err(not_folder("its name is not UTF-8".to_string()));
        };
        entries.push(s);
    }
    let on_disk: Vec<&str> = match layout {
        Layout::Verbatim => {
            if entries.is_empty() {
                return Err(not_folder(
                    "the maildir root itself is not a folder in this layout".to_string(),
                ));
            }
            entries
        }
        Layout::MaildirPlusPlus => match entries.as_slice() {
            [] => return Ok(INBOX.to_string()),
            [one] => match one.strip_prefix('.') {
                Some(rest) => rest.split('.').collect(),
                None => {
                    return Err(not_folder(
                        "maildir++ folder directories start with '.'".to_string(),
                    ));
                }
            },
            _ => {
                return Err(not_folder(
                    "maildir++ folders are directories directly under the root".to_string(),
                ));
            }
        },
    };
    let mut components: Vec<String> = Vec::with_capacity(on_disk.len());
    for c in on_disk {
        components.push(match names {
            FolderNames::Utf8 => c.to_string(),
            FolderNames::Imap => decode_mutf7(c).map_err(|e| match e {
                MappingError::BadMutf7 { reason, .. } => not_folder(format!(
                    "folder_names = \"imap\" but {c:?} is not valid modified UTF-7 ({reason})"
                )),
                other => other,
            })?,
        });
    }
    let display = components.join("/");
    if layout == Layout::Verbatim && is_inbox(&display) {
        return Ok(INBOX.to_string());
    }
    let back = near_rel_path(&display, layout, names)?;
    if back != rel {
        let at = if back.as_os_str().is_empty() {
            "the maildir root".to_string()
        } else {
            format!("{:?}", back.display().to_string())
        };
        return Err(not_folder(format!(
            "it would be the folder {display:?}, which lives at {at}"
        )));
    }
    Ok(display)
}

// ---------------------------------------------------------------------------------------
// Folder patterns

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters.
    Any,
    /// `%`: any run of characters without `/`.
    AnyInLevel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    include: bool,
    tokens: Vec<Token>,
}

/// The channel's folder patterns (SPEC §2), applied to display names: `*` matches any run
/// of characters, `%` any run without `/`, a leading `!` excludes; each folder takes the
/// verdict of the last pattern that matches it, and a folder no pattern matches is
/// excluded. INBOX (the first component, in any case) is matched case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patterns {
    source: Vec<String>,
    compiled: Vec<Pattern>,
}

/// Spells a first component that reads INBOX in any case as `INBOX`.
fn normalise_inbox(name: &str) -> String {
    let (first, rest) = match name.find('/') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if is_inbox(first) {
        format!("{INBOX}{rest}")
    } else {
        name.to_string()
    }
}

impl Patterns {
    /// Compiles the patterns; refuses an empty pattern and a lone `!`.
    pub fn new(patterns: &[String]) -> Result<Patterns, MappingError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for p in patterns {
            let (include, body) = match p.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, p.as_str()),
            };
            if body.is_empty() {
                let reason = if include {
                    "it is empty"
                } else {
                    "'!' is not followed by a folder name or pattern"
                };
                return Err(MappingError::BadPattern {
                    pattern: p.clone(),
                    reason: reason.to_string(),
                });
            }
            let tokens = normalise_inbox(body)
                .chars()
                .map(|c| match c {
                    '*' => Token::Any,
                    '%' => Token::AnyInLevel,
                    c => Token::Literal(c),
                })
                .collect();
            compiled.push(Pattern { include, tokens });
        }
        Ok(Patterns {
            source: patterns.to_vec(),
            compiled,
        })
    }

    /// The patterns as written in the config.
    pub fn as_slice(&self) -> &[String] {
        &self.source
    }

    /// Whether the folder with this display name is synced.
    pub fn matches(&self, display: &str) -> bool {
        let name: Vec<char> = normalise_inbox(display).chars().collect();
        self.compiled
            .iter()
            .rev()
            .find(|p| glob_match(&p.tokens, &name))
            .is_some_and(|p| p.include)
    }
}

/// Matches `name` against `tokens` by dynamic programming over prefixes: O(len × len).
fn glob_match(tokens: &[Token], name: &[char]) -> bool {
    // reachable[j]: the tokens seen so far can match exactly name[..j].
    let mut reachable = vec![false; name.len() + 1];
    reachable[0] = true;
    for t in tokens {
        let mut next = vec![false; name.len() + 1];
        match t {
            Token::Literal(c) => {
                for j in 0..name.len() {
                    next[j + 1] = reachable[j] && name[j] == *c;
                }
            }
            Token::Any => {
                let mut on = false;
                for j in 0..=name.len() {
                    on = on || reachable[j];
                    next[j] = on;
                }
            }
            Token::AnyInLevel => {
                let mut on = false;
                for j in 0..=name.len() {
                    on = reachable[j] || (on && name[j - 1] != '/');
                    next[j] = on;
                }
            }
        }
        reachable = next;
    }
    reachable[name.len()]
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    const V: Layout = Layout::Verbatim;
    const M: Layout = Layout::MaildirPlusPlus;
    const U: FolderNames = FolderNames::Utf8;
    const I: FolderNames = FolderNames::Imap;

    fn refusal(r: Result<PathBuf, MappingError>) -> Refusal {
        match r {
            Err(MappingError::Refused { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    // --- modified UTF-7 -----------------------------------------------------------------

    #[test]
    fn mutf7_rfc_examples() {
        assert_eq!(encode_mutf7("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode_mutf7("Entw&APw-rfe").unwrap(), "Entwürfe");
        let rfc = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(decode_mutf7(rfc).unwrap(), "~peter/mail/台北/日本語");
        assert_eq!(encode_mutf7("~peter/mail/台北/日本語"), rfc);
        assert_eq!(encode_mutf7("&"), "&-");
        assert_eq!(decode_mutf7("&-").unwrap(), "&");
        assert_eq!(encode_mutf7("Tom & Jerry"), "Tom &- Jerry");
        // RFC 2152's smiley example in modified form, and a non-BMP character.
        assert_eq!(encode_mutf7("☺!"), "&Jjo-!");
        assert_eq!(decode_mutf7("&2D3eAA-").unwrap(), "😀");
    }

    #[test]
    fn mutf7_round_trips() {
        for s in [
            "",
            "INBOX",
            "Sent Items",
            "Entwürfe",
            "日本語",
            "a&b&&c",
            "Привет, мир",
            "mixed ü & 😀 end",
            "ü",
            "üü",
            "üüü",
            "\u{1}\u{7f}",
            "~!@#$%^*()_+-=[]{}|;':\",./<>?`",
        ] {
            let enc = encode_mutf7(s);
            assert!(
                enc.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{enc:?} is not printable ASCII"
            );
            assert_eq!(decode_mutf7(&enc).unwrap(), s, "via {enc:?}");
        }
    }

    #[test]
    fn mutf7_rejects_malformed() {
        for bad in [
            "&",          // unterminated
            "abc&APw",    // unterminated
            "&AP*-",      // '*' is not in the alphabet
            "&AP/-",      // '/' is standard base64, not modified base64
            "&A-",        // 6 bits: not a whole UTF-16 unit
            "&APwA-",     // superfluous character after one unit
            "&APx-",      // non-zero padding bits
            "&2D0-",      // lone high surrogate
            "&3gA-",      // lone low surrogate
            "&AGE-",      // 'a' must be written as itself
            "&ACY-",      // '&' must be "&-"
            "&APw-&APw-", // two adjacent runs must be one
            "Entwürfe",   // raw non-ASCII
            "tab\there",  // raw control character
        ] {
            assert!(
                matches!(decode_mutf7(bad), Err(MappingError::BadMutf7 { .. })),
                "{bad:?} should be rejected"
            );
        }
        // The error names the folder.
        let e = decode_mutf7("x&").unwrap_err().to_string();
        assert!(e.contains("\"x&\""), "{e}");
    }

    // --- far names ----------------------------------------------------------------------

    #[test]
    fn far_dot_delimited_with_inbox_prefix() {
        let d = Some('.');
        assert_eq!(
            far_display_name("INBOX.Archive.2021", d, "INBOX.").unwrap(),
            "Archive/2021"
        );
        assert_eq!(
            far_server_name("Archive/2021", d, "INBOX."),
            "INBOX.Archive.2021"
        );
        assert_eq!(far_display_name("INBOX", d, "INBOX.").unwrap(), "INBOX");
        assert_eq!(far_display_name("inbox", d, "INBOX.").unwrap(), "INBOX");
        assert_eq!(far_server_name("INBOX", d, "INBOX."), "INBOX");
        // The INBOX part of the prefix matches in any case.
        assert_eq!(far_display_name("Inbox.Sent", d, "INBOX.").unwrap(), "Sent");
        // Names are decoded per component.
        assert_eq!(
            far_display_name("INBOX.Entw&APw-rfe.alt", d, "INBOX.").unwrap(),
            "Entwürfe/alt"
        );
        assert_eq!(
            far_server_name("Entwürfe/alt", d, "INBOX."),
            "INBOX.Entw&APw-rfe.alt"
        );
    }

    #[test]
    fn far_slash_delimited_no_prefix() {
        let d = Some('/');
        assert_eq!(far_display_name("A/B/C", d, "").unwrap(), "A/B/C");
        assert_eq!(far_server_name("A/B/C", d, ""), "A/B/C");
        assert_eq!(far_display_name("iNbOx", d, "").unwrap(), "INBOX");
        // Children of INBOX keep their spelling.
        assert_eq!(far_display_name("INBOX/x", d, "").unwrap(), "INBOX/x");
        assert_eq!(far_server_name("inbox", d, ""), "INBOX");
    }

    #[test]
    fn far_refusals() {
        let is_refused = |r: Result<String, MappingError>, want: Refusal| match r {
            Err(MappingError::Refused { reason, .. }) => assert_eq!(reason, want),
            other => panic!("expected {want:?}, got {other:?}"),
        };
        is_refused(
            far_display_name("INBOX.a/b", Some('.'), "INBOX."),
            Refusal::SlashInComponent("a/b".into()),
        );
        is_refused(
            far_display_name("a/b", None, ""),
            Refusal::SlashInComponent("a/b".into()),
        );
        is_refused(
            far_display_name("Shared.x", Some('.'), "INBOX."),
            Refusal::OutsideNamespace("INBOX.".into()),
        );
        is_refused(
            far_display_name("INBOX.", Some('.'), "INBOX."),
            Refusal::Empty,
        );
        is_refused(
            far_display_name("INBOX.a..b", Some('.'), "INBOX."),
            Refusal::EmptyComponent,
        );
        is_refused(
            far_display_name("INBOX.inbox", Some('.'), "INBOX."),
            Refusal::AmbiguousInbox,
        );
        assert!(matches!(
            far_display_name("INBOX.&Jjo", Some('.'), "INBOX."),
            Err(MappingError::BadMutf7 { folder, .. }) if folder == "INBOX.&Jjo"
        ));
    }

    #[test]
    fn far_flat_server() {
        assert_eq!(
            far_display_name("Sent Items", None, "").unwrap(),
            "Sent Items"
        );
        assert_eq!(far_server_name("Sent Items", None, ""), "Sent Items");
    }

    #[test]
    fn far_checked_refuses_what_would_not_come_back() {
        assert_eq!(
            far_server_name_checked("Archive/2021", Some('.'), "INBOX.").unwrap(),
            "INBOX.Archive.2021"
        );
        assert_eq!(
            far_server_name_checked("inbox", Some('.'), "INBOX.").unwrap(),
            "INBOX"
        );
        assert!(matches!(
            far_server_name_checked("v1.2", Some('.'), "INBOX."),
            Err(MappingError::Refused {
                reason: Refusal::NotRepresentable(back),
                ..
            }) if back == "v1/2"
        ));
        assert!(far_server_name_checked("A/B", None, "").is_err());
    }

    #[test]
    fn far_round_trips() {
        for (delim, prefix) in [
            (Some('.'), "INBOX."),
            (Some('/'), ""),
            (Some('/'), "Mail/"),
            (None, ""),
        ] {
            let names: &[&str] = if delim.is_some() {
                &["INBOX", "Archive/2021", "Entwürfe", "a&b/日本語", "INBOX/x"]
            } else {
                &["INBOX", "Entwürfe", "a&b 日本語"]
            };
            for &n in names {
                let server = far_server_name_checked(n, delim, prefix).unwrap();
                assert_eq!(far_display_name(&server, delim, prefix).unwrap(), n);
            }
        }
    }

    // --- near paths ---------------------------------------------------------------------

    #[test]
    fn near_paths_per_layout() {
        assert_eq!(near_rel_path("A/B", V, U).unwrap(), Path::new("A/B"));
        assert_eq!(near_rel_path("INBOX", V, U).unwrap(), Path::new("INBOX"));
        assert_eq!(near_rel_path("inbox", V, U).unwrap(), Path::new("INBOX"));
        assert_eq!(near_rel_path("INBOX", M, U).unwrap(), Path::new(""));
        assert_eq!(near_rel_path("Inbox", M, U).unwrap(), Path::new(""));
        assert_eq!(near_rel_path("A/B", M, U).unwrap(), Path::new(".A.B"));
        assert_eq!(
            near_rel_path("Entwürfe/x", V, I).unwrap(),
            Path::new("Entw&APw-rfe/x")
        );
        assert_eq!(
            near_rel_path("Entwürfe/x", M, I).unwrap(),
            Path::new(".Entw&APw-rfe.x")
        );
        assert_eq!(
            near_rel_path("Entwürfe/x", V, U).unwrap(),
            Path::new("Entwürfe/x")
        );
    }

    #[test]
    fn near_refusals() {
        for l in [V, M] {
            for n in [U, I] {
                assert_eq!(refusal(near_rel_path("", l, n)), Refusal::Empty);
                assert_eq!(refusal(near_rel_path("/etc", l, n)), Refusal::LeadingSlash);
                assert_eq!(
                    refusal(near_rel_path("A//B", l, n)),
                    Refusal::EmptyComponent
                );
                assert_eq!(refusal(near_rel_path("A/", l, n)), Refusal::EmptyComponent);
                assert_eq!(
                    refusal(near_rel_path("..", l, n)),
                    Refusal::DotComponent("..".into())
                );
                assert_eq!(
                    refusal(near_rel_path("A/../../etc", l, n)),
                    Refusal::DotComponent("..".into())
                );
                assert_eq!(
                    refusal(near_rel_path(".", l, n)),
                    Refusal::DotComponent(".".into())
                );
                assert_eq!(refusal(near_rel_path("a\0b", l, n)), Refusal::ControlChar);
                assert_eq!(refusal(near_rel_path("a\nb", l, n)), Refusal::ControlChar);
                assert_eq!(
                    refusal(near_rel_path("a\u{7f}", l, n)),
                    Refusal::ControlChar
                );
                assert_eq!(
                    refusal(near_rel_path("a\u{85}", l, n)),
                    Refusal::ControlChar
                );
            }
        }
        for name in ["cur", "A/new", "tmp/B", "A/CUR"] {
            assert!(
                matches!(refusal(near_rel_path(name, V, U)), Refusal::Reserved(_)),
                "{name}"
            );
        }
        // cur/new/tmp are fine in maildir++, where they become ".cur" etc.
        assert_eq!(near_rel_path("cur", M, U).unwrap(), Path::new(".cur"));
        assert_eq!(
            refusal(near_rel_path("v1.2", M, U)),
            Refusal::DotInComponent("v1.2".into())
        );
        assert_eq!(
            refusal(near_rel_path("A/.hidden", M, U)),
            Refusal::DotInComponent(".hidden".into())
        );
        // A dot is fine in verbatim.
        assert_eq!(near_rel_path("v1.2", V, U).unwrap(), Path::new("v1.2"));
        // 255 bytes is the limit, counted on disk.
        let ok = "a".repeat(255);
        assert!(near_rel_path(&ok, V, U).is_ok());
        assert!(matches!(
            refusal(near_rel_path(&"a".repeat(256), V, U)),
            Refusal::TooLong(_)
        ));
        // In maildir++ the whole ".A.B" is one directory name.
        let half = "a".repeat(127);
        assert!(matches!(
            refusal(near_rel_path(&format!("{half}/{half}"), M, U)),
            Refusal::TooLong(_)
        ));
        assert!(near_rel_path(&format!("{half}/{half}"), V, U).is_ok());
        // mUTF-7 makes a name longer on disk: 100 × 'ü' is 200 bytes of UTF-8 but 270 of
        // modified UTF-7.
        let u = "ü".repeat(100);
        assert!(near_rel_path(&u, V, U).is_ok());
        assert!(matches!(
            refusal(near_rel_path(&u, V, I)),
            Refusal::TooLong(_)
        ));
        // The message names the folder and the reason.
        let e = near_rel_path("A/cur", V, U).unwrap_err().to_string();
        assert!(e.contains("\"A/cur\"") && e.contains("cur/new/tmp"), "{e}");
    }

    #[test]
    fn near_paths_stay_inside_the_root() {
        let nasty = [
            "..",
            "../x",
            "x/..",
            "/abs",
            "a/./b",
            "./a",
            "a/b/../../..",
            "~",
            "~/x",
            "a\\..",
        ];
        for l in [V, M] {
            for n in [U, I] {
                for name in nasty {
                    if let Ok(p) = near_rel_path(name, l, n) {
                        assert!(
                            p.components().all(|c| matches!(c, Component::Normal(_))),
                            "{name:?} -> {p:?}"
                        );
                        assert!(p.is_relative());
                    }
                }
            }
        }
    }

    #[test]
    fn near_round_trips_in_both_layouts_and_spellings() {
        let names = [
            "INBOX",
            "Archive",
            "Archive/2021",
            "Entwürfe",
            "a&b/日本語 x",
            "INBOX/child",
            "Sent Items",
        ];
        for l in [V, M] {
            for n in [U, I] {
                for name in names {
                    let p = near_rel_path(name, l, n).unwrap();
                    assert_eq!(
                        display_from_near(&p, l, n).unwrap(),
                        name,
                        "{l} {n} via {p:?}"
                    );
                }
            }
        }
        // A dot in a component round-trips in verbatim.
        let p = near_rel_path("v1.2/x", V, U).unwrap();
        assert_eq!(display_from_near(&p, V, U).unwrap(), "v1.2/x");
    }

    #[test]
    fn display_from_near_rejects_non_folders() {
        let not = |p: &str, l, n| {
            let r = display_from_near(Path::new(p), l, n);
            assert!(r.is_err(), "{p:?} in {l} {n} gave {r:?}");
        };
        not("", V, U); // the root is not a folder in verbatim
        not("Archive", M, U); // maildir++ folders start with '.'
        not("cur", M, U);
        not(".A/.B", M, U); // maildir++ is flat
        not(".A..B", M, U); // empty component
        not(".", M, U);
        not(".INBOX", M, U); // would be the root
        not(".inbox", M, U);
        not("..", V, U);
        not("/abs", V, U);
        not("A/cur", V, U);
        not("Entw&APw", V, I); // bad mUTF-7
        not("&AGE-", V, I); // non-canonical mUTF-7
        not(".Entw&APx-rfe", M, I);
        not("a\u{1}", V, U);
        // maildir++ root is INBOX; verbatim INBOX in any case is INBOX.
        assert_eq!(display_from_near(Path::new(""), M, U).unwrap(), "INBOX");
        assert_eq!(
            display_from_near(Path::new("inbox"), V, U).unwrap(),
            "INBOX"
        );
        assert_eq!(
            display_from_near(Path::new("INBOX"), V, I).unwrap(),
            "INBOX"
        );
        // Utf8 spelling keeps a literal mUTF-7-looking name as it is.
        assert_eq!(
            display_from_near(Path::new("Entw&APw-rfe"), V, U).unwrap(),
            "Entw&APw-rfe"
        );
    }

    #[test]
    fn dot_delimited_far_to_maildirpp_and_back() {
        let display = far_display_name("INBOX.Archive.2021", Some('.'), "INBOX.").unwrap();
        let p = near_rel_path(&display, M, U).unwrap();
        assert_eq!(p, Path::new(".Archive.2021"));
        let back = display_from_near(&p, M, U).unwrap();
        assert_eq!(
            far_server_name(&back, Some('.'), "INBOX."),
            "INBOX.Archive.2021"
        );
    }

    #[test]
    fn layout_and_names_parse() {
        assert_eq!("verbatim".parse::<Layout>().unwrap(), Layout::Verbatim);
        assert_eq!(
            "maildir++".parse::<Layout>().unwrap(),
            Layout::MaildirPlusPlus
        );
        assert!("Maildir++".parse::<Layout>().is_err());
        assert_eq!("utf8".parse::<FolderNames>().unwrap(), FolderNames::Utf8);
        assert_eq!("imap".parse::<FolderNames>().unwrap(), FolderNames::Imap);
        assert!("utf-8".parse::<FolderNames>().is_err());
        assert_eq!(Layout::MaildirPlusPlus.to_string(), "maildir++");
    }

    // --- patterns -----------------------------------------------------------------------

    fn pats(p: &[&str]) -> Patterns {
        Patterns::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn pattern_star_matches_everything() {
        let p = pats(&["*"]);
        for n in ["INBOX", "A", "A/B/C", "Entwürfe", ""] {
            assert!(p.matches(n), "{n}");
        }
    }

    #[test]
    fn pattern_exclusion_and_last_match_wins() {
        let p = pats(&["*", "!Junk"]);
        assert!(p.matches("INBOX"));
        assert!(!p.matches("Junk"));
        assert!(p.matches("Junk/Sub"));
        assert!(p.matches("NotJunk"));

        let p = pats(&["*", "!Archive*", "Archive/2021"]);
        assert!(p.matches("Archive/2021"));
        assert!(!p.matches("Archive/2020"));
        assert!(!p.matches("Archive"));
        let p = pats(&["Archive/2021", "!Archive*"]);
        assert!(!p.matches("Archive/2021"));
    }

    #[test]
    fn pattern_no_match_is_excluded() {
        let p = pats(&["INBOX", "Sent"]);
        assert!(p.matches("INBOX"));
        assert!(p.matches("Sent"));
        assert!(!p.matches("Drafts"));
        assert!(!pats(&[]).matches("INBOX"));
    }

    #[test]
    fn pattern_percent_stays_in_one_level() {
        let p = pats(&["Archive/%"]);
        assert!(p.matches("Archive/2021"));
        assert!(p.matches("Archive/"));
        assert!(!p.matches("Archive/2021/Q1"));
        assert!(!p.matches("Archive"));
        let p = pats(&["%"]);
        assert!(p.matches("Top"));
        assert!(!p.matches("Top/Sub"));
        let p = pats(&["%/%/x"]);
        assert!(p.matches("a/b/x"));
        assert!(!p.matches("a/x"));
        let p = pats(&["A*B%C"]);
        assert!(p.matches("A/x/BC"));
        assert!(p.matches("AxByyC"));
        assert!(!p.matches("AB/C"));
    }

    #[test]
    fn pattern_inbox_is_case_insensitive_only_for_inbox() {
        let p = pats(&["inbox"]);
        assert!(p.matches("INBOX"));
        let p = pats(&["INBOX"]);
        assert!(p.matches("inbox"));
        let p = pats(&["Inbox/*"]);
        assert!(p.matches("INBOX/x"));
        // Other components stay case-sensitive.
        let p = pats(&["INBOX/Sub"]);
        assert!(!p.matches("INBOX/sub"));
        let p = pats(&["Junk"]);
        assert!(!p.matches("junk"));
        let p = pats(&["*", "!inbox"]);
        assert!(!p.matches("INBOX"));
    }

    #[test]
    fn pattern_rejects_empty() {
        for bad in ["", "!"] {
            let e = Patterns::new(&[bad.to_string()]).unwrap_err();
            assert!(matches!(e, MappingError::BadPattern { .. }), "{bad:?}");
        }
        assert_eq!(pats(&["*", "!Junk"]).as_slice(), ["*", "!Junk"]);
    }

    #[test]
    fn errors_quote_long_names_shortened() {
        let long = "n".repeat(10_000);
        for e in [
            near_rel_path(&long, V, U).unwrap_err(),
            far_display_name(&format!("{long}\u{1}"), Some('/'), "").unwrap_err(),
            far_display_name(&format!("{long}//x"), Some('/'), "").unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(text.len() < 400, "{} characters: {text}", text.len());
            assert!(text.contains("(10"), "{text}");
        }
        assert_eq!(shown("short"), "short");
    }
}
