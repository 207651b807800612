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

use super::Layer;
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
    /// What `-c`/`--config` (or `RSGI_CONFIG`) names: `python:NAME` is a gunicorn config
    /// module, `file:PATH` or a `.py` file a gunicorn config file, a `.toml` file ours. Any
    /// other file is ours if it reads as our TOML (as `-c` always read before gunicorn's
    /// files were), else gunicorn's: gunicorn executes whatever file it is given.
    pub fn from_config_arg(value: &str, cwd: &Path) -> ConfigSource {
        if let Some(module) = value.strip_prefix("python:") {
            return ConfigSource::GunicornModule(module.to_owned());
        }
        if let Some(file) = value.strip_prefix("file:") {
            return ConfigSource::GunicornFile(cwd.join(file));
        }
        let path = cwd.join(value);
        let ours = value.ends_with(".toml")
            || (!value.ends_with(".py")
                && std::fs::read_to_string(&path)
                    .is_ok_and(|text| toml::from_str::<Layer>(&text).is_ok()));
        if ours {
            ConfigSource::Toml(path)
        } else {
            ConfigSource::GunicornFile(path)
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
    /// exists. With both (a project halfway through its migration), ours is read, and the
    /// warning returned says the other is not.
    pub fn default_in(cwd: &Path) -> (Option<ConfigSource>, Option<String>) {
        let toml = cwd.join(DEFAULT_TOML_FILE);
        let gunicorn = cwd.join(DEFAULT_GUNICORN_FILE);
        match (toml.is_file(), gunicorn.is_file()) {
            (true, true) => (
                Some(ConfigSource::Toml(toml)),
                Some(format!(
                    "./{DEFAULT_GUNICORN_FILE} is not read: ./{DEFAULT_TOML_FILE} is (name \
                     the one to read with -c)"
                )),
            ),
            (true, false) => (Some(ConfigSource::Toml(toml)), None),
            (false, true) => (Some(ConfigSource::GunicornFile(gunicorn)), None),
            (false, false) => (None, None),
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
    /// What executing the file did to its process, which the server's processes inherit.
    pub inherited: Inherited,
}

/// Changes a config file made to the process executing it (a gunicorn.conf.py's
/// `os.environ.setdefault(...)`, `sys.path.insert(...)`): under gunicorn the master and the
/// workers inherit them, so here they are added to whatever `env` and `pythonpath` say.
#[derive(Debug, Default)]
pub struct Inherited {
    /// `NAME=VALUE` of each variable set or changed; the settings' `env` wins over them.
    pub env: Vec<String>,
    /// Directories added to the path, after the settings' `pythonpath`.
    pub path: Vec<std::path::PathBuf>,
}
