//! `mailferry import mbsync`: an mbsync config and its sync state -> a mailferry config and
//! state, so that the first sync after switching pairs every message mbsync had paired
//! (nothing downloaded, uploaded or deleted). `mbsyncrc.rs` reads the file, `convert.rs`
//! maps it, `toml_out.rs` writes the config, `state.rs` reads mbsync's state; this file
//! finds the files, prints the warnings and does the writing.

pub mod convert;
pub mod mbsyncrc;
pub mod state;
pub mod toml_out;

use crate::app::{AppError, Exit};
use crate::config::{self, Config};
use crate::log;
use crate::mapping::{self, Layout};
use crate::state::FolderState;
use crate::state::store::ChannelStateDir;
use crate::store::maildir::list_folder_dirs;
use convert::{Conversion, SecretOut, StateLocation, expand_tilde};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Something in the mbsyncrc that does not carry over as written, with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    /// The keyword as written in the file.
    pub keyword: String,
    pub message: String,
}

/// What `import mbsync` was asked to do.
#[derive(Clone, Debug)]
pub struct MbsyncRequest {
    /// `--mbsyncrc FILE`; else the default locations.
    pub mbsyncrc: Option<PathBuf>,
    /// `--write`: write the config (never over an existing file) and the state.
    pub write: bool,
    /// Where mailferry's config lives (`-c`, `$MAILFERRY_CONFIG` or the default).
    pub config_path: PathBuf,
}

/// One folder's imported state, ready to save.
struct Imported {
    channel: String,
    state_dir: ChannelStateDir,
    folders: Vec<FolderState>,
}

/// The mbsync config files tried when `--mbsyncrc` is not given: mbsync 1.5's
/// `$XDG_CONFIG_HOME/isyncrc` (`~/.config/isyncrc`), then `~/.mbsyncrc`.
pub fn default_mbsyncrc_paths(env: &dyn Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    let mut paths = Vec::new();
    match env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        Some(dir) => paths.push(dir.join("isyncrc")),
        None => {
            if let Some(home) = &home {
                paths.push(home.join(".config/isyncrc"));
            }
        }
    }
    if let Some(home) = &home {
        paths.push(home.join(".mbsyncrc"));
    }
    paths
}

fn home() -> Option<String> {
    std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::home_dir().map(|h| h.display().to_string()))
}

/// Runs `mailferry import mbsync`.
pub fn run_mbsync(request: &MbsyncRequest) -> Result<Exit, AppError> {
    let rc_path = match &request.mbsyncrc {
        Some(path) => path.clone(),
        None => {
            let tried = default_mbsyncrc_paths(&|name| std::env::var_os(name));
            match tried.iter().find(|p| p.is_file()) {
                Some(p) => p.clone(),
                None => {
                    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                    return Err(AppError::Usage(format!(
                        "no mbsync config found (looked for {}); name it with --mbsyncrc FILE",
                        list.join(" and ")
                    )));
                }
            }
        }
    };
    let text = fs::read_to_string(&rc_path).map_err(|e| {
        AppError::Usage(format!(
            "{}: cannot read the mbsync config: {e}; check the path given with --mbsyncrc",
            rc_path.display()
        ))
    })?;
    let rc = mbsyncrc::parse(&text).map_err(|e| {
        AppError::Usage(format!(
            "{}:{}: {}; {}",
            rc_path.display(),
            e.line,
            e.problem,
            e.fix
        ))
    })?;
    let home = home();
    let conversion = convert::convert(&rc, home.as_deref());
    for w in &conversion.warnings {
        log::warn(&format!(
            "{}:{}: {}: {}",
            rc_path.display(),
            w.line,
            w.keyword,
            w.message
        ));
    }
    if conversion.channels.is_empty() {
        return Err(AppError::Usage(format!(
            "{}: no Channel could be converted (an IMAPStore Far side and a MaildirStore Near side are needed; see the warnings above)",
            rc_path.display()
        )));
    }

    // The config with the real passwords is what gets written (and checked); the printed
    // one has placeholders.
    let full = toml_out::render(&conversion, &rc_path, true);
    let config = config::parse(&full, &request.config_path).map_err(|e| {
        AppError::Usage(format!(
            "the converted config does not load ({e}); fix the mbsync config or edit the printed config by hand"
        ))
    })?;
    let imported = import_states(&conversion, &config)?;

    if !request.write {
        print!("{}", toml_out::render(&conversion, &rc_path, false));
        for account in &conversion.accounts {
            if let SecretOut::Password { line, .. } = &account.secret {
                log::warn(&format!(
                    "{}:{line}: Pass: the password is not printed (the config above says {}); --write puts it into the config file, readable by you alone",
                    rc_path.display(),
                    toml_out::PASSWORD_PLACEHOLDER
                ));
            }
        }
        let pairs: usize = imported
            .iter()
            .flat_map(|i| i.folders.iter())
            .map(|f| f.pairs.len())
            .sum();
        log::info(&format!(
            "nothing written: `mailferry import mbsync --write` writes this config to {} and imports mbsync's state ({pairs} message pairs)",
            request.config_path.display()
        ));
        return Ok(Exit::Ok);
    }

    // --write: refuse to overwrite anything, then write the config, then the state.
    if request.config_path.exists() {
        return Err(AppError::Usage(format!(
            "{}: a config file exists already; move it away, or write elsewhere with -c FILE",
            request.config_path.display()
        )));
    }
    for i in &imported {
        let existing = i.state_dir.folders().map_err(AppError::Failed)?;
        if !existing.is_empty() {
            return Err(AppError::Usage(format!(
                "{}: mailferry state for channel {} exists already ({} folders); move it away to import mbsync's state again",
                i.state_dir.dir().display(),
                i.channel,
                existing.len()
            )));
        }
    }
    write_config(&request.config_path, &full)?;
    let say = |line: String| {
        if log::verbosity() >= 0 {
            println!("{line}");
        }
    };
    say(format!("wrote {}", request.config_path.display()));
    if conversion
        .accounts
        .iter()
        .any(|a| matches!(a.secret, SecretOut::Password { .. }))
    {
        log::warn(&format!(
            "{} holds the password from the mbsync config (mode 0600); consider pass_cmd instead",
            request.config_path.display()
        ));
    }
    for i in &imported {
        for folder in &i.folders {
            i.state_dir.save(folder).map_err(AppError::Failed)?;
            say(format!(
                "imported {}:{}: {} message pairs",
                i.channel,
                folder.far,
                folder.pairs.len()
            ));
        }
    }
    Ok(Exit::Ok)
}

