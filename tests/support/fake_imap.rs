//! A scripted fake IMAP server for tests of broken and hostile servers.
//!
//! Plaintext on loopback, std threads only. It answers what mailferry sends (greeting,
//! CAPABILITY, AUTHENTICATE PLAIN, LOGIN, LIST, SELECT/EXAMINE, FETCH, UID FETCH/SEARCH/
//! STORE/EXPUNGE, EXPUNGE, APPEND, CREATE, DELETE, NOOP, LOGOUT) with sane canned answers
//! computed from a [`ServerState`] the test sets up (and may change between runs), and
//! lets a [`Script`] replace any answer with raw bytes: a lie, garbage, a connection cut
//! in the middle of a literal, or an endless stream.
//!
//! Every loop is bounded in count and in time (connections, commands per connection,
//! literal sizes, streamed bytes, socket timeouts, a lifetime per connection), and the
//! server stops on drop: the accept loop is woken, every connection is shut down, and
//! every thread is joined.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const USER: &str = "fake-user";
pub const PASSWORD: &str = "fake-Pa55-word";

/// Connections accepted over the server's life; the accept loop ends after that many.
const MAX_CONNECTIONS: usize = 64;
/// Commands served per connection.
const MAX_COMMANDS: usize = 10_000;
/// Longest command line accepted, literals excepted.
const MAX_LINE: u64 = 1 << 20;
/// Largest literal accepted from the client (an APPENDed message).
const MAX_LITERAL: usize = 64 << 20;
/// Literals per command.
const MAX_LITERALS: usize = 16;
/// Socket read/write timeout: a stuck peer ends the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// No connection lives longer than this.
const LIFETIME: Duration = Duration::from_secs(180);
/// Filler is streamed in lines of this size.
const STREAM_LINE: usize = 64 << 10;

/// One message in a fake folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeMessage {
    pub uid: u32,
    /// IMAP flags, e.g. `\Seen`.
    pub flags: Vec<String>,
    pub body: Vec<u8>,
}

/// One fake folder. `name` is the raw name LIST shows (bytes, so tests can put a NUL or
/// invalid UTF-8 in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeFolder {
    pub name: Vec<u8>,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: Vec<FakeMessage>,
}

impl FakeFolder {
    pub fn new(name: impl Into<Vec<u8>>, uid_validity: u32) -> FakeFolder {
        FakeFolder {
            name: name.into(),
            uid_validity,
            uid_next: 1,
            messages: Vec::new(),
        }
    }

    /// A folder holding `count` messages (see [`message_body`]), `\Seen` ones first.
    pub fn with_messages(name: &str, uid_validity: u32, count: u32) -> FakeFolder {
        let mut folder = FakeFolder::new(name, uid_validity);
        for n in 0..count {
            let flags: &[&str] = if n % 2 == 0 { &["\\Seen"] } else { &[] };
            folder.push(flags, message_body(name, n));
        }
        folder
    }

    /// Appends a message with the next UID; returns the UID.
    pub fn push(&mut self, flags: &[&str], body: Vec<u8>) -> u32 {
        let uid = self.uid_next;
        self.uid_next += 1;
        self.messages.push(FakeMessage {
            uid,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            body,
        });
        uid
    }

    /// The name as UTF-8 (lossy), for matching in scripts.
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A small, unique RFC 5322 message with a Message-ID.
pub fn message_body(folder: &str, n: u32) -> Vec<u8> {
    let tag: String = folder
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    format!(
        "Message-ID: <{n}.{tag}@fake.mailferry.test>\r\nFrom: Fake <fake@mailferry.test>\r\nTo: alice@mailferry.test\r\nSubject: message {n} of {tag}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nBody {n} of {tag}.\r\n"
    )
    .into_bytes()
}

/// What the server holds, and what it saw.
#[derive(Debug)]
pub struct ServerState {
    pub folders: Vec<FakeFolder>,
    /// The hierarchy delimiter LIST shows.
    pub delimiter: char,
    /// The CAPABILITY list.
    pub capabilities: String,
    /// Free for scripts: e.g. 0 on a first run, 1 once the server turns hostile.
    pub phase: u32,
    /// Every command received.
    pub log: Vec<Logged>,
    /// Filler bytes written by [`Reply::Stream`] answers, over all connections.
    pub streamed: u64,
}

impl ServerState {
    pub fn new(folders: Vec<FakeFolder>) -> ServerState {
        ServerState {
            folders,
            delimiter: '/',
            capabilities: "IMAP4rev1 AUTH=PLAIN UIDPLUS".to_string(),
            phase: 0,
            log: Vec::new(),
            streamed: 0,
        }
    }

