//! gunicorn's compatibility switches for request heads (`--permit-obsolete-folding`,
//! `--strip-header-spaces`, `--permit-unconventional-http-method`,
//! `--casefold-http-method`, `--permit-unconventional-http-version`), with gunicorn 27's
//! meaning. All are off by default; the strict parser never looks at them until it has
//! found something to refuse, so the usual request pays nothing for them.
//!
//! A head the strict rules refuse is rewritten ([`relax`]) into the head the switches make
//! of it, and that is parsed again with the strict rules.

/// Where the request parser departs from its strict rules; every switch off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leniency {
    /// `--permit-obsolete-folding`: a field line starting with SP or HTAB continues the
    /// field before it (joined with one SP, RFC 9112 §5.2) instead of a 400.
    pub obs_fold: bool,
    /// `--strip-header-spaces`: whitespace between a field name and its colon is removed
    /// instead of a 400 (RFC 9112 §5.1 says it must be refused: a smuggling vector).
    pub strip_header_spaces: bool,
    /// `--permit-unconventional-http-method`: any token is a method, not only 3 to 20
    /// characters without lower case letters or `#`.
    pub unconventional_method: bool,
    /// `--casefold-http-method`: the method is upper-cased.
    pub casefold_method: bool,
    /// `--permit-unconventional-http-version`: any `HTTP/D.D` is served (below 1.1 as
    /// 1.0, from 1.1 on as 1.1), not only 1.0 and 1.1.
    pub unconventional_version: bool,
}

impl Leniency {
    /// Whether any switch that [`relax`] acts on is on.
    fn relaxes(&self) -> bool {
        self.obs_fold || self.strip_header_spaces || self.unconventional_version
    }
}

/// gunicorn's conventional method (its default refuses the rest with 400): 3 to 20
/// characters, none of them a lower case letter or `#` (every IANA-registered method is).
#[inline]
pub fn conventional_method(method: &[u8]) -> bool {
    // Without short-circuits within the loop: no branch per byte.
    (3..=20).contains(&method.len())
        && !method.iter().any(|&b| b.is_ascii_lowercase() | (b == b'#'))
}

/// A head as the switches make it, for the strict parser to read.
#[derive(Debug, PartialEq, Eq)]
pub struct Relaxed {
    /// The rewritten head: folded fields joined, spaces before colons gone, an
    /// unconventional version replaced by the one it is served as.
    pub bytes: Vec<u8>,
    /// Where the version starts and what the client sent (`HTTP/2.0`), when it was
    /// replaced.
    pub version: Option<(usize, [u8; 8])>,
}

/// Rewrites a complete head (request line to the final empty line, every line ended by
/// CRLF, as the scanner passed it) by the switches that are on; `None` when none changes
/// anything, so the strict parser's refusal stands.
pub fn relax(head: &[u8], leniency: &Leniency) -> Option<Relaxed> {
    if !leniency.relaxes() {
        return None;
    }
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next()?;
    let mut out = Vec::with_capacity(head.len());
    let mut changed = false;
    let version = leniency
        .unconventional_version
        .then(|| unconventional_version(request_line))
        .flatten();
    match version {
        Some((at, served)) => {
            out.extend_from_slice(&request_line[..at]);
            out.extend_from_slice(served);
            changed = true;
        }
        None => out.extend_from_slice(request_line),
    }
    out.extend_from_slice(b"\r\n");
    let mut first_field = true;
    for line in lines {
        if line.is_empty() {
            // The empty line ending the head (the last split piece after it is empty too).
            continue;
        }
        let folded = matches!(line.first(), Some(b' ' | b'\t'));
        if folded && leniency.obs_fold && !first_field {
            // gunicorn: each piece stripped of SP and HTAB, the pieces joined by one SP.
            out.truncate(out.len() - 2);
            while matches!(out.last(), Some(b' ' | b'\t')) {
                out.pop();
            }
            out.push(b' ');
            out.extend_from_slice(trim(line));
            changed = true;
        } else {
            match line.iter().position(|&b| b == b':') {
                Some(colon) if leniency.strip_header_spaces => {
                    let name = &line[..colon];
                    let kept = name
                        .iter()
                        .rposition(|&b| b != b' ' && b != b'\t')
                        .map_or(0, |i| i + 1);
                    changed |= kept != name.len();
                    out.extend_from_slice(&name[..kept]);
                    out.extend_from_slice(&line[colon..]);
                }
                _ => out.extend_from_slice(line),
            }
        }
        out.extend_from_slice(b"\r\n");
        first_field = false;
    }
    out.extend_from_slice(b"\r\n");
    changed.then(|| Relaxed {
        bytes: out,
        version: version.map(|(at, _)| {
            let sent = request_line[at..]
                .try_into()
                .expect("an HTTP/D.D version is eight bytes");
            (at, sent)
        }),
    })
}

