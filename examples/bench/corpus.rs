//! The benchmark's deterministic mail corpus: folders, message sizes and flags, and the
//! messages themselves, from a small PRNG (the same bytes on every machine and run).
//!
//! Sizes are log-normal around a few KB (median 4 KB) with one message in 500 carrying a
//! 1-4 MB base64 attachment; folders are nested, some non-ASCII, one with `&` and some with
//! spaces; flags are mixed (never `\Deleted`, which would make the first sync purge them).
//! Messages are made with LF line endings, as a Maildir holds them.

use crate::mailtext::{base64, encode_word, rfc2822_date};
use std::fmt::Write as _;

/// The corpus sizes of `--size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Small,
    Medium,
    Large,
    /// One folder of 20,000 messages: what splitting a folder across connections is for.
    Inbox,
}

impl Size {
    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "small" => Some(Size::Small),
            "medium" => Some(Size::Medium),
            "large" => Some(Size::Large),
            "inbox" => Some(Size::Inbox),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
            Size::Inbox => "inbox",
        }
    }

    /// How many messages the corpus holds.
    pub fn messages(self) -> usize {
        match self {
            Size::Small => 2_000,
            Size::Medium => 30_000,
            Size::Large => 150_000,
            Size::Inbox => 20_000,
        }
    }

    /// How many of [`FOLDERS`] it uses (a prefix: parents always come first).
    fn folder_count(self) -> usize {
        match self {
            Size::Small => 12,
            Size::Medium => 26,
            Size::Large => FOLDERS.len(),
            Size::Inbox => 1,
        }
    }
}

/// Display names (`/`-separated UTF-8) and relative weights. Every parent of a nested
/// folder is a folder too, and comes before it.
const FOLDERS: [(&str, u32); 40] = [
    ("INBOX", 20),
    ("Sent", 8),
    ("Drafts", 1),
    ("Archive", 6),
    ("Archive/2023", 6),
    ("Lists", 1),
    ("Lists/rust-users", 10),
    ("Entwürfe", 1),
    ("Reisen", 1),
    ("Reisen/Übersicht 2024", 2),
    ("Work", 3),
    ("Work/Projects", 4),
    // small ends here
    ("Archive/2022", 6),
    ("Archive/2021", 5),
    ("Archive/2020", 4),
    ("Lists/debian-devel", 10),
    ("Lists/lkml", 15),
    ("Work/Projects/Ωmega", 3),
    ("Work/Reports", 2),
    ("Family", 2),
    ("Receipts", 2),
    ("Recibos", 1),
    ("Recibos/Año 2024", 1),
    ("Newsletters", 5),
    ("日本語", 1),
    ("Notes & Ideas", 1),
    // medium ends here
    ("Lists/list-01", 3),
    ("Lists/list-02", 3),
    ("Lists/list-03", 3),
    ("Lists/list-04", 3),
    ("Lists/list-05", 3),
    ("Lists/list-06", 3),
    ("Lists/list-07", 3),
    ("Lists/list-08", 3),
    ("Lists/list-09", 3),
    ("Lists/list-10", 3),
    ("Lists/list-11", 3),
    ("Lists/list-12", 3),
    ("Lists/list-13", 3),
    ("Lists/list-14", 3),
];

/// The folders of a corpus size and how many messages each gets (weights, the remainder
/// to INBOX).
pub fn folders(size: Size) -> Vec<(String, usize)> {
    let chosen = &FOLDERS[..size.folder_count()];
    let total_weight: u32 = chosen.iter().map(|(_, w)| w).sum();
    let total = size.messages();
    let mut out: Vec<(String, usize)> = chosen
        .iter()
        .map(|(name, w)| {
            let n = total * *w as usize / total_weight as usize;
            (name.to_string(), n)
        })
        .collect();
    let given: usize = out.iter().map(|(_, n)| n).sum();
    out[0].1 += total - given;
    out
}

/// xorshift64*: tiny, deterministic, good enough for benchmark data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Never zero (xorshift's fixed point).
        Rng(seed ^ 0x6d61_696c_6665_7272 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `k` distinct indices below `n`, in random order (a partial Fisher-Yates shuffle).
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    }
}

/// The flags (sorted maildir letters among D F P R S T) of a new corpus message.
pub fn flags(rng: &mut Rng, folder: &str) -> String {
    let mut letters = String::new();
    if folder == "Drafts" {
        letters.push('D');
    }
    if rng.chance(0.04) {
        letters.push('F');
    }
    if rng.chance(0.02) {
        letters.push('P');
    }
    if rng.chance(0.10) {
        letters.push('R');
    }
    let seen = if folder == "INBOX" { 0.6 } else { 0.9 };
    if folder != "Drafts" && rng.chance(seen) {
        letters.push('S');
    }
    letters
}

