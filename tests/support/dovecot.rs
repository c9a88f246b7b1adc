//! A private, throwaway Dovecot IMAP server for the integration tests and the demo.
//!
//! Self-contained on purpose: `examples/demo.rs` includes this file by `#[path]`, so it may
//! only use std, imap, native-tls, anyhow, sha2, hex and tempfile.
//!
//! Each [`Dovecot`] lives in its own temporary directory under `/tmp` (short, because
//! Dovecot's unix socket paths are limited to ~100 bytes), listens on two free loopback
//! ports (plain + STARTTLS, implicit TLS) with a fresh self-signed certificate, serves one
//! passwd-file user whose mail is owned by uid 8 (`mail`), and is killed (with its whole
//! process group) on drop.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A logged-in IMAP session over implicit TLS.
pub type Session = imap::Session<imap::Connection>;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-Pa55";
/// The `mail` system user and group: Dovecot refuses to serve mail as root.
const MAIL_ID: u32 = 8;
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Read/write timeout of harness connections, so a wedged server fails a test instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts at starting when a picked port turns out to be taken by someone else.
const START_ATTEMPTS: usize = 3;

/// Which kind of server to imitate.
#[derive(Clone, Debug)]
pub struct DovecotOptions {
    /// true: `LAYOUT=fs` with `/` as separator; false: Maildir++ with `.` as separator.
    pub fs_layout: bool,
    /// Personal namespace prefix `INBOX.` with separator `.`, as Courier and Debian's Cyrus
    /// do. Implies Maildir++, whatever `fs_layout` says.
    pub inbox_prefix: bool,
    /// An explicit `imap_capability` list (e.g. without QRESYNC/UIDPLUS); None: Dovecot's.
    pub capabilities: Option<String>,
    /// The server's certificate, or no TLS at all.
    pub tls: ServerTls,
}

/// The server's TLS set-up. Every certificate is self-signed and is its own trust anchor
/// ([`Dovecot::ca_file`]), so a client trusting it sees exactly one problem (or none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerTls {
    /// A fresh certificate valid for `localhost` and `127.0.0.1`.
    #[default]
    Good,
    /// Valid for `localhost` and `127.0.0.1`, but expired (its validity ended a day
    /// before it began: `openssl x509 -days -1`).
    Expired,
    /// Valid, but only for `wrong.example`.
    WrongHost,
    /// `ssl = no`: the plain port offers no STARTTLS, and there is no implicit-TLS
    /// listener ([`Dovecot::imaps_port`] refuses connections; [`Dovecot::session`] fails).
    Off,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            fs_layout: true,
            inbox_prefix: false,
            capabilities: None,
            tls: ServerTls::Good,
        }
    }
}

/// One message to put on the server. `folder` is a display name: `/`-separated UTF-8
/// (`"Archive/2021"`, `"Entwürfe"`, `"INBOX"`); flags are IMAP flags (`"\\Seen"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedMessage {
    pub folder: String,
    pub bytes: Vec<u8>,
    pub flags: Vec<String>,
}

/// A running private Dovecot. Killed, and its directory removed, on drop.
pub struct Dovecot {
    child: Child,
    // Dropped after Drop::drop has killed the server.
    dir: tempfile::TempDir,
    ca: PathBuf,
    conf: PathBuf,
    imap_port: u16,
    imaps_port: u16,
    delimiter: char,
    prefix: &'static str,
    tls: ServerTls,
}

enum Attempt {
    Ready(Dovecot),
    PortConflict(anyhow::Error),
}

