//! Tests of the test harness itself: every Dovecot flavour starts, seeding and comparing work.

use crate::support::compare::{expected_messages, far_messages, message_key, near_messages};
use crate::support::corpus::{
    self, LARGE, LATIN1, STANDARD_FOLDERS, WITHOUT_MESSAGE_ID, message, standard_corpus,
};
use crate::support::dovecot::{Dovecot, DovecotOptions, fixture_messages};
use anyhow::{Result, ensure};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Far folder names with their delimiter, from LIST "" "*".
fn list(d: &Dovecot) -> Result<Vec<(String, Option<String>)>> {
    let mut session = d.session()?;
    let names = session.list(Some(""), Some("*"))?;
    let out = names
        .iter()
        .map(|n| (n.name().to_string(), n.delimiter().map(str::to_string)))
        .collect();
    session.logout()?;
    Ok(out)
}

/// Creates "Archive/2021" and "Entwürfe" in server form, checks LIST and the server's disk.
fn check_flavour(d: &Dovecot, disk_nested: &str, disk_umlaut: &str) -> Result<()> {
    for folder in ["Archive/2021", "Entwürfe"] {
        d.create_folder(&d.server_name(folder))?;
        d.create_folder(&d.server_name(folder))?; // "already exists" is fine
    }
    let names = list(d)?;
    let delim = d.delimiter().to_string();
    let nested = d.server_name("Archive/2021");
    ensure!(
        names.contains(&(nested.clone(), Some(delim.clone()))),
        "{nested} with delimiter {delim} not in {names:?}"
    );
    ensure!(
        names.iter().any(|(n, _)| n == "INBOX"),
        "no INBOX in {names:?}"
    );
    let maildir = d.user_maildir();
    for dir in [disk_nested, disk_umlaut] {
        ensure!(
            maildir.join(dir).join("cur").is_dir(),
            "{dir} missing in the server maildir"
        );
    }
    Ok(())
}

#[test]
fn fs_layout_flavour() -> Result<()> {
    let d = Dovecot::start(DovecotOptions::default())?;
    assert_eq!((d.delimiter(), d.prefix()), ('/', ""));
    assert_eq!(d.server_name("Archive/2021"), "Archive/2021");
    assert_eq!(d.server_name("Entwürfe"), "Entw&APw-rfe");
    assert_eq!(d.server_name("inbox"), "INBOX");
    check_flavour(&d, "Archive/2021", "Entw&APw-rfe")
}

#[test]
fn maildir_plus_plus_flavour() -> Result<()> {
    let d = Dovecot::start(DovecotOptions {
        fs_layout: false,
        ..Default::default()
    })?;
    assert_eq!((d.delimiter(), d.prefix()), ('.', ""));
    assert_eq!(d.server_name("Archive/2021"), "Archive.2021");
    check_flavour(&d, ".Archive.2021", ".Entw&APw-rfe")
}

#[test]
fn inbox_prefix_flavour() -> Result<()> {
    // fs_layout is overridden: the INBOX. prefix implies Maildir++.
    let d = Dovecot::start(DovecotOptions {
        inbox_prefix: true,
        ..Default::default()
    })?;
    assert_eq!((d.delimiter(), d.prefix()), ('.', "INBOX."));
    assert_eq!(d.server_name("Archive/2021"), "INBOX.Archive.2021");
    assert_eq!(d.server_name("INBOX"), "INBOX");
    assert_eq!(d.server_name("A&B ü/x"), "INBOX.A&-B &APw-.x");
    check_flavour(&d, ".Archive.2021", ".Entw&APw-rfe")
}

#[test]
fn capabilities_follow_the_option() -> Result<()> {
    let full = Dovecot::start(DovecotOptions::default())?;
    let reduced = Dovecot::start(DovecotOptions {
        capabilities: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE CONDSTORE".to_string()),
        ..Default::default()
    })?;
    let caps = |d: &Dovecot| -> Result<BTreeSet<String>> {
        let mut session = d.session()?;
        let caps = session.capabilities()?;
        let out = caps.iter().map(|c| format!("{c:?}")).collect();
        session.logout()?;
        Ok(out)
    };
    let has = |d: &Dovecot, cap: &str| -> Result<bool> {
        let mut session = d.session()?;
        let yes = session.capabilities()?.has_str(cap);
        session.logout()?;
        Ok(yes)
    };
    for cap in [
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
        "ESEARCH",
        "LIST-STATUS",
        "IDLE",
    ] {
        ensure!(
            has(&full, cap)?,
            "default Dovecot lacks {cap}: {:?}",
            caps(&full)?
        );
    }
    ensure!(has(&reduced, "CONDSTORE")?, "{:?}", caps(&reduced)?);
    for cap in ["UIDPLUS", "QRESYNC", "MOVE"] {
        ensure!(
            !has(&reduced, cap)?,
            "reduced Dovecot offers {cap}: {:?}",
            caps(&reduced)?
        );
    }
    Ok(())
}

