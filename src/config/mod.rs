//! Config: the TOML file of SPEC §2 -> checked, resolved structs (defaults filled in,
//! paths expanded, names cross-checked), with every refusal naming the file, line and key.
//!
//! `raw.rs` holds the file as written (serde, `deny_unknown_fields`, spans); this file
//! checks it and builds the public types. `secret.rs` resolves passwords, `expand.rs`
//! expands `~`/`$VAR` in paths, `size.rs` parses `max_size`, `error.rs` locates errors.

mod error;
mod expand;
mod raw;
mod secret;
mod size;

pub use error::ConfigError;
pub use secret::Secret;

use crate::mapping::{FolderNames, Layout, Patterns};
use expand::Env;
use raw::{RawAccount, RawChannel, RawConfig, RawGeneral, Tables};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A loaded, checked config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub general: General,
    /// By account name.
    pub accounts: BTreeMap<String, Account>,
    /// By channel name; never empty.
    pub channels: BTreeMap<String, Channel>,
}

/// `[general]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct General {
    /// Where state and locks live. Default `$XDG_STATE_HOME/mailferry`, else
    /// `~/.local/state/mailferry`.
    pub state_dir: PathBuf,
    /// Folders synced at once, all channels together. Default 4, at least 1.
    pub jobs: usize,
}

/// `[account.NAME]`: one IMAP account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub host: String,
    /// Default 993 for implicit TLS, 143 otherwise.
    pub port: u16,
    pub tls: TlsMode,
    /// An extra trust anchor (PEM); the system roots stay trusted.
    pub ca_file: Option<PathBuf>,
    pub user: String,
    pub secret: Secret,
    /// Most connections open to this account at once. Default 4, at least 1.
    pub connections: usize,
    /// Silence after which a connection counts as dead. Default 60 s, at least 1 s.
    pub timeout: Duration,
    /// Whether `tls = "none"` may be used to a host that is not loopback.
    pub allow_plaintext: bool,
}

/// How the connection to the server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (`"implicit"`, the default; port 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS (`"starttls"`; port 143).
    StartTls,
    /// No TLS (`"none"`): loopback only, unless `allow_plaintext = true`.
    None,
}

/// `[channel.NAME]`: one account synced with one maildir tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    /// The name of an account in [`Config::accounts`].
    pub account: String,
    /// The maildir root, absolute, with `~` and variables expanded.
    pub maildir: PathBuf,
    pub layout: Layout,
    pub folder_names: FolderNames,
    /// Which far folders are synced (`folders`, default `["*"]`).
    pub patterns: Patterns,
    pub direction: Direction,
    /// Sides on which a folder missing there is created.
    pub create: SideSet,
    /// Sides to which a folder deletion is propagated.
    pub remove: SideSet,
    /// Sides on which deleted-flagged messages are purged.
    pub expunge: SideSet,
    /// Far messages larger than this many bytes are not downloaded.
    pub max_size: Option<u64>,
}

/// Which way changes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Both,
    /// Far -> near only.
    Pull,
    /// Near -> far only.
    Push,
}

/// A set of sides, from `"both"`, `"far"`, `"near"` or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideSet {
    pub far: bool,
    pub near: bool,
}

impl SideSet {
    pub const BOTH: SideSet = SideSet {
        far: true,
        near: true,
    };
    pub const FAR: SideSet = SideSet {
        far: true,
        near: false,
    };
    pub const NEAR: SideSet = SideSet {
        far: false,
        near: true,
    };
    pub const NONE: SideSet = SideSet {
        far: false,
        near: false,
    };
}

impl Config {
    /// Whether any account keeps its password in the config file.
    pub fn has_password(&self) -> bool {
        self.accounts
            .values()
            .any(|a| matches!(a.secret, Secret::Password(_)))
    }

    /// The account a channel syncs (always present in a loaded config).
    pub fn account_for(&self, channel: &Channel) -> Option<&Account> {
        self.accounts.get(&channel.account)
    }
}

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text, path)
}

/// Checks config `text`; `path` is where it came from, for messages and [`Config::path`].
/// Reads the environment to expand paths and find default directories.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, path, &expand::process_env)
}

/// [`parse`] with the environment passed in.
pub(crate) fn parse_with_env(text: &str, path: &Path, env: Env<'_>) -> Result<Config, ConfigError> {
    Resolver { text, path, env }.config()
}

/// `$XDG_CONFIG_HOME/mailferry/config.toml`, else `~/.config/mailferry/config.toml`
/// (relative to the working directory if even the home directory is unknown).
/// `$MAILFERRY_CONFIG` and `-c` are the command line's business.
pub fn default_path() -> PathBuf {
    default_path_with(&expand::process_env)
}

