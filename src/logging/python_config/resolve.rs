//! Which handlers gunicorn's two loggers end up with once Python's logging applied a
//! configuration (`dictConfig`/`fileConfig` semantics: a configured logger's handlers
//! replace gunicorn's own, an unconfigured one keeps them; propagation adds the handlers of
//! `gunicorn` and `root`), and what each handler means here ([`Output`]).

use super::model::{Config, Formatter, Handler};
use crate::logging::LogLevel;
use crate::logging::pyformat::PyFormat;
use crate::logging::route::{Destination, LineFormat, Output, Routes};
use crate::logging::syslog::SyslogAddr;
use crate::logging::syslog::address::python_facility;
use serde_json::Value;

/// The final routes: `base` are gunicorn's own (from its settings), `error_level` its
/// `--log-level`.
pub fn resolve(config: &Config, base: &Routes, error_level: LogLevel) -> Result<Routes, String> {
    Ok(Routes {
        error: logger(config, "gunicorn.error", &base.error, error_level)?,
        access: logger(config, "gunicorn.access", &base.access, LogLevel::Info)?
            .into_iter()
            .filter(|o| o.level <= LogLevel::Info)
            .map(plain_access)
            .collect(),
    })
}

/// A `%(message)s` formatter on an access output writes the line as it is.
fn plain_access(mut output: Output) -> Output {
    if output.format == LineFormat::Python(PyFormat::message_only()) {
        output.format = LineFormat::Native;
    }
    output
}

fn logger(
    config: &Config,
    name: &str,
    own: &[Output],
    own_level: LogLevel,
) -> Result<Vec<Output>, String> {
    let Some(spec) = config.loggers.get(name) else {
        let kept = !config.disable_existing || config.loggers.contains_key("gunicorn");
        return Ok(if kept { own.to_vec() } else { Vec::new() });
    };
    if !spec.filters.is_empty() {
        return Err(format!("logger {name:?}: filters are not supported"));
    }
    let level = match spec.level.as_deref() {
        Some(l) => match parse_level(l, &format!("logger {name:?}"))? {
            Some(level) => level,
            None => inherited_level(config)?,
        },
        None => own_level,
    };
    let mut ids: Vec<&str> = spec.handlers.iter().map(String::as_str).collect();
    let mut propagate = spec.propagate.unwrap_or(config.propagate_by_default);
    for parent in ["gunicorn", "root"] {
        if !propagate {
            break;
        }
        if let Some(p) = config.loggers.get(parent) {
            ids.extend(p.handlers.iter().map(String::as_str));
            propagate = parent != "root" && p.propagate.unwrap_or(true);
        }
    }
    let mut seen = Vec::new();
    let mut outputs = Vec::new();
    for id in ids {
        // The same handler reached twice (gunicorn's defaults give `console` to both the
        // access logger and root) writes once.
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let handler = config
            .handlers
            .get(id)
            .ok_or_else(|| format!("logger {name:?} names the handler {id:?}, not defined"))?;
        if let Some(mut output) = handler_output(config, id, handler)? {
            output.level = output.level.max(level);
            outputs.push(output);
        }
    }
    Ok(outputs)
}

/// `NOTSET` on gunicorn's logger: the level of `gunicorn`, else root's, else WARNING.
fn inherited_level(config: &Config) -> Result<LogLevel, String> {
    for parent in ["gunicorn", "root"] {
        if let Some(level) = config.loggers.get(parent).and_then(|l| l.level.as_deref()) {
            if let Some(level) = parse_level(level, &format!("logger {parent:?}"))? {
                return Ok(level);
            }
        }
    }
    Ok(LogLevel::Warning)
}

/// A level name or number; `None` for NOTSET.
fn parse_level(text: &str, what: &str) -> Result<Option<LogLevel>, String> {
    let level = match text.trim().to_ascii_uppercase().as_str() {
        "NOTSET" | "0" => return Ok(None),
        "DEBUG" | "10" => LogLevel::Debug,
        "INFO" | "20" => LogLevel::Info,
        "WARNING" | "WARN" | "30" => LogLevel::Warning,
        "ERROR" | "40" => LogLevel::Error,
        "CRITICAL" | "FATAL" | "50" => LogLevel::Critical,
        _ => {
            return Err(format!(
                "{what}: level {text:?} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL, \
                 NOTSET"
            ));
        }
    };
    Ok(Some(level))
}

