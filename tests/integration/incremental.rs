//! Incremental sync against a private Dovecot: each tier of change detection (QRESYNC,
//! CONDSTORE alone, neither) converges after changes on both sides and asks the server
//! what its capabilities allow; folders where nothing changed are neither selected nor
//! scanned nor rewritten, and a change made right after such a run is still seen.

use crate::support::dovecot::DovecotOptions;
use crate::sync::{
    Env, assert_nothing_planned, change_both_sides, folder_report, near_files, small_corpus, totals,
};
use serde_json::Value;
use std::fs;
use std::time::{Duration, SystemTime};

const FOLDERS: [&str; 4] = ["INBOX", "Archive", "Notes", "Projects"];

/// Runs `-vvv sync --json` and returns the report and the IMAP trace (stderr).
fn traced_sync(env: &Env) -> (Value, String) {
    traced_sync_with(env, &[])
}

/// [`traced_sync`] with more options for `sync` (e.g. `--jobs 1`).
fn traced_sync_with(env: &Env, options: &[&str]) -> (Value, String) {
    let mut args = vec!["-vvv", "sync", "--json"];
    args.extend_from_slice(options);
    let out = env.run(&args);
    let trace = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{trace}");
    let report = serde_json::from_slice(&out.stdout).unwrap();
    (report, trace)
}

/// Lines of the trace the client sent, without tags.
fn sent(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|line| line.split_once("C: "))
        .map(|(_, command)| command.split_once(' ').map_or("", |c| c.1).to_string())
        .collect()
}

/// The folders named by the sent commands `command` (`SELECT`, `STATUS`), in order.
fn folders_sent(sent: &[String], command: &str) -> Vec<String> {
    let prefix = format!("{command} \"");
    sent.iter()
        .filter_map(|c| c.strip_prefix(&prefix))
        .filter_map(|c| c.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Asserts the run selected (or examined) no folder.
fn assert_no_folder_selected(trace: &str) {
    let commands = sent(trace);
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("SELECT") || c.starts_with("EXAMINE")),
        "unchanged folders selected: {}",
        commands.join("\n")
    );
}

/// The folder of the first STATUS command sent, if any.
fn first_status_asked(trace: &str) -> Option<String> {
    trace
        .lines()
        .filter_map(|l| l.split_once(" C: ").map(|(_, c)| c))
        .find(|c| c.contains(" STATUS "))
        .and_then(|c| c.split('"').nth(1))
        .map(str::to_string)
}

/// Asserts the run asked the server about no folder (neither LIST-STATUS nor STATUS):
/// every folder it knew had changed on the near side, so it opens them all anyway.
fn assert_nothing_asked(sent: &[String]) {
    assert!(
        !sent
            .iter()
            .any(|c| c.starts_with("STATUS ") || c.contains("RETURN (STATUS")),
        "{}",
        sent.join("\n")
    );
}

/// How many folders were listed in full (FETCH by sequence numbers from 1).
fn full_listings(sent: &[String]) -> usize {
    sent.iter().filter(|c| c.starts_with("FETCH 1:")).count()
}

/// Sets the times of every near folder's `cur/` and `new/` an hour back, as if the last
/// change were long past (instead of waiting).
fn age_near_dirs(env: &Env) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for folder in FOLDERS {
        for sub in ["cur", "new"] {
            let dir = env.near_dir(folder).join(sub);
            if let Ok(handle) = fs::File::open(&dir) {
                handle.set_modified(hour_ago).unwrap();
            }
        }
    }
}

