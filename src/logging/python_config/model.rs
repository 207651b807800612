//! The parts of a Python logging configuration that decide where gunicorn's two loggers
//! write, read from a `dictConfig` dictionary (JSON) into one model that the ini reader
//! ([`super::ini`]) fills too.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// gunicorn's `glogging.CONFIG_DEFAULTS`, which a dictionary updates key by key (top level
/// only, as `dict.update` does).
pub const GUNICORN_DEFAULTS: &str = r#"{
  "version": 1,
  "disable_existing_loggers": false,
  "root": {"level": "INFO", "handlers": ["console"]},
  "loggers": {
    "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": true,
                       "qualname": "gunicorn.error"},
    "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": true,
                        "qualname": "gunicorn.access"}
  },
  "handlers": {
    "console": {"class": "logging.StreamHandler", "formatter": "generic",
                "stream": "ext://sys.stdout"},
    "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                      "stream": "ext://sys.stderr"}
  },
  "formatters": {
    "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"}
  }
}"#;

/// A logging configuration, as far as it concerns where lines go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Formatters by id.
    pub formatters: BTreeMap<String, Formatter>,
    /// Handlers by id.
    pub handlers: BTreeMap<String, Handler>,
    /// Loggers by (qualified) name; the root logger is `root`.
    pub loggers: BTreeMap<String, Logger>,
    /// Loggers not configured are disabled (`disable_existing_loggers`).
    pub disable_existing: bool,
    /// A configured logger that does not say propagates (fileConfig's default); otherwise
    /// it keeps what gunicorn set (no propagation).
    pub propagate_by_default: bool,
}

/// A logger's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logger {
    /// Its level name or number, if set.
    pub level: Option<String>,
    /// Its handlers' ids.
    pub handlers: Vec<String>,
    /// Whether it passes records to its parent's handlers, if said.
    pub propagate: Option<bool>,
    /// Filter ids (not supported when non-empty).
    pub filters: Vec<String>,
}

/// A handler's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Handler {
    /// Its class as written (`logging.StreamHandler`, `handlers.SysLogHandler`...).
    pub class: String,
    /// Its level, if set.
    pub level: Option<String>,
    /// Its formatter's id.
    pub formatter: Option<String>,
    /// Filter ids (not supported when non-empty).
    pub filters: Vec<String>,
    /// Its constructor's arguments by name (`stream`, `filename`, `address`...).
    pub params: BTreeMap<String, Value>,
}

/// A formatter's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Formatter {
    /// The format (`None`: `%(message)s`).
    pub format: Option<String>,
    /// `datefmt`.
    pub datefmt: Option<String>,
    /// `%` (default), `{` or `$`.
    pub style: Option<String>,
    /// A formatter class or factory, if not `logging.Formatter`.
    pub class: Option<String>,
}

/// Reads a `dictConfig` dictionary (JSON text) over gunicorn's defaults.
pub fn from_dict_json(text: &str) -> Result<Config, String> {
    let user: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    let Value::Object(user) = user else {
        return Err("not a JSON object (a dictConfig dictionary)".to_owned());
    };
    let mut merged = match serde_json::from_str::<Value>(GUNICORN_DEFAULTS) {
        Ok(Value::Object(defaults)) => defaults,
        _ => Map::new(),
    };
    merged.extend(user);
    from_dict(&merged)
}

fn from_dict(d: &Map<String, Value>) -> Result<Config, String> {
    if d.get("incremental").and_then(Value::as_bool) == Some(true) {
        return Err(
            "\"incremental\": true is not supported (it amends a configuration \
                    rsgi-server does not have)"
                .to_owned(),
        );
    }
    let mut config = Config {
        disable_existing: d
            .get("disable_existing_loggers")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        ..Config::default()
    };
    for (id, f) in section(d, "formatters")? {
        let f = object(f, &format!("formatter {id:?}"))?;
        let class = text(f.get("()")).or_else(|| text(f.get("class")));
        config.formatters.insert(
            id.clone(),
            Formatter {
                format: text(f.get("format")).or_else(|| text(f.get("fmt"))),
                datefmt: text(f.get("datefmt")),
                style: text(f.get("style")),
                class,
            },
        );
    }
    for (id, h) in section(d, "handlers")? {
        let h = object(h, &format!("handler {id:?}"))?;
        let class = text(h.get("class"))
            .or_else(|| text(h.get("()")))
            .ok_or_else(|| format!("handler {id:?} has no class"))?;
        let params = h
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "class" | "()" | "level" | "formatter" | "filters"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.handlers.insert(
            id.clone(),
            Handler {
                class,
                level: level(h.get("level")),
                formatter: text(h.get("formatter")),
                filters: names(h.get("filters")),
                params,
            },
        );
    }
    for (name, l) in section(d, "loggers")? {
        let l = object(l, &format!("logger {name:?}"))?;
        config.loggers.insert(name.clone(), logger(l));
    }
    if let Some(root) = d.get("root") {
        let root = object(root, "root")?;
        config.loggers.insert("root".to_owned(), logger(root));
    }
    Ok(config)
}

fn logger(l: &Map<String, Value>) -> Logger {
    Logger {
        level: level(l.get("level")),
        handlers: names(l.get("handlers")),
        propagate: l.get("propagate").and_then(|p| match p {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        }),
        filters: names(l.get("filters")),
    }
}

fn section<'a>(
    d: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<(&'a String, &'a Value)>, String> {
    match d.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m.iter().collect()),
        Some(_) => Err(format!("{key:?} is not a dictionary")),
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not a dictionary"))
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn level(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
