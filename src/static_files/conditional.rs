//! Validators and conditional requests (RFC 9110 §8.8, §13, §14): a strong `ETag` and
//! `Last-Modified` for a file, `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since`, and `Range` with `If-Range`, evaluated in the RFC's order.
//!
//! Only single byte ranges are served as 206: several ranges would need a multipart body,
//! which no browser or download tool depends on, so they get the whole file (200), which
//! RFC 9110 §14.2 allows.

use crate::http::request::RequestHead;
use crate::http::response::HttpDate;
use std::time::{Duration, UNIX_EPOCH};

/// The request headers that decide a file response, copied (an offloaded file is answered
/// after the request head is gone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// HEAD rather than GET.
    pub head: bool,
    /// `If-Match`.
    pub if_match: Option<Vec<u8>>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<Vec<u8>>,
    /// `If-None-Match`.
    pub if_none_match: Option<Vec<u8>>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<Vec<u8>>,
    /// `Range`.
    pub range: Option<Vec<u8>>,
    /// `If-Range`.
    pub if_range: Option<Vec<u8>>,
    /// `Accept-Encoding`.
    pub accept_encoding: Option<Vec<u8>>,
}

impl Preconditions {
    /// Copies what matters from `head`.
    pub fn of(head: &RequestHead) -> Preconditions {
        let mut p = Preconditions {
            head: head.is_head(),
            ..Preconditions::default()
        };
        for (name, value) in head.headers() {
            let slot = match name.to_ascii_lowercase().as_slice() {
                b"if-match" => &mut p.if_match,
                b"if-unmodified-since" => &mut p.if_unmodified_since,
                b"if-none-match" => &mut p.if_none_match,
                b"if-modified-since" => &mut p.if_modified_since,
                b"range" => &mut p.range,
                b"if-range" => &mut p.if_range,
                b"accept-encoding" => &mut p.accept_encoding,
                _ => continue,
            };
            // Repeated list headers combine; the others keep their first value.
            match slot {
                Some(v) if matches!(name.len(), 8 | 13 | 15) && !v.is_empty() => {
                    v.extend_from_slice(b", ");
                    v.extend_from_slice(value);
                }
                Some(_) => {}
                None => *slot = Some(value.to_vec()),
            }
        }
        p
    }
}

/// A representation's validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validators {
    /// The strong entity tag, quotes included.
    pub etag: String,
    /// Modification time, whole seconds since the epoch.
    pub modified: u64,
    /// Size in bytes.
    pub len: u64,
}

impl Validators {
    /// Validators of a file of `len` bytes modified at `mtime` (seconds and nanoseconds);
    /// `variant` tells precompressed siblings apart (their tags must differ).
    pub fn new(len: u64, mtime: i64, mtime_nsec: i64, variant: &str) -> Validators {
        let modified = mtime.max(0) as u64;
        // `"<mtime>.<nanoseconds>-<len>[-<variant>]"` in hex, written without `fmt`: it is
        // built for every file served.
        let mut etag = String::with_capacity(48 + variant.len());
        etag.push('"');
        push_hex(&mut etag, modified);
        etag.push('.');
        push_hex(&mut etag, mtime_nsec.max(0) as u64);
        etag.push('-');
        push_hex(&mut etag, len);
        if !variant.is_empty() {
            etag.push('-');
            etag.push_str(variant);
        }
        etag.push('"');
        Validators {
            etag,
            modified,
            len,
        }
    }

