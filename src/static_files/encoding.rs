//! Precompressed siblings (`site.css.br`, `.zst`, `.gz` beside `site.css`), chosen by the
//! client's `Accept-Encoding` q-values (RFC 9110 §12.5.3). The server never compresses:
//! it serves what a build step (Django's compressors, `whitenoise`, `brotli -k`) left.

/// A content coding the server looks for a sibling of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// Brotli, `.br`.
    Brotli,
    /// Zstandard, `.zst`.
    Zstd,
    /// gzip, `.gz`.
    Gzip,
}

impl Coding {
    /// In the order preferred when the client weighs them equally (smallest first).
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The sibling file's suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
        }
    }
}

/// The codings `accept` (an `Accept-Encoding` value) allows, most wanted first; a coding
/// with q=0, or not listed when there is no `*`, is not allowed. No header: none.
pub fn acceptable(accept: Option<&[u8]>) -> Vec<Coding> {
    let Some(accept) = accept else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(accept);
    let mut star = None;
    let mut listed: Vec<(String, u32)> = Vec::new();
    for item in text.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let mut q = 1000;
        for param in parts {
            if let Some((k, val)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = qvalue(val.trim()).unwrap_or(0);
                }
            }
        }
        if name == "*" {
            star = Some(q);
        } else {
            listed.push((name, q));
        }
    }
    let weight = |c: Coding| {
        let names: &[&str] = match c {
            Coding::Gzip => &["gzip", "x-gzip"],
            other => &[other.token()],
        };
        listed
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, q)| *q)
            .or(star)
            .unwrap_or(0)
    };
    let mut found: Vec<(Coding, u32)> = Coding::ALL
        .into_iter()
        .map(|c| (c, weight(c)))
        .filter(|&(_, q)| q > 0)
        .collect();
    // Stable: equal weights keep the smallest-first order.
    found.sort_by_key(|&(_, q)| std::cmp::Reverse(q));
    found.into_iter().map(|(c, _)| c).collect()
}

/// A q-value in thousandths (`0`, `0.5`, `1.000`); `None` when malformed.
fn qvalue(text: &str) -> Option<u32> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u32 = format!("{frac:0<3}").parse().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    fn accept(h: &str) -> Vec<Coding> {
        acceptable(Some(h.as_bytes()))
    }

    #[test]
    fn q_values_order_the_siblings() {
        assert_eq!(accept("gzip, deflate, br, zstd"), vec![Brotli, Zstd, Gzip]);
        assert_eq!(accept("gzip;q=1.0, br;q=0.5"), vec![Gzip, Brotli]);
        assert_eq!(accept("br;q=0, gzip"), vec![Gzip]);
        assert_eq!(accept("*;q=0.1, gzip;q=0"), vec![Brotli, Zstd]);
        assert_eq!(accept("identity"), Vec::<Coding>::new());
        assert_eq!(accept("br;q=2"), Vec::<Coding>::new());
        assert_eq!(acceptable(None), Vec::<Coding>::new());
    }
}
