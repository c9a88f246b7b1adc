//! What each side holds, by content: the far side of a user (over IMAP, read-only) and a
//! near maildir tree, as folder -> content key -> (where, flags), and the check that a
//! side holds exactly what the benchmark's model says it should.
//!
//! Content keys and flag letters are those of `tests/support/compare.rs` (Message-ID plus a
//! hash of the whole message with CRLF made LF; sorted maildir letters of the six synced
//! flags), except that an `X-TUID:` header line is left out of the key: mbsync 1.4 adds one
//! to every message it copies (its temporary UID for finding the copy again), so an mbsync
//! copy differs from the original by that line and nothing else. Bodies are read in
//! bounded batches and only their keys kept.

use crate::compare::{imap_flag_letters, maildir_flag_letters};
use crate::dovecot::Dovecot;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// folder (display name) -> key -> flag letters: what a side should hold.
pub type Model = BTreeMap<String, BTreeMap<String, String>>;

/// folder (display name) -> key -> (location, flag letters): what a side holds.
pub type View<T> = BTreeMap<String, BTreeMap<String, (T, String)>>;

/// The far side: locations are UIDs.
pub type FarView = View<u32>;
/// The near side: locations are file paths.
pub type NearView = View<PathBuf>;

/// Bodies fetched per UID FETCH: at most this many messages ...
const BATCH_MESSAGES: usize = 200;
/// ... or about this many bytes.
const BATCH_BYTES: u64 = 16 << 20;

/// Every selectable folder of `user` and its messages, read with EXAMINE and BODY.PEEK.
pub fn far_view(d: &Dovecot, user: &str) -> Result<FarView> {
    let mut session = d.session_as(user)?;
    let names = session.list(Some(""), Some("*"))?;
    let mut folders = Vec::new();
    for name in names.iter() {
        if name
            .attributes()
            .iter()
            .any(|a| matches!(a, imap_proto::NameAttribute::NoSelect))
        {
            continue;
        }
        folders.push(name.name().to_string());
    }
    let mut view = FarView::new();
    for server in folders {
        let display = if server.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            mailferry::mapping::decode_mutf7(&server)
                .map_err(|e| anyhow!("far folder {server:?} of {user}: {e}"))?
        };
        let mailbox = session
            .examine(&server)
            .with_context(|| format!("EXAMINE {server:?} as {user}"))?;
        let messages = view.entry(display.clone()).or_default();
        if mailbox.exists == 0 {
            continue;
        }
        let meta = session.uid_fetch("1:*", "(UID FLAGS RFC822.SIZE)")?;
        let mut listed: Vec<(u32, String, u64)> = Vec::new();
        for f in meta.iter() {
            let uid = f
                .uid
                .with_context(|| format!("{display}: FETCH without UID"))?;
            let flags = imap_flag_letters(f.flags().iter().map(|f| f.to_string()));
            listed.push((uid, flags, u64::from(f.size.unwrap_or(0))));
        }
        listed.sort();
        let flags_of: BTreeMap<u32, String> =
            listed.iter().map(|(u, f, _)| (*u, f.clone())).collect();
        let mut start = 0;
        while start < listed.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < listed.len() && end - start < BATCH_MESSAGES && bytes < BATCH_BYTES {
                bytes += listed[end].2;
                end += 1;
            }
            let set: Vec<String> = listed[start..end]
                .iter()
                .map(|(u, _, _)| u.to_string())
                .collect();
            let bodies = session.uid_fetch(set.join(","), "BODY.PEEK[]")?;
            for f in bodies.iter() {
                let uid = f
                    .uid
                    .with_context(|| format!("{display}: FETCH without UID"))?;
                let raw = f
                    .body()
                    .with_context(|| format!("{display}: no body for UID {uid}"))?;
                let key = key(raw);
                let flags = flags_of.get(&uid).cloned().unwrap_or_default();
                if let Some((other, _)) = messages.insert(key.clone(), (uid, flags)) {
                    bail!(
                        "{user}: far folder {display:?} holds message {key} twice (UIDs {other} and {uid})"
                    );
                }
            }
            start = end;
        }
    }
    session.logout()?;
    Ok(view)
}

