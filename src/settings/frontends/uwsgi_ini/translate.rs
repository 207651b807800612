//! A section's options (in the order uWSGI applies them) translated into our settings, as
//! `(setting, value as on our command line)` pairs: the simple ones straight from
//! [`keys`](super::keys), the rest here by name (the application, listeners, logs, preload),
//! with what has no meaning here or cannot be honoured set aside to be reported.

use super::keys::{self, Meaning};
use super::log_format;
use super::parse::{Entry, Parsed};
use crate::settings::ConfigError;
use std::path::{Path, PathBuf};

/// One of our settings, as the ini sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Our setting's name.
    pub name: &'static str,
    /// Its value as written on our command line.
    pub value: String,
    /// The uWSGI option and where it was written, for error messages.
    pub label: String,
}

/// The translation of a section.
#[derive(Debug, Default)]
pub struct Translation {
    /// Our settings, in order.
    pub assignments: Vec<Assignment>,
    /// Options with no meaning here, once each, with the reason.
    pub ignored: Vec<(String, &'static str)>,
    /// Options refused, with the reason.
    pub refused: Vec<(Entry, String)>,
    /// Options nobody knows, with the known option they are closest to.
    pub unknown: Vec<(Entry, String)>,
}

/// What the named options leave to be decided once the whole section is read.
#[derive(Default)]
struct Pending {
    module: Option<Entry>,
    wsgi_file: Option<Entry>,
    callable: Option<Entry>,
    lazy: Option<bool>,
    pythonpath: Vec<Entry>,
    sockets: Vec<Entry>,
    protocol_http: bool,
    harakiri: bool,
    logto: Option<Entry>,
    req_log: Option<Entry>,
    disable_logging: bool,
}

/// Translates `parsed`; `cwd` is what relative paths are relative to (as in uWSGI),
/// except the application's own (`wsgi-file`, `pythonpath`), relative to `chdir` once set,
/// since uWSGI changes directory before it loads the application.
pub fn translate(parsed: &Parsed, cwd: &Path) -> Result<Translation, ConfigError> {
    let mut out = Translation::default();
    let mut pending = Pending::default();
    for entry in &parsed.entries {
        let key = entry.key.as_str();
        match keys::exact(key) {
            Some(Meaning::Set(name)) => out.set(name, &entry.value, entry),
            Some(Meaning::Flag(name)) => {
                let value = flag(entry)?;
                out.set(name, &value.to_string(), entry);
            }
            Some(Meaning::Special) => special(entry, &mut out, &mut pending)?,
            Some(Meaning::Ignored(why)) => out.ignore(key, why),
            Some(Meaning::Refused(why)) => out.refused.push((entry.clone(), why.to_owned())),
            // A custom option: a name for a value other lines read with %(name).
            None if parsed.used.contains(key) => {}
            None => match (keys::family(key), keys::closest(key)) {
                (Some(why), _) => out.refused.push((entry.clone(), why.to_owned())),
                (None, Some(close)) => out.unknown.push((entry.clone(), close)),
                (None, None) => out.refused.push((
                    entry.clone(),
                    "an option rsgi-server does not read (if it is a custom option, read \
                     it with %(name) or remove it)"
                        .to_owned(),
                )),
            },
        }
    }
    finish(pending, cwd, &mut out)?;
    // Reported in the order they were written, whenever they were decided.
    let order = |e: &Entry| parsed.entries.iter().position(|x| x == e);
    out.refused.sort_by_key(|(e, _)| order(e));
    Ok(out)
}

impl Translation {
    fn set(&mut self, name: &'static str, value: &str, entry: &Entry) {
        self.assignments.push(Assignment {
            name,
            value: value.to_owned(),
            label: label(entry),
        });
    }

    /// A listener at uWSGI's `address`, checked here so an error names the uWSGI option.
    fn set_bind(&mut self, address: &str, entry: &Entry) -> Result<(), ConfigError> {
        self.set_bind_speaking("", address, entry)
    }

    /// [`Translation::set_bind`] for a listener whose bind starts with `prefix` (`uwsgi://`
    /// for uWSGI's `socket`, or nothing).
    fn set_bind_speaking(
        &mut self,
        prefix: &str,
        address: &str,
        entry: &Entry,
    ) -> Result<(), ConfigError> {
        let ours = bind(address);
        ours.parse::<crate::settings::BindAddr>()
            .map_err(|why| invalid(entry, &why))?;
        self.set("bind", &format!("{prefix}{ours}"), entry);
        Ok(())
    }

    fn ignore(&mut self, key: &str, why: &'static str) {
        if !self.ignored.iter().any(|(k, _)| k == key) {
            self.ignored.push((key.to_owned(), why));
        }
    }
}

/// How an option is named in errors: its key and where it was written.
pub fn label(entry: &Entry) -> String {
    format!("{} (in {})", entry.key, entry.at)
}

/// An error about an option's value.
fn invalid(entry: &Entry, allowed: &str) -> ConfigError {
    ConfigError::Invalid {
        option: label(entry),
        value: entry.value.clone(),
        allowed: allowed.to_owned(),
    }
}

/// uWSGI's boolean words; a key alone (empty value) means true.
fn flag(entry: &Entry) -> Result<bool, ConfigError> {
    match entry.value.to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" | "on" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "n" => Ok(false),
        _ => Err(invalid(entry, "true, false, 1, 0, yes, no, on or off")),
    }
}

