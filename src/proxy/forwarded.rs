//! Per-request proxy headers from a trusted peer (`--forwarded-allow-ips`): who the client
//! is (`X-Forwarded-For`, RFC 7239 `Forwarded: for=`), which scheme it used
//! (`--secure-scheme-headers`, `Forwarded: proto=`), and which host and port it asked for
//! (`X-Forwarded-Host`, `X-Forwarded-Port`, `Forwarded: host=`).
//!
//! # Which client address is believed
//!
//! Each proxy appends the address it received the request from to the right of
//! `X-Forwarded-For` (or adds a `Forwarded` element), so only the right end of the list was
//! written by proxies; anything to the left may be what the client made up. The list is
//! therefore walked from the right, skipping addresses that are themselves trusted
//! proxies, and the first one that is not is the client. (gunicorn once took the
//! right-most entry, which is right for exactly one proxy, and today leaves `REMOTE_ADDR`
//! to the peer; the left-most entry, which many frameworks take, is whatever the client
//! chose.) When every address is trusted, the
//! left-most is the client. An entry that is not an address (garbage, `unknown`, an
//! obfuscated name) stops the walk: nothing beyond it can be believed, and the client is the
//! last hop that could be, or the peer itself.
//!
//! # Precedence
//!
//! The `X-Forwarded-*` headers are what nginx, HAProxy and the cloud load balancers write; an
//! RFC 7239 `Forwarded` header is used for what they do not say (its `for`, `proto` and
//! `host` from the element the walk stops at). As with every server that believes such
//! headers, a trusted proxy must set or strip each of them: a header it passes through
//! unchanged says what the client wrote.
//!
//! Conflicting secure-scheme headers (one says https, another http) refuse the request
//! with 400, as gunicorn does: the proxies in front disagree, and guessing could serve a
//! page meant for TLS over plain HTTP.

use super::allow::AllowList;
use crate::http::{is_tchar, trim_ows as trim};
use std::net::{IpAddr, SocketAddr};

/// Who is trusted, and with which headers.
#[derive(Clone, Debug)]
pub struct Trust {
    /// `--forwarded-allow-ips`.
    pub allow: AllowList,
    /// `--secure-scheme-headers`: lower-case name and the value meaning https.
    secure: Vec<(Vec<u8>, Vec<u8>)>,
    /// The first bytes (lower case) of every header name that matters here, so a request
    /// without any of them is dismissed after one table look-up per header.
    first: [bool; 256],
}

/// What kind of header a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    For,
    Host,
    Port,
    Forwarded,
    /// Index into the secure-scheme headers.
    Secure(usize),
}

/// A client as a proxy header states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// Its address.
    pub ip: IpAddr,
    /// Its port, when the header gave one.
    pub port: Option<u16>,
}

/// What the trusted headers of one request said (each `None` when they said nothing
/// believable about it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Believed {
    /// The client.
    pub client: Option<Client>,
    /// The scheme the client used: `"http"` or `"https"`.
    pub scheme: Option<&'static str>,
    /// The host (with its port, if any) the client asked for.
    pub host: Option<String>,
    /// The port the client connected to.
    pub port: Option<u16>,
}

impl Believed {
    /// Whether the headers changed nothing.
    pub fn is_empty(&self) -> bool {
        *self == Believed::default()
    }
}

/// Secure-scheme headers that disagree (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContradictoryScheme;