/// Every maildir folder under `root` (a directory with `cur/`) and its messages (files in
/// `cur/` and `new/` not starting with `.`). `mutf7`: folder names on disk are modified
/// UTF-7 (as mbsync 1.4 writes them), else UTF-8. A missing root is an empty view.
pub fn near_view(root: &Path, mutf7: bool) -> Result<NearView> {
    let mut view = NearView::new();
    if root.exists() {
        walk(root, root, mutf7, &mut view)?;
    }
    Ok(view)
}

fn walk(root: &Path, dir: &Path, mutf7: bool, view: &mut NearView) -> Result<()> {
    if dir.join("cur").is_dir() {
        let rel = dir.strip_prefix(root)?;
        let mut parts = Vec::new();
        for c in rel.iter() {
            let c = c
                .to_str()
                .with_context(|| format!("{}: not UTF-8", dir.display()))?;
            parts.push(if mutf7 {
                mailferry::mapping::decode_mutf7(c)
                    .map_err(|e| anyhow!("near folder {}: {e}", dir.display()))?
            } else {
                c.to_string()
            });
        }
        let display = parts.join("/");
        let messages = view.entry(display.clone()).or_default();
        for sub in ["cur", "new"] {
            let sub_dir = dir.join(sub);
            let entries =
                fs::read_dir(&sub_dir).with_context(|| format!("reading {}", sub_dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if name.starts_with('.') {
                    continue;
                }
                let info = name.split_once(":2,").map_or("", |(_, info)| info);
                let flags = maildir_flag_letters(info);
                let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let key = key(&raw);
                if let Some((other, _)) = messages.insert(key.clone(), (path.clone(), flags)) {
                    bail!(
                        "near folder {display:?} holds message {key} twice ({} and {})",
                        other.display(),
                        path.display()
                    );
                }
            }
        }
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        // Not followed: symlinks (file_type does not follow them), cur/new/tmp.
        if entry.file_type()?.is_dir() && !["cur", "new", "tmp"].iter().any(|s| name == *s) {
            walk(root, &entry.path(), mutf7, view)?;
        }
    }
    Ok(())
}

/// Checks that `view` holds exactly `model`: every folder of the model exists, every
/// message is there once with the model's flags, nothing else is (folders outside the
/// model must be empty). The error names `what` and the first differences.
pub fn check<T>(what: &str, view: &View<T>, model: &Model) -> Result<()> {
    let mut problems = Vec::new();
    let (mut missing, mut extra, mut flags) = (0usize, 0usize, 0usize);
    for (folder, expected) in model {
        let Some(found) = view.get(folder) else {
            problems.push(format!(
                "folder {folder:?} is missing ({} messages)",
                expected.len()
            ));
            missing += expected.len();
            continue;
        };
        for (key, want) in expected {
            match found.get(key) {
                None => {
                    missing += 1;
                    problems.push(format!("{folder:?}: message {key} is missing"));
                }
                Some((_, got)) if got != want => {
                    flags += 1;
                    problems.push(format!(
                        "{folder:?}: message {key} has flags {got:?}, expected {want:?}"
                    ));
                }
                Some(_) => {}
            }
        }
    }
    for (folder, found) in view {
        let expected = model.get(folder);
        for key in found.keys() {
            if expected.is_none_or(|e| !e.contains_key(key)) {
                extra += 1;
                problems.push(format!("{folder:?}: unexpected message {key}"));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut text = format!(
        "{what}: {missing} message(s) missing, {extra} unexpected, {flags} with wrong flags"
    );
    for p in problems.iter().take(10) {
        let _ = write!(text, "\n  {p}");
    }
    if problems.len() > 10 {
        let _ = write!(text, "\n  ... and {} more", problems.len() - 10);
    }
    bail!(text)
}

/// Messages and folders in a model.
pub fn count(model: &Model) -> usize {
    model.values().map(BTreeMap::len).sum()
}

/// The content key of a message, without any `X-TUID:` header line (see the module docs).
pub fn key(raw: &[u8]) -> String {
    let mut start = 0;
    // Line by line through the header block (which ends at the first empty line).
    while start < raw.len() {
        let end = raw[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |p| start + p + 1);
        let line = &raw[start..end];
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        if line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"X-TUID:") {
            let mut without = Vec::with_capacity(raw.len());
            without.extend_from_slice(&raw[..start]);
            without.extend_from_slice(&raw[end..]);
            return crate::compare::message_key(&without);
        }
        start = end;
    }
    crate::compare::message_key(raw)
}