/// A uWSGI address as our `--bind`: `:PORT` is every interface, a path a Unix socket.
pub fn bind(address: &str) -> String {
    if let Some(port) = address.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else if address.starts_with("unix:") || address.starts_with("fd://") {
        address.to_owned()
    } else if address.contains('/') || !address.contains(':') {
        format!("unix:{address}")
    } else {
        address.to_owned()
    }
}

/// The options translated by name.
fn special(entry: &Entry, out: &mut Translation, p: &mut Pending) -> Result<(), ConfigError> {
    let value = entry.value.as_str();
    let keep = |slot: &mut Option<Entry>| *slot = Some(entry.clone());
    match entry.key.as_str() {
        "module" | "wsgi" | "w" => keep(&mut p.module),
        "wsgi-file" | "file" => keep(&mut p.wsgi_file),
        "callable" => keep(&mut p.callable),
        "lazy-apps" | "lazy" => p.lazy = Some(flag(entry)?),
        "pythonpath" | "python-path" | "pp" => p.pythonpath.push(entry.clone()),
        "py-autoreload" | "python-autoreload" => {
            let seconds: u64 = value
                .parse()
                .map_err(|_| invalid(entry, "a whole number of seconds"))?;
            out.set("reload", &(seconds > 0).to_string(), entry);
        }
        "http" | "http-socket" | "http11-socket" => out.set_bind(value, entry)?,
        "https" | "https-socket" => https(entry, out)?,
        "socket" | "uwsgi-socket" | "s" => p.sockets.push(entry.clone()),
        "protocol" | "socket-protocol" => match value {
            "http" => p.protocol_http = true,
            "uwsgi" => p.protocol_http = false,
            _ => out.refused.push((
                entry.clone(),
                "only the http and uwsgi protocols are served here".to_owned(),
            )),
        },
        // uWSGI's bare chmod-socket means 666.
        "chmod-socket" | "chmod" => {
            let mode = if value.is_empty() { "666" } else { value };
            out.set("unix_socket_mode", mode, entry);
        }
        "daemonize" | "daemonize2" => {
            out.set("daemon", "true", entry);
            keep(&mut p.logto);
        }
        "harakiri" | "t" => {
            p.harakiri = true;
            out.set("timeout", value, entry);
        }
        // uWSGI's one timeout for every read and write on a client socket.
        "socket-timeout" | "http-timeout" => {
            for name in ["header_timeout", "body_timeout", "send_timeout"] {
                out.set(name, value, entry);
            }
        }
        "logto" | "logto2" => keep(&mut p.logto),
        "logger" | "req-logger" => logger(entry, out, p),
        "disable-logging" => p.disable_logging = flag(entry)?,
        "log-format" | "logformat" => {
            let format = log_format::translate(value).map_err(|why| invalid(entry, &why))?;
            out.set("access_log_format", &format, entry);
        }
        "plugins" | "plugin" => plugins(entry, out),
        // uWSGI reads a PROXY header from any peer that sends one.
        "enable-proxy-protocol" | "http-enable-proxy-protocol" => {
            if flag(entry)? {
                out.set("proxy_protocol", "auto", entry);
                out.set("proxy_allow_ips", "*", entry);
            }
        }
        other => unreachable!("keys.rs marks {other} special but translate.rs lacks it"),
    }
    Ok(())
}

/// `https = ADDRESS,CERT,KEY[,CIPHERS]`.
fn https(entry: &Entry, out: &mut Translation) -> Result<(), ConfigError> {
    let parts: Vec<&str> = entry.value.split(',').map(str::trim).collect();
    let (address, cert, key, ciphers) = match parts.as_slice() {
        [address, cert, key] => (address, cert, key, None),
        [address, cert, key, ciphers] => (address, cert, key, Some(ciphers)),
        _ => {
            return Err(invalid(
                entry,
                "ADDRESS,CERTFILE,KEYFILE[,CIPHERS] (client certificates: --ca-certs and \
                 --cert-reqs)",
            ));
        }
    };
    out.set_bind(address, entry)?;
    out.set("certfile", cert, entry);
    out.set("keyfile", key, entry);
    if let Some(ciphers) = ciphers {
        out.set("ciphers", ciphers, entry);
    }
    Ok(())
}

/// `logger = file:PATH` (the log) and `req-logger = file:PATH` (the request log).
fn logger(entry: &Entry, out: &mut Translation, p: &mut Pending) {
    let Some(path) = entry.value.strip_prefix("file:") else {
        out.refused.push((
            entry.clone(),
            "only file: loggers are read here (syslog and the other loggers are not)".to_owned(),
        ));
        return;
    };
    let target = Entry {
        value: path.to_owned(),
        ..entry.clone()
    };
    if entry.key == "req-logger" {
        p.req_log = Some(target);
    } else {
        p.logto = Some(target);
    }
}

