//! TLS with rustls: the server configuration built from `--certfile`, `--keyfile`,
//! `--ca-certs`, `--cert-reqs`, `--ciphers` and `--tls-min-version` ([`load`]), the cipher
//! suite names ([`ciphers`]) and one connection's session ([`Session`]).
//!
//! The master loads the files (before dropping privileges, so a key only root can read
//! works, as with nginx) into one [`ServerTls`]; the workers inherit it through fork and
//! never read a file. A HUP loads them again for the new generation of workers; if that
//! fails, the generation keeps the certificate that works.

pub mod ciphers;
mod session;
mod settings;

pub use session::Session;
pub use settings::{CertReqs, TlsSettings, TlsVersion};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The TLS configuration every connection of a generation shares.
pub type ServerTls = Arc<ServerConfig>;

/// Ticket plaintext size every worker accepts from the start (see [`load`]).
const TICKET_SIZE_HINT: usize = 1024;

/// The one protocol spoken over TLS (ALPN).
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why the TLS configuration cannot be built: names the option and its file.
#[derive(Debug)]
pub struct TlsError {
    /// The option, as spelled on the command line (`--certfile`).
    pub option: &'static str,
    /// The file it names (none for `--ciphers`).
    pub path: Option<PathBuf>,
    /// What is wrong.
    pub why: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{} {}: {}", self.option, path.display(), self.why),
            None => write!(f, "{}: {}", self.option, self.why),
        }
    }
}

impl std::error::Error for TlsError {}

fn error(option: &'static str, path: &Path, why: impl fmt::Display) -> TlsError {
    TlsError {
        option,
        path: Some(path.to_owned()),
        why: why.to_string(),
    }
}

/// Builds the TLS configuration `config` asks for, reading its files; `None` when TLS is
/// off (no `--certfile`).
pub fn load(config: &TlsSettings) -> Result<Option<ServerTls>, TlsError> {
    let (Some(certfile), Some(keyfile)) = (&config.certfile, &config.keyfile) else {
        return Ok(None);
    };
    let chain = read_certificates("--certfile", certfile)?;
    let key = read_key(keyfile)?;

    let mut provider = rustls::crypto::ring::default_provider();
    if !config.ciphers.is_empty() {
        // In the order given: the server's preference when it chooses.
        let wanted: Vec<_> = config
            .ciphers
            .iter()
            .filter_map(|n| ciphers::id(n))
            .collect();
        let mut suites = Vec::new();
        for id in wanted {
            suites.extend(provider.cipher_suites.iter().filter(|s| s.suite() == id));
        }
        provider.cipher_suites = suites;
    }
    let versions: Vec<&'static SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, version)| {
        *v >= config.min_version
            && provider
                .cipher_suites
                .iter()
                .any(|s| s.version() == *version)
    })
    .map(|(_, version)| version)
    .collect();
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError {
            option: "--ciphers",
            path: None,
            why: e.to_string(),
        })?;

    let builder = match (config.cert_reqs, &config.ca_certs) {
        (CertReqs::None, _) | (_, None) => builder.with_no_client_auth(),
        (reqs, Some(ca_certs)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates("--ca-certs", ca_certs)? {
                roots.add(cert).map_err(|e| {
                    error("--ca-certs", ca_certs, format!("a bad CA certificate: {e}"))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if reqs == CertReqs::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| error("--ca-certs", ca_certs, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => error(
            "--keyfile",
            keyfile,
            format!("does not match the certificate in {}", certfile.display()),
        ),
        rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_) => {
            error("--certfile", certfile, e)
        }
        other => error("--keyfile", keyfile, other),
    })?;
    server.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    // Session tickets with keys made here, in the master: every worker of the generation
    // inherits them, so a client resumes its session whichever worker it reaches (as with
    // nginx, whose master makes the keys). Each worker rotates them on its own after six
    // hours; a ticket another worker cannot read only costs a full handshake.
    let ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError {
        option: "--certfile",
        path: Some(certfile.clone()),
        why: format!("cannot make session ticket keys: {e}"),
    })?;
    // The ticketer refuses tickets longer than the longest it has made (a defence against
    // partitioning oracles): one made here, before the fork, lets a worker that has made
    // none yet accept tickets its siblings issued. Real tickets are a few hundred bytes
    // (more with a client certificate, which the issuing worker's own maximum covers).
    let _ = ticketer.encrypt(&[0u8; TICKET_SIZE_HINT]);
    server.ticketer = ticketer;
    Ok(Some(Arc::new(server)))
}

/// The certificates in a PEM file: at least one.
fn read_certificates(
    option: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|e| error(option, path, format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| error(option, path, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            option,
            path,
            "holds no certificate (PEM \"-----BEGIN CERTIFICATE-----\" blocks)",
        ));
    }
    Ok(certs)
}

/// The first private key in a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let option = "--keyfile";
    let bytes =
        std::fs::read(path).map_err(|e| error(option, path, format!("cannot read it: {e}")))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => error(
            option,
            path,
            "holds no private key (PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY; an \
             encrypted key is not supported)",
        ),
        other => error(option, path, format!("not valid PEM: {other}")),
    })
}

/// A listener's URL as served: `https://` when TLS is on.
pub fn url(plain: String, tls: bool) -> String {
    match plain.strip_prefix("http://") {
        Some(rest) if tls => format!("https://{rest}"),
        _ => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_https_when_tls_is_on() {
        let url = |u: &str, tls| super::url(u.to_owned(), tls);
        assert_eq!(url("http://127.0.0.1:8443", true), "https://127.0.0.1:8443");
        assert_eq!(url("http://[::1]:80", false), "http://[::1]:80");
        assert_eq!(url("unix:/run/app.sock", true), "unix:/run/app.sock");
    }

    #[test]
    fn plain_configuration_loads_nothing() {
        assert!(matches!(load(&TlsSettings::default()), Ok(None)));
    }

    #[test]
    fn errors_name_the_option_and_the_file() {
        let config = TlsSettings {
            certfile: Some("/nonexistent/cert.pem".into()),
            keyfile: Some("/nonexistent/key.pem".into()),
            ..TlsSettings::default()
        };
        let err = load(&config).expect_err("no such file");
        assert_eq!(err.option, "--certfile");
        let text = err.to_string();
        assert!(
            text.starts_with("--certfile /nonexistent/cert.pem: cannot read it"),
            "{text}"
        );
    }
}