#[test]
fn corpus_has_the_promised_shape() {
    let corpus = standard_corpus();
    assert_eq!(
        corpus,
        standard_corpus(),
        "the corpus must be deterministic"
    );
    assert!(corpus.len() >= 520, "{} messages", corpus.len());
    let folders: BTreeSet<&str> = corpus.iter().map(|m| m.folder.as_str()).collect();
    assert_eq!(folders, STANDARD_FOLDERS.iter().map(|(f, _)| *f).collect());

    let mut keys = BTreeSet::new();
    let mut without_id = Vec::new();
    for (i, m) in corpus.iter().enumerate() {
        assert!(
            keys.insert(message_key(&m.bytes)),
            "message {i} is not unique"
        );
        let header_end = m.bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let header = String::from_utf8(m.bytes[..header_end].to_vec()).unwrap();
        for field in [
            "From:",
            "To:",
            "Subject:",
            "Date:",
            "MIME-Version:",
            "Content-Type:",
        ] {
            assert!(header.contains(field), "message {i} lacks {field}");
        }
        if !header.contains("\r\nMessage-ID: <") {
            without_id.push(i);
        }
        for (at, _) in m.bytes.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            assert!(at > 0 && m.bytes[at - 1] == b'\r', "bare LF in message {i}");
        }
        assert!(!m.flags.iter().any(|f| f == "\\Deleted"), "message {i}");
    }
    assert_eq!(without_id, WITHOUT_MESSAGE_ID);
    let big: Vec<usize> = (0..corpus.len())
        .filter(|&i| corpus[i].bytes.len() > 1 << 20)
        .collect();
    assert_eq!(big, LARGE.map(|(i, _)| i));
    let eight_bit: Vec<usize> = (0..corpus.len())
        .filter(|&i| !corpus[i].bytes.is_ascii())
        .collect();
    assert!(
        (18..=24).contains(&eight_bit.len()),
        "{eight_bit:?} are 8-bit"
    );
    for &i in &eight_bit {
        let m = String::from_utf8_lossy(&corpus[i].bytes);
        assert!(m.contains("\r\nContent-Transfer-Encoding: 8bit\r\n"), "{i}");
    }
    for i in LATIN1 {
        assert!(
            String::from_utf8(corpus[i].bytes.clone()).is_err(),
            "{i} is not Latin-1"
        );
    }
    for flag in ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Forwarded"] {
        let n = corpus
            .iter()
            .filter(|m| m.flags.iter().any(|f| f == flag))
            .count();
        assert!(n >= 3, "only {n} messages with {flag}");
    }
    let unflagged = corpus.iter().filter(|m| m.flags.is_empty()).count();
    assert!(
        (3..=60).contains(&unflagged),
        "{unflagged} messages without flags"
    );
    let seen = corpus
        .iter()
        .filter(|m| m.flags.iter().any(|f| f == "\\Seen"))
        .count();
    assert!(seen * 2 > corpus.len(), "only {seen} seen");
}

#[test]
fn standard_corpus_arrives_intact() -> Result<()> {
    let d = Dovecot::start(DovecotOptions::default())?;
    let corpus = standard_corpus();
    d.seed(&corpus)?;
    for (folder, count) in STANDARD_FOLDERS {
        let far = far_messages(&d, folder)?;
        let expected = expected_messages(&corpus, folder)?;
        assert_eq!(far.len(), count, "{folder}");
        for (key, (flags, bytes)) in &expected {
            let (far_flags, far_bytes) = far
                .get(key)
                .unwrap_or_else(|| panic!("{folder}: {key} missing"));
            assert_eq!(far_flags, flags, "{folder}: flags of {key}");
            assert!(far_bytes == bytes, "{folder}: bytes of {key} differ");
        }
    }
    // Spot checks that do not go through the key at all.
    let inbox = far_messages(&d, "INBOX")?;
    let big = &corpus[LARGE[0].0];
    assert!(big.bytes.len() > 1 << 20);
    assert!(
        inbox.values().any(|(_, b)| *b == big.bytes),
        "large message altered"
    );
    let latin1 = &corpus[LATIN1[1]];
    let folder = far_messages(&d, &latin1.folder)?;
    assert!(
        folder.values().any(|(_, b)| *b == latin1.bytes),
        "Latin-1 message altered"
    );
    assert!(d.user_maildir().join("Entw&APw-rfe").is_dir());
    let status = d.doveadm(&["mailbox", "status", "-u", d.user(), "messages", "INBOX"])?;
    assert_eq!(
        status.trim(),
        format!("INBOX messages={}", STANDARD_FOLDERS[0].1)
    );
    Ok(())
}

