//! The maildir store: scanning a folder's `cur/` and `new/`, delivering through `tmp/`,
//! and reading, renaming (flags) and deleting messages that a mail client may have
//! renamed since the scan. Nothing here writes outside the folder directory or follows a
//! symlink when renaming or deleting.

mod name;
mod tree;
#[cfg(target_os = "linux")]
mod unnamed;

pub use tree::list_folder_dirs;

use crate::flags::Flags;
use crate::model::{NearId, NearMessage, PairKey};
use crate::pairkey;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often an operation looks a message up again after a mail client renamed it away
/// under our feet, before giving up with the error.
const ATTEMPTS: usize = 3;

/// Files in `tmp/` untouched this long are stale (the maildir spec's 36 hours).
const TMP_STALE_AFTER: Duration = Duration::from_secs(36 * 60 * 60);

/// One maildir folder: a directory holding `cur/`, `new/`, `tmp/`.
#[derive(Debug)]
pub struct MaildirFolder {
    dir: PathBuf,
    /// Deliveries written to `tmp/` but not yet flushed and moved into place.
    staged: std::sync::Mutex<Staged>,
}

/// Deliveries written to `tmp/` and waiting for [`MaildirFolder::sync_dirs`].
#[derive(Debug, Default)]
struct Staged {
    /// Their ids, so that one id is never staged twice.
    ids: foldhash::HashSet<String>,
    /// (contents, path in `new/` or `cur/` relative to the folder).
    moves: Vec<(Contents, String)>,
}

/// Where a staged delivery's contents wait for the flush.
#[derive(Debug)]
enum Contents {
    /// `tmp/<id>`.
    Named(PathBuf),
    /// A file without a name, made in `tmp/` (`O_TMPFILE`), kept open until it is linked
    /// into place: one directory entry per message instead of a name in `tmp/`, a link
    /// and an unlink, and nothing for a crash to leave behind.
    #[cfg(target_os = "linux")]
    Unnamed(unnamed::Unnamed),
}

impl Contents {
    /// Gives the contents the name `target`, never replacing a file there, and lets go
    /// of the staged file (a `tmp/` name left by a failed unlink is harmless: cleaned
    /// up as stale).
    fn put_in_place(self, target: &Path) -> io::Result<()> {
        match self {
            Contents::Named(tmp) => {
                // A link and an unlink beat one `renameat2(RENAME_NOREPLACE)` here: a
                // rename between directories takes a lock of the whole file system (see
                // docs/performance-history.md).
                let linked = link_no_replace(&tmp, target);
                let _ = fs::remove_file(&tmp);
                linked
            }
            #[cfg(target_os = "linux")]
            Contents::Unnamed(file) => file.link(target),
        }
    }

    /// Lets go of a delivery that is not to be put in place.
    fn discard(self) {
        match self {
            Contents::Named(tmp) => drop(fs::remove_file(tmp)),
            #[cfg(target_os = "linux")]
            Contents::Unnamed(file) => drop(file),
        }
    }
}

/// What a scan found: the messages, sorted by id, and what it skipped and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub messages: Vec<NearMessage>,
    pub warnings: Vec<String>,
}

/// `cur` or `new`: where message files live.
const MESSAGE_SUBDIRS: [&str; 2] = ["cur", "new"];

