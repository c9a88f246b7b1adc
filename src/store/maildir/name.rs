//! Maildir file names: the unique name (the message's `NearId`), the `:2,` flag letters
//! after it, and fresh unique names for new deliveries.

use crate::flags::Flags;
use crate::model::NearId;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The letters mailferry syncs; any other letter in a file name is kept as it is.
const SYNCED_LETTERS: &str = "DFPRST";

/// The unique name: the file name up to the first `:`.
pub(super) fn id_of(name: &str) -> &str {
    name.split_once(':').map_or(name, |(id, _)| id)
}

/// The letters after `:2,`, or `""` when the name has no (version 2) info part.
pub(super) fn letters_of(name: &str) -> &str {
    match name.split_once(':') {
        Some((_, info)) => info.strip_prefix("2,").unwrap_or(""),
        None => "",
    }
}

/// The file name in `cur/` for `id` with the synced `flags`, keeping the letters of
/// `old_letters` mailferry does not sync; all letters in ASCII order, each once.
pub(super) fn cur_name(id: &str, flags: Flags, old_letters: &str) -> String {
    let mut letters: Vec<char> = flags.to_maildir().chars().collect();
    letters.extend(old_letters.chars().filter(|c| !SYNCED_LETTERS.contains(*c)));
    letters.sort_unstable();
    letters.dedup();
    let mut name = String::with_capacity(id.len() + 3 + letters.len());
    name.push_str(id);
    name.push_str(":2,");
    name.extend(letters);
    name
}

/// Refuses ids that are not a plain maildir unique name.
pub(super) fn check_id(id: &NearId) -> io::Result<()> {
    let id = id.0.as_str();
    let why = if id.is_empty() {
        "is empty"
    } else if id.contains('/') {
        "contains '/'"
    } else if id.contains(':') {
        "contains ':'"
    } else if id.starts_with('.') {
        "starts with '.'"
    } else if id.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("maildir unique name {id:?} {why}"),
    ))
}

/// A fresh unique name, `<secs>.M<micros>P<pid>Q<counter>.<hostname>`.
pub(super) fn fresh_id() -> NearId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    NearId(format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        process_id(),
        count,
        hostname()
    ))
}

/// This process's id, asked of the kernel once (a first sync names 150,000 files).
fn process_id() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// The host name for unique names, read once: `/etc/hostname`, else the kernel's
/// `/proc/sys/kernel/hostname`, else `localhost`.
fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(|| {
        ["/etc/hostname", "/proc/sys/kernel/hostname"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|text| text.trim().to_owned())
            .find(|name| !name.is_empty())
            .map_or_else(|| "localhost".to_owned(), |name| escape_hostname(&name))
    })
}

/// The maildir spec's escapes: `/` as `\057`, `:` as `\072`; other ASCII control
/// characters and spaces (never seen in a sane host name) are escaped the same way.
fn escape_hostname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '/' || c == ':' || c.is_ascii_control() || c == ' ' {
            out.push_str(&format!("\\{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_letters() {
        assert_eq!(id_of("123.M4P5.host:2,FS"), "123.M4P5.host");
        assert_eq!(letters_of("123.M4P5.host:2,FS"), "FS");
        assert_eq!(id_of("123.host"), "123.host");
        assert_eq!(letters_of("123.host"), "");
        assert_eq!(letters_of("123.host:1,experimental"), "");
        assert_eq!(letters_of("123.host:2,"), "");
    }

    #[test]
    fn cur_name_merges_kept_letters_in_ascii_order() {
        assert_eq!(cur_name("x", Flags::SEEN, ""), "x:2,S");
        assert_eq!(
            cur_name("x", Flags::FLAGGED.union(Flags::SEEN), "Sab"),
            "x:2,FSab"
        );
        assert_eq!(cur_name("x", Flags::EMPTY, "RSa"), "x:2,a");
        assert_eq!(cur_name("x", Flags::EMPTY, ""), "x:2,");
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in ["", "a/b", "a:2,S", ".hidden", "a\0b"] {
            let err = check_id(&NearId(bad.into())).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        check_id(&NearId("1700000000.M1P2Q3.host".into())).unwrap();
    }

    #[test]
    fn fresh_ids_are_unique_and_valid() {
        let a = fresh_id();
        let b = fresh_id();
        assert_ne!(a, b);
        check_id(&a).unwrap();
        assert!(a.0.contains(".M") && a.0.contains('P') && a.0.contains('Q'));
    }

    #[test]
    fn hostname_escapes() {
        assert_eq!(escape_hostname("a/b:c"), "a\\057b\\072c");
        assert_eq!(escape_hostname("mail.example.org"), "mail.example.org");
    }
}
