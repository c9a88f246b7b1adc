//! `mailferry sync`: per channel, take the lock, list the folders of both sides and the
//! state, decide each folder pair's fate, run the folder jobs in parallel, and report.

use super::AppError;
use crate::config::{Channel, Config, Direction};
use crate::exec::folder::{FolderContext, FolderTask};
use crate::exec::pool::{AccountPool, Lease};
use crate::exec::{ATTEMPTS, Job, is_transient, run_jobs, snapshot};
use crate::log;
use crate::mapping::{self, Layout, MappingError, Refusal};
use crate::plan::PlanOptions;
use crate::report::{ChannelReport, CreatedOn, FolderReport, Report};
use crate::state::lock::{self, ChannelLock, LockOutcome};
use crate::state::store::ChannelStateDir;
use crate::store::imap::{FarSession, backoff};
use crate::store::maildir::{MaildirFolder, list_folder_dirs};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the command line asked of `sync`.
#[derive(Clone, Debug, Default)]
pub struct SyncRequest {
    /// `CHANNEL` or `CHANNEL:FOLDER`; empty for every channel.
    pub targets: Vec<String>,
    pub dry_run: bool,
    pub pull_only: bool,
    pub push_only: bool,
    pub jobs: Option<usize>,
    pub force: bool,
    /// Whether the report keeps every message's action (`--json`), not just the counts:
    /// on a large initial sync the list is most of the run's memory.
    pub report_actions: bool,
}

/// The outcome of a sync run: the report and whether a channel was locked by another
/// mailferry.
pub struct SyncOutcome {
    pub report: Report,
    pub lock_busy: bool,
}

/// Channels to sync, each with the folders the targets name (None = all).
/// A channel with the folders the targets name (`None` = every folder).
type Selected<'c> = (&'c Channel, Option<BTreeSet<String>>);

fn select_channels<'c>(
    config: &'c Config,
    targets: &[String],
) -> Result<Vec<Selected<'c>>, AppError> {
    if targets.is_empty() {
        return Ok(config.channels.values().map(|c| (c, None)).collect());
    }
    let mut selected: BTreeMap<&str, Option<BTreeSet<String>>> = BTreeMap::new();
    for target in targets {
        let (name, folder) = match target.split_once(':') {
            Some((name, folder)) => (name, Some(folder.to_string())),
            None => (target.as_str(), None),
        };
        if !config.channels.contains_key(name) {
            return Err(unknown_channel(config, name));
        }
        let entry = selected
            .entry(name)
            .or_insert_with(|| Some(BTreeSet::new()));
        match (folder, entry.as_mut()) {
            (Some(folder), Some(folders)) => {
                folders.insert(folder);
            }
            (None, _) => *entry = None,
            (Some(_), None) => {}
        }
    }
    Ok(selected
        .into_iter()
        .filter_map(|(name, folders)| config.channels.get(name).map(|c| (c, folders)))
        .collect())
}