fn default_path_with(env: Env<'_>) -> PathBuf {
    let tail = Path::new("mailferry").join("config.toml");
    if let Some(dir) = absolute_env(env, "XDG_CONFIG_HOME") {
        return dir.join(tail);
    }
    let home = env("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".config").join(tail)
}

/// An XDG base directory variable, ignored (as the spec says) when empty or relative.
fn absolute_env(env: Env<'_>, name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// A warning when the config file at `path` holds a password (`has_password`, see
/// [`Config::has_password`]) and is readable by group or others.
pub fn permission_warning(path: &Path, has_password: bool) -> Option<String> {
    if !has_password {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o044 != 0 {
            return Some(format!(
                "{}: holds a password but is readable by other users (mode {:03o}); run `chmod 600 {}`, or use pass_cmd instead of password",
                path.display(),
                mode & 0o777,
                shell_quote(&path.display().to_string()),
            ));
        }
    }
    None
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1 (also bracketed or
/// IPv4-mapped). The one test of "plaintext stays on this machine" for the config, the
/// connection and `import mbsync`.
pub fn is_loopback(host: &str) -> bool {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Sorts a table of named tables into file order.
fn in_file_order<T>(tables: &Tables<T>) -> Vec<(&Spanned<String>, &Spanned<T>)> {
    let mut v: Vec<_> = tables.get_ref().iter().collect();
    v.sort_by_key(|(k, t)| t.span().start.min(k.span().start));
    v
}

const TLS_MODES: &[(&str, TlsMode)] = &[
    ("implicit", TlsMode::Implicit),
    ("starttls", TlsMode::StartTls),
    ("none", TlsMode::None),
];
const LAYOUTS: &[(&str, Layout)] = &[
    ("verbatim", Layout::Verbatim),
    ("maildir++", Layout::MaildirPlusPlus),
];
const FOLDER_NAMES: &[(&str, FolderNames)] =
    &[("utf8", FolderNames::Utf8), ("imap", FolderNames::Imap)];
const DIRECTIONS: &[(&str, Direction)] = &[
    ("both", Direction::Both),
    ("pull", Direction::Pull),
    ("push", Direction::Push),
];
const SIDE_SETS: &[(&str, SideSet)] = &[
    ("both", SideSet::BOTH),
    ("far", SideSet::FAR),
    ("near", SideSet::NEAR),
    ("none", SideSet::NONE),
];

struct Resolver<'a> {
    text: &'a str,
    path: &'a Path,
    env: Env<'a>,
}

impl Resolver<'_> {
    fn err(
        &self,
        span: Option<Range<usize>>,
        key: &[&str],
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: span.map(|s| error::line_of(self.text, s.start)),
            key: error::key_path(key),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    fn config(&self) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(self.text).map_err(|e| error::from_toml(self.text, self.path, &e))?;
        let general = self.general(raw.general.as_ref())?;

        let mut accounts = BTreeMap::new();
        if let Some(tables) = &raw.account {
            for (name, table) in in_file_order(tables) {
                let account = self.account(name, table)?;
                accounts.insert(account.name.clone(), account);
            }
        }

        let tables = match &raw.channel {
            Some(t) if !t.get_ref().is_empty() => t,
            other => {
                return Err(self.err(
                    other.as_ref().map(|t| t.span()),
                    &["channel"],
                    "no channel is defined, so there is nothing to sync",
                    "add a [channel.NAME] table with account = \"...\" and maildir = \"...\"",
                ));
            }
        };
        let mut channels = BTreeMap::new();
        let mut maildirs: Vec<(&str, PathBuf)> = Vec::new();
        for (name, table) in in_file_order(tables) {
            let channel = self.channel(name, table, &accounts)?;
            for (other, dir) in &maildirs {
                if channel.maildir.starts_with(dir) || dir.starts_with(&channel.maildir) {
                    let span = table.get_ref().maildir.as_ref().map(|m| m.span());
                    let how = if channel.maildir == *dir {
                        "is the same directory as"
                    } else {
                        "overlaps (one inside the other)"
                    };
                    return Err(self.err(
                        span,
                        &["channel", name.get_ref(), "maildir"],
                        format!(
                            "{} {how} the maildir of channel {other}, {}",
                            channel.maildir.display(),
                            dir.display()
                        ),
                        "give each channel its own directory, side by side (e.g. ~/Mail/personal and ~/Mail/work)",
                    ));
                }
            }
            maildirs.push((name.get_ref(), channel.maildir.clone()));
            channels.insert(channel.name.clone(), channel);
        }

        Ok(Config {
            path: self.path.to_path_buf(),
            general,
            accounts,
            channels,
        })
    }

    fn general(&self, raw: Option<&Spanned<RawGeneral>>) -> Result<General, ConfigError> {
        let g = raw.map(Spanned::get_ref);
        let state_dir = match g.and_then(|g| g.state_dir.as_ref()) {
            Some(v) => self.path_value(
                v,
                &["general", "state_dir"],
                "state_dir = \"~/.local/state/mailferry\"",
            )?,
            None => self.default_state_dir()?,
        };
        let jobs = self.positive(
            g.and_then(|g| g.jobs.as_ref()),
            &["general", "jobs"],
            4,
            "set how many folders are synced at once, e.g. jobs = 4",
        )?;
        Ok(General {
            state_dir,
            jobs: usize::try_from(jobs).unwrap_or(usize::MAX),
        })
    }

    fn default_state_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = absolute_env(self.env, "XDG_STATE_HOME") {
            return Ok(dir.join("mailferry"));
        }
        match (self.env)("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".local/state/mailferry")),
            None => Err(self.err(
                None,
                &["general", "state_dir"],
                "has no default, because neither XDG_STATE_HOME nor HOME is set",
                "set state_dir in [general]",
            )),
        }
    }

    fn account(
        &self,
        name: &Spanned<String>,
        table: &Spanned<RawAccount>,
    ) -> Result<Account, ConfigError> {
        let n = name.get_ref().as_str();
        self.check_name("account", name)?;
        let a = table.get_ref();
        let span = table.span();

        let host = self.required(
            &a.host,
            &span,
            &["account", n, "host"],
            "set it to the IMAP server's name, e.g. host = \"imap.example.org\"",
        )?;
        let h = host.get_ref();
        if h.is_empty() || h.chars().any(char::is_whitespace) {
            return Err(self.err(
                Some(host.span()),
                &["account", n, "host"],
                format!("{h:?} is not a host name"),
                "set it to the IMAP server's name, e.g. host = \"imap.example.org\"",
            ));
        }

        let tls = match &a.tls {
            Some(v) => self.choice(v, &["account", n, "tls"], TLS_MODES)?,
            None => TlsMode::Implicit,
        };
        let port = match &a.port {
            None if tls == TlsMode::Implicit => 993,
            None => 143,
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(port) if port != 0 => port,
                _ => {
                    return Err(self.err(
                        Some(p.span()),
                        &["account", n, "port"],
                        format!("{} is not a TCP port", p.get_ref()),
                        "use a port from 1 to 65535 (993 for tls = \"implicit\", 143 otherwise), or remove it for the default",
                    ));
                }
            },
        };

        let ca_file = match &a.ca_file {
            Some(v) => {
                if tls == TlsMode::None {
                    return Err(self.err(
                        Some(v.span()),
                        &["account", n, "ca_file"],
                        "is set but tls = \"none\" uses no certificates",
                        "remove ca_file, or use tls = \"implicit\" or \"starttls\"",
                    ));
                }
                Some(self.path_value(
                    v,
                    &["account", n, "ca_file"],
                    "ca_file = \"~/.config/mailferry/ca.pem\"",
                )?)
            }
            None => None,
        };

        let user = self.required(
            &a.user,
            &span,
            &["account", n, "user"],
            "set it to the login name, e.g. user = \"me@example.org\"",
        )?;
        if user.get_ref().is_empty() {
            return Err(self.err(
                Some(user.span()),
                &["account", n, "user"],
                "is empty",
                "set it to the login name, e.g. user = \"me@example.org\"",
            ));
        }

        let secret = match (&a.password, &a.pass_cmd) {
            (Some(p), Some(_)) => {
                return Err(self.err(
                    Some(p.span()),
                    &["account", n, "password"],
                    "both password and pass_cmd are set",
                    "keep only one of them (pass_cmd keeps the password out of this file)",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    Some(span),
                    &["account", n],
                    "neither password nor pass_cmd is set",
                    "add pass_cmd = \"COMMAND\" (the first line it prints is the password), or password = \"...\"",
                ));
            }
            (Some(p), None) => {
                if p.get_ref().is_empty() {
                    return Err(self.err(
                        Some(p.span()),
                        &["account", n, "password"],
                        "is empty",
                        "set the password, or use pass_cmd instead",
                    ));
                }
                Secret::Password(p.get_ref().clone())
            }
            (None, Some(c)) => {
                if c.get_ref().trim().is_empty() {
                    return Err(self.err(
                        Some(c.span()),
                        &["account", n, "pass_cmd"],
                        "is empty",
                        "set it to a command that prints the password, e.g. pass_cmd = \"pass show mail/personal\"",
                    ));
                }
                Secret::Command {
                    account: n.to_string(),
                    command: c.get_ref().clone(),
                }
            }
        };

        let connections = self.positive(
            a.connections.as_ref(),
            &["account", n, "connections"],
            4,
            "set the most connections open to this account at once, e.g. connections = 4",
        )?;
        let timeout = self.positive(
            a.timeout.as_ref(),
            &["account", n, "timeout"],
            60,
            "set the seconds of silence before a connection counts as dead, e.g. timeout = 60",
        )?;
        let allow_plaintext = a.allow_plaintext.as_ref().is_some_and(|b| *b.get_ref());

        if tls == TlsMode::None && !allow_plaintext && !is_loopback(h) {
            return Err(self.err(
                a.tls.as_ref().map(|t| t.span()),
                &["account", n, "tls"],
                format!(
                    "tls = \"none\" would send the password unencrypted to {h}, which is not this machine"
                ),
                "use tls = \"implicit\" or \"starttls\", or add allow_plaintext = true if the network between is trusted",
            ));
        }

        Ok(Account {
            name: n.to_string(),
            host: h.clone(),
            port,
            tls,
            ca_file,
            user: user.get_ref().clone(),
            secret,
            connections: usize::try_from(connections).unwrap_or(usize::MAX),
            timeout: Duration::from_secs(timeout),
            allow_plaintext,
        })
    }

    fn channel(
        &self,
        name: &Spanned<String>,
        table: &Spanned<RawChannel>,
        accounts: &BTreeMap<String, Account>,
    ) -> Result<Channel, ConfigError> {
        let n = name.get_ref().as_str();
        self.check_name("channel", name)?;
        let c = table.get_ref();
        let span = table.span();

        let account = self.required(
            &c.account,
            &span,
            &["channel", n, "account"],
            "set it to the name of an [account.NAME] table",
        )?;
        if !accounts.contains_key(account.get_ref()) {
            let fix = if accounts.is_empty() {
                format!(
                    "define it in an [account.{}] table",
                    error::quote_key(account.get_ref())
                )
            } else {
                let known: Vec<&str> = accounts.keys().map(String::as_str).collect();
                format!(
                    "define [account.{}], or use one of the accounts defined: {}",
                    error::quote_key(account.get_ref()),
                    known.join(", ")
                )
            };
            return Err(self.err(
                Some(account.span()),
                &["channel", n, "account"],
                format!(
                    "names the account {:?}, which is not defined",
                    account.get_ref()
                ),
                fix,
            ));
        }

        let maildir = self.required(
            &c.maildir,
            &span,
            &["channel", n, "maildir"],
            "set it to the directory holding this channel's mail, e.g. maildir = \"~/Mail/personal\"",
        )?;
        let maildir = self.path_value(
            maildir,
            &["channel", n, "maildir"],
            "maildir = \"~/Mail/personal\"",
        )?;

        let layout = match &c.layout {
            Some(v) => self.choice(v, &["channel", n, "layout"], LAYOUTS)?,
            None => Layout::Verbatim,
        };
        let folder_names = match &c.folder_names {
            Some(v) => self.choice(v, &["channel", n, "folder_names"], FOLDER_NAMES)?,
            None => FolderNames::Utf8,
        };

        let patterns = match &c.folders {
            None => Patterns::new(&["*".to_string()]),
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(self.err(
                        Some(list.span()),
                        &["channel", n, "folders"],
                        "is empty, so no folder would be synced",
                        "list folder patterns, e.g. folders = [\"*\", \"!Junk\"], or remove it to sync every folder",
                    ));
                }
                let mut all = Vec::with_capacity(list.get_ref().len());
                for p in list.get_ref() {
                    if let Err(e) = Patterns::new(std::slice::from_ref(p.get_ref())) {
                        return Err(self.err(
                            Some(p.span()),
                            &["channel", n, "folders"],
                            e.to_string(),
                            "write a folder name or a pattern using * and %, optionally after !",
                        ));
                    }
                    all.push(p.get_ref().clone());
                }
                Patterns::new(&all)
            }
        }
        .map_err(|e| {
            self.err(
                c.folders.as_ref().map(|f| f.span()),
                &["channel", n, "folders"],
                e.to_string(),
                "correct the pattern",
            )
        })?;

        let direction = match &c.direction {
            Some(v) => self.choice(v, &["channel", n, "direction"], DIRECTIONS)?,
            None => Direction::Both,
        };
        let side_set = |v: &Option<Spanned<String>>, key: &str, default: SideSet| match v {
            Some(v) => self.choice(v, &["channel", n, key], SIDE_SETS),
            None => Ok(default),
        };
        let create = side_set(&c.create, "create", SideSet::BOTH)?;
        let remove = side_set(&c.remove, "remove", SideSet::NONE)?;
        let expunge = side_set(&c.expunge, "expunge", SideSet::BOTH)?;

        let max_size = match &c.max_size {
            None => None,
            Some(v) => Some(self.max_size(v, n)?),
        };

        Ok(Channel {
            name: n.to_string(),
            account: account.get_ref().clone(),
            maildir,
            layout,
            folder_names,
            patterns,
            direction,
            create,
            remove,
            expunge,
            max_size,
        })
    }

    fn max_size(&self, v: &Spanned<toml::Value>, channel: &str) -> Result<u64, ConfigError> {
        let fix = "write a number of bytes, or a number with a unit: KiB, MiB, GiB (binary) or kB, MB, GB (decimal), e.g. max_size = \"50MiB\"";
        let parsed = match v.get_ref() {
            toml::Value::Integer(i) => u64::try_from(*i).map_err(|_| format!("{i} is negative")),
            toml::Value::String(s) => size::parse_size(s),
            other => Err(format!("a {} is not a size", other.type_str())),
        };
        match parsed {
            Ok(0) => Err(self.err(
                Some(v.span()),
                &["channel", channel, "max_size"],
                "is zero, so no message would be downloaded",
                "remove it to download every message, or give a size, e.g. max_size = \"50MiB\"",
            )),
            Ok(n) => Ok(n),
            Err(problem) => Err(self.err(
                Some(v.span()),
                &["channel", channel, "max_size"],
                problem,
                fix,
            )),
        }
    }

    /// Channel and account names appear in targets (`CHANNEL:FOLDER`), file names and
    /// messages, so they are kept plain.
    fn check_name(&self, kind: &str, name: &Spanned<String>) -> Result<(), ConfigError> {
        let n = name.get_ref();
        let ok = !n.is_empty()
            && !n.starts_with('.')
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if ok {
            return Ok(());
        }
        Err(self.err(
            Some(name.span()),
            &[kind, n],
            format!("{n:?} is not a usable {kind} name"),
            format!(
                "name it with at most 64 ASCII letters, digits, '-', '_' and '.', not starting with '.', e.g. [{kind}.personal]"
            ),
        ))
    }

    fn required<'r, T>(
        &self,
        value: &'r Option<Spanned<T>>,
        table: &Range<usize>,
        key: &[&str],
        fix: &str,
    ) -> Result<&'r Spanned<T>, ConfigError> {
        value
            .as_ref()
            .ok_or_else(|| self.err(Some(table.clone()), key, "is missing", fix))
    }

    fn choice<T: Copy>(
        &self,
        value: &Spanned<String>,
        key: &[&str],
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        if let Some((_, v)) = options.iter().find(|(s, _)| s == value.get_ref()) {
            return Ok(*v);
        }
        let list: Vec<String> = options.iter().map(|(s, _)| format!("\"{s}\"")).collect();
        Err(self.err(
            Some(value.span()),
            key,
            format!("{:?} is not one of the allowed values", value.get_ref()),
            format!("use one of {}", list.join(", ")),
        ))
    }

    fn positive(
        &self,
        value: Option<&Spanned<i64>>,
        key: &[&str],
        default: u64,
        what: &str,
    ) -> Result<u64, ConfigError> {
        let Some(v) = value else {
            return Ok(default);
        };
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(self.err(
                Some(v.span()),
                key,
                format!("must be at least 1, not {}", v.get_ref()),
                format!("{what} (or remove it for the default, {default})"),
            )),
        }
    }

    /// Expands `~` and variables, then insists on a non-empty absolute path.
    fn path_value(
        &self,
        value: &Spanned<String>,
        key: &[&str],
        example: &str,
    ) -> Result<PathBuf, ConfigError> {
        let raw = value.get_ref();
        let span = Some(value.span());
        if raw.is_empty() {
            return Err(self.err(
                span,
                key,
                "is empty",
                format!("set it to a directory, e.g. {example}"),
            ));
        }
        let path = expand::expand_path(raw, self.env).map_err(|e| {
            let (problem, fix) = e.problem_and_fix();
            self.err(span.clone(), key, format!("{raw:?} {problem}"), fix)
        })?;
        if path.as_os_str().is_empty() {
            return Err(self.err(
                span,
                key,
                format!("{raw:?} expands to an empty path"),
                format!("set it to a directory, e.g. {example}"),
            ));
        }
        if !path.is_absolute() {
            return Err(self.err(
                span,
                key,
                format!("{} is not an absolute path", path.display()),
                format!("write an absolute path, or start it with ~/ or $HOME/, e.g. {example}"),
            ));
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(name: &str) -> Option<OsString> {
        match name {
            "HOME" => Some("/home/me".into()),
            "MAILROOT" => Some("/srv/mail".into()),
            "EMPTY" => Some("".into()),
            _ => None,
        }
    }

    const ACCOUNT: &str = r#"
[account.personal]
host = "imap.example.org"
user = "me@example.org"
password = "hunter2"
"#;

    const CHANNEL: &str = r#"
[channel.personal]
account = "personal"
maildir = "~/Mail/personal"
"#;

    fn parse_ok(text: &str) -> Config {
        match parse_with_env(text, Path::new("/etc/mf.toml"), &env) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_err(text: &str) -> ConfigError {
        match parse_with_env(text, Path::new("/etc/mf.toml"), &env) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e,
        }
    }

    /// Checks an error's line and key, and that the message names the file, the line,
    /// the key and `needle`.
    #[track_caller]
    fn check(e: &ConfigError, line: Option<usize>, key: &str, needle: &str) {
        let msg = e.to_string();
        assert_eq!(e.line(), line, "{msg}");
        assert_eq!(e.key(), Some(key), "{msg}");
        let at = match line {
            Some(l) => format!("/etc/mf.toml:{l}: {key}: "),
            None => format!("/etc/mf.toml: {key}: "),
        };
        assert!(msg.starts_with(&at), "{msg:?} should start with {at:?}");
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
        assert!(msg.contains("; "), "{msg:?} should say how to fix it");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    /// The line (1-based) of the first occurrence of `needle` in `text`.
    fn line_of(text: &str, needle: &str) -> usize {
        let at = text.find(needle).expect("needle in text");
        text[..at].matches('\n').count() + 1
    }

    #[test]
    fn minimal_config_gets_the_defaults() {
        let c = parse_ok(&format!("{ACCOUNT}{CHANNEL}"));
        assert_eq!(c.path, Path::new("/etc/mf.toml"));
        assert_eq!(
            c.general.state_dir,
            Path::new("/home/me/.local/state/mailferry")
        );
        assert_eq!(c.general.jobs, 4);
        let a = &c.accounts["personal"];
        assert_eq!(a.name, "personal");
        assert_eq!(a.port, 993);
        assert_eq!(a.tls, TlsMode::Implicit);
        assert_eq!(a.ca_file, None);
        assert_eq!(a.connections, 4);
        assert_eq!(a.timeout, Duration::from_secs(60));
        assert!(!a.allow_plaintext);
        assert_eq!(a.secret, Secret::Password("hunter2".into()));
        let ch = &c.channels["personal"];
        assert_eq!(ch.account, "personal");
        assert_eq!(ch.maildir, Path::new("/home/me/Mail/personal"));
        assert_eq!(ch.layout, Layout::Verbatim);
        assert_eq!(ch.folder_names, FolderNames::Utf8);
        assert_eq!(ch.patterns.as_slice(), ["*"]);
        assert!(ch.patterns.matches("Anything/at/all"));
        assert_eq!(ch.direction, Direction::Both);
        assert_eq!(ch.create, SideSet::BOTH);
        assert_eq!(ch.remove, SideSet::NONE);
        assert_eq!(ch.expunge, SideSet::BOTH);
        assert_eq!(ch.max_size, None);
        assert_eq!(c.account_for(ch), Some(a));
        assert!(c.has_password());
    }

    #[test]
    fn state_dir_default_follows_xdg() {
        let xdg = |name: &str| match name {
            "XDG_STATE_HOME" => Some(OsString::from("/xdg/state")),
            other => env(other),
        };
        let c = parse_with_env(&format!("{ACCOUNT}{CHANNEL}"), Path::new("c"), &xdg).unwrap();
        assert_eq!(c.general.state_dir, Path::new("/xdg/state/mailferry"));
        // A relative XDG value is ignored, as the XDG spec says.
        let rel = |name: &str| match name {
            "XDG_STATE_HOME" => Some(OsString::from("rel")),
            other => env(other),
        };
        let c = parse_with_env(&format!("{ACCOUNT}{CHANNEL}"), Path::new("c"), &rel).unwrap();
        assert_eq!(
            c.general.state_dir,
            Path::new("/home/me/.local/state/mailferry")
        );
        // No HOME and no XDG: an error saying what to set.
        let text =
            format!("{ACCOUNT}[channel.personal]\naccount = \"personal\"\nmaildir = \"/m\"\n");
        let e = parse_with_env(&text, Path::new("/etc/mf.toml"), &|_: &str| None).unwrap_err();
        check(&e, None, "general.state_dir", "HOME");
    }

    #[test]
    fn default_config_path() {
        assert_eq!(
            default_path_with(&env),
            Path::new("/home/me/.config/mailferry/config.toml")
        );
        let xdg = |name: &str| match name {
            "XDG_CONFIG_HOME" => Some(OsString::from("/xdg/config")),
            other => env(other),
        };
        assert_eq!(
            default_path_with(&xdg),
            Path::new("/xdg/config/mailferry/config.toml")
        );
        assert!(default_path().ends_with("mailferry/config.toml"));
    }

    #[test]
    fn every_key_is_read() {
        let text = r#"
[general]
state_dir = "$MAILROOT/state"
jobs = 2

[account.work]
host = "imap.work.example"
port = 1143
tls = "starttls"
ca_file = "${MAILROOT}/ca.pem"
user = "me"
pass_cmd = "pass show work"
connections = 2
timeout = 30
allow_plaintext = false

[channel.work]
account = "work"
maildir = "/srv/mail/work"
layout = "maildir++"
folder_names = "imap"
folders = ["*", "!Junk"]
direction = "pull"
create = "near"
remove = "both"
expunge = "far"
max_size = "10MB"
"#;
        let c = parse_ok(text);
        assert_eq!(c.general.state_dir, Path::new("/srv/mail/state"));
        assert_eq!(c.general.jobs, 2);
        let a = &c.accounts["work"];
        assert_eq!(a.port, 1143);
        assert_eq!(a.tls, TlsMode::StartTls);
        assert_eq!(a.ca_file.as_deref(), Some(Path::new("/srv/mail/ca.pem")));
        assert_eq!(
            a.secret,
            Secret::Command {
                account: "work".into(),
                command: "pass show work".into()
            }
        );
        assert_eq!(a.connections, 2);
        assert_eq!(a.timeout, Duration::from_secs(30));
        let ch = &c.channels["work"];
        assert_eq!(ch.layout, Layout::MaildirPlusPlus);
        assert_eq!(ch.folder_names, FolderNames::Imap);
        assert!(!ch.patterns.matches("Junk"));
        assert!(ch.patterns.matches("INBOX"));
        assert_eq!(ch.direction, Direction::Pull);
        assert_eq!(ch.create, SideSet::NEAR);
        assert_eq!(ch.remove, SideSet::BOTH);
        assert_eq!(ch.expunge, SideSet::FAR);
        assert_eq!(ch.max_size, Some(10_000_000));
        assert!(!c.has_password());
    }

    #[test]
    fn port_defaults_by_tls_mode() {
        for (tls, port) in [("implicit", 993), ("starttls", 143), ("none", 143)] {
            let text = format!(
                "[account.a]\nhost = \"localhost\"\nuser = \"u\"\npassword = \"p\"\ntls = \"{tls}\"\n{}",
                "[channel.c]\naccount = \"a\"\nmaildir = \"/m\"\n"
            );
            assert_eq!(parse_ok(&text).accounts["a"].port, port, "{tls}");
        }
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = format!("{ACCOUNT}tls_mode = \"implicit\"\n{CHANNEL}");
        let e = parse_err(&text);
        check(
            &e,
            Some(line_of(&text, "tls_mode")),
            "account.personal.tls_mode",
            "unknown key `tls_mode`",
        );

        let text = format!("[general]\njobs = 4\nbogus = 1\n{ACCOUNT}{CHANNEL}");
        check(&parse_err(&text), Some(3), "general.bogus", "unknown key");

        let text = format!("{ACCOUNT}{CHANNEL}\n[extra]\nx = 1\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[extra]")),
            "extra",
            "unknown key",
        );

        let text = format!("{ACCOUNT}{CHANNEL}folderz = [\"*\"]\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "folderz")),
            "channel.personal.folderz",
            "unknown key",
        );

        // Inline tables and dotted keys too.
        let text = format!(
            "{ACCOUNT}[channel]\nc = {{ account = \"personal\", maildir = \"/m\", zz = 1 }}\n"
        );
        check(
            &parse_err(&text),
            Some(line_of(&text, "zz")),
            "channel.c.zz",
            "unknown key",
        );
        let text = format!(
            "channel.personal.account = \"personal\"\nchannel.personal.maildir = \"/m\"\nchannel.personal.nope = 1\n{ACCOUNT}"
        );
        check(
            &parse_err(&text),
            Some(3),
            "channel.personal.nope",
            "unknown key",
        );
    }

    #[test]
    fn syntax_and_type_errors_are_located() {
        let text = format!("{ACCOUNT}{CHANNEL}max_size = \n");
        let e = parse_err(&text);
        assert_eq!(e.line(), Some(line_of(&text, "max_size")), "{e}");
        assert!(e.to_string().contains("invalid TOML"), "{e}");

        let text = format!("[general]\njobs = 4\njobs = 5\n{ACCOUNT}{CHANNEL}");
        let e = parse_err(&text);
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().contains("`jobs` is set twice"), "{e}");
        let text = format!("{ACCOUNT}{CHANNEL}{ACCOUNT}");
        let e = parse_err(&text);
        assert_eq!(e.line(), Some(text.matches('\n').count() - 3), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");

        let text = format!("{ACCOUNT}{CHANNEL}");
        let text = text.replace("password = \"hunter2\"", "password = \"hunter2");
        let e = parse_err(&text);
        assert_eq!(e.line(), Some(line_of(&text, "password")), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");

        let text = format!("[general]\njobs = \"four\"\n{ACCOUNT}{CHANNEL}");
        check(
            &parse_err(&text),
            Some(2),
            "general.jobs",
            "expected an integer",
        );

        let text = format!("{ACCOUNT}{CHANNEL}folders = \"*\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "folders")),
            "channel.personal.folders",
            "expected an array",
        );
        let text = format!("{ACCOUNT}allow_plaintext = \"yes\"\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(line_of(&text, "allow_plaintext")),
            "account.personal.allow_plaintext",
            "boolean",
        );
    }

    #[test]
    fn a_mistyped_password_is_not_echoed() {
        let text = "[account.a]\nhost = \"h\"\nuser = \"u\"\npassword = 98765431\n\
                    [channel.c]\naccount = \"a\"\nmaildir = \"/m\"\n";
        let e = parse_err(text);
        check(&e, Some(4), "account.a.password", "must be a string");
        assert!(!e.to_string().contains("98765431"), "{e}");
        assert!(!format!("{e:?}").contains("98765431"), "{e:?}");
    }

    #[test]
    fn channel_naming_a_missing_account() {
        let text =
            format!("{ACCOUNT}[channel.personal]\naccount = \"persnal\"\nmaildir = \"/m\"\n");
        let e = parse_err(&text);
        check(
            &e,
            Some(line_of(&text, "persnal")),
            "channel.personal.account",
            "\"persnal\", which is not defined",
        );
        assert!(e.to_string().contains("personal"), "{e}");

        let text = "[channel.c]\naccount = \"nobody\"\nmaildir = \"/m\"\n";
        check(
            &parse_err(text),
            Some(2),
            "channel.c.account",
            "not defined",
        );
    }

    #[test]
    fn password_and_pass_cmd_exactly_one() {
        let text = format!("{ACCOUNT}pass_cmd = \"pass show x\"\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(line_of(&text, "password")),
            "account.personal.password",
            "both password and pass_cmd",
        );
        let text = format!("[account.personal]\nhost = \"h\"\nuser = \"u\"\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(1),
            "account.personal",
            "neither password nor pass_cmd",
        );
        let text =
            format!("[account.personal]\nhost = \"h\"\nuser = \"u\"\npass_cmd = \"  \"\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(4),
            "account.personal.pass_cmd",
            "empty",
        );
        let text =
            format!("[account.personal]\nhost = \"h\"\nuser = \"u\"\npassword = \"\"\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(4),
            "account.personal.password",
            "empty",
        );
    }

    #[test]
    fn plaintext_only_to_loopback_unless_allowed() {
        let with = |host: &str, extra: &str| {
            format!(
                "[account.a]\nhost = \"{host}\"\nuser = \"u\"\npassword = \"hunter2\"\ntls = \"none\"\n{extra}\n\
                 [channel.c]\naccount = \"a\"\nmaildir = \"/m\"\n"
            )
        };
        for host in [
            "imap.example.org",
            "192.168.1.2",
            "::2",
            "128.0.0.1",
            "localhost.evil.org",
        ] {
            let e = parse_err(&with(host, ""));
            check(&e, Some(5), "account.a.tls", "unencrypted");
            assert!(e.to_string().contains("allow_plaintext = true"), "{e}");
        }
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(
                parse_ok(&with(host, "")).accounts["a"].tls,
                TlsMode::None,
                "{host}"
            );
        }
        let c = parse_ok(&with("imap.example.org", "allow_plaintext = true"));
        assert!(c.accounts["a"].allow_plaintext);
        // allow_plaintext = false is the same as leaving it out.
        assert!(
            parse_with_env(
                &with("imap.example.org", "allow_plaintext = false"),
                Path::new("c"),
                &env
            )
            .is_err()
        );
        // No certificates over plaintext.
        let e = parse_err(&with("localhost", "ca_file = \"/ca.pem\""));
        check(&e, Some(6), "account.a.ca_file", "tls = \"none\"");
    }

    #[test]
    fn bad_enum_values() {
        let cases = [(
            "tls",
            "\"ssl\"",
            "account.personal.tls",
            "\"implicit\", \"starttls\", \"none\"",
        )];
        for (key, value, path, options) in cases {
            let text = format!("{ACCOUNT}{key} = {value}\n{CHANNEL}");
            check(&parse_err(&text), Some(line_of(&text, key)), path, options);
        }
        let cases = [
            ("layout", "\"maildirpp\"", "\"verbatim\", \"maildir++\""),
            ("folder_names", "\"utf-8\"", "\"utf8\", \"imap\""),
            ("direction", "\"pull-only\"", "\"both\", \"pull\", \"push\""),
            ("create", "\"yes\"", "\"both\", \"far\", \"near\", \"none\""),
            (
                "remove",
                "\"Both\"",
                "\"both\", \"far\", \"near\", \"none\"",
            ),
            (
                "expunge",
                "\"true\"",
                "\"both\", \"far\", \"near\", \"none\"",
            ),
        ];
        for (key, value, options) in cases {
            let text = format!("{ACCOUNT}{CHANNEL}{key} = {value}\n");
            let e = parse_err(&text);
            check(
                &e,
                Some(line_of(&text, &format!("{key} ="))),
                &format!("channel.personal.{key}"),
                options,
            );
            assert!(e.to_string().contains(value), "{e}");
        }
    }

    #[test]
    fn zero_or_negative_counts() {
        for (table, key) in [("general", "jobs")] {
            for v in ["0", "-1"] {
                let text = format!("[{table}]\n{key} = {v}\n{ACCOUNT}{CHANNEL}");
                check(
                    &parse_err(&text),
                    Some(2),
                    &format!("{table}.{key}"),
                    "at least 1",
                );
            }
        }
        for key in ["connections", "timeout", "port"] {
            let text = format!("{ACCOUNT}{key} = 0\n{CHANNEL}");
            let e = parse_err(&text);
            assert_eq!(
                e.key(),
                Some(format!("account.personal.{key}").as_str()),
                "{e}"
            );
            assert_eq!(e.line(), Some(line_of(&text, &format!("{key} ="))), "{e}");
        }
        let text = format!("{ACCOUNT}port = 70000\n{CHANNEL}");
        check(
            &parse_err(&text),
            Some(line_of(&text, "port")),
            "account.personal.port",
            "not a TCP port",
        );
    }

    #[test]
    fn missing_required_keys_point_at_the_table() {
        let text = format!("{CHANNEL}[account.personal]\nuser = \"u\"\npassword = \"p\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[account")),
            "account.personal.host",
            "is missing",
        );
        let text = format!("{CHANNEL}[account.personal]\nhost = \"h\"\npassword = \"p\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[account")),
            "account.personal.user",
            "is missing",
        );
        let text = format!("{ACCOUNT}[channel.personal]\naccount = \"personal\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[channel")),
            "channel.personal.maildir",
            "is missing",
        );
        let text = format!("{ACCOUNT}[channel.personal]\nmaildir = \"/m\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[channel")),
            "channel.personal.account",
            "is missing",
        );
        let text = format!(
            "[account.personal]\nhost = \"bad host\"\nuser = \"u\"\npassword = \"p\"\n{CHANNEL}"
        );
        check(
            &parse_err(&text),
            Some(2),
            "account.personal.host",
            "not a host name",
        );
    }

    #[test]
    fn maildir_paths() {
        let with = |maildir: &str| {
            format!(
                "{ACCOUNT}[channel.personal]\naccount = \"personal\"\nmaildir = \"{maildir}\"\n"
            )
        };
        let line = line_of(&with("x"), "maildir");
        check(
            &parse_err(&with("")),
            Some(line),
            "channel.personal.maildir",
            "is empty",
        );
        check(
            &parse_err(&with("$EMPTY")),
            Some(line),
            "channel.personal.maildir",
            "empty path",
        );
        check(
            &parse_err(&with("Mail/personal")),
            Some(line),
            "channel.personal.maildir",
            "not an absolute path",
        );
        check(
            &parse_err(&with("$NOSUCHVAR/Mail")),
            Some(line),
            "channel.personal.maildir",
            "NOSUCHVAR",
        );
        check(
            &parse_err(&with("${NOSUCHVAR}")),
            Some(line),
            "channel.personal.maildir",
            "NOSUCHVAR, which is not set",
        );
        check(
            &parse_err(&with("~bob/Mail")),
            Some(line),
            "channel.personal.maildir",
            "~user",
        );
        assert_eq!(
            parse_ok(&with("$MAILROOT/me")).channels["personal"].maildir,
            Path::new("/srv/mail/me")
        );
        assert_eq!(
            parse_ok(&with("${MAILROOT}/me")).channels["personal"].maildir,
            Path::new("/srv/mail/me")
        );
        assert_eq!(
            parse_ok(&with("~")).channels["personal"].maildir,
            Path::new("/home/me")
        );
        // state_dir and ca_file expand the same way.
        let text = format!("[general]\nstate_dir = \"$NOPE\"\n{ACCOUNT}{CHANNEL}");
        check(&parse_err(&text), Some(2), "general.state_dir", "NOPE");
        let text = format!("{ACCOUNT}ca_file = \"~/ca.pem\"\n{CHANNEL}");
        assert_eq!(
            parse_ok(&text).accounts["personal"].ca_file.as_deref(),
            Some(Path::new("/home/me/ca.pem"))
        );
    }

    #[test]
    fn maildirs_must_not_overlap() {
        let two = |a: &str, b: &str| {
            format!(
                "{ACCOUNT}[channel.one]\naccount = \"personal\"\nmaildir = \"{a}\"\n[channel.two]\naccount = \"personal\"\nmaildir = \"{b}\"\n"
            )
        };
        for (a, b) in [
            ("/m", "/m"),
            ("/m", "/m/"),
            ("/m", "/m/work"),
            ("/m/work", "/m"),
            ("~/Mail", "/home/me/Mail"),
        ] {
            let text = two(a, b);
            let line = text
                .rfind("maildir")
                .map(|at| text[..at].matches('\n').count() + 1);
            check(
                &parse_err(&text),
                line,
                "channel.two.maildir",
                "channel one",
            );
        }
        let c = parse_ok(&two("/m/personal", "/m/personal2"));
        assert_eq!(c.channels.len(), 2);
    }

    #[test]
    fn no_channel_is_an_error() {
        check(&parse_err(ACCOUNT), None, "channel", "no channel");
        let text = format!("{ACCOUNT}[channel]\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "[channel]")),
            "channel",
            "no channel",
        );
        check(&parse_err(""), None, "channel", "no channel");
    }

    #[test]
    fn names_are_plain() {
        let text =
            format!("{ACCOUNT}[channel.\"a:b\"]\naccount = \"personal\"\nmaildir = \"/m\"\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "a:b")),
            "channel.\"a:b\"",
            "not a usable channel name",
        );
        let text =
            format!("{ACCOUNT}[channel.\"../x\"]\naccount = \"personal\"\nmaildir = \"/m\"\n");
        assert!(
            parse_err(&text)
                .to_string()
                .contains("not a usable channel name")
        );
        let text =
            format!("{ACCOUNT}[channel.\"work.old\"]\naccount = \"personal\"\nmaildir = \"/m\"\n");
        assert!(parse_ok(&text).channels.contains_key("work.old"));
    }

    #[test]
    fn folder_patterns() {
        let text = format!("{ACCOUNT}{CHANNEL}folders = []\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "folders")),
            "channel.personal.folders",
            "is empty",
        );
        let text = format!("{ACCOUNT}{CHANNEL}folders = [\n  \"*\",\n  \"!\",\n]\n");
        check(
            &parse_err(&text),
            Some(line_of(&text, "\"!\"")),
            "channel.personal.folders",
            "\"!\"",
        );
        let text = format!("{ACCOUNT}{CHANNEL}folders = [\"INBOX\", \"Archive/%\"]\n");
        let ch = &parse_ok(&text).channels["personal"];
        assert!(ch.patterns.matches("INBOX") && ch.patterns.matches("Archive/2021"));
        assert!(!ch.patterns.matches("Archive/2021/Q1") && !ch.patterns.matches("Sent"));
    }

    #[test]
    fn max_size_forms() {
        let with = |v: &str| format!("{ACCOUNT}{CHANNEL}max_size = {v}\n");
        for (v, n) in [
            ("\"50MiB\"", 50 << 20),
            ("\"10KiB\"", 10 << 10),
            ("\"1GiB\"", 1 << 30),
            ("\"500kB\"", 500_000),
            ("\"10MB\"", 10_000_000),
            ("\"12345\"", 12345),
            ("12345", 12345),
        ] {
            assert_eq!(
                parse_ok(&with(v)).channels["personal"].max_size,
                Some(n),
                "{v}"
            );
        }
        for v in [
            "\"50 MiB\"",
            "\"50mb\"",
            "\"lots\"",
            "\"\"",
            "-5",
            "0",
            "\"0MiB\"",
            "1.5",
            "true",
        ] {
            let text = with(v);
            check(
                &parse_err(&text),
                Some(line_of(&text, "max_size")),
                "channel.personal.max_size",
                "",
            );
        }
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let c = parse_ok(&format!("{ACCOUNT}{CHANNEL}"));
        for shown in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.accounts["personal"]),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("Password(<redacted>)"), "{shown}");
        }
        assert_eq!(c.accounts["personal"].secret.resolve().unwrap(), "hunter2");
    }

    #[test]
    fn errors_come_in_file_order() {
        // Both accounts are bad; the one earlier in the file is reported, whatever the
        // alphabetical order of the names.
        let text = format!(
            "[account.zed]\nhost = \"h\"\nuser = \"u\"\n\n[account.abe]\nhost = \"h\"\nuser = \"u\"\n{CHANNEL}"
        );
        check(&parse_err(&text), Some(1), "account.zed", "neither");
    }

    #[test]
    fn permission_warning_for_readable_password_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = permission_warning(&path, true).expect("a warning");
        assert!(w.contains(&path.display().to_string()), "{w}");
        assert!(w.contains("chmod 600"), "{w}");
        assert_eq!(permission_warning(&path, false), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(permission_warning(&path, true).is_some());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(permission_warning(&path, true), None);
        assert_eq!(permission_warning(&dir.path().join("missing"), true), None);
        assert_eq!(shell_quote("/a b/c'd"), r"'/a b/c'\''d'");
    }

    #[test]
    fn load_reports_unreadable_files_without_a_line() {
        let e = load(Path::new("/nonexistent/mailferry.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("/nonexistent/mailferry.toml: cannot read"),
            "{msg}"
        );
        assert_eq!(e.line(), None);
    }

    // --- fixtures -----------------------------------------------------------------------

    fn fixture(name: &str) -> (String, PathBuf) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/config")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        (text, path)
    }

    #[test]
    fn fixture_good_uses_every_key() {
        let (text, path) = fixture("good.toml");
        let c = parse_with_env(&text, &path, &env).unwrap();
        for key in [
            "state_dir",
            "jobs",
            "host",
            "port",
            "tls",
            "ca_file",
            "user",
            "pass_cmd",
            "password",
            "connections",
            "timeout",
            "allow_plaintext",
            "account",
            "maildir",
            "layout",
            "folder_names",
            "folders",
            "direction",
            "create",
            "remove",
            "expunge",
            "max_size",
        ] {
            assert!(
                text.contains(&format!("\n{key} = ")),
                "good.toml does not set {key}"
            );
        }
        assert_eq!(c.channels.len(), 2);
        assert_eq!(c.accounts.len(), 2);
        assert_eq!(c.channels["personal"].max_size, Some(50 << 20));
        assert!(!format!("{c:?}").contains("correct-horse"));
    }

    #[test]
    fn fixtures_bad_name_the_key() {
        for (file, line, key, needle) in [
            (
                "bad-unknown-key.toml",
                5,
                "account.personal.pasword",
                "unknown key `pasword`",
            ),
            (
                "bad-missing-account.toml",
                12,
                "channel.work.account",
                "\"work\", which is not defined",
            ),
            (
                "bad-plaintext-remote.toml",
                4,
                "account.personal.tls",
                "unencrypted",
            ),
        ] {
            let (text, path) = fixture(file);
            let e = parse_with_env(&text, &path, &env).unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.key(), Some(key), "{file}: {msg}");
            assert_eq!(e.line(), Some(line), "{file}: {msg}");
            assert!(
                msg.starts_with(&format!("{}:{line}: {key}: ", path.display())),
                "{msg}"
            );
            assert!(msg.contains(needle), "{file}: {msg}");
        }
    }
}
