//! The integration tests' harness: runs the real `rsgi-server` binary against the apps in
//! `pyapps/` and talks to it over real sockets.
//!
//! Synchronisation is always on the server's own readiness signals (its stderr lines) or on
//! socket events, never on sleeps. Every wait has a generous safety deadline
//! ([`DEADLINE`]) that only exists to turn a hung test into a failing one.
//!
//! What every area uses is re-exported here (`use crate::support::*`); the helpers of one
//! area stay in their module (`support::tls`, `support::clients`, `support::logs`,
//! `support::load`, `support::hygiene`).

pub mod browser;
pub mod clients;
pub mod curl_session;
pub mod data;
pub mod differential;
pub mod django;
pub mod gunicorn;
pub mod haproxy;
pub mod http;
pub mod http_client;
pub mod hygiene;
pub mod json;
pub mod load;
pub mod logs;
pub mod metrics;
pub mod nginx;
pub mod process;
pub mod server;
pub mod tls;
pub mod uwsgi_router;
pub mod wheel;

pub use data::*;
pub use http::*;
pub use http_client::*;
pub use json::*;
pub use process::*;
pub use server::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Safety deadline for anything we wait on. Not a timing assertion: a healthy server
/// answers in milliseconds; this only stops a hung test.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The server command under test: `$RSGI_TEST_SERVER` (e.g. the `rsgi-server` of a
/// virtualenv the wheel is installed in: `scripts/test` runs part of the suite so), else
/// the standalone binary this crate builds.
pub fn server_bin() -> PathBuf {
    match std::env::var_os(SERVER_VAR) {
        Some(command) if !command.is_empty() => PathBuf::from(command),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_rsgi-server")),
    }
}

/// The variable naming another server command to test (see [`server_bin`]).
pub const SERVER_VAR: &str = "RSGI_TEST_SERVER";

/// Where the server under test gets Python from, for the few behaviours that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The standalone binary: it embeds libpython and starts Python only where needed.
    Embedded,
    /// The pip-installed command: a Python interpreter runs the master.
    Interpreter,
}

/// The [`Host`] of the server under test ([`server_bin`]): another command is taken to be
/// the pip-installed one.
pub fn host() -> Host {
    match std::env::var_os(SERVER_VAR) {
        Some(command) if !command.is_empty() => Host::Interpreter,
        _ => Host::Embedded,
    }
}

/// The repository root (where Cargo.toml lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the demo and test apps.
pub fn pyapps() -> PathBuf {
    repo_root().join("pyapps")
}

/// The Python used for client-side tests: `$RSGI_TEST_PYTHON`, else the project venv's
/// python, else `python3` from PATH.
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("RSGI_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The project venv (`<repo>/.venv`) if the ops scripts created it.
pub fn project_venv() -> Option<PathBuf> {
    let venv = repo_root().join(".venv");
    venv.join("pyvenv.cfg").exists().then_some(venv)
}

/// Polls `cond` (every 10 ms) until it holds; panics at the safety deadline. For states
/// that are observable but announce themselves nowhere (a file appearing, an fd closing).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !cond() {
        if Instant::now() > until {
            panic!("still waiting for {what} at the safety deadline");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A unique directory under the system temp dir, removed on drop. Names stay short so a
/// Unix socket path inside fits in `sun_path` (108 bytes).
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A new empty directory, open to every user (mode 0755 less the umask, as `mkdir`
    /// makes it) since the servers the privilege tests start run as `nobody`.
    pub fn new() -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("rsgi-t")
            .permissions(fs::Permissions::from_mode(0o755))
            .tempdir()
            .expect("create temp dir");
        TempDir(dir)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `contents` to `name` (parent directories created) and returns the path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, contents).unwrap();
        p
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}