/// What a handler means here; `None` for a `NullHandler`.
fn handler_output(config: &Config, id: &str, h: &Handler) -> Result<Option<Output>, String> {
    let what = format!("handler {id:?} ({})", h.class);
    if !h.filters.is_empty() {
        return Err(format!("{what}: filters are not supported"));
    }
    let param = |k: &str| h.params.get(k).filter(|v| !v.is_null());
    // `logging.X`, `logging.handlers.X`, or as an ini names them, `X` and `handlers.X`;
    // a class of another module (`myapp.log.FileHandler`) is not the one we know.
    let class = ["logging.handlers.", "logging.", "handlers."]
        .iter()
        .find_map(|prefix| h.class.strip_prefix(prefix))
        .unwrap_or(&h.class);
    let to = match class {
        "NullHandler" => return Ok(None),
        "StreamHandler" => match param("stream").and_then(Value::as_str) {
            None | Some("ext://sys.stderr") => Destination::Stderr,
            Some("ext://sys.stdout") => Destination::Stdout,
            Some(other) => {
                return Err(format!(
                    "{what}: stream {other:?} is not supported (ext://sys.stdout or \
                     ext://sys.stderr)"
                ));
            }
        },
        "FileHandler" | "WatchedFileHandler" | "RotatingFileHandler" => {
            file_destination(&what, class, &h.params)?
        }
        "TimedRotatingFileHandler" => return Err(rotation(&what)),
        "SysLogHandler" => syslog_destination(&what, &h.params)?,
        _ => {
            return Err(format!(
                "{what} is not supported: rsgi-server writes these logs in Rust, so it \
                 translates StreamHandler, FileHandler, WatchedFileHandler, SysLogHandler and \
                 NullHandler only"
            ));
        }
    };
    let level = match h.level.as_deref() {
        Some(l) => parse_level(l, &what)?.unwrap_or(LogLevel::Debug),
        None => LogLevel::Debug,
    };
    let format = match h.formatter.as_deref() {
        None => LineFormat::Python(PyFormat::message_only()),
        Some(f) => {
            let spec = config
                .formatters
                .get(f)
                .ok_or_else(|| format!("{what} names the formatter {f:?}, which is not defined"))?;
            line_format(f, spec)?
        }
    };
    Ok(Some(Output { to, level, format }))
}

fn rotation(what: &str) -> String {
    format!(
        "{what} is not supported: the server does not rotate its logs itself; rotate them \
         with logrotate and send SIGUSR1 (every process reopens its files), and use \
         FileHandler or WatchedFileHandler"
    )
}

fn file_destination(
    what: &str,
    class: &str,
    params: &std::collections::BTreeMap<String, Value>,
) -> Result<Destination, String> {
    let number = |k: &str| params.get(k).and_then(Value::as_i64).unwrap_or(0);
    if class == "RotatingFileHandler" && (number("maxBytes") != 0 || number("backupCount") != 0) {
        return Err(rotation(what));
    }
    let file = params
        .get("filename")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("{what}: no filename"))?;
    match params.get("mode").and_then(Value::as_str) {
        None | Some("a") => {}
        Some(mode) => {
            return Err(format!(
                "{what}: mode {mode:?} is not supported: log files are appended to (mode 'a')"
            ));
        }
    }
    Ok(Destination::File(file.into()))
}

fn syslog_destination(
    what: &str,
    params: &std::collections::BTreeMap<String, Value>,
) -> Result<Destination, String> {
    let stream = match params.get("socktype").filter(|v| !v.is_null()) {
        None => None,
        Some(Value::String(s)) if s.ends_with("SOCK_STREAM") => Some(true),
        Some(Value::String(s)) if s.ends_with("SOCK_DGRAM") => Some(false),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Some(true),
        Some(Value::Number(n)) if n.as_i64() == Some(2) => Some(false),
        Some(other) => return Err(format!("{what}: socktype {other} is not supported")),
    };
    let addr = match params.get("address").filter(|v| !v.is_null()) {
        None => SyslogAddr::Udp("localhost".to_owned(), 514),
        Some(Value::String(path)) => SyslogAddr::Unix {
            path: path.into(),
            dgram_only: stream == Some(false),
        },
        Some(Value::Array(pair)) if pair.len() == 2 => {
            let host = pair[0].as_str().unwrap_or("localhost").to_ascii_lowercase();
            let port = pair[1]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("{what}: address port {} is not a port", pair[1]))?;
            if stream == Some(true) {
                SyslogAddr::Tcp(host, port)
            } else {
                SyslogAddr::Udp(host, port)
            }
        }
        Some(other) => return Err(format!("{what}: address {other} is not supported")),
    };
    let facility = match params.get("facility").filter(|v| !v.is_null()) {
        None => 1,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .filter(|n| *n < 24)
            .ok_or_else(|| format!("{what}: facility {n} is not a facility code"))?,
        Some(Value::String(s)) => {
            let name = s.rsplit("LOG_").next().unwrap_or(s).to_ascii_lowercase();
            python_facility(&name)
                .ok_or_else(|| format!("{what}: facility {s:?} is not a syslog facility"))?
        }
        Some(other) => return Err(format!("{what}: facility {other} is not supported")),
    };
    Ok(Destination::Syslog(addr, facility))
}

/// JSON formatter classes whose output our JSON lines stand for.
const JSON_FORMATTERS: &[&str] = &[
    "pythonjsonlogger.jsonlogger.JsonFormatter",
    "pythonjsonlogger.json.JsonFormatter",
];

fn line_format(id: &str, f: &Formatter) -> Result<LineFormat, String> {
    let what = format!("formatter {id:?}");
    match f.class.as_deref() {
        None | Some("logging.Formatter") => {}
        Some(class) if JSON_FORMATTERS.contains(&class) => return Ok(LineFormat::Json),
        Some(class) => {
            return Err(format!(
                "{what}: the class {class} is not supported: these logs are formatted in \
                 Rust, by a logging.Formatter format string, or as JSON lines for \
                 pythonjsonlogger's JsonFormatter (our --log-format json)"
            ));
        }
    }
    match f.style.as_deref() {
        None | Some("%") => {}
        Some(style) => {
            return Err(format!(
                "{what}: style {style:?} is not supported (only '%' formats)"
            ));
        }
    }
    match &f.format {
        None => Ok(LineFormat::Python(PyFormat::message_only())),
        Some(format) => PyFormat::compile(format, f.datefmt.as_deref())
            .map(LineFormat::Python)
            .map_err(|why| format!("{what}: {why}")),
    }
}