#[test]
fn fixtures_seed_under_a_prefix() -> Result<()> {
    let fixtures = fixture_messages(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail"))?;
    assert!(fixtures.len() >= 20, "{} fixture messages", fixtures.len());
    let folders: BTreeSet<&str> = fixtures.iter().map(|m| m.folder.as_str()).collect();
    let expected_folders = ["Archive/2021", "Entwürfe", "INBOX", "Sent"];
    assert_eq!(folders, expected_folders.into_iter().collect());
    assert!(fixtures.iter().any(|m| m.flags.is_empty()));
    assert!(fixtures.iter().any(|m| m.flags.len() >= 2));
    let d = Dovecot::start(DovecotOptions {
        inbox_prefix: true,
        ..Default::default()
    })?;
    d.seed(&fixtures)?;
    for folder in expected_folders {
        assert_eq!(
            far_messages(&d, folder)?,
            expected_messages(&fixtures, folder)?
        );
    }
    assert!(d.user_maildir().join(".Archive.2021").is_dir());
    Ok(())
}

#[test]
fn several_dovecots_at_once() -> Result<()> {
    let handles: Vec<_> = (0..3u32)
        .map(|n| {
            std::thread::spawn(move || -> Result<(u16, u16)> {
                let d = Dovecot::start(DovecotOptions {
                    fs_layout: n % 2 == 0,
                    ..Default::default()
                })?;
                d.seed(&[message("INBOX", n, &["\\Seen"])])?;
                let inbox = far_messages(&d, "INBOX")?;
                let expected = message("INBOX", n, &["\\Seen"]);
                ensure!(
                    inbox.len() == 1,
                    "instance {n} sees {} messages",
                    inbox.len()
                );
                ensure!(inbox.contains_key(&message_key(&expected.bytes)));
                Ok((d.imap_port(), d.imaps_port()))
            })
        })
        .collect();
    let mut ports = BTreeSet::new();
    for h in handles {
        let (a, b) = h.join().expect("thread panicked")?;
        assert!(ports.insert(a) && ports.insert(b), "port reused");
    }
    Ok(())
}

#[test]
fn duplicates_and_flags_are_detected() -> Result<()> {
    let d = Dovecot::start(DovecotOptions::default())?;
    let m = message("INBOX", 7, &["\\Seen", "\\Flagged", "$Forwarded", "$Junk"]);
    d.seed(std::slice::from_ref(&m))?;
    let far = far_messages(&d, "INBOX")?;
    assert_eq!(far.values().next().map(|v| v.0.as_str()), Some("FPS"));
    d.append("INBOX", &m.bytes, &[])?;
    let err = far_messages(&d, "INBOX").expect_err("a duplicate must be an error");
    assert!(err.to_string().contains("duplicate"), "{err}");

    // The near side: flags from the ":2," suffix, CRLF and LF copies are the same message.
    let near = tempfile::tempdir()?;
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir(near.path().join(sub))?;
    }
    let lf: Vec<u8> = String::from_utf8(m.bytes.clone())?
        .replace("\r\n", "\n")
        .into();
    fs::write(near.path().join("cur/1.M1.host:2,SFPa"), &m.bytes)?;
    fs::write(
        near.path().join("new/2.M2.host"),
        message("INBOX", 8, &[]).bytes,
    )?;
    let msgs = near_messages(near.path())?;
    let flags: BTreeSet<&str> = msgs.values().map(|v| v.0.as_str()).collect();
    assert_eq!(flags, ["", "FPS"].into_iter().collect());
    fs::write(near.path().join("new/3.M3.host"), lf)?;
    let err = near_messages(near.path()).expect_err("a duplicate must be an error");
    assert!(err.to_string().contains("duplicate"), "{err}");
    Ok(())
}

#[test]
fn messages_without_message_id_use_the_header_hash() {
    let corpus = standard_corpus();
    for i in WITHOUT_MESSAGE_ID {
        assert!(message_key(&corpus[i].bytes).starts_with("hdr:"), "{i}");
    }
    let with_id = message_key(&corpus::message("INBOX", 1, &[]).bytes);
    assert!(
        with_id.starts_with("<extra.1@tests.mailferry.test>|"),
        "{with_id}"
    );
}

#[test]
fn plain_port_offers_starttls_and_plaintext_login() -> Result<()> {
    let d = Dovecot::start(DovecotOptions::default())?;
    let tcp = std::net::TcpStream::connect(("127.0.0.1", d.imap_port()))?;
    let mut client = imap::Client::new(tcp);
    let greeting = String::from_utf8(client.read_greeting()?)?;
    ensure!(greeting.contains("STARTTLS"), "{greeting}");
    let mut session = client.login(d.user(), d.password()).map_err(|(e, _)| e)?;
    session.select("INBOX")?;
    session.logout()?;
    Ok(())
}