/// The usage error for a channel the config does not define.
fn unknown_channel(config: &Config, name: &str) -> AppError {
    AppError::Usage(format!(
        "no channel {name:?} in {} (channels: {})",
        config.path.display(),
        config
            .channels
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The channel the command line names, or every channel.
pub(super) fn channels_named<'c>(
    config: &'c Config,
    name: Option<&str>,
) -> Result<Vec<&'c Channel>, AppError> {
    match name {
        None => Ok(config.channels.values().collect()),
        Some(name) => config
            .channels
            .get(name)
            .map(|channel| vec![channel])
            .ok_or_else(|| unknown_channel(config, name)),
    }
}

pub fn run(config: &Config, request: &SyncRequest) -> Result<SyncOutcome, AppError> {
    let channels = select_channels(config, &request.targets)?;
    let mut pools: HashMap<&str, AccountPool> = HashMap::new();
    for (channel, _) in &channels {
        if let Some(account) = config.accounts.get(&channel.account) {
            pools
                .entry(account.name.as_str())
                .or_insert_with(|| AccountPool::new(account.clone()));
        }
    }

    let mut locks: Vec<ChannelLock> = Vec::new();
    let mut lock_busy = false;
    let mut reports: BTreeMap<String, Vec<FolderReport>> = BTreeMap::new();
    let mut contexts: Vec<ChannelContext<'_>> = Vec::new();
    for (channel, folders) in channels {
        // A dry run takes no lock: it writes nothing.
        if !request.dry_run {
            match lock::try_lock(&config.general.state_dir, &channel.name) {
                Ok(LockOutcome::Held(held)) => locks.push(held),
                Ok(LockOutcome::Busy) => {
                    lock_busy = true;
                    log::error(&format!(
                        "{}: another mailferry is syncing this channel; skipped",
                        channel.name
                    ));
                    reports
                        .entry(channel.name.clone())
                        .or_default()
                        .push(FolderReport::skipped(
                            "*",
                            "",
                            "another mailferry holds this channel's lock".into(),
                        ));
                    continue;
                }
                Err(e) => {
                    reports
                        .entry(channel.name.clone())
                        .or_default()
                        .push(FolderReport::failed("*", "", format!("{e:#}")));
                    continue;
                }
            }
        }
        let options = plan_options(channel, request);
        let state_dir = ChannelStateDir::new(&config.general.state_dir, &channel.name);
        contexts.push((channel, folders, state_dir, options));
    }

    let folder_contexts: Vec<FolderContext<'_>> = contexts
        .iter()
        .map(|(_, _, state_dir, options)| FolderContext {
            state: state_dir,
            options: *options,
            dry_run: request.dry_run,
            report_actions: request.report_actions,
        })
        .collect();
    std::thread::scope(|scope| {
        open_connections_early(scope, &pools, &contexts);
        run_channels(
            request,
            config,
            &pools,
            &contexts,
            &folder_contexts,
            &mut reports,
        );
    });
    if !request.dry_run {
        note_runs(&contexts, &reports);
    }
    for pool in pools.values() {
        pool.close();
    }
    drop(locks);
    let report = Report::new(
        request.dry_run,
        reports
            .into_iter()
            .map(|(channel, folders)| ChannelReport { channel, folders })
            .collect(),
    );
    Ok(SyncOutcome { report, lock_busy })
}

/// A channel with what this run does to it: the folders asked for (all when `None`), its
/// state directory and the plan's options.
type ChannelContext<'c> = (
    &'c Channel,
    Option<BTreeSet<String>>,
    ChannelStateDir,
    PlanOptions,
);

/// When folders changed on the near side since the last run (a local look, before any
/// connection), their jobs will need the account's connections: they are all opened
/// now, together, instead of one for the listing and the others once it is done (a login
/// is several round trips); the listing takes the first one ready. As many as the
/// folders to work on, within the account's limit; a connection that fails to open here
/// is simply not there (the listing or the job that needs one opens it and reports what
/// goes wrong).
fn open_connections_early<'s, 'p: 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    pools: &'p HashMap<&str, AccountPool>,
    contexts: &[ChannelContext<'_>],
) {
    let mut changed: HashMap<&str, usize> = HashMap::new();
    for (channel, folders, state_dir, _) in contexts {
        *changed.entry(channel.account.as_str()).or_default() +=
            folders_changed_near(channel, state_dir, folders.as_ref());
    }
    for (account, changed) in changed {
        let Some(pool) = pools.get(account) else {
            continue;
        };
        pool.open_ahead(scope, changed);
    }
}

/// How many of the channel's folders (of those asked for, with a state) changed on the
/// near side since the run that saved their state.
fn folders_changed_near(
    channel: &Channel,
    state_dir: &ChannelStateDir,
    only: Option<&BTreeSet<String>>,
) -> usize {
    let Ok(known) = state_dir.folders() else {
        return 0;
    };
    known
        .iter()
        .filter(|display| wanted(channel, only, display))
        .filter(|display| {
            mapping::near_rel_path(display, channel.layout, channel.folder_names).is_ok_and(|rel| {
                snapshot::near_changed_since_saved(
                    &MaildirFolder::new(channel.maildir.join(rel)),
                    state_dir.saved_at(display),
                )
            })
        })
        .count()
}

/// Whether this run syncs the channel's folder `display`: its patterns match, and it is
/// among the folders asked for, if any were.
fn wanted(channel: &Channel, only: Option<&BTreeSet<String>>, display: &str) -> bool {
    channel.patterns.matches(display) && only.is_none_or(|only| only.contains(display))
}

