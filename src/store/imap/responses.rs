//! The server's bytes cut into whole responses, read straight off the wire (a line, each
//! literal read whole, the rest of the line after it), for the commands mailferry reads
//! itself instead of through the `imap` crate: body FETCHes and pipelined STATUS.

use super::pipeline::literal_length;
use super::wire::Wire;
use super::{FarError, FarSession, clip};
use std::io;

/// Bytes asked of the stream per read.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// What went wrong reading an answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The stream failed or ended: the connection is out of step.
    Io(io::Error),
    /// The server sent something that is not the answer we wait for.
    Broken(String),
    /// The server refused the command (NO or BAD): the connection is still in step.
    Refused(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// The server's bytes, read a chunk at a time and cut into whole responses.
pub(super) struct Responses {
    chunk: Vec<u8>,
    /// The bytes of `chunk` not yet handed out.
    at: usize,
    end: usize,
}

impl Responses {
    /// Starts with `ready`, bytes already read off the stream.
    pub(super) fn new(ready: Vec<u8>) -> Responses {
        let end = ready.len();
        let mut chunk = ready;
        chunk.resize(end.max(READ_CHUNK), 0);
        Responses { chunk, at: 0, end }
    }

    /// Reads one whole response (its line, each literal and the rest of the line after
    /// it) into `out`.
    pub(super) fn next(&mut self, wire: &mut Wire, out: &mut Vec<u8>) -> Result<(), Failure> {
        out.clear();
        loop {
            let line_start = out.len();
            loop {
                let rest = &self.chunk[self.at..self.end];
                if let Some(end) = rest.iter().position(|&b| b == b'\n') {
                    out.extend_from_slice(&rest[..=end]);
                    self.at += end + 1;
                    break;
                }
                out.extend_from_slice(rest);
                self.fill(wire)?;
            }
            let literal = literal_length(&out[line_start..]);
            if literal == 0 {
                return Ok(());
            }
            let buffered = literal.min(self.end - self.at);
            out.extend_from_slice(&self.chunk[self.at..self.at + buffered]);
            self.at += buffered;
            let left = literal - buffered;
            if left > 0 {
                if left as u64 > wire.room() {
                    // Refused before allocating what the server announced.
                    return Err(Failure::Io(wire.exceeded()));
                }
                let mut filled = out.len();
                out.resize(filled + left, 0);
                while filled < out.len() {
                    match wire.read_budgeted(&mut out[filled..])? {
                        0 => return Err(Failure::Io(io::ErrorKind::UnexpectedEof.into())),
                        n => filled += n,
                    }
                }
            }
        }
    }

    /// Reads the next chunk, once every byte of the last one was handed out.
    fn fill(&mut self, wire: &mut Wire) -> Result<(), Failure> {
        self.at = 0;
        self.end = 0;
        match wire.read_budgeted(&mut self.chunk)? {
            0 => Err(Failure::Io(io::ErrorKind::UnexpectedEof.into())),
            n => {
                self.end = n;
                Ok(())
            }
        }
    }

    /// Bytes read past the last answer (none from a server in step): back to the crate.
    pub(super) fn leftover(&self) -> &[u8] {
        &self.chunk[self.at..self.end]
    }
}

/// What a command's tagged completion says, from the text after its tag: OK; NO or BAD,
/// a refusal (the connection is still in step); anything else, a broken answer. `what`
/// names the command.
pub(super) fn completion(after_tag: &[u8], what: &str) -> Result<(), Failure> {
    let text = String::from_utf8_lossy(after_tag);
    let text = text.trim_end();
    let (status, information) = text.split_once(' ').unwrap_or((text, ""));
    match status.to_ascii_uppercase().as_str() {
        "OK" => Ok(()),
        "NO" => Err(Failure::Refused(format!(
            "No Response: {}",
            clip(information)
        ))),
        "BAD" => Err(Failure::Refused(format!(
            "Bad Response: {}",
            clip(information)
        ))),
        _ => Err(Failure::Broken(format!(
            "the server finished {what} with {}",
            clip(text)
        ))),
    }
}

/// A response that is neither an awaited completion nor untagged data.
pub(super) fn unasked(response: &[u8], what: &str) -> Failure {
    Failure::Broken(format!(
        "the server sent {:?} while answering {what}, which mailferry did not ask for (a broken server?)",
        clip(&String::from_utf8_lossy(response))
    ))
}

impl FarSession {
    /// The error for a failure reading the answer to `what`.
    pub(super) fn failed(&self, what: &str, failure: Failure) -> FarError {
        match failure {
            Failure::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.err(what, imap::Error::ConnectionLost)
            }
            Failure::Io(e) => self.err(what, imap::Error::Io(e)),
            Failure::Refused(text) | Failure::Broken(text) => {
                FarError::permanent(format!("{}: {what}: {text}", self.endpoint))
            }
        }
    }
}
