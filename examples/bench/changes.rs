//! A day of changes, planned once from the model and then applied to each tool's copy:
//! on the server (new mail, flag changes, expunges, moves between folders, done over IMAP
//! as another mail client would) or in the maildir (flag renames, deletions, new files, as
//! mutt would). Messages are chosen by content key, so both tools get the same changes
//! even though their UIDs and file names differ.

use crate::corpus::{self, Rng};
use crate::dovecot::Dovecot;
use crate::view::{FarView, Model, NearView};
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// (folder, key, flags) of every message in the model, in a stable order.
fn flatten(model: &Model) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (folder, messages) in model {
        for (key, flags) in messages {
            out.push((folder.clone(), key.clone(), flags.clone()));
        }
    }
    out
}

/// `flags` with one of S, F, R, P toggled (sorted letters).
fn toggle(rng: &mut Rng, flags: &str) -> String {
    let letter = ['S', 'F', 'R', 'P'][rng.below(4) as usize];
    let mut letters: Vec<char> = if flags.contains(letter) {
        flags.chars().filter(|c| *c != letter).collect()
    } else {
        flags.chars().chain([letter]).collect()
    };
    letters.sort_unstable();
    letters.into_iter().collect()
}

/// A folder for new mail: INBOX half of the time.
fn some_folder(rng: &mut Rng, model: &Model) -> String {
    if rng.chance(0.5) || model.len() < 2 {
        return "INBOX".to_string();
    }
    let i = rng.below(model.len() as u64) as usize;
    model
        .keys()
        .nth(i)
        .cloned()
        .unwrap_or_else(|| "INBOX".into())
}

fn imap_flags(letters: &str) -> Vec<&'static str> {
    letters
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft"),
            'F' => Some("\\Flagged"),
            'P' => Some("$Forwarded"),
            'R' => Some("\\Answered"),
            'S' => Some("\\Seen"),
            'T' => Some("\\Deleted"),
            _ => None,
        })
        .collect()
}

/// A day on the server: ~1% new mail, 1% flag changes, 0.5% expunges, 0.2% moves.
pub struct ServerDay {
    /// (folder, message with LF endings, flags)
    pub new: Vec<(String, Vec<u8>, String)>,
    /// (folder, key, new flags)
    pub flags: Vec<(String, String, String)>,
    /// (folder, key, destination folder)
    pub moves: Vec<(String, String, String)>,
    /// (folder, key)
    pub expunges: Vec<(String, String)>,
}

impl ServerDay {
    /// The changes of day `day`, and the model once they are synced.
    pub fn plan(model: &Model, day: usize) -> (ServerDay, Model) {
        let mut rng = Rng::new(0xda7 + day as u64 * 7919);
        let all = flatten(model);
        let total = all.len();
        let (n_new, n_flags, n_expunge, n_moves) = (
            (total / 100).max(1),
            (total / 100).max(1),
            (total / 200).max(1),
            (total / 500).max(1),
        );
        let picked = rng.sample(total, n_flags + n_expunge + n_moves);
        let mut next = model.clone();
        let mut plan = ServerDay {
            new: Vec::new(),
            flags: Vec::new(),
            moves: Vec::new(),
            expunges: Vec::new(),
        };
        for (i, &idx) in picked.iter().enumerate() {
            let (folder, key, flags) = &all[idx];
            if i < n_flags {
                let new = toggle(&mut rng, flags);
                next.entry(folder.clone())
                    .or_default()
                    .insert(key.clone(), new.clone());
                plan.flags.push((folder.clone(), key.clone(), new));
            } else if i < n_flags + n_expunge {
                next.entry(folder.clone()).or_default().remove(key);
                plan.expunges.push((folder.clone(), key.clone()));
            } else {
                let mut dest = some_folder(&mut rng, model);
                if &dest == folder {
                    dest = if folder == "INBOX" {
                        model
                            .keys()
                            .find(|f| *f != "INBOX")
                            .cloned()
                            .unwrap_or(dest)
                    } else {
                        "INBOX".to_string()
                    };
                }
                if &dest == folder {
                    continue;
                }
                next.entry(folder.clone()).or_default().remove(key);
                next.entry(dest.clone())
                    .or_default()
                    .insert(key.clone(), flags.clone());
                plan.moves.push((folder.clone(), key.clone(), dest));
            }
        }
        for n in 0..n_new {
            let folder = some_folder(&mut rng, model);
            let raw = corpus::message(&mut rng, &format!("server{day}"), n, &folder);
            let flags = if rng.chance(0.2) { "S" } else { "" }.to_string();
            next.entry(folder.clone())
                .or_default()
                .insert(crate::view::key(&raw), flags.clone());
            plan.new.push((folder, raw, flags));
        }
        (plan, next)
    }

