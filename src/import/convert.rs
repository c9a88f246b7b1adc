//! What an mbsyncrc means in mailferry terms: IMAPAccount/IMAPStore -> accounts,
//! MaildirStore + Channel -> channels (channels sharing one maildir merge into one), and a
//! warning naming the line and keyword for everything that does not carry over. Pure: the
//! parsed file and the environment go in, a [`Conversion`] comes out.

use super::Warning;
use super::mbsyncrc::{Item, Rc, Section, SectionKind};
use crate::mapping::{self, Layout};
use std::collections::BTreeMap;

/// mailferry's equivalent of an mbsyncrc, ready to be written as TOML.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    pub accounts: Vec<AccountOut>,
    pub channels: Vec<ChannelOut>,
    pub warnings: Vec<Warning>,
}

/// One `[account.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountOut {
    pub name: String,
    /// The mbsync section it came from (`IMAPAccount x` or `IMAPStore y`) and its line.
    pub source: String,
    pub host: String,
    pub port: Option<u16>,
    /// `"implicit"`, `"starttls"` or `"none"`.
    pub tls: &'static str,
    pub allow_plaintext: bool,
    pub ca_file: Option<String>,
    pub user: String,
    pub secret: SecretOut,
    pub timeout: Option<u64>,
}

/// Where the account's password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretOut {
    /// `Pass` on this line.
    Password { value: String, line: usize },
    /// `PassCmd`.
    Command(String),
    /// Neither: mbsync prompted; the generated `pass_cmd` prompts on the terminal.
    Prompt,
}

impl std::fmt::Debug for SecretOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretOut::Password { line, .. } => write!(f, "Password(<redacted>, line {line})"),
            SecretOut::Command(c) => write!(f, "Command({c:?})"),
            SecretOut::Prompt => f.write_str("Prompt"),
        }
    }
}

/// A shell command that asks for the password on the terminal, as mbsync does when
/// neither Pass nor PassCmd is set.
pub const PROMPT_COMMAND: &str = r#"printf 'IMAP password: ' >/dev/tty; stty -echo </dev/tty; IFS= read -r p </dev/tty; stty echo </dev/tty; echo >/dev/tty; printf '%s\n' "$p""#;

/// One `[channel.NAME]`, with what the state import needs to find mbsync's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOut {
    pub name: String,
    pub account: String,
    /// The maildir root as mbsync spelled it (`~` kept), without a trailing slash.
    pub maildir: String,
    pub layout: Layout,
    pub folders: Vec<String>,
    pub direction: &'static str,
    pub create: &'static str,
    pub remove: &'static str,
    pub expunge: &'static str,
    /// `max_size` in mailferry's spelling (`"10MiB"`, or a number of bytes).
    pub max_size: Option<String>,
    /// The mbsync channels merged into this one, each with where its state lives.
    pub sources: Vec<Source>,
}

/// One mbsync channel behind a mailferry channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub line: usize,
    pub far_store: String,
    pub near_store: String,
    pub state: StateLocation,
}

/// Where an mbsync channel keeps its sync state (its `SyncState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateLocation {
    /// `SyncState *`: `.mbsyncstate` inside each near mailbox.
    InMailbox,
    /// A channel's `SyncState PATH`: PATH + the near box name (`/` -> `!`).
    Prefix(String),
    /// The global `SyncState DIR` (default `~/.mbsync/`): DIR + `:far-store:far-box_:near-store:near-box`.
    Global { prefix: String, delimiter: char },
}

/// The account keywords, shared by IMAPAccount sections and IMAPStore sections that
/// define their account inline.
const ACCOUNT_KEYWORDS: &[&str] = &[
    "Host",
    "Port",
    "User",
    "UserCmd",
    "Pass",
    "PassCmd",
    "UseKeychain",
    "Tunnel",
    "AuthMech",
    "AuthMechs",
    "SSLType",
    "TLSType",
    "SSLVersions",
    "TLSVersions",
    "SystemCertificates",
    "CertificateFile",
    "ClientCertificate",
    "ClientKey",
    "CipherString",
    "PipelineDepth",
    "DisableExtension",
    "DisableExtensions",
    "Timeout",
    "RequireSSL",
    "UseIMAPS",
    "UseSSLv2",
    "UseSSLv3",
    "UseTLSv1",
    "UseTLSv1.1",
    "UseTLSv1.2",
];