const WORDS: [&str; 48] = [
    "the", "mail", "sync", "server", "folder", "message", "offline", "release", "patch", "review",
    "meeting", "tomorrow", "invoice", "attached", "please", "thanks", "build", "kernel", "driver",
    "memory", "latency", "question", "answer", "report", "quarter", "budget", "travel", "hotel",
    "train", "ticket", "weekend", "family", "dinner", "photo", "draft", "schedule", "project",
    "deadline", "feature", "bug", "fix", "test", "merge", "branch", "commit", "update", "notes",
    "idea",
];

const UTF8_WORDS: [&str; 8] = [
    "Grüße",
    "Übersicht",
    "naïve",
    "café",
    "Ωmega",
    "日本語",
    "año",
    "Straße",
];

const SENDERS: [(&str, &str); 8] = [
    ("Bob Builder", "bob@example.net"),
    ("Carol Jones", "carol@example.com"),
    ("Dörte Müller", "doerte@example.de"),
    ("Erik Svensson", "erik@example.se"),
    ("List Robot", "robot@lists.example.org"),
    ("Fran García", "fran@example.es"),
    ("Gu Yuki", "yuki@example.jp"),
    ("Hal Monitor", "noreply@monitor.example.com"),
];

/// Message `n` of stream `tag` (`"c"` for the corpus, other tags for later arrivals) in
/// `folder`: LF line endings, a unique Message-ID, a log-normal body size (median 4 KB),
/// and one time in 500 a 1-4 MB attachment (1.4-5.5 MB as base64).
pub fn message(rng: &mut Rng, tag: &str, n: usize, folder: &str) -> Vec<u8> {
    let (name, addr) = SENDERS[rng.below(SENDERS.len() as u64) as usize];
    let utf8 = rng.chance(0.1);
    let mut subject = String::new();
    for i in 0..(3 + rng.below(6)) {
        if i > 0 {
            subject.push(' ');
        }
        if utf8 && i == 1 {
            subject.push_str(UTF8_WORDS[rng.below(UTF8_WORDS.len() as u64) as usize]);
        } else {
            subject.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        }
    }
    let date = 1_600_000_000 + n as u64 * 997 + rng.below(600);
    let mut head = String::new();
    let _ = writeln!(head, "From: {} <{addr}>", encode_word(name));
    let _ = writeln!(head, "To: Alice Example <alice@example.org>");
    let _ = writeln!(head, "Subject: {}", encode_word(&subject));
    let _ = writeln!(head, "Date: {}", rfc2822_date(date));
    let _ = writeln!(head, "Message-ID: <{tag}.{n}@bench.mailferry.test>");
    if let Some(list) = folder.strip_prefix("Lists/") {
        let _ = writeln!(head, "List-Id: <{list}.lists.example.org>");
    }
    let _ = writeln!(head, "MIME-Version: 1.0");

    let size = (4000.0 * (1.1 * rng.normal()).exp()).clamp(200.0, 1_000_000.0) as usize;
    let body = text_body(rng, size, utf8);
    let charset = if utf8 { "utf-8" } else { "us-ascii" };
    let cte = if utf8 { "8bit" } else { "7bit" };
    let mut out = head.into_bytes();
    if rng.chance(1.0 / 500.0) {
        let attachment_size = 1_000_000 + rng.below(3_000_000) as usize;
        let boundary = format!("=_bench_{tag}_{n}");
        let mut raw = vec![0u8; attachment_size];
        for chunk in raw.chunks_mut(8) {
            let r = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        let mut text = String::new();
        let _ = writeln!(
            text,
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n"
        );
        let _ = writeln!(text, "--{boundary}");
        let _ = writeln!(text, "Content-Type: text/plain; charset={charset}");
        let _ = writeln!(text, "Content-Transfer-Encoding: {cte}\n");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&body);
        let mut text = format!("\n--{boundary}\n");
        let _ = writeln!(text, "Content-Type: application/octet-stream");
        let _ = writeln!(
            text,
            "Content-Disposition: attachment; filename=\"data-{n}.bin\""
        );
        let _ = writeln!(text, "Content-Transfer-Encoding: base64\n");
        out.extend_from_slice(text.as_bytes());
        let encoded = base64(&raw);
        for line in encoded.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(format!("--{boundary}--\n").as_bytes());
    } else {
        let text = format!(
            "Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n"
        );
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// About `size` bytes of text in lines of at most ~72 characters, ending in LF.
fn text_body(rng: &mut Rng, size: usize, utf8: bool) -> Vec<u8> {
    let mut out = String::with_capacity(size + 80);
    out.push_str("Hello,\n\n");
    let mut line_len = 0;
    while out.len() < size {
        let word = if utf8 && rng.chance(0.05) {
            UTF8_WORDS[rng.below(UTF8_WORDS.len() as u64) as usize]
        } else {
            WORDS[rng.below(WORDS.len() as u64) as usize]
        };
        if line_len + word.len() > 72 {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out.push_str("\n\n-- \nsent by the benchmark\n");
    out.into_bytes()
}

/// LF to CRLF (for IMAP APPEND, which wants CRLF).
pub fn to_crlf(lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 40);
    for (i, &b) in lf.iter().enumerate() {
        if b == b'\n' && (i == 0 || lf[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}
