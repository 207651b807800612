//! Header names with an underscore (`--header-map`, `--forwarder-headers`), with gunicorn
//! 27's meaning. In the environ `X_Foo` and `X-Foo` would both be `HTTP_X_FOO`, so a client
//! could pass one off as the other (an `X_Forwarded_For` joined to the proxy's
//! `X-Forwarded-For`): such a header is dropped, refused or (dangerously) mapped, unless a
//! peer in `--forwarded-allow-ips` sends one that `--forwarder-headers` names.

use std::fmt;
use std::str::FromStr;

/// `--header-map`: what becomes of a header whose name has an underscore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderMap {
    /// Left out of the environ (it still counts against the limits).
    #[default]
    Drop,
    /// The request gets 400.
    Refuse,
    /// Mapped like any other (`X_Foo` and `X-Foo` land on the same key).
    Dangerous,
}

impl HeaderMap {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderMap::Drop => "drop",
            HeaderMap::Refuse => "refuse",
            HeaderMap::Dangerous => "dangerous",
        }
    }
}

impl fmt::Display for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HeaderMap {
    type Err = ();

    /// `drop`, `refuse` or `dangerous`, in any case, as gunicorn reads them.
    fn from_str(s: &str) -> Result<HeaderMap, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "drop" => Ok(HeaderMap::Drop),
            "refuse" => Ok(HeaderMap::Refuse),
            "dangerous" => Ok(HeaderMap::Dangerous),
            _ => Err(()),
        }
    }
}

/// What becomes of one header whose name has an underscore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Into the environ as `HTTP_<NAME>` (and `SCRIPT_NAME` for that header).
    Map,
    /// Left out.
    Drop,
    /// The request gets 400.
    Refuse,
}

/// The policy for header names with an underscore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Underscores {
    /// `--header-map`.
    pub map: HeaderMap,
    /// `--forwarder-headers`, as given (gunicorn compares them with upper-cased names; we
    /// compare without regard to case).
    forwarders: Vec<String>,
    /// `*` is among them: every header a trusted peer sends is mapped.
    all: bool,
}

impl Default for Underscores {
    /// gunicorn's defaults: `drop`, and `SCRIPT_NAME,PATH_INFO` from trusted peers.
    fn default() -> Self {
        Underscores::new(HeaderMap::Drop, ["SCRIPT_NAME", "PATH_INFO"])
    }
}

impl Underscores {
    /// `map` for headers with an underscore, except `forwarders` from trusted peers.
    pub fn new<S: AsRef<str>>(map: HeaderMap, forwarders: impl IntoIterator<Item = S>) -> Self {
        let forwarders: Vec<String> = forwarders
            .into_iter()
            .map(|f| f.as_ref().trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        let all = forwarders.iter().any(|f| f == "*");
        Underscores {
            map,
            forwarders,
            all,
        }
    }

    /// What becomes of the header `name` (which has an underscore) from a peer that is
    /// `trusted` (in `--forwarded-allow-ips`) or not.
    pub fn fate(&self, name: &[u8], trusted: bool) -> Fate {
        if trusted
            && (self.all
                || self
                    .forwarders
                    .iter()
                    .any(|f| f.as_bytes().eq_ignore_ascii_case(name)))
        {
            return Fate::Map;
        }
        match self.map {
            HeaderMap::Drop => Fate::Drop,
            HeaderMap::Refuse => Fate::Refuse,
            HeaderMap::Dangerous => Fate::Map,
        }
    }

    /// The first of `headers` (name, value) that makes the request refused, under
    /// `--header-map refuse`; `None` in the other modes without looking at them.
    #[inline]
    pub fn refused<'a>(
        &self,
        mut headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        trusted: bool,
    ) -> Option<&'a [u8]> {
        if self.map != HeaderMap::Refuse {
            return None;
        }
        headers
            .find(|(name, _)| name.contains(&b'_') && self.fate(name, trusted) == Fate::Refuse)
            .map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_gunicorn_reads_them() {
        assert_eq!(" DROP ".parse(), Ok(HeaderMap::Drop));
        assert_eq!("Refuse".parse(), Ok(HeaderMap::Refuse));
        assert_eq!("dangerous".parse(), Ok(HeaderMap::Dangerous));
        assert_eq!("map".parse::<HeaderMap>(), Err(()));
    }

    #[test]
    fn forwarders_are_mapped_only_from_trusted_peers() {
        for map in [HeaderMap::Drop, HeaderMap::Refuse, HeaderMap::Dangerous] {
            let u = Underscores::new(map, ["SCRIPT_NAME", "PATH_INFO"]);
            assert_eq!(u.fate(b"Script_Name", true), Fate::Map, "{map}");
            let untrusted = u.fate(b"SCRIPT_NAME", false);
            let other = u.fate(b"X_Foo", true);
            let expected = match map {
                HeaderMap::Drop => Fate::Drop,
                HeaderMap::Refuse => Fate::Refuse,
                HeaderMap::Dangerous => Fate::Map,
            };
            assert_eq!((untrusted, other), (expected, expected), "{map}");
        }
        let all = Underscores::new(HeaderMap::Refuse, ["*"]);
        assert_eq!(all.fate(b"X_Anything", true), Fate::Map);
        assert_eq!(all.fate(b"X_Anything", false), Fate::Refuse);
    }

    #[test]
    fn only_refuse_looks_for_a_header_to_refuse() {
        let headers = [(&b"Host"[..], &b"h"[..]), (b"X_Foo", b"1")];
        let refuse = Underscores::new(HeaderMap::Refuse, ["SCRIPT_NAME"]);
        assert_eq!(
            refuse.refused(headers.into_iter(), true),
            Some(&b"X_Foo"[..])
        );
        let fine = [(&b"SCRIPT_NAME"[..], &b"/app"[..])];
        assert_eq!(refuse.refused(fine.into_iter(), true), None);
        assert_eq!(
            refuse.refused(fine.into_iter(), false),
            Some(&b"SCRIPT_NAME"[..])
        );
        assert_eq!(
            Underscores::default().refused(headers.into_iter(), false),
            None
        );
    }
}
