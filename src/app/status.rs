//! `mailferry status [CHANNEL]`: from the state files alone, never the network (it works
//! with the server down or the machine offline): per folder the last sync, the number of
//! pairs, the last error, and a note for each journal an interrupted run left behind.
//! Reads only; a pending journal is read, not replayed.

use super::sync::channels_named;
use super::table::{Align, Table, cell};
use super::{AppError, Exit};
use crate::config::Config;
use crate::log;
use crate::mapping;
use crate::state::store::ChannelStateDir;

/// One folder as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderStatus {
    pub far: String,
    pub near: String,
    /// Seconds since the epoch of the last run that finished this folder.
    pub last_sync: Option<u64>,
    pub pairs: usize,
    pub last_error: Option<String>,
    /// A journal is left: a run was interrupted, the next sync finishes it.
    pub journal_pending: bool,
}

/// Prints the status of the named channel (or of every channel).
pub fn run(config: &Config, channel: Option<&str>, quiet: bool) -> Result<Exit, AppError> {
    let channels = channels_named(config, channel)?;
    let mut failed = false;
    let mut out = String::new();
    for channel in channels {
        let state_dir = ChannelStateDir::new(&config.general.state_dir, &channel.name);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "channel {}: state in {}\n",
            channel.name,
            state_dir.dir().display()
        ));
        let names = match state_dir.folders() {
            Ok(names) => names,
            Err(e) => {
                log::error(&format!("{}: {e:#}", channel.name));
                failed = true;
                out.push_str("(state unreadable: see the error)\n");
                continue;
            }
        };
        let mut folders = Vec::new();
        for far in names {
            // The near path is in the state file; this one only names a folder whose
            // state file is missing (a journal alone).
            let near = mapping::near_rel_path(&far, channel.layout, channel.folder_names)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            match state_dir.peek(&far, &near) {
                Ok(state) => folders.push(FolderStatus {
                    far,
                    near: state.near,
                    last_sync: state.last_sync.max(state_dir.last_run_of(&state.far)),
                    pairs: state.pairs.len(),
                    last_error: state.last_error,
                    journal_pending: state_dir.has_journal(&state.far),
                }),
                Err(e) => {
                    log::error(&format!("{}: {}: {e:#}", channel.name, cell(&far)));
                    failed = true;
                }
            }
        }
        out.push_str(&render(&channel.name, &folders));
    }
    if !quiet {
        print!("{out}");
    }
    Ok(if failed { Exit::SomeFailed } else { Exit::Ok })
}

/// The table of one channel's folders, then a note per pending journal.
pub fn render(channel: &str, folders: &[FolderStatus]) -> String {
    if folders.is_empty() {
        return "never synced\n".to_string();
    }
    let mut table = Table::new(&[
        ("FOLDER", Align::Left),
        ("NEAR", Align::Left),
        ("LAST SYNC (UTC)", Align::Left),
        ("PAIRS", Align::Right),
        ("LAST ERROR", Align::Left),
    ]);
    for folder in folders {
        table.row(vec![
            cell(&folder.far),
            if folder.near.is_empty() {
                ".".to_string()
            } else {
                cell(&folder.near)
            },
            folder
                .last_sync
                .map_or_else(|| "never".to_string(), iso8601_utc),
            folder.pairs.to_string(),
            folder
                .last_error
                .as_deref()
                .map_or_else(|| "-".to_string(), cell),
        ]);
    }
    let mut out = table.render();
    for folder in folders.iter().filter(|f| f.journal_pending) {
        out.push_str(&format!(
            "note: {channel}: {}: a journal is pending (a run was interrupted); the next sync of {channel} finishes it\n",
            cell(&folder.far)
        ));
    }
    out
}

/// `2024-05-01T10:00:00Z` for seconds since the epoch.
pub fn iso8601_utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{secs} s after the epoch"),
            |time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_utc() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn folders_show_time_pairs_error_and_pending_journals() {
        let folders = vec![
            FolderStatus {
                far: "Archive".into(),
                near: "Archive".into(),
                last_sync: Some(1_700_000_000),
                pairs: 12,
                last_error: Some("held back deleting 12 messages; run with --force".into()),
                journal_pending: false,
            },
            FolderStatus {
                far: "INBOX".into(),
                near: String::new(),
                last_sync: None,
                pairs: 3,
                last_error: None,
                journal_pending: true,
            },
        ];
        let text = render("personal", &folders);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("FOLDER"), "{text}");
        assert!(
            lines[1].contains("2023-11-14T22:13:20Z")
                && lines[1].contains(" 12 ")
                && lines[1].ends_with("run with --force"),
            "{text}"
        );
        assert!(
            lines[2].contains("never") && lines[2].contains(" 3 ") && lines[2].ends_with('-'),
            "{text}"
        );
        assert!(
            lines[3].starts_with("note: personal: INBOX: a journal is pending"),
            "{text}"
        );
        assert_eq!(render("personal", &[]), "never synced\n");
    }
}
