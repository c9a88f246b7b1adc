//! mbsync's sync state -> mailferry's: reading a state file (1.4 `FarUidValidity ...`
//! headers, the pre-1.4 `Master`/`Slave` spellings and the pre-1.1 one-line header), replaying
//! the journal of an interrupted run, and pairing each recorded (far UID, near UID) with
//! the maildir file whose name carries `,U=<near UID>`. The parsing is pure; [`import_folder`]
//! reads the folder's files but writes nothing.

use crate::flags::Flags;
use crate::model::{FarUid, NearId, UidValidity};
use crate::state::{FolderState, Pairing};
use crate::store::maildir::MaildirFolder;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What mbsync remembers about one message pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 0: not (yet) on the far side.
    pub far: u32,
    /// 0: not (yet) on the near side.
    pub near: u32,
    pub flags: Flags,
    pub status: Status,
}

/// The marks mbsync puts before an entry's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Normal,
    /// `<` or `>`: one side holds only a placeholder for a message over MaxSize.
    Placeholder,
    /// `^` (pre-1.4): the message was too large and skipped.
    Skipped,
    /// `~` or `X`: expired by MaxMessages.
    Expired,
    /// Added by the journal and not known to be finished.
    Pending,
}

/// One mbsync state file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MbState {
    pub far_validity: u32,
    pub near_validity: u32,
    pub max_pulled: u32,
    pub max_pushed: u32,
    pub entries: Vec<Entry>,
}

/// A state or journal file that cannot be read, with the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct StateError {
    pub line: usize,
    pub problem: String,
}

fn bad(line: usize, problem: impl Into<String>) -> StateError {
    StateError {
        line,
        problem: problem.into(),
    }
}

/// Parses a state file.
pub fn parse_state(text: &str) -> Result<MbState, StateError> {
    let mut state = MbState::default();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut header_done = false;
    for (n, line) in lines.by_ref() {
        if line.is_empty() {
            header_done = true;
            break;
        }
        if n == 1 && line.starts_with(|c: char| c.is_ascii_digit()) {
            // Pre-1.1: `farUV:maxFarUid nearUV:maxExpiredNear:maxNearUid`.
            let mut words = line.split_whitespace();
            let far: Vec<&str> = words.next().unwrap_or("").split(':').collect();
            let near: Vec<&str> = words.next().unwrap_or("").split(':').collect();
            let num = |s: Option<&&str>| s.and_then(|s| s.parse::<u32>().ok());
            match (
                num(far.first()),
                num(far.get(1)),
                num(near.first()),
                num(near.get(2)),
            ) {
                (Some(fv), Some(fm), Some(nv), Some(nm)) => {
                    state.far_validity = fv;
                    state.max_pulled = fm;
                    state.near_validity = nv;
                    state.max_pushed = nm;
                }
                _ => return Err(bad(n, "invalid pre-1.1 header")),
            }
            header_done = true;
            break;
        }
        let Some((key, value)) = line.split_once(' ') else {
            return Err(bad(n, format!("malformed header line {line:?}")));
        };
        let value: u32 = value
            .trim()
            .parse()
            .map_err(|_| bad(n, format!("malformed header line {line:?}")))?;
        match key {
            "FarUidValidity" | "MasterUidValidity" => state.far_validity = value,
            "NearUidValidity" | "SlaveUidValidity" => state.near_validity = value,
            "MaxPulledUid" => state.max_pulled = value,
            "MaxPushedUid" => state.max_pushed = value,
            "MaxExpiredFarUid" | "MaxExpiredMasterUid" | "MaxExpiredSlaveUid" => {}
            _ => return Err(bad(n, format!("unknown header entry {key:?}"))),
        }
    }
    if !header_done {
        return Err(bad(
            text.lines().count(),
            "the header is not terminated by an empty line",
        ));
    }
    for (n, line) in lines {
        let mut words = line.split_whitespace();
        let (Some(far), Some(near)) = (
            words.next().and_then(|w| w.parse::<u32>().ok()),
            words.next().and_then(|w| w.parse::<u32>().ok()),
        ) else {
            return Err(bad(n, format!("invalid entry {line:?}")));
        };
        let mut rest = words.next().unwrap_or("");
        let mut status = Status::Normal;
        if let Some(r) = rest.strip_prefix(['<', '>']) {
            rest = r;
            status = Status::Placeholder;
        }
        if let Some(r) = rest.strip_prefix('^') {
            rest = r;
            status = Status::Skipped;
        } else if let Some(r) = rest.strip_prefix(['~', 'X']) {
            rest = r;
            status = Status::Expired;
        }
        // Pre-1.3 marked a skipped side with UID -1.
        let (far, near) = match (far, near) {
            (u32::MAX, n) => {
                status = Status::Skipped;
                (0, n)
            }
            (f, u32::MAX) => {
                status = Status::Skipped;
                (f, 0)
            }
            other => other,
        };
        state.entries.push(Entry {
            far,
            near,
            flags: Flags::from_maildir(rest),
            status,
        });
    }
    Ok(state)
}