    pub fn folder(&self, name: &str) -> Option<&FakeFolder> {
        self.folders.iter().find(|f| f.name == name.as_bytes())
    }

    pub fn folder_mut(&mut self, name: &str) -> Option<&mut FakeFolder> {
        self.folders.iter_mut().find(|f| f.name == name.as_bytes())
    }
}

/// A command as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    pub connection: usize,
    /// Upper case; `UID FETCH` and the like for UID commands.
    pub command: String,
    /// The arguments as text (strings quoted, lists in parentheses), cut to 200 chars.
    pub args: String,
    /// The folder selected when it came (lossy UTF-8).
    pub selected: Option<String>,
}

/// One argument of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A parenthesised list, without the parentheses.
    List(String),
}

impl Arg {
    /// The bytes of an atom or string.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Arg::Atom(s) | Arg::List(s) => s.as_bytes(),
            Arg::Str(b) => b,
        }
    }
}

/// A command as a script sees it.
#[derive(Debug)]
pub struct Request<'a> {
    /// Which connection, counted from 0 over the server's life.
    pub connection: usize,
    pub tag: &'a str,
    /// Upper case; `UID FETCH` and the like for UID commands.
    pub command: &'a str,
    pub args: &'a [Arg],
    /// The selected folder's name, if any.
    pub selected: Option<&'a [u8]>,
}

impl Request<'_> {
    /// True when the selected folder is `name`.
    pub fn in_folder(&self, name: &str) -> bool {
        self.selected == Some(name.as_bytes())
    }

    /// True when the first argument is `value` (the folder of SELECT, CREATE...).
    pub fn first_arg_is(&self, value: &str) -> bool {
        self.args.first().map(Arg::bytes) == Some(value.as_bytes())
    }

    /// True when the command (FETCH items included) mentions `needle`, case-insensitively.
    pub fn mentions(&self, needle: &str) -> bool {
        let needle = needle.to_ascii_uppercase();
        self.args.iter().any(|a| {
            String::from_utf8_lossy(a.bytes())
                .to_ascii_uppercase()
                .contains(&needle)
        })
    }
}

/// How to answer one command.
#[derive(Debug)]
pub enum Reply {
    /// The sane canned answer.
    Default,
    /// Exactly these bytes (the script writes its own tagged completion, or none).
    Send(Vec<u8>),
    /// These bytes, then the connection is closed.
    SendAndClose(Vec<u8>),
    /// `head`, then up to `len` bytes of filler lines for as long as the client reads,
    /// then the connection is closed.
    Stream { head: Vec<u8>, len: u64 },
}

/// Picks the answer to each command; [`Reply::Default`] for the canned one.
pub type Script = Box<dyn Fn(&Request<'_>, &ServerState) -> Reply + Send + Sync>;

/// A script that never interferes.
pub fn sane() -> Script {
    Box::new(|_, _| Reply::Default)
}

/// A listing line `* SEQ FETCH (UID U FLAGS () RFC822.SIZE N)`.
pub fn listing_line(seq: u32, uid: u32, size: usize) -> String {
    format!("* {seq} FETCH (UID {uid} FLAGS () RFC822.SIZE {size})\r\n")
}

/// The server. Stops on drop.
pub struct FakeImap {
    port: u16,
    state: Arc<Mutex<ServerState>>,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    /// Clones of every connection's socket, to shut them down on drop.
    sockets: Mutex<Vec<TcpStream>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
    script: Script,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeImap {
    pub fn start(state: ServerState, script: Script) -> FakeImap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
            handlers: Mutex::new(Vec::new()),
            script,
        });
        let accept = {
            let (state, shared) = (Arc::clone(&state), Arc::clone(&shared));
            std::thread::spawn(move || accept_loop(listener, state, shared))
        };
        FakeImap {
            port,
            state,
            shared,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's state, to inspect or change between runs.
    pub fn state(&self) -> MutexGuard<'_, ServerState> {
        lock(&self.state)
    }

    /// The commands received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }
}