/// Seeds the small corpus, syncs, lets the near side settle and syncs again, which plans
/// nothing and records every folder's snapshots.
fn settled_env(options: DovecotOptions) -> Env {
    let env = Env::new(options, "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    age_near_dirs(&env);
    assert_nothing_planned(&env.sync(&[], 0));
    env
}

/// Seeds, syncs, lets the near side settle, syncs again (recording snapshots), then
/// changes both sides (flags, an expunge, a move to another folder, new mail both ways)
/// and syncs with a trace. Checks convergence and returns what the client sent.
fn converge_after_changes(options: DovecotOptions) -> Vec<String> {
    let env = settled_env(options);

    change_both_sides(&env);
    // A move between folders on the server: an expunge in one, new mail in the other.
    let mut session = env.dovecot.session().unwrap();
    session.select(env.dovecot.server_name("Archive")).unwrap();
    session
        .uid_mv("5", env.dovecot.server_name("INBOX"))
        .unwrap();
    session.logout().unwrap();

    let (report, trace) = traced_sync(&env);
    let t = totals(&report);
    assert_eq!(
        t[0], 3,
        "downloads: new INBOX mail, the moved one, Projects: {report}"
    );
    assert_eq!(t[1], 3, "uploads: two INBOX files + Notes: {report}");
    assert_eq!(t[4], 1, "the near deletion reaches the far side: {report}");
    assert_eq!(
        t[5], 2,
        "the far expunge and the move reach the near side: {report}"
    );
    assert!(t[2] >= 1 && t[3] >= 2, "flags both ways: {report}");
    assert_eq!(folder_report(&report, "Notes")["create"], "far");
    assert_eq!(env.assert_converged("INBOX"), 12 - 1 + 1 + 2 + 1);
    assert_eq!(env.assert_converged("Archive"), 12 - 1 - 1);
    assert_eq!(env.assert_converged("Notes"), 1);
    assert_eq!(env.assert_converged("Projects"), 1);
    assert_nothing_planned(&env.sync(&[], 0));
    for folder in FOLDERS {
        env.assert_converged(folder);
    }
    sent(&trace)
}

#[test]
fn with_qresync_only_changes_are_fetched_and_expunges_come_as_vanished() {
    let sent = converge_after_changes(DovecotOptions::default());
    let joined = sent.join("\n");
    assert_nothing_asked(&sent);
    assert!(
        sent.iter()
            .any(|c| c.contains("(CHANGEDSINCE") && c.contains("VANISHED)")),
        "{joined}"
    );
    assert_eq!(full_listings(&sent), 1, "only the new Projects: {joined}");
}

#[test]
fn with_condstore_alone_flags_come_by_changedsince_and_expunges_by_uid_search() {
    let sent = converge_after_changes(DovecotOptions {
        capabilities: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE UIDPLUS CONDSTORE".to_string()),
        ..DovecotOptions::default()
    });
    let joined = sent.join("\n");
    assert_nothing_asked(&sent);
    assert!(
        sent.iter()
            .any(|c| c.contains("(CHANGEDSINCE") && !c.contains("VANISHED")),
        "{joined}"
    );
    assert!(
        sent.iter().any(|c| c.starts_with("UID SEARCH UID 1:")),
        "{joined}"
    );
    assert_eq!(full_listings(&sent), 1, "only the new Projects: {joined}");
}

#[test]
fn without_condstore_every_folder_is_listed_in_full() {
    let sent = converge_after_changes(DovecotOptions {
        capabilities: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE UIDPLUS".to_string()),
        ..DovecotOptions::default()
    });
    let joined = sent.join("\n");
    assert_eq!(
        full_listings(&sent),
        3,
        "INBOX, Archive, Projects: {joined}"
    );
    assert!(
        !sent
            .iter()
            .any(|c| c.contains("CHANGEDSINCE") || c.contains("STATUS")),
        "{joined}"
    );
}

#[test]
fn unchanged_folders_are_skipped_and_changes_right_after_are_still_seen() {
    let env = settled_env(DovecotOptions::default());
    let state_files = |env: &Env| -> Vec<(String, Vec<u8>, SystemTime)> {
        let dir = env.state_dir().join("test");
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "state"))
            .map(|p| {
                let modified = fs::metadata(&p).unwrap().modified().unwrap();
                (p.display().to_string(), fs::read(&p).unwrap(), modified)
            })
            .collect();
        files.sort();
        files
    };
    let before = state_files(&env);
    assert!(!before.is_empty());

    // Nothing changed: no folder is selected, no state file is rewritten.
    let (report, trace) = traced_sync(&env);
    assert_nothing_planned(&report);
    assert_no_folder_selected(&trace);
    assert_eq!(state_files(&env), before, "state files rewritten");
    // `status` shows this run as the last sync of the folders it skipped: their state
    // files are older, the run is noted in last-run.json.
    let last_run: Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("test/last-run.json")).unwrap())
            .unwrap();
    let noted = last_run["folders"].as_array().unwrap();
    for folder in ["INBOX", "Archive"] {
        assert!(noted.iter().any(|f| f == folder), "{last_run}");
    }
    let when = mailferry::app::status::iso8601_utc(last_run["time"].as_u64().unwrap());
    let status = env.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    let archive = text.lines().find(|l| l.contains("Archive")).unwrap_or("");
    assert!(
        archive.contains(&when),
        "Archive's last sync is not {when}:\n{text}"
    );

    // Right after that run, without waiting: a flag renamed near, one changed far.
    let archive = env.near_dir("Archive");
    let file = near_files(&archive)
        .into_iter()
        .find(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            !name.split(":2,").nth(1).unwrap_or("").contains('F')
        })
        .unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap();
    let letters = name.split(":2,").nth(1).unwrap_or("");
    let mut flagged: Vec<char> = letters.chars().chain(['F']).collect();
    flagged.sort();
    fs::rename(
        &file,
        archive.join("cur").join(format!(
            "{base}:2,{}",
            flagged.into_iter().collect::<String>()
        )),
    )
    .unwrap();
    let mut session = env.dovecot.session().unwrap();
    session.select(env.dovecot.server_name("INBOX")).unwrap();
    session
        .uid_store("4", "+FLAGS.SILENT (\\Answered)")
        .unwrap();
    session.logout().unwrap();

    let report = env.sync(&[], 0);
    let t = totals(&report);
    assert_eq!((t[2], t[3]), (1, 1), "one flag each way: {report}");
    for folder in ["INBOX", "Archive"] {
        env.assert_converged(folder);
    }
    assert_nothing_planned(&env.sync(&[], 0));

    // A run that delivers into a folder may record its times at the end (after listing
    // it again): a file renamed right after that run is still seen.
    env.dovecot
        .append(
            &env.dovecot.server_name("Archive"),
            b"Message-ID: <late@tests.mailferry.test>\r\nSubject: late\r\n\r\nlate\r\n",
            &[],
        )
        .unwrap();
    let report = env.sync(&[], 0);
    assert_eq!(totals(&report)[0], 1, "one download: {report}");
    let file = near_files(&archive)
        .into_iter()
        .find(|f| fs::read(f).unwrap().starts_with(b"Message-ID: <late@"))
        .unwrap();
    let renamed = format!("{}:2,S", file.file_name().unwrap().to_string_lossy());
    fs::rename(&file, archive.join("cur").join(renamed)).unwrap();
    let report = env.sync(&[], 0);
    assert_eq!(totals(&report)[2], 1, "the flag goes up: {report}");
    env.assert_converged("Archive");
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn a_no_op_right_after_a_first_sync_selects_no_folder() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    let report = env.sync(&[], 0);
    assert!(totals(&report)[0] > 0, "{report}");
    // Without waiting: the near folders were just written, their times may be too fresh
    // to have been recorded; a local listing then stands in, and no folder is selected.
    let (report, trace) = traced_sync(&env);
    assert_nothing_planned(&report);
    assert_no_folder_selected(&trace);
    // Both folders were asked; the larger one's answer was read by its job: unchanged,
    // it is not selected either.
    let statuses = sent(&trace)
        .iter()
        .filter(|c| c.starts_with("STATUS "))
        .count();
    assert_eq!(statuses, 2, "{trace}");
    // A file renamed now is still seen.
    let inbox = env.near_dir("INBOX");
    let file = near_files(&inbox)
        .into_iter()
        .find(|f| !f.to_string_lossy().contains(":2,"))
        .unwrap();
    let renamed = format!("{}:2,F", file.file_name().unwrap().to_string_lossy());
    fs::rename(&file, inbox.join("cur").join(renamed)).unwrap();
    let report = env.sync(&[], 0);
    assert_eq!(totals(&report)[2], 1, "the flag goes up: {report}");
    env.assert_converged("INBOX");
}

