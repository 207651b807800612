//! Loading the application: importing the one named by `module:expression`, or building a
//! PasteDeploy ini file's (`--paste`); and `--spew`'s tracing (see `app_loader.py`).

use crate::config::PythonSettings;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::ffi::CString;

/// Puts `entries` at the front of `sys.path`, in order, unless they are there already (a
/// process may load the hooks and then the app with the same entries).
pub(crate) fn prepend_sys_path(py: Python<'_>, entries: &[String]) -> PyResult<()> {
    let path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    let front: Vec<String> = path
        .iter()
        .take(entries.len())
        .map(|e| e.extract::<String>().unwrap_or_default())
        .collect();
    if front == entries {
        return Ok(());
    }
    for entry in entries.iter().rev() {
        path.insert(0, entry)?;
    }
    Ok(())
}

/// Loads and returns the application object (traced with `--spew`).
pub(crate) fn load<'py>(py: Python<'py>, python: &PythonSettings) -> PyResult<Bound<'py, PyAny>> {
    let code = CString::new(include_str!("app_loader.py")).expect("no NUL in the loader");
    let loader = PyModule::from_code(py, &code, c"rsgi_server/app_loader.py", c"_rsgi_app_loader")?;
    if python.spew {
        // Set before loading, so the import is traced too, as gunicorn traces it.
        loader
            .getattr("Spew")?
            .call0()
            .and_then(|tracer| py.import("sys")?.getattr("settrace")?.call1((tracer,)))?;
    }
    let app = match &python.paste {
        Some(paste) => loader.getattr("load_paste")?.call1((
            &paste.uri,
            paste.global_conf.clone(),
            paste.file_logging,
        ))?,
        None => loader.getattr("load")?.call1((&python.app,))?,
    };
    if python.spew {
        return loader.getattr("spew")?.call1((app,));
    }
    Ok(app)
}