impl MaildirFolder {
    pub fn new(dir: PathBuf) -> Self {
        MaildirFolder {
            dir,
            staged: std::sync::Mutex::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the directory has `cur/`, `new/` and `tmp/`, all directories.
    pub fn exists(&self) -> bool {
        is_folder_dir(&self.dir)
    }

    /// The modification times of `new/` and `cur/`; `None` when either cannot be read.
    pub fn dir_times(&self) -> Option<crate::model::NearSnapshot> {
        let time = |sub: &str| -> Option<i128> {
            let modified = std::fs::metadata(self.dir.join(sub))
                .ok()?
                .modified()
                .ok()?;
            let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
            i128::try_from(since.as_nanos()).ok()
        };
        Some(crate::model::NearSnapshot {
            new: time("new")?,
            cur: time("cur")?,
        })
    }

    /// The time this file system gives a change made now: the modification time of a
    /// file created (and at once removed) in `tmp/`, where mail readers never look.
    /// `None` when it cannot be created or read.
    pub fn clock(&self) -> Option<i128> {
        let probe = self
            .dir
            .join("tmp")
            .join(format!(".{}.clock", name::fresh_id().0));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .ok()?;
        let modified = file.metadata().and_then(|meta| meta.modified());
        drop(file);
        let _ = fs::remove_file(&probe);
        let since = modified.ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        i128::try_from(since.as_nanos()).ok()
    }

    /// Creates the directory (and missing parents) and its `cur/`, `new/`, `tmp/`, mode
    /// 0700, fsyncing the parent of every directory it created.
    pub fn create(&self) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut at = self.dir.clone();
        loop {
            match fs::metadata(&at) {
                Ok(meta) if meta.is_dir() => break,
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a directory", at.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    missing.push(at.clone());
                    match at.parent() {
                        Some(parent) if !parent.as_os_str().is_empty() => at = parent.into(),
                        _ => break,
                    }
                }
                Err(e) => return Err(annotate(e, "cannot stat", &at)),
            }
        }
        for path in missing.iter().rev() {
            create_dir_synced(path)?;
        }
        for sub in ["cur", "new", "tmp"] {
            let path = self.dir.join(sub);
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a directory", path.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => create_dir_synced(&path)?,
                Err(e) => return Err(annotate(e, "cannot stat", &path)),
            }
        }
        Ok(())
    }

    /// Lists the messages in `cur/` and `new/` (never `tmp/`), sorted by id.
    ///
    /// The id is the file name up to the first `:`, the flags the letters after `:2,`.
    /// Names starting with `.`, non-UTF-8 names, files that are not regular files
    /// (symlinks included) and names with an empty id are skipped, never touched, and
    /// reported in `warnings`; so is every file but the first (in sorted order) that
    /// repeats an id.
    pub fn scan(&self) -> io::Result<Scan> {
        let mut found: Vec<(String, String)> = Vec::new(); // (id, file)
        let mut warnings = Vec::new();
        for sub in MESSAGE_SUBDIRS {
            let dir = self.dir.join(sub);
            let entries = fs::read_dir(&dir).map_err(|e| annotate(e, "cannot list", &dir))?;
            for entry in entries {
                let entry = entry.map_err(|e| annotate(e, "cannot list", &dir))?;
                let name = match entry.file_name().into_string() {
                    Ok(name) => name,
                    Err(raw) => {
                        warnings.push(format!(
                            "skipping file with a non-UTF-8 name: {}",
                            dir.join(raw).display()
                        ));
                        continue;
                    }
                };
                let file = file_in(sub, &name);
                if name.starts_with('.') {
                    warnings.push(format!("skipping hidden file {}", self.show(&file)));
                    continue;
                }
                let file_type = entry
                    .file_type()
                    .map_err(|e| annotate(e, "cannot stat", &entry.path()))?;
                if !file_type.is_file() {
                    warnings.push(format!("skipping {}: not a regular file", self.show(&file)));
                    continue;
                }
                let id = name::id_of(&name);
                if id.is_empty() {
                    warnings.push(format!("skipping {}: no unique name", self.show(&file)));
                    continue;
                }
                found.push((id.to_owned(), file));
            }
        }
        // Equal ids sort by file name, so which copy is kept does not depend on the
        // order the directory listed them in.
        found.sort_unstable();
        let mut messages: Vec<NearMessage> = Vec::with_capacity(found.len());
        for (id, file) in found {
            if let Some(kept) = messages.last().filter(|m| m.id.0 == id) {
                warnings.push(format!(
                    "{} repeats the unique name of {}; using only the latter",
                    self.show(&file),
                    self.show(&kept.file)
                ));
                continue;
            }
            let flags = Flags::from_maildir(name::letters_of(file_name(&file)));
            messages.push(NearMessage {
                id: NearId(id),
                flags,
                file,
            });
        }
        Ok(Scan { messages, warnings })
    }

    /// A fresh maildir unique name: `<secs>.M<micros>P<pid>Q<counter>.<hostname>`.
    pub fn fresh_id() -> NearId {
        name::fresh_id()
    }

    /// Writes `body` into `tmp/` (mode 0600; see [`Self::write_contents`]) and stages it
    /// for `new/<id>` when `flags` is empty, else for `cur/<id>:2,<letters>`;
    /// [`Self::sync_dirs`] flushes it and links it there.
    ///
    /// `id` must be fresh ([`Self::fresh_id`]): nothing looks for it in `new/` and `cur/`
    /// (two lookups in big directories cost a tenth of a first sync's processor time).
    /// Refuses an id with `/`, `:`, a leading `.` or empty (InvalidInput), and an id
    /// already staged (AlreadyExists); the link into place never replaces a file (see
    /// [`Self::sync_dirs`]).
    pub fn deliver(&self, id: &NearId, body: &[u8], flags: Flags) -> io::Result<NearMessage> {
        name::check_id(id)?;
        let file = if flags.is_empty() {
            file_in("new", &id.0)
        } else {
            file_in("cur", &name::cur_name(&id.0, flags, ""))
        };
        let mut staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !staged.ids.insert(id.0.clone()) {
            return Err(already_exists(&self.show(&file)));
        }
        let contents = match self.write_contents(id, body) {
            Ok(contents) => contents,
            Err(e) => {
                staged.ids.remove(&id.0);
                return Err(e);
            }
        };
        staged.moves.push((contents, file.clone()));
        drop(staged);
        crate::failpoint::hit();
        Ok(NearMessage {
            id: id.clone(),
            flags,
            file,
        })
    }

    /// Writes a delivery's contents into `tmp/`: without a name where the system allows,
    /// else as `tmp/<id>`.
    fn write_contents(&self, id: &NearId, body: &[u8]) -> io::Result<Contents> {
        let tmp = self.dir.join("tmp");
        #[cfg(target_os = "linux")]
        if let Some(file) = unnamed::write(&tmp, body)? {
            return Ok(Contents::Unnamed(file));
        }
        let path = tmp.join(&id.0);
        write_new_file(&path, body)?;
        Ok(Contents::Named(path))
    }

    /// Makes the deliveries since the last call durable and puts them in place: one
    /// flush of the file system for all their contents (instead of one per message), then
    /// each is linked from `tmp/` into `new/` or `cur/` (never replacing a file), then a
    /// second flush for the directory entries. A message is thus never visible in `new/`
    /// or `cur/` before its contents are on disk. Also makes flag renames durable.
    pub fn sync_dirs(&self) -> io::Result<()> {
        let staged = std::mem::take(
            &mut *self
                .staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !staged.moves.is_empty() {
            flush_file_system(&self.dir.join("tmp"))?;
        }
        let mut failure = None;
        for (contents, file) in staged.moves {
            if failure.is_some() {
                contents.discard();
                continue;
            }
            let target = self.dir.join(&file);
            if let Err(e) = contents.put_in_place(&target) {
                failure = Some(if e.kind() == io::ErrorKind::AlreadyExists {
                    already_exists(&self.show(&file))
                } else {
                    annotate(e, "cannot deliver to", &target)
                });
            }
        }
        flush_file_system(&self.dir.join("cur"))?;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The message's bytes; `Ok(None)` when it is gone (looked up again by id first, in
    /// case a mail client renamed it since the scan).
    pub fn read(&self, msg: &NearMessage) -> io::Result<Option<Vec<u8>>> {
        self.with_current(msg, |_, path| {
            let mut bytes = Vec::new();
            open_no_follow(path)?.read_to_end(&mut bytes)?;
            Ok(bytes)
        })
    }

    /// The pair key of the message, from its header block only (read up to the first
    /// empty line, at most [`pairkey::RAW_READ_CAP`] bytes). `Ok(None)` when it is gone.
    pub fn pair_key(&self, msg: &NearMessage) -> io::Result<Option<PairKey>> {
        self.with_current(msg, |_, path| {
            let file = open_no_follow(path)?;
            let mut reader = BufReader::new(file).take(pairkey::RAW_READ_CAP as u64);
            let mut header = Vec::new();
            loop {
                let start = header.len();
                if reader.read_until(b'\n', &mut header)? == 0 {
                    break;
                }
                let line = &header[start..];
                if line == b"\n" || line == b"\r\n" {
                    break;
                }
            }
            Ok(pairkey::pair_key_from_header(&header))
        })
    }

    /// The file's modification time (the IMAP internal date on upload). `Ok(None)` when
    /// the message is gone.
    pub fn mtime(&self, msg: &NearMessage) -> io::Result<Option<SystemTime>> {
        self.with_current(msg, |_, path| path.symlink_metadata()?.modified())
    }

    /// Gives the message the synced `flags` by renaming it to `cur/<id>:2,<letters>`,
    /// keeping the letters of its current name that mailferry does not sync (e.g.
    /// Dovecot's lowercase keyword letters). A message in `new/` moves to `cur/`. Refuses
    /// to replace another file (AlreadyExists). `Ok(None)` when the message is gone.
    pub fn set_flags(&self, msg: &NearMessage, flags: Flags) -> io::Result<Option<NearMessage>> {
        self.rename_flags(msg, |_| flags)
    }

    /// Adds and removes synced flags relative to the flags the file has *now*, so a flag a
    /// mail client changed since the scan is kept (the next run syncs it). `Ok(None)`
    /// when the message is gone.
    pub fn change_flags(
        &self,
        msg: &NearMessage,
        add: Flags,
        remove: Flags,
    ) -> io::Result<Option<NearMessage>> {
        self.rename_flags(msg, |current| current.union(add).difference(remove))
    }

    fn rename_flags(
        &self,
        msg: &NearMessage,
        new_flags: impl Fn(Flags) -> Flags,
    ) -> io::Result<Option<NearMessage>> {
        self.with_current(msg, |rel, path| {
            let flags = new_flags(Flags::from_maildir(name::letters_of(file_name(rel))));
            let target_rel = format!(
                "cur/{}",
                name::cur_name(&msg.id.0, flags, name::letters_of(file_name(rel)))
            );
            if target_rel != rel {
                let target = self.dir.join(&target_rel);
                if target.symlink_metadata().is_ok() {
                    return Err(already_exists(&self.show(&target_rel)));
                }
                fs::rename(path, &target)?;
                crate::failpoint::hit();
            } else {
                path.symlink_metadata()?; // NotFound sends us looking for it again
            }
            Ok(NearMessage {
                id: msg.id.clone(),
                flags,
                file: target_rel,
            })
        })
    }

    /// Deletes the message file: `Ok(true)` when deleted, `Ok(false)` when already gone.
    pub fn delete(&self, msg: &NearMessage) -> io::Result<bool> {
        let deleted = self
            .with_current(msg, |_, path| fs::remove_file(path))?
            .is_some();
        crate::failpoint::hit();
        Ok(deleted)
    }

    /// Where the message with this id is now, by listing `cur/` and `new/`; `None` when
    /// there is none. When a broken maildir holds the id twice, the first in sorted order
    /// (as in [`Self::scan`]). Also how a caller finds a delivery it may have finished
    /// before a crash.
    pub fn locate(&self, id: &NearId) -> io::Result<Option<NearMessage>> {
        let mut best: Option<String> = None;
        for sub in MESSAGE_SUBDIRS {
            let dir = self.dir.join(sub);
            let entries = fs::read_dir(&dir).map_err(|e| annotate(e, "cannot list", &dir))?;
            for entry in entries {
                let entry = entry.map_err(|e| annotate(e, "cannot list", &dir))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') || name::id_of(&name) != id.0 {
                    continue;
                }
                if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let file = file_in(sub, &name);
                if best.as_ref().is_none_or(|b| file < *b) {
                    best = Some(file);
                }
            }
        }
        Ok(best.map(|file| NearMessage {
            id: id.clone(),
            flags: Flags::from_maildir(name::letters_of(file_name(&file))),
            file,
        }))
    }

    /// Removes the folder when it holds no message: `cur/` and `new/` empty (no entry at
    /// all) and `tmp/` holding only stale files (untouched for 36 hours, deleted here).
    /// `cur/`, `new/`, `tmp/` go, then the directory itself unless something else is in
    /// it (a subfolder in the verbatim layout, a server's index files), which stays.
    /// `Ok(false)`, with nothing removed, when the folder is not empty.
    pub fn remove_if_empty(&self) -> io::Result<bool> {
        for sub in MESSAGE_SUBDIRS {
            let dir = self.dir.join(sub);
            match fs::read_dir(&dir) {
                Ok(mut entries) => {
                    if entries.next().is_some() {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(annotate(e, "cannot list", &dir)),
            }
        }
        let tmp = self.dir.join("tmp");
        let mut stale = Vec::new();
        match fs::read_dir(&tmp) {
            Ok(entries) => {
                let now = SystemTime::now();
                for entry in entries {
                    let entry = entry.map_err(|e| annotate(e, "cannot list", &tmp))?;
                    let path = entry.path();
                    let meta = path
                        .symlink_metadata()
                        .map_err(|e| annotate(e, "cannot stat", &path))?;
                    let age = meta
                        .modified()
                        .ok()
                        .and_then(|m| now.duration_since(m).ok())
                        .unwrap_or_default();
                    if !meta.is_file() || age < TMP_STALE_AFTER {
                        return Ok(false); // a delivery may be under way
                    }
                    stale.push(path);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(annotate(e, "cannot list", &tmp)),
        }
        for path in stale {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(annotate(e, "cannot remove", &path));
                }
                _ => {}
            }
        }
        // A message can arrive while we remove; put back what we removed and say so.
        let mut removed: Vec<PathBuf> = Vec::new();
        for sub in ["cur", "new", "tmp"] {
            let path = self.dir.join(sub);
            match fs::remove_dir(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    for back in &removed {
                        let _ = create_dir_synced(back);
                    }
                    if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                        return Ok(false);
                    }
                    return Err(annotate(e, "cannot remove", &path));
                }
            }
        }
        match fs::remove_dir(&self.dir) {
            Ok(()) => {
                if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound
                ) =>
            {
                if self.dir.is_dir() {
                    sync_dir(&self.dir)?;
                }
            }
            Err(e) => return Err(annotate(e, "cannot remove", &self.dir)),
        }
        Ok(true)
    }

    /// Runs `op` on the message's current file (relative name and path): first the
    /// recorded one, then, while `op` fails with NotFound, wherever `locate` finds the id
    /// now. `Ok(None)` when the id is nowhere.
    fn with_current<T>(
        &self,
        msg: &NearMessage,
        mut op: impl FnMut(&str, &Path) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        self.check_file(msg)?;
        let mut rel = msg.file.clone();
        let mut last_err = None;
        for _ in 0..ATTEMPTS {
            let path = self.dir.join(&rel);
            match op(&rel, &path) {
                Ok(value) => return Ok(Some(value)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    last_err = Some(annotate(e, "message vanished while in use:", &path));
                    match self.locate(&msg.id)? {
                        Some(now) => rel = now.file,
                        None => return Ok(None),
                    }
                }
                Err(e) => return Err(annotate(e, "cannot use message", &path)),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("message keeps moving")))
    }

    /// Refuses a `NearMessage` whose file is not `cur/<name>` or `new/<name>` with the
    /// message's id as `<name>`'s unique name: such a path could point anywhere.
    fn check_file(&self, msg: &NearMessage) -> io::Result<()> {
        let ok = match msg.file.split_once('/') {
            Some((sub, name)) => {
                MESSAGE_SUBDIRS.contains(&sub)
                    && !name.contains('/')
                    && !name.starts_with('.')
                    && !name.is_empty()
                    && name::id_of(name) == msg.id.0
            }
            None => false,
        };
        if ok {
            name::check_id(&msg.id)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message file {:?} is not cur/{id}... or new/{id}...",
                    msg.file,
                    id = msg.id
                ),
            ))
        }
    }

    /// A folder-relative file for messages: the full path.
    fn show(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }
}