/// Replays an mbsync journal over `state`. Returns how many entries it applied. Entries
/// that only matter to mbsync's own recovery (TUIDs, trash, expiry bounds) are skipped;
/// messages it had begun to copy stay [`Status::Pending`].
pub fn replay_journal(state: &mut MbState, text: &str) -> Result<usize, StateError> {
    let mut applied = 0;
    for (i, line) in text.lines().enumerate().skip(1) {
        let n = i + 1;
        let mut chars = line.chars();
        let Some(op) = chars.next() else {
            return Err(bad(n, "empty journal entry"));
        };
        let nums: Vec<u32> = line
            .get(2..)
            .unwrap_or("")
            .split_whitespace()
            .map_while(|w| w.parse().ok())
            .collect();
        let need = |k: usize| -> Result<(), StateError> {
            if nums.len() < k {
                Err(bad(n, format!("malformed journal entry {line:?}")))
            } else {
                Ok(())
            }
        };
        let find = |state: &mut MbState, far: u32, near: u32| -> Result<usize, StateError> {
            state
                .entries
                .iter()
                .position(|e| e.far == far && e.near == near)
                .ok_or_else(|| {
                    bad(
                        n,
                        format!("journal entry {line:?} refers to no state entry"),
                    )
                })
        };
        match op {
            // Bookkeeping mailferry does not need: max UIDs, find-UIDs, trash, expiry
            // bounds, TUIDs.
            'N' | 'F' | 'T' | '!' | '#' | '&' => {}
            '|' => {
                need(2)?;
                state.far_validity = nums[0];
                state.near_validity = nums[1];
            }
            '+' => {
                need(2)?;
                state.entries.push(Entry {
                    far: nums[0],
                    near: nums[1],
                    flags: Flags::EMPTY,
                    status: Status::Pending,
                });
            }
            '-' | '=' => {
                need(2)?;
                let at = find(state, nums[0], nums[1])?;
                state.entries.remove(at);
            }
            '<' | '>' => {
                need(3)?;
                let at = find(state, nums[0], nums[1])?;
                let entry = &mut state.entries[at];
                if op == '<' {
                    entry.far = nums[2];
                } else {
                    entry.near = nums[2];
                }
                if entry.far != 0 && entry.near != 0 && entry.status == Status::Pending {
                    entry.status = Status::Normal;
                }
            }
            '*' => {
                need(3)?;
                let at = find(state, nums[0], nums[1])?;
                // mbsync's flag bits (D F P R S T, lowest first) are mailferry's.
                state.entries[at].flags =
                    Flags::from_bits(u8::try_from(nums[2] & 0x3f).unwrap_or(0));
            }
            '~' | '_' | '^' => {
                need(2)?;
                let at = find(state, nums[0], nums[1])?;
                if op != '~' {
                    state.entries[at].status = Status::Placeholder;
                }
            }
            _ => return Err(bad(n, format!("unknown journal entry {line:?}"))),
        }
        applied += 1;
    }
    Ok(applied)
}

