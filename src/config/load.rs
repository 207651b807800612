//! Loading: the command line, the environment and the config file read into layers, merged,
//! and validated into a [`Config`]; and reloading, which re-reads the file under the same
//! command line and environment.
//!
//! Relative paths are resolved where they were written: against the current directory for
//! the command line and the environment, against the file's directory for the config file
//! (each setting's declaration says whether it holds paths). So a config file means the same
//! thing whichever directory the server is started from.

use super::{Config, ConfigError, Invocation};
use crate::settings::frontends::gunicorn_file;
use crate::settings::frontends::{self, ConfigSource, FileLayer, PythonReader, gunicorn};
use crate::settings::{self, CONFIG_ENV, Cli, Layer, SETTINGS, Settings};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The name of our config file read from the current directory when none is named.
pub const DEFAULT_CONFIG_FILE: &str = frontends::DEFAULT_TOML_FILE;

/// Where a [`Config`] came from: the raw settings it was validated from, what the user
/// should be warned about, and for a loaded one the layers that outrank the file, so
/// [`Config::reload`] can read the file again under them (a configuration built in code
/// reloads as itself).
#[derive(Clone, Debug)]
pub struct Origin {
    given: Arc<Settings>,
    warnings: Vec<String>,
    retained: Option<Arc<Retained>>,
}

impl Origin {
    /// The origin of a configuration validated from `given` and nothing else.
    pub(super) fn given(given: Settings) -> Origin {
        Origin {
            given: Arc::new(given),
            warnings: Vec::new(),
            retained: None,
        }
    }

    /// The raw settings, defaults applied, the configuration was validated from: what
    /// `--print-config` prints and what server hooks see as `server.cfg`.
    pub fn settings(&self) -> &Settings {
        &self.given
    }

    /// What loading found worth telling the user (settings without effect here, unknown
    /// `RSGI_*` variables), each a sentence; logged once logging is set up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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
    /// Settings from `GUNICORN_CMD_ARGS` (paths made absolute).
    gunicorn_env: Layer,
    /// Defaults from `PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`.
    fallback: Layer,
    /// Warnings about the layers above, repeated on every reload.
    warnings: Vec<String>,
    /// The environment, for the placeholders of a uwsgi.ini.
    vars: BTreeMap<String, String>,
    /// The directory the server was started in.
    cwd: PathBuf,
    /// Executes gunicorn config files, where the caller can.
    python: Option<PythonReader>,
    /// `--ini-ignore-unsupported`.
    ini_ignore_unsupported: bool,
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

/// [`load_with`] without a way to execute gunicorn's Python config files.
pub fn load(
    args: Vec<OsString>,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Invocation, ConfigError> {
    load_with(args, env, cwd, None)
}

/// Parses the command line (`args` includes the program name), the `RSGI_*`,
/// `GUNICORN_CMD_ARGS` and fallback variables in `env`, and the config file, and validates
/// the result. `cwd` is where the default config file is looked for and what relative
/// paths on the command line and in the environment are relative to. `python` executes
/// gunicorn config files (`None`: they are an error).
pub fn load_with(
    args: Vec<OsString>,
    env: &BTreeMap<String, String>,
    cwd: &Path,
    python: Option<PythonReader>,
) -> Result<Invocation, ConfigError> {
    let args = gunicorn::accept_cli(args)?;
    let cli =
        <Cli as clap::Parser>::try_parse_from(args).map_err(|e| settings::clap_error(e, None))?;
    let gunicorn_cli = gunicorn::env_args(env)?;
    let mut cli_layer = cli.settings;
    let mut gunicorn_env = gunicorn_cli
        .as_ref()
        .map_or_else(Layer::default, |c| c.settings.clone());
    let (mut env_layer, mut warnings) = settings::env_layer(env)?;
    let mut fallback = settings::fallback_layer(env)?;
    for layer in [
        &mut cli_layer,
        &mut env_layer,
        &mut gunicorn_env,
        &mut fallback,
    ] {
        layer.absolutize(cwd);
    }
    let env_config = gunicorn_cli.as_ref().and_then(|c| c.config.clone());
    let named = cli
        .config
        .map(|file| file.to_string_lossy().into_owned())
        .or_else(|| env.get(CONFIG_ENV).filter(|f| !f.is_empty()).cloned())
        .or(env_config.map(|file| file.to_string_lossy().into_owned()));
    // The command-line-only options may come from GUNICORN_CMD_ARGS too, as in gunicorn.
    let from_env = |f: fn(&Cli) -> bool| gunicorn_cli.as_ref().is_some_and(f);
    let print = cli.print_config || from_env(|c| c.print_config);
    let check = cli.check_config || from_env(|c| c.check_config);
    let ini_ignore_unsupported =
        cli.ini_ignore_unsupported || from_env(|c| c.ini_ignore_unsupported);
    let ini = cli
        .ini
        .clone()
        .or_else(|| gunicorn_cli.as_ref().and_then(|c| c.ini.clone()));
    let source = match (named, &ini) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                option: "--ini".to_owned(),
                value: ini.clone().unwrap_or_default(),
                allowed: "one config file: --ini or -c/--config (or RSGI_CONFIG), not both"
                    .to_owned(),
            });
        }
        (None, Some(ini)) => Some(ConfigSource::from_ini_arg(ini, cwd)),
        // A named file must exist (checked on read); the default one is optional.
        (Some(file), None) => Some(ConfigSource::from_config_arg(&file, cwd)),
        (None, None) => {
            let (source, warning) = ConfigSource::default_in(cwd);
            warnings.extend(warning);
            source
        }
    };
    let retained = Arc::new(Retained {
        cli: cli_layer,
        env: env_layer,
        gunicorn_env,
        fallback,
        warnings,
        vars: env.clone(),
        cwd: cwd.to_owned(),
        python,
        ini_ignore_unsupported,
        require_app: !print,
    });
    let config = build(&retained, source)?;
    Ok(if print {
        let text = print_config(&config)?;
        Invocation::PrintConfig(config, text)
    } else if check {
        Invocation::CheckConfig(config)
    } else {
        Invocation::Run(config)
    })
}

