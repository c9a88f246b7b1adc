//! The far store: one IMAP connection (implicit TLS, STARTTLS or loopback plaintext),
//! login, folder listing with the server's delimiter and namespace, message listing in
//! windows, size-capped body batches, APPEND, flag stores and exact expunges.

pub mod diagnose;

use crate::config::{Account, TlsMode};
use crate::flags::Flags;
use crate::model::{FarMessage, FarUid, PairKey, UidValidity};
use crate::pairkey::pair_key_from_header;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime};

/// Messages listed per FETCH when listing a folder (by sequence number, which is dense).
const LIST_WINDOW: u32 = 5000;
/// Headers fetched per command when computing pairing keys.
const HEADER_BATCH: usize = 500;
/// Most body bytes one FETCH may ask for (one larger message still goes alone).
pub const BODY_BATCH_BYTES: u64 = 16 << 20;

/// Whether retrying might help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarErrorKind {
    /// The connection broke or went silent: worth a retry with a fresh connection.
    Transient,
    /// The server said no, or cannot be trusted: retrying will not help.
    Permanent,
}

/// An error from the far side, already worded for the user.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FarError {
    pub kind: FarErrorKind,
    pub message: String,
}

impl FarError {
    pub fn permanent(message: impl Into<String>) -> FarError {
        FarError {
            kind: FarErrorKind::Permanent,
            message: message.into(),
        }
    }

    fn from_imap(context: &str, error: imap::Error) -> FarError {
        let kind = match &error {
            imap::Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::TimedOut
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Interrupted => FarErrorKind::Transient,
                _ => FarErrorKind::Permanent,
            },
            imap::Error::ConnectionLost | imap::Error::Bye(_) => FarErrorKind::Transient,
            _ => FarErrorKind::Permanent,
        };
        let detail = match &error {
            imap::Error::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                "the server went silent for longer than the timeout".to_string()
            }
            other => other.to_string(),
        };
        FarError {
            kind,
            message: format!("{context}: {detail}"),
        }
    }
}

pub type FarResult<T> = Result<T, FarError>;

/// The byte stream under an IMAP session: TLS or (loopback only) plain TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// What the server supports, decided from CAPABILITY alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCaps {
    pub uidplus: bool,
    pub r#move: bool,
    pub condstore: bool,
    pub qresync: bool,
    pub list_status: bool,
    pub idle: bool,
    pub special_use: bool,
    pub namespace: bool,
    pub literal_plus: bool,
}

impl ServerCaps {
    fn from(caps: &imap::types::Capabilities) -> ServerCaps {
        ServerCaps {
            uidplus: caps.has_str("UIDPLUS"),
            r#move: caps.has_str("MOVE"),
            condstore: caps.has_str("CONDSTORE"),
            qresync: caps.has_str("QRESYNC"),
            list_status: caps.has_str("LIST-STATUS"),
            idle: caps.has_str("IDLE"),
            special_use: caps.has_str("SPECIAL-USE"),
            namespace: caps.has_str("NAMESPACE"),
            literal_plus: caps.has_str("LITERAL+"),
        }
    }
}

/// A far folder as LIST shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedFolder {
    /// The name exactly as the server spells it (modified UTF-7, server delimiter).
    pub server_name: String,
    pub delimiter: Option<char>,
    /// `\Noselect` or `\NonExistent`: a hierarchy node that holds no messages.
    pub no_select: bool,
}

/// What SELECT/EXAMINE told about a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selected {
    pub uid_validity: UidValidity,
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// A logged-in IMAP connection.
pub struct FarSession {
    session: imap::Session<Stream>,
    pub caps: ServerCaps,
    /// The personal namespace prefix (`INBOX.` on Courier-like servers) and delimiter.
    pub prefix: String,
    pub delimiter: Option<char>,
    /// Where we are connected, for error messages.
    pub endpoint: String,
}

struct PlainAuth<'a> {
    user: &'a str,
    password: &'a str,
}

