//! Importing the application named by `module:expression` (see `app_loader.py`).

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

/// Imports and returns the application object.
pub(crate) fn load<'py>(py: Python<'py>, spec: &str) -> PyResult<Bound<'py, PyAny>> {
    let code = CString::new(include_str!("app_loader.py")).expect("no NUL in the loader");
    let loader = PyModule::from_code(py, &code, c"rsgi_server/app_loader.py", c"_rsgi_app_loader")?;
    loader.getattr("load")?.call1((spec,))
}