impl Dovecot {
    /// Starts a fresh instance and waits (bounded) until both ports answer with its greeting.
    pub fn start(opts: DovecotOptions) -> Result<Dovecot> {
        let mut conflict = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&opts)? {
                Attempt::Ready(d) => return Ok(d),
                Attempt::PortConflict(e) => conflict = Some(e),
            }
        }
        Err(conflict.unwrap_or_else(|| anyhow!("Dovecot did not start")))
    }

    fn try_start(opts: &DovecotOptions) -> Result<Attempt> {
        let dovecot_bin = find_program("dovecot")?;
        // Must be traversable by uid 8 and short (unix socket paths live in base_dir).
        let dir = tempfile::Builder::new()
            .prefix("mf")
            .tempdir_in("/tmp")
            .context("creating the Dovecot temp dir")?;
        let root = dir.path();
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
        if opts.tls != ServerTls::Off {
            make_cert(root, opts.tls)?;
        }
        fs::write(
            root.join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )?;
        let home = root.join("mail").join(USER);
        fs::create_dir_all(home.join("Maildir"))?;
        for d in [root.join("mail"), home.clone(), home.join("Maildir")] {
            chown(&d, Some(MAIL_ID), Some(MAIL_ID))
                .with_context(|| format!("chown {} to {MAIL_ID}:{MAIL_ID}", d.display()))?;
        }
        let fs_layout = opts.fs_layout && !opts.inbox_prefix;
        let (imap_port, imaps_port) = free_ports()?;
        let instance = unique_instance_name();
        let conf = root.join("dovecot.conf");
        fs::write(
            &conf,
            config_text(root, &instance, imap_port, imaps_port, opts, fs_layout),
        )?;
        let stderr = fs::File::create(root.join("stderr"))?;
        let child = Command::new(&dovecot_bin)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Own process group: drop kills the master and all its children at once.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", dovecot_bin.display()))?;
        let mut dovecot = Dovecot {
            child,
            ca: root.join("cert.pem"),
            conf,
            dir,
            imap_port,
            imaps_port,
            delimiter: if fs_layout { '/' } else { '.' },
            prefix: if opts.inbox_prefix { "INBOX." } else { "" },
            tls: opts.tls,
        };
        match dovecot.wait_ready(&instance) {
            Ok(()) => Ok(Attempt::Ready(dovecot)),
            Err(e) => {
                let log = dovecot.log();
                let conflict = log.contains("Address already in use") || e.is::<PortTaken>();
                let e = e.context(format!("Dovecot did not start; its log:\n{log}"));
                if conflict {
                    Ok(Attempt::PortConflict(e))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Polls both ports until each answers with this instance's greeting (not another
    /// server that happened to grab the port), or the master exits, or the deadline passes.
    fn wait_ready(&mut self, instance: &str) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let token = greeting(instance);
        let ca = self.ca_file().to_path_buf();
        let mut plain_ready = false;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("dovecot exited during start-up ({status})");
            }
            plain_ready = plain_ready || probe(self.imap_port, None, &token)?;
            let tls_ready = match self.tls {
                ServerTls::Off => true,
                // Only the good certificate passes verification; the others are probed
                // without it (the greeting still tells this instance apart).
                tls => probe(self.imaps_port, Some((&ca, tls == ServerTls::Good)), &token)?,
            };
            if plain_ready && tls_ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "ports {} and {} not ready after {START_TIMEOUT:?}",
                    self.imap_port,
                    self.imaps_port
                );
            }
            // A bounded poll for the listeners to come up.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id of Dovecot's master process: every imap and imap-login process is
    /// its child, and the CPU time of those that ended is added to its children's times.
    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }

    /// Port of the plain listener (STARTTLS offered; plaintext LOGIN allowed).
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// Port of the implicit-TLS listener (nothing listens there with [`ServerTls::Off`]).
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// The server certificate (PEM), the trust anchor for clients. Valid for `localhost`
    /// and `127.0.0.1` with [`ServerTls::Good`]; see [`ServerTls`] for the others.
    pub fn ca_file(&self) -> &Path {
        &self.ca
    }

    /// The IMAP user name.
    pub fn user(&self) -> &str {
        USER
    }

    /// The IMAP password.
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// Adds another passwd-file user with the same password as [`Dovecot::user`] and an
    /// empty maildir (owned by uid 8), e.g. to give each of two clients its own account on
    /// one server (the benchmark does). Dovecot re-reads the users file when it changes.
    pub fn add_user(&self, name: &str) -> Result<()> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("user name {name:?}: ASCII letters and digits only");
        }
        let users = self.dir.path().join("users");
        let mut text = fs::read_to_string(&users)?;
        if text.lines().any(|l| l.split(':').next() == Some(name)) {
            bail!("user {name:?} exists already");
        }
        text.push_str(&format!("{name}:{{PLAIN}}{PASSWORD}::::::\n"));
        let home = self.dir.path().join("mail").join(name);
        fs::create_dir_all(home.join("Maildir"))?;
        for d in [home.clone(), home.join("Maildir")] {
            chown(&d, Some(MAIL_ID), Some(MAIL_ID))
                .with_context(|| format!("chown {} to {MAIL_ID}:{MAIL_ID}", d.display()))?;
        }
        // Atomically, so that a login at the same moment never sees half a file.
        let new = self.dir.path().join("users.new");
        fs::write(&new, text)?;
        fs::rename(&new, &users)?;
        Ok(())
    }

    /// The server-side maildir of `user` (one of [`Dovecot::user`] and those added with
    /// [`Dovecot::add_user`]).
    pub fn user_maildir_of(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }

    /// A logged-in session over implicit TLS as `user` (see [`Dovecot::add_user`]).
    pub fn session_as(&self, user: &str) -> Result<Session> {
        let client = connect_tls(self.imaps_port, &self.ca)?;
        client
            .login(user, PASSWORD)
            .map_err(|(e, _)| anyhow!("LOGIN as {user} failed: {e}"))
    }

    /// The user's maildir on the server side (INBOX is its root), for tests that poke at it.
    /// Files written there must end up owned by uid 8 (see [`Dovecot::doveadm`] for indexing).
    pub fn user_maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER).join("Maildir")
    }

    /// The server's hierarchy delimiter: `/` (fs layout) or `.` (Maildir++).
    pub fn delimiter(&self) -> char {
        self.delimiter
    }

    /// The personal namespace prefix: `""` or `"INBOX."`.
    pub fn prefix(&self) -> &str {
        self.prefix
    }

    /// Everything Dovecot logged so far (plus its stderr), for error messages.
    pub fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr"), read("dovecot.log"))
    }

    /// The server form of a display folder name (`/`-separated UTF-8): modified UTF-7, the
    /// server's delimiter and the namespace prefix. INBOX never gets the prefix.
    pub fn server_name(&self, display: &str) -> String {
        if display.eq_ignore_ascii_case("INBOX") {
            return "INBOX".to_string();
        }
        // Modified base64 never produces '/', so replacing it after encoding is safe.
        let encoded =
            mailferry::mapping::encode_mutf7(display).replace('/', &self.delimiter.to_string());
        format!("{}{encoded}", self.prefix)
    }

    /// A logged-in session over implicit TLS, trusting only [`Dovecot::ca_file`].
    pub fn session(&self) -> Result<Session> {
        let client = connect_tls(self.imaps_port, &self.ca)?;
        client
            .login(USER, PASSWORD)
            .map_err(|(e, _)| anyhow!("LOGIN failed: {e}"))
    }

    /// CREATE `server_name` (already in server form); "already exists" is fine.
    pub fn create_folder(&self, server_name: &str) -> Result<()> {
        let mut session = self.session()?;
        create(&mut session, server_name)?;
        session.logout()?;
        Ok(())
    }

    /// APPEND one message to `server_name` (server form) with IMAP `flags`.
    pub fn append(&self, server_name: &str, message: &[u8], flags: &[&str]) -> Result<()> {
        let mut session = self.session()?;
        append(&mut session, server_name, message, flags.iter().copied())?;
        session.logout()?;
        Ok(())
    }

    /// Creates the messages' folders (other than INBOX; parents are not created unless
    /// named) and APPENDs every message in order, all on one session.
    pub fn seed(&self, messages: &[SeedMessage]) -> Result<()> {
        let mut session = self.session()?;
        let mut created = BTreeSet::new();
        for m in messages {
            let name = self.server_name(&m.folder);
            if name != "INBOX" && created.insert(name.clone()) {
                create(&mut session, &name)?;
            }
        }
        for m in messages {
            let name = self.server_name(&m.folder);
            append(
                &mut session,
                &name,
                &m.bytes,
                m.flags.iter().map(String::as_str),
            )?;
        }
        session.logout()?;
        Ok(())
    }

    /// Runs `doveadm -c CONF ARGS...` and returns its stdout; an error (with stderr) if it fails.
    /// E.g. `d.doveadm(&["mailbox", "status", "-u", d.user(), "messages", "INBOX"])`.
    pub fn doveadm(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(find_program("doveadm")?)
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running doveadm")?;
        if !out.status.success() {
            bail!(
                "doveadm {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Kills the whole process group (master and services) and reaps the master. SIGKILL,
    /// not SIGTERM: a clean Dovecot shutdown takes over a second, waiting for its log process.
    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let group = format!("-{}", self.child.id());
            let killed = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !killed {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Loads a fixture account: every `*.eml` under `dir`, the folder being its directory
/// relative to `dir` (`Archive/2021/0003.SF.eml` is in `Archive/2021`), the flags the
/// letters between the first `.` and `.eml` in the file name (maildir letters: D Draft,
/// F Flagged, P $Forwarded, R Answered, S Seen, T Deleted; none: `0001.eml`). Sorted by
/// folder, then file name.
pub fn fixture_messages(dir: &Path) -> Result<Vec<SeedMessage>> {
    let mut files = Vec::new();
    collect_eml(dir, dir, &mut files)?;
    files.sort();
    let mut messages = Vec::new();
    for (folder, name, path) in files {
        let stem = name.strip_suffix(".eml").unwrap_or(&name);
        let letters = stem.split_once('.').map_or("", |(_, l)| l);
        let flags = letters
            .chars()
            .map(|c| match c {
                'D' => Ok("\\Draft"),
                'F' => Ok("\\Flagged"),
                'P' => Ok("$Forwarded"),
                'R' => Ok("\\Answered"),
                'S' => Ok("\\Seen"),
                'T' => Ok("\\Deleted"),
                _ => Err(anyhow!("{}: unknown flag letter {c:?}", path.display())),
            })
            .map(|f| f.map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        messages.push(SeedMessage {
            folder,
            bytes,
            flags,
        });
    }
    Ok(messages)
}

fn collect_eml(root: &Path, dir: &Path, out: &mut Vec<(String, String, PathBuf)>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_eml(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "eml") {
            let rel = path.parent().unwrap_or(root).strip_prefix(root)?;
            let folder: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
            if folder.is_empty() {
                bail!("{}: messages must be in a folder directory", path.display());
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            out.push((folder.join("/"), name.into_owned(), path.clone()));
        }
    }
    Ok(())
}

fn create(session: &mut Session, name: &str) -> Result<()> {
    match session.create(name) {
        Ok(()) => Ok(()),
        Err(imap::Error::No(no)) if no.information.to_lowercase().contains("already exists") => {
            Ok(())
        }
        Err(e) => Err(anyhow!("CREATE {name:?}: {e}")),
    }
}

fn append<'a>(
    session: &'a mut Session,
    name: &'a str,
    message: &'a [u8],
    flags: impl Iterator<Item = &'a str>,
) -> Result<()> {
    session
        .append(name, message)
        .flags(flags.map(imap::types::Flag::from))
        .finish()
        .map_err(|e| anyhow!("APPEND to {name:?}: {e}"))?;
    Ok(())
}

fn connect_tls(port: u16, ca: &Path) -> Result<imap::Client<imap::Connection>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(tls_client(tcp, ca, true, port)?.0)
}

/// TLS handshake (trusting only `ca`, checking the name `localhost`; with `verify` false,
/// checking nothing), then the greeting.
fn tls_client(
    tcp: TcpStream,
    ca: &Path,
    verify: bool,
    port: u16,
) -> Result<(imap::Client<imap::Connection>, Vec<u8>)> {
    let pem = fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem)?)
        .danger_accept_invalid_certs(!verify)
        .build()?;
    let tls = connector
        .connect("localhost", tcp)
        .map_err(|e| anyhow!("TLS handshake with 127.0.0.1:{port}: {e}"))?;
    let mut client = imap::Client::new(Box::new(tls) as imap::Connection);
    let greeting = client.read_greeting()?;
    Ok((client, greeting))
}

/// A port that answered with another server's greeting or certificate.
#[derive(Debug)]
struct PortTaken(u16);

impl std::fmt::Display for PortTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "port {} is taken by another server", self.0)
    }
}

