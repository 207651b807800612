//! Loading: the command line, the environment and the config file read into layers, merged,
//! and validated into a [`Config`]; and reloading, which re-reads the file under the same
//! command line and environment.
//!
//! Relative paths are resolved where they were written: against the current directory for
//! the command line and the environment, against the file's directory for the config file
//! (each setting's declaration says whether it holds paths). So a config file means the same
//! thing whichever directory the server is started from.

use super::{Config, ConfigError, Invocation};
use crate::settings::{self, CONFIG_ENV, Cli, Layer, SETTINGS, Settings};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The name of the config file read from the current directory when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "rsgi.toml";

/// Where a [`Config`] came from: the raw settings it was validated from, and for a loaded
/// one the layers that outrank the file, so [`Config::reload`] can read the file again
/// under them (a configuration built in code reloads as itself).
#[derive(Clone, Debug)]
pub struct Origin {
    given: Arc<Settings>,
    retained: Option<Arc<Retained>>,
}

impl Origin {
    /// The origin of a configuration validated from `given` and nothing else.
    pub(super) fn given(given: Settings) -> Origin {
        Origin {
            given: Arc::new(given),
            retained: None,
        }
    }

    /// The raw settings, defaults applied, the configuration was validated from: what
    /// `--print-config` prints and what server hooks see as `server.cfg`.
    pub fn settings(&self) -> &Settings {
        &self.given
    }
}

impl PartialEq for Origin {
    /// Where a configuration came from does not make it a different configuration.
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

/// What a reload keeps from startup.
#[derive(Debug)]
struct Retained {
    /// Settings from the command line (paths made absolute).
    cli: Layer,
    /// Settings from `RSGI_*` variables (paths made absolute).
    env: Layer,
    /// Defaults from `PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`.
    fallback: Layer,
    /// Whether the application must be named (not for `--print-config`).
    require_app: bool,
}

impl Config {
    /// Re-reads the config file (the same one as at startup, if any) and reapplies the
    /// command-line and environment settings on top, as on SIGHUP. Returns a whole new
    /// configuration or an error, never a mix. A configuration built in code (without
    /// loaded layers) reloads as itself.
    pub fn reload(&self) -> Result<Config, ConfigError> {
        match &self.origin.retained {
            Some(retained) => build(retained, self.config_file.clone()),
            None => Ok(self.clone()),
        }
    }
}

/// Parses the command line (`args` includes the program name), the `RSGI_*` and fallback
/// variables in `env`, and the config file, and validates the result. `cwd` is where
/// `rsgi.toml` is looked for and what relative paths on the command line and in the
/// environment are relative to.
pub fn load(
    args: Vec<OsString>,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Invocation, ConfigError> {
    let cli =
        <Cli as clap::Parser>::try_parse_from(args).map_err(|e| settings::clap_error(e, None))?;
    let mut cli_layer = cli.settings;
    let mut env_layer = settings::env_layer(env)?;
    let mut fallback = settings::fallback_layer(env)?;
    for layer in [&mut cli_layer, &mut env_layer, &mut fallback] {
        layer.absolutize(cwd);
    }
    let config_file = match (cli.config, env.get(CONFIG_ENV)) {
        (Some(file), _) => Some(cwd.join(file)),
        (None, Some(file)) if !file.is_empty() => Some(cwd.join(file)),
        // The default file is optional; a named one that is missing is an error (on read).
        _ => Some(cwd.join(DEFAULT_CONFIG_FILE)).filter(|f| f.is_file()),
    };
    let retained = Arc::new(Retained {
        cli: cli_layer,
        env: env_layer,
        fallback,
        require_app: !cli.print_config,
    });
    let config = build(&retained, config_file)?;
    Ok(if cli.print_config {
        let text = print_config(&config)?;
        Invocation::PrintConfig(config, text)
    } else if cli.check_config {
        Invocation::CheckConfig(config)
    } else {
        Invocation::Run(config)
    })
}

/// Reads the file (if any), merges it under the retained layers and validates the result.
fn build(retained: &Arc<Retained>, config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let file = match &config_file {
        Some(path) => read_file(path)?,
        None => Layer::default(),
    };
    let merged = retained
        .cli
        .clone()
        .or(retained.env.clone())
        .or(file.clone())
        .or(retained.fallback.clone());
    // Names each setting as the user wrote it in the source that supplied its value.
    let label = |name: &str| -> String {
        let Some(meta) = SETTINGS.iter().find(|m| m.name == name) else {
            return name.to_owned();
        };
        if retained.cli.is_set(name) {
            meta.cli_spelling()
        } else if retained.env.is_set(name) {
            meta.env_var()
        } else if let (true, Some(path)) = (file.is_set(name), &config_file) {
            format!("{name} (in {})", path.display())
        } else if let (true, Some(fallback)) = (retained.fallback.is_set(name), &meta.fallback) {
            fallback.var.to_owned()
        } else {
            meta.cli_spelling()
        }
    };
    let binds_explicit = merged.is_set("bind");
    let mut config = Config::validate(
        merged.resolve(),
        &label,
        retained.require_app,
        binds_explicit,
    )?;
    config.config_file = config_file;
    config.origin.retained = Some(Arc::clone(retained));
    Ok(config)
}

/// Reads and parses a config file; unknown keys are errors naming the key and line.
fn read_file(path: &Path) -> Result<Layer, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_owned(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read it: {e}")))?;
    let mut layer: Layer =
        toml::from_str(&text).map_err(|e| file_error(e.to_string().trim_end().to_owned()))?;
    layer.absolutize(path.parent().unwrap_or(Path::new("/")));
    Ok(layer)
}

/// The effective configuration as a config file that loads back to the same `Config`.
fn print_config(config: &Config) -> Result<String, ConfigError> {
    let body = toml::to_string(config.origin.settings()).map_err(|e| ConfigError::Invalid {
        option: "--print-config".to_owned(),
        value: e.to_string(),
        allowed: "settings TOML can hold (paths must be valid UTF-8)".to_owned(),
    })?;
    Ok(format!(
        "# Effective rsgi-server configuration (--print-config); usable as a config file.\n{body}"
    ))
}
