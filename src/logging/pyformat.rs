//! Python's `logging.Formatter` `%`-style format strings (`%(asctime)s [%(process)d]
//! %(message)s`, with `datefmt`), compiled once and applied to each line, for the formats a
//! Python logging config (`--log-config`...) or syslog gives a log.
//!
//! The record attributes offered are those that mean something for lines written in Rust:
//! `asctime`, `created`, `msecs`, `levelname`, `levelno`, `name`, `message`, `process`,
//! `processName`, `thread`. The ones that name the Python source line that logged
//! (`pathname`, `lineno`, `funcName`...) are refused by name at startup.

use super::LogLevel;
use super::escape;
use std::ffi::CString;
use std::fmt::Write as _;

/// One log record, as a Python formatter sees it.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The logger: `gunicorn.error` or `gunicorn.access`.
    pub name: &'a str,
    /// Its level.
    pub level: LogLevel,
    /// The message, already formatted.
    pub message: &'a [u8],
    /// Seconds since the epoch.
    pub secs: i64,
    /// And microseconds.
    pub micros: u32,
}

/// A compiled format.
#[derive(Clone, Debug, PartialEq)]
pub struct PyFormat {
    pieces: Vec<Piece>,
    /// `datefmt` as a C string for `strftime`; `None`: Python's default
    /// (`%Y-%m-%d %H:%M:%S,mmm`).
    datefmt: Option<CString>,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Literal(Vec<u8>),
    Attr { attr: Attr, spec: Spec },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attr {
    Asctime,
    Created,
    Msecs,
    Levelname,
    Levelno,
    Name,
    Message,
    Process,
    ProcessName,
    Thread,
}

/// A `%` conversion's flags, width, precision and type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    conv: u8,
}

/// Attributes of a Python log record that rsgi-server cannot fill, with why.
const SOURCE_ATTRS: &[&str] = &[
    "pathname",
    "filename",
    "module",
    "funcName",
    "lineno",
    "exc_info",
    "exc_text",
    "stack_info",
    "threadName",
    "taskName",
    "relativeCreated",
    "args",
    "msg",
];

impl PyFormat {
    /// Compiles `format` (Python's `%` style) with an optional `datefmt`; the error names
    /// what cannot be honoured.
    pub fn compile(format: &str, datefmt: Option<&str>) -> Result<PyFormat, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let bytes = format.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                literal.push(bytes[i]);
                i += 1;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'%') {
                literal.push(b'%');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) != Some(&b'(') {
                return Err(format!(
                    "format {format:?}: a % that is not %(name)s nor %% (escape it as %%)"
                ));
            }
            let close = format[i..]
                .find(')')
                .map(|p| p + i)
                .ok_or_else(|| format!("format {format:?}: %( is not closed"))?;
            let name = &format[i + 2..close];
            let (spec, next) = parse_spec(bytes, close + 1)
                .ok_or_else(|| format!("format {format:?}: %({name}) has no valid conversion"))?;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Attr {
                attr: attr(name)?,
                spec,
            });
            i = next;
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let datefmt = datefmt
            .map(|d| CString::new(d).map_err(|_| format!("datefmt {d:?} holds a NUL byte")))
            .transpose()?;
        Ok(PyFormat { pieces, datefmt })
    }

    /// The format of a formatter given no format: `%(message)s`.
    pub fn message_only() -> PyFormat {
        PyFormat {
            pieces: vec![Piece::Attr {
                attr: Attr::Message,
                spec: Spec {
                    conv: b's',
                    ..Spec::default()
                },
            }],
            datefmt: None,
        }
    }

    /// Appends the formatted record to `out` (no line end).
    pub fn write(&self, out: &mut Vec<u8>, record: &Record<'_>) {
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                Piece::Attr { attr, spec } => {
                    text.clear();
                    let value = self.value(*attr, record, &mut text);
                    spec.apply(out, value);
                }
            }
        }
    }

    fn value<'r>(&self, attr: Attr, r: &Record<'r>, text: &'r mut String) -> Value<'r> {
        match attr {
            Attr::Asctime => {
                let mut bytes = Vec::new();
                match &self.datefmt {
                    Some(fmt) => strftime(&mut bytes, fmt, r.secs),
                    None => {
                        strftime(&mut bytes, c"%Y-%m-%d %H:%M:%S", r.secs);
                        let _ = write!(text, ",{:03}", r.micros / 1000);
                        bytes.extend_from_slice(text.as_bytes());
                    }
                }
                Value::Owned(bytes)
            }
            Attr::Created => Value::Float(r.secs as f64 + f64::from(r.micros) / 1e6),
            Attr::Msecs => Value::Float(f64::from(r.micros) / 1000.0),
            Attr::Levelname => Value::Text(levelname(r.level).as_bytes()),
            Attr::Levelno => Value::Int(levelno(r.level)),
            Attr::Name => Value::Text(r.name.as_bytes()),
            Attr::Message => Value::Text(r.message),
            Attr::Process => Value::Int(i64::from(std::process::id())),
            Attr::ProcessName => Value::Text(b"MainProcess"),
            // SAFETY: pthread_self has no preconditions.
            Attr::Thread => Value::Int(unsafe { nix::libc::pthread_self() } as i64),
        }
    }
}

