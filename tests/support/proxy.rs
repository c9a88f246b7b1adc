//! A fault-injecting TCP proxy on loopback, between mailferry and Dovecot, for the
//! network-fault tests: it can cut a connection after N bytes, go silent, cut halfway
//! through a literal (a FETCH body coming down, an APPEND going up), or swallow the tagged
//! reply of a command the server carried out.
//!
//! Faults are [`Rule`]s: a [`Fault`] and how many times it may fire (`Some(n)`: the first
//! n times its condition is met, on whichever connections meet it; `None`: every time).
//! A rule with a budget of one is a transient fault (the retry gets through); a rule
//! without a budget is a persistent one, until [`Proxy::heal`]. Byte-count faults count per
//! connection, so `CutAfter { bytes: 300, .. }` once cuts the first connection to reach
//! 300 bytes. Faults that watch commands need plaintext IMAP (tls = "none" on loopback);
//! the proxy follows literals in both directions, so message bodies never look like
//! commands, and tracks the folder each connection has selected.
//!
//! std threads only; every loop is bounded in time ([`MAX_LIFETIME`]) and count; the
//! proxy stops, closing every connection and joining its threads, when dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a proxy (and any of its connections) lives, whatever happens.
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);
/// How often blocked threads look at the stop flags.
const POLL: Duration = Duration::from_millis(20);
/// The most connections one proxy accepts.
const MAX_CONNECTIONS: usize = 500;
/// A line longer than this is kept only in part (commands are matched on their start).
const MAX_LINE: usize = 16 << 10;
/// The most bytes per direction kept for [`Proxy::transcript`].
const MAX_TRANSCRIPT: usize = 1 << 20;

/// A direction of traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ClientToServer => 0,
            Dir::ServerToClient => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client->server",
            Dir::ServerToClient => "server->client",
        }
    }
}

/// A client command to watch for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Only while this folder (the name as the client sends it, unquoted) is selected on
    /// the connection; `None`: whatever is selected.
    pub folder: Option<String>,
    /// The command's first line contains this (e.g. `BODY.PEEK[]`, `APPEND "Notes"`).
    pub contains: String,
}

impl Command {
    /// `contains` in any folder.
    pub fn any(contains: &str) -> Command {
        Command {
            folder: None,
            contains: contains.to_string(),
        }
    }

    /// `contains` while `folder` is selected.
    pub fn in_folder(folder: &str, contains: &str) -> Command {
        Command {
            folder: Some(folder.to_string()),
            contains: contains.to_string(),
        }
    }
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close both sides once a connection has carried `bytes` bytes in `dir`.
    CutAfter { dir: Dir, bytes: u64 },
    /// Once the client sent the command, nothing more comes from the server (the
    /// connection stays open and silent; what the server sends is lost).
    StallOn(Command),
    /// Once the client sent the command, cut halfway through the `nth` (0-based) literal
    /// that follows in `dir`: a body of the FETCH reply (server->client) or the message of
    /// an APPEND (client->server).
    CutMidLiteral { dir: Dir, on: Command, nth: usize },
    /// The command (with its literals) reaches the server, which carries it out; its
    /// tagged reply is swallowed and the connection closed once the server sent it.
    LoseReply(Command),
}

/// A fault and how many more times it may fire (`None`: always).
#[derive(Clone, Debug)]
pub struct Rule {
    pub fault: Fault,
    pub times: Option<u32>,
}

