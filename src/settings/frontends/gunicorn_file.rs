//! `gunicorn.conf.py`: a Python file (or module) whose module-level names are gunicorn
//! settings and whose functions are server hooks. A [`PythonReader`] executes it as gunicorn
//! does; this translates what it defined into our settings, by gunicorn's names (or ours),
//! with gunicorn's value types (a `bind` string or list, `umask = 0o022`, a
//! `secure_scheme_headers` dict, `cert_reqs = ssl.CERT_REQUIRED`...).
//!
//! Unlike gunicorn, which ignores names it does not know, a lowercase public name that is no
//! setting is an error: it is a misspelled setting far more often than a helper variable.
//! Helpers stay possible as gunicorn's own examples write them: `_private` names, constants
//! in capitals, modules, classes and functions are not settings.

use super::gunicorn::{REFUSED, proxy_protocol_mode, refusal};
use super::{ConfigSource, FileLayer, Inherited};
use crate::settings::sources::layer_command;
use crate::settings::{ConfigError, Layer, SETTINGS, assignments_layer, closest};
use clap::ArgAction;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What executing a gunicorn config file left at module level: its values (as JSON) and
/// the names of the functions it defines (hooks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Namespace {
    /// Module-level names bound to plain values.
    pub values: BTreeMap<String, Value>,
    /// Module-level names bound to functions.
    pub callables: Vec<String>,
    /// Variables the file set or changed in `os.environ`.
    pub environ: BTreeMap<String, String>,
    /// Directories the file added to `sys.path`.
    pub sys_path: Vec<String>,
}

/// Executes a gunicorn config file or module (a [`ConfigSource::GunicornFile`] or
/// [`ConfigSource::GunicornModule`]) with `virtualenv`'s packages importable, as gunicorn
/// does, and returns what it defines. Provided by the layer that runs Python.
pub type PythonReader = fn(&ConfigSource, Option<&Path>) -> Result<Namespace, ConfigError>;

/// gunicorn's config-file names that differ from ours.
pub const RENAMED: &[(&str, &str)] = &[
    ("wsgi_app", "app"),
    ("keepalive", "keep_alive"),
    ("preload_app", "preload"),
    ("raw_env", "env"),
    ("pidfile", "pid"),
    ("accesslog", "access_logfile"),
    ("errorlog", "error_logfile"),
    ("loglevel", "log_level"),
    ("raw_paste_global_conf", "paste_global"),
];

/// gunicorn's server hooks rsgi-server calls (see `--hooks`), in the order of
/// `wsgi::hooks::Hook`, which indexes this list: the one list of their names.
pub const HOOKS: [&str; 15] = [
    "on_starting",
    "on_reload",
    "when_ready",
    "pre_fork",
    "post_fork",
    "post_worker_init",
    "worker_int",
    "worker_abort",
    "pre_request",
    "post_request",
    "child_exit",
    "worker_exit",
    "nworkers_changed",
    "pre_exec",
    "on_exit",
];

/// gunicorn's hooks rsgi-server cannot call, with why.
pub const REFUSED_HOOKS: &[(&str, &str)] = &[
    (
        "ssl_context",
        "TLS is rustls here, not Python's ssl module, so an ssl.SSLContext cannot be used; \
         set --certfile, --keyfile, --ca-certs, --cert-reqs, --ciphers, --tls-min-version",
    ),
    ("on_dirty_starting", DIRTY_HOOK),
    ("dirty_post_fork", DIRTY_HOOK),
    ("dirty_worker_init", DIRTY_HOOK),
    ("dirty_worker_exit", DIRTY_HOOK),
];

const DIRTY_HOOK: &str = "gunicorn's dirty arbiters have no equivalent here";

/// gunicorn settings that only act on its command line; in a file they do nothing (as in
/// gunicorn, where `-c` must already have been read, and the checks are flags).
pub const COMMAND_LINE_ONLY: &[&str] = &["config", "check_config", "print_config"];

