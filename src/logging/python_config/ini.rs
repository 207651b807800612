//! `logging.config.fileConfig`'s ini file, read as Python's `configparser` reads it
//! (`key = value` or `key: value`, keys in any case, indented continuation lines, `#` and
//! `;` comment lines, `%(name)s` interpolation from the section, `[DEFAULT]` and gunicorn's
//! `here` and `__file__`, `%%` for `%`), into the [`Config`] model.

use super::literal;
use super::model::{Config, Formatter, Handler, Logger};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

type Section = BTreeMap<String, String>;

/// A parsed ini file.
struct Ini {
    sections: BTreeMap<String, Section>,
    defaults: Section,
}

/// Reads a fileConfig ini file's text; `path` gives `%(here)s` and `%(__file__)s`.
pub fn read(text: &str, path: &Path) -> Result<Config, String> {
    let mut ini = parse(text)?;
    ini.defaults
        .entry("__file__".to_owned())
        .or_insert_with(|| path.display().to_string());
    ini.defaults.entry("here".to_owned()).or_insert_with(|| {
        path.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    });
    ini.into_config()
}

fn parse(text: &str) -> Result<Ini, String> {
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    let mut defaults = Section::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = trimmed.len() != line.len();
        if indented {
            if let (Some(key), Some(name)) = (&last_key, &current) {
                let section = if name == "DEFAULT" {
                    &mut defaults
                } else {
                    sections.entry(name.clone()).or_default()
                };
                if let Some(value) = section.get_mut(key) {
                    value.push('\n');
                    value.push_str(trimmed);
                    continue;
                }
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.entry(name.to_owned()).or_default();
            current = Some(name.to_owned());
            last_key = None;
            continue;
        }
        let Some(name) = &current else {
            return Err(format!("line {}: a value before any [section]", n + 1));
        };
        let cut = trimmed
            .find(['=', ':'])
            .ok_or_else(|| format!("line {}: expected key = value: {trimmed:?}", n + 1))?;
        let key = trimmed[..cut].trim().to_ascii_lowercase();
        let value = trimmed[cut + 1..].trim().to_owned();
        let section = if name == "DEFAULT" {
            &mut defaults
        } else {
            sections.entry(name.clone()).or_default()
        };
        section.insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(Ini { sections, defaults })
}

impl Ini {
    fn raw(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.defaults.get(key))
            .map(String::as_str)
    }

    /// A value with `%(name)s` interpolated, as `configparser.get` returns it.
    fn get(&self, section: &str, key: &str) -> Result<Option<String>, String> {
        match self.raw(section, key) {
            None => Ok(None),
            Some(value) => self.interpolate(section, value, 0).map(Some),
        }
    }

    fn interpolate(&self, section: &str, value: &str, depth: usize) -> Result<String, String> {
        if depth > 10 {
            return Err(format!("[{section}]: interpolation nests too deep"));
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if let Some(after) = rest.strip_prefix("%%") {
                out.push('%');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("%(") {
                let close = after
                    .find(")s")
                    .ok_or_else(|| format!("[{section}]: bad interpolation in {value:?}"))?;
                let name = after[..close].to_ascii_lowercase();
                let referenced = self.raw(section, &name).ok_or_else(|| {
                    format!("[{section}]: {value:?} refers to %({name})s, which is not set")
                })?;
                out.push_str(&self.interpolate(section, referenced, depth + 1)?);
                rest = &after[close + 2..];
            } else {
                return Err(format!(
                    "[{section}]: '%' must be followed by '%' or '(' in {value:?}"
                ));
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `keys` of a list section (`[loggers]`...), comma-separated.
    fn keys(&self, section: &str) -> Result<Vec<String>, String> {
        Ok(self
            .get(section, "keys")?
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn section(&self, name: &str) -> Result<(), String> {
        if self.sections.contains_key(name) {
            Ok(())
        } else {
            Err(format!("there is no [{name}] section"))
        }
    }

    fn into_config(self) -> Result<Config, String> {
        let mut config = Config {
            // gunicorn calls fileConfig with disable_existing_loggers=False.
            disable_existing: false,
            propagate_by_default: true,
            ..Config::default()
        };
        for key in self.keys("formatters")? {
            let name = format!("formatter_{key}");
            self.section(&name)?;
            let raw = |k: &str| self.raw(&name, k).map(str::to_owned);
            config.formatters.insert(
                key,
                Formatter {
                    format: raw("format"),
                    datefmt: raw("datefmt"),
                    style: raw("style"),
                    class: self.get(&name, "class")?,
                },
            );
        }
        for key in self.keys("handlers")? {
            let name = format!("handler_{key}");
            self.section(&name)?;
            let class = self
                .get(&name, "class")?
                .ok_or_else(|| format!("[{name}] has no class"))?;
            let args = self.get(&name, "args")?.unwrap_or_else(|| "()".to_owned());
            let kwargs = self
                .get(&name, "kwargs")?
                .unwrap_or_else(|| "{}".to_owned());
            let params = handler_params(&class, &args, &kwargs)
                .map_err(|why| format!("[{name}] args/kwargs: {why}"))?;
            config.handlers.insert(
                key,
                Handler {
                    class,
                    level: self.get(&name, "level")?.filter(|l| !l.is_empty()),
                    formatter: self.get(&name, "formatter")?.filter(|f| !f.is_empty()),
                    filters: Vec::new(),
                    params,
                },
            );
        }
        for key in self.keys("loggers")? {
            let name = format!("logger_{key}");
            self.section(&name)?;
            let handlers = self
                .get(&name, "handlers")?
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
            let qualname = if key == "root" {
                "root".to_owned()
            } else {
                self.get(&name, "qualname")?
                    .ok_or_else(|| format!("[{name}] has no qualname"))?
            };
            let propagate = match self.get(&name, "propagate")? {
                Some(p) => Some(
                    p.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("[{name}] propagate {p:?} is not a number"))?
                        != 0,
                ),
                None => None,
            };
            config.loggers.insert(
                qualname,
                Logger {
                    level: self.get(&name, "level")?.filter(|l| !l.is_empty()),
                    handlers,
                    propagate,
                    filters: Vec::new(),
                },
            );
        }
        Ok(config)
    }
}

/// The constructor parameters of the handler classes we translate, by position.
fn positional(class: &str) -> &'static [&'static str] {
    match class.rsplit('.').next().unwrap_or(class) {
        "StreamHandler" => &["stream"],
        "FileHandler" | "WatchedFileHandler" => &["filename", "mode", "encoding", "delay"],
        "RotatingFileHandler" => &["filename", "mode", "maxBytes", "backupCount"],
        "TimedRotatingFileHandler" => &["filename", "when", "interval", "backupCount"],
        "SysLogHandler" => &["address", "facility", "socktype"],
        _ => &[],
    }
}

fn handler_params(
    class: &str,
    args: &str,
    kwargs: &str,
) -> Result<BTreeMap<String, Value>, String> {
    let mut params = BTreeMap::new();
    let args = match literal::parse(args)? {
        Value::Array(items) => items,
        single => vec![single],
    };
    let names = positional(class);
    for (i, arg) in args.into_iter().enumerate() {
        let name = names
            .get(i)
            .map_or_else(|| format!("arg{i}"), |n| (*n).to_owned());
        params.insert(name, arg);
    }
    match literal::parse(kwargs)? {
        Value::Object(map) => params.extend(map),
        _ => return Err("kwargs is not a dictionary".to_owned()),
    }
    Ok(params)
}