#[test]
fn new_near_messages_go_up_in_one_append_and_8bit_bodies_one_by_one() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    let inbox = env.near_dir("INBOX");
    for n in 0..5 {
        crate::sync::write_near(
            &inbox,
            "new",
            &format!("1800000{n}.M{n}P7.testhost"),
            300 + n,
        );
    }
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[1], 5, "{report}");
    let appends: Vec<String> = sent(&trace)
        .into_iter()
        .filter(|c| c.starts_with("APPEND"))
        .collect();
    assert_eq!(appends.len(), 1, "one MULTIAPPEND: {appends:?}");
    assert_eq!(env.assert_converged("INBOX"), 12 + 5);

    // Bodies that are not UTF-8 (Latin-1 text) go up one APPEND each, byte for byte.
    for n in 0..2u8 {
        let body = [
            format!("Message-ID: <latin1.{n}@tests.mailferry.test>\r\nSubject: caf").into_bytes(),
            vec![0xE9],
            b"\r\n\r\nd\xE9j\xE0 vu\r\n".to_vec(),
        ]
        .concat();
        fs::write(
            inbox
                .join("new")
                .join(format!("1800001{n}.M{n}P8.testhost")),
            body,
        )
        .unwrap();
    }
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[1], 2, "{report}");
    let appends = sent(&trace)
        .into_iter()
        .filter(|c| c.starts_with("APPEND"))
        .count();
    assert_eq!(appends, 2, "one APPEND per 8-bit message");
    assert_eq!(env.assert_converged("INBOX"), 12 + 5 + 2);
    assert_nothing_planned(&env.sync(&[], 0));
}

