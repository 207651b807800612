//! Where settings come from besides the command line: `RSGI_<NAME>` variables and the
//! platform conventions (`PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`), each read with exactly
//! the parser its command-line flag uses; and clap's errors turned into ours.

use super::ConfigError;
use super::options::{CONFIG_ENV, ENV_PREFIX, Layer, Meta, SETTINGS};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Args, Command, FromArgMatches};
use std::collections::BTreeMap;

/// A command that parses nothing but the settings: used to read the environment and the
/// platform fallbacks with exactly the parsers the command line uses.
pub(crate) fn layer_command() -> Command {
    Layer::augment_args(Command::new("rsgi-server").no_binary_name(true))
}

/// Reads one setting's value, as written by `source` (an environment variable's name), into
/// a layer, using the setting's command-line parser. Lists are split on commas.
fn parse_assignment(meta: &Meta, value: &str, source: &str) -> Result<Layer, ConfigError> {
    let cmd = layer_command();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == meta.name)
        .ok_or_else(|| ConfigError::Missing("a command-line argument for a declared setting"))?;
    let mut args: Vec<String> = Vec::new();
    match arg.get_long() {
        // `--` keeps a positional value that starts with '-' from being read as a flag.
        None => args.extend(["--".to_owned(), value.to_owned()]),
        Some(long) if matches!(arg.get_action(), ArgAction::Append) => {
            args.extend(
                value
                    .split(',')
                    .filter(|part| !part.is_empty())
                    .map(|part| format!("--{long}={part}")),
            );
        }
        // `--flag=value` so that values starting with '-' are not taken for flags.
        Some(long) => args.push(format!("--{long}={value}")),
    }
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| clap_error(e, Some(source)))?;
    Layer::from_arg_matches(&matches).map_err(|e| clap_error(e, Some(source)))
}

/// Reads settings a front end translated (a uwsgi.ini, a gunicorn config file) into one
/// layer: each `(name, value)` is our setting's name and its value as written on our command
/// line (`("bind", "0.0.0.0:80")`, `("preload", "true")`). A list setting assigned several
/// times keeps every value in order; any other setting assigned twice keeps the last.
/// `source` names where they were written, for error messages.
pub fn assignments_layer<N: AsRef<str>, V: AsRef<str>>(
    assignments: &[(N, V)],
    source: &str,
) -> Result<Layer, ConfigError> {
    let cmd = layer_command().args_override_self(true);
    let mut args: Vec<String> = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    for (name, value) in assignments {
        let (name, value) = (name.as_ref(), value.as_ref());
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == name)
            .ok_or_else(|| ConfigError::Invalid {
                option: source.to_owned(),
                value: name.to_owned(),
                allowed: "a setting rsgi-server declares (a front end translated into an \
                          unknown name)"
                    .to_owned(),
            })?;
        match arg.get_long() {
            None => positional = vec![value.to_owned()],
            Some(long) => args.push(format!("--{long}={value}")),
        }
    }
    if !positional.is_empty() {
        args.push("--".to_owned());
        args.extend(positional);
    }
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| clap_error(e, Some(source)))?;
    Layer::from_arg_matches(&matches).map_err(|e| clap_error(e, Some(source)))
}

/// Builds the environment layer from every `RSGI_<NAME>` variable. Any other `RSGI_`
/// variable (except [`CONFIG_ENV`]) is reported in the warnings returned, with the closest
/// setting's variable: it may be a typo, but the environment is shared with other programs
/// (a script's own `RSGI_BIN`), so it does not stop the server.
pub fn env_layer(env: &BTreeMap<String, String>) -> Result<(Layer, Vec<String>), ConfigError> {
    let mut layer = Layer::default();
    let mut warnings = Vec::new();
    for (var, value) in env.range(ENV_PREFIX.to_owned()..) {
        if !var.starts_with(ENV_PREFIX) {
            break;
        }
        if var == CONFIG_ENV {
            continue;
        }
        match SETTINGS.iter().find(|m| m.env_var() == *var) {
            Some(meta) => layer = layer.or(parse_assignment(meta, value, var)?),
            None => warnings.push(unknown_variable(var)),
        }
    }
    Ok((layer, warnings))
}

/// The warning for an `RSGI_` variable that names no setting.
fn unknown_variable(var: &str) -> String {
    // Compared without the prefix every candidate shares, which would make any two names
    // look alike.
    let known = SETTINGS
        .iter()
        .map(Meta::env_var)
        .chain([CONFIG_ENV.to_owned()])
        .map(|v| v[ENV_PREFIX.len()..].to_owned());
    match super::closest(&var[ENV_PREFIX.len()..], known) {
        Some(close) => {
            format!("ignoring {var}: no such setting; did you mean {ENV_PREFIX}{close}?")
        }
        None => format!("ignoring {var}: no such setting"),
    }
}

/// Builds the layer of platform conventions (`PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`),
/// which sits below the file: they only fill in what nothing else set.
pub fn fallback_layer(env: &BTreeMap<String, String>) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for meta in SETTINGS {
        let Some(fallback) = &meta.fallback else {
            continue;
        };
        // An empty variable is treated as unset, as shells make it easy to export one.
        match env.get(fallback.var).filter(|v| !v.is_empty()) {
            Some(value) => {
                let value = (fallback.to_value)(value);
                layer = layer.or(parse_assignment(meta, &value, fallback.var)?);
            }
            None => continue,
        }
    }
    Ok(layer)
}

/// Turns a clap error into ours: a bad value becomes [`ConfigError::Invalid`] naming the
/// option (or `source`, the variable it came from); anything else stays a clap error.
pub fn clap_error(e: clap::Error, source: Option<&str>) -> ConfigError {
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return ConfigError::Cli(e);
    }
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    let option = match source {
        Some(source) => source.to_owned(),
        // clap spells the argument "--workers <N>" or "--reuse-port[=<BOOL>]"; the flag
        // alone is what users type.
        None => context(ContextKind::InvalidArg)
            .map(|a| {
                a.split([' ', '[', '='])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_default(),
    };
    let allowed = match std::error::Error::source(&e) {
        Some(inner) => inner.to_string(),
        None => e.kind().to_string(),
    };
    ConfigError::Invalid {
        option,
        value,
        allowed,
    }
}
