//! Asking the server what changed instead of listing everything: STATUS (pipelined, one
//! round trip) to tell which folders changed at all, and CONDSTORE's
//! CHANGEDSINCE (with QRESYNC's VANISHED, or a UID SEARCH for expunges) to fetch only
//! the flags that changed and the messages that are new since the last run.

use super::responses::{Failure, Responses, completion, unasked};
use super::wire;
use super::{FarError, FarResult, FarSession, LISTED_MESSAGE_BYTES, RESPONSE_BYTES};
use super::{clip, flags_of, quote_mailbox};
use crate::model::{FarChanges, FarMessage, FarSnapshot, FarUid, Gone};
use imap::types::UnsolicitedResponse;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

/// What STATUS is asked for: enough to tell whether a folder changed since a snapshot.
const STATUS_ITEMS: &str = "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)";

impl FarSession {
    /// Turns QRESYNC on for this connection (before any SELECT, as RFC 5161 wants); on a
    /// server that refuses, the connection goes on with CONDSTORE alone.
    pub(super) fn enable_qresync(&mut self) {
        if !self.caps.qresync {
            return;
        }
        let enabled = self.call(RESPONSE_BYTES, |s| {
            s.run_command_and_read_response("ENABLE QRESYNC")
        });
        self.drain();
        if enabled.is_err() && !self.broken {
            self.caps.qresync = false;
        }
    }

    /// STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ) of the named folders, by
    /// server name, in one round trip: one STATUS per folder, pipelined (so the server
    /// does no work for folders not asked about). Not LIST-STATUS, even where offered:
    /// Dovecot answers it by re-reading, one after the other, every Maildir folder changed
    /// since it last looked (0.2-0.4 s on the benchmark's day of changes), where STATUS
    /// answers from its list index (a few ms). Empty without CONDSTORE (no
    /// HIGHESTMODSEQ, nothing to compare); a folder the server answers nothing usable
    /// for is left out (it is then listed in full).
    pub fn folder_statuses(&mut self, names: &[&str]) -> FarResult<HashMap<String, FarSnapshot>> {
        let mut statuses = HashMap::new();
        if !self.caps.condstore || names.is_empty() {
            return Ok(statuses);
        }
        let items = STATUS_ITEMS;
        // A refusal (NO or BAD) only costs the shortcut: those folders are selected and
        // listed as if nothing were known. A broken connection is an error.
        let mut asked: Vec<(&str, String)> = names
            .iter()
            .filter_map(|name| {
                quote_mailbox(name).map(|quoted| (*name, format!("STATUS {quoted} {items}")))
            })
            .collect();
        let Some((last_name, last)) = asked.pop() else {
            return Ok(statuses);
        };
        let ahead: Vec<String> = asked.iter().map(|(_, command)| command.clone()).collect();
        let limit = RESPONSE_BYTES.saturating_mul(names.len() as u64);
        let (outcome, answers) =
            self.pipelined(&ahead, limit, |s| s.run_command_and_read_response(last))?;
        for ((name, _), answer) in asked.iter().zip(&answers) {
            let status = answer.split(' ').next().unwrap_or("");
            if !answer.is_empty() && !status.eq_ignore_ascii_case("OK") {
                self.log_status_refused(name, &clip(answer));
            }
        }
        match outcome {
            Ok(data) => parse_statuses(&data, &mut statuses),
            Err(e) if is_refusal(&e) => self.log_status_refused(last_name, &e.to_string()),
            Err(e) => return Err(self.err("STATUS", e)),
        }
        statuses.retain(|name, _| names.contains(&name.as_str()));
        Ok(statuses)
    }

    /// A refused STATUS only costs the shortcut: the folder is selected and listed.
    fn log_status_refused(&self, name: &str, why: &str) {
        crate::log::folder(&format!(
            "{}: STATUS {name:?} refused ({why}); the folder will be selected",
            self.endpoint
        ));
    }

    /// Sends STATUS for `name` without reading the answer, so the server works on it
    /// while the caller goes on (Dovecot re-reads a folder changed within the last second
    /// for STATUS: 0.2-0.35 s for the benchmark's INBOX, after a day of changes). The
    /// answer is read by [`FarSession::status_ahead`], or dropped before the next
    /// command on this connection. False when nothing was sent (no CONDSTORE, a name
    /// that cannot be sent, a STATUS already on its way).
    pub fn send_status_ahead(&mut self, name: &str) -> FarResult<bool> {
        if !self.caps.condstore || self.broken || self.status_ahead.is_some() {
            return Ok(false);
        }
        let Some(quoted) = quote_mailbox(name) else {
            return Ok(false);
        };
        let sent = {
            let mut wire = wire::lock(&self.wire);
            let tag = wire.pipeline.fresh_tag();
            let command = format!("{tag} STATUS {quoted} {STATUS_ITEMS}\r\n");
            wire.send(command.as_bytes()).map(|()| tag)
        };
        match sent {
            Ok(tag) => {
                self.status_ahead = Some((tag, name.to_string()));
                Ok(true)
            }
            Err(e) => {
                self.broken = true;
                Err(self.err("STATUS", imap::Error::Io(e)))
            }
        }
    }