/// Whether `dir` has `cur/`, `new/` and `tmp/` directories (symlinks to directories
/// count: reading through them is fine).
fn is_folder_dir(dir: &Path) -> bool {
    ["cur", "new", "tmp"]
        .iter()
        .all(|sub| fs::metadata(dir.join(sub)).is_ok_and(|m| m.is_dir()))
}

/// Puts the path (and what was being done) into an error, keeping its kind.
fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

fn already_exists(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{path} already exists; not overwriting it"),
    )
}

/// The last component of a folder-relative file (`cur/x:2,S` -> `x:2,S`).
fn file_name(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(_, name)| name)
}

/// Creates `path` (mode 0700) and fsyncs its parent; an existing directory is fine.
fn create_dir_synced(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => return Ok(()),
        Err(e) => return Err(annotate(e, "cannot create directory", path)),
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// fsyncs a directory so that entries created, renamed or removed in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| annotate(e, "cannot fsync directory", dir))
}

/// Creates `path` afresh (mode 0600; an existing name there, symlink included, is
/// removed first: tmp/ names are ours), writes `body` and fsyncs it. Removes the file
/// again on failure.
/// Flushes everything written to the file system holding `dir` (one journal commit on
/// ext4, however many files), so it survives a crash; elsewhere than Linux, fsyncs the
/// directory after each staged file was fsynced by [`write_new_file`].
#[cfg(target_os = "linux")]
fn flush_file_system(dir: &Path) -> io::Result<()> {
    let handle = File::open(dir).map_err(|e| annotate(e, "cannot open", dir))?;
    rustix::fs::syncfs(&handle).map_err(|e| annotate(io::Error::from(e), "cannot flush", dir))
}

