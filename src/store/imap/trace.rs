//! The `-vvv` IMAP trace: the conversation of one connection, line by line, as it passes
//! through the session's stream. Literals (message bodies, headers) are summarised by
//! size, never dumped; the credentials of `LOGIN` and everything the client sends during
//! `AUTHENTICATE` are masked, and as a second line of defence any line still holding the
//! password (plain, IMAP-quoted, or inside a base64 `AUTHENTICATE PLAIN` payload) has it
//! masked too.

use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes of a line kept for the trace; the rest is counted, not stored.
const LINE_BYTES: usize = 1000;
/// Bytes kept from the end of an over-long line, to see a literal's announcement.
const TAIL_BYTES: usize = 32;
/// What stands in for a secret.
pub const MASK: &str = "<masked>";

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Who sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One direction's line assembly.
#[derive(Default)]
struct Lines {
    line: Vec<u8>,
    /// Bytes of the current line not stored (past [`LINE_BYTES`]).
    dropped: usize,
    /// The last bytes of the current line, once it is over-long.
    tail: Vec<u8>,
    /// Literal bytes still to come, and the literal's announced size.
    literal: u64,
}

impl Lines {
    fn push(&mut self, byte: u8) {
        if self.line.len() < LINE_BYTES {
            self.line.push(byte);
        } else {
            self.dropped += 1;
            self.tail.push(byte);
            if self.tail.len() > TAIL_BYTES {
                self.tail.remove(0);
            }
        }
    }

    fn push_str(&mut self, text: &str) {
        for &b in text.as_bytes() {
            self.push(b);
        }
    }

    /// The literal size the line just ended (by LF) announces (`{N}` or `{N+}`), if any.
    fn announced_literal(&self) -> Option<u64> {
        let end = if self.dropped > 0 {
            &self.tail
        } else {
            &self.line
        };
        let end = end.strip_suffix(b"\n")?;
        let end = end.strip_suffix(b"\r").unwrap_or(end);
        let end = end.strip_suffix(b"}")?;
        let end = end.strip_suffix(b"+").unwrap_or(end);
        let open = end.iter().rposition(|&b| b == b'{')?;
        std::str::from_utf8(&end[open + 1..]).ok()?.parse().ok()
    }

    /// Ends the current line: its text (without CRLF) and how many bytes were cut.
    fn take(&mut self) -> (Vec<u8>, usize) {
        let line = std::mem::take(&mut self.line);
        let dropped = std::mem::take(&mut self.dropped);
        self.tail.clear();
        (line, dropped)
    }
}

/// The trace of one connection.
pub struct Trace {
    id: u32,
    /// Byte strings never to be shown (the password and its encodings).
    secrets: Vec<Vec<u8>>,
    client: Lines,
    server: Lines,
    /// The tag of an `AUTHENTICATE` under way: until the server answers it, every client
    /// line is masked.
    authenticating: Option<Vec<u8>>,
}

impl Trace {
    /// A trace for a new connection logging in as `user` with `password`.
    pub fn new(user: &str, password: &str) -> Trace {
        let mut secrets = Vec::new();
        if !password.is_empty() {
            secrets.push(password.as_bytes().to_vec());
            let quoted = password.replace('\\', "\\\\").replace('"', "\\\"");
            if quoted != password {
                secrets.push(quoted.into_bytes());
            }
            for authz in ["", user] {
                let payload = format!("{authz}\0{user}\0{password}");
                secrets.push(base64(payload.as_bytes()).into_bytes());
            }
        }
        Trace {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            secrets,
            client: Lines::default(),
            server: Lines::default(),
            authenticating: None,
        }
    }

