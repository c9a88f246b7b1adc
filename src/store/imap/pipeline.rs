//! Pipelining: commands sent in the same write as the `imap` crate's next command, each
//! with a tag of its own, and their completion lines taken out of the server's answer
//! before the crate (which knows only its own tag) reads it. A folder's flag stores and
//! its exact expunge thus cost one round trip, and the server settles its mailbox once
//! for all of them instead of once per command (Dovecot re-reads a Maildir `cur/` of
//! thousands of files when a command follows renames it made in an earlier one).

use super::{FarError, FarResult, FarSession, LISTED_MESSAGE_BYTES, RESPONSE_BYTES, uid_set};
use crate::flags::Flags;
use crate::model::FarUid;
use std::collections::VecDeque;

/// Our tags, distinct from the crate's (`a1`, `a2`, ...).
const TAG_PREFIX: &str = "mf";

/// What a connection's stream does for the commands sent ahead (part of its
/// [`super::wire::Wire`]).
#[derive(Debug, Default)]
pub(super) struct Pipeline {
    /// Bytes to write before the crate's next command.
    outgoing: Vec<u8>,
    /// Tags whose completion line has not arrived yet, in the order sent.
    awaited: VecDeque<String>,
    /// Completion lines of the commands sent ahead: (tag, the rest of the line).
    answers: Vec<(String, String)>,
    /// Bytes from the server not yet looked at.
    unread: Vec<u8>,
    /// Bytes looked at and due to the crate.
    ready: VecDeque<u8>,
    /// Bytes of a literal still to pass on unexamined (a message line is not a tag).
    literal_left: usize,
    /// Sequence number of the next tag.
    next_tag: u64,
}

impl Pipeline {
    /// Queues `command` to go out ahead of the crate's next one; returns its tag.
    fn send_ahead(&mut self, command: &str) -> String {
        let tag = self.fresh_tag();
        self.outgoing
            .extend_from_slice(format!("{tag} {command}\r\n").as_bytes());
        self.awaited.push_back(tag.clone());
        tag
    }

    /// A tag of ours not used before on this connection.
    pub(super) fn fresh_tag(&mut self) -> String {
        self.next_tag += 1;
        format!("{TAG_PREFIX}{}", self.next_tag)
    }

    /// Every byte due to the crate and not yet taken: for a reader of our own that runs
    /// between two of the crate's commands (and gives back what it does not use).
    pub(super) fn take_all_ready(&mut self) -> Vec<u8> {
        self.ready.drain(..).collect()
    }

    /// Bytes read by a reader of our own past its answer: the crate reads them next.
    pub(super) fn give_back(&mut self, bytes: &[u8]) {
        self.ready.extend(bytes);
    }

    /// The bytes to write before the crate's next write, once.
    pub(super) fn take_outgoing(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outgoing)
    }

    /// True while reads must go through [`Pipeline::feed`] / [`Pipeline::take_ready`].
    pub(super) fn filtering(&self) -> bool {
        !self.awaited.is_empty() || !self.unread.is_empty() || !self.ready.is_empty()
    }

    /// Takes bytes read from the server; completion lines of commands sent ahead are
    /// kept back, everything else becomes ready for the crate. An empty `bytes` is the
    /// end of the stream: whatever is left is passed on.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        self.unread.extend_from_slice(bytes);
        loop {
            if self.literal_left > 0 {
                let n = self.literal_left.min(self.unread.len());
                if n == 0 {
                    break;
                }
                self.ready.extend(self.unread.drain(..n));
                self.literal_left -= n;
                continue;
            }
            if self.awaited.is_empty() || (bytes.is_empty() && !self.unread.contains(&b'\n')) {
                self.ready.extend(self.unread.drain(..));
                break;
            }
            let Some(end) = self.unread.iter().position(|&b| b == b'\n') else {
                break;
            };
            let line: Vec<u8> = self.unread.drain(..=end).collect();
            if let Some(answer) = self.completion(&line) {
                self.answers.push(answer);
                continue;
            }
            self.literal_left = literal_length(&line);
            self.ready.extend(line);
        }
    }

    /// The line completes a command sent ahead: (tag, rest), and the tag is no longer
    /// awaited.
    fn completion(&mut self, line: &[u8]) -> Option<(String, String)> {
        let text = std::str::from_utf8(line).ok()?;
        let (tag, rest) = text.split_once(' ')?;
        let at = self.awaited.iter().position(|t| t == tag)?;
        self.awaited.remove(at);
        Some((tag.to_string(), rest.trim_end().to_string()))
    }

    /// Moves ready bytes into `buf`; how many.
    pub(super) fn take_ready(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.ready.len());
        for (slot, byte) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *slot = byte;
        }
        n
    }

    /// Forgets commands that were never written (the crate failed before writing).
    fn abandon(&mut self) {
        self.outgoing.clear();
        self.awaited.clear();
        self.answers.clear();
    }
}