impl imap::Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;
    fn process(&self, _challenge: &[u8]) -> Vec<u8> {
        let mut response = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        response.push(0);
        response.extend_from_slice(self.user.as_bytes());
        response.push(0);
        response.extend_from_slice(self.password.as_bytes());
        response
    }
}

/// True for names that can only reach this machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn tcp_connect(account: &Account) -> FarResult<TcpStream> {
    let endpoint = format!("{}:{}", account.host, account.port);
    let addrs: Vec<SocketAddr> = (account.host.as_str(), account.port)
        .to_socket_addrs()
        .map_err(|e| FarError {
            kind: FarErrorKind::Transient,
            message: format!("cannot resolve {endpoint}: {e}"),
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, account.timeout) {
            Ok(tcp) => {
                let setup = tcp
                    .set_read_timeout(Some(account.timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(account.timeout)))
                    .and_then(|()| tcp.set_nodelay(true));
                if let Err(e) = setup {
                    return Err(FarError::permanent(format!(
                        "cannot set up the connection to {endpoint}: {e}"
                    )));
                }
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(FarError {
        kind: FarErrorKind::Transient,
        message: match last {
            Some(e) => format!("cannot connect to {endpoint}: {e}"),
            None => format!("cannot connect to {endpoint}: the name resolves to no address"),
        },
    })
}

fn tls_wrap(account: &Account, tcp: TcpStream) -> FarResult<Stream> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(ca_file) = &account.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            FarError::permanent(format!(
                "account {}: cannot read ca_file {}: {e}",
                account.name,
                ca_file.display()
            ))
        })?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            FarError::permanent(format!(
                "account {}: ca_file {} is not a PEM certificate: {e}",
                account.name,
                ca_file.display()
            ))
        })?;
        builder.add_root_certificate(cert);
    }
    let connector = builder
        .build()
        .map_err(|e| FarError::permanent(format!("cannot set up TLS: {e}")))?;
    let host = account.host.trim_start_matches('[').trim_end_matches(']');
    match connector.connect(host, tcp) {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
        Err(native_tls::HandshakeError::Failure(e)) => Err(FarError::permanent(format!(
            "TLS with {}:{} failed: {e} (the certificate must be valid for {host} and issued by a trusted authority; add ca_file for a private one)",
            account.host, account.port
        ))),
        Err(native_tls::HandshakeError::WouldBlock(_)) => Err(FarError {
            kind: FarErrorKind::Transient,
            message: format!(
                "TLS with {}:{} timed out during the handshake",
                account.host, account.port
            ),
        }),
    }
}

