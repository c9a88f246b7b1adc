//! Compare the far (IMAP) and near (maildir) sides by content, not counts.
//!
//! Both sides become a map from a content key to (flag letters, raw bytes). The key is the
//! Message-ID (or, for messages without one, `hdr:` + a hash of the header block), then
//! `|` and the hex SHA-256 of the whole message with CRLF normalised to LF, so the same
//! message stored with either line ending compares equal. Two messages with the same key
//! in one folder are an error: that is how tests assert "no duplicates".
//!
//! Flag letters are the six synced flags as maildir letters, sorted: D (\Draft),
//! F (\Flagged), P ($Forwarded), R (\Answered), S (\Seen), T (\Deleted).

use super::dovecot::{Dovecot, SeedMessage};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// key -> (flag letters, raw bytes)
pub type Messages = BTreeMap<String, (String, Vec<u8>)>;

/// The messages of a far folder (display name, e.g. `"Archive/2021"`), read with EXAMINE
/// so nothing changes on the server.
pub fn far_messages(d: &Dovecot, display_folder: &str) -> Result<Messages> {
    let name = d.server_name(display_folder);
    let mut session = d.session()?;
    let mailbox = session
        .examine(&name)
        .with_context(|| format!("EXAMINE {name:?}"))?;
    let mut out = Messages::new();
    if mailbox.exists > 0 {
        let fetches = session.uid_fetch("1:*", "(FLAGS BODY.PEEK[])")?;
        for fetch in fetches.iter() {
            let uid = fetch.uid.unwrap_or_default();
            let raw = fetch
                .body()
                .with_context(|| format!("{display_folder}: no body for UID {uid}"))?;
            let flags = imap_flag_letters(fetch.flags().iter().map(ToString::to_string));
            insert(&mut out, raw, flags, || {
                format!("far {display_folder} UID {uid}")
            })?;
        }
    }
    session.logout()?;
    Ok(out)
}

/// The messages of one near maildir folder (the directory holding `cur/` and `new/`).
pub fn near_messages(folder_dir: &Path) -> Result<Messages> {
    let mut out = Messages::new();
    for sub in ["cur", "new"] {
        let dir = folder_dir.join(sub);
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let info = name.split_once(":2,").map_or("", |(_, info)| info);
            let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            insert(&mut out, &raw, maildir_flag_letters(info), || {
                path.display().to_string()
            })?;
        }
    }
    Ok(out)
}

/// What a folder should hold after seeding `messages`: the same map, built from the seed.
pub fn expected_messages(messages: &[SeedMessage], display_folder: &str) -> Result<Messages> {
    let mut out = Messages::new();
    for (i, m) in messages.iter().enumerate() {
        if m.folder == display_folder {
            let flags = imap_flag_letters(m.flags.iter().cloned());
            insert(&mut out, &m.bytes, flags, || format!("seed message {i}"))?;
        }
    }
    Ok(out)
}

/// The content key of a raw message (see the module docs).
pub fn message_key(raw: &[u8]) -> String {
    let text = crlf_to_lf(raw);
    let header_end = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(text.len(), |p| p + 1);
    let header = &text[..header_end];
    let id = match header_field(header, "message-id") {
        Some(id) => id,
        None => format!("hdr:{}", hex::encode(Sha256::digest(header))),
    };
    format!("{id}|{}", hex::encode(Sha256::digest(&text)))
}

/// The first value of header field `name` (case-insensitive), unfolded and trimmed.
fn header_field(header: &[u8], name: &str) -> Option<String> {
    let header = String::from_utf8_lossy(header);
    let mut value: Option<String> = None;
    for line in header.lines() {
        let folded = line.starts_with([' ', '\t']);
        match (&mut value, folded) {
            (Some(v), true) => v.push_str(line),
            (Some(_), false) => break,
            (None, true) => {}
            (None, false) => {
                if let Some((field, rest)) = line.split_once(':')
                    && field.eq_ignore_ascii_case(name)
                {
                    value = Some(rest.to_string());
                }
            }
        }
    }
    value.map(|v| v.trim().to_string())
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        if !(b == b'\r' && raw.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// Sorted maildir letters of the six synced IMAP flags; other flags are ignored.
pub fn imap_flag_letters(flags: impl IntoIterator<Item = String>) -> String {
    let mut letters: Vec<char> = flags
        .into_iter()
        .filter_map(|f| match f.as_str() {
            "\\Draft" => Some('D'),
            "\\Flagged" => Some('F'),
            "$Forwarded" => Some('P'),
            "\\Answered" => Some('R'),
            "\\Seen" => Some('S'),
            "\\Deleted" => Some('T'),
            _ => None,
        })
        .collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Sorted letters among D F P R S T in a maildir info string (after `:2,`).
pub fn maildir_flag_letters(info: &str) -> String {
    let mut letters: Vec<char> = info.chars().filter(|c| "DFPRST".contains(*c)).collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

fn insert(
    out: &mut Messages,
    raw: &[u8],
    flags: String,
    origin: impl Fn() -> String,
) -> Result<()> {
    let key = message_key(raw);
    if out.contains_key(&key) {
        bail!("duplicate message {key} (again at {})", origin());
    }
    out.insert(key, (flags, raw.to_vec()));
    Ok(())
}