impl Drop for FakeImap {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees `stop` and ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for socket in lock(&self.shared.sockets).iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let handlers = std::mem::take(&mut *lock(&self.shared.handlers));
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn accept_loop(listener: TcpListener, state: Arc<Mutex<ServerState>>, shared: Arc<Shared>) {
    for connection in 0..MAX_CONNECTIONS {
        let Ok((socket, _)) = listener.accept() else {
            break;
        };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let setup = socket
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| socket.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|()| socket.try_clone());
        let Ok(clone) = setup else { continue };
        lock(&shared.sockets).push(clone);
        let (state, shared2) = (Arc::clone(&state), Arc::clone(&shared));
        let handler = std::thread::spawn(move || {
            let _ = serve(connection, socket, &state, &shared2);
        });
        lock(&shared.handlers).push(handler);
    }
}

/// Per-connection state.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    selected: Option<Vec<u8>>,
}

enum Piece {
    Text(Vec<u8>),
    Literal(Vec<u8>),
}

impl Conn {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// One CRLF-terminated line without its CRLF; `None` at the end of the stream.
    fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            return Err(io::Error::other("overlong or unterminated command line"));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        Ok(Some(line))
    }

    /// One command: its lines and the literals between them.
    fn command(&mut self) -> io::Result<Option<Vec<Piece>>> {
        let mut pieces = Vec::new();
        for _ in 0..MAX_LITERALS {
            let Some(line) = self.line()? else {
                return Ok(None);
            };
            match literal_suffix(&line) {
                Some((at, len, non_sync)) => {
                    if len > MAX_LITERAL {
                        return Err(io::Error::other("literal too large"));
                    }
                    pieces.push(Piece::Text(line[..at].to_vec()));
                    if !non_sync {
                        self.send(b"+ go ahead\r\n")?;
                    }
                    let mut literal = vec![0; len];
                    self.reader.read_exact(&mut literal)?;
                    pieces.push(Piece::Literal(literal));
                }
                None => {
                    pieces.push(Piece::Text(line));
                    return Ok(Some(pieces));
                }
            }
        }
        Err(io::Error::other("too many literals in one command"))
    }
}

/// Arguments as text for the log: strings quoted (lossy UTF-8), lists in parentheses.
fn render(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| match a {
            Arg::Atom(s) => s.clone(),
            Arg::Str(b) => format!("{:?}", String::from_utf8_lossy(b)),
            Arg::List(s) => format!("({s})"),
        })
        .collect();
    parts.join(" ")
}

/// `... {123}` or `... {123+}` at the end of a line: (where the `{` is, length, LITERAL+).
fn literal_suffix(line: &[u8]) -> Option<(usize, usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let non_sync = digits.ends_with(b"+");
    if non_sync {
        digits = &digits[..digits.len() - 1];
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((open, len, non_sync))
}

/// Splits command text into arguments: atoms (brackets may hold spaces), quoted strings,
/// parenthesised lists.
fn tokenize(text: &[u8], out: &mut Vec<Arg>) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b' ' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    if text[i] == b'\\' && i + 1 < text.len() {
                        i += 1;
                    }
                    s.push(text[i]);
                    i += 1;
                }
                i += 1;
                out.push(Arg::Str(s));
            }
            b'(' => {
                let start = i + 1;
                let mut depth = 0usize;
                let mut quoted = false;
                while i < text.len() {
                    match text[i] {
                        b'"' => quoted = !quoted,
                        b'\\' if quoted => i += 1,
                        b'(' if !quoted => depth += 1,
                        b')' if !quoted => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let end = i.min(text.len());
                out.push(Arg::List(
                    String::from_utf8_lossy(&text[start..end]).into_owned(),
                ));
                i += 1;
            }
            _ => {
                let start = i;
                let mut brackets = 0usize;
                while i < text.len() && (text[i] != b' ' || brackets > 0) {
                    match text[i] {
                        b'[' => brackets += 1,
                        b']' => brackets = brackets.saturating_sub(1),
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Arg::Atom(
                    String::from_utf8_lossy(&text[start..i]).into_owned(),
                ));
            }
        }
    }
}