impl Trust {
    /// Trust for `allow`, believing `secure` (header name, value meaning https) for the
    /// scheme.
    pub fn new(allow: AllowList, secure: &[(String, String)]) -> Trust {
        let secure: Vec<(Vec<u8>, Vec<u8>)> = secure
            .iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase().into_bytes(),
                    v.trim().as_bytes().to_vec(),
                )
            })
            .collect();
        let mut first = [false; 256];
        for name in ["x-forwarded-for", "x-forwarded-host", "x-forwarded-port"]
            .iter()
            .map(|n| n.as_bytes())
            .chain(std::iter::once(b"forwarded".as_slice()))
            .chain(secure.iter().map(|(n, _)| n.as_slice()))
        {
            if let Some(&b) = name.first() {
                first[usize::from(b)] = true;
                first[usize::from(b.to_ascii_uppercase())] = true;
            }
        }
        Trust {
            allow,
            secure,
            first,
        }
    }

    fn kind(&self, name: &[u8]) -> Option<Kind> {
        if !name.first().is_some_and(|&b| self.first[usize::from(b)]) {
            return None;
        }
        if let Some(i) = self
            .secure
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Some(Kind::Secure(i));
        }
        [
            (&b"x-forwarded-for"[..], Kind::For),
            (b"x-forwarded-host", Kind::Host),
            (b"x-forwarded-port", Kind::Port),
            (b"forwarded", Kind::Forwarded),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| k)
    }

    /// Reads the proxy headers of a request from a trusted peer; `None` when it has none
    /// (the usual request: one table look-up per header and out).
    /// `headers` gives the request's header fields, in order, each time it is called.
    pub fn resolve<'a, I, F>(&self, headers: F) -> Result<Option<Believed>, ContradictoryScheme>
    where
        F: Fn() -> I,
        I: Iterator<Item = (&'a [u8], &'a [u8])>,
    {
        if !headers().any(|(n, _)| n.first().is_some_and(|&b| self.first[usize::from(b)])) {
            return Ok(None);
        }
        let mut believed = Believed::default();
        let mut xff: Vec<&[u8]> = Vec::new();
        let mut forwarded: Vec<&[u8]> = Vec::new();
        let (mut host, mut port) = (None, None);
        for (name, value) in headers() {
            match self.kind(name) {
                None => {}
                Some(Kind::For) => xff.push(value),
                Some(Kind::Forwarded) => forwarded.push(value),
                // Repeated or listed: the right-most, from the nearest proxy.
                Some(Kind::Host) => host = last_item(value).or(host),
                Some(Kind::Port) => port = last_item(value).or(port),
                Some(Kind::Secure(i)) => {
                    let expected = &self.secure[i].1;
                    let scheme = if trim(value).eq_ignore_ascii_case(expected) {
                        "https"
                    } else {
                        "http"
                    };
                    match believed.scheme {
                        Some(previous) if previous != scheme => return Err(ContradictoryScheme),
                        _ => believed.scheme = Some(scheme),
                    }
                }
            }
        }
        let has_xff = !xff.is_empty();
        if has_xff {
            believed.client = self.walk(xff.iter().flat_map(|v| v.split(|&b| b == b',')));
        }
        believed.host = host.filter(|h| valid_host(h)).map(latin1);
        believed.port = port.and_then(parse_port);
        if !forwarded.is_empty() {
            if let Some(element) = self.forwarded(&forwarded, &mut believed, has_xff) {
                if believed.host.is_none() && host.is_none() {
                    believed.host = element.host.filter(|h| valid_host(h)).map(|h| latin1(&h));
                }
                if believed.scheme.is_none() {
                    believed.scheme = element.proto.and_then(|p| {
                        if p.eq_ignore_ascii_case(b"https") {
                            Some("https")
                        } else if p.eq_ignore_ascii_case(b"http") {
                            Some("http")
                        } else {
                            None
                        }
                    });
                }
            }
        }
        Ok((!believed.is_empty()).then_some(believed))
    }

    /// Walks a list of addresses from the right (see the module docs).
    fn walk<'a>(&self, items: impl DoubleEndedIterator<Item = &'a [u8]>) -> Option<Client> {
        let mut last = None;
        for item in items.rev() {
            let item = trim(item);
            if item.is_empty() {
                continue;
            }
            match node(item) {
                Some(client) if self.allow.allows_ip(client.ip) => last = Some(client),
                Some(client) => return Some(client),
                None => return last,
            }
        }
        last
    }

    /// Walks the `Forwarded` elements from the right; sets the client (unless X-Forwarded-For
    /// did) and returns the element the walk stopped at. A header that does not parse is not
    /// believed at all.
    fn forwarded(
        &self,
        values: &[&[u8]],
        believed: &mut Believed,
        has_xff: bool,
    ) -> Option<Element> {
        let mut elements = Vec::new();
        for value in values {
            elements.extend(parse_forwarded(value)?);
        }
        let mut last: Option<Client> = None;
        let mut stop = None;
        let count = elements.len();
        for (i, element) in elements.iter().enumerate().rev() {
            match element.r#for.as_deref().and_then(node) {
                Some(client) if self.allow.allows_ip(client.ip) && i > 0 => {
                    last = Some(client);
                }
                Some(client) => {
                    last = Some(client);
                    stop = Some(i);
                    break;
                }
                None => {
                    stop = Some(i);
                    break;
                }
            }
        }
        if !has_xff {
            believed.client = last;
        }
        let stop = stop.unwrap_or(count.checked_sub(1)?);
        elements.into_iter().nth(stop)
    }
}