/// A running proxy. Stops on drop.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    started: Instant,
    stop: AtomicBool,
    accepted: AtomicUsize,
    rules: Mutex<Vec<Rule>>,
    fired: Mutex<Vec<String>>,
    /// What was forwarded, per direction, over all connections (the first bytes).
    transcript: [Mutex<Vec<u8>>; 2],
    connections: Mutex<Vec<JoinHandle<()>>>,
    /// Server->client bytes to replace, and with what (same length, so literal sizes
    /// stay right); see [`Proxy::rewrite_replies`].
    rewrite: Mutex<Option<(Vec<u8>, Vec<u8>)>>,
    /// Added before forwarding each server->client chunk; see [`Proxy::delay_replies`].
    latency: Mutex<Duration>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.started.elapsed() > MAX_LIFETIME
    }

    /// Takes one firing of the first rule with budget left that `matches`; logs it.
    fn fire(&self, conn: usize, matches: impl Fn(&Fault) -> bool, what: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let rule = rules
            .iter_mut()
            .find(|r| r.times != Some(0) && matches(&r.fault))?;
        if let Some(n) = &mut rule.times {
            *n -= 1;
        }
        let fault = rule.fault.clone();
        drop(rules);
        lock(&self.fired).push(format!("connection {conn}: {what}: {fault:?}"));
        Some(fault)
    }

    fn log(&self, conn: usize, what: String) {
        lock(&self.fired).push(format!("connection {conn}: {what}"));
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to
    /// `127.0.0.1:upstream_port`. No rules yet: everything passes.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            started: Instant::now(),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            rules: Mutex::new(Vec::new()),
            fired: Mutex::new(Vec::new()),
            transcript: [Mutex::new(Vec::new()), Mutex::new(Vec::new())],
            connections: Mutex::new(Vec::new()),
            rewrite: Mutex::new(None),
            latency: Mutex::new(Duration::ZERO),
        });
        let for_acceptor = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || accept_loop(&listener, &for_acceptor));
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The loopback port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a fault that fires at most `times` times.
    pub fn times(&self, times: u32, fault: Fault) {
        lock(&self.shared.rules).push(Rule {
            fault,
            times: Some(times),
        });
    }

    /// Adds a fault that fires every time, until [`Proxy::heal`].
    pub fn always(&self, fault: Fault) {
        lock(&self.shared.rules).push(Rule { fault, times: None });
    }

    /// From now on, every `from` the server sends reaches the client as `to` (e.g.
    /// `AUTH=PLAIN` as `AUTH=XXXXX`, to make a client log in with LOGIN). Both must have
    /// the same length. A match split between two reads is still found: the bytes that
    /// could start one are held back until the next read (a reply line ends in CRLF, so
    /// nothing waits for long).
    pub fn rewrite_replies(&self, from: &str, to: &str) {
        assert_eq!(from.len(), to.len(), "a rewrite must keep the length");
        assert!(!from.is_empty() && !from.contains('\n'));
        *lock(&self.shared.rewrite) = Some((from.as_bytes().to_vec(), to.as_bytes().to_vec()));
    }

    /// Holds every chunk the server sends for `latency` before forwarding it: a distant
    /// server, whose answers come late (not a fault; it stays until the proxy stops).
    pub fn delay_replies(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Removes every rule: from now on, new traffic passes untouched.
    pub fn heal(&self) {
        lock(&self.shared.rules).clear();
    }

    /// What happened so far, one line each naming the connection: every rule that fired
    /// (with its fault) and its effects (`cut mid-literal ...`, `swallowed the reply ...`).
    pub fn fired(&self) -> Vec<String> {
        lock(&self.shared.fired).clone()
    }

    /// How many lines of [`Proxy::fired`] contain `what`.
    pub fn count(&self, what: &str) -> usize {
        lock(&self.shared.fired)
            .iter()
            .filter(|l| l.contains(what))
            .count()
    }

    /// The first bytes (up to 1 MiB) forwarded in `dir`, over all connections in turn.
    pub fn transcript(&self, dir: Dir) -> Vec<u8> {
        lock(&self.shared.transcript[dir.index()]).clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping() && shared.accepted.load(Ordering::SeqCst) < MAX_CONNECTIONS {
        match listener.accept() {
            Ok((client, _)) => {
                let id = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                let for_connection = Arc::clone(shared);
                let handle = std::thread::spawn(move || serve(id, client, &for_connection));
                lock(&shared.connections).push(handle);
            }
            // A bounded poll for the next connection (the listener is non-blocking so
            // that this thread notices the stop flag).
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Per-connection bookkeeping, shared by the two pumps.
struct Conn {
    id: usize,
    client: TcpStream,
    server: TcpStream,
    closed: AtomicBool,
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    /// Bytes forwarded per direction.
    forwarded: [u64; 2],
    /// Per direction: data is dropped from now on.
    stalled: [bool; 2],
    parsers: [Parser; 2],
    /// The folder the client last selected (or examined), unquoted.
    selected: Option<String>,
    /// Per direction: literals still to pass before the one to cut in (CutMidLiteral).
    cut_literal: [Option<usize>; 2],
    /// Per direction: literal bytes still to forward before cutting.
    cut_countdown: [Option<u64>; 2],
    /// LoseReply armed: the tag of the command whose reply to swallow, once it is
    /// complete (its last line sent).
    lose_tag: Option<String>,
    /// The command of `lose_tag` is complete: drop what the server sends until its
    /// tagged reply, then close.
    swallowing: bool,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

fn serve(id: usize, client: TcpStream, shared: &Arc<Shared>) {
    let server = match TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5)) {
        Ok(server) => server,
        Err(e) => {
            shared.log(id, format!("cannot reach the server: {e}"));
            return;
        }
    };
    let setup = |s: &TcpStream| -> std::io::Result<()> {
        s.set_nonblocking(false)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(POLL))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))
    };
    if setup(&client).and_then(|()| setup(&server)).is_err() {
        return;
    }
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let conn = Arc::new(Conn {
        id,
        client,
        server,
        closed: AtomicBool::new(false),
        state: Mutex::new(ConnState::default()),
    });
    let up = {
        let (conn, shared) = (Arc::clone(&conn), Arc::clone(shared));
        std::thread::spawn(move || pump(&conn, &shared, Dir::ClientToServer, client_reader))
    };
    pump(&conn, shared, Dir::ServerToClient, server_reader);
    let _ = up.join();
    let forwarded = lock(&conn.state).forwarded;
    shared.log(
        id,
        format!(
            "closed after {} bytes client->server, {} server->client",
            forwarded[0], forwarded[1]
        ),
    );
}

