//! Asking the server what changed instead of listing everything: STATUS (pipelined, one
//! round trip) to tell which folders changed at all, and CONDSTORE's
//! CHANGEDSINCE (with QRESYNC's VANISHED, or a UID SEARCH for expunges) to fetch only
//! the flags that changed and the messages that are new since the last run.

use super::responses::{Failure, Responses, completion, unasked};
use super::wire;
use super::{FarError, FarResult, FarSession, LISTED_MESSAGE_BYTES, RESPONSE_BYTES};
use super::{flags_of, quote_mailbox};
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
    /// since it last looked, where it answers STATUS from its list index for most folders.
    ///
    /// `answered` is called for each folder as soon as its answer is complete, in the
    /// order asked (so the caller can start on a folder while the server still works on
    /// the others): with its status, or `None` when the server refused it or said nothing
    /// usable (the folder is then selected and listed in full). Nothing is asked without
    /// CONDSTORE (no HIGHESTMODSEQ, nothing to compare). On an error, the folders not
    /// yet answered are not, and the connection is left broken.
    pub fn folder_statuses(
        &mut self,
        names: &[&str],
        answered: &mut dyn FnMut(&str, Option<FarSnapshot>),
    ) -> FarResult<()> {
        if !self.caps.condstore {
            return Ok(());
        }
        if self.broken {
            return Err(self.err("STATUS", super::out_of_step()));
        }
        let asked: Vec<(&str, String)> = names
            .iter()
            .filter_map(|name| quote_mailbox(name).map(|quoted| (*name, quoted)))
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        let mut awaited = Vec::new();
        let sent = {
            let mut wire = wire::lock(&self.wire);
            let mut commands = String::new();
            for (name, quoted) in &asked {
                let tag = wire.pipeline.fresh_tag();
                commands.push_str(&format!("{tag} STATUS {quoted} {STATUS_ITEMS}\r\n"));
                awaited.push((tag, name.to_string()));
            }
            wire.send(commands.as_bytes())
        };
        if let Err(e) = sent {
            self.broken = true;
            return Err(self.err("STATUS", imap::Error::Io(e)));
        }
        self.read_statuses(awaited, answered)
    }

    /// Reads the answers to the STATUS commands `awaited` ((tag, server name), sent
    /// pipelined), handing each folder's to `answered` once its command is finished. A
    /// refusal is logged and only leaves that folder's status out; anything else wrong is
    /// an error and leaves the connection broken.
    fn read_statuses(
        &mut self,
        mut awaited: Vec<(String, String)>,
        answered: &mut dyn FnMut(&str, Option<FarSnapshot>),
    ) -> FarResult<()> {
        let mut statuses = HashMap::new();
        let answers_to = |response: &[u8], tag: &str| {
            response
                .strip_prefix(tag.as_bytes())
                .is_some_and(|rest| rest.starts_with(b" "))
        };
        let shared = Arc::clone(&self.wire);
        let mut wire = wire::lock(&shared);
        wire.start(RESPONSE_BYTES.saturating_mul(awaited.len() as u64));
        let mut responses = Responses::new(wire.pipeline.take_all_ready());
        let mut response = Vec::new();
        let outcome = loop {
            if awaited.is_empty() {
                break Ok(());
            }
            if let Err(e) = responses.next(&mut wire, &mut response) {
                break Err(e);
            }
            if let Some(at) = awaited
                .iter()
                .position(|(tag, _)| answers_to(&response, tag))
            {
                let (tag, name) = awaited.remove(at);
                let status = statuses.remove(&name);
                match completion(&response[tag.len() + 1..], "STATUS") {
                    Ok(()) => answered(&name, status),
                    Err(Failure::Refused(why)) => {
                        self.log_status_refused(&name, &why);
                        answered(&name, None);
                    }
                    Err(e) => break Err(e),
                }
            } else if !response.starts_with(b"* ") {
                break Err(unasked(&response, "STATUS"));
            } else if untagged_status(&response, &mut statuses) {
                break Err(Failure::Io(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server is closing the connection",
                )));
            }
        };
        if outcome.is_ok() {
            wire.pipeline.give_back(responses.leftover());
        }
        drop(wire);
        outcome.map_err(|failure| {
            self.broken = true;
            self.failed("STATUS", failure)
        })
    }

    /// A refused STATUS only costs the shortcut: the folder is selected and listed.
    fn log_status_refused(&self, name: &str, why: &str) {
        crate::log::folder(&format!(
            "{}: STATUS {name:?} refused ({why}); the folder will be selected",
            self.endpoint
        ));
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

/// Takes the `* STATUS` in one untagged response into `statuses` when it carries all
/// four items; true if the response is the server's BYE (it is closing the connection).
/// Anything else, including a response that does not parse (or makes the parser panic),
/// is skipped. The response is parsed once.
fn untagged_status(response: &[u8], statuses: &mut HashMap<String, FarSnapshot>) -> bool {
    use imap_proto::{MailboxDatum, Response, Status, StatusAttribute};
    let parsed = super::guarded(|| {
        Ok(match imap_proto::parser::parse_response(response) {
            Ok((
                _,
                Response::Data {
                    status: Status::Bye,
                    ..
                },
            )) => Err(()),
            Ok((_, Response::MailboxData(MailboxDatum::Status { mailbox, status }))) => {
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
                let snapshot = match (validity, next, messages, modseq) {
                    (Some(uid_validity), Some(uid_next), Some(messages), Some(highest_modseq)) => {
                        Some(FarSnapshot {
                            uid_validity,
                            uid_next,
                            messages,
                            highest_modseq,
                        })
                    }
                    _ => None,
                };
                Ok(snapshot.map(|snapshot| (mailbox.to_string(), snapshot)))
            }
            _ => Ok(None),
        })
    });
    match parsed {
        Ok(Err(())) => true,
        Ok(Ok(Some((mailbox, snapshot)))) => {
            statuses.insert(mailbox, snapshot);
            false
        }
        _ => false,
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
        for response in data.split_inclusive(|b| *b == b'\n') {
            assert!(!untagged_status(response, &mut statuses));
        }
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
        assert!(untagged_status(b"* BYE going away\r\n", &mut statuses));
        assert_eq!(statuses.len(), 2);
    }
}