/// Python's level name (`WARNING`, `CRITICAL`...).
pub fn levelname(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warning => "WARNING",
        LogLevel::Error => "ERROR",
        LogLevel::Critical => "CRITICAL",
    }
}

fn levelno(level: LogLevel) -> i64 {
    match level {
        LogLevel::Debug => 10,
        LogLevel::Info => 20,
        LogLevel::Warning => 30,
        LogLevel::Error => 40,
        LogLevel::Critical => 50,
    }
}

enum Value<'a> {
    Text(&'a [u8]),
    Owned(Vec<u8>),
    Int(i64),
    Float(f64),
}

fn attr(name: &str) -> Result<Attr, String> {
    Ok(match name {
        "asctime" => Attr::Asctime,
        "created" => Attr::Created,
        "msecs" => Attr::Msecs,
        "levelname" => Attr::Levelname,
        "levelno" => Attr::Levelno,
        "name" => Attr::Name,
        "message" => Attr::Message,
        "process" => Attr::Process,
        "processName" => Attr::ProcessName,
        "thread" => Attr::Thread,
        other if SOURCE_ATTRS.contains(&other) => {
            return Err(format!(
                "the record attribute %({other}) is not supported: it describes the Python \
                 code that logged, and rsgi-server writes these logs in Rust (available: \
                 asctime, created, msecs, levelname, levelno, name, message, process, \
                 processName, thread)"
            ));
        }
        other => return Err(format!("%({other}) is not a log record attribute")),
    })
}

/// Reads `[-0 +#]*[width][.precision]conv` from `at`; the spec and where it ends.
fn parse_spec(bytes: &[u8], mut at: usize) -> Option<(Spec, usize)> {
    let mut spec = Spec::default();
    while let Some(&flag) = bytes.get(at) {
        match flag {
            b'-' => spec.left = true,
            b'0' => spec.zero = true,
            b' ' | b'+' | b'#' => {}
            _ => break,
        }
        at += 1;
    }
    while let Some(d) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
        spec.width = spec.width * 10 + usize::from(d - b'0');
        at += 1;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let mut precision = 0;
        while let Some(d) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            precision = precision * 10 + usize::from(d - b'0');
            at += 1;
        }
        spec.precision = Some(precision);
    }
    let conv = *bytes.get(at)?;
    matches!(conv, b's' | b'd' | b'i' | b'f' | b'r').then_some(())?;
    spec.conv = conv;
    Some((spec, at + 1))
}

