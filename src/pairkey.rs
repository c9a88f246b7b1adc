//! The pair key: what identifies the same message on both sides when no state pairs them
//! (the Message-ID, or else a SHA-256 of the header block with line endings normalised).
//! Pure; the far side feeds it IMAP `BODY.PEEK[HEADER]` (CRLF), the near side the start
//! of the message file (often LF), and both spellings give the same key.

use crate::model::PairKey;
use sha2::{Digest, Sha256};

/// How much of the normalised header block (LF line endings) the key looks at. Applying the
/// cap here, on the normalised form, makes both sides agree even when one of them read
/// more of the header than the other.
pub const HEADER_CAP: usize = 256 * 1024;

/// How many raw bytes a reader must supply (when the header is that long) for the key to
/// see `HEADER_CAP` normalised bytes: CRLF shrinks to LF, so two raw bytes per normalised
/// byte is always enough, plus a dangling CR.
pub const RAW_READ_CAP: usize = 2 * HEADER_CAP + 2;

/// The pair key of a message from its header block (the input may also carry the blank
/// line and the body; everything from the first empty line on is ignored).
///
/// `mid:<id>` when the header has a non-empty Message-ID (the text between `<` and `>`,
/// else the whole trimmed value), else `hdr:<hex sha-256>` of the normalised header block.
pub fn pair_key_from_header(header: &[u8]) -> PairKey {
    let block = normalised_header_block(header);
    match message_id(&block) {
        Some(id) => PairKey(format!("mid:{id}")),
        None => PairKey(format!("hdr:{}", hex::encode(Sha256::digest(&block)))),
    }
}

/// The header lines up to the first empty line, each ending in a single LF (a CR before
/// the LF dropped, a last line cut short by the end of input treated as complete), cut to
/// `HEADER_CAP` bytes.
fn normalised_header_block(input: &[u8]) -> Vec<u8> {
    let mut block = Vec::with_capacity(input.len().min(HEADER_CAP));
    let mut rest = input;
    while !rest.is_empty() && block.len() < HEADER_CAP {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        block.extend_from_slice(line);
        block.push(b'\n');
        rest = next;
    }
    block.truncate(HEADER_CAP);
    block
}

