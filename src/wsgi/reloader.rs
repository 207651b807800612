//! `--reload`: a worker watches the source files of the app and exits gracefully when one
//! changes, so the master starts a fresh worker that imports the new code.
//!
//! Watched: the `__file__` of every loaded module under the app's paths (the working
//! directory and `--pythonpath`), minus anything inside the interpreter's prefixes and
//! site-packages (a virtualenv kept in the project directory included); the
//! `--reload-extra-file`s; and, after a failed import, the files its traceback names (a
//! module with a syntax error is not in `sys.modules`) and the app's directories (a module
//! that was not found appears there).
//!
//! A thread looks at the files about once a second, and at once when inotify reports a
//! change in their directories (`--reload-engine`, [`super::reload_wake`]). It takes the
//! GIL only to list `sys.modules` (an instant); waiting and `stat` happen without it.
//!
//! While the app cannot be imported the worker serves [`error_app`]: every request gets 500
//! with the traceback, and saving a fix brings the app back. The server never stops for it.

use crate::config::PythonSettings;
use nix::sys::signal::{Signal, kill};
use nix::unistd::getpid;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::time::SystemTime;

use super::reload_wake::Wake;

fn support(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let code = CString::new(include_str!("reloader.py")).expect("no NUL in the support");
    PyModule::from_code(py, &code, c"rsgi_server/reloader.py", c"_rsgi_reloader")
}

/// The files a failed import points at (the file with a syntax error, every frame's file).
pub(crate) fn files_of_error(py: Python<'_>, err: &PyErr) -> Vec<PathBuf> {
    support(py)
        .and_then(|s| s.getattr("failed_import_files")?.call1((err.value(py),)))
        .and_then(|files| files.extract::<Vec<PathBuf>>())
        .unwrap_or_default()
}

/// A WSGI app answering every request with 500 and `text` (the import traceback).
pub(crate) fn error_app<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    support(py)?.getattr("error_app")?.call1((text,))
}

/// What a file looked like: `None` when it does not exist.
type Seen = Option<(SystemTime, u64)>;

fn look(path: &PathBuf) -> Seen {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The watcher's view of the app's files.
struct Watcher {
    /// The app's paths, each ending in `/`.
    roots: Vec<String>,
    /// Interpreter prefixes and site-packages, each ending in `/`.
    excluded: Vec<String>,
    /// Files always watched (extra files, files of a failed import).
    fixed: Vec<PathBuf>,
    seen: HashMap<PathBuf, Seen>,
}

impl Watcher {
    /// Lists the files to watch now (module files are read with the GIL, briefly).
    fn files(&self) -> Vec<PathBuf> {
        let modules = Python::attach(|py| -> PyResult<Vec<PathBuf>> {
            support(py)?
                .getattr("app_paths_files")?
                .call1((
                    pyo3::types::PyTuple::new(py, &self.roots)?,
                    pyo3::types::PyTuple::new(py, &self.excluded)?,
                ))?
                .extract()
        });
        let mut files = modules.unwrap_or_else(|err| {
            tracing::warn!("reloader cannot list the loaded modules: {err}");
            Vec::new()
        });
        files.extend(self.fixed.iter().cloned());
        files
    }

    /// Checks every file; returns the first one that changed since it was first seen.
    fn changed(&mut self) -> Option<PathBuf> {
        for file in self.files() {
            let now = look(&file);
            match self.seen.get(&file) {
                None => {
                    self.seen.insert(file, now);
                }
                Some(before) if *before != now => return Some(file),
                Some(_) => {}
            }
        }
        None
    }
}

/// Starts watching (the first look happens before this returns, so a change saved after the
/// worker reports ready is seen). `failed`: files of a failed import to watch as well.
pub fn start(config: &PythonSettings, failed: Vec<PathBuf>) -> std::io::Result<()> {
    let with_slash = |p: String| if p.ends_with('/') { p } else { p + "/" };
    let roots: Vec<String> = crate::wsgi::interp::python_path(&config.pythonpath)
        .into_iter()
        .map(with_slash)
        .collect();
    let excluded = Python::attach(|py| -> PyResult<Vec<String>> {
        let code = c"import site, sys\n\
excluded = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}\n\
excluded.update(site.getsitepackages())\n\
excluded.add(site.getusersitepackages())\n";
        let globals = pyo3::types::PyDict::new(py);
        py.run(code, Some(&globals), None)?;
        globals
            .get_item("excluded")?
            .map_or(Ok(Vec::new()), |e| e.extract())
    })
    .unwrap_or_default()
    .into_iter()
    .map(with_slash)
    .collect();
    let mut fixed = config.reload_extra_files.clone();
    if !failed.is_empty() {
        // A module that was not found has no file to watch yet: creating it changes its
        // directory, so while the import fails the app's directories are watched too.
        fixed.extend(roots.iter().map(PathBuf::from));
    }
    fixed.extend(failed);
    let mut watcher = Watcher {
        roots,
        excluded,
        fixed,
        seen: HashMap::new(),
    };
    let mut wake = Wake::new(config.reload_engine)?;
    let _ = watcher.changed();
    wake.watch(watcher.seen.keys());
    tracing::debug!(
        "reloader watching {} files ({})",
        watcher.seen.len(),
        wake.name()
    );
    std::thread::Builder::new()
        .name("rsgi-reloader".into())
        .spawn(move || {
            let mut known = watcher.seen.len();
            loop {
                wake.wait();
                let changed = watcher.changed();
                if watcher.seen.len() != known {
                    // Modules imported since: watch their directories too.
                    known = watcher.seen.len();
                    wake.watch(watcher.seen.keys());
                }
                if let Some(file) = changed {
                    tracing::info!(
                        "Worker reloading: {} modified (pid: {})",
                        file.display(),
                        getpid()
                    );
                    // The normal graceful stop: in-flight requests finish, then the master
                    // starts a new worker.
                    let _ = kill(getpid(), Signal::SIGTERM);
                    return;
                }
            }
        })?;
    Ok(())
}