    pub fn summary(&self) -> String {
        format!(
            "{} new, {} flag changes, {} expunged, {} moved",
            self.new.len(),
            self.flags.len(),
            self.expunges.len(),
            self.moves.len()
        )
    }

    /// Carries the day out on `user`'s mailbox over IMAP; `far` says where each message
    /// is (the view of the last check).
    pub fn apply(&self, d: &Dovecot, user: &str, far: &FarView) -> Result<()> {
        let uid = |folder: &str, key: &str| -> Result<u32> {
            far.get(folder)
                .and_then(|m| m.get(key))
                .map(|(uid, _)| *uid)
                .ok_or_else(|| anyhow!("{user}: {folder:?} has no message {key} to change"))
        };
        let mut session = d.session_as(user)?;
        for (folder, raw, flags) in &self.new {
            let crlf = corpus::to_crlf(raw);
            let name = d.server_name(folder);
            session
                .append(&name, &crlf)
                .flags(imap_flags(flags).into_iter().map(imap::types::Flag::from))
                .finish()
                .map_err(|e| anyhow!("APPEND to {name:?} as {user}: {e}"))?;
        }
        // Per folder: flag changes (grouped by the new flags), moves (by destination),
        // expunges.
        type PerFolder = (
            BTreeMap<String, Vec<u32>>,
            BTreeMap<String, Vec<u32>>,
            Vec<u32>,
        );
        let mut work: BTreeMap<&str, PerFolder> = BTreeMap::new();
        for (folder, key, flags) in &self.flags {
            let w = work.entry(folder).or_default();
            w.0.entry(flags.clone())
                .or_default()
                .push(uid(folder, key)?);
        }
        for (folder, key, dest) in &self.moves {
            let w = work.entry(folder).or_default();
            w.1.entry(dest.clone()).or_default().push(uid(folder, key)?);
        }
        for (folder, key) in &self.expunges {
            work.entry(folder).or_default().2.push(uid(folder, key)?);
        }
        let set = |uids: &[u32]| -> String {
            uids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        for (folder, (flags, moves, expunges)) in work {
            let name = d.server_name(folder);
            session
                .select(&name)
                .with_context(|| format!("SELECT {name:?} as {user}"))?;
            for (letters, uids) in flags {
                let list = imap_flags(&letters).join(" ");
                session.uid_store(set(&uids), format!("FLAGS.SILENT ({list})"))?;
            }
            for (dest, uids) in moves {
                session.uid_mv(set(&uids), d.server_name(&dest))?;
            }
            if !expunges.is_empty() {
                session.uid_store(set(&expunges), "+FLAGS.SILENT (\\Deleted)")?;
                session.uid_expunge(set(&expunges))?;
            }
        }
        session.logout()?;
        Ok(())
    }
}

/// A day in the maildir: 1% flag renames, 0.5% deletions, 0.5% new files (half in `new/`
/// without flags, half in `cur/` seen).
pub struct LocalDay {
    /// (folder, key, new flags)
    pub flags: Vec<(String, String, String)>,
    /// (folder, key)
    pub deletions: Vec<(String, String)>,
    /// (folder, message with LF endings, flags)
    pub new: Vec<(String, Vec<u8>, String)>,
}

impl LocalDay {
    /// The changes of day `day`, and the model once they are synced.
    pub fn plan(model: &Model, day: usize) -> (LocalDay, Model) {
        let mut rng = Rng::new(0x10ca1 + day as u64 * 104_729);
        let all = flatten(model);
        let total = all.len();
        let (n_flags, n_delete, n_new) = (
            (total / 100).max(1),
            (total / 200).max(1),
            (total / 200).max(1),
        );
        let picked = rng.sample(total, n_flags + n_delete);
        let mut next = model.clone();
        let mut plan = LocalDay {
            flags: Vec::new(),
            deletions: Vec::new(),
            new: Vec::new(),
        };
        for (i, &idx) in picked.iter().enumerate() {
            let (folder, key, flags) = &all[idx];
            if i < n_flags {
                let new = toggle(&mut rng, flags);
                next.entry(folder.clone())
                    .or_default()
                    .insert(key.clone(), new.clone());
                plan.flags.push((folder.clone(), key.clone(), new));
            } else {
                next.entry(folder.clone()).or_default().remove(key);
                plan.deletions.push((folder.clone(), key.clone()));
            }
        }
        for n in 0..n_new {
            let folder = some_folder(&mut rng, model);
            let raw = corpus::message(&mut rng, &format!("local{day}"), n, &folder);
            let flags = if n % 2 == 0 { "" } else { "S" }.to_string();
            next.entry(folder.clone())
                .or_default()
                .insert(crate::view::key(&raw), flags.clone());
            plan.new.push((folder, raw, flags));
        }
        (plan, next)
    }