/// The length a line announces for the literal that follows it (`{123}` or `{123+}`
/// at its end), or 0.
pub(super) fn literal_length(line: &[u8]) -> usize {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(inner) = line.strip_suffix(b"}") else {
        return 0;
    };
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    let digits = inner
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || inner.len() == digits || inner[inner.len() - digits - 1] != b'{' {
        return 0;
    }
    std::str::from_utf8(&inner[inner.len() - digits..])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One UID STORE of a batch of flag changes.
pub struct FlagStore<'a> {
    pub uids: &'a [FarUid],
    pub add: bool,
    pub flags: Flags,
}

impl FarSession {
    /// Sends the `ahead` commands in the same write as the crate's command `last`, with
    /// a read budget of `limit` for all their answers. Returns `last`'s outcome (its
    /// untagged answers include those of the commands sent ahead) and, per command sent
    /// ahead, its completion line without the tag (`OK ...`, `NO ...`).
    ///
    /// A server that leaves a command sent ahead unanswered is out of step with us: the
    /// connection is marked broken and that is an error.
    pub(super) fn pipelined<T>(
        &mut self,
        ahead: &[String],
        limit: u64,
        last: impl FnOnce(&mut imap::Session<super::Budgeted>) -> imap::Result<T>,
    ) -> FarResult<(imap::Result<T>, Vec<String>)> {
        let tags: Vec<String> = {
            let mut wire = super::wire::lock(&self.wire);
            ahead
                .iter()
                .map(|command| wire.pipeline.send_ahead(command))
                .collect()
        };
        let outcome = self.call(limit, last);
        let (mut answers, unanswered, unsent) = {
            let mut wire = super::wire::lock(&self.wire);
            let pipe = &mut wire.pipeline;
            let unsent = !pipe.outgoing.is_empty();
            let answers = std::mem::take(&mut pipe.answers);
            let unanswered = !pipe.awaited.is_empty();
            if unsent || unanswered {
                pipe.abandon();
            }
            (answers, unanswered, unsent)
        };
        self.drain();
        if unanswered && !unsent {
            self.broken = true;
            if outcome.is_ok() {
                return Err(FarError::permanent(format!(
                    "{}: the server finished a later command before the ones sent ahead of it (a broken server?)",
                    self.endpoint
                )));
            }
        }
        let lines = tags
            .iter()
            .map(|tag| {
                answers
                    .iter()
                    .position(|(t, _)| t == tag)
                    .map(|at| answers.swap_remove(at).1)
                    .unwrap_or_default()
            })
            .collect();
        Ok((outcome, lines))
    }

