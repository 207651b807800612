//! StatsD lines exactly as gunicorn's `gunicorn.instrument.statsd.Statsd` writes them:
//! `<prefix><name>:<value>|<type>` with `|@1.0` after counters, then `|#<tags>` when
//! DogStatsD tags are set.

use std::time::Duration;

/// A metric's StatsD type, as gunicorn sends each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `|c|@1.0` (gunicorn always writes the sampling rate).
    Counter,
    /// `|g`.
    Gauge,
    /// `|h` (gunicorn's `backlog`).
    Histogram,
    /// `|ms`.
    Timer,
}

/// gunicorn's prefix rule (`re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", prefix)`): trailing dots
/// become one, added when missing, but only when something precedes the last character
/// that is not a dot (`a` and `a.` stay as they are, as in gunicorn).
pub fn normalize_prefix(prefix: &str) -> String {
    let chars: Vec<char> = prefix.chars().collect();
    match chars.iter().rposition(|&c| c != '.') {
        Some(last) if last >= 1 && !chars.contains(&'\n') => {
            let mut out: String = chars[..=last].iter().collect();
            out.push('.');
            out
        }
        _ => prefix.to_owned(),
    }
}

/// Appends one line (no newline) for `name` with `value` already formatted.
pub fn line(out: &mut Vec<u8>, prefix: &str, name: &str, value: &[u8], kind: Kind, tags: &str) {
    begin(out, prefix, name);
    out.extend_from_slice(value);
    end(out, kind, tags);
}

/// Starts a line: the prefixed name and the colon; the value follows.
pub fn begin(out: &mut Vec<u8>, prefix: &str, name: &str) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
}

/// Ends a line after its value: the type, and the tags if any.
pub fn end(out: &mut Vec<u8>, kind: Kind, tags: &str) {
    out.extend_from_slice(match kind {
        Kind::Counter => b"|c|@1.0",
        Kind::Gauge => b"|g",
        Kind::Histogram => b"|h",
        Kind::Timer => b"|ms",
    });
    if !tags.is_empty() {
        out.extend_from_slice(b"|#");
        out.extend_from_slice(tags.as_bytes());
    }
}

/// A request's duration in milliseconds as gunicorn computes and prints it
/// (`seconds * 1000 + microseconds / 10**3`, a Python float: `12.345`, `1000.0`).
pub fn millis(out: &mut Vec<u8>, duration: Duration) {
    let micros = duration.as_micros();
    decimal(out, (micros / 1000) as u64);
    out.push(b'.');
    let frac = (micros % 1000) as u32;
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let digits = [frac / 100, frac / 10 % 10, frac % 10];
    let keep = 3 - digits.iter().rev().take_while(|&&d| d == 0).count();
    out.extend(digits[..keep].iter().map(|&d| b'0' + d as u8));
}

/// A whole number in decimal, negative ones with their sign.
pub fn integer(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    decimal(out, value.unsigned_abs());
}

fn decimal(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut n = value;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_gunicorns_regex() {
        for (given, expected) in [
            ("", ""),
            ("app", "app."),
            ("app.", "app."),
            ("app...", "app."),
            ("a.b", "a.b."),
            ("a", "a"),
            ("a.", "a."),
            ("...", "..."),
            (".x", ".x."),
        ] {
            assert_eq!(normalize_prefix(given), expected, "{given:?}");
        }
    }

    #[test]
    fn lines_have_gunicorns_types_and_tags() {
        let mut out = Vec::new();
        line(&mut out, "p.", "gunicorn.requests", b"1", Kind::Counter, "");
        assert_eq!(out, b"p.gunicorn.requests:1|c|@1.0");
        out.clear();
        line(
            &mut out,
            "",
            "gunicorn.workers",
            b"4",
            Kind::Gauge,
            "a:1,b:2",
        );
        assert_eq!(out, b"gunicorn.workers:4|g|#a:1,b:2");
        out.clear();
        line(&mut out, "", "gunicorn.backlog", b"0", Kind::Histogram, "");
        assert_eq!(out, b"gunicorn.backlog:0|h");
    }

    #[test]
    fn durations_print_as_python_floats() {
        for (micros, expected) in [
            (0, "0.0"),
            (12_345, "12.345"),
            (12_300, "12.3"),
            (1_000_000, "1000.0"),
            (1_000_050, "1000.05"),
            (7, "0.007"),
        ] {
            let mut out = Vec::new();
            millis(&mut out, Duration::from_micros(micros));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
        let mut out = Vec::new();
        integer(&mut out, -1);
        integer(&mut out, 42);
        assert_eq!(out, b"-142");
    }
}
