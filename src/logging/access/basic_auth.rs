//! The user of HTTP Basic authentication (`%(u)s`, JSON `user`), decoded from the
//! request's Authorization header (RFC 7617), without trusting it for anything else.

/// The user name of an `Authorization: Basic` header (gunicorn's `%(u)s`).
pub(super) fn basic_user(value: &[u8]) -> Option<Vec<u8>> {
    let (scheme, token) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64_decode(token.trim_ascii())?;
    let user = decoded.split(|&b| b == b':').next()?;
    decoded.contains(&b':').then(|| user.to_vec())
}

/// Standard base64 (padding optional); `None` on anything else.
pub(super) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for group in text.chunks(4) {
        if group.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in group.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}
