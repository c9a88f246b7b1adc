//! Where a channel's state lives on disk (`<state_dir>/<channel>/`), how a folder's state
//! is loaded (replaying any journal left by an interrupted run) and saved atomically.

use super::journal::{self, Journal};
use super::{FolderState, STATE_VERSION};
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file naming the folders the last run finished, and when.
const LAST_RUN: &str = "last-run.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct LastRun {
    time: u64,
    folders: Vec<String>,
    /// Those of `folders` whose far side had changed since the run before (absent in
    /// notes of earlier versions: none).
    #[serde(default)]
    far_changed: Vec<String>,
}

/// The state directory of one channel.
#[derive(Clone, Debug)]
pub struct ChannelStateDir {
    dir: PathBuf,
}

impl ChannelStateDir {
    pub fn new(state_dir: &Path, channel: &str) -> ChannelStateDir {
        ChannelStateDir {
            dir: state_dir.join(escape(channel)),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn create(&self) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create state directory {}", self.dir.display()))
    }

    fn state_path(&self, far: &str) -> PathBuf {
        self.dir.join(format!("{}.state", escape(far)))
    }

    fn journal_path(&self, far: &str) -> PathBuf {
        self.dir.join(format!("{}.journal", escape(far)))
    }

    /// The far names of every folder that has a state file.
    pub fn folders(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e).context(format!("cannot read {}", self.dir.display())),
        };
        for entry in entries {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            let stem = name
                .strip_suffix(".state")
                .or_else(|| name.strip_suffix(".journal"));
            if let Some(far) = stem.and_then(unescape)
                && !names.contains(&far)
            {
                names.push(far);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Loads a folder's state without touching anything: the saved state with the
    /// journal's records applied in memory (dry runs and `status` use this).
    pub fn peek(&self, far: &str, near: &str) -> Result<FolderState> {
        let mut state = self.read_state(far, near)?;
        for record in journal::read(&self.journal_path(far))? {
            super::apply(&mut state, &record);
        }
        Ok(state)
    }

    /// About how many messages the folder held when its state was saved (0 without a
    /// state), from the state file's size alone: some 44 bytes per paired message. A
    /// cheap guess at the folder's size, without reading the file.
    pub fn estimated_messages(&self, far: &str) -> u64 {
        const BYTES_PER_PAIR: u64 = 44;
        fs::metadata(self.state_path(far)).map_or(0, |m| m.len() / BYTES_PER_PAIR)
    }

    /// When the folder's state file was last written, in nanoseconds since the epoch;
    /// `None` without one.
    pub fn saved_at(&self, far: &str) -> Option<i128> {
        let modified = fs::metadata(self.state_path(far)).ok()?.modified().ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        i128::try_from(since.as_nanos()).ok()
    }

    /// Whether a folder has a journal left by an interrupted run (the next real run
    /// replays it).
    pub fn has_journal(&self, far: &str) -> bool {
        self.journal_path(far).exists()
    }

    /// Records the error of a run that failed before it could save the folder's state
    /// (say, it could not connect), so `status` shows it. Only for folders that have a
    /// state already: a folder never synced gets no state from a failure.
    pub fn record_error(&self, far: &str, near: &str, error: &str) -> Result<()> {
        if !self.state_path(far).exists() && !self.has_journal(far) {
            return Ok(());
        }
        let mut state = self.peek(far, near)?;
        if state.last_error.as_deref() == Some(error) {
            return Ok(());
        }
        state.last_error = Some(error.to_string());
        self.save(&state)
    }

    /// Loads a folder's state for a real run: replays a leftover journal, saves the
    /// result and removes the journal, so the run starts from a clean slate.
    pub fn load(&self, far: &str, near: &str) -> Result<FolderState> {
        let journal_path = self.journal_path(far);
        let state = self.peek(far, near)?;
        if journal_path.exists() {
            self.save(&state)?;
        }
        Ok(state)
    }

    fn read_state(&self, far: &str, near: &str) -> Result<FolderState> {
        let path = self.state_path(far);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FolderState::new(far, near));
            }
            Err(e) => return Err(e).context(format!("cannot read state {}", path.display())),
        };
        let state: FolderState = serde_json::from_str(&text).with_context(|| {
            format!(
                "state file {} is damaged; move it away to start this folder afresh (messages are then paired again by Message-ID)",
                path.display()
            )
        })?;
        if state.version != STATE_VERSION {
            bail!(
                "state file {} has version {}, this mailferry reads version {STATE_VERSION}",
                path.display(),
                state.version
            );
        }
        Ok(state)
    }

    /// Saves atomically (`.new`, fsync, rename, fsync of the directory), then drops the
    /// journal whose records the saved state now holds.
    pub fn save(&self, state: &FolderState) -> Result<()> {
        self.create()?;
        let path = self.state_path(&state.far);
        let tmp = path.with_extension("state.new");
        let text = serde_json::to_vec(state)?;
        let mut file =
            File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(&text)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))?;
        sync_dir(&self.dir)?;
        crate::failpoint::hit();
        // The removal need not be durable: a journal that survives a crash is replayed
        // onto the saved state, which holds its records already (replaying them again
        // changes nothing but the snapshots, which a replay drops).
        let journal_path = self.journal_path(&state.far);
        match fs::remove_file(&journal_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context(format!("cannot remove {}", journal_path.display())),
        }
    }

    /// Notes the folders a run finished without errors, and when: a folder where nothing
    /// changed keeps its state file untouched, so `status` takes its last sync from here.
    /// `far_changed` are those whose far side had changed (the next run selects them
    /// without asking STATUS first). A best-effort note (not fsynced; an unreadable one
    /// is ignored).
    pub fn note_run(&self, time: u64, folders: &[String], far_changed: &[String]) -> Result<()> {
        self.create()?;
        let path = self.dir.join(LAST_RUN);
        let tmp = self.dir.join(format!("{LAST_RUN}.new"));
        let text = serde_json::to_vec(&LastRun {
            time,
            folders: folders.to_vec(),
            far_changed: far_changed.to_vec(),
        })?;
        fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))
    }

    fn last_run(&self) -> Option<LastRun> {
        let text = fs::read(self.dir.join(LAST_RUN)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// When the last run finished `far` without errors, from [`Self::note_run`].
    pub fn last_run_of(&self, far: &str) -> Option<u64> {
        let last = self.last_run()?;
        last.folders.iter().any(|f| f == far).then_some(last.time)
    }

    /// The folders whose far side had changed when the last run synced them, from
    /// [`Self::note_run`]; empty when unknown.
    pub fn far_changed_last_run(&self) -> BTreeSet<String> {
        self.last_run()
            .map(|last| last.far_changed.into_iter().collect())
            .unwrap_or_default()
    }

    /// Removes a folder's state and journal (the folder is gone from both sides).
    pub fn remove(&self, far: &str) -> Result<()> {
        for path in [self.state_path(far), self.journal_path(far)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context(format!("cannot remove {}", path.display())),
            }
        }
        Ok(())
    }

    /// Opens the journal of a folder for appending records.
    pub fn journal(&self, far: &str) -> Result<Journal> {
        self.create()?;
        Journal::open(&self.journal_path(far))
    }
}

