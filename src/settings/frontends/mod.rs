//! The front ends: translators from the configuration files users already have into our
//! settings (a [`Layer`]), each in its own file, so the server has one representation and
//! one code path whatever the source:
//!
//! * [`toml_file`]: our own TOML file (`rsgi.toml`), keys named like the settings.
//! * [`gunicorn`]: gunicorn's command line (its spellings, `GUNICORN_CMD_ARGS`, the flags we
//!   refuse).
//! * [`gunicorn_file`]: `gunicorn.conf.py` (its module-level names, read by a
//!   [`PythonReader`], which a layer above provides since executing Python is not this
//!   layer's business).
//! * [`uwsgi_ini`]: a `[uwsgi]` section of a uWSGI ini file.
//!
//! A front end never validates a value's meaning: it says which setting a name is and how
//! the value is written on our command line, and the groups that consume the settings judge
//! it, naming the option as the user wrote it.

pub mod gunicorn;
pub mod gunicorn_file;
pub mod toml_file;
pub mod uwsgi_ini;

use super::{ConfigError, Layer};
use std::path::{Path, PathBuf};

pub use gunicorn_file::{Namespace, PythonReader};

/// The gunicorn config file read from the current directory when none is named.
pub const DEFAULT_GUNICORN_FILE: &str = "gunicorn.conf.py";

/// Our config file read from the current directory when none is named.
pub const DEFAULT_TOML_FILE: &str = "rsgi.toml";

/// A config file, and the front end that reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigSource {
    /// Our TOML file.
    Toml(PathBuf),
    /// A gunicorn config file, Python executed as gunicorn executes it.
    GunicornFile(PathBuf),
    /// A gunicorn config module, `-c python:module.name`.
    GunicornModule(String),
    /// A uWSGI ini file and the section to read (`--ini FILE[:SECTION]`).
    UwsgiIni {
        /// The file.
        path: PathBuf,
        /// The section, `uwsgi` unless named.
        section: String,
    },
}

impl ConfigSource {
    /// What `-c`/`--config` (or `RSGI_CONFIG`) names: a `.toml` file is ours, `python:NAME`
    /// a gunicorn config module, `file:PATH` or anything else a gunicorn config file
    /// (gunicorn executes whatever file it is given, whatever its name).
    pub fn from_config_arg(value: &str, cwd: &Path) -> ConfigSource {
        if let Some(module) = value.strip_prefix("python:") {
            ConfigSource::GunicornModule(module.to_owned())
        } else if let Some(file) = value.strip_prefix("file:") {
            ConfigSource::GunicornFile(cwd.join(file))
        } else if value.ends_with(".toml") {
            ConfigSource::Toml(cwd.join(value))
        } else {
            ConfigSource::GunicornFile(cwd.join(value))
        }
    }

    /// What `--ini FILE[:SECTION]` names (uWSGI's spelling of a section).
    pub fn from_ini_arg(value: &str, cwd: &Path) -> ConfigSource {
        let (path, section) = match value.rsplit_once(':') {
            Some((path, section)) if !section.is_empty() && !section.contains('/') => {
                (path, section)
            }
            _ => (value, "uwsgi"),
        };
        ConfigSource::UwsgiIni {
            path: cwd.join(path),
            section: section.to_owned(),
        }
    }

    /// The file read when none is named: `./rsgi.toml` or `./gunicorn.conf.py`, whichever
    /// exists; both is an error, since which one the user meant cannot be guessed.
    pub fn default_in(cwd: &Path) -> Result<Option<ConfigSource>, ConfigError> {
        let toml = cwd.join(DEFAULT_TOML_FILE);
        let gunicorn = cwd.join(DEFAULT_GUNICORN_FILE);
        match (toml.is_file(), gunicorn.is_file()) {
            (true, true) => Err(ConfigError::File {
                path: gunicorn,
                message: format!(
                    "both ./{DEFAULT_TOML_FILE} and ./{DEFAULT_GUNICORN_FILE} exist; name the \
                     one to read with -c"
                ),
            }),
            (true, false) => Ok(Some(ConfigSource::Toml(toml))),
            (false, true) => Ok(Some(ConfigSource::GunicornFile(gunicorn))),
            (false, false) => Ok(None),
        }
    }

    /// The file, for messages and for resolving paths written in it.
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::Toml(path) | ConfigSource::GunicornFile(path) => {
                path.display().to_string()
            }
            ConfigSource::GunicornModule(module) => format!("python:{module}"),
            ConfigSource::UwsgiIni { path, section } => {
                format!("{} [{section}]", path.display())
            }
        }
    }
}

/// What a front end read from a file: the settings, and what the user should be told
/// about settings that have no meaning here.
#[derive(Debug, Default)]
pub struct FileLayer {
    /// The settings, relative paths made absolute as the format resolves them.
    pub layer: Layer,
    /// Warnings, each a whole sentence naming the settings concerned.
    pub warnings: Vec<String>,
    /// How the file spells the settings it sets, where that is not our name (a uwsgi.ini's
    /// `processes (in FILE:LINE [uwsgi])` for `workers`), for error messages.
    pub labels: std::collections::BTreeMap<String, String>,
}
