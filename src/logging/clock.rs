//! Local time for log lines, in the three shapes the logs use: gunicorn's error log
//! (`[2026-11-21 10:00:00 +0000]`), the Common Log Format (`[21/Nov/2026:10:00:00 +0000]`)
//! and RFC 3339 for JSON (`2026-11-21T10:00:00.123456+00:00`).
//!
//! Local time as gunicorn writes it (containers usually run in UTC, where it is UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// A broken-down local time, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    year: i32,
    /// 1..=12
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// Seconds east of UTC.
    offset: i32,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Seconds and microseconds since the epoch, now (per request: the clock read directly).
pub fn now() -> (i64, u32) {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME) {
        Ok(t) => (t.tv_sec(), (t.tv_nsec() / 1000) as u32),
        Err(_) => {
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            (since.as_secs() as i64, since.subsec_micros())
        }
    }
}

impl Civil {
    /// The local time at `secs` since the epoch.
    pub fn local(secs: i64) -> Civil {
        let t: nix::libc::time_t = secs;
        let mut tm = std::mem::MaybeUninit::<nix::libc::tm>::zeroed();
        // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe
        // variant and fills `tm` completely when it returns non-null.
        let ok = unsafe { !nix::libc::localtime_r(&t, tm.as_mut_ptr()).is_null() };
        if !ok {
            return Civil::utc(secs);
        }
        // SAFETY: initialised by localtime_r above (and zeroed before, in any case).
        let tm = unsafe { tm.assume_init() };
        Civil {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u8,
            day: tm.tm_mday as u8,
            hour: tm.tm_hour as u8,
            minute: tm.tm_min as u8,
            second: tm.tm_sec as u8,
            offset: tm.tm_gmtoff as i32,
        }
    }

    /// UTC at `secs` since the epoch (civil-from-days, proleptic Gregorian).
    pub fn utc(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            offset: 0,
        }
    }

    /// `[2026-11-21 10:00:00 +0000]` (gunicorn's error log).
    pub fn write_error_log(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        self.write_date_dashed(out);
        out.push(b' ');
        self.write_clock(out);
        out.push(b' ');
        self.write_offset(out, false);
        out.push(b']');
    }

    /// `[21/Nov/2026:10:00:00 +0000]` (the Common Log Format, gunicorn's `%(t)s`).
    pub fn write_clf(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        push2(out, self.day);
        out.push(b'/');
        out.extend_from_slice(MONTHS[usize::from(self.month - 1) % 12]);
        out.push(b'/');
        push4(out, self.year);
        out.push(b':');
        self.write_clock(out);
        out.push(b' ');
        self.write_offset(out, false);
        out.push(b']');
    }

    /// `2026-11-21T10:00:00.123456+00:00` (RFC 3339, for JSON).
    pub fn write_rfc3339(&self, out: &mut Vec<u8>, micros: u32) {
        self.write_date_dashed(out);
        out.push(b'T');
        self.write_clock(out);
        out.push(b'.');
        let mut digits = [b'0'; 6];
        let mut n = micros.min(999_999);
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&digits);
        self.write_offset(out, true);
    }

    fn write_date_dashed(&self, out: &mut Vec<u8>) {
        push4(out, self.year);
        out.push(b'-');
        push2(out, self.month);
        out.push(b'-');
        push2(out, self.day);
    }

    fn write_clock(&self, out: &mut Vec<u8>) {
        push2(out, self.hour);
        out.push(b':');
        push2(out, self.minute);
        out.push(b':');
        push2(out, self.second);
    }

    /// `+0100`, or `+01:00` with `colon`.
    fn write_offset(&self, out: &mut Vec<u8>, colon: bool) {
        out.push(if self.offset < 0 { b'-' } else { b'+' });
        let minutes = self.offset.unsigned_abs() / 60;
        push2(out, (minutes / 60 % 100) as u8);
        if colon {
            out.push(b':');
        }
        push2(out, (minutes % 60) as u8);
    }
}

fn push2(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[b'0' + n / 10 % 10, b'0' + n % 10]);
}

fn push4(out: &mut Vec<u8>, n: i32) {
    let n = n.clamp(0, 9999) as u32;
    out.extend_from_slice(&[
        b'0' + (n / 1000) as u8,
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats() {
        // 2026-11-21 10:00:00 UTC
        let t = Civil::utc(1_795_255_200);
        assert_eq!(
            text(|o| t.write_error_log(o)),
            "[2026-11-21 10:00:00 +0000]"
        );
        assert_eq!(text(|o| t.write_clf(o)), "[21/Nov/2026:10:00:00 +0000]");
        assert_eq!(
            text(|o| t.write_rfc3339(o, 42)),
            "2026-11-21T10:00:00.000042+00:00"
        );
        let east = Civil {
            offset: 5 * 3600 + 30 * 60,
            ..t
        };
        assert_eq!(text(|o| east.write_clf(o)), "[21/Nov/2026:10:00:00 +0530]");
        let west = Civil { offset: -3600, ..t };
        assert_eq!(
            text(|o| west.write_rfc3339(o, 0)),
            "2026-11-21T10:00:00.000000-01:00"
        );
    }

    #[test]
    fn utc_calendar() {
        assert_eq!(Civil::utc(0).year, 1970);
        let leap = Civil::utc(951_782_400); // 2000-02-29
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        let eoy = Civil::utc(1_767_225_599); // 2025-12-31 23:59:59
        assert_eq!(
            (
                eoy.year, eoy.month, eoy.day, eoy.hour, eoy.minute, eoy.second
            ),
            (2025, 12, 31, 23, 59, 59)
        );
    }
}