#[cfg(not(target_os = "linux"))]
fn flush_file_system(dir: &Path) -> io::Result<()> {
    let folder = dir.parent().unwrap_or(dir);
    for sub in ["cur", "new", "tmp"] {
        sync_dir(&folder.join(sub))?;
    }
    Ok(())
}

/// Creates a file in `tmp/` with `body`; on Linux not yet flushed (see
/// [`flush_file_system`]).
fn write_new_file(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // A leftover of a crashed delivery with this id. Removing the name (never what
            // a symlink points to) and creating with O_EXCL keeps writes inside tmp/.
            fs::remove_file(path).map_err(|e| annotate(e, "cannot remove stale", path))?;
            options.open(path)
        }
        other => other,
    }
    .map_err(|e| annotate(e, "cannot create", path))?;
    let written = file.write_all(body);
    #[cfg(not(target_os = "linux"))]
    let written = written.and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(annotate(e, "cannot write", path));
    }
    Ok(())
}

/// The folder-relative name of the file `name` in the subdirectory `sub` (`cur/...`),
/// built without `format!` (a scan builds one per message).
fn file_in(sub: &str, name: &str) -> String {
    let mut file = String::with_capacity(sub.len() + 1 + name.len());
    file.push_str(sub);
    file.push('/');
    file.push_str(name);
    file
}

