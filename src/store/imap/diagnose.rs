//! What `mailferry list` and `mailferry check` ask of the server beyond a sync: a
//! folder's message count (STATUS), and the TLS handshake alone, with the server
//! certificate's subject and, when the handshake fails, precisely why.

use super::{
    FarError, FarErrorKind, FarResult, FarSession, Stream, starttls, tcp_connect, tls, tls_wrap,
};
use crate::config::{Account, TlsMode};
use openssl::x509::{X509, X509NameRef};
use sha2::{Digest, Sha256};
use std::net::TcpStream;

impl FarSession {
    /// How many messages a folder holds, from STATUS (MESSAGES); nothing is selected.
    pub fn message_count(&mut self, server_name: &str) -> FarResult<u32> {
        let status = self
            .session
            .status(server_name, "(MESSAGES)")
            .map_err(|e| self.err(&format!("STATUS {server_name:?}"), e))?;
        self.drain();
        Ok(status.exists)
    }
}

/// The certificate a server presented, described for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// `CN=imap.example.org, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// The end of its validity, as OpenSSL prints it (`Jan  2 03:04:05 2030 GMT`).
    pub not_after: String,
    /// SHA-256 of the DER encoding, hex pairs joined by `:`.
    pub sha256: String,
}

impl CertificateInfo {
    /// Describes a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo, String> {
        let cert = X509::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
        let digest = Sha256::digest(der);
        Ok(CertificateInfo {
            subject: describe_name(cert.subject_name()),
            issuer: describe_name(cert.issuer_name()),
            not_after: cert.not_after().to_string(),
            sha256: digest
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
        })
    }
}

/// `CN=localhost, O=Example`: each entry as short name and value, in certificate order.
fn describe_name(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let key = entry
                .object()
                .nid()
                .short_name()
                .map_or_else(|_| entry.object().to_string(), str::to_string);
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_string());
            let value: String = value.chars().flat_map(char::escape_debug).collect();
            format!("{key}={value}")
        })
        .collect();
    if parts.is_empty() {
        "(empty)".to_string()
    } else {
        parts.join(", ")
    }
}

/// Connects as the account says (STARTTLS first when it says so) and does the TLS
/// handshake exactly as a sync does, then hangs up. Returns the server certificate, or
/// `None` for `tls = "none"`. When the handshake fails, a second handshake that checks
/// nothing finds out whether the certificate is the cause, and the error says which:
/// not trusted, or not valid for the host name.
pub fn probe_tls(account: &Account) -> FarResult<Option<CertificateInfo>> {
    if account.tls == TlsMode::None {
        return Ok(None);
    }
    let endpoint = format!("{}:{}", account.host, account.port);
    let stream = match tls_wrap(account, connect_plain(account, &endpoint)?) {
        Ok(stream) => stream,
        Err(e) if e.kind == FarErrorKind::Permanent => return Err(explain(account, e)),
        Err(e) => return Err(e),
    };
    let Stream::Tls(tls) = stream else {
        return Err(FarError::permanent(format!(
            "{endpoint}: the connection is not encrypted"
        )));
    };
    let der = tls
        .ssl()
        .peer_certificate()
        .and_then(|cert| cert.to_der().ok());
    let Some(der) = der else {
        return Err(FarError::permanent(format!(
            "{endpoint}: the server presented no certificate"
        )));
    };
    CertificateInfo::from_der(&der)
        .map(Some)
        .map_err(|e| FarError::permanent(format!("{endpoint}: {e}")))
}

/// A TCP connection, past STARTTLS when the account asks for it: ready for the handshake.
fn connect_plain(account: &Account, endpoint: &str) -> FarResult<TcpStream> {
    let tcp = tcp_connect(account)?;
    match account.tls {
        TlsMode::StartTls => starttls(tcp, endpoint),
        TlsMode::Implicit | TlsMode::None => Ok(tcp),
    }
}

/// The certificate a handshake that verifies nothing (or, with `check_chain`, only the
/// chain) gets; `None` when that handshake fails too.
fn presented_certificate(account: &Account, check_chain: bool) -> Option<Vec<u8>> {
    let endpoint = format!("{}:{}", account.host, account.port);
    let verify = if check_chain {
        tls::Verify::ChainOnly
    } else {
        tls::Verify::Nothing
    };
    let context = tls::context(account, verify).ok()?;
    let tcp = connect_plain(account, &endpoint).ok()?;
    let host = account.host.trim_start_matches('[').trim_end_matches(']');
    let stream = tls::connect(&context, host, verify, tcp).ok()?;
    stream.ssl().peer_certificate()?.to_der().ok()
}

/// Rewords a failed handshake when the certificate is the cause.
fn explain(account: &Account, error: FarError) -> FarError {
    if account.ca_file.is_some() && tls::context(account, tls::Verify::Full).is_err() {
        // The ca_file itself is the problem, and the error already says so.
        return error;
    }
    let Some(der) = presented_certificate(account, false) else {
        // Not a certificate problem (or the error came before the handshake).
        return error;
    };
    let described = CertificateInfo::from_der(&der).map_or_else(
        |_| "an unreadable certificate".to_string(),
        |info| format!("subject {}, issued by {}", info.subject, info.issuer),
    );
    let host = account.host.trim_start_matches('[').trim_end_matches(']');
    let message = if presented_certificate(account, true).is_some() {
        format!(
            "the server's certificate ({described}) is not valid for the host name {host}; connect by a name the certificate lists"
        )
    } else {
        let trust = match &account.ca_file {
            Some(ca_file) => format!(
                "neither by the system's authorities nor by ca_file {}",
                ca_file.display()
            ),
            None => "by the system's authorities (no ca_file is set)".to_string(),
        };
        format!(
            "the server's certificate ({described}) is not trusted {trust}; if it is the right certificate, set ca_file to the PEM certificate of the authority that issued it (or of the server itself when self-signed). Detail: {}",
            error.message
        )
    };
    FarError::permanent(format!("{}:{}: {message}", account.host, account.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_described_by_subject_issuer_and_fingerprint() {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::X509NameBuilder;

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "imap.example.org").unwrap();
        name.append_entry_by_text("O", "Example").unwrap();
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&Asn1Time::from_unix(1_900_000_000).unwrap())
            .unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        let der = builder.build().to_der().unwrap();

        let info = CertificateInfo::from_der(&der).unwrap();
        assert_eq!(info.subject, "CN=imap.example.org, O=Example");
        assert_eq!(info.issuer, info.subject);
        assert!(info.not_after.contains("2030"), "{}", info.not_after);
        assert_eq!(info.sha256.len(), 32 * 3 - 1, "{}", info.sha256);
        assert!(CertificateInfo::from_der(b"not a certificate").is_err());
    }
}