/// Reads a config file with its front end.
fn read_source(retained: &Retained, source: &ConfigSource) -> Result<FileLayer, ConfigError> {
    match source {
        ConfigSource::Toml(path) => frontends::toml_file::read(path),
        ConfigSource::UwsgiIni { path, section } => frontends::uwsgi_ini::read(
            path,
            section,
            &retained.vars,
            retained.ini_ignore_unsupported,
            &retained.cwd,
        ),
        ConfigSource::GunicornFile(_) | ConfigSource::GunicornModule(_) => {
            let Some(python) = retained.python else {
                return Err(ConfigError::File {
                    path: source.describe().into(),
                    message: "gunicorn config files (Python) cannot be read here".to_owned(),
                });
            };
            // The file runs with the interpreter the server will run, and the virtualenv
            // the layers above name (a file cannot choose the interpreter it runs in).
            let virtualenv = retained
                .cli
                .virtualenv
                .clone()
                .or(retained.env.virtualenv.clone())
                .or(retained.gunicorn_env.virtualenv.clone())
                .or(retained.fallback.virtualenv.clone());
            let namespace = python(source, virtualenv.as_deref())?;
            gunicorn_file::translate(source, &namespace, &retained.cwd)
        }
    }
}

/// Reads the file (if any), merges it under the retained layers and validates the result.
fn build(retained: &Arc<Retained>, source: Option<ConfigSource>) -> Result<Config, ConfigError> {
    let file = match &source {
        Some(source) => read_source(retained, source)?,
        None => FileLayer::default(),
    };
    let mut merged = retained
        .cli
        .clone()
        .or(retained.env.clone())
        .or(retained.gunicorn_env.clone())
        .or(file.layer.clone())
        .or(retained.fallback.clone());
    if !file.inherited.env.is_empty() {
        let mut env = file.inherited.env.clone();
        env.extend(merged.env.take().unwrap_or_default());
        merged.env = Some(env);
    }
    if !file.inherited.path.is_empty() {
        let mut path = merged.pythonpath.take().unwrap_or_default();
        path.extend(file.inherited.path.iter().cloned());
        merged.pythonpath = Some(path);
    }
    // Names each setting as the user wrote it in the source that supplied its value.
    let label = |name: &str| -> String {
        let Some(meta) = SETTINGS.iter().find(|m| m.name == name) else {
            return name.to_owned();
        };
        if retained.cli.is_set(name) {
            meta.cli_spelling()
        } else if retained.env.is_set(name) {
            meta.env_var()
        } else if retained.gunicorn_env.is_set(name) {
            format!("{} (in GUNICORN_CMD_ARGS)", meta.cli_spelling())
        } else if let (true, Some(source)) = (file.layer.is_set(name), &source) {
            match file.labels.get(name) {
                Some(label) => label.clone(),
                None => format!("{name} (in {})", source.describe()),
            }
        } else if let (true, Some(fallback)) = (retained.fallback.is_set(name), &meta.fallback) {
            fallback.var.to_owned()
        } else {
            meta.cli_spelling()
        }
    };
    let mut warnings = retained.warnings.clone();
    if let (Some(theirs), Some(chosen)) = (&file.layer.hooks, &merged.hooks) {
        if theirs != chosen {
            warnings.push(format!(
                "the hooks defined in {} are not called: --hooks {chosen} replaces them",
                source
                    .as_ref()
                    .map(ConfigSource::describe)
                    .unwrap_or_default()
            ));
        }
    }
    let binds_explicit = merged.is_set("bind");
    let mut config = Config::validate(
        merged.resolve(),
        &label,
        retained.require_app,
        binds_explicit,
    )?;
    config.config_file = source;
    config.origin.retained = Some(Arc::clone(retained));
    warnings.extend(file.warnings);
    config.origin.warnings = warnings;
    Ok(config)
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