    /// Takes bytes one side sent; returns the finished lines, ready to log.
    pub fn feed(&mut self, side: Side, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let lines = match side {
                Side::Client => &mut self.client,
                Side::Server => &mut self.server,
            };
            if lines.literal > 0 {
                let n = usize::try_from(lines.literal)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                lines.literal -= n as u64;
                rest = &rest[n..];
                continue;
            }
            let byte = rest[0];
            rest = &rest[1..];
            lines.push(byte);
            if byte != b'\n' {
                continue;
            }
            let announced = lines.announced_literal();
            let (mut line, dropped) = match announced {
                // The server's literal: summarised inside its line, which goes on after it.
                Some(size) if side == Side::Server => {
                    if lines.dropped == 0 {
                        lines.line.pop();
                        if lines.line.last() == Some(&b'\r') {
                            lines.line.pop();
                        }
                    }
                    lines.push_str(&format!("<{size} bytes>"));
                    lines.literal = size;
                    continue;
                }
                // The client's: its line is shown now (the server's "+" comes before the
                // literal), and the literal starts the next line.
                Some(size) => {
                    let taken = lines.take();
                    lines.literal = size;
                    lines.push_str(&format!("<{size} bytes>"));
                    taken
                }
                None => lines.take(),
            };
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            out.push(self.render(side, line, dropped));
        }
        out
    }

    /// One finished line as logged: masked, escaped, marked with the connection and side.
    fn render(&mut self, side: Side, line: Vec<u8>, dropped: usize) -> String {
        let mut line = line;
        match side {
            Side::Client => {
                if self.authenticating.is_some() {
                    line = format!("{MASK} (AUTHENTICATE response)").into_bytes();
                } else {
                    let words: Vec<&[u8]> = line.splitn(4, |&b| b == b' ').collect();
                    let command = words.get(1).map(|w| w.to_ascii_uppercase());
                    if command.as_deref() == Some(b"LOGIN") {
                        line = [words[0], b" LOGIN ", MASK.as_bytes()].concat();
                    } else if command.as_deref() == Some(b"AUTHENTICATE") {
                        self.authenticating = Some(words[0].to_vec());
                        if words.len() > 3 {
                            line = [
                                words[0],
                                b" ",
                                words[1],
                                b" ",
                                words[2],
                                b" ",
                                MASK.as_bytes(),
                            ]
                            .concat();
                        }
                    }
                }
            }
            Side::Server => {
                if let Some(tag) = &self.authenticating
                    && line.starts_with(tag)
                    && line.get(tag.len()) == Some(&b' ')
                {
                    self.authenticating = None;
                }
            }
        }
        for secret in &self.secrets {
            line = replace_all(&line, secret, MASK.as_bytes());
        }
        let mut text = String::new();
        for c in String::from_utf8_lossy(&line).chars() {
            if c.is_control() {
                text.extend(c.escape_debug());
            } else {
                text.push(c);
            }
        }
        if dropped > 0 {
            text.push_str(&format!("… ({dropped} more bytes)"));
        }
        let arrow = match side {
            Side::Client => "C:",
            Side::Server => "S:",
        };
        format!("imap#{} {arrow} {text}", self.id)
    }
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Standard base64 with padding (what `AUTHENTICATE` responses use).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a conversation in pieces of every size; the lines must not depend on how the
    /// bytes were split.
    fn run(pieces: &[(Side, &[u8])]) -> Vec<String> {
        let mut reference: Option<Vec<String>> = None;
        for chunk in [1, 2, 3, 7, 1000] {
            let mut trace = Trace::new("me@example.org", "s3cr\"et");
            let mut lines = Vec::new();
            for (side, bytes) in pieces {
                for part in bytes.chunks(chunk) {
                    lines.extend(trace.feed(*side, part));
                }
            }
            let lines: Vec<String> = lines
                .into_iter()
                .map(|l| l.split_once(' ').map(|(_, r)| r.to_string()).unwrap_or(l))
                .collect();
            if let Some(r) = &reference {
                assert_eq!(&lines, r, "chunk size {chunk}");
            }
            reference = Some(lines);
        }
        reference.unwrap_or_default()
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn login_credentials_are_masked() {
        let lines = run(&[
            (
                Side::Client,
                b"a1 LOGIN \"me@example.org\" \"s3cr\\\"et\"\r\n",
            ),
            (Side::Server, b"a1 OK Logged in\r\n"),
            (Side::Client, b"a2 SELECT \"INBOX\"\r\n"),
        ]);
        assert_eq!(
            lines,
            [
                "C: a1 LOGIN <masked>",
                "S: a1 OK Logged in",
                "C: a2 SELECT \"INBOX\""
            ]
        );
    }

    #[test]
    fn authenticate_responses_are_masked_until_the_tagged_answer() {
        let payload = base64(b"\0me@example.org\0s3cr\"et");
        let client = format!("{payload}\r\n");
        let lines = run(&[
            (Side::Client, b"a1 AUTHENTICATE PLAIN\r\n"),
            (Side::Server, b"+ \r\n"),
            (Side::Client, client.as_bytes()),
            (Side::Server, b"a1 OK done\r\n"),
            (Side::Client, b"a2 NOOP\r\n"),
        ]);
        assert_eq!(
            lines,
            [
                "C: a1 AUTHENTICATE PLAIN",
                "S: + ",
                "C: <masked> (AUTHENTICATE response)",
                "S: a1 OK done",
                "C: a2 NOOP"
            ]
        );
        // An initial response on the command line is masked as well.
        let with_ir = format!("a1 AUTHENTICATE PLAIN {payload}\r\n");
        let lines = run(&[(Side::Client, with_ir.as_bytes())]);
        assert_eq!(lines, ["C: a1 AUTHENTICATE PLAIN <masked>"]);
    }

    #[test]
    fn a_password_anywhere_else_is_masked_too() {
        let lines = run(&[(Side::Server, b"* BAD you said s3cr\"et\r\n")]);
        assert_eq!(lines, ["S: * BAD you said <masked>"]);
    }

    #[test]
    fn literals_are_summarised_by_size() {
        let lines = run(&[
            (
                Side::Server,
                b"* 1 FETCH (UID 7 BODY[] {11}\r\nhello\r\nbody)\r\n",
            ),
            (Side::Client, b"a3 APPEND \"INBOX\" (\\Seen) {4}\r\n"),
            (Side::Server, b"+ OK\r\n"),
            (Side::Client, b"x\r\ny\r\n"),
            (Side::Server, b"a3 OK [APPENDUID 1 8] done\r\n"),
        ]);
        assert_eq!(
            lines,
            [
                "S: * 1 FETCH (UID 7 BODY[] {11}<11 bytes>)",
                "C: a3 APPEND \"INBOX\" (\\Seen) {4}",
                "S: + OK",
                "C: <4 bytes>",
                "S: a3 OK [APPENDUID 1 8] done"
            ]
        );
        assert!(lines.iter().all(|l| !l.contains("hello")));
    }

    #[test]
    fn long_lines_are_cut_and_control_characters_escaped() {
        let mut long = b"* OK ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 5000));
        long.extend_from_slice(b"\x1b[31m\r\n");
        let lines = run(&[(Side::Server, &long)]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() < 1100, "{}", lines[0].len());
        assert!(lines[0].ends_with("more bytes)"), "{}", lines[0]);
        assert!(!lines[0].contains('\x1b'));
        let lines = run(&[(Side::Server, b"* OK a\x1bb\r\n")]);
        assert_eq!(lines, ["S: * OK a\\u{1b}b"]);
    }
}