#[test]
fn a_changed_expunge_setting_is_not_skipped_as_unchanged() {
    let env = Env::with_channel_extra(DovecotOptions::default(), "verbatim", "expunge = \"none\"");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    let mut session = env.dovecot.session().unwrap();
    session.select(env.dovecot.server_name("Archive")).unwrap();
    session.uid_store("2", "+FLAGS.SILENT (\\Deleted)").unwrap();
    session.logout().unwrap();
    env.sync(&[], 0);
    age_near_dirs(&env);
    assert_nothing_planned(&env.sync(&[], 0));
    assert_eq!(env.assert_converged("Archive"), 12, "flagged, not purged");

    // Both sides unchanged, but now deleted-flagged messages are to be purged.
    env.write_config("");
    let report = env.sync(&[], 0);
    let t = totals(&report);
    assert_eq!((t[4], t[5]), (1, 1), "purged on both sides: {report}");
    assert_eq!(env.assert_converged("Archive"), 11);
    assert_nothing_planned(&env.sync(&[], 0));
}

/// Renames a near message file into cur/ with its flagged mark (`F`) toggled.
fn toggle_near_flagged(file: &std::path::Path) {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let (base, letters) = name.split_once(":2,").unwrap_or((&name, ""));
    let mut letters: Vec<char> = if letters.contains('F') {
        letters.chars().filter(|&c| c != 'F').collect()
    } else {
        letters.chars().chain(['F']).collect()
    };
    letters.sort_unstable();
    let letters: String = letters.into_iter().collect();
    let folder = file.parent().and_then(std::path::Path::parent).unwrap();
    fs::rename(file, folder.join("cur").join(format!("{base}:2,{letters}"))).unwrap();
}

