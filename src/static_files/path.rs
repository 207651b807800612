//! A request path under a mount, decoded once and checked as strictly as the request parser
//! checks heads: what comes out can only name a file beneath the mount's directory.
//!
//! Anything doubtful is refused rather than repaired (a repaired path is a second
//! interpretation an attacker can aim at): percent-escapes are decoded exactly once (`%25`
//! stays a literal `%`), and a decoded `/`, `\`, NUL or control byte, a `.` or `..` segment
//! (before or after decoding), any segment starting with `.` (dotfiles, `.git`), and bytes
//! that are not UTF-8 (overlong forms such as `%c0%ae` included) are all refused.

/// Why a path was refused (logged at debug; the client only ever sees a 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// An encoded `/` (`%2F`): a separator the client hid from the router.
    EncodedSlash,
    /// A backslash, raw or encoded (a separator on other systems).
    Backslash,
    /// NUL or another control byte.
    Control,
    /// The decoded bytes are not UTF-8 (overlong forms included).
    NotUtf8,
    /// A segment starting with `.`: `.`, `..`, or a dotfile.
    DotSegment,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::BadEscape => "a malformed percent-escape",
            Refused::EncodedSlash => "an encoded slash",
            Refused::Backslash => "a backslash",
            Refused::Control => "a NUL or control byte",
            Refused::NotUtf8 => "bytes that are not UTF-8",
            Refused::DotSegment => "a segment starting with a dot",
        })
    }
}

/// A checked path relative to a mount's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelPath {
    /// The segments joined by `/` (empty: the directory itself); never absolute, never
    /// with a `.` segment.
    pub rel: String,
    /// The request path ended with `/` (it names a directory).
    pub trailing_slash: bool,
}

/// Decodes `raw` (the request path after the mount's prefix, still percent-encoded) and
/// checks it. Empty segments (`a//b`) are merged, as a router would.
pub fn decode(raw: &[u8]) -> Result<RelPath, Refused> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        let decoded = if b == b'%' {
            let hi = raw.get(i + 1).and_then(|&h| hex(h));
            let lo = raw.get(i + 2).and_then(|&l| hex(l));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(Refused::BadEscape);
            };
            i += 3;
            let d = hi << 4 | lo;
            if d == b'/' {
                return Err(Refused::EncodedSlash);
            }
            d
        } else {
            i += 1;
            b
        };
        if decoded == b'\\' {
            return Err(Refused::Backslash);
        }
        if decoded < 0x20 || decoded == 0x7f {
            return Err(Refused::Control);
        }
        bytes.push(decoded);
    }
    let text = String::from_utf8(bytes).map_err(|_| Refused::NotUtf8)?;
    let trailing_slash = text.ends_with('/');
    let mut rel = String::with_capacity(text.len());
    for segment in text.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') {
            return Err(Refused::DotSegment);
        }
        if !rel.is_empty() {
            rel.push('/');
        }
        rel.push_str(segment);
    }
    Ok(RelPath {
        rel,
        trailing_slash,
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        decode(raw.as_bytes()).expect(raw).rel
    }

    #[test]
    fn ordinary_paths_are_decoded_once() {
        assert_eq!(ok("css/site.css"), "css/site.css");
        assert_eq!(ok("/a//b/"), "a/b");
        assert_eq!(ok("caf%C3%A9.txt"), "café.txt");
        assert_eq!(ok("100%25.txt"), "100%.txt");
        assert_eq!(ok("%252e%252e/x"), "%2e%2e/x");
        assert!(decode(b"dir/").expect("dir").trailing_slash);
    }

    #[test]
    fn doubtful_paths_are_refused() {
        let cases: &[(&str, Refused)] = &[
            ("../etc/passwd", Refused::DotSegment),
            ("a/../../b", Refused::DotSegment),
            ("%2e%2e/secret", Refused::DotSegment),
            ("%2E%2E%2fsecret", Refused::EncodedSlash),
            (".env", Refused::DotSegment),
            ("a/.git/config", Refused::DotSegment),
            ("./a", Refused::DotSegment),
            ("..%5csecret", Refused::Backslash),
            ("a\\b", Refused::Backslash),
            ("a%00.txt", Refused::Control),
            ("a%0a", Refused::Control),
            ("%c0%ae%c0%ae/x", Refused::NotUtf8),
            ("%ff", Refused::NotUtf8),
            ("%zz", Refused::BadEscape),
            ("a%2", Refused::BadEscape),
        ];
        for (raw, why) in cases {
            assert_eq!(decode(raw.as_bytes()), Err(*why), "{raw}");
        }
    }
}
