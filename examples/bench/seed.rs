//! Seeding the server fast: the corpus is written straight into each user's server-side
//! maildir (`cur/` files with their flags in the name, owned by uid 8) and Dovecot indexes
//! it on first access. The same files are hard-linked into every user's maildir, so the
//! users start with identical mail (Dovecot never rewrites a message file; it renames or
//! unlinks it). APPEND over IMAP would take ~5 ms a message, minutes for 30k.

use crate::corpus::{self, Rng, Size};
use crate::dovecot::Dovecot;
use crate::view::Model;
use anyhow::{Context, Result};
use std::fs;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

/// The mail user and group Dovecot serves as (see tests/support/dovecot.rs).
const MAIL_ID: u32 = 8;

/// What was seeded.
pub struct Seeded {
    pub model: Model,
    pub bytes: u64,
    pub largest: usize,
    pub folders: usize,
}

/// The server-side directory of folder `display` in a `LAYOUT=fs` maildir rooted at `root`.
fn folder_dir(root: &Path, display: &str) -> PathBuf {
    if display == "INBOX" {
        root.to_path_buf()
    } else {
        root.join(mailferry::mapping::encode_mutf7(display))
    }
}

/// Writes the corpus of `size` into the maildir of every one of `users` (which must be
/// empty and never yet opened by Dovecot).
pub fn seed(d: &Dovecot, users: &[&str], size: Size) -> Result<Seeded> {
    let mut rng = Rng::new(0x5eed);
    // File names come from a stream of their own, so the mail is the same as before
    // they were made realistic.
    let mut names = Rng::new(0x6e61_6d65);
    let mut secs = 1_600_000_000u64;
    let mut model = Model::new();
    let (mut bytes, mut largest) = (0u64, 0usize);
    let roots: Vec<PathBuf> = users.iter().map(|u| d.user_maildir_of(u)).collect();
    let folders = corpus::folders(size);
    let mut n = 0usize;
    for (folder, count) in &folders {
        let dirs: Vec<PathBuf> = roots.iter().map(|r| folder_dir(r, folder)).collect();
        for dir in &dirs {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(dir.join(sub))
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            // $Forwarded is a keyword to Dovecot: maildir letter `a` is keyword 0.
            fs::write(dir.join("dovecot-keywords"), "0 $Forwarded\n")?;
        }
        let messages = model.entry(folder.clone()).or_default();
        for _ in 0..*count {
            let raw = corpus::message(&mut rng, "c", n, folder);
            let flags = corpus::flags(&mut rng, folder);
            let mut letters: String = flags.chars().filter(|c| *c != 'P').collect();
            if flags.contains('P') {
                letters.push('a');
            }
            secs += 1 + names.below(5_000);
            let name = format!(
                "{}:2,{letters}",
                server_file_base(
                    secs,
                    names.below(1_000_000),
                    1_000 + names.below(60_000),
                    &raw
                )
            );
            let first = dirs[0].join("cur").join(&name);
            fs::write(&first, &raw).with_context(|| format!("writing {}", first.display()))?;
            for dir in &dirs[1..] {
                fs::hard_link(&first, dir.join("cur").join(&name))?;
            }
            bytes += raw.len() as u64;
            largest = largest.max(raw.len());
            messages.insert(crate::view::key(&raw), flags);
            n += 1;
        }
    }
    for root in &roots {
        chown_tree(root)?;
    }
    Ok(Seeded {
        model,
        bytes,
        largest,
        folders: folders.len(),
    })
}

/// A server file name before its flags, as Dovecot names the mail it delivers:
/// `<secs>.M<usecs>P<pid>.<host>,S=<size>,W=<size with CRLF line ends>`. Dovecot finds
/// a file's UID through a hash of this part; names alike but for a counter (as this
/// benchmark once wrote) collide in that hash so often that every re-read of a folder
/// took time quadratic in its size (0.25-0.3 s for a 5,000-message folder, against
/// milliseconds).
fn server_file_base(secs: u64, usecs: u64, pid: u64, raw: &[u8]) -> String {
    let bare_line_feeds = raw
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
        .count();
    format!(
        "{secs}.M{usecs}P{pid}.mail.example.org,S={},W={}",
        raw.len(),
        raw.len() + bare_line_feeds
    )
}

/// chown -R to the mail user.
fn chown_tree(path: &Path) -> Result<()> {
    chown(path, Some(MAIL_ID), Some(MAIL_ID))
        .with_context(|| format!("chown {}", path.display()))?;
    if path.is_dir() {
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                chown_tree(&entry.path())?;
            } else {
                chown(entry.path(), Some(MAIL_ID), Some(MAIL_ID))?;
            }
        }
    }
    Ok(())
}