#[test]
fn near_flag_changes_and_deletions_reach_the_server_in_one_round_trip() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    env.sync(&[], 0);
    let files = near_files(&env.near_dir("INBOX"));
    for file in &files[..3] {
        toggle_near_flagged(file);
    }
    fs::remove_file(&files[3]).unwrap();
    fs::remove_file(&files[4]).unwrap();

    let (report, trace) = traced_sync(&env);
    let t = totals(&report);
    assert!(t[2] >= 3, "flag changes reach the server: {report}");
    assert_eq!(t[4], 2, "both deletions reach the server: {report}");
    assert_eq!(env.assert_converged("INBOX"), 12 - 2);

    // The stores go out ahead of the expunge, in the same write: no answer from the
    // server comes between them on that connection.
    let expunge = trace
        .lines()
        .find(|l| l.contains(" C: ") && l.contains(" UID EXPUNGE "))
        .unwrap_or_else(|| panic!("no UID EXPUNGE sent: {trace}"));
    let connection = expunge
        .split_whitespace()
        .find(|w| w.starts_with("imap#"))
        .unwrap();
    let on_connection: Vec<&str> = trace
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == connection))
        .collect();
    let at = on_connection.iter().position(|l| *l == expunge).unwrap();
    let mut ahead = Vec::new();
    for line in on_connection[..at].iter().rev() {
        if line.contains(" S: ") {
            break;
        }
        ahead.push(*line);
    }
    assert!(
        ahead
            .iter()
            .any(|l| l.contains("+FLAGS.SILENT (\\Deleted)"))
            && ahead.iter().any(|l| l.contains("FLAGS.SILENT (\\Flagged)")),
        "the stores were not sent ahead of the expunge: {ahead:?}\n{trace}"
    );
    assert_nothing_planned(&env.sync(&[], 0));
    env.assert_converged("INBOX");
}

#[test]
fn folders_changed_on_the_near_side_are_not_asked_about() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    // INBOX (16 messages) is the largest folder, then Archive (12), then Projects (1).
    let mut more: Vec<_> = (0..4)
        .map(|n| crate::support::corpus::message("INBOX", 100 + n, &[]))
        .collect();
    more.push(crate::support::corpus::message("Projects", 1, &[]));
    env.dovecot.seed(&more).unwrap();
    env.sync(&[], 0);
    age_near_dirs(&env);
    assert_nothing_planned(&env.sync(&[], 0));

    // One folder changed near: the others are asked about, pipelined, that one not.
    toggle_near_flagged(&near_files(&env.near_dir("Archive"))[0]);
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[2], 1, "{report}");
    let commands = sent(&trace);
    let statuses: Vec<&String> = commands
        .iter()
        .filter(|c| c.starts_with("STATUS "))
        .collect();
    assert!(
        !commands.iter().any(|c| c.contains("RETURN (STATUS")),
        "no LIST-STATUS for a subset: {commands:?}"
    );
    assert!(
        statuses.len() == 2
            && statuses.iter().any(|c| c.contains("INBOX"))
            && statuses.iter().any(|c| c.contains("Projects")),
        "{statuses:?}"
    );
    assert!(
        trace
            .lines()
            .any(|l| l.contains(" C: mf") && l.contains(" STATUS ")),
        "STATUS commands pipelined: {trace}"
    );
    env.assert_converged("Archive");

    // Every folder changed near: nothing to ask, and the jobs start largest first (one
    // at a time here, so the order of the SELECTs is the order they started in).
    let synced = ["INBOX", "Archive", "Projects"];
    for folder in synced {
        toggle_near_flagged(&near_files(&env.near_dir(folder))[0]);
    }
    let (_, trace) = traced_sync_with(&env, &["--jobs", "1"]);
    let commands = sent(&trace);
    assert_nothing_asked(&commands);
    let selected = folders_sent(&commands, "SELECT");
    assert_eq!(selected, ["INBOX", "Archive", "Projects"], "{trace}");
    for folder in synced {
        env.assert_converged(folder);
    }
}

