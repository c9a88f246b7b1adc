//! The man page sections clap cannot generate, in roff: every config key with its
//! default, the folder mapping, the sync semantics, importing from mbsync, the exit codes,
//! the environment and the files. Keep in step with the SPEC (§2–§4) and README.md.

/// CONFIGURATION: the file, then every key of every table, with its default.
const CONFIGURATION: &str = r#".SH CONFIGURATION
The config file is TOML. It is \fB$MAILFERRY_CONFIG\fR if set, else the file given with
\fB\-c\fR, else \fI$XDG_CONFIG_HOME/mailferry/config.toml\fR
(\fI~/.config/mailferry/config.toml\fR when \fBXDG_CONFIG_HOME\fR is unset).
\fB~\fR and \fB$VARS\fR expand in paths.
Unknown keys, a channel naming a missing account, both or neither of \fBpassword\fR and
\fBpass_cmd\fR, and \fBtls = "none"\fR to a host that is not loopback without
\fBallow_plaintext = true\fR end the run with exit status 2 and a message naming the
file, line and key.
A file holding a \fBpassword\fR that others can read draws a warning (chmod 600 it).
.SS [general]
.TP
\fBstate_dir\fR (default \fI$XDG_STATE_HOME/mailferry\fR, else \fI~/.local/state/mailferry\fR)
Where the per\-folder state, the journals and the locks live.
.TP
\fBjobs\fR (default 4)
Folders synced at once, all channels together; \fBsync \-j\fR overrides it.
.SS [account.NAME]
.TP
\fBhost\fR (required)
The IMAP server.
.TP
\fBport\fR (default 993 for \fBtls = "implicit"\fR, 143 otherwise)
.TP
\fBtls\fR (default "implicit")
"implicit" (TLS from the first byte), "starttls" (refused when the server does not offer
STARTTLS; never downgraded) or "none" (loopback only, unless \fBallow_plaintext\fR).
.TP
\fBallow_plaintext\fR (default false)
Allow \fBtls = "none"\fR to a host that is not loopback.
.TP
\fBca_file\fR (default none)
An extra trust anchor (PEM); the system roots stay trusted.
.TP
\fBuser\fR (required)
.TP
\fBpassword\fR, \fBpass_cmd\fR (exactly one)
The password itself, or a shell command whose first line of output is the password
(run once per run; its output is never shown).
.TP
\fBconnections\fR (default 4)
Most IMAP connections open to this account at once. Connections not busy with a folder
of their own help download a large one (500 new messages or more) from a server slow to
answer.
.TP
\fBtimeout\fR (default 60)
Seconds of silence before a connection counts as dead.
.SS [channel.NAME]
.TP
\fBaccount\fR (required)
The account (\fB[account.NAME]\fR) whose server this channel syncs.
.TP
\fBmaildir\fR (required)
The root of the maildir tree.
.TP
\fBlayout\fR (default "verbatim")
"verbatim" or "maildir++"; see FOLDER MAPPING.
.TP
\fBfolder_names\fR (default "utf8")
"utf8", or "imap" to keep the server's modified UTF\-7 spelling on disk (as mbsync 1.4 did).
.TP
\fBfolders\fR (default ["*"])
Patterns over far folder names: \fB*\fR matches any run of characters, \fB%\fR any run
without the hierarchy delimiter, a leading \fB!\fR excludes; each folder takes the verdict
of the last pattern that matches it; INBOX matches case\-insensitively.
.TP
\fBdirection\fR (default "both")
"both", "pull" (far to near only) or "push" (near to far only).
.TP
\fBcreate\fR (default "both")
Sides on which a folder missing there is created: "both", "far", "near" or "none".
.TP
\fBremove\fR (default "none")
Sides to which a folder deletion propagates: "both", "far", "near" or "none".
.TP
\fBexpunge\fR (default "both")
Sides on which messages flagged deleted are purged: "both", "far", "near" or "none".
.TP
\fBmax_size\fR (default none: no limit)
Far messages larger than this are not downloaded (and are reported): a number of bytes,
or with a unit: B, kB, MB, GB, KiB, MiB, GiB (e.g. "50MiB").
"#;

