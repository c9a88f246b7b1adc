//! Conversion tests: each sample mbsyncrc is converted, written as TOML and loaded with
//! mailferry's own config loader; warnings are checked by line and keyword.

use super::*;
use crate::config::{self, Direction, Secret, SideSet, TlsMode};
use crate::import::mbsyncrc;
use crate::import::toml_out;
use crate::mapping::FolderNames;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn env(name: &str) -> Option<OsString> {
    match name {
        "HOME" => Some("/home/u".into()),
        "XDG_STATE_HOME" => Some("/home/u/.local/state".into()),
        _ => None,
    }
}

fn conv(text: &str) -> Conversion {
    convert(&mbsyncrc::parse(text).unwrap(), Some("/home/u"))
}

/// Converts, renders with the passwords, and loads the result with mailferry's own loader.
fn load(text: &str) -> (Conversion, config::Config) {
    let c = conv(text);
    let toml = toml_out::render(&c, Path::new("/home/u/.mbsyncrc"), true);
    let loaded = config::parse_with_env(
        &toml,
        Path::new("/home/u/.config/mailferry/config.toml"),
        &env,
    )
    .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    (c, loaded)
}

fn lines(c: &Conversion) -> Vec<(usize, &str)> {
    c.warnings
        .iter()
        .map(|w| (w.line, w.keyword.as_str()))
        .collect()
}

const TYPICAL: &str = r#"# A typical mbsync 1.4 config
IMAPAccount work
Host imap.example.org
User "me@example.org"
PassCmd "+pass show \"mail/work\""
SSLType IMAPS
CertificateFile ~/certs/ca.pem
AuthMechs LOGIN PLAIN
Timeout 30

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns * !Trash "Entw&APw-rfe"
Create Both
Expunge Both
SyncState *
MaxSize 10m
"#;

#[test]
fn a_typical_config_converts_and_loads_with_the_real_loader() {
    let (c, cfg) = load(TYPICAL);
    let account = &cfg.accounts["work"];
    assert_eq!(account.host, "imap.example.org");
    assert_eq!(account.port, 993);
    assert_eq!(account.tls, TlsMode::Implicit);
    assert_eq!(account.ca_file, Some(PathBuf::from("/home/u/certs/ca.pem")));
    assert_eq!(account.user, "me@example.org");
    assert_eq!(
        account.secret,
        Secret::Command {
            account: "work".into(),
            command: r#"pass show "mail/work""#.into()
        }
    );
    assert_eq!(account.timeout.as_secs(), 30);
    let channel = &cfg.channels["work"];
    assert_eq!(channel.maildir, PathBuf::from("/home/u/Mail/work"));
    assert_eq!(channel.layout, Layout::Verbatim);
    assert_eq!(channel.folder_names, FolderNames::Imap);
    assert_eq!(channel.patterns.as_slice(), ["*", "!Trash", "Entwürfe"]);
    assert!(channel.patterns.matches("INBOX"));
    assert!(!channel.patterns.matches("Trash"));
    assert_eq!(channel.direction, Direction::Both);
    assert_eq!(channel.create, SideSet::BOTH);
    assert_eq!(channel.remove, SideSet::NONE);
    assert_eq!(channel.expunge, SideSet::BOTH);
    assert_eq!(channel.max_size, Some(10 << 20));
    assert_eq!(c.channels[0].sources[0].state, StateLocation::InMailbox);
    // Only MaxSize draws a warning (placeholders do not carry over).
    assert_eq!(lines(&c), vec![(26, "MaxSize")]);
}