/// Lists each channel's folders and runs their jobs, adding the reports to `reports`. A
/// folder's job starts as soon as it is known to need one: folders opened anyway at
/// once, the others as the server's answer about each comes in.
fn run_channels(
    request: &SyncRequest,
    config: &Config,
    pools: &HashMap<&str, AccountPool>,
    contexts: &[ChannelContext<'_>],
    folder_contexts: &[FolderContext<'_>],
    reports: &mut BTreeMap<String, Vec<FolderReport>>,
) {
    let threads = request.jobs.unwrap_or(config.general.jobs);
    let finished = run_jobs(threads, |start| {
        for ((channel, folders, state_dir, _), ctx) in contexts.iter().zip(folder_contexts) {
            let Some(pool) = pools.get(channel.account.as_str()) else {
                continue;
            };
            let channel_reports = reports.entry(channel.name.clone()).or_default();
            match discover_with_retries(pool, channel, state_dir, folders.as_ref(), request) {
                Ok((discovery, mut lease)) => {
                    channel_reports.extend(discovery.reports);
                    let mut start_task = |task| start(Job { task, pool, ctx });
                    if discovery.watched.is_empty() {
                        // Nothing to ask the server: this connection goes back to the
                        // pool (unless broken) before the jobs start, largest first, so
                        // the largest job may take it rather than open another.
                        drop(lease);
                        discovery.others.into_iter().for_each(start_task);
                        continue;
                    }
                    discovery.others.into_iter().for_each(&mut start_task);
                    let held =
                        ask_statuses(lease.session(), channel, discovery.watched, &mut start_task);
                    // Back to the pool (unless broken), for the job started last.
                    drop(lease);
                    held.into_iter().for_each(start_task);
                }
                Err(e) => {
                    log::error(&format!("{}: {e:#}", channel.name));
                    channel_reports.push(FolderReport::failed("*", "", format!("{e:#}")));
                }
            }
        }
    });
    for (channel, report) in finished {
        reports.entry(channel).or_default().push(report);
    }
}

/// Notes per channel which folders this run finished, for `status` (a folder where
/// nothing changed keeps its state file as it was).
fn note_runs<T, U>(
    contexts: &[(&Channel, T, ChannelStateDir, U)],
    reports: &BTreeMap<String, Vec<FolderReport>>,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for (channel, _, state_dir, _) in contexts {
        let (mut finished, mut far_changed) = (Vec::new(), Vec::new());
        for report in reports.get(&channel.name).into_iter().flatten() {
            if report.status == crate::report::Status::Ok {
                finished.push(report.far.clone());
                if report.far_changed {
                    far_changed.push(report.far.clone());
                }
            }
        }
        if let Err(e) = state_dir.note_run(now, &finished, &far_changed) {
            log::warn(&format!("{}: {e:#}", channel.name));
        }
    }
}

fn plan_options(channel: &Channel, request: &SyncRequest) -> PlanOptions {
    let (mut write_far, mut write_near) = match channel.direction {
        Direction::Both => (true, true),
        Direction::Pull => (false, true),
        Direction::Push => (true, false),
    };
    if request.pull_only {
        write_far = false;
    }
    if request.push_only {
        write_near = false;
    }
    PlanOptions {
        write_far,
        write_near,
        expunge_far: channel.expunge.far,
        expunge_near: channel.expunge.near,
        max_size: channel.max_size,
        force: request.force,
    }
}

/// A printable folder name from a server: control characters escaped.
pub(super) fn printable(name: &str) -> String {
    let mut out: String = name
        .chars()
        .flat_map(char::escape_debug)
        .take(200)
        .collect();
    if name.len() > 200 {
        out.push('…');
    }
    out
}

/// The folder names of a channel on both sides and in the state, before any decision:
/// what `sync` decides pairs from and what `list` shows.
pub(super) struct FolderNames {
    /// Far folders by display name: the name as the server spells it.
    pub far: BTreeMap<String, String>,
    /// Near folders by display name: the path relative to the maildir root.
    pub near: BTreeMap<String, String>,
    /// Folders with a state file.
    pub known: BTreeSet<String>,
    /// The server's hierarchy delimiter.
    pub delimiter: Option<char>,
    /// Far folders whose names cannot be mapped, each reported as failed.
    pub refused: Vec<FolderReport>,
}

impl FolderNames {
    /// Every display name of either side or the state, sorted.
    pub fn all(&self) -> BTreeSet<&String> {
        self.far
            .keys()
            .chain(self.near.keys())
            .chain(self.known.iter())
            .collect()
    }
}

/// Lists far folders (LIST), near folders (the maildir tree) and state folders, keeping
/// the names `wanted` accepts. Far names that cannot be mapped are logged and returned in
/// `refused`; near directories that cannot be are logged and skipped.
pub(super) fn list_folder_names(
    session: &mut FarSession,
    channel: &Channel,
    state_dir: &ChannelStateDir,
    wanted: &dyn Fn(&str) -> bool,
) -> anyhow::Result<FolderNames> {
    let mut refused = Vec::new();
    let listed = session.list_folders()?;
    let delimiter = session
        .delimiter
        .or_else(|| listed.iter().find_map(|f| f.delimiter));
    let mut far: BTreeMap<String, String> = BTreeMap::new();
    for folder in &listed {
        if folder.no_select {
            continue;
        }
        match mapping::far_display_name(
            &folder.server_name,
            folder.delimiter.or(delimiter),
            &session.prefix,
        ) {
            Ok(display) => {
                if wanted(&display) {
                    far.insert(display, folder.server_name.clone());
                }
            }
            Err(MappingError::Refused {
                reason: Refusal::OutsideNamespace(_),
                ..
            }) => {}
            Err(e) => {
                let name = printable(&folder.server_name);
                log::error(&format!("{}: {e}", channel.name));
                refused.push(FolderReport::failed(&name, "", e.to_string()));
            }
        }
    }

    let maildir_plus_plus = channel.layout == Layout::MaildirPlusPlus;
    let (dirs, warnings) = list_folder_dirs(&channel.maildir, maildir_plus_plus)?;
    for warning in warnings {
        log::warn(&format!("{}: {warning}", channel.name));
    }
    let mut near: BTreeMap<String, String> = BTreeMap::new();
    for dir in dirs {
        match mapping::display_from_near(&dir, channel.layout, channel.folder_names) {
            Ok(display) => {
                if wanted(&display) {
                    near.insert(display, dir.to_string_lossy().into_owned());
                }
            }
            Err(e) => log::warn(&format!(
                "{}: skipping {}: {e}",
                channel.name,
                dir.display()
            )),
        }
    }
    let known: BTreeSet<String> = state_dir
        .folders()?
        .into_iter()
        .filter(|f| wanted(f))
        .collect();
    Ok(FolderNames {
        far,
        near,
        known,
        delimiter,
        refused,
    })
}

/// [`discover`] on a leased connection, returned with its answer (the server is then
/// asked which folders changed on it). A transient failure (a cut or a timeout during
/// login or LIST) drops that connection and is retried with back-off, as a folder's is.
fn discover_with_retries<'p>(
    pool: &'p AccountPool,
    channel: &Channel,
    state_dir: &ChannelStateDir,
    only: Option<&BTreeSet<String>>,
    request: &SyncRequest,
) -> anyhow::Result<(Discovery, Lease<'p>)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = (|| {
            let mut lease = pool.lease_first_ready()?;
            match discover(lease.session(), channel, state_dir, only, request) {
                Ok(discovery) => Ok((discovery, lease)),
                Err(e) => {
                    if is_transient(&e) {
                        lease.discard();
                    }
                    Err(e)
                }
            }
        })();
        match outcome {
            Err(e) if is_transient(&e) && attempt < ATTEMPTS => {
                log::warn(&format!(
                    "{}: listing folders: {e:#}; retrying ({attempt} of {})",
                    channel.name,
                    ATTEMPTS - 1
                ));
                std::thread::sleep(backoff(attempt));
            }
            other => return other,
        }
    }
}