impl std::error::Error for PortTaken {}

/// Ok(false): nothing listening yet; Ok(true): our greeting (over TLS when `tls` is given:
/// the trust anchor, and whether to verify the certificate); Err(PortTaken): another server.
fn probe(port: u16, tls: Option<(&Path, bool)>, token: &str) -> Result<bool> {
    let tcp = match TcpStream::connect(("127.0.0.1", port)) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Ok(false),
        other => other?,
    };
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let greeting = match tls {
        None => imap::Client::new(tcp).read_greeting()?,
        Some((ca, verify)) => {
            tls_client(tcp, ca, verify, port)
                .map_err(|e| e.context(PortTaken(port)))?
                .1
        }
    };
    if String::from_utf8_lossy(&greeting).contains(token) {
        Ok(true)
    } else {
        Err(PortTaken(port).into())
    }
}

/// The login greeting of an instance, which tells it apart from any other server.
fn greeting(instance: &str) -> String {
    format!("{instance} ready")
}

/// A name unique among all Dovecots started on this machine at the same time.
fn unique_instance_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "mf{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Two free loopback ports, never handed out twice by this process. Another process may
/// still take one before Dovecot binds it; start() then retries with new ports.
fn free_ports() -> Result<(u16, u16)> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut ports = Vec::new();
    // Hold every listener until both ports are chosen, so the two differ.
    let mut listeners = Vec::new();
    while ports.len() < 2 {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        if given.insert(port) {
            ports.push(port);
        }
        listeners.push(listener);
        if listeners.len() > 100 {
            bail!("no free loopback port found");
        }
    }
    Ok((ports[0], ports[1]))
}

