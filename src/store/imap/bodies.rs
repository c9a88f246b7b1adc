//! Message bodies downloaded straight off the wire. The `imap` crate re-parses an answer
//! from its start after every line it reads (a body is thousands of lines) and holds a
//! whole batch in memory; here each FETCH response is read whole (its literal in one
//! piece), parsed once, and handed on at once, and the next batch's command is already
//! on its way while one batch is being written to disk.

use super::responses::{Failure, READ_CHUNK, Responses, completion, unasked};
use super::wire::{self, SharedWire};
use super::{BODY_BATCH_BYTES, FETCHED_MESSAGE_SLACK, FarSession, LARGE_FETCH, clip, uid_set};
use crate::model::FarUid;
use imap_proto::types::{AttributeValue, Response, Status};
use std::collections::HashSet;
use std::io;
use std::sync::Arc;

/// Batch commands on their way at once: one answered while the next is prepared.
const IN_FLIGHT: usize = 2;
const WHAT: &str = "UID FETCH BODY.PEEK[]";

/// One FETCH command's worth of bodies.
struct Batch {
    uids: Vec<FarUid>,
    /// Most bytes its answer may take.
    limit: u64,
    /// Holds a message larger than [`BODY_BATCH_BYTES`]: fetched under [`LARGE_FETCH`].
    large: bool,
}

/// Splits `wanted` (UID, size) into batches of at most [`BODY_BATCH_BYTES`]; a larger
/// message goes alone.
fn batches(wanted: &[(FarUid, u32)]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < wanted.len() {
        let mut end = start;
        let mut bytes = 0u64;
        let mut largest = 0u64;
        while end < wanted.len()
            && (end == start || bytes + u64::from(wanted[end].1) <= BODY_BATCH_BYTES)
        {
            bytes += u64::from(wanted[end].1);
            largest = largest.max(u64::from(wanted[end].1));
            end += 1;
        }
        let uids: Vec<FarUid> = wanted[start..end].iter().map(|(uid, _)| *uid).collect();
        let limit = BODY_BATCH_BYTES
            + largest
            + FETCHED_MESSAGE_SLACK * uids.len() as u64
            + READ_CHUNK as u64;
        out.push(Batch {
            uids,
            limit,
            large: largest > BODY_BATCH_BYTES,
        });
        start = end;
    }
    out
}

/// A FETCH response's UID and whole-message body, when it has both.
fn uid_and_body<'a>(attributes: &'a [AttributeValue<'a>]) -> Option<(u32, &'a [u8])> {
    let uid = attributes.iter().find_map(|a| match a {
        AttributeValue::Uid(uid) => Some(*uid),
        _ => None,
    })?;
    let body = attributes.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: None,
            data: Some(data),
            ..
        } => Some(data.as_ref()),
        _ => None,
    })?;
    Some((uid, body))
}

/// How one response bears on the batches being read.
#[derive(Debug, PartialEq)]
enum Read {
    /// The command of `tags[n]` finished.
    Done(usize),
    /// Anything else: a body (handed to `on_body`), flag news, EXISTS, EXPUNGE...
    Other,
}

/// Makes sense of one response; `tags` are the commands being answered, and a body in
/// it goes to `on_body` with its UID.
fn classify(
    response: &[u8],
    tags: &[&str],
    on_body: &mut dyn FnMut(u32, &[u8]),
) -> Result<Read, Failure> {
    let completed = tags.iter().enumerate().find_map(|(at, tag)| {
        response
            .strip_prefix(tag.as_bytes())
            .and_then(|rest| rest.strip_prefix(b" "))
            .map(|rest| (at, rest))
    });
    if let Some((at, rest)) = completed {
        return completion(rest, WHAT).map(|()| Read::Done(at));
    }
    if !response.starts_with(b"* ") {
        return Err(unasked(response, WHAT));
    }
    // imap-proto still panics on some hostile input: that is a broken answer too.
    let parsed = super::guarded(|| Ok(imap_proto::parser::parse_response(response)));
    match parsed {
        Ok(Ok((_, Response::Fetch(_, attributes)))) => {
            if let Some((uid, body)) = uid_and_body(&attributes) {
                on_body(uid, body);
            }
            Ok(Read::Other)
        }
        Ok(Ok((
            _,
            Response::Data {
                status: Status::Bye,
                information,
                ..
            },
        ))) => Err(Failure::Io(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the server is closing the connection: {}",
                clip(information.as_deref().unwrap_or(""))
            ),
        ))),
        Ok(Ok(_)) => Ok(Read::Other),
        _ => Err(Failure::Broken(
            "the server sent a response that is not valid IMAP (a broken server?)".into(),
        )),
    }
}

