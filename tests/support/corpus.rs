//! A deterministic test corpus: the same ~530 messages on every run, no randomness crate.
//!
//! Shape (asserted by `harness::corpus_has_the_promised_shape`): six folders, nested and
//! non-ASCII ones included; a unique Message-ID on every message except five (for the
//! header-hash fallback); CRLF line endings; mixed flags (never \Deleted); three messages
//! over 1 MiB; 21 with 8-bit bodies, two of them ISO-8859-1.

use super::dovecot::SeedMessage;
use super::mailtext::{base64, encode_word, rfc2822_date};

/// The folders of [`standard_corpus`] (display names) and how many messages each holds.
pub const STANDARD_FOLDERS: [(&str, usize); 6] = [
    ("INBOX", 190),
    ("Sent", 80),
    ("Archive", 60),
    ("Archive/2021", 100),
    ("Entwürfe", 20),
    ("Lists/rust", 80),
];

/// Corpus indices of the messages without a Message-ID.
pub const WITHOUT_MESSAGE_ID: [usize; 5] = [17, 101, 233, 377, 498];
/// Corpus indices of the messages over 1 MiB (in INBOX, Sent, Archive/2021), and the size
/// of their binary attachments.
pub const LARGE: [(usize, usize); 3] = [(42, 1_100_000), (200, 1_300_000), (360, 1_600_000)];
/// Corpus indices of the ISO-8859-1 messages (raw 8-bit Latin-1 bodies).
pub const LATIN1: [usize; 2] = [57, 317];

/// Whether corpus message `i` has an 8-bit body (UTF-8, or Latin-1 for [`LATIN1`]).
pub fn is_8bit(i: usize) -> bool {
    i % 26 == 5
}

/// The standard corpus, in seeding order.
pub fn standard_corpus() -> Vec<SeedMessage> {
    let mut rng = Rng(0x6d61_696c_6665_7272); // "mailferr"
    let mut out = Vec::new();
    let mut i = 0;
    for (folder, count) in STANDARD_FOLDERS {
        for _ in 0..count {
            let flags = corpus_flags(&mut rng, folder, i);
            out.push(SeedMessage {
                folder: folder.to_string(),
                bytes: corpus_message(&mut rng, folder, i),
                flags: flags.into_iter().map(str::to_string).collect(),
            });
            i += 1;
        }
    }
    out
}

/// The Message-ID (with angle brackets) of the extra message `n` made by [`message`].
pub fn message_id(n: u32) -> String {
    format!("<extra.{n}@tests.mailferry.test>")
}

/// A small extra message for tests: Message-ID [`message_id`]`(n)`, content depending on
/// `n` only, so the same `n` always gives the same bytes.
pub fn message(folder: &str, n: u32, flags: &[&str]) -> SeedMessage {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(n));
    let headers = [
        "From: Test Sender <sender@example.net>".to_string(),
        "To: Alice Example <alice@example.org>".to_string(),
        format!("Subject: Extra message {n}"),
        format!(
            "Date: {}",
            rfc2822_date(1_640_995_200 + u64::from(n) * 3_600)
        ),
        format!("Message-ID: {}", message_id(n)),
        "MIME-Version: 1.0".to_string(),
        "Content-Type: text/plain; charset=us-ascii".to_string(),
    ];
    let body = format!("Extra message {n}.\r\n\r\n{}", words(&mut rng, 12));
    SeedMessage {
        folder: folder.to_string(),
        bytes: join(&headers, body.as_bytes()),
        flags: flags.iter().map(|f| f.to_string()).collect(),
    }
}

fn corpus_flags(rng: &mut Rng, folder: &str, i: usize) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if i % 37 == 11 {
        return flags; // a few with no flags at all
    }
    if folder == "Entwürfe" {
        flags.push("\\Draft");
        if rng.below(2) == 0 {
            flags.push("\\Seen");
        }
        return flags;
    }
    if folder == "Sent" || rng.below(100) < 92 {
        flags.push("\\Seen");
    }
    if rng.below(10) == 0 {
        flags.push("\\Flagged");
    }
    if rng.below(8) == 0 {
        flags.push("\\Answered");
    }
    if rng.below(20) == 0 {
        flags.push("$Forwarded");
    }
    if rng.below(60) == 0 {
        flags.push("\\Draft");
    }
    flags
}