/// Gives `from` the additional name `to` without ever replacing an existing `to`: a hard
/// link (which fails when `to` exists), or on file systems without hard links a rename
/// after checking that `to` is free.
fn link_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported
            ) =>
        {
            if to.symlink_metadata().is_ok() {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            fs::rename(from, to)
        }
        other => other,
    }
}

/// Opens a message file for reading without following a symlink in its last component.
fn open_no_follow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn folder() -> (tempfile::TempDir, MaildirFolder) {
        let tmp = tempfile::tempdir().unwrap();
        let folder = MaildirFolder::new(tmp.path().join("INBOX"));
        folder.create().unwrap();
        (tmp, folder)
    }

    fn put(folder: &MaildirFolder, rel: &str, body: &str) {
        fs::write(folder.dir().join(rel), body).unwrap();
    }

    fn names(folder: &MaildirFolder, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder.dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn msg(id: &str, file: &str) -> NearMessage {
        NearMessage {
            id: NearId(id.into()),
            flags: Flags::from_maildir(name::letters_of(file_name(file))),
            file: file.into(),
        }
    }

    const MAIL: &[u8] = b"From: a@example.org\nMessage-ID: <m1@example.org>\n\nbody\r\n\xff\x00";

    #[test]
    fn create_makes_nested_folders_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = MaildirFolder::new(tmp.path().join("a/b/c"));
        assert!(!folder.exists());
        folder.create().unwrap();
        assert!(folder.exists());
        folder.create().unwrap();
        assert!(folder.exists());
        let half = MaildirFolder::new(tmp.path().join("half"));
        fs::create_dir_all(half.dir().join("cur")).unwrap();
        assert!(!half.exists());
        half.create().unwrap();
        assert!(half.exists());
    }

    #[test]
    fn the_clock_is_read_from_a_probe_that_leaves_no_trace() {
        let (_tmp, folder) = folder();
        put(&folder, "cur/1.a.host:2,S", "x");
        let times = folder.dir_times().unwrap();
        let clock = folder.clock().unwrap();
        assert!(clock >= times.cur, "{clock} < {}", times.cur);
        assert_eq!(fs::read_dir(folder.dir().join("tmp")).unwrap().count(), 0);
        assert_eq!(
            folder.dir_times(),
            Some(times),
            "the probe touched cur/ or new/"
        );
        let missing = MaildirFolder::new(folder.dir().join("missing"));
        assert_eq!(missing.clock(), None);
    }

    #[test]
    fn a_symlinked_cur_is_read_through() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = MaildirFolder::new(tmp.path().join("INBOX"));
        fs::create_dir_all(tmp.path().join("elsewhere/cur")).unwrap();
        fs::create_dir_all(folder.dir().join("new")).unwrap();
        fs::create_dir_all(folder.dir().join("tmp")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere/cur"), folder.dir().join("cur"))
            .unwrap();
        assert!(folder.exists());
        fs::write(tmp.path().join("elsewhere/cur/1.a.host:2,S"), "x").unwrap();
        let scan = folder.scan().unwrap();
        assert_eq!(scan.messages, vec![msg("1.a.host", "cur/1.a.host:2,S")]);
        assert_eq!(folder.read(&scan.messages[0]).unwrap().unwrap(), b"x");
    }

    #[test]
    fn scan_reads_ids_and_flags_from_new_and_cur() {
        let (_tmp, folder) = folder();
        put(&folder, "new/1.a.host", "x");
        put(&folder, "new/2.b.host:2,S", "x");
        put(&folder, "cur/3.c.host:2,FS", "x");
        put(&folder, "cur/4.d.host:2,RSab", "x");
        put(&folder, "cur/5.e.host", "x");
        put(&folder, "tmp/6.f.host", "x"); // never scanned
        let scan = folder.scan().unwrap();
        assert_eq!(scan.warnings, Vec::<String>::new());
        let got: Vec<(&str, String, &str)> = scan
            .messages
            .iter()
            .map(|m| (m.id.0.as_str(), m.flags.to_maildir(), m.file.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("1.a.host", "".into(), "new/1.a.host"),
                ("2.b.host", "S".into(), "new/2.b.host:2,S"),
                ("3.c.host", "FS".into(), "cur/3.c.host:2,FS"),
                ("4.d.host", "RS".into(), "cur/4.d.host:2,RSab"),
                ("5.e.host", "".into(), "cur/5.e.host"),
            ]
        );
    }

    #[test]
    fn scan_skips_and_reports_odd_entries_and_duplicate_ids() {
        let (tmp, folder) = folder();
        put(&folder, "cur/1.a.host:2,S", "x");
        put(&folder, "new/1.a.host", "dup");
        put(&folder, "cur/.hidden", "x");
        put(&folder, "cur/:2,S", "x");
        fs::create_dir(folder.dir().join("cur/subdir")).unwrap();
        let outside = tmp.path().join("outside");
        fs::write(&outside, "secret").unwrap();
        std::os::unix::fs::symlink(&outside, folder.dir().join("cur/9.link:2,S")).unwrap();
        let bad = std::ffi::OsStr::from_bytes(b"7.bad\xff.host");
        fs::write(folder.dir().join("new").join(bad), "x").unwrap();

        let scan = folder.scan().unwrap();
        assert_eq!(scan.messages, vec![msg("1.a.host", "cur/1.a.host:2,S")]);
        let warnings = scan.warnings.join("\n");
        assert_eq!(scan.warnings.len(), 6, "{warnings}");
        for needle in [
            ".hidden",
            "subdir",
            "9.link",
            "non-UTF-8",
            ":2,S: no unique name",
        ] {
            assert!(warnings.contains(needle), "{needle} in {warnings}");
        }
        assert!(warnings.contains("new/1.a.host repeats"), "{warnings}");
        assert!(warnings.contains("cur/1.a.host:2,S"), "{warnings}");
        // Nothing was touched.
        assert_eq!(fs::read_to_string(&outside).unwrap(), "secret");
        assert_eq!(names(&folder, "cur").len(), 5);
    }

    #[test]
    fn deliver_round_trips_into_new_or_cur_by_flags() {
        let (_tmp, folder) = folder();
        let plain = MaildirFolder::fresh_id();
        let m = folder.deliver(&plain, MAIL, Flags::EMPTY).unwrap();
        folder.sync_dirs().unwrap();
        assert_eq!(m.file, format!("new/{plain}"));
        assert_eq!(m.flags, Flags::EMPTY);

        let seen = MaildirFolder::fresh_id();
        let flags = Flags::SEEN.union(Flags::FLAGGED);
        let s = folder.deliver(&seen, b"", flags).unwrap();
        folder.sync_dirs().unwrap();
        assert_eq!(s.file, format!("cur/{seen}:2,FS"));
        folder.sync_dirs().unwrap();

        assert_eq!(folder.read(&m).unwrap().unwrap(), MAIL);
        assert_eq!(folder.read(&s).unwrap().unwrap(), b"");
        assert!(names(&folder, "tmp").is_empty());
        let scan = folder.scan().unwrap();
        let mut expected = vec![m, s];
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(scan.messages, expected);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(folder.dir().join(&expected[0].file)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_delivery_is_in_place_only_once_flushed() {
        // Unnamed in tmp/ (where the system allows), then named (the fallback).
        for named in [false, true] {
            if named {
                unnamed::use_named_only_on_this_thread();
            }
            let (_tmp, folder) = folder();
            let m = folder
                .deliver(&NearId("1.batch.host".into()), b"body", Flags::SEEN)
                .unwrap();
            assert_eq!(m.file, "cur/1.batch.host:2,S");
            assert!(names(&folder, "cur").is_empty(), "visible before the flush");
            let in_tmp: &[&str] = if named { &["1.batch.host"] } else { &[] };
            assert_eq!(names(&folder, "tmp"), in_tmp);
            folder.sync_dirs().unwrap();
            assert!(names(&folder, "tmp").is_empty());
            assert_eq!(fs::read(folder.dir().join(&m.file)).unwrap(), b"body");
            // Nothing staged: a flush is harmless.
            folder.sync_dirs().unwrap();
        }
    }

    #[test]
    fn deliver_refuses_bad_ids_and_never_overwrites() {
        let (tmp, folder) = folder();
        for bad in ["", "a/b", "../x", "a:2,S", ".hidden"] {
            let err = folder
                .deliver(&NearId(bad.into()), b"x", Flags::EMPTY)
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let id = NearId("1.same.host".into());
        folder.deliver(&id, b"first", Flags::EMPTY).unwrap();
        // Staged (in tmp/, not yet in place), the id is taken.
        for flags in [Flags::EMPTY, Flags::SEEN] {
            let err = folder.deliver(&id, b"second", flags).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        }
        folder.sync_dirs().unwrap();
        // In place, the link refuses to replace it and nothing is left in tmp/.
        folder.deliver(&id, b"second", Flags::EMPTY).unwrap();
        let err = folder.sync_dirs().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            fs::read(folder.dir().join("new/1.same.host")).unwrap(),
            b"first"
        );
        assert!(names(&folder, "tmp").is_empty());
        // Another file already holding the target name: the link refuses to replace it.
        let raced = NearId("2.raced.host".into());
        put(&folder, "cur/2.raced.host:2,S", "theirs");
        let err = link_no_replace(
            &folder.dir().join("new/1.same.host"),
            &folder.dir().join("cur/2.raced.host:2,S"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        folder.deliver(&raced, b"ours", Flags::SEEN).unwrap();
        // A delivery staged after the refused one is let go, not put in place.
        folder
            .deliver(&NearId("4.after.host".into()), b"later", Flags::EMPTY)
            .unwrap();
        let err = folder.sync_dirs().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            fs::read_to_string(folder.dir().join("cur/2.raced.host:2,S")).unwrap(),
            "theirs"
        );
        assert_eq!(
            fs::read_to_string(folder.dir().join("new/1.same.host")).unwrap(),
            "first"
        );
        assert_eq!(names(&folder, "new"), ["1.same.host"]);
        assert!(names(&folder, "tmp").is_empty());

        // A symlink planted at tmp/<id> is replaced, not written through (by the named
        // way; the unnamed one takes no name in tmp/).
        unnamed::use_named_only_on_this_thread();
        let outside = tmp.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        std::os::unix::fs::symlink(&outside, folder.dir().join("tmp/3.planted.host")).unwrap();
        let m = folder
            .deliver(&NearId("3.planted.host".into()), b"mail", Flags::EMPTY)
            .unwrap();
        folder.sync_dirs().unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(folder.read(&m).unwrap().unwrap(), b"mail");
        assert!(names(&folder, "tmp").is_empty());
    }

    #[test]
    fn set_flags_keeps_unknown_letters_and_moves_new_to_cur() {
        let (_tmp, folder) = folder();
        put(&folder, "cur/1.a.host:2,RSab", "x");
        let m = msg("1.a.host", "cur/1.a.host:2,RSab");
        let m = folder
            .set_flags(&m, Flags::FLAGGED.union(Flags::SEEN))
            .unwrap()
            .unwrap();
        assert_eq!(m.file, "cur/1.a.host:2,FSab");
        assert_eq!(m.flags, Flags::FLAGGED.union(Flags::SEEN));
        assert_eq!(names(&folder, "cur"), vec!["1.a.host:2,FSab"]);

        // Same flags: no rename, same answer.
        let again = folder.set_flags(&m, m.flags).unwrap().unwrap();
        assert_eq!(again, m);

        put(&folder, "new/2.b.host", "y");
        let n = folder
            .set_flags(&msg("2.b.host", "new/2.b.host"), Flags::EMPTY)
            .unwrap()
            .unwrap();
        assert_eq!(n.file, "cur/2.b.host:2,");
        assert!(names(&folder, "new").is_empty());
        assert_eq!(folder.read(&n).unwrap().unwrap(), b"y");

        // Never replaces another file that holds the target name.
        put(&folder, "cur/3.c.host:2,S", "a");
        put(&folder, "new/3.c.host", "b");
        let err = folder
            .set_flags(&msg("3.c.host", "new/3.c.host"), Flags::SEEN)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            fs::read_to_string(folder.dir().join("cur/3.c.host:2,S")).unwrap(),
            "a"
        );
    }

    #[test]
    fn operations_follow_a_message_a_mail_client_renamed() {
        let (_tmp, folder) = folder();
        let id = MaildirFolder::fresh_id();
        let scanned = folder.deliver(&id, MAIL, Flags::EMPTY).unwrap();
        folder.sync_dirs().unwrap();
        let client_name = format!("cur/{id}:2,Sx");
        // The client reads it: new/ -> cur/, \Seen and a keyword letter.
        fs::rename(
            folder.dir().join(&scanned.file),
            folder.dir().join(&client_name),
        )
        .unwrap();

        assert_eq!(folder.read(&scanned).unwrap().unwrap(), MAIL);
        assert_eq!(
            folder.pair_key(&scanned).unwrap().unwrap(),
            PairKey("mid:m1@example.org".into())
        );
        assert!(folder.mtime(&scanned).unwrap().is_some());
        assert_eq!(folder.locate(&id).unwrap().unwrap().file, client_name);

        let flagged = folder
            .set_flags(&scanned, Flags::FLAGGED.union(Flags::SEEN))
            .unwrap()
            .unwrap();
        assert_eq!(flagged.file, format!("cur/{id}:2,FSx"));
        assert_eq!(names(&folder, "cur"), vec![format!("{id}:2,FSx")]);

        // A client flags it Replied after our scan; changing flags keeps that change.
        fs::rename(
            folder.dir().join(&flagged.file),
            folder.dir().join(format!("cur/{id}:2,FRSx")),
        )
        .unwrap();
        let changed = folder
            .change_flags(&flagged, Flags::DRAFT, Flags::FLAGGED)
            .unwrap()
            .unwrap();
        assert_eq!(changed.file, format!("cur/{id}:2,DRSx"));
        fs::rename(
            folder.dir().join(&changed.file),
            folder.dir().join(format!("cur/{id}:2,FSx")),
        )
        .unwrap();

        // Renamed once more behind our back, then deleted through the stale record.
        fs::rename(
            folder.dir().join(&flagged.file),
            folder.dir().join(format!("cur/{id}:2,FRSx")),
        )
        .unwrap();
        assert!(folder.delete(&scanned).unwrap());
        assert!(names(&folder, "cur").is_empty());

        // Gone: every operation says so without an error.
        assert!(!folder.delete(&scanned).unwrap());
        assert_eq!(folder.read(&scanned).unwrap(), None);
        assert_eq!(folder.pair_key(&scanned).unwrap(), None);
        assert_eq!(folder.mtime(&scanned).unwrap(), None);
        assert_eq!(folder.set_flags(&scanned, Flags::SEEN).unwrap(), None);
        assert_eq!(folder.locate(&id).unwrap(), None);
    }

    #[test]
    fn pair_key_reads_only_the_header_and_matches_the_far_spelling() {
        let (_tmp, folder) = folder();
        let near = b"From: a@b\nSubject: no id\n\nMessage-ID: <in-body@x>\n";
        let m = folder
            .deliver(&NearId("1.k.host".into()), near, Flags::SEEN)
            .unwrap();
        folder.sync_dirs().unwrap();
        let far = pairkey::pair_key_from_header(b"From: a@b\r\nSubject: no id\r\n\r\n");
        assert!(far.0.starts_with("hdr:"));
        assert_eq!(folder.pair_key(&m).unwrap().unwrap(), far);
    }

    #[test]
    fn records_pointing_outside_the_folder_are_refused() {
        let (_tmp, folder) = folder();
        for (id, file) in [
            ("x", "../x"),
            ("x", "cur/../../x"),
            ("x", "tmp/x"),
            ("x", "/etc/passwd"),
            ("x", "cur/y:2,S"),
            ("..", "cur/.."),
        ] {
            let err = folder.delete(&msg(id, file)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{file}");
        }
    }

    #[test]
    fn delete_does_not_follow_symlinks() {
        let (tmp, folder) = folder();
        let outside = tmp.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        std::os::unix::fs::symlink(&outside, folder.dir().join("cur/1.l.host:2,S")).unwrap();
        let m = msg("1.l.host", "cur/1.l.host:2,S");
        assert!(
            folder.read(&m).is_err(),
            "reading through a symlink is refused"
        );
        assert!(folder.delete(&m).unwrap());
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep");
    }

    #[test]
    fn remove_if_empty_only_removes_empty_folders() {
        let (tmp, folder) = folder();
        put(&folder, "cur/1.a.host:2,S", "x");
        assert!(!folder.remove_if_empty().unwrap());
        assert!(folder.exists());
        fs::remove_file(folder.dir().join("cur/1.a.host:2,S")).unwrap();

        // A fresh tmp/ file is a delivery under way.
        put(&folder, "tmp/2.b.host", "x");
        assert!(!folder.remove_if_empty().unwrap());
        assert!(folder.exists());
        // Once stale, it goes with the folder.
        let old = SystemTime::now() - Duration::from_secs(40 * 60 * 60);
        File::options()
            .write(true)
            .open(folder.dir().join("tmp/2.b.host"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(folder.remove_if_empty().unwrap());
        assert!(!folder.dir().exists());

        // A verbatim parent folder loses cur/new/tmp; its subfolder stays.
        let parent = MaildirFolder::new(tmp.path().join("Archive"));
        let child = MaildirFolder::new(tmp.path().join("Archive/2021"));
        parent.create().unwrap();
        child.create().unwrap();
        put(&child, "new/3.c.host", "x");
        assert!(parent.remove_if_empty().unwrap());
        assert!(!parent.exists());
        assert!(child.exists());
        assert_eq!(child.scan().unwrap().messages.len(), 1);
    }
}
