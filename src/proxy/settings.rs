//! The proxy settings: which peers are believed, and how.

use super::Mode;
use super::allow::AllowList;
use crate::http::is_tchar;
use crate::settings::group;

group! {
    /// Whom [`super::Proxying`] believes about clients behind proxies.
    #[derive(Clone, Debug, PartialEq)]
    pub struct ProxySettings from (s, v) {
        /// Peers whose proxy headers (`X-Forwarded-*`, `Forwarded`) are believed.
        pub forwarded_allow_ips: AllowList = {
            let raw = s.forwarded_allow_ips();
            AllowList::parse(raw.value.map_or(&[][..], Vec::as_slice))
                .map_err(|why| v.refuse(raw, &why))?
        },
        /// Header names (as written) and the value meaning https, from a trusted peer.
        pub secure_scheme_headers: Vec<(String, String)> = {
            let raw = s.secure_scheme_headers();
            raw.value
                .into_iter()
                .flatten()
                .filter(|h| !h.trim().is_empty())
                .map(|h| header_pair(h).map_err(|why| v.invalid(raw.name, h, why)))
                .collect::<Result<_, _>>()?
        },
        /// Whether connections may or must start with a PROXY protocol header.
        pub proxy_protocol: Mode = v.choice(
            s.proxy_protocol(),
            |mode| mode.parse().ok(),
            "off, v1, v2 or auto (--proxy-protocol alone means auto)",
        )?,
        /// Peers allowed to send a PROXY protocol header.
        pub proxy_allow_ips: AllowList = {
            let raw = s.proxy_allow_ips();
            AllowList::parse(raw.value.map_or(&[][..], Vec::as_slice))
                .map_err(|why| v.refuse(raw, &why))?
        },
    }
}

/// Splits a `--secure-scheme-headers` entry, `NAME=VALUE`: the name must be a header name
/// (an RFC 9110 token) and the value non-empty.
fn header_pair(pair: &str) -> Result<(String, String), &'static str> {
    match pair.split_once('=') {
        Some((name, value))
            if !name.trim().is_empty()
                && name.trim().bytes().all(is_tchar)
                && !value.trim().is_empty() =>
        {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => {
            Err("NAME=VALUE with a header name and a non-empty value, e.g. X-Forwarded-Proto=https")
        }
    }
}