/// Sync operations, as bits of a row of mbsync's Sync matrix.
const NEW: u8 = 1;
const UPGRADE: u8 = 2;
const GONE: u8 = 4;
const FLAGS: u8 = 8;
const OLD: u8 = 16;
const ALL_OPS: u8 = NEW | UPGRADE | GONE | FLAGS | OLD;
/// What mailferry always does in a direction it syncs.
const MAILFERRY_OPS: u8 = NEW | GONE | FLAGS;

struct Store<'a> {
    section: &'a Section,
    kind: SectionKind,
}

/// Settings a channel takes from the global options unless it sets its own.
#[derive(Clone)]
struct Defaults<'a> {
    sync: Option<&'a Item>,
    create: Option<&'a Item>,
    remove: Option<&'a Item>,
    expunge: Option<&'a Item>,
    sync_state: Option<&'a Item>,
    field_delimiter: char,
}

/// Converts a parsed mbsyncrc. `home` expands `~` where a path must be compared (the
/// output keeps `~` as written).
pub fn convert(rc: &Rc, home: Option<&str>) -> Conversion {
    let mut out = Conversion::default();
    let mut defaults = Defaults {
        sync: None,
        create: None,
        remove: None,
        expunge: None,
        sync_state: None,
        field_delimiter: ':',
    };
    for item in &rc.globals {
        global(item, &mut defaults, &mut out.warnings);
    }

    let mut stores: BTreeMap<&str, Store> = BTreeMap::new();
    let mut account_names: BTreeMap<String, String> = BTreeMap::new(); // mbsync name -> ours
    for section in &rc.sections {
        match section.kind {
            SectionKind::ImapAccount => {
                let name = unique_name(&section.name, &out.accounts);
                if let Some(account) = account(section, &name, &section.items, &mut out.warnings) {
                    account_names.insert(section.name.clone(), name);
                    out.accounts.push(account);
                }
            }
            SectionKind::ImapStore | SectionKind::MaildirStore => {
                stores.insert(
                    &section.name,
                    Store {
                        section,
                        kind: section.kind,
                    },
                );
            }
            SectionKind::Channel => {}
            SectionKind::Group => {
                warn(
                    &mut out.warnings,
                    &section.header,
                    format!(
                        "mailferry has no groups: `mailferry sync` syncs every channel, and `mailferry sync {}` names several; group {:?} is not carried over",
                        section
                            .items
                            .iter()
                            .flat_map(|i| i.args.iter())
                            .chain(section.header.args.iter().skip(1))
                            .map(|c| plain_name(c.split(':').next().unwrap_or(c)))
                            .collect::<Vec<_>>()
                            .join(" "),
                        section.name
                    ),
                );
                for item in &section.items {
                    warn(
                        &mut out.warnings,
                        item,
                        format!(
                            "member of group {:?}, which is not carried over",
                            section.name
                        ),
                    );
                }
            }
        }
    }

    // IMAPStores: an Account reference, or an account defined inline.
    let mut store_accounts: BTreeMap<String, String> = BTreeMap::new();
    for section in rc
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::ImapStore)
    {
        let inline: Vec<Item> = section
            .items
            .iter()
            .filter(|i| ACCOUNT_KEYWORDS.iter().any(|k| i.is(k)))
            .cloned()
            .collect();
        let mut referenced = None;
        for item in &section.items {
            if inline.iter().any(|i| i.line == item.line) {
                continue;
            }
            if item.is("Account") {
                match account_names.get(&item.joined()) {
                    Some(ours) => referenced = Some(ours.clone()),
                    None => warn(
                        &mut out.warnings,
                        item,
                        format!(
                            "names the account {:?}, which is not defined (or could not be converted)",
                            item.joined()
                        ),
                    ),
                }
            } else {
                imap_store_item(item, &mut out.warnings);
            }
        }
        if referenced.is_none() && !inline.is_empty() {
            let name = unique_name(&section.name, &out.accounts);
            if let Some(account) = account(section, &name, &inline, &mut out.warnings) {
                referenced = Some(name);
                out.accounts.push(account);
            }
        } else {
            for item in &inline {
                warn(
                    &mut out.warnings,
                    item,
                    "is ignored: the store already names an Account".to_string(),
                );
            }
        }
        if let Some(name) = referenced {
            store_accounts.insert(section.name.clone(), name);
        }
    }

    // MaildirStores: warn about what does not carry over, once per line.
    for section in rc
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::MaildirStore)
    {
        for item in &section.items {
            maildir_store_item(item, &mut out.warnings);
        }
    }

    for section in rc
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::Channel)
    {
        if let Some(channel) = channel(
            section,
            &stores,
            &store_accounts,
            &defaults,
            home,
            &mut out.warnings,
        ) {
            merge_channel(&mut out.channels, channel, section, &mut out.warnings);
        }
    }
    // Accounts no channel uses are left out.
    let used: Vec<String> = out.channels.iter().map(|c| c.account.clone()).collect();
    out.accounts.retain(|a| used.contains(&a.name));
    out.warnings.sort_by_key(|w| w.line);
    out
}

