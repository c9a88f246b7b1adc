//! The per-folder journal: one JSON record per line, appended before and after every
//! side effect; read back (tolerating a torn last line) when a run was interrupted.

use super::Record;
use anyhow::{Context, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An open journal, appending one line per record.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open journal {}", path.display()))?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends a record with one write. Not fsynced: every record's loss is recovered
    /// (a lost pair is found again by Message-ID, a lost flag or deletion outcome is
    /// derived again from both sides), while the messages themselves are made durable
    /// before any record that names them.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        self.write_all(std::slice::from_ref(record))
    }

    /// Appends records with one write (the large benchmark's first sync journals
    /// 150,000 downloads, twice each).
    pub fn write_all(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::with_capacity(records.len() * 96);
        for record in records {
            serde_json::to_writer(&mut lines, record)?;
            lines.push(b'\n');
        }
        self.file
            .write_all(&lines)
            .with_context(|| format!("cannot write journal {}", self.path.display()))?;
        crate::failpoint::hit();
        Ok(())
    }
}

/// Reads every record of a journal; a missing journal has none. A torn last line (the
/// run was killed mid-write) is ignored; damage anywhere else is an error.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(format!("cannot read journal {}", path.display())),
    };
    let mut records = Vec::new();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    for (n, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(record) => records.push(record),
            Err(_) if n == last => {}
            Err(e) => bail!(
                "journal {} is damaged at line {}: {e}; move it away to continue (messages are then paired again by Message-ID)",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FarUid;

    #[test]
    fn torn_last_line_is_ignored_but_damage_elsewhere_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j");
        let mut journal = Journal::open(&path).unwrap();
        journal.write(&Record::Forget { uid: FarUid(1) }).unwrap();
        journal
            .write_all(&[
                Record::Forget { uid: FarUid(2) },
                Record::Forget { uid: FarUid(3) },
            ])
            .unwrap();
        journal.write_all(&[]).unwrap();
        drop(journal);
        let mut text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        text.push_str("{\"forg");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read(&path).unwrap().len(), 3);
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(read(&path).is_err());
    }
}
