//! The download floor for an initial sync: every message body fetched from the server over
//! TLS on as many connections as mailferry uses by default, read and thrown away. No tool
//! can write the mail faster than the server hands it out, so next to `cp -r` + `sync`
//! (the floor for writing it) this shows what bounds an initial sync on the machine.

use crate::dovecot::Dovecot;
use crate::server_cpu;
use anyhow::{Context, Result, anyhow, bail};
use native_tls::{Certificate, TlsConnector, TlsStream};
use std::collections::VecDeque;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Instant;

/// mailferry's default number of connections to an account (`connections`).
pub const CONNECTIONS: usize = 4;

/// The tag of every command (each connection sends one at a time and waits for its end;
/// the bodies are read as the literals they are, so their lines are never taken for it).
const TAG: &str = "dl7q";

/// Wall seconds of one download, the client's and Dovecot's CPU seconds for it, the bytes
/// read and the bodies among them.
pub struct Download {
    pub wall: f64,
    pub cpu: f64,
    pub server_cpu: f64,
    pub bytes: u64,
    pub bodies: usize,
}

type Stream = BufReader<TlsStream<TcpStream>>;

/// Fetches every body of `user`'s folders over `port` (TLS): one connection lists the
/// folders and asks each one's size, then [`CONNECTIONS`] connections take the folders,
/// largest first, each with one `UID FETCH 1:* BODY.PEEK[]`, and discard the bodies.
pub fn download(server: &Dovecot, port: u16, user: &str) -> Result<Download> {
    let pem = fs::read(server.ca_file())
        .with_context(|| format!("reading {}", server.ca_file().display()))?;
    let tls = TlsConnector::builder()
        .add_root_certificate(Certificate::from_pem(&pem)?)
        .build()?;
    let watch = server_cpu::start(server)?;
    let own_before = server_cpu::own_seconds()?;
    let started = Instant::now();
    let mut first = connect(&tls, port, user, server.password())?;
    let mut folders = Vec::new();
    for line in command(&mut first, "LIST \"\" \"*\"")? {
        if let Some(name) = listed_name(&line) {
            folders.push(name);
        }
    }
    let mut sized = Vec::new();
    for name in folders {
        let lines = command(&mut first, &format!("STATUS {} (MESSAGES)", quoted(&name)))?;
        let messages = lines
            .iter()
            .find_map(|l| status_messages(l))
            .with_context(|| format!("no STATUS answer for {name:?}"))?;
        sized.push((messages, name));
    }
    sized.sort_by(|a, b| b.cmp(a));
    let queue = Mutex::new(sized.into_iter().map(|(_, n)| n).collect::<VecDeque<_>>());
    let mut first = Some(first);
    let results: Vec<Result<(u64, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let reuse = if i == 0 { first.take() } else { None };
                let (tls, queue) = (&tls, &queue);
                scope.spawn(move || -> Result<(u64, usize)> {
                    let mut stream = match reuse {
                        Some(s) => s,
                        None => connect(tls, port, user, server.password())?,
                    };
                    let (mut read, mut fetched) = (0, 0);
                    loop {
                        let next = match queue.lock() {
                            Ok(mut folders) => folders.pop_front(),
                            Err(_) => bail!("another download thread failed"),
                        };
                        let Some(name) = next else {
                            break;
                        };
                        command(&mut stream, &format!("SELECT {}", quoted(&name)))?;
                        let (n, count) = fetch_and_discard(&mut stream)?;
                        read += n;
                        fetched += count;
                    }
                    command(&mut stream, "LOGOUT")?;
                    Ok((read, fetched))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a download thread panicked")))
            })
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = server_cpu::own_seconds()? - own_before;
    let (mut bytes, mut bodies) = (0, 0);
    for r in results {
        let (n, count) = r?;
        bytes += n;
        bodies += count;
    }
    Ok(Download {
        wall,
        cpu,
        server_cpu: watch.finish()?,
        bytes,
        bodies,
    })
}

/// A logged-in connection.
fn connect(tls: &TlsConnector, port: u16, user: &str, password: &str) -> Result<Stream> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    let mut stream = BufReader::with_capacity(256 * 1024, tls.connect("localhost", tcp)?);
    let mut greeting = Vec::new();
    stream.read_until(b'\n', &mut greeting)?;
    command(
        &mut stream,
        &format!("LOGIN {} {}", quoted(user), quoted(password)),
    )?;
    Ok(stream)
}