/// Where a program is: on PATH, or in the sbin directories a non-root PATH may lack.
fn find_program(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "`{name}` is not installed: the Dovecot-backed tests need it \
         (`apt-get install -y dovecot-imapd openssl`, as scripts/test does)"
    )
}

/// A fresh self-signed certificate as `tls` says: `cert.pem`, `key.pem`. An EC P-256 key:
/// generating RSA-2048 takes 0.15-1 s, this ~10 ms. The expired one takes a second step,
/// because `openssl req -x509` only takes a positive `-days` (OpenSSL 3.0 has no
/// `-not_after`): a request, then `openssl x509 -req -days -1`, which ends the validity a
/// day before it begins.
fn make_cert(root: &Path, tls: ServerTls) -> Result<()> {
    let (name, san) = match tls {
        ServerTls::WrongHost => ("wrong.example", "subjectAltName=DNS:wrong.example"),
        _ => ("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
    };
    let (cert, key, csr) = (
        root.join("cert.pem"),
        root.join("key.pem"),
        root.join("req.csr"),
    );
    let mut req = Command::new(find_program("openssl")?);
    req.args([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
    ])
    .args(["-nodes", "-subj", &format!("/CN={name}"), "-addext", san])
    .arg("-keyout")
    .arg(&key);
    if tls == ServerTls::Expired {
        req.arg("-out").arg(&csr);
    } else {
        req.args(["-x509", "-days", "2", "-out"]).arg(&cert);
    }
    openssl(&mut req)?;
    if tls == ServerTls::Expired {
        let mut sign = Command::new(find_program("openssl")?);
        sign.args([
            "x509",
            "-req",
            "-days",
            "-1",
            "-copy_extensions",
            "copy",
            "-in",
        ])
        .arg(&csr)
        .arg("-key")
        .arg(&key)
        .arg("-out")
        .arg(&cert);
        openssl(&mut sign)?;
    }
    Ok(())
}

fn openssl(command: &mut Command) -> Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn config_text(
    root: &Path,
    instance: &str,
    imap_port: u16,
    imaps_port: u16,
    opts: &DovecotOptions,
    fs_layout: bool,
) -> String {
    let root = root.display();
    let layout = if fs_layout { ":LAYOUT=fs" } else { "" };
    let separator = if fs_layout { "/" } else { "." };
    let prefix = if opts.inbox_prefix { "INBOX." } else { "" };
    let capability = match &opts.capabilities {
        Some(caps) => format!("imap_capability = {caps}\n"),
        None => String::new(),
    };
    let greeting = greeting(instance);
    let (ssl, imaps_port) = match opts.tls {
        // Port 0 disables the listener.
        ServerTls::Off => ("ssl = no".to_string(), 0),
        _ => (
            format!("ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"),
            imaps_port,
        ),
    };
    format!(
        r#"# A private test instance; see tests/support/dovecot.rs.
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
login_greeting = {greeting}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests log in with wrong passwords on purpose: no 2 s penalty.
auth_failure_delay = 0
first_valid_uid = {MAIL_ID}
# Throwaway data: durability buys nothing here, and fsync makes seeding slow.
mail_fsync = never
mail_location = maildir:~/Maildir{layout}
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
}}
userdb {{
  driver = static
  args = uid={MAIL_ID} gid={MAIL_ID} home={root}/mail/%n
}}
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix = {prefix}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
"#
    )
}
