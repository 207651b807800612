//! What can be wrong with a configuration: every variant names what the user wrote and
//! where, so a bad setting is fixed from the message alone.

use std::fmt;
use std::path::PathBuf;

/// A configuration that cannot be used; `main` prints it and exits with status 2, before
/// anything is bound.
#[derive(Debug)]
pub enum ConfigError {
    /// An option's value is not allowed.
    Invalid {
        /// The option as the user spells it on the command line, e.g. `--workers`.
        option: String,
        /// The offending value.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// The TOML file could not be read or parsed (unknown keys included).
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key and line where known.
        message: String,
    },
    /// The command line itself is wrong (clap's message; also `--help` and `--version`,
    /// which clap reports as errors that print to stdout and exit 0).
    Cli(clap::Error),
    /// A required setting is missing.
    Missing(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                option,
                value,
                allowed,
            } => write!(f, "invalid value {value:?} for {option}: {allowed}"),
            ConfigError::File { path, message } => {
                write!(f, "config file {}: {message}", path.display())
            }
            ConfigError::Cli(e) => write!(f, "{e}"),
            ConfigError::Missing(what) => write!(f, "missing {what}"),
        }
    }
}

impl std::error::Error for ConfigError {}