const NAMES: [&str; 8] = [
    "Bob Builder",
    "Carol Jones",
    "Dave Müller",
    "Erin O'Neil",
    "Frank Zappa",
    "Grace Hopper",
    "Heidi Weiß",
    "Ivan Petrov",
];
const WORDS: [&str; 24] = [
    "sync", "mail", "folder", "server", "meeting", "invoice", "release", "patch", "review",
    "lunch", "budget", "draft", "offline", "cron", "rust", "maildir", "flags", "archive", "ticket",
    "deploy", "tomorrow", "please", "thanks", "question",
];

fn corpus_message(rng: &mut Rng, folder: &str, i: usize) -> Vec<u8> {
    let sender = NAMES[rng.below(NAMES.len() as u64) as usize];
    let sender_addr = sender.split(' ').next().unwrap_or("x").to_lowercase();
    let (from, to) = if folder == "Sent" || folder == "Entwürfe" {
        (
            "Alice Example <alice@example.org>".to_string(),
            format!("{} <{sender_addr}@example.net>", encode_word(sender)),
        )
    } else {
        (
            format!("{} <{sender_addr}@example.net>", encode_word(sender)),
            "Alice Example <alice@example.org>".to_string(),
        )
    };
    let topic = words(rng, 4);
    let subject = if i % 9 == 4 {
        encode_word(&format!("Grüße zu {topic} #{i}"))
    } else {
        format!("{topic} #{i}")
    };
    let mut headers = vec![
        format!("From: {from}"),
        format!("To: {to}"),
        format!("Subject: {subject}"),
        format!("Date: {}", rfc2822_date(1_609_459_200 + i as u64 * 54_321)),
    ];
    if !WITHOUT_MESSAGE_ID.contains(&i) {
        headers.push(format!(
            "Message-ID: <corpus.{i}.{:08x}@mailferry.test>",
            rng.next_u64() as u32
        ));
    }
    if folder == "Lists/rust" {
        headers.push("List-Id: Rust users <rust.lists.example.org>".to_string());
    }
    headers.push("MIME-Version: 1.0".to_string());

    let length = 8 + rng.below(120) as usize;
    let paragraph = words(rng, length);
    if let Some(&(_, size)) = LARGE.iter().find(|(n, _)| *n == i) {
        let boundary = format!("=_mailferry_{i}");
        headers.push(format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\""
        ));
        let blob: Vec<u8> = (0..size).map(|_| rng.next_u64() as u8).collect();
        let mut body = format!(
            "This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\r\n{paragraph}\r\n\r\n\
             --{boundary}\r\nContent-Type: application/octet-stream; name=\"data-{i}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"data-{i}.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        );
        for line in base64(&blob).as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(line).unwrap_or_default());
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        return join(&headers, body.as_bytes());
    }
    if LATIN1.contains(&i) {
        headers.push("Content-Type: text/plain; charset=iso-8859-1".to_string());
        headers.push("Content-Transfer-Encoding: 8bit".to_string());
        let mut body = b"Gr\xfc\xdfe aus K\xf6ln, \xbd Preis: 5 \xa3.\r\n\r\n".to_vec();
        body.extend_from_slice(paragraph.as_bytes());
        body.extend_from_slice(b"\r\n");
        return join(&headers, &body);
    }
    if is_8bit(i) {
        headers.push("Content-Type: text/plain; charset=utf-8".to_string());
        headers.push("Content-Transfer-Encoding: 8bit".to_string());
        let body = format!("Grüße, ½ € — {paragraph}\r\n\r\nÄrger? Nein: Straße #{i}.\r\n");
        return join(&headers, body.as_bytes());
    }
    headers.push("Content-Type: text/plain; charset=us-ascii".to_string());
    headers.push("Content-Transfer-Encoding: 7bit".to_string());
    let signature = sender.split(' ').next().unwrap_or_default(); // ASCII: a 7bit body
    let body = format!("Hello,\r\n\r\n{paragraph}\r\n\r\n-- \r\n{signature}\r\n");
    join(&headers, body.as_bytes())
}

/// Header lines, a blank line, then the body; all with CRLF.
fn join(headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = headers.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// `n` pseudo-random words, wrapped into CRLF lines of at most 10 words.
fn words(rng: &mut Rng, n: usize) -> String {
    let words: Vec<&str> = (0..n)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect();
    let lines: Vec<String> = words.chunks(10).map(|c| c.join(" ")).collect();
    lines.join("\r\n")
}

/// xorshift64*: tiny, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