/// FOLDER MAPPING: SPEC §3.
const FOLDER_MAPPING: &str = r#".SH FOLDER MAPPING
Far names are decoded from modified UTF\-7 and shown with \fB/\fR as the hierarchy
delimiter, whatever the server's delimiter. A personal namespace prefix such as
\fBINBOX.\fR (Courier, Cyrus) is stripped from far names and added back when creating
folders: far \fBINBOX.Archive.2021\fR is \fBArchive/2021\fR.
On disk, names are UTF\-8 unless \fBfolder_names = "imap"\fR.
.TP
\fBverbatim\fR
Far \fBA/B\fR is the maildir \fIMAILDIR/A/B/{cur,new,tmp}\fR; INBOX is \fIMAILDIR/INBOX\fR.
.TP
\fBmaildir++\fR
INBOX is \fIMAILDIR\fR itself; far \fBA/B\fR is \fIMAILDIR/.A.B\fR.
.PP
A far name that would leave the maildir root or cannot be represented (an empty, \fB.\fR
or \fB..\fR component, a NUL or control character, a component \fBcur\fR, \fBnew\fR or
\fBtmp\fR in verbatim, a \fB.\fR inside a component in maildir++) is refused for that
folder alone; nothing is ever written outside the maildir root.
"#;

/// SYNC SEMANTICS: SPEC §4 and the README's choices.
const SYNC_SEMANTICS: &str = r#".SH SYNC SEMANTICS
Far messages are known by (UIDVALIDITY, UID), near messages by their maildir unique name
(the file name before \fB:2,\fR), so a mail client moving a file between \fBnew/\fR and
\fBcur/\fR or changing its flags keeps its identity. The state pairs them and records
the flags last agreed.
.PP
Flags: \fB\eSeen\fR=S, \fB\eAnswered\fR=R, \fB\eFlagged\fR=F, \fB\eDeleted\fR=T,
\fB\eDraft\fR=D, \fB$Forwarded\fR=P. Each flag merges three\-way against the recorded
flags: a change on either side wins. Other IMAP keywords are never removed from the far
side.
.PP
Per folder pair, in one run:
.IP \(bu 2
a far message not in the state is downloaded (to \fBnew/\fR without flags, else to
\fBcur/\fR); a near message not in the state is appended to the far side with its flags
and arrival date;
.IP \(bu 2
paired messages get the merged flags on both sides;
.IP \(bu 2
a paired message gone from one side is deleted on the other (far: \fB\eDeleted\fR, then
UID EXPUNGE of exactly those UIDs where the server has UIDPLUS);
.IP \(bu 2
on each side \fBexpunge\fR names, messages flagged deleted are purged, and the purge
propagates as a deletion;
.IP \(bu 2
a folder missing on one side is created there when \fBcreate\fR allows; a folder deleted
on one side is deleted on the other only when \fBremove\fR allows, else it is recreated.
.PP
\fB\-\-pull\fR and \fB\-\-push\fR (and \fBdirection\fR) apply one direction's changes;
the other side's changes stay pending, never lost.
.PP
Never duplicate, never lose: on the first sync of a folder holding mail on both sides,
and after a UIDVALIDITY change, copies present on both sides are paired by Message\-ID
(else a hash of the header block) instead of being copied again, and nothing is deleted
on inference. Every side effect is journaled first, so a run killed at any moment is
finished by the next one. When a run would delete more than half of a folder's messages
on one side (folders of 10 or more), or a near folder or the whole maildir root has
vanished, that folder's deletions are held back and reported as an error naming
\fB\-\-force\fR. Transient network failures are retried with back\-off (three attempts
per folder). One mailferry at a time syncs a channel; a second exits with status 75.
.PP
Change detection: with CONDSTORE, one round trip of STATUS commands (one per folder,
pipelined) tells which far folders changed since the last run (a folder changed on the
near side, or on the far side when the last run synced it, is selected without asking);
a folder unchanged on both sides (same
UIDVALIDITY, UIDNEXT, message count and HIGHESTMODSEQ; near \fBcur/\fR and \fBnew/\fR
with the times recorded) is neither selected nor scanned nor written. A changed folder is
asked only for what changed (UID FETCH CHANGEDSINCE, with QRESYNC's VANISHED for
expunges, else a UID SEARCH); without CONDSTORE every folder is listed in full. Near
directory times count only once they are older than the file system's clock (a moment
old, or older than a probe file made in \fBtmp/\fR after a run that changed the folder,
which then lists it again), so a change in the same clock tick is never missed.
.PP
Output: progress bars on stderr only when stderr is a terminal; a summary with the
elapsed time on stdout; \fB\-q\fR prints nothing but errors. No password or token is
ever printed, at any verbosity.
"#;

/// IMPORTING FROM MBSYNC: `import mbsync` and what maps to what (README "Coming from
/// mbsync").
const IMPORTING: &str = r#".SH IMPORTING FROM MBSYNC
\fBmailferry import mbsync\fR reads an mbsync config (\fB\-\-mbsyncrc\fR, else
\fI$XDG_CONFIG_HOME/isyncrc\fR, else \fI~/.mbsyncrc\fR) and prints the equivalent
mailferry config; a \fBPass\fR is printed as a placeholder, never itself.
With \fB\-\-write\fR it writes the config to the config path instead (mode 0600; it
refuses when that file, or mailferry state for a converted channel, exists already) and
imports mbsync's sync state: the \fB.mbsyncstate\fR files in the mailboxes, or the files
under the \fBSyncState\fR directory, and the \fB,U=\fR\fIUID\fR in the maildir file
names. The first \fBmailferry sync\fR then pairs every message mbsync had paired:
nothing is downloaded, uploaded or deleted. Run it while mbsync is not running.
.PP
IMAPAccount (or an IMAPStore with its own Host) becomes \fB[account.NAME]\fR: Host,
Port, User, Pass (\fBpassword\fR), PassCmd (\fBpass_cmd\fR), SSLType or TLSType (IMAPS
\fBimplicit\fR, STARTTLS \fBstarttls\fR, None \fBnone\fR), CertificateFile
(\fBca_file\fR), Timeout. A Channel from an IMAPStore (Far, or Master) to a MaildirStore
(Near, or Slave) becomes \fB[channel.NAME]\fR: the store's Path with SubFolders Verbatim,
or its Inbox with SubFolders Maildir++, is \fBmaildir\fR and \fBlayout\fR; Patterns are
\fBfolders\fR; Sync is \fBdirection\fR; Create, Remove and Expunge keep their sides (and
mbsync's default None); MaxSize is \fBmax_size\fR. Channels sharing one maildir merge.
Folder directories keep their names: the import sets \fBfolder_names = "imap"\fR, and
file names keep mbsync's \fB,U=\fR part (mailferry never adds one).
.PP
Everything else is warned about on stderr, one line per config line, naming the file,
line and keyword: Group, MaxMessages, ExpireUnread, CopyArrivalDate, Trash*, MapInbox,
Flatten and SubFolders Legacy (the channel is not converted), AltMap (its state is not
imported; the first sync pairs by Message\-ID), PipelineDepth, TLSVersions,
SystemCertificates no, CipherString, client certificates, Tunnel, UserCmd, AuthMechs
other than LOGIN and PLAIN, a Sync that propagates only some changes. Pending entries
of an interrupted mbsync run are replayed from its journal; messages it had not finished
copying are left to the first sync, which pairs them by Message\-ID.
"#;

/// EXIT STATUS: SPEC §1.
const EXIT_STATUS: &str = r#".SH EXIT STATUS
.TP
\fB0\fR
Everything asked was done (with \fB\-\-dry\-run\fR: planned).
.TP
\fB1\fR
At least one folder or channel failed; the others still ran, and the report says which
and why.
.TP
\fB2\fR
Bad command line or config; nothing ran.
.TP
\fB75\fR
Another mailferry holds the channel's lock (EX_TEMPFAIL): skip quietly from cron, or
\fBSuccessExitStatus=75\fR in a systemd unit.
"#;

/// ENVIRONMENT.
const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBMAILFERRY_CONFIG\fR
The config file; wins over \fB\-c\fR.
.TP
\fBXDG_CONFIG_HOME\fR
The default config file is \fI$XDG_CONFIG_HOME/mailferry/config.toml\fR.
.TP
\fBXDG_STATE_HOME\fR
The default \fBstate_dir\fR is \fI$XDG_STATE_HOME/mailferry\fR.
.TP
\fBHOME\fR
Used when the XDG variables are unset, and for \fB~\fR in paths.
"#;

/// FILES.
const FILES: &str = r#".SH FILES
.TP
\fI~/.config/mailferry/config.toml\fR
The default config file.
.TP
\fISTATE_DIR/CHANNEL/FOLDER.state\fR
A folder's state (JSON): the pairs and their agreed flags, the last sync, the last error,
and what each side looked like when the state last agreed with it in full (the far
folder's UIDVALIDITY, UIDNEXT, message count and HIGHESTMODSEQ; the near folder's
\fIcur/\fR and \fInew/\fR times), so that the next run asks the server only for what
changed and skips a folder where neither side changed. Never inside the maildir, so mail
clients never see it.
.TP
\fISTATE_DIR/CHANNEL/FOLDER.journal\fR
What a run is doing, written before each side effect; the next run finishes an
interrupted one.
.TP
\fISTATE_DIR/CHANNEL/last\-run.json\fR
The folders the last run finished and when; \fBstatus\fR reads it for folders where
nothing changed (their state files are not rewritten).
.TP
\fISTATE_DIR/CHANNEL.lock\fR
Held while a run syncs the channel.
"#;

/// The sections, in page order.
pub const SECTIONS: [&str; 7] = [
    CONFIGURATION,
    FOLDER_MAPPING,
    SYNC_SEMANTICS,
    IMPORTING,
    EXIT_STATUS,
    ENVIRONMENT,
    FILES,
];