/// fsync a directory so the renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

/// Folder and channel names become file names: letters, digits, `-` and `_` stay, every
/// other byte is written `%XX`, so no name can reach outside the state directory.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for a name `escape` cannot have made.
pub fn unescape(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;
    use crate::model::{FarUid, NearId, UidValidity};
    use crate::state::Record;

    #[test]
    fn escaping_keeps_names_inside_the_directory_and_round_trips() {
        for name in ["INBOX", "Archive/2021", "../../etc", "Entwürfe", ".", "a%b"] {
            let escaped = escape(name);
            assert!(
                !escaped.contains('/') && !escaped.contains('.'),
                "{escaped}"
            );
            assert_eq!(unescape(&escaped).as_deref(), Some(name));
        }
    }

    #[test]
    fn journal_is_replayed_on_load_and_dropped_on_save() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ChannelStateDir::new(tmp.path(), "personal");
        let mut journal = dir.journal("Archive/2021").unwrap();
        journal.write(&Record::UidValidity(UidValidity(5))).unwrap();
        journal
            .write(&Record::Pair {
                uid: FarUid(9),
                near_id: NearId("n1".into()),
                flags: Flags::SEEN,
            })
            .unwrap();
        drop(journal);
        assert_eq!(dir.folders().unwrap(), vec!["Archive/2021".to_string()]);
        let peeked = dir.peek("Archive/2021", "Archive/2021").unwrap();
        assert_eq!(peeked.pairs.len(), 1);
        assert!(dir.has_journal("Archive/2021"), "peek changes nothing");
        let loaded = dir.load("Archive/2021", "Archive/2021").unwrap();
        assert_eq!(loaded, peeked);
        assert!(!dir.has_journal("Archive/2021"));
        assert_eq!(
            dir.peek("Archive/2021", "Archive/2021").unwrap(),
            loaded,
            "the saved state holds what the journal said"
        );
    }

    #[test]
    fn damaged_state_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ChannelStateDir::new(tmp.path(), "c");
        dir.create().unwrap();
        fs::write(dir.state_path("INBOX"), "{not json").unwrap();
        let err = format!("{:#}", dir.load("INBOX", "INBOX").unwrap_err());
        assert!(
            err.contains("INBOX.state") && err.contains("damaged"),
            "{err}"
        );
    }

    #[test]
    fn the_last_run_note_keeps_which_folders_changed_far_and_reads_older_notes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ChannelStateDir::new(tmp.path(), "c");
        assert!(dir.far_changed_last_run().is_empty());
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        dir.note_run(77, &names(&["INBOX", "Archive"]), &names(&["INBOX"]))
            .unwrap();
        assert_eq!(
            dir.far_changed_last_run().into_iter().collect::<Vec<_>>(),
            ["INBOX"]
        );
        assert_eq!(dir.last_run_of("Archive"), Some(77));
        // A note written before far_changed existed: no folder counts as changed.
        fs::write(
            dir.dir().join(LAST_RUN),
            r#"{"time":5,"folders":["INBOX"]}"#,
        )
        .unwrap();
        assert!(dir.far_changed_last_run().is_empty());
        assert_eq!(dir.last_run_of("INBOX"), Some(5));
        // A damaged note: nothing known, nothing fails.
        fs::write(dir.dir().join(LAST_RUN), "{").unwrap();
        assert!(dir.far_changed_last_run().is_empty());
    }
}