fn warn(warnings: &mut Vec<Warning>, item: &Item, message: String) {
    warnings.push(Warning {
        line: item.line,
        keyword: item.keyword.clone(),
        message,
    });
}

/// The warning for a channel option mailferry has no setting for, given globally or in a
/// Channel section alike.
fn unsupported_channel_option(item: &Item, warnings: &mut Vec<Warning>) {
    let message = match item.keyword.to_ascii_lowercase().as_str() {
        "maxmessages" if item.joined() == "0" => return,
        "maxmessages" => {
            "has no equivalent: mailferry keeps every message; messages mbsync expired are downloaded again"
        }
        "expireunread" => "has no equivalent (mailferry never expires messages)",
        _ => {
            "has no setting in mailferry: uploads always keep the arrival date, downloads set the file time"
        }
    };
    warn(warnings, item, message.to_string());
}

fn global<'a>(item: &'a Item, defaults: &mut Defaults<'a>, warnings: &mut Vec<Warning>) {
    let value = item.joined();
    match item.keyword.to_ascii_lowercase().as_str() {
        "sync" => defaults.sync = Some(item),
        "create" => defaults.create = Some(item),
        "remove" => defaults.remove = Some(item),
        "expunge" => defaults.expunge = Some(item),
        "syncstate" => defaults.sync_state = Some(item),
        "fielddelimiter" => match value.chars().collect::<Vec<_>>().as_slice() {
            [c] => defaults.field_delimiter = *c,
            _ => warn(warnings, item, format!("{value:?} is not one character")),
        },
        "fsync" => {
            if !value.eq_ignore_ascii_case("yes") {
                warn(
                    warnings,
                    item,
                    "no has no equivalent: mailferry always flushes state and messages to disk"
                        .to_string(),
                );
            }
        }
        "maxmessages" | "expireunread" | "copyarrivaldate" => {
            unsupported_channel_option(item, warnings);
        }
        "bufferlimit" => warn(
            warnings,
            item,
            "has no equivalent: mailferry bounds memory by itself (a batch of messages at a time)"
                .to_string(),
        ),
        _ => warn(
            warnings,
            item,
            "is not a global keyword mailferry knows; not carried over".to_string(),
        ),
    }
}

/// Turns a name into one mailferry accepts (ASCII letters, digits, `-`, `_`, `.`, not
/// starting with `.`, at most 64 bytes) that no account already has.
fn unique_name(name: &str, accounts: &[AccountOut]) -> String {
    let base = plain_name(name);
    let mut candidate = base.clone();
    let mut n = 2;
    while accounts.iter().any(|a| a.name == candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    candidate
}

/// A name mailferry accepts for an account or channel.
pub fn plain_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    s.truncate(64);
    if s.is_empty() {
        s = "imported".to_string();
    }
    s
}