impl FarSession {
    /// Fetches message bodies in batches of at most [`BODY_BATCH_BYTES`] (one larger
    /// message goes alone) and hands each to `deliver` with its UID as it arrives;
    /// `after_batch` runs after every batch, and before returning an error (the caller
    /// makes what was delivered durable there). Returns the UIDs the server no longer
    /// had.
    ///
    /// Two batch commands are on their way at once, so the server reads one batch while
    /// the caller writes the previous one (a server may answer them interleaved: a body
    /// counts for whichever batch asked for it). A message larger than a batch is fetched
    /// alone, under [`LARGE_FETCH`]. The answers may take [`BODY_BATCH_BYTES`] plus their
    /// largest message (as RFC822.SIZE said) plus some slack per message, per batch on
    /// its way; a server sending more (a literal announcing gigabytes, say) fails the
    /// folder instead of exhausting memory.
    pub fn fetch_bodies(
        &mut self,
        wanted: &[(FarUid, u32)],
        deliver: &mut dyn FnMut(FarUid, &[u8]) -> anyhow::Result<()>,
        after_batch: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<FarUid>> {
        if self.broken {
            return Err(self.err(WHAT, super::out_of_step()).into());
        }
        let batches = batches(wanted);
        let shared: SharedWire = Arc::clone(&self.wire);
        let mut wire = wire::lock(&shared);
        let mut responses = Responses::new(wire.pipeline.take_all_ready());
        // Batches on their way: (index, tag).
        let mut in_flight: Vec<(usize, String)> = Vec::new();
        let mut expected: HashSet<u32> = HashSet::new();
        let mut got: HashSet<u32> = HashSet::new();
        let mut large_guard = None;
        let mut missing = Vec::new();
        let mut deliver_failure: Option<anyhow::Error> = None;
        let mut response = Vec::new();
        let mut next = 0;
        let outcome = 'answers: loop {
            let mut sent_more = false;
            while next < batches.len()
                && in_flight.len() < IN_FLIGHT
                && large_guard.is_none()
                && deliver_failure.is_none()
            {
                let batch = &batches[next];
                if batch.large {
                    if !in_flight.is_empty() {
                        break;
                    }
                    large_guard = Some(
                        LARGE_FETCH
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                    );
                }
                let tag = wire.pipeline.fresh_tag();
                let uids = uid_set(&batch.uids);
                let command = format!("{tag} UID FETCH {uids} BODY.PEEK[]\r\n");
                if let Err(e) = wire.send(command.as_bytes()) {
                    break 'answers Err(Failure::Io(e));
                }
                expected.extend(batch.uids.iter().map(|uid| uid.0));
                in_flight.push((next, tag));
                next += 1;
                sent_more = true;
            }
            if in_flight.is_empty() {
                break Ok(());
            }
            if sent_more {
                wire.start(in_flight.iter().map(|(i, _)| batches[*i].limit).sum());
            }
            if let Err(e) = responses.next(&mut wire, &mut response) {
                break Err(e);
            }
            let mut on_body = |uid: u32, body: &[u8]| {
                if deliver_failure.is_none()
                    && expected.contains(&uid)
                    && got.insert(uid)
                    && let Err(e) = deliver(FarUid(uid), body)
                {
                    deliver_failure = Some(e);
                }
            };
            let tags: Vec<&str> = in_flight.iter().map(|(_, tag)| tag.as_str()).collect();
            match classify(&response, &tags, &mut on_body) {
                Ok(Read::Done(at)) => {
                    let (index, _) = in_flight.remove(at);
                    let batch = &batches[index];
                    if batch.large {
                        large_guard = None;
                    }
                    for uid in &batch.uids {
                        expected.remove(&uid.0);
                        if !got.remove(&uid.0) {
                            missing.push(*uid);
                        }
                    }
                    if deliver_failure.is_none()
                        && let Err(e) = after_batch()
                    {
                        deliver_failure = Some(e);
                    }
                }
                Ok(Read::Other) => {}
                Err(e) => break Err(e),
            }
            if response.capacity() > BODY_BATCH_BYTES as usize {
                // A large message's room goes back with the large-fetch turn: one at a
                // time in the process, not one kept per connection.
                response = Vec::new();
            }
        };
        drop(large_guard);
        let in_step = match &outcome {
            Ok(()) => true,
            Err(Failure::Refused(_)) => in_flight.len() <= 1,
            Err(_) => false,
        };
        if in_step {
            wire.pipeline.give_back(responses.leftover());
        }
        drop(wire);
        if !in_step {
            self.broken = true;
        }
        let failure = outcome.err().map(|failure| self.failed(WHAT, failure));
        if deliver_failure.is_some() || failure.is_some() {
            // Keep what was delivered before the failure (say, a full disk): made
            // durable and recorded, then the error.
            after_batch()?;
        }
        if let Some(e) = deliver_failure {
            return Err(e);
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A wire reading what `server` sends, with a budget of `limit` bytes.
    fn wire_from(server: &[u8], limit: u64) -> SharedWire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        reader
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        writer.write_all(server).unwrap();
        drop(writer);
        wire::Wire::new(wire::Stream::Plain(reader), limit, None)
    }

    #[test]
    fn responses_are_cut_whole_literals_and_all() {
        // A body longer than a read, holding a line that looks like our completion.
        let body = "x".repeat(3 * READ_CHUNK / 2) + "\r\nmf1 OK not a tag\r\n";
        let first = format!("* 1 FETCH (UID 5 BODY[] {{{}}}\r\n{body})\r\n", body.len());
        let server = format!(
            "{}* 2 EXISTS\r\n* 2 FETCH (BODY[] {{3}}\r\nabc UID 6)\r\nmf1 OK done\r\nleft",
            &first[4..]
        );
        let shared = wire_from(server.as_bytes(), 1 << 30);
        let mut wire = wire::lock(&shared);
        // What the crate's reads had already taken off the stream comes first.
        let mut responses = Responses::new(format!("* 9 EXPUNGE\r\n{}", &first[..4]).into_bytes());
        let mut out = Vec::new();
        let mut cut = Vec::new();
        for _ in 0..5 {
            responses.next(&mut wire, &mut out).unwrap();
            cut.push(String::from_utf8(out.clone()).unwrap());
        }
        assert_eq!(
            cut,
            vec![
                "* 9 EXPUNGE\r\n".to_string(),
                first,
                "* 2 EXISTS\r\n".into(),
                "* 2 FETCH (BODY[] {3}\r\nabc UID 6)\r\n".into(),
                "mf1 OK done\r\n".into(),
            ]
        );
        // The stream ends in the middle of a line.
        assert!(matches!(
            responses.next(&mut wire, &mut out),
            Err(Failure::Io(_))
        ));
    }

    #[test]
    fn a_literal_beyond_the_budget_is_refused_before_it_is_read() {
        let shared = wire_from(b"* 1 FETCH (UID 5 BODY[] {4000000000}\r\nxx", 1000);
        let mut wire = wire::lock(&shared);
        let mut responses = Responses::new(Vec::new());
        let mut out = Vec::new();
        match responses.next(&mut wire, &mut out) {
            Err(Failure::Io(e)) => assert!(e.to_string().contains("exceeded 1000 bytes"), "{e}"),
            _ => panic!("read a 4 GB literal"),
        }
        assert!(out.capacity() < 1 << 20);
    }

    #[test]
    fn batches_keep_to_the_byte_cap_and_large_messages_go_alone() {
        let wanted = [
            (FarUid(1), 600_000),
            (FarUid(2), 400_000),
            (FarUid(3), 100_000),
            (FarUid(4), 3_000_000),
            (FarUid(5), 10),
        ];
        let cut: Vec<(Vec<u32>, bool)> = batches(&wanted)
            .iter()
            .map(|b| (b.uids.iter().map(|u| u.0).collect(), b.large))
            .collect();
        assert_eq!(
            cut,
            vec![
                (vec![1, 2], false),
                (vec![3], false),
                (vec![4], true),
                (vec![5], false)
            ]
        );
    }

    #[test]
    fn responses_are_classified_by_tag_and_kind() {
        let classified = |response: &[u8]| {
            let mut bodies = Vec::new();
            let read = classify(response, &["mf3", "mf4"], &mut |uid, body| {
                bodies.push((uid, body.to_vec()))
            });
            (read, bodies)
        };
        let (read, bodies) = classified(b"* 3 FETCH (UID 17 BODY[] {5}\r\nHello)\r\n");
        assert_eq!(read.ok(), Some(Read::Other));
        assert_eq!(bodies, vec![(17, b"Hello".to_vec())]);
        let (read, bodies) = classified(b"* 3 FETCH (BODY[] {2}\r\nHi UID 9)\r\n");
        assert_eq!(read.ok(), Some(Read::Other));
        assert_eq!(bodies, vec![(9, b"Hi".to_vec())]);
        for other in [
            &b"* 4 EXISTS\r\n"[..],
            b"* 3 FETCH (FLAGS (\\Seen) UID 17)\r\n",
            b"* 3 FETCH (UID 17 BODY[HEADER] {2}\r\nHi)\r\n",
        ] {
            let (read, bodies) = classified(other);
            assert_eq!(read.ok(), Some(Read::Other));
            assert!(bodies.is_empty());
        }
        assert_eq!(classified(b"mf4 OK done\r\n").0.ok(), Some(Read::Done(1)));
        assert_eq!(classified(b"mf3 OK done\r\n").0.ok(), Some(Read::Done(0)));
        assert!(matches!(
            classified(b"mf4 NO [SERVERBUG] oops\r\n").0,
            Err(Failure::Refused(text)) if text.contains("oops")
        ));
        for broken in [
            &b"a9 OK done\r\n"[..],
            b"mf44 OK done\r\n",
            b"+ go on\r\n",
            b"* 3 FETCH (UID 17 BODY[] {5}\r\nHel",
        ] {
            assert!(matches!(classified(broken).0, Err(Failure::Broken(_))));
        }
        assert!(matches!(
            classified(b"* BYE shutting down\r\n").0,
            Err(Failure::Io(_))
        ));
    }
}
