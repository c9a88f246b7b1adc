//! The far store: one IMAP connection (implicit TLS, STARTTLS or loopback plaintext),
//! login, folder listing with the server's delimiter and namespace, message listing in
//! windows, size-capped body batches, APPEND, flag stores and exact expunges.
//!
//! The server is not trusted: every command's answer is read under a byte budget (the
//! `imap` crate buffers a whole answer in memory), the crate is kept off its panicking
//! paths and any panic left in it becomes an error, and listings that contradict
//! themselves (UIDs out of order, repeated, at or above UIDNEXT) are refused.

mod append;
mod bodies;
mod changes;
pub mod diagnose;
mod pipeline;
mod responses;
pub use append::Upload;
pub use pipeline::FlagStore;
mod tls;
mod trace;
mod wire;
use wire::{Budgeted, SharedWire, Stream, Wire};

use crate::config::{Account, TlsMode};
use crate::flags::Flags;
use crate::model::{FarMessage, FarUid, PairKey, UidValidity};
use crate::pairkey::pair_key_from_header;
use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Messages listed per FETCH when listing a folder (by sequence number, which is dense).
/// The `imap` crate holds a window's parsed answer at some 500 bytes a message, in each
/// folder job at once: 2,000 keeps that to a megabyte, for one round trip per window.
const LIST_WINDOW: u32 = 2000;
/// Headers fetched per command when computing pairing keys.
const HEADER_BATCH: usize = 500;
/// Most body bytes one FETCH may ask for (one larger message still goes alone).
pub const BODY_BATCH_BYTES: u64 = 1 << 20;

/// Held while a message larger than a batch is fetched: folder jobs fetch such messages
/// one at a time, whatever the number of jobs, so memory stays a constant plus the
/// largest message (SPEC §4), not jobs times the largest.
static LARGE_FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Most bytes read in answer to a command whose answer is short (status, SELECT, STORE,
/// SEARCH...), unsolicited responses included. Far above what a sane server sends.
const RESPONSE_BYTES: u64 = 16 << 20;
/// Most bytes of a LIST answer (some 200,000 folders).
const LIST_BYTES: u64 = 32 << 20;
/// Most bytes per message of a listing window (UID, FLAGS with many keywords, size).
const LISTED_MESSAGE_BYTES: u64 = 2048;
/// Bytes allowed per message of a body or header FETCH on top of the message itself
/// (the FETCH line, the literal's announcement, flags the server adds).
const FETCHED_MESSAGE_SLACK: u64 = 4096;
/// Most lines read before STARTTLS (greeting, CAPABILITY and their chatter).
const PLAIN_LINES: usize = 100;
/// Server-supplied text is cut to this many characters in error messages.
const DETAIL_CHARS: usize = 300;

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
        let malformed = matches!(&error, imap::Error::Bye(bye)
            if bye.code.is_none() && bye.information == "no explanation given");
        let kind = match &error {
            _ if malformed => FarErrorKind::Permanent,
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
                "timed out: the server went silent for longer than the account's timeout"
                    .to_string()
            }
            // The crate reports a line it cannot parse as a BYE without text.
            _ if malformed => {
                "the server sent a response line that is not valid IMAP (a broken server?)"
                    .to_string()
            }
            imap::Error::ConnectionLost => {
                "the server closed the connection before finishing its answer".to_string()
            }
            imap::Error::Parse(e) => {
                format!("the server sent a response that is not valid IMAP ({e})")
            }
            imap::Error::TagMismatch(_) => {
                "the server finished a command mailferry did not send (a tag mismatch; a broken server?)"
                    .to_string()
            }
            imap::Error::Unexpected(r) => format!("the server sent an unexpected response: {r:?}"),
            other => other.to_string(),
        };
        FarError {
            kind,
            message: format!("{context}: {}", clip(&detail)),
        }
    }
}