/// An account from the account keywords of an IMAPAccount (or an IMAPStore that defines
/// its account inline). `None`, with a warning, when there is no Host.
fn account(
    section: &Section,
    name: &str,
    items: &[Item],
    warnings: &mut Vec<Warning>,
) -> Option<AccountOut> {
    let mut host = None;
    let mut port = None;
    let mut user = None;
    let mut secret = None;
    let mut tls = None;
    let mut ca_file = None;
    let mut timeout = None;
    for item in items {
        let value = item.joined();
        let k = item.keyword.to_ascii_lowercase();
        match k.as_str() {
            "host" => host = Some(value),
            "port" => match value.parse::<u16>() {
                Ok(p) if p != 0 => port = Some(p),
                _ => warn(
                    warnings,
                    item,
                    format!("{value:?} is not a TCP port; the default port is used"),
                ),
            },
            "user" => user = Some(value),
            "pass" => {
                secret = Some(SecretOut::Password {
                    value,
                    line: item.line,
                })
            }
            "passcmd" => {
                // `+` only tells mbsync the command talks to the terminal; mailferry leaves
                // the terminal to the command anyway.
                let command = value.strip_prefix('+').unwrap_or(&value).to_string();
                secret = Some(SecretOut::Command(command));
            }
            "ssltype" | "tlstype" => match value.to_ascii_lowercase().as_str() {
                "imaps" => tls = Some("implicit"),
                "starttls" => tls = Some("starttls"),
                "none" => tls = Some("none"),
                _ => warn(
                    warnings,
                    item,
                    format!("{value:?} is not None, STARTTLS or IMAPS; STARTTLS is used"),
                ),
            },
            "certificatefile" => ca_file = Some(value),
            "timeout" => match value.parse::<u64>() {
                Ok(0) => warn(
                    warnings,
                    item,
                    "0 (no timeout) has no equivalent: mailferry always gives up on a silent connection; its default of 60 seconds is used".to_string(),
                ),
                Ok(n) => timeout = Some(n),
                Err(_) => warn(warnings, item, format!("{value:?} is not a number of seconds")),
            },
            "authmech" | "authmechs" => {
                let ok = item.args.iter().any(|m| {
                    m == "*" || m.eq_ignore_ascii_case("PLAIN") || m.eq_ignore_ascii_case("LOGIN")
                });
                let others: Vec<&String> = item
                    .args
                    .iter()
                    .filter(|m| {
                        !(*m == "*"
                            || m.eq_ignore_ascii_case("PLAIN")
                            || m.eq_ignore_ascii_case("LOGIN"))
                    })
                    .collect();
                if !ok || !others.is_empty() {
                    warn(
                        warnings,
                        item,
                        format!(
                            "mailferry logs in with LOGIN or AUTHENTICATE PLAIN only; {} {} not carried over",
                            others
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            if others.len() == 1 { "is" } else { "are" }
                        ),
                    );
                }
            }
            "usercmd" => warn(
                warnings,
                item,
                "has no equivalent (mailferry reads the user name from the config); set user in the generated config".to_string(),
            ),
            "usekeychain" => warn(
                warnings,
                item,
                "has no equivalent (macOS Keychain); use pass_cmd = \"security find-internet-password -w -s HOST\"".to_string(),
            ),
            "tunnel" => warn(
                warnings,
                item,
                "has no equivalent: mailferry connects over TCP only".to_string(),
            ),
            "systemcertificates" => {
                if !value.eq_ignore_ascii_case("yes") {
                    warn(
                        warnings,
                        item,
                        "no has no equivalent: mailferry always trusts the system's certificate authorities, plus ca_file".to_string(),
                    );
                }
            }
            "sslversions" | "tlsversions" | "usesslv2" | "usesslv3" | "usetlsv1"
            | "usetlsv1.1" | "usetlsv1.2" => warn(
                warnings,
                item,
                "has no equivalent: mailferry uses the TLS versions the system's OpenSSL allows (TLS 1.2 and later)".to_string(),
            ),
            "requiressl" | "useimaps" => warn(
                warnings,
                item,
                "is an mbsync 1.0 keyword; use SSLType (mailferry: tls)".to_string(),
            ),
            "clientcertificate" | "clientkey" => warn(
                warnings,
                item,
                "has no equivalent: mailferry does not send client certificates".to_string(),
            ),
            "cipherstring" => warn(
                warnings,
                item,
                "has no equivalent: mailferry uses the system's OpenSSL cipher policy".to_string(),
            ),
            "pipelinedepth" => warn(
                warnings,
                item,
                "has no equivalent: mailferry sends one command at a time per connection; limit connections instead".to_string(),
            ),
            "disableextension" | "disableextensions" => warn(
                warnings,
                item,
                "has no equivalent: mailferry decides from the server's CAPABILITY".to_string(),
            ),
            _ => warn(
                warnings,
                item,
                "is not an IMAPAccount keyword mailferry knows; not carried over".to_string(),
            ),
        }
    }
    let Some(host) = host else {
        warn(
            warnings,
            &section.header,
            format!(
                "{} {:?} has no Host; it is not carried over",
                section.kind, section.name
            ),
        );
        return None;
    };
    let tls = tls.unwrap_or("starttls");
    let allow_plaintext = tls == "none" && !crate::config::is_loopback(&host);
    if allow_plaintext {
        warn(
            warnings,
            &section.header,
            format!(
                "SSLType None to {host}: the password crosses the network unencrypted; the config gets allow_plaintext = true, which mailferry requires for that"
            ),
        );
    }
    let secret = match secret {
        Some(s) => s,
        None => {
            warn(
                warnings,
                &section.header,
                "has neither Pass nor PassCmd (mbsync asks for the password); the config gets a pass_cmd that asks on the terminal".to_string(),
            );
            SecretOut::Prompt
        }
    };
    let user = match user {
        Some(u) => u,
        None => {
            warn(
                warnings,
                &section.header,
                "has no User; the config gets user = \"CHANGE-ME\": set the login name there"
                    .to_string(),
            );
            "CHANGE-ME".to_string()
        }
    };
    Some(AccountOut {
        name: name.to_string(),
        source: format!(
            "{} {} (line {})",
            section.kind, section.name, section.header.line
        ),
        host,
        port,
        tls,
        allow_plaintext,
        ca_file,
        user,
        secret,
        timeout,
    })
}