/// Where a request line's `HTTP/D.D` version other than 1.0 and 1.1 starts, and the
/// version it is served as. gunicorn splits the line at its first two spaces, so the
/// version is everything after the second.
fn unconventional_version(line: &[u8]) -> Option<(usize, &'static [u8])> {
    let second = line
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b' ')
        .nth(1)?
        .0;
    let at = second + 1;
    match line[at..] {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0' | b'1') => None,
                // RFC 9110 §2.5: a later minor version is served as the latest we know.
                _ if (major, minor) > (b'1', b'0') => Some((at, b"HTTP/1.1")),
                _ => Some((at, b"HTTP/1.0")),
            }
        }
        _ => None,
    }
}

/// Strips SP and HTAB at both ends, as gunicorn's `strip(" \t")`.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> Leniency {
        Leniency {
            obs_fold: true,
            strip_header_spaces: true,
            unconventional_method: true,
            casefold_method: true,
            unconventional_version: true,
        }
    }

    #[test]
    fn conventional_methods() {
        for m in [
            "GET",
            "M-SEARCH",
            "BASELINE-CONTROL",
            "A".repeat(20).as_str(),
        ] {
            assert!(conventional_method(m.as_bytes()), "{m}");
        }
        for m in ["GE", "get", "Get", "GE#T", "A".repeat(21).as_str(), ""] {
            assert!(!conventional_method(m.as_bytes()), "{m}");
        }
    }

    #[test]
    fn nothing_to_relax_is_none() {
        let head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(relax(head, &on()), None);
        assert_eq!(
            relax(b"GET / HTTP/2.0\r\nX : y\r\n\r\n", &Leniency::default()),
            None
        );
    }

    #[test]
    fn folds_join_with_one_space() {
        let l = Leniency {
            obs_fold: true,
            ..Leniency::default()
        };
        let r = relax(
            b"GET / HTTP/1.1\r\nX: a \r\n  b\r\n\t c \r\nHost: h\r\n\r\n",
            &l,
        )
        .expect("relaxed");
        assert_eq!(r.bytes, b"GET / HTTP/1.1\r\nX: a b c\r\nHost: h\r\n\r\n");
        assert_eq!(r.version, None);
        // Not the first field: whitespace before it stays (and the parser refuses it).
        assert_eq!(relax(b"GET / HTTP/1.1\r\n X: a\r\n\r\n", &l), None);
    }

    #[test]
    fn spaces_before_colon_go() {
        let l = Leniency {
            strip_header_spaces: true,
            ..Leniency::default()
        };
        let r = relax(b"GET / HTTP/1.1\r\nHost \t : h\r\nX: a : b\r\n\r\n", &l).expect("relaxed");
        assert_eq!(r.bytes, b"GET / HTTP/1.1\r\nHost: h\r\nX: a : b\r\n\r\n");
    }

    #[test]
    fn versions_are_served_as_their_class() {
        let l = Leniency {
            unconventional_version: true,
            ..Leniency::default()
        };
        for (v, served) in [
            ("HTTP/1.2", "HTTP/1.1"),
            ("HTTP/2.0", "HTTP/1.1"),
            ("HTTP/9.9", "HTTP/1.1"),
            ("HTTP/0.9", "HTTP/1.0"),
            ("HTTP/0.0", "HTTP/1.0"),
        ] {
            let head = format!("GET / {v}\r\nHost: h\r\n\r\n");
            let r = relax(head.as_bytes(), &l).expect(v);
            assert_eq!(
                r.bytes,
                format!("GET / {served}\r\nHost: h\r\n\r\n").as_bytes()
            );
            let (at, sent) = r.version.expect("replaced");
            assert_eq!((at, &sent[..]), (6, v.as_bytes()));
        }
        for v in [
            "HTTP/1.1",
            "HTTP/1.0",
            "HTTP/10.0",
            "http/2.0",
            "HTTP/2",
            "x HTTP/2.0",
        ] {
            let head = format!("GET / {v}\r\nHost: h\r\n\r\n");
            assert_eq!(relax(head.as_bytes(), &l), None, "{v}");
        }
    }
}
