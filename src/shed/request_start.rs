//! `X-Request-Start`: when a proxy in front received the request, as the conventions of
//! the proxies and APM agents have it. nginx: `t=${msec}`, seconds since the epoch with
//! milliseconds (`t=1700000000.123`); Heroku's router: whole milliseconds
//! (`1700000000123`); Apache's `%t`: `t=` and microseconds; some set nanoseconds. As the
//! New Relic and Scout agents do, a whole number's unit is told by its magnitude: a time
//! after 2000-01-01 in one unit is far from one in the next (each is 1000 times larger).

use std::time::Duration;

/// 2000-01-01T00:00:00Z in seconds: anything earlier, in every unit, is not a timestamp.
const EARLIEST_SECS: u64 = 946_684_800;

/// Longest value considered (a nanosecond count has 19 digits; nginx's a dozen or so).
const MAX_LEN: usize = 32;

/// The time since the epoch a `X-Request-Start` value names, or `None` when it names none.
pub fn parse(value: &[u8]) -> Option<Duration> {
    let value = value.trim_ascii();
    let value = value.strip_prefix(b"t=").unwrap_or(value);
    if value.is_empty() || value.len() > MAX_LEN {
        return None;
    }
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], Some(&value[dot + 1..])),
        None => (value, None),
    };
    let n = digits(whole)?;
    let since = if let Some(fraction) = fraction {
        // A fraction only makes sense on seconds (nginx's `$msec`).
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
        let nanos = digits(fraction)? * 10u64.pow(9 - fraction.len() as u32);
        Duration::new(n, nanos as u32)
    } else {
        match n {
            n if n < 100_000_000_000 => Duration::from_secs(n),
            n if n < 100_000_000_000_000 => Duration::from_millis(n),
            n if n < 100_000_000_000_000_000 => Duration::from_micros(n),
            n => Duration::from_nanos(n),
        }
    };
    // Seconds far in the future (a fraction on a millisecond count) are no time either.
    (since.as_secs() >= EARLIEST_SECS && since.as_secs() < EARLIEST_SECS * 10).then_some(since)
}

/// A run of ASCII digits as a number (`None` if empty, not all digits, or too large).
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_700_000_000_123;

    #[test]
    fn every_convention_names_the_same_moment() {
        let expected = Some(Duration::from_millis(MS));
        assert_eq!(parse(b"t=1700000000.123"), expected, "nginx");
        assert_eq!(parse(b"1700000000.123"), expected);
        assert_eq!(parse(b"1700000000123"), expected, "Heroku");
        assert_eq!(
            parse(b"t=1700000000123000"),
            expected,
            "Apache, microseconds"
        );
        assert_eq!(parse(b"1700000000123000000"), expected, "nanoseconds");
        assert_eq!(parse(b" t=1700000000.123 "), expected);
        assert_eq!(
            parse(b"1700000000"),
            Some(Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            parse(b"t=1700000000.5"),
            Some(Duration::from_millis(1_700_000_000_500))
        );
    }

    #[test]
    fn what_is_no_time_is_refused() {
        for bad in [
            &b""[..],
            b"t=",
            b"t=abc",
            b"-1700000000",
            b"1700000000.",
            b"1700000000.12a",
            b"1.5",
            b"12345",
            b"1700000000123.5",
            b"99999999999999999999999",
            b"t=1700000000,123",
            b"1700000000.1234567890",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
