//! TLS for IMAP connections, on OpenSSL directly: one client context per trust setting,
//! built once per run and shared by every connection, whose system trust anchors are
//! looked up on demand in the hashed certificate directory instead of parsing the whole
//! root bundle up front (that parse cost more CPU than everything else a no-op sync did).

use crate::config::Account;
use openssl::error::ErrorStack;
use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode,
    SslOptions, SslStream, SslVerifyMode,
};
use openssl::x509::store::{X509Lookup, X509StoreBuilder};
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::{X509, X509VerifyResult};
use std::collections::HashMap;
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

/// How much of the server's certificate a handshake checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verify {
    /// Chain to a trusted authority and valid for the host name: every real connection.
    Full,
    /// The chain only (`check` uses it to tell a wrong name from an untrusted issuer).
    ChainOnly,
    /// Nothing (`check` uses it to describe a certificate it will not trust).
    Nothing,
}

/// Why a handshake failed.
pub struct HandshakeFailure {
    /// OpenSSL's words, with the certificate verdict when there is one.
    pub text: String,
    /// The connection broke off (reset, closed) during the handshake.
    pub broke_off: bool,
    /// The handshake ran into the socket timeout.
    pub timed_out: bool,
}

/// A trust setting: the account's `ca_file` (if any) on top of the system's roots.
type TrustKey = (Option<PathBuf>, Verify);

static CONTEXTS: LazyLock<Mutex<HashMap<TrustKey, SslContext>>> = LazyLock::new(Default::default);

/// The client context for an account's trust anchors, built on first use and shared.
/// The error names the `ca_file` when it is the problem.
pub fn context(account: &Account, verify: Verify) -> Result<SslContext, String> {
    let key = (account.ca_file.clone(), verify);
    let mut contexts = CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(context) = contexts.get(&key) {
        return Ok(context.clone());
    }
    let ca = match &account.ca_file {
        Some(path) => Some(read_ca_file(account, path)?),
        None => None,
    };
    let context =
        build_context(ca.as_deref(), verify).map_err(|e| format!("cannot set up TLS: {e}"))?;
    contexts.insert(key, context.clone());
    Ok(context)
}

/// The certificates of a `ca_file` (one or more PEM blocks).
fn read_ca_file(account: &Account, path: &Path) -> Result<Vec<X509>, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "account {}: cannot read ca_file {}: {e}",
            account.name,
            path.display()
        )
    })?;
    match X509::stack_from_pem(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(format!(
            "account {}: ca_file {} is not a PEM certificate: it holds no certificate",
            account.name,
            path.display()
        )),
        Err(e) => Err(format!(
            "account {}: ca_file {} is not a PEM certificate: {e}",
            account.name,
            path.display()
        )),
    }
}

/// A client context as `openssl::ssl::SslConnector` makes one (same options, modes and
/// ciphers), but with a trust store that loads system roots lazily.
fn build_context(ca: Option<&[X509]>, verify: Verify) -> Result<SslContext, ErrorStack> {
    let mut ctx = SslContextBuilder::new(SslMethod::tls_client())?;
    let options = (SslOptions::ALL
        | SslOptions::NO_COMPRESSION
        | SslOptions::NO_SSLV2
        | SslOptions::NO_SSLV3
        | SslOptions::SINGLE_DH_USE
        | SslOptions::SINGLE_ECDH_USE)
        & !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
    ctx.set_options(options);
    ctx.set_mode(
        SslMode::AUTO_RETRY
            | SslMode::ACCEPT_MOVING_WRITE_BUFFER
            | SslMode::ENABLE_PARTIAL_WRITE
            | SslMode::RELEASE_BUFFERS,
    );
    // Without read-ahead OpenSSL asks the socket for each record's 5-byte header and then
    // for its body: two reads per record of at most 16 KB, over a million reads in the
    // large benchmark's initial sync. With it, each read takes whatever has arrived.
    ctx.set_read_ahead(true);
    ctx.set_cipher_list("DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK")?;
    let mut store = X509StoreBuilder::new()?;
    add_system_roots(&mut store)?;
    for cert in ca.unwrap_or_default() {
        store.add_cert(cert.clone())?;
    }
    ctx.set_cert_store(store.build());
    ctx.set_verify(match verify {
        Verify::Full | Verify::ChainOnly => SslVerifyMode::PEER,
        Verify::Nothing => SslVerifyMode::NONE,
    });
    Ok(ctx.build())
}

