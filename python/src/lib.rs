//! `rsgi_server._rsgi`, the extension module of the pip-installed server: the same Rust as
//! the standalone binary, run by the interpreter of the virtualenv it is installed in.
//!
//! An extension module links no libpython: it uses the C API of the interpreter that
//! imports it, static (Debian's, conda's, uv's) or shared (pyenv's, Docker's) alike.

use pyo3::prelude::*;
use std::ffi::OsString;

/// Runs the server with the command line `argv` (the program name first) until it stops;
/// returns its exit status. The GIL is released for the whole run: the master takes it
/// only where it runs Python (hooks, `--preload`), as the standalone binary's does.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<OsString>) -> u8 {
    py.detach(|| rsgi_server::start::main(argv))
}

/// The module.
#[pymodule]
fn _rsgi(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