    /// The answer to the STATUS [`FarSession::send_status_ahead`] sent for `name`:
    /// `None` if none was sent for it, or the server refused it or said nothing usable.
    pub fn status_ahead(&mut self, name: &str) -> FarResult<Option<FarSnapshot>> {
        if self
            .status_ahead
            .as_ref()
            .is_none_or(|(_, asked)| asked != name)
        {
            return Ok(None);
        }
        self.read_status_ahead()
    }

    /// Reads and drops the answer to a STATUS sent ahead, if any, so that the next
    /// command finds the connection in step; a failure leaves it broken.
    pub(super) fn settle_status_ahead(&mut self) {
        if self.status_ahead.is_some() {
            let _ = self.read_status_ahead();
        }
    }

    fn read_status_ahead(&mut self) -> FarResult<Option<FarSnapshot>> {
        let Some((tag, name)) = self.status_ahead.take() else {
            return Ok(None);
        };
        if self.broken {
            return Err(self.err("STATUS", super::out_of_step()));
        }
        let shared = Arc::clone(&self.wire);
        let mut wire = wire::lock(&shared);
        wire.start(RESPONSE_BYTES);
        let mut responses = Responses::new(wire.pipeline.take_all_ready());
        let mut response = Vec::new();
        let mut statuses = HashMap::new();
        let outcome = loop {
            if let Err(e) = responses.next(&mut wire, &mut response) {
                break Err(e);
            }
            if let Some(rest) = response
                .strip_prefix(tag.as_bytes())
                .and_then(|rest| rest.strip_prefix(b" "))
            {
                break completion(rest, "STATUS");
            }
            if !response.starts_with(b"* ") {
                break Err(unasked(&response, "STATUS"));
            }
            if untagged_status(&response, &mut statuses) {
                break Err(Failure::Io(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server is closing the connection",
                )));
            }
        };
        let in_step = matches!(outcome, Ok(()) | Err(Failure::Refused(_)));
        if in_step {
            wire.pipeline.give_back(responses.leftover());
        }
        drop(wire);
        if !in_step {
            self.broken = true;
        }
        match outcome {
            Ok(()) => Ok(statuses.remove(&name)),
            Err(Failure::Refused(text)) => {
                self.log_status_refused(&name, &text);
                Ok(None)
            }
            Err(Failure::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.err("STATUS", imap::Error::ConnectionLost))
            }
            Err(Failure::Io(e)) => Err(self.err("STATUS", imap::Error::Io(e))),
            Err(Failure::Broken(text)) => Err(FarError::permanent(format!(
                "{}: STATUS: {text}",
                self.endpoint
            ))),
        }
    }

    /// What changed in the selected folder since `modseq`, for the messages below
    /// `below` (the UIDNEXT of then), and the messages at or above it. `exists` (from
    /// SELECT) bounds the answers' size. Answers that contradict themselves (UID 0, a UID
    /// at or above UIDNEXT, an old UID reported as new) are errors, as in a full listing.
    pub fn changes_since(&mut self, modseq: u64, below: u32, exists: u32) -> FarResult<FarChanges> {
        let uid_next = self.uid_next;
        let endpoint = self.endpoint.clone();
        let broken = |detail: String| {
            FarError::permanent(format!(
                "{endpoint}: the server's list of changes is inconsistent: {detail}; not syncing this folder on the strength of it"
            ))
        };
        let check = |uid: u32| -> FarResult<()> {
            if uid == 0 {
                return Err(broken("a message has UID 0".into()));
            }
            match uid_next {
                Some(next) if uid >= next => Err(broken(format!(
                    "UID {uid} is at or above the UIDNEXT {next} the server announced"
                ))),
                _ => Ok(()),
            }
        };
        let limit = RESPONSE_BYTES + u64::from(exists) * LISTED_MESSAGE_BYTES;
        let mut changes = FarChanges::default();
        // One FETCH for both: every message new since has a MODSEQ above `modseq` too.
        let qresync = self.caps.qresync;
        let modifiers = if qresync {
            format!("(CHANGEDSINCE {modseq} VANISHED)")
        } else {
            format!("(CHANGEDSINCE {modseq})")
        };
        let fetches = self
            .call(limit, |s| {
                s.uid_fetch("1:*", format!("(UID FLAGS RFC822.SIZE) {modifiers}"))
            })
            .map_err(|e| self.err("UID FETCH (CHANGEDSINCE)", e))?;
        for fetch in fetches.iter() {
            let Some(uid) = fetch.uid else { continue };
            check(uid)?;
            let flags = flags_of(fetch.flags());
            if uid < below {
                changes.changed.push((FarUid(uid), flags));
            } else {
                let size = fetch.size.unwrap_or(0);
                self.largest = self.largest.max(u64::from(size));
                changes.new.push(FarMessage {
                    uid: FarUid(uid),
                    flags,
                    size,
                });
            }
        }
        drop(fetches);
        let mut vanished = Vec::new();
        for response in self.session.take_all_unsolicited() {
            if let UnsolicitedResponse::Vanished { uids, .. } = response {
                for range in uids {
                    let (start, end) = (*range.start(), *range.end());
                    if start >= below {
                        continue;
                    }
                    let end = end.min(below - 1);
                    if end.saturating_sub(start) > exists.saturating_add(below) {
                        return Err(broken(format!(
                            "VANISHED names {start}:{end}, more UIDs than the folder ever had"
                        )));
                    }
                    vanished.extend((start..=end).map(FarUid));
                }
            }
        }
        changes.gone = if qresync || below <= 1 {
            Gone::Vanished(vanished)
        } else {
            let last = below - 1;
            Gone::Present(self.searched_uids(limit, &format!("1:{last}"), 1..=last)?)
        };
        changes.new.sort_by_key(|m| m.uid);
        if changes.new.windows(2).any(|w| w[0].uid == w[1].uid) {
            return Err(broken("a new message was listed twice".into()));
        }
        Ok(changes)
    }
}

