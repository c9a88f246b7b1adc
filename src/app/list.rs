//! `mailferry list [CHANNEL]`: per channel, the folder pairs the channel's patterns
//! select, from the same listing `sync` decides from: far name, near path, whether each
//! side has the folder, and the message counts (far by STATUS, near by counting `cur/`
//! and `new/`). Reads only; changes nothing anywhere.

use super::sync::{FolderNames, channels_named, list_folder_names, printable};
use super::table::{Align, Table, cell};
use super::{AppError, Exit};
use crate::config::{Channel, Config};
use crate::exec::pool::AccountPool;
use crate::log;
use crate::mapping;
use crate::state::store::ChannelStateDir;
use crate::store::imap::FarSession;
use crate::store::maildir::MaildirFolder;

/// One folder pair as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPair {
    pub far: String,
    /// Relative to the maildir root; `None` when the name has no near path.
    pub near: Option<String>,
    pub on_far: bool,
    pub on_near: bool,
    pub far_messages: Option<u32>,
    pub near_messages: Option<usize>,
    /// A folder on one side only: new there, or gone from the other since the last sync.
    pub note: String,
}

/// Prints the pairs of the named channel (or of every channel).
pub fn run(
    config: &Config,
    channel: Option<&str>,
    paths: bool,
    quiet: bool,
) -> Result<Exit, AppError> {
    let channels = channels_named(config, channel)?;
    let mut failed = false;
    let mut out = String::new();
    for channel in channels {
        let Some(account) = config.account_for(channel) else {
            log::error(&format!(
                "{}: no account {:?}",
                channel.name, channel.account
            ));
            failed = true;
            continue;
        };
        let pool = AccountPool::new(account.clone());
        let listed = (|| -> anyhow::Result<(Vec<ListedPair>, bool)> {
            let mut lease = pool.lease()?;
            pairs(lease.session(), channel, config)
        })();
        pool.close();
        if paths {
            // One existing near folder directory per line, nothing else.
            match listed {
                Ok((pairs, some_failed)) => {
                    failed |= some_failed;
                    for pair in pairs.iter().filter(|p| p.on_near) {
                        if let Some(near) = &pair.near {
                            out.push_str(&format!("{}\n", channel.maildir.join(near).display()));
                        }
                    }
                }
                Err(e) => {
                    failed = true;
                    log::error(&format!("{}: {e:#}", channel.name));
                }
            }
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "channel {}: account {} ({}:{}), maildir {} ({})\n",
            channel.name,
            account.name,
            account.host,
            account.port,
            channel.maildir.display(),
            channel.layout
        ));
        match listed {
            Ok((pairs, some_failed)) => {
                failed |= some_failed;
                out.push_str(&render(&pairs));
            }
            Err(e) => {
                failed = true;
                log::error(&format!("{}: {e:#}", channel.name));
                out.push_str("(not listed: see the error)\n");
            }
        }
    }
    if !quiet {
        print!("{out}");
    }
    Ok(if failed { Exit::SomeFailed } else { Exit::Ok })
}

/// The table of one channel's pairs.
pub fn render(pairs: &[ListedPair]) -> String {
    let mut table = Table::new(&[
        ("FAR", Align::Left),
        ("NEAR", Align::Left),
        ("ON FAR", Align::Left),
        ("ON NEAR", Align::Left),
        ("FAR MSGS", Align::Right),
        ("NEAR MSGS", Align::Right),
        ("NOTE", Align::Left),
    ]);
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let count = |n: Option<String>| n.unwrap_or_else(|| "-".to_string());
    for pair in pairs {
        table.row(vec![
            cell(&pair.far),
            pair.near.as_deref().map_or_else(
                || "-".to_string(),
                |n| if n.is_empty() { ".".into() } else { cell(n) },
            ),
            yes_no(pair.on_far),
            yes_no(pair.on_near),
            count(pair.far_messages.map(|n| n.to_string())),
            count(pair.near_messages.map(|n| n.to_string())),
            pair.note.clone(),
        ]);
    }
    if table.is_empty() {
        return "(no folders)\n".to_string();
    }
    table.render()
}

/// Lists a channel's pairs with their counts; the flag says whether a folder failed
/// (its error is logged and its count shown as `-`).
fn pairs(
    session: &mut FarSession,
    channel: &Channel,
    config: &Config,
) -> anyhow::Result<(Vec<ListedPair>, bool)> {
    let state_dir = ChannelStateDir::new(&config.general.state_dir, &channel.name);
    let wanted = |display: &str| channel.patterns.matches(display);
    let names: FolderNames = list_folder_names(session, channel, &state_dir, &wanted)?;
    let mut failed = !names.refused.is_empty();
    let mut pairs = Vec::new();
    for display in names.all() {
        let on_far = names.far.contains_key(display);
        let on_near = names.near.contains_key(display);
        if !on_far && !on_near {
            // Only the state is left; the next sync forgets it.
            continue;
        }
        let near = match names.near.get(display) {
            Some(rel) => Some(rel.clone()),
            None => match mapping::near_rel_path(display, channel.layout, channel.folder_names) {
                Ok(rel) => Some(rel.to_string_lossy().into_owned()),
                Err(e) => {
                    log::error(&format!("{}: {e}", channel.name));
                    failed = true;
                    None
                }
            },
        };
        let far_messages = match names.far.get(display) {
            Some(server_name) => match session.message_count(server_name) {
                Ok(n) => Some(n),
                Err(e) => {
                    log::error(&format!("{}: {}: {e}", channel.name, printable(display)));
                    failed = true;
                    None
                }
            },
            None => None,
        };
        let near_messages = match (on_near, &near) {
            (true, Some(rel)) => match MaildirFolder::new(channel.maildir.join(rel)).scan() {
                Ok(scan) => Some(scan.messages.len()),
                Err(e) => {
                    log::error(&format!("{}: {}: {e}", channel.name, printable(display)));
                    failed = true;
                    None
                }
            },
            _ => None,
        };
        let in_state = names.known.contains(display);
        let note = match (on_far, on_near, in_state) {
            (true, false, false) => "new on the far side",
            (false, true, false) => "new on the near side",
            (true, false, true) => "gone from the near side since the last sync",
            (false, true, true) => "gone from the far side since the last sync",
            _ => "",
        };
        pairs.push(ListedPair {
            far: display.clone(),
            near,
            on_far,
            on_near,
            far_messages,
            near_messages,
            note: note.to_string(),
        });
    }
    Ok((pairs, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sided_folders_show_no_for_the_missing_side_and_a_dash_for_its_count() {
        let pairs = vec![
            ListedPair {
                far: "INBOX".into(),
                near: Some(String::new()),
                on_far: true,
                on_near: true,
                far_messages: Some(12),
                near_messages: Some(12),
                note: String::new(),
            },
            ListedPair {
                far: "Only/Far".into(),
                near: Some(".Only.Far".into()),
                on_far: true,
                on_near: false,
                far_messages: Some(3),
                near_messages: None,
                note: "new on the far side".into(),
            },
        ];
        let text = render(&pairs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(lines[1]), ["INBOX", ".", "yes", "yes", "12", "12"]);
        assert_eq!(
            words(lines[2]),
            [
                "Only/Far",
                ".Only.Far",
                "yes",
                "no",
                "3",
                "-",
                "new",
                "on",
                "the",
                "far",
                "side"
            ]
        );
        assert_eq!(render(&[]), "(no folders)\n");
    }
}
