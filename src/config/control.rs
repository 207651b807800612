//! The control socket: where the master takes commands (`rsgi-server ctl`, `gunicornc`),
//! and the permission bits of its file.

use crate::settings::{Check, ConfigError, Settings, group};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Longest path a Unix socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

group! {
    /// The control socket, if there is one.
    #[derive(Clone, Debug, PartialEq)]
    pub struct ControlSettings from (s, v) {
        /// Where the socket is; `None`: no control socket (unset, or
        /// `--no-control-socket`).
        pub socket: Option<PathBuf> = socket(s, v)?,
        /// The socket file's permission bits.
        pub mode: u32 = v.octal_mode(s.control_socket_mode(), "600")?.unwrap_or(0o600),
    }
}

/// `--control-socket`, unless turned off; refused if no Unix socket can have that path.
fn socket(s: &Settings, v: &Check<'_>) -> Result<Option<PathBuf>, ConfigError> {
    if v.flag(s.control_socket_disable()) {
        return Ok(None);
    }
    let raw = s.control_socket();
    match raw.value {
        Some(path) if path.as_os_str().is_empty() => Ok(None),
        Some(path) if path.as_os_str().as_bytes().len() > MAX_SOCKET_PATH => Err(v.refuse(
            raw,
            &format!("a socket path of at most {MAX_SOCKET_PATH} bytes"),
        )),
        Some(path) if path.as_os_str().as_bytes().contains(&0) => {
            Err(v.refuse(raw, "a path without NUL bytes"))
        }
        Some(path) => Ok(Some(path.clone())),
        None => Ok(None),
    }
}