fn imap_store_item(item: &Item, warnings: &mut Vec<Warning>) {
    let k = item.keyword.to_ascii_lowercase();
    let message = match k.as_str() {
        "usenamespace" => {
            if item.joined().eq_ignore_ascii_case("yes") {
                return;
            }
            "no has no equivalent: mailferry always strips the server's personal namespace, as mbsync's default does"
        }
        "path" => {
            "has no equivalent: mailferry uses the server's personal namespace instead of a path prefix"
        }
        "pathdelimiter" => "has no equivalent: mailferry takes the delimiter from the server",
        "subscribedonly" => {
            "has no equivalent: mailferry syncs every folder the patterns match, subscribed or not"
        }
        "flatten" => "has no equivalent on the server side",
        "mapinbox" => "has no equivalent: mailferry never aliases INBOX",
        "maxsize" => {
            "on the far store (a limit on uploads) has no equivalent: mailferry's max_size limits downloads only"
        }
        "trash" | "trashnewonly" | "trashremotenew" => {
            "has no equivalent: mailferry deletes without copying to a trash folder (sync the server's Trash folder like any other)"
        }
        _ => "is not an IMAPStore keyword mailferry knows; not carried over",
    };
    warn(warnings, item, message.to_string());
}

fn maildir_store_item(item: &Item, warnings: &mut Vec<Warning>) {
    let k = item.keyword.to_ascii_lowercase();
    let value = item.joined();
    let message = match k.as_str() {
        "path" | "inbox" | "maxsize" => return,
        "subfolders" => {
            if ["verbatim", "maildir++"].contains(&value.to_ascii_lowercase().as_str()) {
                return;
            }
            "Legacy (Path/top/.sub) has no equivalent layout in mailferry; channels on this store are not converted (rename the tree to Verbatim first)"
        }
        "altmap" => {
            if value.eq_ignore_ascii_case("no") {
                return;
            }
            "yes: the UIDs live in a Berkeley DB mailferry cannot read, so its state is not imported; the first sync pairs messages by Message-ID instead (nothing is copied twice)"
        }
        "infodelimiter" => {
            if value == ":" {
                return;
            }
            "has no equivalent: mailferry uses ':' before the flags, as the maildir standard says"
        }
        "flatten" => {
            "has no equivalent layout in mailferry (maildir++ writes .A.B with a leading dot); channels on this store are not converted"
        }
        "mapinbox" => "has no equivalent: mailferry never aliases INBOX",
        "trash" | "trashnewonly" | "trashremotenew" => {
            "has no equivalent: mailferry deletes without copying to a trash folder"
        }
        _ => "is not a MaildirStore keyword mailferry knows; not carried over",
    };
    warn(warnings, item, message.to_string());
}

/// `:store:` or `:store:box` -> (store, box).
fn store_ref(value: &str) -> Option<(String, String)> {
    let rest = value.strip_prefix(':')?;
    let (store, bx) = rest.split_once(':')?;
    Some((store.to_string(), bx.to_string()))
}

/// A Sync line as the rows (pull, push) of mbsync's matrix, or a problem.
fn parse_sync(item: &Item) -> Result<(u8, u8), String> {
    let op = |w: &str| -> Option<u8> {
        Some(match w {
            "new" => NEW,
            "renew" | "upgrade" => UPGRADE,
            "delete" | "gone" => GONE,
            "flags" => FLAGS,
            "old" => OLD,
            _ => return None,
        })
    };
    let (mut dirs, mut ops, mut pull, mut push) = (0u8, 0u8, 0u8, 0u8);
    let mut compound = false;
    for word in &item.args {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "none" | "noop" => return Ok((0, 0)),
            "all" | "full" => return Ok((ALL_OPS, ALL_OPS)),
            "pull" => dirs |= 1,
            "push" => dirs |= 2,
            _ => {
                if let Some(o) = op(&w) {
                    ops |= o;
                } else if let Some(o) = w.strip_prefix("pull").and_then(op) {
                    pull |= o;
                    compound = true;
                } else if let Some(o) = w.strip_prefix("push").and_then(op) {
                    push |= o;
                    compound = true;
                } else {
                    return Err(format!("{word:?} is not a Sync operation"));
                }
            }
        }
    }
    if compound {
        // Individual flags assert whole rows or columns.
        if dirs & 1 != 0 {
            pull = ALL_OPS;
        }
        if dirs & 2 != 0 {
            push = ALL_OPS;
        }
        pull |= ops;
        push |= ops;
    } else {
        let ops = if ops == 0 { ALL_OPS } else { ops };
        let dirs = if dirs == 0 { 3 } else { dirs };
        if dirs & 1 != 0 {
            pull = ops;
        }
        if dirs & 2 != 0 {
            push = ops;
        }
    }
    Ok((pull, push))
}