/// One `Forwarded` element's parameters that matter here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Element {
    r#for: Option<Vec<u8>>,
    proto: Option<Vec<u8>>,
    host: Option<Vec<u8>>,
}

/// Parses one `Forwarded` field value (RFC 7239 §4): elements separated by commas, each
/// `name=value` pairs separated by semicolons, values tokens or quoted strings. `None` on a
/// syntax error or a parameter repeated within an element.
fn parse_forwarded(value: &[u8]) -> Option<Vec<Element>> {
    let mut elements = vec![Element::default()];
    let mut seen = [false; 3];
    let mut i = 0;
    let skip_ows = |i: &mut usize| {
        while value.get(*i).is_some_and(|&b| b == b' ' || b == b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ows(&mut i);
        match value.get(i) {
            None => break,
            Some(b',') => {
                elements.push(Element::default());
                seen = [false; 3];
                i += 1;
                continue;
            }
            Some(b';') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let start = i;
        while value.get(i).is_some_and(|&b| is_tchar(b)) {
            i += 1;
        }
        let name = &value[start..i];
        if name.is_empty() || value.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        let parsed = if value.get(i) == Some(&b'"') {
            i += 1;
            let mut out = Vec::new();
            loop {
                match value.get(i) {
                    None => return None,
                    Some(b'"') => break,
                    Some(b'\\') => {
                        out.push(*value.get(i + 1)?);
                        i += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            i += 1;
            out
        } else {
            let start = i;
            while value.get(i).is_some_and(|&b| is_tchar(b)) {
                i += 1;
            }
            if start == i {
                return None;
            }
            value[start..i].to_vec()
        };
        let element = elements.last_mut()?;
        let slot = if name.eq_ignore_ascii_case(b"for") {
            Some((0, &mut element.r#for))
        } else if name.eq_ignore_ascii_case(b"proto") {
            Some((1, &mut element.proto))
        } else if name.eq_ignore_ascii_case(b"host") {
            Some((2, &mut element.host))
        } else {
            None
        };
        if let Some((index, slot)) = slot {
            if std::mem::replace(&mut seen[index], true) {
                return None;
            }
            *slot = Some(parsed);
        }
        skip_ows(&mut i);
        if !matches!(value.get(i), None | Some(b',') | Some(b';')) {
            return None;
        }
    }
    elements.retain(|e| *e != Element::default());
    Some(elements)
}

/// A node as X-Forwarded-For or `Forwarded: for=` write it: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`. `None` for anything else (garbage,
/// `unknown`, an obfuscated `_name`).
pub fn node(text: &[u8]) -> Option<Client> {
    let text = std::str::from_utf8(text).ok()?;
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip = ip.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':')?.as_bytes())?),
        };
        return Some(Client {
            ip: IpAddr::V6(ip),
            port,
        });
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Client { ip, port: None });
    }
    match text.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(addr)) => Some(Client {
            ip: IpAddr::V4(*addr.ip()),
            port: Some(addr.port()),
        }),
        _ => None,
    }
}

