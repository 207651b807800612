//! `--ciphers`: the cipher suite names users write (IANA, or OpenSSL's where one exists) and
//! the rustls suites they mean. Only the suites rustls implements are known: modern AEAD
//! suites with forward secrecy, so there is nothing weak to switch off, only strong ones to
//! narrow down.

use super::TlsVersion;
use rustls::CipherSuite;

/// One suite: its IANA name (the canonical spelling kept in the configuration), its
/// OpenSSL name (the same for TLS 1.3), its protocol version and the rustls identifier.
struct Suite {
    iana: &'static str,
    openssl: &'static str,
    version: TlsVersion,
    id: CipherSuite,
}

const SUITES: &[Suite] = &[
    Suite {
        iana: "TLS_AES_256_GCM_SHA384",
        openssl: "TLS_AES_256_GCM_SHA384",
        version: TlsVersion::Tls13,
        id: CipherSuite::TLS13_AES_256_GCM_SHA384,
    },
    Suite {
        iana: "TLS_AES_128_GCM_SHA256",
        openssl: "TLS_AES_128_GCM_SHA256",
        version: TlsVersion::Tls13,
        id: CipherSuite::TLS13_AES_128_GCM_SHA256,
    },
    Suite {
        iana: "TLS_CHACHA20_POLY1305_SHA256",
        openssl: "TLS_CHACHA20_POLY1305_SHA256",
        version: TlsVersion::Tls13,
        id: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    },
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    },
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    },
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        version: TlsVersion::Tls12,
        id: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    },
];

fn find(name: &str) -> Option<&'static Suite> {
    // rustls spells the TLS 1.3 suites TLS13_...: accepted too.
    let alias = name
        .strip_prefix("TLS13_")
        .or_else(|| name.strip_prefix("tls13_"));
    SUITES.iter().find(|s| {
        name.eq_ignore_ascii_case(s.iana)
            || name.eq_ignore_ascii_case(s.openssl)
            || alias.is_some_and(|a| s.iana[4..].eq_ignore_ascii_case(a))
    })
}

/// Parses a `--ciphers` list (`:`, `,` or spaces between names) into canonical IANA names,
/// in the order given, without repeats. An unknown name is an error that lists every
/// accepted name.
pub fn parse(list: &str) -> Result<Vec<&'static str>, String> {
    let mut names = Vec::new();
    for name in list
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let Some(suite) = find(name) else {
            let allowed: Vec<String> = SUITES
                .iter()
                .map(|s| {
                    if s.iana == s.openssl {
                        s.iana.to_owned()
                    } else {
                        format!("{} ({})", s.iana, s.openssl)
                    }
                })
                .collect();
            return Err(format!(
                "cipher suite names separated by ':' ({name:?} is not one rustls implements); \
                 known: {}",
                allowed.join(", ")
            ));
        };
        if !names.contains(&suite.iana) {
            names.push(suite.iana);
        }
    }
    if names.is_empty() {
        return Err("at least one cipher suite name".to_owned());
    }
    Ok(names)
}

/// Whether `names` (canonical) include a suite usable at `min` or a later version.
pub fn any_for(names: &[&str], min: TlsVersion) -> bool {
    SUITES
        .iter()
        .any(|s| s.version >= min && names.contains(&s.iana))
}

/// The IANA names of the suites of `version`.
pub fn names_for(version: TlsVersion) -> Vec<&'static str> {
    SUITES
        .iter()
        .filter(|s| s.version == version)
        .map(|s| s.iana)
        .collect()
}

/// The rustls identifier of a canonical name.
pub(super) fn id(name: &str) -> Option<CipherSuite> {
    find(name).map(|s| s.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_openssl_and_rustls_spellings_name_the_same_suite() {
        assert_eq!(
            parse("ECDHE-RSA-AES128-GCM-SHA256:tls_aes_128_gcm_sha256,TLS13_AES_128_GCM_SHA256"),
            Ok(vec![
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_AES_128_GCM_SHA256"
            ])
        );
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = parse("TLS_AES_128_GCM_SHA256:RC4-SHA").expect_err("RC4 is not offered");
        assert!(err.contains("\"RC4-SHA\""), "{err}");
        assert!(err.contains("ECDHE-RSA-AES256-GCM-SHA384"), "{err}");
        assert!(parse(" : ").is_err());
    }

    #[test]
    fn every_name_maps_to_a_suite_rustls_has() {
        let provider = rustls::crypto::ring::default_provider();
        for suite in SUITES {
            assert!(
                provider.cipher_suites.iter().any(|s| s.suite() == suite.id),
                "{}",
                suite.iana
            );
        }
    }

    #[test]
    fn version_coverage() {
        let only12 = parse("ECDHE-RSA-AES128-GCM-SHA256").expect("valid");
        assert!(any_for(&only12, TlsVersion::Tls12));
        assert!(!any_for(&only12, TlsVersion::Tls13));
        assert_eq!(names_for(TlsVersion::Tls13).len(), 3);
    }
}