/// Writes the config file, mode 0600, never replacing an existing file.
fn write_config(path: &Path, text: &str) -> Result<(), AppError> {
    let fail = |e: std::io::Error| {
        AppError::Failed(anyhow::anyhow!(
            "{}: cannot write the config: {e}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            AppError::Usage(format!(
                "{}: a config file exists already; move it away, or write elsewhere with -c FILE",
                path.display()
            ))
        } else {
            fail(e)
        }
    })?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    Ok(())
}

/// mbsync's name for a folder: the display name with each component in modified UTF-7.
fn box_name(display: &str) -> String {
    if display.eq_ignore_ascii_case(mapping::INBOX) {
        return mapping::INBOX.to_string();
    }
    display
        .split('/')
        .map(mapping::encode_mutf7)
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a source channel keeps the state of a folder.
fn state_path(
    location: &StateLocation,
    source: &convert::Source,
    dir: &Path,
    display: &str,
    home: Option<&str>,
) -> PathBuf {
    let clean = box_name(display).replace('/', "!");
    match location {
        StateLocation::InMailbox => dir.join(".mbsyncstate"),
        StateLocation::Prefix(prefix) => {
            PathBuf::from(format!("{}{clean}", expand_tilde(prefix, home)))
        }
        StateLocation::Global { prefix, delimiter } => {
            let d = delimiter;
            PathBuf::from(format!(
                "{}{d}{}{d}{clean}_{d}{}{d}{clean}",
                expand_tilde(prefix, home),
                source.far_store,
                source.near_store
            ))
        }
    }
}

/// Reads mbsync's state for every folder of every converted channel (writes nothing).
/// Folders whose state cannot be used are warned about and left to the first sync's
/// pairing by Message-ID.
fn import_states(conversion: &Conversion, config: &Config) -> Result<Vec<Imported>, AppError> {
    let home = home();
    let mut out = Vec::new();
    for converted in &conversion.channels {
        let Some(channel) = config.channels.get(&converted.name) else {
            continue;
        };
        let (dirs, scan_warnings) =
            list_folder_dirs(&channel.maildir, channel.layout == Layout::MaildirPlusPlus)
                .map_err(|e| AppError::Failed(e.into()))?;
        for w in scan_warnings {
            log::warn(&format!("{}: {w}", channel.name));
        }
        let mut folders = Vec::new();
        for rel in dirs {
            let display =
                match mapping::display_from_near(&rel, channel.layout, channel.folder_names) {
                    Ok(d) => d,
                    Err(e) => {
                        log::warn(&format!(
                            "{}: skipping {}: {e}",
                            channel.name,
                            rel.display()
                        ));
                        continue;
                    }
                };
            if !channel.patterns.matches(&display) {
                continue;
            }
            let dir = channel.maildir.join(&rel);
            let near = rel.to_string_lossy().into_owned();
            let found = converted.sources.iter().find_map(|source| {
                let paths = state::StatePaths {
                    state: state_path(&source.state, source, &dir, &display, home.as_deref()),
                };
                paths.exists().then_some(paths)
            });
            let Some(paths) = found else {
                log::warn(&format!(
                    "{}: {display}: no mbsync state found; the first sync pairs its messages by Message-ID",
                    channel.name
                ));
                continue;
            };
            match state::import_folder(&paths, &dir, &display, &near) {
                Ok(folder) => {
                    for note in &folder.notes {
                        log::warn(&format!("{}: {display}: {note}", channel.name));
                    }
                    folders.push(folder.state);
                }
                Err(why) => log::warn(&format!(
                    "{}: {display}: mbsync's state is not imported ({why}); the first sync pairs its messages by Message-ID",
                    channel.name
                )),
            }
        }
        out.push(Imported {
            channel: channel.name.clone(),
            state_dir: ChannelStateDir::new(&config.general.state_dir, &channel.name),
            folders,
        });
    }
    Ok(out)
}
