//! Percent-decoding of a request target's path (RFC 3986 §2.1), as PEP 3333 and CGI
//! (RFC 3875 §4.1.5) want `PATH_INFO`: decoded once, to bytes.

/// `%XX` escapes decoded to bytes; malformed escapes are kept as they are (like
/// `urllib.parse.unquote_to_bytes`, which gunicorn uses).
pub fn percent_decode(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !raw.contains(&b'%') {
        return std::borrow::Cow::Borrowed(raw);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(&*percent_decode(b"/a%20b"), b"/a b");
        assert_eq!(&*percent_decode(b"/%E2%82%AC"), b"/\xe2\x82\xac");
        assert_eq!(&*percent_decode(b"/100%"), b"/100%");
        assert_eq!(&*percent_decode(b"/%zz%4"), b"/%zz%4");
        assert_eq!(&*percent_decode(b"/%2F"), b"//");
        assert_eq!(&*percent_decode(b"/%41%"), b"/A%");
    }
}