/// Lists far folders, near folders and state folders, and decides each pair's fate.
fn discover(
    session: &mut FarSession,
    channel: &Channel,
    state_dir: &ChannelStateDir,
    only: Option<&BTreeSet<String>>,
    request: &SyncRequest,
) -> anyhow::Result<Discovery> {
    let wanted = |display: &str| wanted(channel, only, display);
    let mut listing = list_folder_names(session, channel, state_dir, &wanted)?;
    let mut reports = std::mem::take(&mut listing.refused);
    let (far, near, known, delimiter) = (
        &listing.far,
        &listing.near,
        &listing.known,
        listing.delimiter,
    );
    let names = listing.all();
    let may_create_near = channel.create.near && plan_options(channel, request).write_near;
    let may_create_far = channel.create.far && plan_options(channel, request).write_far;
    let mut tasks = Vec::new();
    for display in names {
        let near_rel = match near.get(display) {
            Some(rel) => rel.clone(),
            None => match mapping::near_rel_path(display, channel.layout, channel.folder_names) {
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(e) => {
                    log::error(&format!("{}: {e}", channel.name));
                    reports.push(FolderReport::failed(&printable(display), "", e.to_string()));
                    continue;
                }
            },
        };
        let server_name = match far.get(display) {
            Some(server) => server.clone(),
            None => match mapping::far_server_name_checked(display, delimiter, &session.prefix) {
                Ok(server) => server,
                Err(e) => {
                    log::error(&format!("{}: {e}", channel.name));
                    reports.push(FolderReport::failed(display, &near_rel, e.to_string()));
                    continue;
                }
            },
        };
        let (on_far, on_near, in_state) = (
            far.contains_key(display),
            near.contains_key(display),
            known.contains(display),
        );
        let remove = match (on_far, on_near) {
            (true, false) => {
                in_state && channel.remove.far && plan_options(channel, request).write_far
            }
            (false, true) => {
                in_state && channel.remove.near && plan_options(channel, request).write_near
            }
            _ => false,
        };
        let create = match (on_far, on_near) {
            _ if remove => None,
            (true, true) => None,
            (false, false) => {
                // Gone from both sides: only the state is left.
                if !request.dry_run {
                    state_dir.remove(display)?;
                }
                continue;
            }
            (true, false) if may_create_near => Some(CreatedOn::Near),
            (false, true) if may_create_far => Some(CreatedOn::Far),
            (true, false) => {
                if in_state || channel.create.near {
                    reports.push(FolderReport::skipped(
                        display,
                        &near_rel,
                        "missing on the near side and this run may not create it there".into(),
                    ));
                }
                continue;
            }
            (false, true) => {
                if in_state || channel.create.far {
                    reports.push(FolderReport::skipped(
                        display,
                        &near_rel,
                        "missing on the far side and this run may not create it there".into(),
                    ));
                }
                continue;
            }
        };
        if create.is_some() && in_state {
            log::folder(&format!(
                "{}: {display}: deleted on one side; recreating it (remove does not allow deleting it on the other)",
                channel.name
            ));
        }
        if remove {
            log::folder(&format!(
                "{}: {display}: deleted on one side; removing it from the other (remove)",
                channel.name
            ));
        }
        tasks.push(FolderTask {
            channel: channel.name.clone(),
            far: display.clone(),
            server_name,
            near: near_rel.clone(),
            near_dir: channel.maildir.join(&near_rel),
            far_exists: on_far,
            create,
            remove,
            far_status: None,
        });
    }
    // Which folders the server is asked about (see [`ask_statuses`]): those with a
    // state, unchanged on the near side, whose far side did not change when the last run
    // synced them. The others are opened anyway: STATUS costs the server as much work as
    // SELECT where it must re-read a folder (Dovecot re-reads a changed Maildir folder
    // for each), so a folder that changed on the server last time (and is likely to have
    // changed again) is selected at once rather than read twice.
    let changed_last_run = state_dir.far_changed_last_run();
    let (mut watched, mut others): (Vec<FolderTask>, Vec<FolderTask>) =
        tasks.into_iter().partition(|t| {
            t.far_exists
                && !t.remove
                && known.contains(&t.far)
                && !changed_last_run.contains(&t.far)
                && !snapshot::near_changed_since_saved(
                    &MaildirFolder::new(t.near_dir.clone()),
                    state_dir.saved_at(&t.far),
                )
        });
    // The largest folders first: the longest jobs start first.
    for list in [&mut watched, &mut others] {
        list.sort_by_cached_key(|t| std::cmp::Reverse(state_dir.estimated_messages(&t.far)));
    }
    Ok(Discovery {
        others,
        watched,
        reports,
    })
}