fn side_value(item: &Item, warnings: &mut Vec<Warning>) -> Option<&'static str> {
    match item.joined().to_ascii_lowercase().as_str() {
        "none" => Some("none"),
        "far" | "master" => Some("far"),
        "near" | "slave" => Some("near"),
        "both" => Some("both"),
        other => {
            warn(
                warnings,
                item,
                format!("{other:?} is not None, Far, Near or Both; the line is ignored"),
            );
            None
        }
    }
}

/// mbsync's `size[k|m][b]` -> mailferry's max_size; `Ok(None)` for 0 (unlimited).
fn max_size_value(value: &str) -> Result<Option<String>, String> {
    let lower = value.to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, unit) = match body.strip_suffix('k') {
        Some(d) => (d, "KiB"),
        None => match body.strip_suffix('m') {
            Some(d) => (d, "MiB"),
            None => (body, ""),
        },
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a size"))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(format!("{n}{unit}")))
}

/// Expands a leading `~` with `home`.
pub fn expand_tilde(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// One mbsync Channel -> one mailferry channel, or `None` (with a warning saying why).
fn channel(
    section: &Section,
    stores: &BTreeMap<&str, Store<'_>>,
    store_accounts: &BTreeMap<String, String>,
    defaults: &Defaults<'_>,
    home: Option<&str>,
    warnings: &mut Vec<Warning>,
) -> Option<ChannelOut> {
    let skip = |warnings: &mut Vec<Warning>, why: String| {
        warnings.push(Warning {
            line: section.header.line,
            keyword: section.header.keyword.clone(),
            message: format!("{:?} is not converted: {why}", section.name),
        });
        None
    };
    let mut far = None;
    let mut near = None;
    let mut patterns: Vec<String> = Vec::new();
    let mut sync = defaults.sync;
    let mut create = defaults.create;
    let mut remove = defaults.remove;
    let mut expunge = defaults.expunge;
    let mut sync_state = defaults.sync_state;
    let mut max_size_item = None;
    for item in &section.items {
        let k = item.keyword.to_ascii_lowercase();
        match k.as_str() {
            "far" | "master" => far = Some(item),
            "near" | "slave" => near = Some(item),
            "pattern" | "patterns" => patterns.extend(item.args.iter().cloned()),
            "sync" => sync = Some(item),
            "create" => create = Some(item),
            "remove" => remove = Some(item),
            "expunge" => expunge = Some(item),
            "syncstate" => sync_state = Some(item),
            "maxsize" => max_size_item = Some(item),
            "maxmessages" | "expireunread" | "copyarrivaldate" => {
                unsupported_channel_option(item, warnings);
            }
            _ => warn(
                warnings,
                item,
                "is not a Channel keyword mailferry knows; not carried over".to_string(),
            ),
        }
    }
    let (Some(far), Some(near)) = (far, near) else {
        return skip(warnings, "it needs both Far and Near".to_string());
    };
    let Some((far_store, far_box)) = store_ref(&far.joined()) else {
        return skip(
            warnings,
            format!("Far {:?} is not :STORE: or :STORE:BOX", far.joined()),
        );
    };
    let Some((near_store, near_box)) = store_ref(&near.joined()) else {
        return skip(
            warnings,
            format!("Near {:?} is not :STORE: or :STORE:BOX", near.joined()),
        );
    };
    let kind_of = |name: &str| stores.get(name).map(|s| s.kind);
    match (kind_of(&far_store), kind_of(&near_store)) {
        (Some(SectionKind::ImapStore), Some(SectionKind::MaildirStore)) => {}
        (Some(SectionKind::MaildirStore), Some(SectionKind::ImapStore)) => {
            return skip(
                warnings,
                "its Far side is the maildir and its Near side the server; mailferry's far side is always the server (swap Far and Near, and Create/Remove/Expunge Far/Near)".to_string(),
            );
        }
        _ => {
            return skip(
                warnings,
                format!(
                    "mailferry syncs an IMAPStore (Far) with a MaildirStore (Near), and {far_store:?}/{near_store:?} are not that"
                ),
            );
        }
    }
    let Some(account) = store_accounts.get(&far_store).cloned() else {
        return skip(
            warnings,
            format!("the store {far_store:?} has no usable account"),
        );
    };
    let Some(near_section) = stores.get(near_store.as_str()).map(|s| s.section) else {
        return skip(warnings, format!("the store {near_store:?} is not defined"));
    };

    // The maildir and its layout.
    let mut path = None;
    let mut inbox_item: Option<&Item> = None;
    let mut layout_word = None;
    let mut store_max_size = None;
    for item in &near_section.items {
        match item.keyword.to_ascii_lowercase().as_str() {
            "path" => path = Some((item.joined(), item.line)),
            "inbox" => inbox_item = Some(item),
            "subfolders" => layout_word = Some(item.joined().to_ascii_lowercase()),
            "flatten" => {
                return skip(
                    warnings,
                    format!(
                        "its maildir store {near_store:?} uses Flatten (line {})",
                        item.line
                    ),
                );
            }
            "maxsize" => store_max_size = Some(item),
            _ => {}
        }
    }
    let inbox = inbox_item.map_or_else(|| "~/Maildir".to_string(), Item::joined);
    let trim = |p: &str| {
        let t = p.trim_end_matches('/');
        if t.is_empty() {
            "/".to_string()
        } else {
            t.to_string()
        }
    };
    let (layout, maildir, inbox_fits) = match layout_word.as_deref() {
        Some("maildir++") => (Layout::MaildirPlusPlus, trim(&inbox), true),
        Some("legacy") => {
            return skip(
                warnings,
                format!("its maildir store {near_store:?} uses SubFolders Legacy"),
            );
        }
        _ => {
            let Some((path, path_line)) = path else {
                return skip(
                    warnings,
                    format!(
                        "its maildir store {near_store:?} has no Path, so mbsync kept only INBOX (at {inbox}); give mailferry a maildir root holding INBOX/"
                    ),
                );
            };
            if !path.ends_with('/') {
                warnings.push(Warning {
                    line: path_line,
                    keyword: "Path".to_string(),
                    message: format!(
                        "{path:?} has no trailing slash, so mbsync put folders at {path}NAME; mailferry uses it as a directory ({path}/NAME): check the result"
                    ),
                });
            }
            let root = trim(&path);
            let expected = format!("{}/INBOX", expand_tilde(&root, home));
            let actual = expand_tilde(&trim(&inbox), home);
            // The INBOX directory's own name may be in any case; its parent must match.
            let parent = |p: &str| {
                p.len()
                    .checked_sub(5)
                    .and_then(|n| p.get(..n))
                    .map(str::to_string)
            };
            let fits =
                actual.eq_ignore_ascii_case(&expected) && parent(&actual) == parent(&expected);
            (Layout::Verbatim, root, fits)
        }
    };

    // The folders.
    let mut folders: Vec<String> = Vec::new();
    if patterns.is_empty() {
        if far_box != near_box {
            return skip(
                warnings,
                format!(
                    "it syncs the far box {far_box:?} with the near box {near_box:?}; mailferry keeps one name on both sides"
                ),
            );
        }
        folders.push(if far_box.is_empty() {
            mapping::INBOX.to_string()
        } else {
            display_pattern(&far_box)
        });
    } else {
        if !far_box.is_empty() || !near_box.is_empty() {
            return skip(
                warnings,
                format!(
                    "it puts the box prefixes {far_box:?}/{near_box:?} before its Patterns; mailferry maps whole names"
                ),
            );
        }
        folders.extend(patterns.iter().map(|p| display_pattern(p)));
    }
    let names_inbox = folders.iter().any(|p| {
        let body = p.strip_prefix('!').unwrap_or(p);
        body.get(..5)
            .is_some_and(|b| b.eq_ignore_ascii_case("INBOX"))
    });
    if !inbox_fits {
        let where_ = format!("{maildir}/INBOX");
        if names_inbox {
            warnings.push(Warning {
                line: inbox_item.map_or(near_section.header.line, |i| i.line),
                keyword: inbox_item.map_or("MaildirStore".to_string(), |i| i.keyword.clone()),
                message: format!(
                    "INBOX is at {inbox}, but mailferry keeps it at {where_}: move it there (mv {inbox} {where_}) before the first sync, or its messages are downloaded again"
                ),
            });
        } else {
            // mbsync's wildcards do not match an INBOX outside Path.
            folders.push("!INBOX".to_string());
        }
    }

    // Sync -> direction.
    let (pull, push) = match sync {
        None => (ALL_OPS, ALL_OPS),
        Some(item) => match parse_sync(item) {
            Ok(rows) => rows,
            Err(problem) => {
                warn(warnings, item, format!("{problem}; Sync All is assumed"));
                (ALL_OPS, ALL_OPS)
            }
        },
    };
    let direction = match (pull, push) {
        (0, 0) => {
            return skip(
                warnings,
                "Sync None propagates nothing, and mailferry has no expunge-only mode".to_string(),
            );
        }
        (_, 0) => "pull",
        (0, _) => "push",
        _ => "both",
    };
    let partial = |row: u8| row != 0 && row & MAILFERRY_OPS != MAILFERRY_OPS;
    if let Some(item) = sync
        && (partial(pull) || partial(push))
    {
        warn(
            warnings,
            item,
            format!(
                "{:?} propagates only some changes; mailferry propagates new messages, deletions and flags together in each direction it syncs, so this channel becomes direction = \"{direction}\"",
                item.joined()
            ),
        );
    }

    let side = |item: Option<&Item>, warnings: &mut Vec<Warning>| {
        item.and_then(|i| side_value(i, warnings)).unwrap_or("none")
    };
    let create = side(create, warnings);
    let remove = side(remove, warnings);
    let expunge = side(expunge, warnings);

    let max_size = match max_size_item.or(store_max_size) {
        None => None,
        Some(item) => match max_size_value(&item.joined()) {
            Ok(size) => {
                if size.is_some() {
                    warn(
                        warnings,
                        item,
                        "mbsync propagates a placeholder for a larger message; mailferry leaves it on the server (and reports it)".to_string(),
                    );
                }
                size
            }
            Err(problem) => {
                warn(warnings, item, format!("{problem}; no limit is set"));
                None
            }
        },
    };

    let state = match sync_state {
        Some(item) if item.joined() == "*" => StateLocation::InMailbox,
        Some(item) if defaults.sync_state.is_none_or(|g| g.line != item.line) => {
            StateLocation::Prefix(item.joined())
        }
        Some(item) => StateLocation::Global {
            prefix: item.joined(),
            delimiter: defaults.field_delimiter,
        },
        None => StateLocation::Global {
            prefix: "~/.mbsync/".to_string(),
            delimiter: defaults.field_delimiter,
        },
    };

    Some(ChannelOut {
        name: plain_name(&section.name),
        account,
        maildir,
        layout,
        folders,
        direction,
        create,
        remove,
        expunge,
        max_size,
        sources: vec![Source {
            name: section.name.clone(),
            line: section.header.line,
            far_store,
            near_store,
            state,
        }],
    })
}

/// An mbsync box name or pattern (modified UTF-7 in mbsync 1.4) as a mailferry pattern
/// over display names (UTF-8); kept as written when it is not valid modified UTF-7.
fn display_pattern(p: &str) -> String {
    let (bang, body) = match p.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", p),
    };
    match mapping::decode_mutf7(body) {
        Ok(decoded) => format!("{bang}{decoded}"),
        Err(_) => p.to_string(),
    }
}