    /// Stores the flag changes, then deletes exactly `deletes`: flags them `\Deleted`,
    /// then UID EXPUNGE (UIDPLUS). Without UIDPLUS a plain EXPUNGE would also purge other
    /// messages flagged deleted, so it runs only when `expunge_others` allows it;
    /// otherwise they stay flagged. All in one round trip.
    pub fn store_and_delete(
        &mut self,
        stores: &[FlagStore<'_>],
        deletes: &[FarUid],
        expunge_others: bool,
    ) -> FarResult<()> {
        let mut commands: Vec<(&str, String)> = stores
            .iter()
            .filter(|s| !s.uids.is_empty() && !s.flags.is_empty())
            .map(|s| {
                let op = if s.add {
                    "+FLAGS.SILENT"
                } else {
                    "-FLAGS.SILENT"
                };
                let command = format!(
                    "UID STORE {} {op} {}",
                    uid_set(s.uids),
                    s.flags.to_imap_list()
                );
                ("UID STORE", command)
            })
            .collect();
        let mut uids = stores.iter().map(|s| s.uids.len()).sum::<usize>();
        if !deletes.is_empty() {
            uids += deletes.len();
            let set = uid_set(deletes);
            commands.push((
                "UID STORE",
                format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
            ));
            if self.caps.uidplus {
                commands.push(("UID EXPUNGE", format!("UID EXPUNGE {set}")));
            } else if expunge_others {
                commands.push(("EXPUNGE", "EXPUNGE".into()));
            }
        }
        let Some((last_what, last)) = commands.pop() else {
            return Ok(());
        };
        let limit = RESPONSE_BYTES + LISTED_MESSAGE_BYTES * uids as u64;
        let ahead: Vec<String> = commands.iter().map(|(_, c)| c.clone()).collect();
        let (outcome, answers) =
            self.pipelined(&ahead, limit, |s| s.run_command_and_check_ok(&last))?;
        crate::failpoint::hit();
        // The commands sent ahead, in order, then the crate's own.
        for ((what, _), answer) in commands.iter().zip(&answers) {
            let status = answer.split(' ').next().unwrap_or("");
            // Unanswered (never sent): the crate's command failed, which says why.
            if !answer.is_empty() && !status.eq_ignore_ascii_case("OK") {
                return Err(FarError::permanent(format!(
                    "{}: {what}: the server refused: {}",
                    self.endpoint,
                    super::clip(answer)
                )));
            }
        }
        outcome.map_err(|e| self.err(last_what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(pipe: &mut Pipeline) -> Vec<u8> {
        let mut out = vec![0u8; 4096];
        let n = pipe.take_ready(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn completions_of_commands_sent_ahead_are_kept_from_the_crate() {
        let mut pipe = Pipeline::default();
        assert_eq!(pipe.send_ahead("UID STORE 1 +FLAGS.SILENT (\\Seen)"), "mf1");
        assert_eq!(
            pipe.send_ahead("UID STORE 2 +FLAGS.SILENT (\\Deleted)"),
            "mf2"
        );
        assert_eq!(
            pipe.take_outgoing(),
            b"mf1 UID STORE 1 +FLAGS.SILENT (\\Seen)\r\nmf2 UID STORE 2 +FLAGS.SILENT (\\Deleted)\r\n"
        );
        assert!(pipe.take_outgoing().is_empty(), "written once");
        // Split mid-line, as reads come.
        pipe.feed(b"* 3 EXPUNGE\r\nmf1 OK St");
        pipe.feed(b"ore completed.\r\nmf2 NO [CANNOT] no\r\na7 OK Expunge completed.\r\n");
        assert_eq!(
            drained(&mut pipe),
            b"* 3 EXPUNGE\r\na7 OK Expunge completed.\r\n"
        );
        assert_eq!(
            pipe.answers,
            [
                ("mf1".to_string(), "OK Store completed.".to_string()),
                ("mf2".to_string(), "NO [CANNOT] no".to_string())
            ]
        );
        assert!(!pipe.filtering());
    }

    #[test]
    fn a_tag_inside_a_literal_is_message_text() {
        let mut pipe = Pipeline::default();
        pipe.send_ahead("NOOP");
        let body = b"mf1 OK forged\r\n";
        let mut input = format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(b")\r\nmf1 OK done\r\n");
        pipe.feed(&input);
        let mut expected = format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).into_bytes();
        expected.extend_from_slice(body);
        expected.extend_from_slice(b")\r\n");
        assert_eq!(drained(&mut pipe), expected);
        assert_eq!(pipe.answers.len(), 1);
        assert_eq!(pipe.answers[0].1, "OK done");
    }

    #[test]
    fn bytes_after_the_last_awaited_completion_pass_unexamined() {
        let mut pipe = Pipeline::default();
        pipe.send_ahead("NOOP");
        pipe.feed(b"mf1 OK done\r\na3 OK x\r\n* partial line with no end");
        assert_eq!(drained(&mut pipe), b"a3 OK x\r\n* partial line with no end");
        assert!(!pipe.filtering());
        // The end of the stream passes on a partial line while still filtering.
        pipe.send_ahead("NOOP");
        pipe.feed(b"* half");
        assert!(drained(&mut pipe).is_empty());
        pipe.feed(b"");
        assert_eq!(drained(&mut pipe), b"* half");
    }

    #[test]
    fn literal_lengths_are_read_from_the_end_of_a_line() {
        assert_eq!(literal_length(b"* 1 FETCH (BODY[] {42}\r\n"), 42);
        assert_eq!(literal_length(b"a APPEND x {7+}\r\n"), 7);
        assert_eq!(literal_length(b"* OK {not}\r\n"), 0);
        assert_eq!(literal_length(b"* OK }\r\n"), 0);
        assert_eq!(literal_length(b"{5}\r\n"), 5);
        assert_eq!(literal_length(b"* OK 12}\r\n"), 0);
    }
}