    /// `Last-Modified`'s value. The last one formatted is kept per thread: the same files
    /// are served again and again, and formatting a date is most of a small file's head.
    pub fn last_modified(&self) -> HttpDate {
        thread_local! {
            static LAST: std::cell::RefCell<Option<(u64, HttpDate)>> =
                const { std::cell::RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| match last {
            Some((secs, date)) if *secs == self.modified => date.clone(),
            _ => {
                let date = HttpDate::new(UNIX_EPOCH + Duration::from_secs(self.modified));
                *last = Some((self.modified, date.clone()));
                date
            }
        })
    }
}

/// Appends `n` in lower-case hexadecimal.
fn push_hex(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    // Only ASCII hex digits from `start` on.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// What to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 200, the whole file.
    Whole,
    /// 206, bytes `start..start + len`.
    Partial { start: u64, len: u64 },
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition failed.
    PreconditionFailed,
    /// 416: no byte of the range exists.
    Unsatisfiable,
}

/// Evaluates the request's preconditions and range against `v` (RFC 9110 §13.2.2).
pub fn decide(p: &Preconditions, v: &Validators) -> Decision {
    if let Some(tags) = &p.if_match {
        if !matches_any(tags, &v.etag, true) {
            return Decision::PreconditionFailed;
        }
    } else if let Some(date) = p.if_unmodified_since.as_deref().and_then(parse_date) {
        if v.modified > date {
            return Decision::PreconditionFailed;
        }
    }
    if let Some(tags) = &p.if_none_match {
        if matches_any(tags, &v.etag, false) {
            return Decision::NotModified;
        }
    } else if let Some(date) = p.if_modified_since.as_deref().and_then(parse_date) {
        if v.modified <= date {
            return Decision::NotModified;
        }
    }
    let Some(range) = p.range.as_deref().filter(|_| !p.head) else {
        return Decision::Whole;
    };
    if let Some(cond) = &p.if_range {
        if !if_range_holds(cond, v) {
            return Decision::Whole;
        }
    }
    match parse_range(range, v.len) {
        RangeAnswer::Ignore => Decision::Whole,
        RangeAnswer::Unsatisfiable => Decision::Unsatisfiable,
        RangeAnswer::Bytes { start, len } => Decision::Partial { start, len },
    }
}

/// Whether a tag list (`*`, or `"a", W/"b"`) matches `etag`; `strong`: weak tags never
/// match (If-Match), else they compare by their opaque part (If-None-Match).
fn matches_any(list: &[u8], etag: &str, strong: bool) -> bool {
    let list = String::from_utf8_lossy(list);
    list.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        match tag.strip_prefix("W/") {
            Some(weak) => !strong && weak == etag,
            None => tag == etag,
        }
    })
}

/// `If-Range`: a strong tag equal to ours, or a date equal to `Last-Modified`.
fn if_range_holds(cond: &[u8], v: &Validators) -> bool {
    let text = String::from_utf8_lossy(cond);
    let text = text.trim();
    if text.starts_with('"') {
        return text == v.etag;
    }
    if text.starts_with("W/") {
        return false;
    }
    parse_date(cond) == Some(v.modified)
}

/// A `Range` header read against a representation's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// Not one byte range we serve (other unit, several ranges, malformed): the whole file.
    Ignore,
    /// No byte of it exists.
    Unsatisfiable,
    /// This slice.
    Bytes { start: u64, len: u64 },
}

fn parse_range(header: &[u8], len: u64) -> RangeAnswer {
    let Ok(text) = std::str::from_utf8(header) else {
        return RangeAnswer::Ignore;
    };
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Ignore;
    };
    if spec.contains(',') {
        return RangeAnswer::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Ignore;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), last.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if len > 0 => RangeAnswer::Bytes {
                start: len.saturating_sub(n),
                len: n.min(len),
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Ignore,
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeAnswer::Ignore;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return RangeAnswer::Ignore,
                }
            };
            if start >= len {
                return RangeAnswer::Unsatisfiable;
            }
            let end = end.min(len - 1);
            RangeAnswer::Bytes {
                start,
                len: end - start + 1,
            }
        }
        (true, true) => RangeAnswer::Ignore,
    }
}