/// Whether the server answered NO or BAD (the connection is still in step).
fn is_refusal(e: &imap::Error) -> bool {
    matches!(e, imap::Error::No(_) | imap::Error::Bad(_))
}

/// Takes a STATUS from one untagged response into `statuses`; true if the response is
/// the server's BYE (it is closing the connection). A response that does not parse (or
/// makes the parser panic) is skipped, as in [`parse_statuses`].
fn untagged_status(response: &[u8], statuses: &mut HashMap<String, FarSnapshot>) -> bool {
    use imap_proto::{Response, Status};
    let bye = super::guarded(|| {
        Ok(matches!(
            imap_proto::parser::parse_response(response),
            Ok((
                _,
                Response::Data {
                    status: Status::Bye,
                    ..
                }
            ))
        ))
    });
    if bye.as_ref().is_ok_and(|bye| *bye) {
        return true;
    }
    if bye.is_ok() {
        let _ = super::guarded(|| {
            parse_statuses(response, statuses);
            Ok(())
        });
    }
    false
}

/// Collects the `* STATUS` answers among `data` (other lines are skipped) that carry all
/// four items.
fn parse_statuses(mut data: &[u8], statuses: &mut HashMap<String, FarSnapshot>) {
    use imap_proto::{MailboxDatum, Response, StatusAttribute};
    while !data.is_empty() {
        let Ok((rest, response)) = imap_proto::parser::parse_response(data) else {
            // Skip a line this parser does not know.
            match data.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    data = &data[end + 1..];
                    continue;
                }
                None => return,
            }
        };
        data = rest;
        if let Response::MailboxData(MailboxDatum::Status { mailbox, status }) = response {
            let (mut validity, mut next, mut messages, mut modseq) = (None, None, None, None);
            for item in status {
                match item {
                    StatusAttribute::UidValidity(v) => validity = Some(v),
                    StatusAttribute::UidNext(v) => next = Some(v),
                    StatusAttribute::Messages(v) => messages = Some(v),
                    StatusAttribute::HighestModSeq(v) => modseq = Some(v),
                    _ => {}
                }
            }
            if let (Some(uid_validity), Some(uid_next), Some(messages), Some(highest_modseq)) =
                (validity, next, messages, modseq)
            {
                statuses.insert(
                    mailbox.to_string(),
                    FarSnapshot {
                        uid_validity,
                        uid_next,
                        messages,
                        highest_modseq,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_answers_are_read_and_incomplete_ones_skipped() {
        let data = b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* STATUS INBOX (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 77 HIGHESTMODSEQ 12)\r\n\
* LIST (\\HasNoChildren) \"/\" \"Sent Items\"\r\n\
* STATUS \"Sent Items\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 78 HIGHESTMODSEQ 1)\r\n\
* STATUS Other (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 78)\r\n\
* SOMETHING the parser does not know\r\n";
        let mut statuses = HashMap::new();
        parse_statuses(data, &mut statuses);
        assert_eq!(statuses.len(), 2, "{statuses:?}");
        assert_eq!(
            statuses["INBOX"],
            FarSnapshot {
                uid_validity: 77,
                uid_next: 9,
                messages: 3,
                highest_modseq: 12
            }
        );
        assert_eq!(statuses["Sent Items"].uid_validity, 78);
    }
}
