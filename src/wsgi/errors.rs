//! `wsgi.errors`: a text stream into the server's error log.

use pyo3::prelude::*;

/// The `wsgi.errors` stream shared by every request of a worker.
#[pyclass(module = "rsgi_server", name = "ErrorStream")]
pub(crate) struct ErrorStream;

#[pymethods]
impl ErrorStream {
    /// Writes `text` to the error log; returns the number of characters written.
    fn write(&self, py: Python<'_>, text: &str) -> usize {
        let bytes = text.as_bytes();
        py.detach(|| crate::logging::error::wsgi_errors_write(bytes));
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

    /// Writes a pending partial line (JSON logs); text goes out on every write.
    fn flush(&self, py: Python<'_>) {
        py.detach(crate::logging::error::wsgi_errors_flush);
    }
}