/// A channel's folders to sync, as [`discover`] found them.
struct Discovery {
    /// Folders to open without asking the server first, largest first.
    others: Vec<FolderTask>,
    /// Folders with a state, unchanged on the near side: the server is asked whether
    /// they changed (STATUS), largest first.
    watched: Vec<FolderTask>,
    /// Folders refused or skipped.
    reports: Vec<FolderReport>,
}

/// One round trip (a STATUS per folder, pipelined, largest first) tells which of the
/// `watched` folders changed on the far side since the last run; `start` is given each
/// folder's task with its STATUS as soon as the answer is in, so its job starts while
/// the server still works on the others (Dovecot may have to re-read a folder changed
/// lately to answer). The last folder answered is returned instead, to be started once
/// this connection is free for it. On a failure, the folders not answered are returned
/// without STATUS (they are selected, which tells the same).
fn ask_statuses(
    session: &mut FarSession,
    channel: &Channel,
    watched: Vec<FolderTask>,
    start: &mut dyn FnMut(FolderTask),
) -> Vec<FolderTask> {
    let names: Vec<String> = watched.iter().map(|t| t.server_name.clone()).collect();
    let asked: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut waiting: HashMap<String, FolderTask> = watched
        .into_iter()
        .map(|t| (t.server_name.clone(), t))
        .collect();
    let mut held = Vec::new();
    let outcome = session.folder_statuses(&asked, &mut |name, status| {
        if let Some(mut task) = waiting.remove(name) {
            task.far_status = status;
            if waiting.is_empty() {
                held.push(task);
            } else {
                start(task);
            }
        }
    });
    if let Err(e) = outcome {
        log::warn(&format!(
            "{}: asking which folders changed: {e:#}; the rest are selected instead",
            channel.name
        ));
    }
    held.extend(names.iter().filter_map(|name| waiting.remove(name)));
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FolderState;
    use std::fs;
    use std::time::{Duration, SystemTime};

    fn set_time(path: &std::path::Path, ago: Duration) {
        fs::File::open(path)
            .unwrap()
            .set_modified(SystemTime::now() - ago)
            .unwrap();
    }

    #[test]
    fn folders_changed_near_counts_the_known_folders_whose_directories_are_newer_than_their_state()
    {
        let tmp = tempfile::tempdir().unwrap();
        let text = format!(
            "[general]\nstate_dir = \"{state}\"\n\n[account.a]\nhost = \"localhost\"\nuser = \"u\"\npassword = \"p\"\n\n[channel.c]\naccount = \"a\"\nmaildir = \"{mail}\"\nfolders = [\"*\"]\n",
            state = tmp.path().join("state").display(),
            mail = tmp.path().join("Mail").display(),
        );
        let config = crate::config::parse(&text, &tmp.path().join("config.toml")).unwrap();
        let channel = &config.channels["c"];
        let state_dir = ChannelStateDir::new(&config.general.state_dir, &channel.name);
        state_dir.create().unwrap();
        let folders = ["Archive", "Sent", "Work"];
        for folder in folders {
            let near =
                mapping::near_rel_path(folder, channel.layout, channel.folder_names).unwrap();
            for sub in ["cur", "new", "tmp"] {
                let dir = channel.maildir.join(&near).join(sub);
                fs::create_dir_all(&dir).unwrap();
                set_time(&dir, Duration::from_secs(120));
            }
            state_dir.save(&FolderState::new(folder, folder)).unwrap();
            set_time(
                &state_dir.dir().join(format!("{folder}.state")),
                Duration::from_secs(60),
            );
        }
        assert_eq!(folders_changed_near(channel, &state_dir, None), 0);
        // A message delivered to Archive since its state was saved.
        fs::write(channel.maildir.join("Archive/new/1.M1P1.host"), "x").unwrap();
        assert_eq!(folders_changed_near(channel, &state_dir, None), 1);
        let only_work = BTreeSet::from(["Work".to_string()]);
        assert_eq!(
            folders_changed_near(channel, &state_dir, Some(&only_work)),
            0
        );
        // A folder never synced has no state to compare with: not counted.
        fs::create_dir_all(channel.maildir.join("New/cur")).unwrap();
        assert_eq!(folders_changed_near(channel, &state_dir, None), 1);
    }
}