/// What a command's answer held.
struct Answer {
    /// The untagged lines (literals left out), when kept.
    lines: Vec<String>,
    /// Bytes read, literals included.
    bytes: u64,
    /// Literals read (for a body FETCH: the bodies).
    literals: usize,
}

/// Sends `text` and reads its answer up to the tagged OK (an error otherwise), keeping the
/// untagged lines when `keep_lines`. Errors name the command by its first word only (a
/// LOGIN carries the password).
fn exchange(stream: &mut Stream, text: &str, keep_lines: bool) -> Result<Answer> {
    stream
        .get_mut()
        .write_all(format!("{TAG} {text}\r\n").as_bytes())?;
    let verb = text.split(' ').next().unwrap_or_default();
    let mut answer = Answer {
        lines: Vec::new(),
        bytes: 0,
        literals: 0,
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = stream.read_until(b'\n', &mut line)?;
        if n == 0 {
            bail!("the server closed the connection during {verb}");
        }
        answer.bytes += n as u64;
        if let Some(rest) = line.strip_prefix(format!("{TAG} ").as_bytes()) {
            if rest.starts_with(b"OK") {
                return Ok(answer);
            }
            bail!(
                "{verb} failed: {}",
                String::from_utf8_lossy(rest).trim_end()
            );
        }
        if let Some(n) = skip_literal(stream, &line)? {
            answer.bytes += n;
            answer.literals += 1;
        }
        if keep_lines {
            answer
                .lines
                .push(String::from_utf8_lossy(&line).trim_end().to_string());
        }
    }
}

/// Sends `text`; the untagged lines of its answer.
fn command(stream: &mut Stream, text: &str) -> Result<Vec<String>> {
    Ok(exchange(stream, text, true)?.lines)
}

/// Sends `UID FETCH 1:* BODY.PEEK[]` and reads the answer, bodies thrown away; the bytes
/// read and the number of bodies among them.
fn fetch_and_discard(stream: &mut Stream) -> Result<(u64, usize)> {
    let answer = exchange(stream, "UID FETCH 1:* BODY.PEEK[]", false)?;
    Ok((answer.bytes, answer.literals))
}

/// When `line` ends with a literal's announcement `{N}`, reads its N bytes and returns N.
fn skip_literal(stream: &mut Stream, line: &[u8]) -> Result<Option<u64>> {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let Some(open) = line.strip_suffix(b"}").and_then(|l| {
        let at = l.iter().rposition(|&b| b == b'{')?;
        std::str::from_utf8(&l[at + 1..]).ok()?.parse::<u64>().ok()
    }) else {
        return Ok(None);
    };
    let skipped = io::copy(&mut stream.by_ref().take(open), &mut io::sink())?;
    if skipped != open {
        bail!("the connection ended inside a literal");
    }
    Ok(Some(open))
}

/// The mailbox name of a `* LIST (...) "sep" name` line (quoted or an atom).
fn listed_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("* LIST (")?;
    let (_, rest) = rest.split_once(") ")?;
    // The separator: a quoted character or NIL.
    let rest = if let Some(r) = rest.strip_prefix("NIL ") {
        r
    } else {
        rest.get(rest.find("\" ")? + 2..)?
    };
    Some(
        match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => rest.to_string(),
        },
    )
}

/// The MESSAGES count of a `* STATUS name (MESSAGES n)` line.
fn status_messages(line: &str) -> Option<u64> {
    let at = line.strip_prefix("* STATUS ")?.rfind("(MESSAGES ")?;
    let rest = &line["* STATUS ".len() + at + "(MESSAGES ".len()..];
    rest.trim_end_matches(')').parse().ok()
}

/// `s` as an IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
