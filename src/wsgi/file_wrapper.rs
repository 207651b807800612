//! `wsgi.file_wrapper` (PEP 3333 "Optional Platform-Specific File Handling").
//!
//! An app returns `environ['wsgi.file_wrapper'](f)`; when `f` is a regular file with a
//! descriptor, the server sends it with sendfile(2) from its current position, otherwise the
//! wrapper is iterated in `blksize` blocks like any body.

use pyo3::prelude::*;
use std::os::fd::{BorrowedFd, OwnedFd};

/// A file to send with sendfile: descriptor, start offset and byte count.
pub(crate) struct SendableFile {
    /// A duplicate of the file object's descriptor: ours to use with the GIL released, even
    /// if another Python thread closes the file object meanwhile.
    pub fd: OwnedFd,
    /// Where to start: the file object's current position.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub remaining: u64,
}

/// The `wsgi.file_wrapper` type.
#[pyclass(module = "rsgi_server", name = "FileWrapper")]
pub(crate) struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> Self {
        FileWrapper {
            filelike,
            blksize: blksize.max(1),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self
            .filelike
            .bind(py)
            .call_method1(pyo3::intern!(py, "read"), (self.blksize,))?;
        Ok((block.len()? > 0).then_some(block))
    }

    /// Closes the wrapped file, as PEP 3333 requires of the wrapper's `close()`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let file = self.filelike.bind(py);
        if file.hasattr(pyo3::intern!(py, "close"))? {
            file.call_method0(pyo3::intern!(py, "close"))?;
        }
        Ok(())
    }
}

impl FileWrapper {
    /// The descriptor, offset and length to sendfile, if the wrapped object is a regular file
    /// with `fileno()`; `None` sends it by iteration instead.
    pub(crate) fn sendable(&self, py: Python<'_>) -> Option<SendableFile> {
        let file = self.filelike.bind(py);
        let fd: i32 = file
            .call_method0(pyo3::intern!(py, "fileno"))
            .and_then(|n| n.extract())
            .ok()
            .or_else(|| {
                // fileno() may raise io.UnsupportedOperation (BytesIO): iterate instead.
                let _ = PyErr::take(py);
                None
            })?;
        // tell() accounts for bytes a buffered reader has already consumed, which the raw
        // descriptor offset does not.
        let offset: u64 = file
            .call_method0(pyo3::intern!(py, "tell"))
            .and_then(|n| n.extract())
            .ok()?;
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is non-negative and belongs to the live file object we hold (with the
        // GIL), so it is open for the duration of this borrow, which only duplicates it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .ok()?;
        let stat = nix::sys::stat::fstat(&fd).ok()?;
        let is_regular = (stat.st_mode & nix::libc::S_IFMT) == nix::libc::S_IFREG;
        let size = u64::try_from(stat.st_size).ok()?;
        is_regular.then(|| SendableFile {
            fd,
            offset,
            remaining: size.saturating_sub(offset),
        })
    }
}