/// `plugins = python3,http`: the Python and HTTP support is built in; any other plugin is
/// behaviour we do not have.
fn plugins(entry: &Entry, out: &mut Translation) {
    for name in entry.value.split([',', ' ']).filter(|n| !n.is_empty()) {
        let builtin = name.starts_with("python")
            || matches!(name, "http" | "logfile" | "corerouter" | "router_static");
        if builtin {
            out.ignore(&entry.key, "the Python and HTTP support is built in");
        } else {
            out.refused.push((
                entry.clone(),
                format!("uWSGI's {name} plugin has no equivalent here"),
            ));
        }
    }
}

/// What depends on the whole section: the application, its paths, preload, the logs, the
/// sockets, and uWSGI's defaults where they differ from ours.
fn finish(p: Pending, cwd: &Path, out: &mut Translation) -> Result<(), ConfigError> {
    let chdir = out
        .assignments
        .iter()
        .rev()
        .find(|a| a.name == "chdir")
        .map(|a| cwd.join(&a.value));
    let app_dir = chdir.as_deref().unwrap_or(cwd);
    application(&p, app_dir, out)?;
    for entry in &p.pythonpath {
        let path = app_dir.join(&entry.value);
        out.set("pythonpath", &path.to_string_lossy(), entry);
    }
    // uWSGI imports the application in the master unless lazy-apps says otherwise.
    let (preload, label) = match (p.lazy, p.module.as_ref().or(p.wsgi_file.as_ref())) {
        (Some(lazy), _) => (!lazy, "lazy-apps".to_owned()),
        (None, Some(app)) => (
            true,
            format!("{} (uWSGI's default: no lazy-apps)", label(app)),
        ),
        (None, None) => (true, "uWSGI's default: no lazy-apps".to_owned()),
    };
    out.assignments.push(Assignment {
        name: "preload",
        value: preload.to_string(),
        label,
    });
    if !p.harakiri {
        // uWSGI never kills a slow request unless harakiri says so.
        out.assignments.push(Assignment {
            name: "timeout",
            value: "0".to_owned(),
            label: "uWSGI's default: no harakiri".to_owned(),
        });
    }
    logs(&p, out);
    // `socket` speaks the uwsgi protocol (nginx's uwsgi_pass) unless `protocol = http`.
    let prefix = if p.protocol_http {
        ""
    } else {
        crate::settings::UWSGI_PREFIX
    };
    for socket in p.sockets {
        out.set_bind_speaking(prefix, &socket.value, &socket)?;
    }
    Ok(())
}

/// `module` (with `callable`) or `wsgi-file` (with `callable`) as our application.
fn application(p: &Pending, app_dir: &Path, out: &mut Translation) -> Result<(), ConfigError> {
    let callable = p.callable.as_ref().map(|c| c.value.as_str());
    match (&p.module, &p.wsgi_file) {
        (Some(_), Some(file)) => Err(invalid(
            file,
            "one application: module or wsgi-file, not both (uWSGI would load two)",
        )),
        (Some(module), None) => {
            let spec = match (module.value.contains(':'), callable) {
                (false, Some(callable)) => format!("{}:{callable}", module.value),
                _ => module.value.clone(),
            };
            out.set("app", &spec, module);
            Ok(())
        }
        (None, Some(file)) => {
            let path: PathBuf = app_dir.join(&file.value);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let is_py = path.extension().is_some_and(|e| e == "py");
            let Some(stem) = stem.filter(|s| is_py && is_identifier(s)) else {
                return Err(invalid(
                    file,
                    "a .py file whose name is a Python module name (e.g. wsgi.py); rename \
                     the file or use module = ...",
                ));
            };
            let dir = path.parent().unwrap_or(Path::new("/"));
            out.set("pythonpath", &dir.to_string_lossy(), file);
            let spec = match callable {
                Some(callable) => format!("{stem}:{callable}"),
                None => stem,
            };
            out.set("app", &spec, file);
            Ok(())
        }
        (None, None) => match &p.callable {
            Some(callable) => Err(invalid(callable, "callable with module or wsgi-file")),
            None => Ok(()),
        },
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// uWSGI logs requests where it logs everything else unless told not to: the access log
/// goes to the same file (or standard output, with errors on standard error).
fn logs(p: &Pending, out: &mut Translation) {
    if let Some(logto) = &p.logto {
        out.set("error_logfile", &logto.value, logto);
    }
    if p.disable_logging {
        return;
    }
    match p.req_log.as_ref().or(p.logto.as_ref()) {
        Some(file) => out.set("access_logfile", &file.value, file),
        None => out.assignments.push(Assignment {
            name: "access_logfile",
            value: "-".to_owned(),
            label: "uWSGI's default: requests are logged".to_owned(),
        }),
    }
}