/// The first Message-ID field's id, unfolded and trimmed; `None` when absent or empty.
fn message_id(block: &[u8]) -> Option<String> {
    let mut lines = block.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line.first().is_some_and(|b| is_wsp(*b)) {
            continue; // a continuation line of some other field
        }
        let name = line[..colon].trim_ascii_end();
        if !name.eq_ignore_ascii_case(b"message-id") {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.next_if(|l| l.first().is_some_and(|b| is_wsp(*b))) {
            value.extend_from_slice(next);
        }
        let value = value.trim_ascii();
        let id = match value.iter().position(|&b| b == b'<') {
            Some(open) => match value[open + 1..].iter().position(|&b| b == b'>') {
                Some(len) => value[open + 1..open + 1 + len].trim_ascii(),
                None => value,
            },
            None => value,
        };
        if id.is_empty() {
            return None;
        }
        return Some(String::from_utf8_lossy(id).into_owned());
    }
    None
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &[u8]) -> String {
        pair_key_from_header(s).0
    }

    #[test]
    fn message_id_between_angle_brackets() {
        assert_eq!(
            key(b"From: a@b\r\nMessage-ID: <abc@example.org>\r\nSubject: x\r\n\r\nbody"),
            "mid:abc@example.org"
        );
    }

    #[test]
    fn message_id_without_brackets_is_the_trimmed_value() {
        assert_eq!(key(b"Message-Id:   abc@host  \n\n"), "mid:abc@host");
    }

    #[test]
    fn lower_case_header_name_and_space_before_colon() {
        assert_eq!(key(b"message-id: <x@y>\n"), "mid:x@y");
        assert_eq!(key(b"MESSAGE-ID : <x@y>\n"), "mid:x@y");
    }

    #[test]
    fn folded_message_id_is_unfolded() {
        assert_eq!(
            key(b"Subject: s\r\nMessage-ID:\r\n <folded@example.org>\r\nTo: t\r\n\r\n"),
            "mid:folded@example.org"
        );
        assert_eq!(
            key(b"Message-ID:\n\t<folded@example.org>\n"),
            "mid:folded@example.org"
        );
    }

    #[test]
    fn resent_message_id_and_body_lines_do_not_count() {
        let k = key(b"Resent-Message-ID: <r@x>\nSubject: s\n\nMessage-ID: <body@x>\n");
        assert!(k.starts_with("hdr:"), "{k}");
    }

    #[test]
    fn empty_message_id_falls_back_to_the_hash() {
        assert!(key(b"Message-ID: <>\nSubject: s\n").starts_with("hdr:"));
        assert!(key(b"Message-ID:\nSubject: s\n").starts_with("hdr:"));
    }

    #[test]
    fn missing_message_id_hashes_the_header_block() {
        let k = key(b"From: a@b\nSubject: hello\n\nbody\n");
        let expected = hex::encode(Sha256::digest(b"From: a@b\nSubject: hello\n"));
        assert_eq!(k, format!("hdr:{expected}"));
    }

    #[test]
    fn crlf_and_lf_spellings_give_the_same_key() {
        let far = b"From: a@b\r\nSubject: hello\r\n\tworld\r\n\r\n";
        let near = b"From: a@b\nSubject: hello\n\tworld\n\nthe body\n";
        assert_eq!(key(far), key(near));
        assert!(key(far).starts_with("hdr:"));
        let far = b"Message-ID: <m@x>\r\n\r\n";
        let near = b"Message-ID: <m@x>\n\nbody";
        assert_eq!(key(far), key(near));
    }

    #[test]
    fn header_only_input_with_or_without_blank_line_or_final_newline() {
        let full = key(b"From: a@b\r\nSubject: s\r\n\r\nbody\r\n");
        assert_eq!(key(b"From: a@b\r\nSubject: s\r\n\r\n"), full);
        assert_eq!(key(b"From: a@b\r\nSubject: s\r\n"), full);
        assert_eq!(key(b"From: a@b\nSubject: s"), full);
        assert_ne!(key(b"From: a@b\nSubject: t\n"), full);
    }

    #[test]
    fn eight_bit_headers_do_not_panic_and_stay_stable() {
        let raw = b"Subject: caf\xe9 \xff\xfe\r\nFrom: \x80\x81\r\n\r\n";
        let k = key(raw);
        assert!(k.starts_with("hdr:"));
        assert_eq!(k, key(b"Subject: caf\xe9 \xff\xfe\nFrom: \x80\x81\n"));
        let mid = key(b"Message-ID: <\xe9t\xe9@host>\n");
        assert_eq!(mid, "mid:\u{fffd}t\u{fffd}@host");
    }

    #[test]
    fn empty_input_and_leading_blank_line_hash_the_empty_block() {
        let empty = format!("hdr:{}", hex::encode(Sha256::digest(b"")));
        assert_eq!(key(b""), empty);
        assert_eq!(key(b"\r\nMessage-ID: <m@x>\r\n"), empty);
    }

    #[test]
    fn huge_headers_agree_when_one_side_read_only_the_raw_cap() {
        let mut far = Vec::new();
        while far.len() < 3 * HEADER_CAP {
            far.extend_from_slice(b"Received: from somewhere by elsewhere\r\n");
        }
        far.extend_from_slice(b"Message-ID: <late@x>\r\n\r\n");
        let near_full: Vec<u8> = String::from_utf8(far.clone())
            .unwrap()
            .replace("\r\n", "\n")
            .into_bytes();
        let k = key(&far);
        assert!(k.starts_with("hdr:"), "the Message-ID lies beyond the cap");
        assert_eq!(key(&far[..RAW_READ_CAP]), k);
        assert_eq!(key(&near_full[..RAW_READ_CAP]), k);
        assert_eq!(key(&near_full), k);
    }
}