impl Spec {
    fn apply(&self, out: &mut Vec<u8>, value: Value<'_>) {
        let body: Vec<u8> = match (self.conv, value) {
            (b'd' | b'i', Value::Int(n)) => n.to_string().into_bytes(),
            (b'd' | b'i', Value::Float(f)) => (f.trunc() as i64).to_string().into_bytes(),
            (b'f', Value::Int(n)) => format!("{:.*}", self.precision.unwrap_or(6), n as f64).into(),
            (b'f', Value::Float(f)) => format!("{:.*}", self.precision.unwrap_or(6), f).into(),
            (_, Value::Int(n)) => n.to_string().into_bytes(),
            (_, Value::Float(f)) => python_float(f).into_bytes(),
            (b'r', Value::Text(t)) => repr(t),
            (b'r', Value::Owned(t)) => repr(&t),
            (_, Value::Owned(t)) => self.truncate(t),
            (_, Value::Text(t)) => self.truncate(t.to_vec()),
        };
        let pad = self.width.saturating_sub(body.len());
        let numeric = matches!(self.conv, b'd' | b'i' | b'f');
        if self.left {
            out.extend_from_slice(&body);
            out.resize(out.len() + pad, b' ');
        } else {
            let fill = if self.zero && numeric { b'0' } else { b' ' };
            out.resize(out.len() + pad, fill);
            out.extend_from_slice(&body);
        }
    }

    fn truncate(&self, mut text: Vec<u8>) -> Vec<u8> {
        if let Some(p) = self.precision {
            text.truncate(p);
        }
        text
    }
}

/// `str(float)` as Python writes it for the values logs hold (`1700000000.123456`).
fn python_float(f: f64) -> String {
    let text = f.to_string();
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

fn repr(text: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    escape::json_body(&mut out, text);
    out.push(b'\'');
    out
}

/// `strftime` in local time, as Python's `time.strftime` (which calls it).
fn strftime(out: &mut Vec<u8>, format: &std::ffi::CStr, secs: i64) {
    let t: nix::libc::time_t = secs;
    let mut tm = std::mem::MaybeUninit::<nix::libc::tm>::zeroed();
    // SAFETY: both pointers are valid; localtime_r fills `tm` when it returns non-null.
    if unsafe { nix::libc::localtime_r(&t, tm.as_mut_ptr()) }.is_null() {
        return;
    }
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length, `format` is NUL-terminated, and `tm` was
    // initialised by localtime_r (zeroed before in any case).
    let n = unsafe {
        nix::libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            format.as_ptr(),
            tm.as_ptr(),
        )
    };
    out.extend_from_slice(&buf[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: &str, datefmt: Option<&str>, level: LogLevel, message: &str) -> String {
        let f = PyFormat::compile(format, datefmt).expect("compiles");
        let mut out = Vec::new();
        f.write(
            &mut out,
            &Record {
                name: "gunicorn.error",
                level,
                message: message.as_bytes(),
                secs: 0,
                micros: 123_456,
            },
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn gunicorn_and_django_formats() {
        let pid = std::process::id();
        assert_eq!(
            line(
                "[%(process)d] [%(levelname)s] %(message)s",
                None,
                LogLevel::Warning,
                "hi"
            ),
            format!("[{pid}] [WARNING] hi")
        );
        assert_eq!(
            line(
                "%(levelname)-8s %(name)s: %(message)s %%",
                None,
                LogLevel::Info,
                "x"
            ),
            "INFO     gunicorn.error: x %"
        );
        assert_eq!(
            line(
                "%(levelno)03d|%(msecs)03d|%(created).1f",
                None,
                LogLevel::Error,
                ""
            ),
            "040|123|0.1"
        );
        assert_eq!(
            line("%(message).3s|%(name)r", None, LogLevel::Info, "abcdef"),
            "abc|'gunicorn.error'"
        );
    }

    #[test]
    fn asctime_with_and_without_datefmt() {
        let with = line("%(asctime)s", Some("%Y|%d"), LogLevel::Info, "");
        assert_eq!(with.len(), 7, "{with}");
        let default = line("%(asctime)s", None, LogLevel::Info, "");
        assert!(default.ends_with(",123"), "{default}");
        assert_eq!(default.len(), "1970-01-01 00:00:00,123".len());
    }

    #[test]
    fn refusals_name_the_attribute() {
        let err = PyFormat::compile("%(funcName)s %(message)s", None).unwrap_err();
        assert!(err.contains("%(funcName)"), "{err}");
        let err = PyFormat::compile("%(bogus)s", None).unwrap_err();
        assert!(err.contains("bogus"), "{err}");
        assert!(PyFormat::compile("100% %(message)s", None).is_err());
        assert!(PyFormat::compile("%(message)", None).is_err());
    }
}
