//! The TLS settings: which files, which clients, which suites and versions.

use super::ciphers;
use crate::settings::{Check, ConfigError, Raw, group};
use std::path::PathBuf;

/// Whether TLS clients are asked for a certificate (`--cert-reqs`; Python's `ssl.CERT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertReqs {
    /// Not asked for (`CERT_NONE`, 0).
    #[default]
    None,
    /// Asked for, verified if sent (`CERT_OPTIONAL`, 1).
    Optional,
    /// A connection without a valid certificate is refused (`CERT_REQUIRED`, 2).
    Required,
}

impl CertReqs {
    /// The mode's name as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            CertReqs::None => "none",
            CertReqs::Optional => "optional",
            CertReqs::Required => "required",
        }
    }

    /// Reads a mode: its name, gunicorn's number or Python's constant name.
    fn parse(text: &str) -> Option<CertReqs> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "none" | "0" | "cert_none" => CertReqs::None,
            "optional" | "1" | "cert_optional" => CertReqs::Optional,
            "required" | "2" | "cert_required" => CertReqs::Required,
            _ => return None,
        })
    }
}

/// A TLS protocol version (`--tls-min-version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The version as written in settings: `1.2` or `1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }

    /// Reads a version: `1.2`, `TLSv1_3`...
    fn parse(text: &str) -> Option<TlsVersion> {
        match text
            .trim()
            .to_ascii_lowercase()
            .trim_start_matches("tlsv")
            .replace('_', ".")
            .as_str()
        {
            "1.2" => Some(TlsVersion::Tls12),
            "1.3" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

group! {
    /// What [`super::load`] builds the server's TLS configuration from; TLS is off without
    /// a certificate (as by default).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct TlsSettings from (s, v) {
        /// The certificate chain file (PEM); with `keyfile`, every listener serves TLS.
        pub certfile: Option<PathBuf> = non_empty(s.certfile()),
        /// The private key file (PEM) of `certfile`.
        pub keyfile: Option<PathBuf> = match (&certfile, non_empty(s.keyfile())) {
            (Some(_), None) => {
                return Err(v.invalid(
                    "keyfile",
                    &"(none)",
                    "the private key of --certfile: TLS needs both files",
                ));
            }
            (None, Some(_)) => {
                return Err(v.invalid(
                    "certfile",
                    &"(none)",
                    "the certificate chain of --keyfile: TLS needs both files",
                ));
            }
            (_, keyfile) => keyfile,
        },
        /// CA certificates (PEM) client certificates are verified against.
        pub ca_certs: Option<PathBuf> = non_empty(s.ca_certs()),
        /// Whether clients are asked for a certificate.
        pub cert_reqs: CertReqs = client_certificates(&certfile, &ca_certs, s, v)?,
        /// The oldest TLS version accepted.
        pub min_version: TlsVersion =
            v.choice(s.tls_min_version(), TlsVersion::parse, "1.2 or 1.3")?,
        /// The cipher suites allowed, by IANA name (canonical spelling); empty: all.
        pub ciphers: Vec<String> = cipher_suites(s, v, min_version)?,
    }
}

/// A path setting, where an empty value means unset.
fn non_empty(raw: Raw<'_, PathBuf>) -> Option<PathBuf> {
    raw.value.filter(|p| !p.as_os_str().is_empty()).cloned()
}

/// `--cert-reqs`, which needs TLS on and CA certificates to verify against.
fn client_certificates(
    certfile: &Option<PathBuf>,
    ca_certs: &Option<PathBuf>,
    s: &crate::settings::Settings,
    v: &Check<'_>,
) -> Result<CertReqs, ConfigError> {
    let raw = s.cert_reqs();
    let reqs = v.choice(
        raw,
        CertReqs::parse,
        "none, optional or required (or gunicorn's 0, 1, 2)",
    )?;
    if reqs != CertReqs::None {
        if certfile.is_none() {
            return Err(v.refuse(
                raw,
                "none unless --certfile and --keyfile make the server speak TLS",
            ));
        }
        if ca_certs.is_none() {
            return Err(v.refuse(
                raw,
                "none unless --ca-certs names the CA certificates to verify clients against",
            ));
        }
    }
    Ok(reqs)
}

/// `--ciphers`: known names, at least one of which serves `min_version` or later.
fn cipher_suites(
    s: &crate::settings::Settings,
    v: &Check<'_>,
    min_version: TlsVersion,
) -> Result<Vec<String>, ConfigError> {
    let raw = s.ciphers();
    let list = match raw.value.map(|l| l.trim()) {
        None | Some("") => return Ok(Vec::new()),
        Some(list) => list,
    };
    let names = ciphers::parse(list).map_err(|allowed| v.invalid(raw.name, &list, &allowed))?;
    if !ciphers::any_for(&names, min_version) {
        return Err(v.invalid(
            raw.name,
            &list,
            &format!(
                "at least one suite for TLS {} or later (--tls-min-version); TLS 1.3 suites: {}",
                min_version.as_str(),
                ciphers::names_for(TlsVersion::Tls13).join(", ")
            ),
        ));
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}