/// What a pump does after forwarding a chunk.
#[derive(PartialEq, Eq)]
enum After {
    Continue,
    Close,
}

/// Copies one direction, applying the faults.
fn pump(conn: &Conn, shared: &Shared, dir: Dir, mut from: TcpStream) {
    let mut to = match dir {
        Dir::ClientToServer => &conn.server,
        Dir::ServerToClient => &conn.client,
    };
    let mut buf = vec![0u8; 64 << 10];
    // Bytes held back by a rewrite (see [`Proxy::rewrite_replies`]).
    let mut held = Vec::new();
    while !conn.closed.load(Ordering::SeqCst) && !shared.stopping() {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let (mut out, after) = process(conn, shared, dir, &buf[..n]);
        if dir == Dir::ServerToClient {
            out = rewrite(shared, &mut held, out);
        }
        {
            let mut transcript = lock(&shared.transcript[dir.index()]);
            let room = MAX_TRANSCRIPT.saturating_sub(transcript.len());
            transcript.extend_from_slice(&out[..out.len().min(room)]);
        }
        if dir == Dir::ServerToClient && !out.is_empty() {
            let latency = *lock(&shared.latency);
            if !latency.is_zero() {
                // The distance being simulated, not a wait for something to happen.
                std::thread::sleep(latency);
            }
        }
        if !out.is_empty() && to.write_all(&out).is_err() {
            break;
        }
        if after == After::Close {
            break;
        }
    }
    conn.close();
}