/// Reads an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into seconds since the epoch;
/// anything else (the obsolete forms included) is `None`, which makes the condition
/// ignored, as RFC 9110 §13.1.3 asks for an invalid date.
pub fn parse_date(value: &[u8]) -> Option<u64> {
    // Bytes, never text slices: a client's non-ASCII byte must not land a fixed offset in
    // the middle of a character (that would panic the worker).
    let b = value.trim_ascii();
    if b.len() != 29 || !b.is_ascii() || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let digits = &b[r];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
        })
    };
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u64 + 1;
    let year = num(12..16)?;
    let (h, m, s) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if year < 1970 || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`), for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y % 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a non-ASCII byte at a fixed offset panicked the worker (review of issue 15)
    #[test]
    fn dates_with_bytes_beyond_ascii_are_ignored_not_a_panic() {
        assert_eq!(
            parse_date("Sun, 0\u{20ac}ov 1994 08:49:37 GMT".as_bytes()),
            None
        );
        assert_eq!(parse_date(b"Sun, 06 N\xffv 1994 08:49:37 GMT"), None);
        assert_eq!(parse_date(b"\xff\xfe\xfd, 06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(
            parse_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
    }

    fn v() -> Validators {
        Validators::new(1000, 784_111_777, 5, "")
    }

    fn with(f: impl FnOnce(&mut Preconditions)) -> Decision {
        let mut p = Preconditions::default();
        f(&mut p);
        decide(&p, &v())
    }

    #[test]
    fn dates_round_trip_through_last_modified() {
        let v = v();
        let shown = v.last_modified();
        assert_eq!(shown.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_date(shown.as_bytes()), Some(784_111_777));
        assert_eq!(parse_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn conditions_follow_the_rfc_order() {
        let tag = v().etag;
        assert_eq!(
            with(|p| p.if_none_match = Some(tag.clone().into())),
            Decision::NotModified
        );
        let weak = format!("W/{tag}");
        assert_eq!(
            with(|p| p.if_none_match = Some(weak.clone().into())),
            Decision::NotModified
        );
        assert_eq!(
            with(|p| p.if_match = Some(weak.into())),
            Decision::PreconditionFailed
        );
        assert_eq!(
            with(|p| p.if_none_match = Some(b"\"other\"".to_vec())),
            Decision::Whole
        );
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT".to_vec();
        assert_eq!(
            with(|p| p.if_modified_since = Some(date.clone())),
            Decision::NotModified
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            with(|p| {
                p.if_none_match = Some(b"\"other\"".to_vec());
                p.if_modified_since = Some(date.clone());
            }),
            Decision::Whole
        );
        assert_eq!(
            with(|p| p.if_modified_since = Some(b"Sat, 05 Nov 1994 08:49:37 GMT".to_vec())),
            Decision::Whole
        );
    }

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(h.as_bytes(), 1000);
        assert_eq!(r("bytes=0-99"), RangeAnswer::Bytes { start: 0, len: 100 });
        assert_eq!(
            r("bytes=990-"),
            RangeAnswer::Bytes {
                start: 990,
                len: 10
            }
        );
        assert_eq!(
            r("bytes=-10"),
            RangeAnswer::Bytes {
                start: 990,
                len: 10
            }
        );
        assert_eq!(
            r("bytes=-5000"),
            RangeAnswer::Bytes {
                start: 0,
                len: 1000
            }
        );
        assert_eq!(
            r("bytes=500-99999"),
            RangeAnswer::Bytes {
                start: 500,
                len: 500
            }
        );
        assert_eq!(r("bytes=1000-"), RangeAnswer::Unsatisfiable);
        assert_eq!(r("bytes=-0"), RangeAnswer::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), RangeAnswer::Ignore);
        assert_eq!(r("bytes=5-1"), RangeAnswer::Ignore);
        assert_eq!(r("items=0-1"), RangeAnswer::Ignore);
        assert_eq!(r("bytes=+1-2"), RangeAnswer::Ignore);
        assert_eq!(parse_range(b"bytes=0-", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn if_range_keeps_the_range_only_for_the_same_file() {
        let tag = v().etag;
        let range = |cond: &[u8]| {
            with(|p| {
                p.range = Some(b"bytes=0-9".to_vec());
                p.if_range = Some(cond.to_vec());
            })
        };
        assert_eq!(
            range(tag.as_bytes()),
            Decision::Partial { start: 0, len: 10 }
        );
        assert_eq!(range(b"\"old\""), Decision::Whole);
        assert_eq!(range(format!("W/{tag}").as_bytes()), Decision::Whole);
        assert_eq!(
            range(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Decision::Partial { start: 0, len: 10 }
        );
    }
}
