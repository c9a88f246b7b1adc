//! Appending several messages with one command: MULTIAPPEND (RFC 3502) with LITERAL+
//! literals (RFC 7888), so a folder's new near messages reach the server in one round
//! trip and one server transaction, instead of two round trips (the literal's
//! continuation, then the answer) per message.

use super::{FarResult, FarSession, RESPONSE_BYTES, clip, quote_mailbox, to_crlf, to_datetime};
use crate::flags::Flags;
use crate::model::FarUid;
use std::time::SystemTime;

/// Most body bytes sent in one APPEND command.
const APPEND_BATCH_BYTES: usize = 4 << 20;
/// Most messages sent in one APPEND command.
const APPEND_BATCH_MESSAGES: usize = 100;

/// One message to append.
pub struct Upload<'a> {
    pub body: &'a [u8],
    pub flags: Flags,
    pub date: Option<SystemTime>,
}

impl FarSession {
    /// Appends the messages to `server_name`, in order; for each, its new UID when the
    /// server says (APPENDUID). Uses one command per batch where the server offers
    /// MULTIAPPEND and LITERAL+ (and the bodies are text the `imap` crate can send),
    /// else one APPEND per message. Each command is all or nothing (RFC 3502): when one
    /// fails, the error says so and none of its messages was added.
    pub fn append_many(
        &mut self,
        server_name: &str,
        uploads: &[Upload<'_>],
    ) -> FarResult<Vec<Option<FarUid>>> {
        let mut uids = Vec::with_capacity(uploads.len());
        let mut start = 0;
        while start < uploads.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < uploads.len()
                && end - start < APPEND_BATCH_MESSAGES
                && (end == start || bytes + uploads[end].body.len() <= APPEND_BATCH_BYTES)
            {
                bytes += uploads[end].body.len();
                end += 1;
            }
            let batch = &uploads[start..end];
            match self.multi_append_command(server_name, batch) {
                Some(command) => {
                    uids.extend(self.run_multi_append(server_name, &command, batch)?)
                }
                None => {
                    for upload in batch {
                        uids.push(self.append(
                            server_name,
                            upload.body,
                            upload.flags,
                            upload.date,
                        )?);
                    }
                }
            }
            start = end;
        }
        Ok(uids)
    }

    /// The MULTIAPPEND command for `batch`, or `None` when it cannot be sent as one (the
    /// server lacks MULTIAPPEND or LITERAL+, a single message, a body that is not UTF-8,
    /// or a mailbox name no quoted string can hold).
    fn multi_append_command(&self, server_name: &str, batch: &[Upload<'_>]) -> Option<String> {
        if !(self.caps.multiappend && self.caps.literal_plus) || batch.len() < 2 {
            return None;
        }
        let mut command = format!("APPEND {}", quote_mailbox(server_name)?);
        for upload in batch {
            let body = to_crlf(upload.body);
            let text = std::str::from_utf8(&body).ok()?;
            command.push_str(&format!(" ({})", upload.flags.to_imap().join(" ")));
            if let Some(date) = upload.date.and_then(to_datetime) {
                command.push_str(&format!(" \"{}\"", date.format("%d-%h-%Y %T %z")));
            }
            command.push_str(&format!(" {{{}+}}\r\n", text.len()));
            command.push_str(text);
        }
        Some(command)
    }

    fn run_multi_append(
        &mut self,
        server_name: &str,
        command: &str,
        batch: &[Upload<'_>],
    ) -> FarResult<Vec<Option<FarUid>>> {
        let largest = batch.iter().map(|u| u.body.len() as u64).max().unwrap_or(0);
        self.largest = self.largest.max(largest);
        let (data, tagged) = self
            .call(RESPONSE_BYTES, |s| s.run(command))
            .map_err(|e| self.err(&format!("APPEND to {:?}", clip(server_name)), e))?;
        crate::failpoint::hit();
        self.drain();
        let uids = data
            .get(tagged..)
            .and_then(appended_uids)
            .filter(|uids| uids.len() == batch.len());
        Ok(match uids {
            Some(uids) => uids.into_iter().map(Some).collect(),
            None => vec![None; batch.len()],
        })
    }
}

/// The UIDs of an `[APPENDUID validity set]` code in a tagged OK, in order.
fn appended_uids(tagged: &[u8]) -> Option<Vec<FarUid>> {
    use imap_proto::{Response, ResponseCode, Status, UidSetMember};
    let (_, response) = imap_proto::parser::parse_response(tagged).ok()?;
    let Response::Done {
        status: Status::Ok,
        code: Some(ResponseCode::AppendUid(_, set)),
        ..
    } = response
    else {
        return None;
    };
    let mut uids = Vec::new();
    for member in set {
        match member {
            UidSetMember::Uid(uid) => uids.push(FarUid(uid)),
            UidSetMember::UidRange(range) => {
                let (first, last) = (*range.start(), *range.end());
                if last < first || last - first > 100_000 {
                    return None;
                }
                uids.extend((first..=last).map(FarUid));
            }
        }
    }
    Some(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appenduid_sets_are_read_in_order() {
        assert_eq!(
            appended_uids(b"a5 OK [APPENDUID 77 4:6,9] Append completed.\r\n"),
            Some(vec![FarUid(4), FarUid(5), FarUid(6), FarUid(9)])
        );
        assert_eq!(appended_uids(b"a5 OK Append completed.\r\n"), None);
        assert_eq!(appended_uids(b"a5 NO [OVERQUOTA] full\r\n"), None);
    }
}