fn serve(
    connection: usize,
    socket: TcpStream,
    state: &Mutex<ServerState>,
    shared: &Shared,
) -> io::Result<()> {
    let deadline = Instant::now() + LIFETIME;
    let mut conn = Conn {
        reader: BufReader::new(socket.try_clone()?),
        writer: socket,
        selected: None,
    };
    let caps = lock(state).capabilities.clone();
    conn.send(format!("* OK [CAPABILITY {caps}] fake IMAP ready\r\n").as_bytes())?;
    for _ in 0..MAX_COMMANDS {
        if shared.stop.load(Ordering::SeqCst) || Instant::now() > deadline {
            break;
        }
        let Some(pieces) = conn.command()? else {
            break;
        };
        let mut args = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => tokenize(&text, &mut args),
                Piece::Literal(bytes) => args.push(Arg::Str(bytes)),
            }
        }
        if args.len() < 2 {
            conn.send(b"* BAD empty command\r\n")?;
            continue;
        }
        let tag = String::from_utf8_lossy(args[0].bytes()).into_owned();
        let mut command = String::from_utf8_lossy(args[1].bytes()).to_ascii_uppercase();
        let mut rest = &args[2..];
        if command == "UID" && !rest.is_empty() {
            command = format!(
                "UID {}",
                String::from_utf8_lossy(rest[0].bytes()).to_ascii_uppercase()
            );
            rest = &rest[1..];
        }
        if matches!(command.as_str(), "SELECT" | "EXAMINE") {
            // Selected from now on, whoever answers (a failing canned answer unselects).
            conn.selected = rest.first().map(|a| a.bytes().to_vec());
        }
        let selected = conn.selected.clone();
        let reply = {
            let mut guard = lock(state);
            guard.log.push(Logged {
                connection,
                command: command.clone(),
                args: render(rest).chars().take(200).collect(),
                selected: selected
                    .as_deref()
                    .map(|s| String::from_utf8_lossy(s).into_owned()),
            });
            let request = Request {
                connection,
                tag: &tag,
                command: &command,
                args: rest,
                selected: selected.as_deref(),
            };
            match (shared.script)(&request, &guard) {
                Reply::Default if command == "AUTHENTICATE" => None,
                Reply::Default => Some(Reply::Send(canned(&request, &mut guard, &mut conn))),
                other => Some(other),
            }
        };
        match reply {
            None => authenticate(&mut conn, &tag)?,
            Some(Reply::Default) => unreachable!("replaced above"),
            Some(Reply::Send(bytes)) => {
                conn.send(&bytes)?;
                if command == "LOGOUT" {
                    break;
                }
            }
            Some(Reply::SendAndClose(bytes)) => {
                conn.send(&bytes)?;
                break;
            }
            Some(Reply::Stream { head, len }) => {
                conn.send(&head)?;
                stream_filler(&mut conn, len, state, shared, deadline);
                break;
            }
        }
    }
    let _ = conn.writer.shutdown(Shutdown::Both);
    Ok(())
}

/// Writes up to `len` bytes of filler lines until done, the client stops reading or
/// leaves, the server stops, or the connection's lifetime is up.
fn stream_filler(
    conn: &mut Conn,
    len: u64,
    state: &Mutex<ServerState>,
    shared: &Shared,
    deadline: Instant,
) {
    let mut line = vec![b'x'; STREAM_LINE];
    line[STREAM_LINE - 2..].copy_from_slice(b"\r\n");
    let lines = len.div_ceil(STREAM_LINE as u64);
    for _ in 0..lines {
        if shared.stop.load(Ordering::SeqCst) || Instant::now() > deadline {
            break;
        }
        if conn.writer.write_all(&line).is_err() {
            break;
        }
        lock(state).streamed += STREAM_LINE as u64;
    }
}