/// Applies the rewrite, if any, to `held` + `out`; returns what to forward now and keeps
/// in `held` a tail that could be the start of a match.
fn rewrite(shared: &Shared, held: &mut Vec<u8>, out: Vec<u8>) -> Vec<u8> {
    let Some((from, to)) = lock(&shared.rewrite).clone() else {
        let mut all = std::mem::take(held);
        all.extend_from_slice(&out);
        return all;
    };
    let mut data = std::mem::take(held);
    data.extend_from_slice(&out);
    let mut i = 0;
    while i + from.len() <= data.len() {
        if data[i..].starts_with(&from) {
            data[i..i + from.len()].copy_from_slice(&to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    let keep = (1..from.len())
        .rev()
        .find(|&k| data.ends_with(&from[..k]))
        .unwrap_or(0);
    *held = data.split_off(data.len() - keep);
    data
}

/// Runs a chunk through the connection's state: returns the bytes to forward and whether
/// to close the connection after them.
fn process(conn: &Conn, shared: &Shared, dir: Dir, chunk: &[u8]) -> (Vec<u8>, After) {
    let d = dir.index();
    let mut st = lock(&conn.state);
    let mut out = Vec::with_capacity(chunk.len());
    for &byte in chunk {
        if st.stalled[d] {
            return (out, After::Continue);
        }
        if dir == Dir::ServerToClient && st.swallowing {
            if let Some(Event::Line { text, .. }) = st.parsers[d].feed(byte) {
                let tag = st.lose_tag.clone().unwrap_or_default();
                if text.starts_with(format!("{tag} ").as_bytes()) {
                    shared.log(
                        conn.id,
                        format!(
                            "swallowed the reply {:?} and closed",
                            String::from_utf8_lossy(&text)
                        ),
                    );
                    return (out, After::Close);
                }
            }
            continue;
        }
        out.push(byte);
        st.forwarded[d] += 1;
        if let Some(left) = st.cut_countdown[d] {
            let left = left.saturating_sub(1);
            st.cut_countdown[d] = Some(left);
            if left == 0 {
                shared.log(conn.id, format!("cut mid-literal {}", dir.name()));
                return (out, After::Close);
            }
        }
        let forwarded = st.forwarded[d];
        if shared
            .fire(
                conn.id,
                |f| matches!(f, Fault::CutAfter { dir: fd, bytes } if *fd == dir && *bytes == forwarded),
                "cut",
            )
            .is_some()
        {
            return (out, After::Close);
        }
        let Some(event) = st.parsers[d].feed(byte) else {
            continue;
        };
        match event {
            Event::Line { text, literal } => {
                if dir == Dir::ClientToServer {
                    client_line(conn, shared, &mut st, &text, literal.is_some());
                }
                if let Some(size) = literal {
                    match st.cut_literal[d] {
                        Some(0) if size >= 2 => {
                            st.cut_literal[d] = None;
                            st.cut_countdown[d] = Some(size / 2);
                        }
                        Some(0) => {}
                        Some(n) => st.cut_literal[d] = Some(n - 1),
                        None => {}
                    }
                }
            }
            Event::LiteralEnd => {}
        }
    }
    (out, After::Continue)
}

/// A client line (a command's first line, or what follows one of its literals).
fn client_line(conn: &Conn, shared: &Shared, st: &mut ConnState, text: &[u8], more: bool) {
    let s = String::from_utf8_lossy(text);
    let mut words = s.splitn(3, ' ');
    let (tag, verb, rest) = (
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
    );
    // A continuation of a command (after a literal) has no tag of its own: the command is
    // complete when a line does not end in another literal.
    let continuation = st.parsers[0].after_literal;
    if continuation {
        st.parsers[0].after_literal = false;
        if !more && st.lose_tag.is_some() && !st.swallowing {
            st.swallowing = true;
        }
        return;
    }
    if verb.eq_ignore_ascii_case("SELECT") || verb.eq_ignore_ascii_case("EXAMINE") {
        st.selected = Some(mailbox_name(rest));
    }
    let selected = st.selected.clone();
    let matches = |on: &Command| {
        s.contains(&on.contains)
            && on
                .folder
                .as_ref()
                .is_none_or(|f| Some(f) == selected.as_ref())
    };
    let Some(fault) = shared.fire(
        conn.id,
        |f| match f {
            Fault::StallOn(on) | Fault::LoseReply(on) | Fault::CutMidLiteral { on, .. } => {
                matches(on)
            }
            Fault::CutAfter { .. } => false,
        },
        &format!("on {:?}", s.chars().take(80).collect::<String>()),
    ) else {
        return;
    };
    match fault {
        Fault::StallOn(_) => st.stalled[Dir::ServerToClient.index()] = true,
        Fault::CutMidLiteral { dir, nth, .. } => st.cut_literal[dir.index()] = Some(nth),
        Fault::LoseReply(_) => {
            st.lose_tag = Some(tag.to_string());
            if !more {
                st.swallowing = true;
            }
        }
        Fault::CutAfter { .. } => {}
    }
}

/// The first argument of SELECT/EXAMINE, unquoted.
fn mailbox_name(args: &str) -> String {
    let Some(quoted) = args.strip_prefix('"') else {
        return args.split(' ').next().unwrap_or("").to_string();
    };
    let mut name = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => name.extend(chars.next()),
            c => name.push(c),
        }
    }
    name
}

/// What the parser saw.
enum Event {
    /// A line without its CRLF; `literal`: it announces a literal of that many bytes.
    Line { text: Vec<u8>, literal: Option<u64> },
    /// The last byte of a literal.
    LiteralEnd,
}

/// Splits one direction of IMAP into lines and literals, a byte at a time.
#[derive(Default)]
struct Parser {
    line: Vec<u8>,
    literal_left: u64,
    /// The next line continues a command after a literal.
    after_literal: bool,
}

impl Parser {
    fn feed(&mut self, byte: u8) -> Option<Event> {
        if self.literal_left > 0 {
            self.literal_left -= 1;
            if self.literal_left == 0 {
                self.after_literal = true;
                return Some(Event::LiteralEnd);
            }
            return None;
        }
        if self.line.len() < MAX_LINE {
            self.line.push(byte);
        }
        if byte != b'\n' {
            return None;
        }
        let mut text = std::mem::take(&mut self.line);
        while text.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            text.pop();
        }
        let literal = literal_size(&text);
        if let Some(size) = literal {
            self.literal_left = size;
            if size == 0 {
                self.after_literal = true;
            }
        }
        Some(Event::Line { text, literal })
    }
}

/// `{123}` or `{123+}` at the end of a line.
fn literal_size(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_sizes() {
        assert_eq!(literal_size(b"A1 APPEND \"x\" {12}"), Some(12));
        assert_eq!(literal_size(b"* 1 FETCH (BODY[] {7+}"), Some(7));
        assert_eq!(literal_size(b"A1 NOOP"), None);
        assert_eq!(literal_size(b"{}"), None);
    }
}