#[test]
fn mbsync_defaults_are_spelled_out_and_old_keywords_are_read() {
    let text = "Sync Pull\nCreate Slave\nSyncState ~/.mbsync/\n\nIMAPStore remote\nHost mail.example.net\nPort 143\nUser u\nPass \"p w\"\n\nMaildirStore local\nPath ~/Mail/\nInbox ~/Mail/Inbox\n\nChannel old\nMaster :remote:\nSlave :local:\nPatterns INBOX Archive*\nExpunge Master\n";
    let (c, cfg) = load(text);
    let account = &cfg.accounts["remote"];
    assert_eq!(account.tls, TlsMode::StartTls, "mbsync's default SSLType");
    assert_eq!(account.port, 143);
    assert_eq!(account.secret, Secret::Password("p w".into()));
    let channel = &cfg.channels["old"];
    assert_eq!(channel.direction, Direction::Pull);
    assert_eq!(channel.create, SideSet::NEAR);
    assert_eq!(channel.remove, SideSet::NONE);
    assert_eq!(channel.expunge, SideSet::FAR);
    assert_eq!(
        c.channels[0].sources[0].state,
        StateLocation::Global {
            prefix: "~/.mbsync/".into(),
            delimiter: ':'
        }
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Without any Create/Expunge at all, mbsync creates and expunges nothing.
    let (_, cfg) = load(
        &text
            .replace("Create Slave\n", "")
            .replace("Expunge Master\n", ""),
    );
    assert_eq!(cfg.channels["old"].create, SideSet::NONE);
    assert_eq!(cfg.channels["old"].expunge, SideSet::NONE);
}

#[test]
fn sync_matrix_to_direction() {
    let sync = |s: &str| {
        let item = Item {
            line: 1,
            keyword: "Sync".into(),
            args: s.split_whitespace().map(String::from).collect(),
        };
        parse_sync(&item)
    };
    assert_eq!(sync("All"), Ok((ALL_OPS, ALL_OPS)));
    assert_eq!(sync("Pull"), Ok((ALL_OPS, 0)));
    assert_eq!(sync("Push"), Ok((0, ALL_OPS)));
    assert_eq!(sync("Pull Push"), Ok((ALL_OPS, ALL_OPS)));
    assert_eq!(sync("New Delete"), Ok((NEW | GONE, NEW | GONE)));
    assert_eq!(sync("Pull New Flags"), Ok((NEW | FLAGS, 0)));
    assert_eq!(sync("PullNew PullDelete Push"), Ok((NEW | GONE, ALL_OPS)));
    assert_eq!(sync("None"), Ok((0, 0)));
    assert!(sync("Sideways").is_err());

    let base = "IMAPAccount a\nHost h\nUser u\nPass p\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n";
    let (c, cfg) = load(&format!("{base}Sync PullNew PullFlags\n"));
    assert_eq!(cfg.channels["c"].direction, Direction::Pull);
    assert_eq!(lines(&c), vec![(17, "Sync")]);
    assert!(c.warnings[0].message.contains("direction = \"pull\""));
    let c = conv(&format!("{base}Sync None\n"));
    assert!(c.channels.is_empty());
    assert!(
        c.warnings[0].message.contains("Sync None"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn unsupported_keywords_draw_one_warning_per_line_naming_it() {
    let text = "FSync no\nBufferLimit 20m\n\nIMAPAccount a\nHost h\nUser u\nPassCmd \"pass a\"\nPipelineDepth 1\nTLSVersions +1.3\nSystemCertificates no\nAuthMechs XOAUTH2\nTimeout 0\n\nIMAPStore r\nAccount a\nTrash Trash\nMapInbox inbox\nUseNamespace no\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\nAltMap yes\nTrashNewOnly yes\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\nCopyArrivalDate yes\nMaxMessages 100\nExpireUnread yes\nFrobnicate 3\n\nGroup g\nChannel c\n";
    let (c, _) = load(text);
    assert_eq!(
        lines(&c),
        vec![
            (1, "FSync"),
            (2, "BufferLimit"),
            (8, "PipelineDepth"),
            (9, "TLSVersions"),
            (10, "SystemCertificates"),
            (11, "AuthMechs"),
            (12, "Timeout"),
            (16, "Trash"),
            (17, "MapInbox"),
            (18, "UseNamespace"),
            (23, "AltMap"),
            (24, "TrashNewOnly"),
            (30, "CopyArrivalDate"),
            (31, "MaxMessages"),
            (32, "ExpireUnread"),
            (33, "Frobnicate"),
            (35, "Group"),
            (36, "Channel"),
        ],
        "{:#?}",
        c.warnings
    );
    assert!(c.warnings.iter().all(|w| !w.message.is_empty()));
}

#[test]
fn a_printed_config_never_holds_the_password() {
    let c = conv(
        "IMAPAccount a\nHost h\nUser u\nPass hunter2\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel c\nFar :r:\nNear :l:\n",
    );
    let printed = toml_out::render(&c, Path::new("rc"), false);
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(
        printed.contains(toml_out::PASSWORD_PLACEHOLDER),
        "{printed}"
    );
    assert!(
        !format!("{c:?}").contains("hunter2"),
        "Debug never shows it"
    );
    let written = toml_out::render(&c, Path::new("rc"), true);
    assert!(written.contains("password = \"hunter2\""), "{written}");
    // A channel without Patterns syncs its one box (INBOX by default).
    assert_eq!(c.channels[0].folders, vec!["INBOX"]);
}

#[test]
fn maildir_plus_plus_uses_the_inbox_as_root() {
    let (c, cfg) = load(
        "IMAPAccount a\nHost localhost\nUser u\nSSLType None\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nInbox ~/Maildir/\nSubFolders Maildir++\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\nSyncState /var/mb/\n",
    );
    let channel = &cfg.channels["c"];
    assert_eq!(channel.layout, Layout::MaildirPlusPlus);
    assert_eq!(channel.maildir, PathBuf::from("/home/u/Maildir"));
    assert_eq!(cfg.accounts["a"].tls, TlsMode::None);
    assert!(
        !cfg.accounts["a"].allow_plaintext,
        "loopback needs no permission"
    );
    assert!(
        matches!(cfg.accounts["a"].secret, Secret::Command { .. }),
        "prompting pass_cmd"
    );
    assert_eq!(
        c.channels[0].sources[0].state,
        StateLocation::Prefix("/var/mb/".into())
    );
    assert_eq!(
        lines(&c),
        vec![(1, "IMAPAccount")],
        "no password: {:?}",
        c.warnings
    );
}

#[test]
fn plaintext_to_a_remote_host_is_allowed_explicitly_with_a_warning() {
    let (c, cfg) = load(
        "IMAPAccount a\nHost mail.example.org\nUser u\nPass p\nSSLType None\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel c\nFar :r:\nNear :l:\n",
    );
    assert!(cfg.accounts["a"].allow_plaintext);
    assert!(
        c.warnings[0].message.contains("unencrypted"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn channels_per_folder_on_one_maildir_merge() {
    let (c, cfg) = load(
        "IMAPAccount a\nHost h\nUser u\nPass p\nSSLType IMAPS\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel inbox\nFar :r:INBOX\nNear :l:INBOX\n\nChannel sent\nFar :r:Sent\nNear :l:Sent\n\nChannel renamed\nFar :r:[Gmail]/Sent\nNear :l:sent\n",
    );
    assert_eq!(cfg.channels.len(), 1);
    assert_eq!(cfg.channels["inbox"].patterns.as_slice(), ["INBOX", "Sent"]);
    assert_eq!(c.channels[0].sources.len(), 2);
    assert_eq!(
        lines(&c),
        vec![(22, "Channel")],
        "the renaming channel is refused"
    );
}

#[test]
fn layouts_mailferry_cannot_represent_are_refused_by_line() {
    let base = "IMAPAccount a\nHost h\nUser u\nPass p\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n";
    let chan = "\nChannel c\nFar :r:\nNear :l:\nPatterns *\n";
    for (extra, keyword) in [
        ("SubFolders Legacy\n", "SubFolders"),
        ("Flatten .\n", "Flatten"),
    ] {
        let c = conv(&format!("{base}{extra}{chan}"));
        assert!(c.channels.is_empty());
        assert_eq!(lines(&c), vec![(12, keyword), (14, "Channel")]);
    }
}

#[test]
fn an_inbox_outside_the_tree_stays_unsynced_as_in_mbsync() {
    let (c, cfg) = load(
        "IMAPAccount a\nHost h\nUser u\nPass p\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath ~/Mail/\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n",
    );
    let channel = &cfg.channels["c"];
    assert_eq!(channel.patterns.as_slice(), ["*", "!INBOX"]);
    assert!(!channel.patterns.matches("INBOX"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Named explicitly, it is kept, with a warning saying where to move it.
    let c = conv(
        "IMAPAccount a\nHost h\nUser u\nPass p\n\nIMAPStore r\nAccount a\n\nMaildirStore l\nPath ~/Mail/\nInbox ~/Maildir\n\nChannel c\nFar :r:\nNear :l:\nPatterns INBOX *\n",
    );
    assert_eq!(lines(&c), vec![(11, "Inbox")]);
    assert!(
        c.warnings[0].message.contains("~/Maildir"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn names_with_dots_and_spaces_load() {
    let (_, cfg) = load(
        "IMAPAccount gmail.com\nHost h\nUser u\nPass p\n\nIMAPStore r\nAccount gmail.com\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel \"my mail\"\nFar :r:\nNear :l:\n",
    );
    assert_eq!(cfg.channels["my-mail"].account, "gmail.com");
    assert!(cfg.accounts.contains_key("gmail.com"));
}

#[test]
fn names_mailferry_cannot_use_are_made_plain() {
    assert_eq!(plain_name("my account"), "my-account");
    assert_eq!(plain_name(".hidden"), "hidden");
    assert_eq!(plain_name("gmail.com"), "gmail.com");
    assert_eq!(plain_name(""), "imported");
}

#[test]
fn sizes_in_mbsync_units() {
    assert_eq!(max_size_value("10m"), Ok(Some("10MiB".into())));
    assert_eq!(max_size_value("500K"), Ok(Some("500KiB".into())));
    assert_eq!(max_size_value("2000b"), Ok(Some("2000".into())));
    assert_eq!(max_size_value("0"), Ok(None));
    assert!(max_size_value("big").is_err());
}