/// The near UID mbsync wrote into a maildir unique name (`...,U=42...`).
pub fn near_uid_of(id: &str) -> Option<u32> {
    let at = id.find(",U=")?;
    let digits: String = id[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Where an mbsync folder's state is: the state file, its journal and its `.new`.
#[derive(Clone, Debug)]
pub struct StatePaths {
    pub state: PathBuf,
}

impl StatePaths {
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.state.clone().into_os_string();
        s.push(suffix);
        PathBuf::from(s)
    }
    pub fn journal(&self) -> PathBuf {
        self.sibling(".journal")
    }
    pub fn new_file(&self) -> PathBuf {
        self.sibling(".new")
    }
    /// Whether mbsync left any state here.
    pub fn exists(&self) -> bool {
        self.state.exists() || self.journal().exists()
    }
}

/// The outcome of importing one folder.
#[derive(Debug)]
pub struct FolderImport {
    pub state: FolderState,
    /// Things the user should know (each one line, without the folder name).
    pub notes: Vec<String>,
    /// Messages paired.
    pub paired: usize,
}

/// Reads mbsync's state for the near folder at `dir` and pairs its messages. `far` and
/// `near` are the folder's display name and near path, for the mailferry state. `None`
/// (with the reason in the error) when the state cannot be trusted; the folder is then
/// left to mailferry's first-sync pairing by Message-ID.
pub fn import_folder(
    paths: &StatePaths,
    dir: &Path,
    far: &str,
    near: &str,
) -> Result<FolderImport, String> {
    let mut notes = Vec::new();
    let state_text = match fs::read_to_string(&paths.state) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", paths.state.display())),
    };
    let mut mb = match &state_text {
        Some(text) => parse_state(text).map_err(|e| format!("{}: {e}", paths.state.display()))?,
        None => MbState::default(),
    };
    let journal = paths.journal();
    match fs::read_to_string(&journal) {
        Ok(text) => {
            // mbsync replays a journal only while the `.new` state it began exists;
            // otherwise the journal's changes are already in the saved state.
            if paths.new_file().exists() {
                let applied = replay_journal(&mut mb, &text)
                    .map_err(|e| format!("{}: {e}", journal.display()))?;
                notes.push(format!(
                    "mbsync was interrupted here; its journal {} ({applied} entries) was replayed",
                    journal.display()
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", journal.display())),
    }
    if state_text.is_none() && mb.entries.is_empty() {
        return Err(format!("no mbsync state at {}", paths.state.display()));
    }

    // The maildir's UIDVALIDITY must be the one the state's near UIDs belong to.
    let uv_path = dir.join(".uidvalidity");
    let uv_text = fs::read_to_string(&uv_path).map_err(|e| {
        if dir.join(".isyncuidmap.db").exists() {
            "the folder uses mbsync's AltMap UID database, which mailferry cannot read".to_string()
        } else {
            format!("cannot read {}: {e}", uv_path.display())
        }
    })?;
    let near_validity: Option<u32> = uv_text.lines().next().and_then(|l| l.trim().parse().ok());
    if near_validity != Some(mb.near_validity) {
        return Err(format!(
            "{} says UIDVALIDITY {}, the mbsync state {}; the near UIDs are void",
            uv_path.display(),
            near_validity.map_or("?".to_string(), |v| v.to_string()),
            mb.near_validity
        ));
    }

    let scan = MaildirFolder::new(dir.to_path_buf())
        .scan()
        .map_err(|e| format!("cannot scan {}: {e}", dir.display()))?;
    let mut by_uid: BTreeMap<u32, NearId> = BTreeMap::new();
    let mut repeated = 0;
    for message in &scan.messages {
        if let Some(uid) = near_uid_of(&message.id.0)
            && by_uid.insert(uid, message.id.clone()).is_some()
        {
            repeated += 1;
        }
    }
    if repeated > 0 {
        notes.push(format!(
            "{repeated} files repeat another file's ,U= number (copied by hand?); those are left for the first sync to pair by Message-ID"
        ));
        for message in &scan.messages {
            if let Some(uid) = near_uid_of(&message.id.0)
                && by_uid.get(&uid) != Some(&message.id)
            {
                by_uid.remove(&uid);
            }
        }
    }

    let mut state = FolderState::new(far, near);
    state.uid_validity = Some(UidValidity(mb.far_validity));
    let (mut placeholders, mut gone_near, mut pending, mut expired) = (0, 0, 0, 0);
    for entry in &mb.entries {
        match entry.status {
            Status::Expired => {
                expired += 1;
                continue;
            }
            Status::Skipped | Status::Pending => {
                pending += 1;
                continue;
            }
            Status::Placeholder => placeholders += 1,
            Status::Normal => {}
        }
        if entry.far == 0 || entry.near == 0 {
            pending += 1;
            continue;
        }
        let Some(id) = by_uid.get(&entry.near) else {
            gone_near += 1;
            continue;
        };
        state.pairs.insert(
            FarUid(entry.far),
            Pairing {
                near_id: id.clone(),
                flags: entry.flags,
            },
        );
    }
    if placeholders > 0 {
        notes.push(format!(
            "{placeholders} messages are mbsync placeholders for messages over MaxSize; they stay paired as they are (mailferry never upgrades them)"
        ));
    }
    if gone_near > 0 {
        notes.push(format!(
            "{gone_near} messages mbsync had paired are no longer in the maildir; mailferry downloads them again rather than delete them on the server"
        ));
    }
    if pending > 0 {
        notes.push(format!(
            "{pending} messages mbsync had not finished propagating are left for the first sync (paired by Message-ID where both sides have them, copied otherwise)"
        ));
    }
    if expired > 0 {
        notes.push(format!(
            "{expired} messages mbsync expired (MaxMessages) are downloaded again"
        ));
    }
    let paired = state.pairs.len();
    Ok(FolderImport {
        state,
        notes,
        paired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_1_4_with_marks() {
        let text = "FarUidValidity 17\nNearUidValidity 99\nMaxPulledUid 5\nMaxPushedUid 4\nMaxExpiredFarUid 1\n\n1 1 S\n2 2 \n3 0 \n0 4 FS\n5 3 >S\n6 6 ~\n7 7 PR\n";
        let s = parse_state(text).unwrap();
        assert_eq!(
            (s.far_validity, s.near_validity, s.max_pulled, s.max_pushed),
            (17, 99, 5, 4)
        );
        assert_eq!(s.entries.len(), 7);
        assert_eq!(s.entries[0].flags, Flags::SEEN);
        assert_eq!(s.entries[1].flags, Flags::EMPTY);
        assert_eq!(s.entries[4].status, Status::Placeholder);
        assert_eq!(s.entries[4].flags, Flags::SEEN);
        assert_eq!(s.entries[5].status, Status::Expired);
        assert_eq!(s.entries[6].flags, Flags::FORWARDED.union(Flags::ANSWERED));
    }

    #[test]
    fn older_headers() {
        let s = parse_state(
            "MasterUidValidity 3\nSlaveUidValidity 4\nMaxPulledUid 1\nMaxPushedUid 1\n\n1 1 S\n",
        )
        .unwrap();
        assert_eq!((s.far_validity, s.near_validity), (3, 4));
        let s = parse_state("3:10 4:0:12\n1 1 S\n4294967295 2 \n").unwrap();
        assert_eq!(
            (s.far_validity, s.max_pulled, s.near_validity, s.max_pushed),
            (3, 10, 4, 12)
        );
        assert_eq!(s.entries[1].status, Status::Skipped);
        assert_eq!(s.entries[1].far, 0);
    }

    #[test]
    fn bad_state_names_the_line() {
        assert_eq!(parse_state("FarUidValidity x\n\n").unwrap_err().line, 1);
        assert_eq!(
            parse_state("FarUidValidity 1\n\n1 1 S\nzz\n")
                .unwrap_err()
                .line,
            4
        );
        assert!(
            parse_state("FarUidValidity 1\n").is_err(),
            "unterminated header"
        );
    }

    #[test]
    fn journal_replay() {
        let mut s = parse_state(
            "FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 2\nMaxPushedUid 2\n\n1 1 S\n2 2 \n",
        )
        .unwrap();
        let journal = "4\n| 5 6\nN 1 3\n+ 3 0\n> 3 0 3\n* 3 3 18\n- 2 2\n+ 0 4\n# 0 4 abcdefghijkl\n* 1 1 17\n";
        assert_eq!(replay_journal(&mut s, journal).unwrap(), 9);
        assert_eq!((s.far_validity, s.near_validity), (5, 6));
        let e: Vec<(u32, u32, Flags, Status)> = s
            .entries
            .iter()
            .map(|e| (e.far, e.near, e.flags, e.status))
            .collect();
        assert_eq!(
            e,
            vec![
                (1, 1, Flags::SEEN.union(Flags::DRAFT), Status::Normal),
                (3, 3, Flags::SEEN.union(Flags::FLAGGED), Status::Normal),
                (0, 4, Flags::EMPTY, Status::Pending),
            ]
        );
        let err = replay_journal(&mut s, "4\n- 9 9\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(replay_journal(&mut s, "4\n@ 1 1\n").is_err());
    }

    #[test]
    fn near_uids_from_file_names() {
        assert_eq!(near_uid_of("1795645187.15056_223.vm,U=17"), Some(17));
        assert_eq!(
            near_uid_of("1795645187.15056_223.vm,U=17,FMD5=abc"),
            Some(17)
        );
        assert_eq!(near_uid_of("1795645187.15056_223.vm"), None);
        assert_eq!(near_uid_of("x,U="), None);
    }

    fn folder(dir: &Path, files: &[&str], uidvalidity: &str) {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for f in files {
            fs::write(dir.join(f), "Subject: x\n\nbody\n").unwrap();
        }
        fs::write(dir.join(".uidvalidity"), uidvalidity).unwrap();
    }

    #[test]
    fn pairs_follow_the_u_numbers_and_keep_the_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("INBOX");
        folder(
            &dir,
            &[
                "cur/100.a.host,U=1:2,S",
                "new/101.b.host,U=2:2,",
                "cur/102.c.host,U=3:2,FS",
                "new/103.d.host",
            ],
            "99\n3\n",
        );
        fs::write(
            dir.join(".mbsyncstate"),
            "FarUidValidity 7\nNearUidValidity 99\nMaxPulledUid 12\nMaxPushedUid 3\n\n10 1 S\n11 2 \n12 3 S\n13 5 S\n0 9 \n",
        )
        .unwrap();
        let paths = StatePaths {
            state: dir.join(".mbsyncstate"),
        };
        let got = import_folder(&paths, &dir, "INBOX", "INBOX").unwrap();
        assert_eq!(got.state.uid_validity, Some(UidValidity(7)));
        let pairs: Vec<(u32, &str, Flags)> = got
            .state
            .pairs
            .iter()
            .map(|(u, p)| (u.0, p.near_id.0.as_str(), p.flags))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (10, "100.a.host,U=1", Flags::SEEN),
                (11, "101.b.host,U=2", Flags::EMPTY),
                (12, "102.c.host,U=3", Flags::SEEN),
            ],
            "the recorded flags are the base, even where a side changed since"
        );
        assert_eq!(got.paired, 3);
        let notes = got.notes.join("\n");
        assert!(
            notes.contains("1 messages mbsync had paired are no longer"),
            "{notes}"
        );
        assert!(
            notes.contains("1 messages mbsync had not finished"),
            "{notes}"
        );
    }

    #[test]
    fn a_changed_maildir_uidvalidity_voids_the_import() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("INBOX");
        folder(&dir, &["cur/100.a.host,U=1:2,S"], "55\n1\n");
        fs::write(
            dir.join(".mbsyncstate"),
            "FarUidValidity 7\nNearUidValidity 99\nMaxPulledUid 1\nMaxPushedUid 1\n\n1 1 S\n",
        )
        .unwrap();
        let paths = StatePaths {
            state: dir.join(".mbsyncstate"),
        };
        let err = import_folder(&paths, &dir, "INBOX", "INBOX").unwrap_err();
        assert!(
            err.contains("UIDVALIDITY 55") && err.contains("void"),
            "{err}"
        );
    }

    #[test]
    fn an_interrupted_run_is_replayed_only_while_its_new_state_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("INBOX");
        folder(
            &dir,
            &["cur/100.a.host,U=1:2,S", "cur/101.b.host,U=2:2,S"],
            "99\n2\n",
        );
        let state =
            "FarUidValidity 7\nNearUidValidity 99\nMaxPulledUid 1\nMaxPushedUid 1\n\n1 1 S\n";
        fs::write(dir.join(".mbsyncstate"), state).unwrap();
        fs::write(
            dir.join(".mbsyncstate.journal"),
            "4\n+ 2 0\n> 2 0 2\n* 2 2 16\n",
        )
        .unwrap();
        let paths = StatePaths {
            state: dir.join(".mbsyncstate"),
        };
        let stale = import_folder(&paths, &dir, "INBOX", "INBOX").unwrap();
        assert_eq!(
            stale.paired, 1,
            "without .new the journal is already in the state"
        );
        fs::write(dir.join(".mbsyncstate.new"), "").unwrap();
        let replayed = import_folder(&paths, &dir, "INBOX", "INBOX").unwrap();
        assert_eq!(replayed.paired, 2);
        assert!(
            replayed.notes[0].contains("interrupted"),
            "{:?}",
            replayed.notes
        );
    }
}