/// Server-supplied text for an error message: at most [`DETAIL_CHARS`] characters,
/// control characters escaped.
fn clip(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == DETAIL_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

pub type FarResult<T> = Result<T, FarError>;

/// The error of a command on a connection an earlier failure left out of step.
fn out_of_step() -> imap::Error {
    imap::Error::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "this connection failed earlier and is out of step with the server",
    ))
}

thread_local! {
    /// Set while this thread runs `imap` crate code under [`guarded`].
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// What the last panic under [`guarded`] said.
    static PANIC_NOTE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Wraps the process's panic hook once so that panics inside [`guarded`] are recorded
/// for the error message instead of printed; every other panic is reported as before.
fn quiet_guarded_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                // The crate and file, not the whole path into the cargo registry.
                let at = info
                    .location()
                    .map(|l| {
                        let parts: Vec<&str> = l.file().rsplit('/').take(4).collect();
                        let file: Vec<&str> = parts.into_iter().rev().collect();
                        format!(" at {}:{}", file.join("/"), l.line())
                    })
                    .unwrap_or_default();
                PANIC_NOTE.with(|note| *note.borrow_mut() = Some(format!("{payload}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `imap` crate code that parses what the server sent. The crate (and `imap-proto`
/// under it) still panics on some hostile input (`INTERNALDATE NIL`, for one); such a
/// panic becomes an error for this connection instead of taking the process down.
fn guarded<T>(f: impl FnOnce() -> imap::Result<T>) -> imap::Result<T> {
    quiet_guarded_panics();
    GUARDED.with(|g| g.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    outcome.unwrap_or_else(|_| {
        let note = PANIC_NOTE
            .with(|note| note.borrow_mut().take())
            .unwrap_or_default();
        Err(imap::Error::Io(io::Error::other(format!(
            "the server sent a response the IMAP library cannot handle ({note})"
        ))))
    })
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
    pub multiappend: bool,
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
            multiappend: caps.has_str("MULTIAPPEND"),
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
    /// HIGHESTMODSEQ, from a server with CONDSTORE that keeps them for this folder.
    pub highest_modseq: Option<u64>,
}

impl Selected {
    /// Refuses the folder when its UIDNEXT is at or below a UID the state paired under
    /// the same UIDVALIDITY. UIDs only ever grow (RFC 3501 §2.3.1.1), so the server's
    /// UID records are broken, and syncing against them would delete the near copies of
    /// the "vanished" high UIDs and download the renumbered messages again.
    pub fn check_not_behind(
        &self,
        state_uid_validity: Option<UidValidity>,
        highest_paired: Option<FarUid>,
    ) -> FarResult<()> {
        match (self.uid_next, highest_paired) {
            (Some(next), Some(highest))
                if state_uid_validity == Some(self.uid_validity) && next <= highest.0 =>
            {
                Err(FarError::permanent(format!(
                    "the server's UIDNEXT {next} is not above UID {highest}, which an earlier sync saw under the same UIDVALIDITY {}: its UIDs went backwards, so its listing cannot be trusted and nothing was synced in this folder (if the server really renumbered its messages, remove this folder's state file to pair both sides afresh by Message-ID)",
                    self.uid_validity.0
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A logged-in IMAP connection.
pub struct FarSession {
    session: imap::Session<Budgeted>,
    /// The connection's stream, shared with the session: read budget, commands sent
    /// ahead (see [`pipeline`]), direct reads (see [`bodies`]).
    wire: SharedWire,
    /// A command failed mid-answer: the connection is out of step with the server.
    broken: bool,
    /// UIDNEXT of the selected folder, when the server said.
    uid_next: Option<u32>,
    /// The largest message size (RFC822.SIZE, or APPENDed) seen in the selected folder,
    /// for the read budget of header FETCHes.
    largest: u64,
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

pub use crate::config::is_loopback;

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
    let context = tls::context(account, tls::Verify::Full).map_err(FarError::permanent)?;
    let host = account.host.trim_start_matches('[').trim_end_matches(']');
    match tls::connect(&context, host, tls::Verify::Full, tcp) {
        Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
        Err(failure) if failure.timed_out => Err(FarError {
            kind: FarErrorKind::Transient,
            message: format!(
                "TLS with {}:{} timed out during the handshake",
                account.host, account.port
            ),
        }),
        Err(failure) => Err(handshake_failure(account, host, &failure)),
    }
}

/// A failed TLS handshake, worded for the user: a connection that broke off during the
/// handshake is transient, like any other cut; a certificate problem is permanent and says
/// which one (expired, made for another name, not from a trusted authority), so the user
/// knows what to fix.
fn handshake_failure(account: &Account, host: &str, failure: &tls::HandshakeFailure) -> FarError {
    let endpoint = format!("{}:{}", account.host, account.port);
    let text = &failure.text;
    let broke_off = failure.broke_off;
    if broke_off {
        return FarError {
            kind: FarErrorKind::Transient,
            message: format!(
                "TLS with {endpoint}: the connection broke off during the handshake: {text}"
            ),
        };
    }
    let lower = text.to_ascii_lowercase();
    let untrusted = [
        "self-signed",
        "self signed",
        "unable to get local issuer",
        "unable to get issuer",
        "unable to verify the first certificate",
    ];
    let problem = if lower.contains("certificate has expired") {
        "the server's certificate has expired (if it should not have, check this machine's clock)"
            .to_string()
    } else if lower.contains("certificate is not yet valid") {
        "the server's certificate is not valid yet (check this machine's clock)".to_string()
    } else if lower.contains("hostname mismatch") || lower.contains("ip address mismatch") {
        format!(
            "the server's certificate is not valid for {host} (it was made for another name; set host to a name it covers)"
        )
    } else if untrusted.iter().any(|p| lower.contains(p)) {
        "the server's certificate is not trusted: no authority this system trusts issued it (for a private or self-signed one, add its CA certificate as ca_file)".to_string()
    } else {
        format!(
            "the certificate must be valid for {host} and issued by a trusted authority; add ca_file for a private one"
        )
    };
    FarError::permanent(format!("TLS with {endpoint} refused: {problem} ({text})"))
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

fn too_chatty(endpoint: &str) -> FarError {
    FarError::permanent(format!(
        "{endpoint}: the server sent more than {PLAIN_LINES} lines without finishing a command before STARTTLS"
    ))
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
    let mut finished = false;
    for _ in 0..PLAIN_LINES {
        let line = read_plain_line(&mut reader, endpoint)?;
        if line.starts_with("* CAPABILITY ") {
            offers_starttls |= line
                .split_ascii_whitespace()
                .any(|cap| cap.eq_ignore_ascii_case("STARTTLS"));
        } else if line.starts_with("S1 ") {
            finished = true;
            break;
        }
    }
    if !finished {
        return Err(too_chatty(endpoint));
    }
    if !offers_starttls {
        return Err(FarError::permanent(format!(
            "{endpoint} does not offer STARTTLS; refusing to log in without TLS (use tls = \"implicit\" if the server listens for TLS on another port)"
        )));
    }
    writer.write_all(b"S2 STARTTLS\r\n").map_err(io_error)?;
    let mut finished = false;
    for _ in 0..PLAIN_LINES {
        let line = read_plain_line(&mut reader, endpoint)?;
        if let Some(status) = line.strip_prefix("S2 ") {
            if !status.starts_with("OK") {
                return Err(FarError::permanent(format!(
                    "{endpoint}: STARTTLS refused: {}",
                    clip(status)
                )));
            }
            finished = true;
            break;
        }
    }
    if !finished {
        return Err(too_chatty(endpoint));
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
        let mut wire = None;
        let mut budgeted = |inner: Stream| {
            let trace = (crate::log::verbosity() >= 3)
                .then(|| Box::new(trace::Trace::new(&account.user, password)));
            let shared = Wire::new(inner, RESPONSE_BYTES, trace);
            wire = Some(Arc::clone(&shared));
            Budgeted(shared)
        };
        let mut client = match account.tls {
            TlsMode::Implicit => imap::Client::new(budgeted(tls_wrap(account, tcp)?)),
            TlsMode::StartTls => {
                let tcp = starttls(tcp, &endpoint)?;
                let mut client = imap::Client::new(budgeted(tls_wrap(account, tcp)?));
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
                imap::Client::new(budgeted(Stream::Plain(tcp)))
            }
        };
        if !client.greeting_read {
            let greeting = guarded(|| client.read_greeting())
                .map_err(|e| FarError::from_imap(&ctx("greeting"), e))?;
            check_greeting(&greeting, &endpoint)?;
        }
        let Some(wire) = wire else {
            return Err(FarError::permanent(format!("{endpoint}: no stream")));
        };
        wire::lock(&wire).start(RESPONSE_BYTES);
        let caps = guarded(|| client.capabilities())
            .map_err(|e| FarError::from_imap(&ctx("CAPABILITY"), e))?;
        let login_failed = |e: imap::Error| match e {
            imap::Error::No(_) | imap::Error::Bad(_) => FarError::permanent(format!(
                "{endpoint}: login as {} refused (check user and password)",
                account.user
            )),
            other => FarError::from_imap(&ctx("login"), other),
        };
        wire::lock(&wire).start(RESPONSE_BYTES);
        let session = if caps.has_str("AUTH=PLAIN") {
            guarded(|| {
                client
                    .authenticate(
                        "PLAIN",
                        &PlainAuth {
                            user: &account.user,
                            password,
                        },
                    )
                    .map_err(|(e, _)| e)
            })
            .map_err(login_failed)?
        } else if caps.has_str("LOGINDISABLED") {
            return Err(FarError::permanent(format!(
                "{endpoint} allows no login on this connection (LOGINDISABLED)"
            )));
        } else {
            guarded(|| client.login(&account.user, password).map_err(|(e, _)| e))
                .map_err(login_failed)?
        };
        let mut far = FarSession {
            session,
            wire,
            broken: false,
            uid_next: None,
            largest: 0,
            caps: ServerCaps::default(),
            prefix: String::new(),
            delimiter: None,
            endpoint,
        };
        let caps = far
            .call(RESPONSE_BYTES, |s| s.capabilities())
            .map_err(|e| far.err("CAPABILITY", e))?;
        far.caps = ServerCaps::from(&caps);
        drop(caps);
        far.drain();
        far.enable_qresync();
        Ok(far)
    }

    /// True once a command failed in a way that leaves the connection out of step with
    /// the server (a broken answer, a read error, an exceeded budget): it must not be
    /// used again, not even by another folder.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs one command with a fresh read budget of `limit` bytes for its answer.
    fn call<T>(
        &mut self,
        limit: u64,
        command: impl FnOnce(&mut imap::Session<Budgeted>) -> imap::Result<T>,
    ) -> imap::Result<T> {
        if self.broken {
            return Err(out_of_step());
        }
        wire::lock(&self.wire).start(limit);
        let session = &mut self.session;
        let result = guarded(|| command(session));
        if let Err(e) = &result
            && !matches!(
                e,
                imap::Error::No(_) | imap::Error::Bad(_) | imap::Error::Validate(_)
            )
        {
            self.broken = true;
        }
        result
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
            .call(LIST_BYTES, |s| s.list(Some(""), Some("*")))
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
    ///
    /// The answer is parsed here rather than by the `imap` crate, whose parser panics on
    /// an untagged `NO`, `BAD` or `BYE` among the SELECT data (legal IMAP, and a hostile
    /// server's easy way to crash a client).
    pub fn select(&mut self, server_name: &str, read_only: bool) -> FarResult<Selected> {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let what = format!("{verb} {:?}", clip(server_name));
        self.uid_next = None;
        self.largest = 0;
        let Some(quoted) = quote_mailbox(server_name) else {
            return Err(FarError::permanent(format!(
                "{}: {what}: the name holds a NUL or control character and cannot be sent",
                self.endpoint
            )));
        };
        // With CONDSTORE the answer carries HIGHESTMODSEQ, which lets the next run ask
        // only for what changed.
        let condstore = if self.caps.condstore {
            " (CONDSTORE)"
        } else {
            ""
        };
        let data = self
            .call(RESPONSE_BYTES, |s| {
                s.run_command_and_read_response(format!("{verb} {quoted}{condstore}"))
            })
            .map_err(|e| self.err(&what, e))?;
        self.drain();
        let answer = parse_select(&data)
            .map_err(|e| FarError::permanent(format!("{}: {what}: {}", self.endpoint, clip(&e))))?;
        let uid_validity = match answer.uid_validity {
            Some(v) if v != 0 => UidValidity(v),
            other => {
                return Err(FarError::permanent(format!(
                    "{}: folder {:?} has no usable UIDVALIDITY ({other:?}); cannot sync it safely",
                    self.endpoint,
                    clip(server_name)
                )));
            }
        };
        self.uid_next = answer.uid_next;
        Ok(Selected {
            uid_validity,
            uid_next: answer.uid_next,
            exists: answer.exists,
            highest_modseq: answer.highest_modseq.filter(|_| self.caps.condstore),
        })
    }

    /// Lists the selected folder's messages (UID, flags, size), a window at a time, in
    /// ascending UID order.
    ///
    /// A listing that contradicts itself is refused rather than trusted: a message of the
    /// window missing or without a UID, a UID of 0 or at or above the UIDNEXT SELECT
    /// announced, one message listed with two UIDs, or UIDs not strictly ascending with
    /// the sequence numbers (RFC 3501 §2.3.1.1; this also catches a repeated UID). Acting
    /// on such a listing could delete near copies of messages the server still holds, or
    /// download one message twice.
    pub fn list_messages(&mut self, exists: u32) -> FarResult<Vec<FarMessage>> {
        let mut messages: Vec<FarMessage> = Vec::with_capacity(exists.min(LIST_WINDOW) as usize);
        let uid_next = self.uid_next;
        let endpoint = self.endpoint.clone();
        let broken = |detail: String| {
            FarError::permanent(format!(
                "{endpoint}: the server's message listing is inconsistent: {detail}; not syncing this folder on the strength of it"
            ))
        };
        let mut start: u32 = 1;
        while start <= exists {
            let end = exists.min(start.saturating_add(LIST_WINDOW - 1));
            let count = end - start + 1;
            let limit = RESPONSE_BYTES + u64::from(count) * LISTED_MESSAGE_BYTES;
            let fetches = self
                .call(limit, |s| {
                    s.fetch(format!("{start}:{end}"), "(UID FLAGS RFC822.SIZE)")
                })
                .map_err(|e| self.err("FETCH (UID FLAGS RFC822.SIZE)", e))?;
            let mut window: std::collections::BTreeMap<u32, FarMessage> =
                std::collections::BTreeMap::new();
            let mut without_uid = None;
            for fetch in fetches.iter() {
                let seq = fetch.message;
                if seq < start || seq > end {
                    continue; // news about a message outside this window
                }
                let Some(uid) = fetch.uid else {
                    // A FLAGS update may come without a UID; the listing entry may not.
                    without_uid.get_or_insert(seq);
                    continue;
                };
                if uid == 0 {
                    return Err(broken(format!("message {seq} has UID 0")));
                }
                if let Some(next) = uid_next
                    && uid >= next
                {
                    return Err(broken(format!(
                        "message {seq} has UID {uid}, at or above the UIDNEXT {next} the server announced"
                    )));
                }
                let message = FarMessage {
                    uid: FarUid(uid),
                    flags: flags_of(fetch.flags()),
                    size: fetch.size.unwrap_or(0),
                };
                if let Some(previous) = window.insert(seq, message)
                    && previous.uid.0 != uid
                {
                    return Err(broken(format!(
                        "message {seq} was listed as UID {} and as UID {uid}",
                        previous.uid
                    )));
                }
            }
            drop(fetches);
            self.drain();
            if let Some(seq) = without_uid.filter(|seq| !window.contains_key(seq)) {
                return Err(broken(format!("message {seq} was listed without a UID")));
            }
            if window.len() != count as usize {
                return Err(broken(format!(
                    "it listed {} of messages {start} to {end} (of the {exists} SELECT announced)",
                    window.len()
                )));
            }
            for message in window.into_values() {
                if let Some(last) = messages.last()
                    && message.uid <= last.uid
                {
                    return Err(broken(format!(
                        "UID {} follows UID {} (UIDs must ascend with the message numbers, each once)",
                        message.uid, last.uid
                    )));
                }
                self.largest = self.largest.max(u64::from(message.size));
                messages.push(message);
            }
            if end == u32::MAX {
                break;
            }
            start = end + 1;
        }
        Ok(messages)
    }

    /// Pairing keys (Message-ID or header hash) of the given messages.
    pub fn pair_keys(&mut self, uids: &[FarUid]) -> FarResult<Vec<(FarUid, PairKey)>> {
        let mut keys = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(HEADER_BATCH) {
            // A header is at most its message; a batch of them, a few MB.
            let limit = RESPONSE_BYTES + self.largest + FETCHED_MESSAGE_SLACK * chunk.len() as u64;
            let fetches = self
                .call(limit, |s| s.uid_fetch(uid_set(chunk), "BODY.PEEK[HEADER]"))
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
        self.largest = self.largest.max(body.len() as u64);
        let imap_flags: Vec<imap::types::Flag<'static>> = flags
            .to_imap()
            .into_iter()
            .map(|name| imap::types::Flag::from(name.to_string()))
            .collect();
        let date = date.and_then(to_datetime);
        let appended = self
            .call(RESPONSE_BYTES, |s| {
                let mut command = s.append(server_name, &body);
                command.flags(imap_flags);
                if let Some(date) = date {
                    command.internal_date(date);
                }
                command.finish()
            })
            .map_err(|e| self.err(&format!("APPEND to {:?}", clip(server_name)), e))?;
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
        self.searched_uids(RESPONSE_BYTES, &format!("{from}:*"), from..=u32::MAX)
    }

    /// `UID SEARCH UID set`, sorted, keeping only UIDs in `within` (a server may answer
    /// `n:*` with the last UID even when it is below `n`).
    fn searched_uids(
        &mut self,
        limit: u64,
        set: &str,
        within: std::ops::RangeInclusive<u32>,
    ) -> FarResult<Vec<FarUid>> {
        let found = self
            .call(limit, |s| s.uid_search(format!("UID {set}")))
            .map_err(|e| self.err("UID SEARCH", e))?;
        self.drain();
        let mut uids: Vec<FarUid> = found
            .into_iter()
            .filter(|uid| within.contains(uid))
            .map(FarUid)
            .collect();
        uids.sort();
        Ok(uids)
    }

    /// Creates a folder; one that already exists (say, made by a retried attempt) is fine.
    pub fn create_folder(&mut self, server_name: &str) -> FarResult<()> {
        match self.call(RESPONSE_BYTES, |s| s.create(server_name)) {
            Ok(()) => {}
            Err(imap::Error::No(no))
                if no
                    .information
                    .to_ascii_lowercase()
                    .contains("already exists") => {}
            Err(e) => return Err(self.err(&format!("CREATE {:?}", clip(server_name)), e)),
        }
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    pub fn delete_folder(&mut self, server_name: &str) -> FarResult<()> {
        self.call(RESPONSE_BYTES, |s| s.delete(server_name))
            .map_err(|e| self.err(&format!("DELETE {:?}", clip(server_name)), e))?;
        crate::failpoint::hit();
        self.drain();
        Ok(())
    }

    pub fn logout(mut self) {
        let _ = self.call(RESPONSE_BYTES, |s| s.logout());
    }
}

/// What a SELECT or EXAMINE answer said.
#[derive(Debug, Default, PartialEq, Eq)]
struct SelectAnswer {
    uid_validity: Option<u32>,
    uid_next: Option<u32>,
    exists: u32,
    highest_modseq: Option<u64>,
}

/// Reads the untagged data of a SELECT/EXAMINE answer (the tagged OK excluded). Untagged
/// `NO`/`BAD`/`BYE` warnings and data mailferry does not use are skipped; a missing
/// EXISTS, or two different UIDVALIDITY or UIDNEXT values, are errors.
fn parse_select(mut data: &[u8]) -> Result<SelectAnswer, String> {
    use imap_proto::{MailboxDatum, Response, ResponseCode, Status};
    let mut answer = SelectAnswer::default();
    let mut exists = None;
    let mut bounded = 0usize;
    while !data.is_empty() && bounded < 1_000_000 {
        bounded += 1;
        let (rest, response) = imap_proto::parser::parse_response(data).map_err(|_| {
            let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
            format!(
                "the server sent a line that is not valid IMAP: {:?}",
                String::from_utf8_lossy(line)
            )
        })?;
        data = rest;
        match response {
            Response::MailboxData(MailboxDatum::Exists(n)) => exists = Some(n),
            Response::Data {
                status: Status::Ok,
                code: Some(code),
                ..
            } => {
                let (slot, value, name) = match code {
                    ResponseCode::HighestModSeq(v) => {
                        answer.highest_modseq = Some(v);
                        continue;
                    }
                    ResponseCode::UidValidity(v) => (&mut answer.uid_validity, v, "UIDVALIDITY"),
                    ResponseCode::UidNext(v) => (&mut answer.uid_next, v, "UIDNEXT"),
                    _ => continue,
                };
                if slot.is_some_and(|old| old != value) {
                    return Err(format!(
                        "the server announced two different {name} values ({} and {value})",
                        slot.unwrap_or_default()
                    ));
                }
                *slot = Some(value);
            }
            _ => {}
        }
    }
    answer.exists = exists.ok_or_else(|| {
        "the server did not say how many messages the folder holds (no EXISTS)".to_string()
    })?;
    Ok(answer)
}

/// A mailbox name as an IMAP quoted string; `None` for a name no quoted string can hold.
fn quote_mailbox(name: &str) -> Option<String> {
    if name.chars().any(char::is_control) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// A greeting must be `* OK` (or `* PREAUTH`); `* BYE` means the server refuses us.
fn check_greeting(greeting: &[u8], endpoint: &str) -> FarResult<()> {
    let text = String::from_utf8_lossy(greeting);
    let upper = text.to_ascii_uppercase();
    if upper.starts_with("* OK") || upper.starts_with("* PREAUTH") {
        return Ok(());
    }
    Err(FarError {
        kind: if upper.starts_with("* BYE") {
            FarErrorKind::Transient
        } else {
            FarErrorKind::Permanent
        },
        message: format!(
            "{endpoint}: the server greeted with {:?} instead of \"* OK\"",
            clip(text.trim_end())
        ),
    })
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
    fn select_answers_tolerate_untagged_warnings_and_refuse_contradictions() {
        let answer = parse_select(
            b"* NO [ALERT] careful\r\n* BAD odd\r\n* BYE not really\r\n* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 9] x\r\n* OK [HIGHESTMODSEQ 12345678901] x\r\n",
        )
        .unwrap();
        assert_eq!(
            answer,
            SelectAnswer {
                uid_validity: Some(7),
                uid_next: Some(9),
                exists: 3,
                highest_modseq: Some(12_345_678_901),
            }
        );
        let err = parse_select(b"* OK [UIDVALIDITY 7] x\r\n").unwrap_err();
        assert!(err.contains("no EXISTS"), "{err}");
        let err =
            parse_select(b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDVALIDITY 8] x\r\n")
                .unwrap_err();
        assert!(err.contains("two different UIDVALIDITY"), "{err}");
        let err = parse_select(b"* 1 EXISTS\r\ngarbage\r\n").unwrap_err();
        assert!(
            err.contains("not valid IMAP") && err.contains("garbage"),
            "{err}"
        );
    }

    #[test]
    fn mailbox_names_are_quoted_or_refused() {
        assert_eq!(quote_mailbox("a\"b\\c").as_deref(), Some("\"a\\\"b\\\\c\""));
        assert_eq!(quote_mailbox("x\r\nA1 DELETE INBOX"), None);
        assert_eq!(quote_mailbox("nul\0"), None);
    }

    #[test]
    fn details_are_clipped_and_escaped() {
        assert_eq!(clip("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
        let long = clip(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), DETAIL_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn panics_in_the_imap_crate_become_errors() {
        let result: imap::Result<()> = guarded(|| {
            // imap-proto unwraps the date of INTERNALDATE: NIL panics.
            let _ = imap_proto::parser::parse_response(b"* 1 FETCH (INTERNALDATE NIL)\r\n");
            Ok(())
        });
        let message = result.unwrap_err().to_string();
        assert!(message.contains("cannot handle"), "{message}");
        assert!(message.contains("unwrap"), "{message}");
        // The note went into the error; none is left for the next call.
        assert!(PANIC_NOTE.with(|note| note.borrow().is_none()));
        assert!(guarded(|| Ok(5)).is_ok_and(|n| n == 5));
    }

    #[test]
    fn uidnext_behind_the_state_is_refused() {
        let selected = Selected {
            uid_validity: UidValidity(42),
            uid_next: Some(4),
            exists: 3,
            highest_modseq: None,
        };
        let same = Some(UidValidity(42));
        let err = selected
            .check_not_behind(same, Some(FarUid(12)))
            .unwrap_err();
        assert!(err.message.contains("backwards"), "{}", err.message);
        assert_eq!(err.kind, FarErrorKind::Permanent);
        assert!(selected.check_not_behind(same, Some(FarUid(4))).is_err());
        assert!(selected.check_not_behind(same, Some(FarUid(3))).is_ok());
        assert!(selected.check_not_behind(same, None).is_ok());
        // A new UIDVALIDITY voids the old UIDs; no UIDNEXT, nothing to compare.
        assert!(
            selected
                .check_not_behind(Some(UidValidity(41)), Some(FarUid(12)))
                .is_ok()
        );
        let silent = Selected {
            uid_next: None,
            ..selected
        };
        assert!(silent.check_not_behind(same, Some(FarUid(12))).is_ok());
    }

    #[test]
    fn greetings_must_be_ok() {
        assert!(check_greeting(b"* OK ready\r\n", "e").is_ok());
        assert!(check_greeting(b"* PREAUTH hi\r\n", "e").is_ok());
        let bye = check_greeting(b"* BYE too busy\r\n", "e").unwrap_err();
        assert_eq!(bye.kind, FarErrorKind::Transient);
        let junk = check_greeting(b"HTTP/1.1 400 Bad Request\r\n", "e").unwrap_err();
        assert_eq!(junk.kind, FarErrorKind::Permanent);
        assert!(junk.message.contains("HTTP/1.1"), "{}", junk.message);
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