    pub fn summary(&self) -> String {
        format!(
            "{} flag renames, {} deletions, {} new files",
            self.flags.len(),
            self.deletions.len(),
            self.new.len()
        )
    }

    /// Carries the day out in the maildir at `root` (folder names on disk in modified
    /// UTF-7 when `mutf7`); `near` says where each message is (the view of the last check).
    pub fn apply(&self, root: &Path, mutf7: bool, near: &NearView, day: usize) -> Result<()> {
        let path = |folder: &str, key: &str| -> Result<PathBuf> {
            near.get(folder)
                .and_then(|m| m.get(key))
                .map(|(p, _)| p.clone())
                .ok_or_else(|| anyhow!("{}: {folder:?} has no message {key}", root.display()))
        };
        for (folder, key, flags) in &self.flags {
            let from = path(folder, key)?;
            let name = from
                .file_name()
                .context("a message file without a name")?
                .to_string_lossy()
                .into_owned();
            let base = name.split_once(":2,").map_or(name.as_str(), |(b, _)| b);
            // Flagged files live in cur/, as mutt keeps them.
            let folder_dir = from
                .parent()
                .and_then(Path::parent)
                .context("a message file outside a folder")?;
            let to = folder_dir.join("cur").join(format!("{base}:2,{flags}"));
            fs::rename(&from, &to)
                .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
        }
        for (folder, key) in &self.deletions {
            let p = path(folder, key)?;
            fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
        for (n, (folder, raw, flags)) in self.new.iter().enumerate() {
            let dir = near_folder_dir(root, folder, mutf7);
            if !dir.join("cur").is_dir() {
                bail!("{}: no maildir folder for {folder:?}", dir.display());
            }
            let base = format!("{}.M{n}Q{day}.benchlocal", 1_700_000_000 + day);
            let (sub, name) = if flags.is_empty() {
                ("new", base)
            } else {
                ("cur", format!("{base}:2,{flags}"))
            };
            let tmp = dir.join("tmp").join(&name);
            fs::write(&tmp, raw).with_context(|| format!("writing {}", tmp.display()))?;
            fs::rename(&tmp, dir.join(sub).join(&name))?;
        }
        Ok(())
    }
}

/// The maildir folder of `display` in a verbatim tree (INBOX is `root/INBOX`).
fn near_folder_dir(root: &Path, display: &str, mutf7: bool) -> PathBuf {
    let mut dir = root.to_path_buf();
    for part in display.split('/') {
        if mutf7 {
            dir.push(mailferry::mapping::encode_mutf7(part));
        } else {
            dir.push(part);
        }
    }
    dir
}