/// A port: 1 to 5 decimal digits, at most 65535.
fn parse_port(text: &[u8]) -> Option<u16> {
    let text = trim(text);
    if text.is_empty() || text.len() > 5 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The right-most non-empty item of a comma-separated list.
fn last_item(value: &[u8]) -> Option<&[u8]> {
    value
        .rsplit(|&b| b == b',')
        .map(trim)
        .find(|item| !item.is_empty())
}

/// A Host value worth believing: a name or address with an optional port, nothing that
/// could smuggle a path, a user or a second value.
fn valid_host(host: &[u8]) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(allow: &[&str]) -> Trust {
        let secure: Vec<(String, String)> = crate::settings::DEFAULT_SECURE_SCHEME_HEADERS
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Trust::new(AllowList::parse(allow).expect("allow"), &secure)
    }

    fn resolve(t: &Trust, headers: &[(&str, &str)]) -> Result<Believed, ContradictoryScheme> {
        t.resolve(|| headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
            .map(Option::unwrap_or_default)
    }

    fn client(t: &Trust, headers: &[(&str, &str)]) -> Option<String> {
        let b = resolve(t, headers).expect("no conflict");
        b.client.map(|c| match c.port {
            Some(p) => format!("{} {p}", c.ip),
            None => c.ip.to_string(),
        })
    }

    #[test]
    fn nothing_to_see() {
        let t = trust(&["127.0.0.1"]);
        let b = resolve(&t, &[("Host", "a"), ("Accept", "*/*")]).expect("ok");
        assert!(b.is_empty());
        assert!(resolve(&t, &[]).expect("ok").is_empty());
    }

    #[test]
    fn x_forwarded_for_walks_from_the_right() {
        let t = trust(&["127.0.0.1", "10.0.0.0/8"]);
        let one = |v| client(&t, &[("X-Forwarded-For", v)]);
        assert_eq!(one("203.0.113.7").as_deref(), Some("203.0.113.7"));
        // The client's own made-up entries sit on the left: never chosen.
        assert_eq!(
            one("1.1.1.1, 203.0.113.7, 10.0.0.2").as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(one("1.1.1.1,203.0.113.7").as_deref(), Some("203.0.113.7"));
        // All trusted: the left-most.
        assert_eq!(one("10.0.0.5, 10.0.0.2").as_deref(), Some("10.0.0.5"));
        // Several header lines are one list.
        assert_eq!(
            client(
                &t,
                &[
                    ("X-Forwarded-For", "203.0.113.7"),
                    ("x-forwarded-for", "10.0.0.3")
                ]
            )
            .as_deref(),
            Some("203.0.113.7")
        );
        // Ports and brackets.
        assert_eq!(one("203.0.113.7:4711").as_deref(), Some("203.0.113.7 4711"));
        assert_eq!(one("2001:db8::7").as_deref(), Some("2001:db8::7"));
        assert_eq!(one("[2001:db8::7]:99").as_deref(), Some("2001:db8::7 99"));
        // Empty list elements are ignored.
        assert_eq!(one(" , 203.0.113.7 ,, ").as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn garbage_is_not_believed() {
        let t = trust(&["127.0.0.1", "10.0.0.0/8"]);
        let one = |v| client(&t, &[("X-Forwarded-For", v)]);
        for bad in [
            "garbage",
            "unknown",
            "1.2.3.4, garbage",
            "999.1.1.1",
            "1.2.3.4:99999",
            "[::1",
            "<script>",
            "1.2.3.4 5.6.7.8",
            "\u{ff}",
        ] {
            assert_eq!(one(bad), None, "{bad}");
        }
        // Garbage left of the trusted hops: the last hop that could be believed.
        assert_eq!(one("garbage, 10.0.0.9").as_deref(), Some("10.0.0.9"));
        assert_eq!(one("").as_deref(), None);
    }

    #[test]
    fn secure_scheme_headers() {
        let t = trust(&["127.0.0.1"]);
        let scheme = |h: &[(&str, &str)]| resolve(&t, h).map(|b| b.scheme);
        assert_eq!(scheme(&[("X-Forwarded-Proto", "https")]), Ok(Some("https")));
        assert_eq!(
            scheme(&[("X-Forwarded-Proto", " HTTPS ")]),
            Ok(Some("https"))
        );
        assert_eq!(scheme(&[("X-Forwarded-Proto", "http")]), Ok(Some("http")));
        assert_eq!(scheme(&[("X-Forwarded-Ssl", "on")]), Ok(Some("https")));
        assert_eq!(
            scheme(&[("X-Forwarded-Protocol", "ssl")]),
            Ok(Some("https"))
        );
        assert_eq!(
            scheme(&[("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on")]),
            Ok(Some("https"))
        );
        assert_eq!(
            scheme(&[("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")]),
            Err(ContradictoryScheme)
        );
        assert_eq!(
            scheme(&[
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Proto", "http")
            ]),
            Err(ContradictoryScheme)
        );
        // Custom headers only.
        let custom = Trust::new(
            AllowList::parse(&["*"]).expect("allow"),
            &[("Front-End-Https".to_owned(), "on".to_owned())],
        );
        let b = resolve(&custom, &[("front-end-https", "on")]).expect("ok");
        assert_eq!(b.scheme, Some("https"));
        let b = resolve(&custom, &[("X-Forwarded-Proto", "https")]).expect("ok");
        assert_eq!(b.scheme, None);
    }

    #[test]
    fn host_and_port() {
        let t = trust(&["127.0.0.1"]);
        let b = resolve(
            &t,
            &[
                ("X-Forwarded-Host", "example.com:8443"),
                ("X-Forwarded-Port", "8443"),
            ],
        )
        .expect("ok");
        assert_eq!(b.host.as_deref(), Some("example.com:8443"));
        assert_eq!(b.port, Some(8443));
        let b = resolve(
            &t,
            &[
                ("X-Forwarded-Host", "evil/path"),
                ("X-Forwarded-Port", "99999"),
            ],
        )
        .expect("ok");
        assert_eq!((b.host, b.port), (None, None));
        let b = resolve(&t, &[("X-Forwarded-Host", "a.example, b.example")]).expect("ok");
        assert_eq!(b.host.as_deref(), Some("b.example"));
    }

    #[test]
    fn rfc7239_forwarded() {
        let t = trust(&["127.0.0.1", "10.0.0.0/8"]);
        let b = resolve(
            &t,
            &[(
                "Forwarded",
                "for=1.1.1.1, for=192.0.2.60;proto=https;host=example.com, for=10.0.0.2;proto=http",
            )],
        )
        .expect("ok");
        assert_eq!(
            b.client,
            Some(Client {
                ip: "192.0.2.60".parse().expect("ip"),
                port: None
            })
        );
        assert_eq!(b.scheme, Some("https"));
        assert_eq!(b.host.as_deref(), Some("example.com"));
        let b = resolve(
            &t,
            &[("Forwarded", r#"For="[2001:db8:cafe::17]:4711";PROTO=https"#)],
        )
        .expect("ok");
        assert_eq!(
            b.client,
            Some(Client {
                ip: "2001:db8:cafe::17".parse().expect("ip"),
                port: Some(4711)
            })
        );
        assert_eq!(b.scheme, Some("https"));
        // unknown / obfuscated: the peer stands, but the element's proto is the proxy's.
        let b = resolve(&t, &[("Forwarded", "for=unknown;proto=https")]).expect("ok");
        assert_eq!((b.client, b.scheme), (None, Some("https")));
        let b = resolve(&t, &[("Forwarded", "for=_hidden")]).expect("ok");
        assert_eq!(b.client, None);
        // Syntax errors: nothing from it is believed.
        for bad in [
            "for=1.2.3.4;for=5.6.7.8",
            "for",
            "for=",
            "for=\"1.2.3.4",
            "for=1.2.3.4 junk",
            "=1.2.3.4",
        ] {
            let b = resolve(&t, &[("Forwarded", bad), ("X-Other", "1")]).expect("ok");
            assert!(b.is_empty(), "{bad}: {b:?}");
        }
    }

    #[test]
    fn x_forwarded_wins_over_forwarded() {
        let t = trust(&["127.0.0.1"]);
        let b = resolve(
            &t,
            &[
                ("Forwarded", "for=192.0.2.1;proto=http;host=a.example"),
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-Proto", "https"),
            ],
        )
        .expect("ok");
        assert_eq!(
            b.client.map(|c| c.ip.to_string()).as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(b.scheme, Some("https"));
        assert_eq!(b.host.as_deref(), Some("a.example"));
    }

    #[test]
    fn nodes() {
        assert_eq!(node(b"1.2.3.4").map(|c| c.port), Some(None));
        assert_eq!(node(b"1.2.3.4:5").map(|c| c.port), Some(Some(5)));
        assert_eq!(node(b"[::1]:5").map(|c| c.port), Some(Some(5)));
        for bad in [
            &b"[::1]x"[..],
            b"[1.2.3.4]",
            b"1.2.3.4:",
            b"[::1]:",
            b"::1:99999",
            b"a",
        ] {
            assert_eq!(node(bad), None, "{bad:?}");
        }
    }
}