/// The system's trust anchors as OpenSSL's defaults name them (`SSL_CERT_FILE`,
/// `SSL_CERT_DIR`, else `<OPENSSLDIR>/cert.pem` and `<OPENSSLDIR>/certs`). A hashed
/// certificate directory (`update-ca-certificates`, `c_rehash`) is read one issuer at a
/// time as a chain needs it. The bundle file is parsed whole only when there is no such
/// directory, or when `SSL_CERT_FILE` names some other file than the system bundle
/// (`update-ca-certificates` writes the bundle and the directory from the same roots).
fn add_system_roots(store: &mut X509StoreBuilder) -> Result<(), ErrorStack> {
    let openssl_dir = openssl_dir();
    let cert_dir = std::env::var("SSL_CERT_DIR")
        .ok()
        .or_else(|| openssl_dir.as_ref().map(|d| format!("{d}/certs")));
    let hashed = cert_dir.as_deref().filter(|dirs| {
        dirs.split(':')
            .any(|dir| has_hashed_certificates(Path::new(dir)))
    });
    let default_bundle = openssl_dir.map(|d| PathBuf::from(format!("{d}/cert.pem")));
    let other_bundle = std::env::var_os("SSL_CERT_FILE").is_some_and(|file| {
        let named = std::fs::canonicalize(&file).ok();
        let default = default_bundle.and_then(|d| std::fs::canonicalize(d).ok());
        named.is_none() || named != default
    });
    match hashed {
        Some(dirs) if !other_bundle => store
            .add_lookup(X509Lookup::hash_dir())?
            .add_dir(dirs, SslFiletype::PEM),
        _ => store.set_default_paths(),
    }
}

/// `OPENSSLDIR` of the OpenSSL in use (`OPENSSLDIR: "/usr/lib/ssl"`).
fn openssl_dir() -> Option<String> {
    let text = openssl::version::dir();
    let start = text.find('"')? + 1;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_string())
}

/// Whether a directory holds at least one `<8 hex digits>.<digit>` entry.
fn has_hashed_certificates(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let bytes = name.as_bytes();
        bytes.len() >= 10
            && bytes[..8].iter().all(u8::is_ascii_hexdigit)
            && bytes[8] == b'.'
            && bytes[9..].iter().all(u8::is_ascii_digit)
    })
}

/// Runs the handshake on `tcp` for `host` (SNI unless it is an address; the certificate
/// must name it when `verify` is [`Verify::Full`]).
pub fn connect(
    context: &SslContext,
    host: &str,
    verify: Verify,
    tcp: TcpStream,
) -> Result<SslStream<TcpStream>, HandshakeFailure> {
    let setup_failed = |e: ErrorStack| HandshakeFailure {
        text: e.to_string(),
        broke_off: false,
        timed_out: false,
    };
    let mut ssl = Ssl::new(context).map_err(setup_failed)?;
    let address = host.parse::<IpAddr>().ok();
    if address.is_none() {
        ssl.set_hostname(host).map_err(setup_failed)?;
    }
    if verify == Verify::Full {
        let param = ssl.param_mut();
        param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
        match address {
            Some(ip) => param.set_ip(ip),
            None => param.set_host(host),
        }
        .map_err(setup_failed)?;
    }
    match ssl.connect(tcp) {
        Ok(stream) => Ok(stream),
        Err(HandshakeError::SetupFailure(e)) => Err(setup_failed(e)),
        Err(HandshakeError::WouldBlock(mid)) => Err(HandshakeFailure {
            text: mid.error().to_string(),
            broke_off: false,
            timed_out: true,
        }),
        Err(HandshakeError::Failure(mid)) => {
            let verdict = mid.ssl().verify_result();
            let error = mid.error();
            let io_kind = error.io_error().map(std::io::Error::kind);
            let broke_off = verdict == X509VerifyResult::OK
                && (matches!(
                    io_kind,
                    Some(
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                            | std::io::ErrorKind::UnexpectedEof
                    )
                ) || (error.code() == openssl::ssl::ErrorCode::SYSCALL && io_kind.is_none())
                    || error
                        .to_string()
                        .to_ascii_lowercase()
                        .contains("unexpected eof"));
            let timed_out = matches!(
                io_kind,
                Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
            );
            let text = if verdict == X509VerifyResult::OK {
                error.to_string()
            } else {
                format!("{error}: {}", verdict.error_string())
            };
            Err(HandshakeFailure {
                text,
                broke_off,
                timed_out,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_certificate_names_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_hashed_certificates(dir.path()));
        std::fs::write(dir.path().join("ca-certificates.crt"), "").unwrap();
        std::fs::write(dir.path().join("abcdef01.x"), "").unwrap();
        assert!(!has_hashed_certificates(dir.path()));
        std::fs::write(dir.path().join("abcdef01.0"), "").unwrap();
        assert!(has_hashed_certificates(dir.path()));
        assert!(!has_hashed_certificates(&dir.path().join("missing")));
    }

    #[test]
    fn the_openssl_directory_is_read_from_the_version_string() {
        let dir = openssl_dir().unwrap();
        assert!(!dir.is_empty() && !dir.contains('"'), "{dir}");
    }
}