/// Translates what a gunicorn config file defined into our settings. Relative paths are
/// relative to `cwd`, as gunicorn resolves them.
pub fn translate(
    source: &ConfigSource,
    namespace: &Namespace,
    cwd: &Path,
) -> Result<FileLayer, ConfigError> {
    let file = source.describe();
    let mut layer = Layer::default();
    let mut warnings = Vec::new();
    let mut unknown = Vec::new();
    for (name, value) in &namespace.values {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            continue;
        }
        if let Some(refused) = REFUSED.iter().find(|r| r.name == name) {
            let shown = scalar_text(value).unwrap_or_else(|| value.to_string());
            let harmless = shown == refused.default || (value.is_array() && shown == "[]");
            if !harmless && !value.is_null() {
                return Err(refusal(&format!("{name} (in {file})"), &shown, refused));
            }
            continue;
        }
        if COMMAND_LINE_ONLY.contains(&name.as_str()) {
            if value.as_bool() == Some(true) || value.is_string() {
                warnings.push(format!(
                    "{name} in {file} does nothing: it is a command-line option"
                ));
            }
            continue;
        }
        if name == "default_proc_name" {
            // gunicorn's fallback for proc_name (normally the app); a proc_name wins.
            if !namespace.values.contains_key("proc_name") {
                layer = layer.or(assign("proc_name", name, value, &file)?);
            }
            continue;
        }
        let ours = RENAMED
            .iter()
            .find(|(theirs, _)| theirs == name)
            .map(|(_, ours)| *ours)
            .or_else(|| SETTINGS.iter().find(|m| m.name == name).map(|m| m.name));
        match ours {
            Some(ours) => layer = layer.or(assign(ours, name, value, &file)?),
            None => unknown.push(name.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(unknown_names(&file, &unknown));
    }
    let refused: Vec<String> = namespace
        .callables
        .iter()
        .filter_map(|name| {
            REFUSED_HOOKS
                .iter()
                .find(|(hook, _)| hook == name)
                .map(|(hook, why)| format!("{hook} ({why})"))
        })
        .collect();
    if !refused.is_empty() {
        return Err(ConfigError::File {
            path: file.into(),
            message: format!("hooks rsgi-server cannot call: {}", refused.join("; ")),
        });
    }
    layer.absolutize(cwd);
    if namespace
        .callables
        .iter()
        .any(|n| HOOKS.contains(&n.as_str()))
        && layer.hooks.is_none()
    {
        // The file's hooks are called from the file itself, as `--hooks FILE` does.
        layer.hooks = Some(match source {
            ConfigSource::GunicornModule(module) => module.clone(),
            _ => file.clone(),
        });
    }
    // What the file did to its own process, the master and workers inherit under gunicorn,
    // whatever the settings say.
    let inherited = Inherited {
        env: namespace
            .environ
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect(),
        path: namespace
            .sys_path
            .iter()
            .map(|entry| cwd.join(entry))
            .collect(),
    };
    Ok(FileLayer {
        layer,
        warnings,
        labels: BTreeMap::new(),
        inherited,
    })
}

/// The error listing every name that is not a setting, with the closest setting of each.
fn unknown_names(file: &str, unknown: &[String]) -> ConfigError {
    let known = || {
        SETTINGS
            .iter()
            .map(|m| m.name.to_owned())
            .chain(RENAMED.iter().map(|(theirs, _)| (*theirs).to_owned()))
    };
    let listed: Vec<String> = unknown
        .iter()
        .map(|name| match closest(name, known()) {
            Some(close) => format!("{name} (did you mean {close}?)"),
            None => name.clone(),
        })
        .collect();
    ConfigError::File {
        path: file.into(),
        message: format!(
            "unknown settings: {}. Settings are gunicorn's or rsgi-server's names; name \
             helper variables with a leading underscore",
            listed.join(", ")
        ),
    }
}

/// List settings whose default is not empty, so an empty list must be said explicitly.
const EMPTY_MEANS_NONE: &[&str] = &[
    "secure_scheme_headers",
    "forwarded_allow_ips",
    "proxy_allow_ips",
    "forwarder_headers",
    "uwsgi_allow_ips",
];

/// Our setting `ours` from the value of gunicorn's `theirs`.
fn assign(ours: &str, theirs: &str, value: &Value, file: &str) -> Result<Layer, ConfigError> {
    let label = format!("{theirs} (in {file})");
    let invalid = |allowed: &str| ConfigError::Invalid {
        option: label.clone(),
        value: value.to_string(),
        allowed: allowed.to_owned(),
    };
    let is_list = layer_command()
        .get_arguments()
        .find(|a| a.get_id() == ours)
        .is_some_and(|a| matches!(a.get_action(), ArgAction::Append));
    let values: Vec<String> = match value {
        // None is gunicorn's "unset" for every setting that has no other default.
        Value::Null => return Ok(Layer::default()),
        Value::Object(map) if map.contains_key("__unrepresentable__") => {
            return Err(invalid("a string, number, boolean, list or dict"));
        }
        Value::Object(_) if ours == "logconfig_dict" => vec![value.to_string()],
        // Empty means "none" (no trusted proxy, no scheme header), which our lists say with
        // an empty value; left unset, the default would apply instead.
        Value::Array(items) if items.is_empty() && EMPTY_MEANS_NONE.contains(&ours) => {
            vec![String::new()]
        }
        Value::Object(map) if map.is_empty() && EMPTY_MEANS_NONE.contains(&ours) => {
            vec![String::new()]
        }
        Value::Object(map) if ours == "secure_scheme_headers" => map
            .iter()
            .map(|(name, v)| {
                Ok(format!(
                    "{name}={}",
                    scalar_text(v).ok_or_else(|| invalid("a dict of header names to strings"))?
                ))
            })
            .collect::<Result<_, ConfigError>>()?,
        Value::Array(items) if is_list => items
            .iter()
            .map(|item| scalar_text(item).ok_or_else(|| invalid("a list of strings")))
            .collect::<Result<_, _>>()?,
        Value::Number(n) if matches!(ours, "umask" | "control_socket_mode") => {
            // gunicorn's modes are numbers (`umask = 0o027`); ours are written in octal.
            let mode = n
                .as_u64()
                .ok_or_else(|| invalid("permission bits, e.g. 0o027"))?;
            vec![format!("{mode:03o}")]
        }
        // ssl.CERT_NONE/OPTIONAL/REQUIRED, printed back as the words our files use.
        Value::Number(n) if ours == "cert_reqs" => match n.as_u64() {
            Some(0) => vec!["none".to_owned()],
            Some(1) => vec!["optional".to_owned()],
            Some(2) => vec!["required".to_owned()],
            _ => {
                return Err(invalid(
                    "ssl.CERT_NONE, ssl.CERT_OPTIONAL or ssl.CERT_REQUIRED",
                ));
            }
        },
        // gunicorn's proxy_protocol = True is its `auto`, "1" and "none" are modes too.
        Value::Bool(on) if ours == "proxy_protocol" => {
            vec![if *on { "auto" } else { "off" }.to_owned()]
        }
        Value::String(mode) if ours == "proxy_protocol" => {
            vec![proxy_protocol_mode(mode).unwrap_or(mode).to_owned()]
        }
        scalar => vec![scalar_text(scalar).ok_or_else(|| invalid("a single value"))?],
    };
    let pairs: Vec<(&str, String)> = values.into_iter().map(|v| (ours, v)).collect();
    assignments_layer(&pairs, &label)
}

/// A scalar JSON value as written on the command line; `None` for lists and dicts.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        // `30.0` stays a float, which whole-number settings refuse, as gunicorn's int() does.
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) if items.is_empty() => Some("[]".to_owned()),
        _ => None,
    }
}