/// Adds a channel, merging it into one with the same account and maildir (mailferry
/// gives one maildir one channel; mbsync users often write one channel per folder).
fn merge_channel(
    channels: &mut Vec<ChannelOut>,
    mut channel: ChannelOut,
    section: &Section,
    warnings: &mut Vec<Warning>,
) {
    if let Some(existing) = channels
        .iter_mut()
        .find(|c| c.account == channel.account && c.maildir == channel.maildir)
    {
        let same = existing.layout == channel.layout
            && existing.direction == channel.direction
            && existing.create == channel.create
            && existing.remove == channel.remove
            && existing.expunge == channel.expunge
            && existing.max_size == channel.max_size;
        if !same {
            warn(
                warnings,
                &section.header,
                format!(
                    "{:?} shares its maildir with {:?} but syncs differently; mailferry gives one maildir one channel, so the folders of {:?} join channel {:?} with its settings",
                    section.name, existing.sources[0].name, section.name, existing.name
                ),
            );
        }
        for f in channel.folders.drain(..) {
            if !existing.folders.contains(&f) {
                existing.folders.push(f);
            }
        }
        existing.sources.append(&mut channel.sources);
        return;
    }
    while channels.iter().any(|c| c.name == channel.name) {
        channel.name.push_str("-2");
    }
    channels.push(channel);
}

#[cfg(test)]
mod tests;