#[test]
fn the_largest_folder_is_asked_about_first_and_every_folder_in_one_round_trip() {
    let env = Env::new(DovecotOptions::default(), "verbatim");
    env.seed(&small_corpus());
    let more: Vec<_> = (0..20)
        .map(|n| crate::support::corpus::message("INBOX", 100 + n, &[]))
        .collect();
    env.dovecot.seed(&more).unwrap();
    env.sync(&[], 0);
    // New mail in every folder: INBOX (32 messages) is the largest job.
    for (n, folder) in ["INBOX", "Archive"].iter().enumerate() {
        let message = crate::support::corpus::message(folder, 200 + n as u32, &[]);
        env.dovecot.append(folder, &message.bytes, &[]).unwrap();
    }
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[0], 2, "{report}");
    let connection_of = |needle: &str| {
        trace
            .lines()
            .find(|line| line.contains(" C: ") && line.contains(needle))
            .and_then(|line| line.split_whitespace().find(|w| w.starts_with("imap#")))
            .map(str::to_string)
    };
    // Every folder is asked about with STATUS, pipelined, even though Dovecot offers
    // LIST-STATUS (which makes it re-read every changed folder, one after the other).
    let commands = sent(&trace);
    assert!(
        !commands.iter().any(|c| c.contains("RETURN (STATUS")),
        "{commands:?}"
    );
    let statuses = commands.iter().filter(|c| c.starts_with("STATUS ")).count();
    assert_eq!(statuses, 2, "INBOX and Archive: {commands:?}");
    // INBOX's STATUS, the largest folder's, goes out first (its job starts as soon as
    // the answer is in), on the connection that listed the folders, in the same write as
    // Archive's.
    assert_eq!(
        first_status_asked(&trace).as_deref(),
        Some("INBOX"),
        "{trace}"
    );
    let listing = connection_of(" STATUS \"INBOX\"");
    assert!(listing.is_some(), "{trace}");
    assert_eq!(connection_of(" LIST "), listing, "{trace}");
    assert_eq!(connection_of(" STATUS \"Archive\""), listing, "{trace}");
    assert!(connection_of("SELECT \"INBOX\"").is_some(), "{trace}");
    env.assert_converged("INBOX");
    env.assert_converged("Archive");
}

#[test]
fn a_folder_changed_on_the_server_last_run_is_selected_without_status_until_it_rests() {
    let env = settled_env(DovecotOptions::default());
    let append = |folder: &str, n: u32| {
        let message = crate::support::corpus::message(folder, n, &[]);
        env.dovecot
            .append(&env.dovecot.server_name(folder), &message.bytes, &[])
            .unwrap();
    };
    let statuses_and_selects = |trace: &str| -> (Vec<String>, Vec<String>) {
        let commands = sent(trace);
        (
            folders_sent(&commands, "STATUS"),
            folders_sent(&commands, "SELECT"),
        )
    };

    // New mail in INBOX on the server: asked about (it rested in the last run), then
    // selected.
    append("INBOX", 300);
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[0], 1, "{report}");
    let (statuses, selects) = statuses_and_selects(&trace);
    assert!(statuses.iter().any(|f| f == "INBOX"), "{trace}");
    assert_eq!(selects, ["INBOX"], "{trace}");
    age_near_dirs(&env);

    // More new mail in INBOX, and in Archive: INBOX changed last run, so it is selected
    // without a STATUS first (a server like Dovecot would read it twice); Archive is
    // asked about first, as it rested.
    append("INBOX", 301);
    append("Archive", 302);
    let (report, trace) = traced_sync(&env);
    assert_eq!(totals(&report)[0], 2, "{report}");
    let (statuses, mut selects) = statuses_and_selects(&trace);
    assert!(!statuses.iter().any(|f| f == "INBOX"), "{trace}");
    assert!(statuses.iter().any(|f| f == "Archive"), "{trace}");
    selects.sort();
    assert_eq!(selects, ["Archive", "INBOX"], "{trace}");
    env.assert_converged("INBOX");
    env.assert_converged("Archive");
    age_near_dirs(&env);

    // Nothing new: both changed last run, so both are selected, found unchanged and
    // nothing is planned; the run after that selects neither.
    let (report, trace) = traced_sync(&env);
    assert_nothing_planned(&report);
    let (statuses, mut selects) = statuses_and_selects(&trace);
    selects.sort();
    assert_eq!(selects, ["Archive", "INBOX"], "{trace}");
    assert!(statuses.is_empty(), "{trace}");
    let (report, trace) = traced_sync(&env);
    assert_nothing_planned(&report);
    assert_no_folder_selected(&trace);
    env.assert_converged("INBOX");
    env.assert_converged("Archive");
}