/// AUTHENTICATE PLAIN: an empty challenge, then the client's base64 answer.
fn authenticate(conn: &mut Conn, tag: &str) -> io::Result<()> {
    conn.send(b"+ \r\n")?;
    let answer = conn.line()?.unwrap_or_default();
    let expected = base64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    if answer == expected.as_bytes() {
        conn.send(format!("{tag} OK logged in\r\n").as_bytes())
    } else {
        conn.send(format!("{tag} NO [AUTHENTICATIONFAILED] wrong user or password\r\n").as_bytes())
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A mailbox name for LIST: quoted when it is printable ASCII, else a literal.
fn mailbox_name(name: &[u8]) -> Vec<u8> {
    if name.iter().all(|b| (0x20..0x7f).contains(b)) {
        let mut out = vec![b'"'];
        for b in name {
            if matches!(b, b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(*b);
        }
        out.push(b'"');
        out
    } else {
        let mut out = format!("{{{}}}\r\n", name.len()).into_bytes();
        out.extend_from_slice(name);
        out
    }
}

/// A sequence or UID set (`1:3,7,9:*`) where `*` is `star`.
fn in_set(set: &str, star: u32, n: u32) -> bool {
    set.split(',').any(|range| {
        let value = |s: &str| {
            if s == "*" {
                star
            } else {
                s.parse().unwrap_or(0)
            }
        };
        let (a, b) = match range.split_once(':') {
            Some((a, b)) => (value(a), value(b)),
            None => (value(range), value(range)),
        };
        (a.min(b)..=a.max(b)).contains(&n)
    })
}

/// The FETCH data items asked for, upper case.
fn fetch_items(args: &[Arg]) -> Vec<String> {
    args.iter()
        .flat_map(|a| {
            String::from_utf8_lossy(a.bytes())
                .split(' ')
                .map(str::to_ascii_uppercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `* SEQ FETCH (...)` for one message with the items asked for.
fn fetch_response(seq: u32, m: &FakeMessage, items: &[String], uid: bool) -> Vec<u8> {
    let mut out = format!("* {seq} FETCH (").into_bytes();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if uid || items.iter().any(|i| i == "UID") {
        parts.push(format!("UID {}", m.uid).into_bytes());
    }
    if items.iter().any(|i| i == "FLAGS") {
        parts.push(format!("FLAGS ({})", m.flags.join(" ")).into_bytes());
    }
    if items.iter().any(|i| i == "RFC822.SIZE") {
        parts.push(format!("RFC822.SIZE {}", m.body.len()).into_bytes());
    }
    if items
        .iter()
        .any(|i| i == "BODY.PEEK[HEADER]" || i == "BODY[HEADER]")
    {
        let end = m
            .body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(m.body.len(), |p| p + 4);
        let mut part = format!("BODY[HEADER] {{{end}}}\r\n").into_bytes();
        part.extend_from_slice(&m.body[..end]);
        parts.push(part);
    }
    if items.iter().any(|i| i == "BODY.PEEK[]" || i == "BODY[]") {
        let mut part = format!("BODY[] {{{}}}\r\n", m.body.len()).into_bytes();
        part.extend_from_slice(&m.body);
        parts.push(part);
    }
    out.extend(parts.join(&b' '));
    out.extend_from_slice(b")\r\n");
    out
}

/// The sane answer to a command, changing the state as a real server would.
fn canned(req: &Request<'_>, state: &mut ServerState, conn: &mut Conn) -> Vec<u8> {
    let tag = req.tag;
    let ok = |text: &str| format!("{tag} OK {text}\r\n").into_bytes();
    let no = |text: &str| format!("{tag} NO {text}\r\n").into_bytes();
    let arg = |i: usize| req.args.get(i).map(Arg::bytes).unwrap_or_default();
    let selected = conn
        .selected
        .clone()
        .and_then(|name| state.folders.iter().position(|f| f.name == name));
    match req.command {
        "CAPABILITY" => {
            let mut out = format!("* CAPABILITY {}\r\n", state.capabilities).into_bytes();
            out.extend(ok("CAPABILITY done"));
            out
        }
        "LOGIN" => {
            if arg(0) == USER.as_bytes() && arg(1) == PASSWORD.as_bytes() {
                ok("logged in")
            } else {
                no("[AUTHENTICATIONFAILED] wrong user or password")
            }
        }
        "NOOP" | "CHECK" => ok("done"),
        "LOGOUT" => {
            let mut out = b"* BYE logging out\r\n".to_vec();
            out.extend(ok("LOGOUT done"));
            out
        }
        "LIST" => {
            let mut out = Vec::new();
            for folder in &state.folders {
                out.extend(format!("* LIST (\\HasNoChildren) \"{}\" ", state.delimiter).bytes());
                out.extend(mailbox_name(&folder.name));
                out.extend_from_slice(b"\r\n");
            }
            out.extend(ok("LIST done"));
            out
        }
        "SELECT" | "EXAMINE" => {
            let name = arg(0).to_vec();
            let Some(folder) = state.folders.iter().find(|f| f.name == name) else {
                conn.selected = None;
                return no("no such folder");
            };
            let out = format!(
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n* {} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] ok\r\n* OK [UIDNEXT {}] ok\r\n{tag} OK [READ-WRITE] {} done\r\n",
                folder.messages.len(),
                folder.uid_validity,
                folder.uid_next,
                req.command
            );
            conn.selected = Some(name);
            out.into_bytes()
        }
        "FETCH" | "UID FETCH" => {
            let Some(index) = selected else {
                return no("no folder selected");
            };
            let folder = &state.folders[index];
            let by_uid = req.command == "UID FETCH";
            let set = String::from_utf8_lossy(arg(0)).into_owned();
            let items = fetch_items(&req.args[1.min(req.args.len())..]);
            let star = if by_uid {
                folder.messages.last().map_or(0, |m| m.uid)
            } else {
                folder.messages.len() as u32
            };
            let mut out = Vec::new();
            for (i, m) in folder.messages.iter().enumerate() {
                let seq = i as u32 + 1;
                if in_set(&set, star, if by_uid { m.uid } else { seq }) {
                    out.extend(fetch_response(seq, m, &items, by_uid));
                }
            }
            out.extend(ok("FETCH done"));
            out
        }
        "UID SEARCH" => {
            let Some(index) = selected else {
                return no("no folder selected");
            };
            let folder = &state.folders[index];
            // Only `UID SEARCH UID set` is understood.
            let set = String::from_utf8_lossy(arg(1)).into_owned();
            let star = folder.messages.last().map_or(0, |m| m.uid);
            let uids: Vec<String> = folder
                .messages
                .iter()
                .filter(|m| in_set(&set, star, m.uid))
                .map(|m| m.uid.to_string())
                .collect();
            let mut out = format!("* SEARCH {}\r\n", uids.join(" "))
                .trim_end()
                .to_string()
                .into_bytes();
            out.extend_from_slice(b"\r\n");
            out.extend(ok("SEARCH done"));
            out
        }
        "UID STORE" => {
            let Some(index) = selected else {
                return no("no folder selected");
            };
            let folder = &mut state.folders[index];
            let set = String::from_utf8_lossy(arg(0)).into_owned();
            let op = String::from_utf8_lossy(arg(1)).to_ascii_uppercase();
            let flags: Vec<String> = String::from_utf8_lossy(arg(2))
                .split(' ')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect();
            let star = folder.messages.last().map_or(0, |m| m.uid);
            for m in folder
                .messages
                .iter_mut()
                .filter(|m| in_set(&set, star, m.uid))
            {
                for flag in &flags {
                    m.flags.retain(|f| !f.eq_ignore_ascii_case(flag));
                    if op.starts_with('+') {
                        m.flags.push(flag.clone());
                    }
                }
            }
            ok("STORE done")
        }
        "UID EXPUNGE" | "EXPUNGE" => {
            let Some(index) = selected else {
                return no("no folder selected");
            };
            let folder = &mut state.folders[index];
            let set = if req.command == "EXPUNGE" {
                "1:*".to_string()
            } else {
                String::from_utf8_lossy(arg(0)).into_owned()
            };
            let star = folder.messages.last().map_or(0, |m| m.uid);
            let mut out = Vec::new();
            let doomed = |m: &FakeMessage| {
                in_set(&set, star, m.uid) && m.flags.iter().any(|f| f == "\\Deleted")
            };
            while let Some(i) = folder.messages.iter().position(doomed) {
                folder.messages.remove(i);
                out.extend(format!("* {} EXPUNGE\r\n", i + 1).bytes());
            }
            out.extend(ok("EXPUNGE done"));
            out
        }
        "APPEND" => {
            let name = arg(0).to_vec();
            let Some(folder) = state.folders.iter_mut().find(|f| f.name == name) else {
                return no("[TRYCREATE] no such folder");
            };
            let flags: Vec<String> = req
                .args
                .iter()
                .find_map(|a| match a {
                    Arg::List(list) => Some(list.split(' ').map(str::to_string).collect()),
                    _ => None,
                })
                .unwrap_or_default();
            let Some(Arg::Str(body)) = req.args.last() else {
                return format!("{tag} BAD APPEND without a message\r\n").into_bytes();
            };
            let uid = folder.uid_next;
            folder.uid_next += 1;
            folder.messages.push(FakeMessage {
                uid,
                flags: flags.into_iter().filter(|f| !f.is_empty()).collect(),
                body: body.clone(),
            });
            ok(&format!(
                "[APPENDUID {} {uid}] APPEND done",
                folder.uid_validity
            ))
        }
        "CREATE" => {
            let name = arg(0).to_vec();
            if state.folders.iter().any(|f| f.name == name) {
                return no("[ALREADYEXISTS] Mailbox already exists");
            }
            let validity = 1000 + state.folders.len() as u32;
            state.folders.push(FakeFolder::new(name, validity));
            ok("CREATE done")
        }
        "DELETE" => {
            let name = arg(0).to_vec();
            let before = state.folders.len();
            state.folders.retain(|f| f.name != name);
            if state.folders.len() == before {
                no("no such folder")
            } else {
                ok("DELETE done")
            }
        }
        _ => format!("{tag} BAD unknown command\r\n").into_bytes(),
    }
}