/// Reads one CRLF-terminated line of at most 8 KiB from the plaintext stream.
fn read_plain_line(reader: &mut io::BufReader<TcpStream>, endpoint: &str) -> FarResult<String> {
    let mut line = Vec::new();
    let read = io::BufRead::read_until(&mut io::Read::by_ref(reader).take(8192), b'\n', &mut line)
        .map_err(|e| FarError {
            kind: FarErrorKind::Transient,
            message: format!("{endpoint}: reading before STARTTLS: {e}"),
        })?;
    if read == 0 || !line.ends_with(b"\n") {
        return Err(FarError {
            kind: FarErrorKind::Transient,
            message: format!(
                "{endpoint}: the connection ended or sent an overlong line before STARTTLS"
            ),
        });
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// The plaintext part of STARTTLS: greeting, CAPABILITY, STARTTLS. Refuses a server
/// that does not offer STARTTLS (never falls back to plaintext).
fn starttls(tcp: TcpStream, endpoint: &str) -> FarResult<TcpStream> {
    let io_error = |e: io::Error| FarError {
        kind: FarErrorKind::Transient,
        message: format!("{endpoint}: before STARTTLS: {e}"),
    };
    let mut reader = io::BufReader::new(tcp.try_clone().map_err(io_error)?);
    let mut writer = tcp;
    let greeting = read_plain_line(&mut reader, endpoint)?;
    if !greeting.starts_with("* OK") {
        return Err(FarError::permanent(format!(
            "{endpoint}: unexpected greeting {:?}",
            greeting.chars().take(100).collect::<String>()
        )));
    }
    writer.write_all(b"S1 CAPABILITY\r\n").map_err(io_error)?;
    let mut offers_starttls = false;
    loop {
        let line = read_plain_line(&mut reader, endpoint)?;
        if line.starts_with("* CAPABILITY ") {
            offers_starttls |= line
                .split_ascii_whitespace()
                .any(|cap| cap.eq_ignore_ascii_case("STARTTLS"));
        } else if line.starts_with("S1 ") {
            break;
        }
    }
    if !offers_starttls {
        return Err(FarError::permanent(format!(
            "{endpoint} does not offer STARTTLS; refusing to log in without TLS (use tls = \"implicit\" if the server listens for TLS on another port)"
        )));
    }
    writer.write_all(b"S2 STARTTLS\r\n").map_err(io_error)?;
    loop {
        let line = read_plain_line(&mut reader, endpoint)?;
        if let Some(status) = line.strip_prefix("S2 ") {
            if !status.starts_with("OK") {
                return Err(FarError::permanent(format!(
                    "{endpoint}: STARTTLS refused: {status}"
                )));
            }
            break;
        }
    }
    if !reader.buffer().is_empty() {
        return Err(FarError::permanent(format!(
            "{endpoint}: the server sent data after STARTTLS before the TLS handshake"
        )));
    }
    Ok(writer)
}

impl FarSession {
    /// Connects, secures the connection as the account says, and logs in.
    pub fn connect(account: &Account, password: &str) -> FarResult<FarSession> {
        let endpoint = format!("{}:{}", account.host, account.port);
        let ctx = |what: &str| format!("{endpoint}: {what}");
        let tcp = tcp_connect(account)?;
        let mut client = match account.tls {
            TlsMode::Implicit => {
                let mut client = imap::Client::new(tls_wrap(account, tcp)?);
                client
                    .read_greeting()
                    .map_err(|e| FarError::from_imap(&ctx("greeting"), e))?;
                client
            }
            TlsMode::StartTls => {
                let tcp = starttls(tcp, &endpoint)?;
                let mut client = imap::Client::new(tls_wrap(account, tcp)?);
                client.greeting_read = true;
                client
            }
            TlsMode::None => {
                if !is_loopback(&account.host) && !account.allow_plaintext {
                    return Err(FarError::permanent(format!(
                        "account {}: refusing a plaintext login to {} (not loopback); use TLS, or set allow_plaintext = true",
                        account.name, account.host
                    )));
                }
                let mut client = imap::Client::new(Stream::Plain(tcp));
                client
                    .read_greeting()
                    .map_err(|e| FarError::from_imap(&ctx("greeting"), e))?;
                client
            }
        };
        let caps = client
            .capabilities()
            .map_err(|e| FarError::from_imap(&ctx("CAPABILITY"), e))?;
        let login_failed = |e: imap::Error| match e {
            imap::Error::No(_) | imap::Error::Bad(_) => FarError::permanent(format!(
                "{endpoint}: login as {} refused (check user and password)",
                account.user
            )),
            other => FarError::from_imap(&ctx("login"), other),
        };
        let session = if caps.has_str("AUTH=PLAIN") {
            client
                .authenticate(
                    "PLAIN",
                    &PlainAuth {
                        user: &account.user,
                        password,
                    },
                )
                .map_err(|(e, _)| login_failed(e))?
        } else if caps.has_str("LOGINDISABLED") {
            return Err(FarError::permanent(format!(
                "{endpoint} allows no login on this connection (LOGINDISABLED)"
            )));
        } else {
            client
                .login(&account.user, password)
                .map_err(|(e, _)| login_failed(e))?
        };
        let mut far = FarSession {
            session,
            caps: ServerCaps::default(),
            prefix: String::new(),
            delimiter: None,
            endpoint,
        };
        let caps = far
            .session
            .capabilities()
            .map_err(|e| far.err("CAPABILITY", e))?;
        far.caps = ServerCaps::from(&caps);
        drop(caps);
        far.drain();
        Ok(far)
    }

    fn err(&self, what: &str, e: imap::Error) -> FarError {
        FarError::from_imap(&format!("{}: {what}", self.endpoint), e)
    }

    /// Drops the untagged responses nobody asked for, so they never pile up.
    fn drain(&mut self) {
        self.session.take_all_unsolicited().for_each(drop);
    }

    /// Every folder on the server (LIST "" "*").
    pub fn list_folders(&mut self) -> FarResult<Vec<ListedFolder>> {
        let names = self
            .session
            .list(Some(""), Some("*"))
            .map_err(|e| self.err("LIST", e))?;
        let folders = names
            .iter()
            .map(|name| ListedFolder {
                server_name: name.name().to_string(),
                delimiter: name.delimiter().and_then(|d| d.chars().next()),
                no_select: name.attributes().iter().any(|a| {
                    matches!(
                        a,
                        imap_proto::NameAttribute::NoSelect
                    ) || matches!(a, imap_proto::NameAttribute::Extension(x) if x.eq_ignore_ascii_case("\\NonExistent"))
                }),
            })
            .collect::<Vec<ListedFolder>>();
        drop(names);
        self.drain();
        self.infer_namespace(&folders);
        Ok(folders)
    }

    /// The personal namespace, inferred from the listing: the `imap` crate cannot parse
    /// a NAMESPACE response, so when every folder but INBOX sits below `INBOX<delim>`
    /// (Courier, Cyrus, Dovecot with `prefix = INBOX.`), that is the prefix, and folders
    /// are shown and created without it, as mbsync's UseNamespace does.
    fn infer_namespace(&mut self, folders: &[ListedFolder]) {
        let delimiter = folders.iter().find_map(|f| f.delimiter);
        self.delimiter = delimiter;
        self.prefix = String::new();
        let Some(delimiter) = delimiter else { return };
        let prefix = format!("INBOX{delimiter}");
        let mut others = folders
            .iter()
            .filter(|f| !f.server_name.eq_ignore_ascii_case("INBOX"))
            .peekable();
        if others.peek().is_some()
            && others.all(|f| {
                f.server_name
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            })
        {
            self.prefix = prefix;
        }
    }

    /// SELECTs a folder, or EXAMINEs it (read-only) for a dry run.
    pub fn select(&mut self, server_name: &str, read_only: bool) -> FarResult<Selected> {
        let mailbox = if read_only {
            self.session.examine(server_name)
        } else {
            self.session.select(server_name)
        }
        .map_err(|e| self.err(&format!("SELECT {server_name:?}"), e))?;
        self.drain();
        let uid_validity = match mailbox.uid_validity {
            Some(v) if v != 0 => UidValidity(v),
            other => {
                return Err(FarError::permanent(format!(
                    "{}: folder {server_name:?} has no usable UIDVALIDITY ({other:?}); cannot sync it safely",
                    self.endpoint
                )));
            }
        };
        Ok(Selected {
            uid_validity,
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    /// Lists the selected folder's messages (UID, flags, size), a window at a time.
    pub fn list_messages(&mut self, exists: u32) -> FarResult<Vec<FarMessage>> {
        let mut messages = Vec::with_capacity(exists as usize);
        let mut start = 1;
        while start <= exists {
            let end = exists.min(start.saturating_add(LIST_WINDOW - 1));
            let fetches = self
                .session
                .fetch(format!("{start}:{end}"), "(UID FLAGS RFC822.SIZE)")
                .map_err(|e| self.err("FETCH (UID FLAGS RFC822.SIZE)", e))?;
            for fetch in fetches.iter() {
                let Some(uid) = fetch.uid else {
                    return Err(FarError::permanent(format!(
                        "{}: the server listed message {} without a UID",
                        self.endpoint, fetch.message
                    )));
                };
                messages.push(FarMessage {
                    uid: FarUid(uid),
                    flags: flags_of(fetch.flags()),
                    size: fetch.size.unwrap_or(0),
                });
            }
            drop(fetches);
            self.drain();
            start = end.saturating_add(1);
            if end == u32::MAX {
                break;
            }
        }
        messages.sort_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        Ok(messages)
    }

    /// Pairing keys (Message-ID or header hash) of the given messages.
    pub fn pair_keys(&mut self, uids: &[FarUid]) -> FarResult<Vec<(FarUid, PairKey)>> {
        let mut keys = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(HEADER_BATCH) {
            let fetches = self
                .session
                .uid_fetch(uid_set(chunk), "BODY.PEEK[HEADER]")
                .map_err(|e| self.err("UID FETCH BODY.PEEK[HEADER]", e))?;
            for fetch in fetches.iter() {
                if let (Some(uid), Some(header)) = (fetch.uid, fetch.header()) {
                    keys.push((FarUid(uid), pair_key_from_header(header)));
                }
            }
            drop(fetches);
            self.drain();
        }
        Ok(keys)
    }

    /// Fetches message bodies in batches of at most [`BODY_BATCH_BYTES`] (one larger
    /// message goes alone) and hands each to `deliver` with its UID; `after_batch` runs
    /// after every batch, and before returning an error of `deliver` (the caller makes
    /// what was delivered durable there). Returns the UIDs the
    /// server no longer had.
    pub fn fetch_bodies(
        &mut self,
        wanted: &[(FarUid, u32)],
        deliver: &mut dyn FnMut(FarUid, &[u8]) -> anyhow::Result<()>,
        after_batch: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<FarUid>> {
        let mut missing = Vec::new();
        let mut start = 0;
        while start < wanted.len() {
            let mut end = start;
            let mut bytes = 0u64;
            while end < wanted.len()
                && (end == start || bytes + u64::from(wanted[end].1) <= BODY_BATCH_BYTES)
            {
                bytes += u64::from(wanted[end].1);
                end += 1;
            }
            let batch: Vec<FarUid> = wanted[start..end].iter().map(|(uid, _)| *uid).collect();
            let fetches = self
                .session
                .uid_fetch(uid_set(&batch), "BODY.PEEK[]")
                .map_err(|e| self.err("UID FETCH BODY.PEEK[]", e))?;
            let mut got = std::collections::HashSet::new();
            for fetch in fetches.iter() {
                let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                    continue;
                };
                if batch.contains(&FarUid(uid))
                    && got.insert(uid)
                    && let Err(e) = deliver(FarUid(uid), body)
                {
                    // Keep what this batch delivered before the failure (say, a full
                    // disk): made durable and recorded, then the error.
                    after_batch()?;
                    return Err(e);
                }
            }
            drop(fetches);
            self.drain();
            missing.extend(batch.iter().filter(|uid| !got.contains(&uid.0)));
            after_batch()?;
            start = end;
        }
        Ok(missing)
    }

    /// APPENDs a message with flags and internal date; the new UID when the server
    /// reports it (APPENDUID, from UIDPLUS).
    pub fn append(
        &mut self,
        server_name: &str,
        body: &[u8],
        flags: Flags,
        date: Option<SystemTime>,
    ) -> FarResult<Option<FarUid>> {
        let body = to_crlf(body);
        let imap_flags: Vec<imap::types::Flag<'static>> = flags
            .to_imap()
            .into_iter()
            .map(|name| imap::types::Flag::from(name.to_string()))
            .collect();
        let mut command = self.session.append(server_name, &body);
        command.flags(imap_flags);
        if let Some(date) = date.and_then(to_datetime) {
            command.internal_date(date);
        }
        let appended = command
            .finish()
            .map_err(|e| FarError::from_imap(&format!("APPEND to {server_name:?}"), e))?;
        crate::failpoint::hit();
        self.drain();
        let uid = match appended.uids.as_deref() {
            Some([imap_proto::UidSetMember::Uid(uid)]) => Some(FarUid(*uid)),
            _ => None,
        };
        Ok(uid)
    }

    /// The UIDs at or above `from` (to find appended messages without APPENDUID).
    pub fn uids_from(&mut self, from: u32) -> FarResult<Vec<FarUid>> {
        let found = self
            .session
            .uid_search(format!("UID {from}:*"))
            .map_err(|e| self.err("UID SEARCH", e))?;
        self.drain();
        let mut uids: Vec<FarUid> = found
            .into_iter()
            .filter(|u| *u >= from)
            .map(FarUid)
            .collect();
        uids.sort();
        Ok(uids)
    }

    /// Adds or removes flags on the given messages.
    pub fn store_flags(&mut self, uids: &[FarUid], add: bool, flags: Flags) -> FarResult<()> {
        if uids.is_empty() || flags.is_empty() {
            return Ok(());
        }
        let op = if add {
            "+FLAGS.SILENT"
        } else {
            "-FLAGS.SILENT"
        };
        self.session
            .uid_store(uid_set(uids), format!("{op} {}", flags.to_imap_list()))
            .map_err(|e| self.err("UID STORE", e))?;
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    /// Deletes exactly these messages: flags them `\Deleted`, then UID EXPUNGE (UIDPLUS).
    /// Without UIDPLUS a plain EXPUNGE would also purge other messages flagged deleted,
    /// so it runs only when `expunge_others` allows it; otherwise they stay flagged.
    pub fn delete_messages(&mut self, uids: &[FarUid], expunge_others: bool) -> FarResult<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.store_flags(uids, true, Flags::DELETED)?;
        if self.caps.uidplus {
            self.session
                .uid_expunge(uid_set(uids))
                .map_err(|e| self.err("UID EXPUNGE", e))?;
        } else if expunge_others {
            self.session.expunge().map_err(|e| self.err("EXPUNGE", e))?;
        }
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    /// Creates a folder; one that already exists (say, made by a retried attempt) is fine.
    pub fn create_folder(&mut self, server_name: &str) -> FarResult<()> {
        match self.session.create(server_name) {
            Ok(()) => {}
            Err(imap::Error::No(no))
                if no
                    .information
                    .to_ascii_lowercase()
                    .contains("already exists") => {}
            Err(e) => return Err(self.err(&format!("CREATE {server_name:?}"), e)),
        }
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    pub fn delete_folder(&mut self, server_name: &str) -> FarResult<()> {
        self.session
            .delete(server_name)
            .map_err(|e| self.err(&format!("DELETE {server_name:?}"), e))?;
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    /// Leaves the selected folder without expunging anything.
    pub fn unselect(&mut self) {
        // Selecting nothing: CLOSE would expunge, so we just leave it selected; the next
        // SELECT replaces it. Nothing to do.
    }

    pub fn logout(mut self) {
        let _ = self.session.logout();
    }
}

/// Maps IMAP flags to the synced set; keywords mailferry doesn't sync are ignored (and
/// never removed, since stores only ever name synced flags).
fn flags_of(flags: &[imap::types::Flag<'_>]) -> Flags {
    flags
        .iter()
        .filter_map(|flag| Flags::from_imap_flag(&flag.to_string()))
        .fold(Flags::EMPTY, Flags::union)
}

/// `1:3,7,9:10` for a list of UIDs.
pub fn uid_set(uids: &[FarUid]) -> String {
    let mut sorted: Vec<u32> = uids.iter().map(|u| u.0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            end = sorted[i + 1];
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// IMAP wants CRLF line ends; maildir files often have bare LF.
fn to_crlf(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare_lf = body
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || body[i - 1] != b'\r'));
    if !bare_lf {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + body.len() / 40);
    for (i, b) in body.iter().enumerate() {
        if *b == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    std::borrow::Cow::Owned(out)
}

fn to_datetime(time: SystemTime) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let utc = chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)?;
    Some(utc.fixed_offset())
}

/// A pause before retry `attempt` (1-based): 0.5 s, 1 s, 2 s...
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        let uids: Vec<FarUid> = [9, 1, 2, 3, 7, 10, 3].into_iter().map(FarUid).collect();
        assert_eq!(uid_set(&uids), "1:3,7,9:10");
        assert_eq!(uid_set(&[FarUid(5)]), "5");
    }

    #[test]
    fn bare_line_feeds_become_crlf() {
        assert_eq!(&*to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert!(matches!(to_crlf(b"a\r\n"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn loopback_names() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.org", "10.0.0.1", "localhost.example.org"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
