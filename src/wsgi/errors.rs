//! `wsgi.errors`: a text stream into the server's error log (stderr).

use pyo3::prelude::*;
use std::io::Write;

/// The `wsgi.errors` stream shared by every request of a worker.
#[pyclass(module = "rsgi_server", name = "ErrorStream")]
pub(crate) struct ErrorStream;

#[pymethods]
impl ErrorStream {
    /// Writes `text` to the error log; returns the number of characters written.
    fn write(&self, py: Python<'_>, text: &str) -> usize {
        let bytes = text.as_bytes();
        // Errors writing to our own stderr have nowhere better to go.
        py.detach(|| {
            let _ = std::io::stderr().lock().write_all(bytes);
        });
        text.chars().count()
    }

    /// Writes every string of `lines`.
    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            let line = line?;
            self.write(py, line.extract::<&str>()?);
        }
        Ok(())
    }

    /// Nothing to do: every write goes straight to the descriptor.
    fn flush(&self) {}
}
