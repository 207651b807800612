//! How a setting's relative paths are made absolute against the directory of the source
//! they were written in (the current directory for the command line and the environment,
//! the file's directory for a config file), so that a config file means the same thing
//! whichever directory the server is started from. A declaration names its resolver with
//! `paths` (see [`settings!`](super::macros)).

use super::BindAddr;
use std::path::{Path, PathBuf};

/// A path.
pub fn path(value: &mut Option<PathBuf>, base: &Path) {
    if let Some(path) = value {
        *path = base.join(&*path);
    }
}

/// A list of paths; empty entries stay empty (they are dropped when validated).
pub fn path_list(value: &mut Option<Vec<PathBuf>>, base: &Path) {
    for path in value.iter_mut().flatten() {
        if !path.as_os_str().is_empty() {
            *path = base.join(&*path);
        }
    }
}

/// A log file, where `-` names a standard stream, not a file.
pub fn log_file(value: &mut Option<PathBuf>, base: &Path) {
    if let Some(path) = value.as_mut().filter(|p| p.as_os_str() != "-") {
        *path = base.join(&*path);
    }
}

/// `--hooks`: a `.py` file is a path, a dotted module name is not.
pub fn module_or_file(value: &mut Option<String>, base: &Path) {
    if let Some(spec) = value.as_mut().filter(|s| is_file_spec(s)) {
        *spec = base.join(&*spec).to_string_lossy().into_owned();
    }
}

/// Whether a module-or-file value (`--hooks`) names a file (a `.py` path) rather than a
/// module.
pub fn is_file_spec(value: &str) -> bool {
    value.ends_with(".py") || value.contains('/')
}

/// Listen addresses: a relative `unix:` socket path is a path.
pub fn binds(value: &mut Option<Vec<String>>, base: &Path) {
    for bind in value.iter_mut().flatten() {
        let (protocol, address) = super::Protocol::split(bind);
        if let Ok(BindAddr::Unix(path)) = address.parse::<BindAddr>() {
            if path.is_relative() {
                let prefix = if protocol.is_some() {
                    super::bind::UWSGI_PREFIX
                } else {
                    ""
                };
                *bind = format!("{prefix}{}", BindAddr::Unix(base.join(path)));
            }
        }
    }
}
