//! `wsgi.input`: the request body as a binary file-like object (PEP 3333 "Input and Error
//! Streams").
//!
//! Reads stream from the transport with the GIL released, a block at a time, so a huge upload
//! never has to fit in memory; the transport stops at the end of the body, so no read can run
//! into the next request on the connection.

use super::{Link, with_transport};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use std::sync::{Arc, Mutex};

/// How much is asked of the transport per read: small at first, since most bodies are (the
/// read buffer is zero-filled, so its size is per-request work), doubling while reads fill
/// it, up to [`MAX_BLOCK`] for large uploads.
const FIRST_BLOCK: usize = 8 * 1024;
/// Largest read asked of the transport at once.
const MAX_BLOCK: usize = 64 * 1024;

/// The `wsgi.input` object of one request.
#[pyclass(module = "rsgi_server", name = "Input")]
pub(crate) struct Input {
    link: Link,
    /// Bytes read from the transport and not yet returned (`buf[pos..]`).
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    block: usize,
    /// Body bytes the transport still holds, when the body was received whole before the
    /// call: a read of all of it then fills one bytes object directly.
    known_left: Option<u64>,
}

impl Input {
    /// An input reading through `link`; `body_length` is the whole body's size when it was
    /// received before the call.
    pub(crate) fn new(link: Link, body_length: Option<u64>) -> Self {
        Input {
            link,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            block: FIRST_BLOCK,
            known_left: body_length,
        }
    }

    /// An input already at its end: the `wsgi.input` of a request framed without a body.
    pub(crate) fn exhausted() -> Self {
        Input {
            eof: true,
            ..Input::new(
                Arc::new(Mutex::new(None::<Box<dyn super::Transport>>)),
                Some(0),
            )
        }
    }

    /// Reads `n` bytes (no more than are left) straight from the transport into a new bytes
    /// object: one copy, no intermediate buffer.
    fn read_direct<'py>(&mut self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let link = &self.link;
        let bytes = PyBytes::new_with(py, n, |target| {
            // The new bytes object is not visible to any other thread yet, so filling it with
            // the GIL released is safe.
            with_transport(py, link, |t| {
                let mut got = 0;
                while got < target.len() {
                    match t.read_body(&mut target[got..])? {
                        0 => {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "request body ended early",
                            ));
                        }
                        k => got += k,
                    }
                }
                Ok(())
            })
            .map_err(|err| PyOSError::new_err(format!("error reading request body: {err}")))
        })?;
        if let Some(left) = self.known_left.as_mut() {
            *left -= n as u64;
        }
        Ok(bytes)
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads one more block into the buffer; returns false at the end of the body.
    fn fill(&mut self, py: Python<'_>) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + self.block, 0);
        let target = &mut self.buf[start..];
        let got = with_transport(py, &self.link, |t| t.read_body(target));
        match got {
            Ok(n) => {
                if let Some(left) = self.known_left.as_mut() {
                    *left = left.saturating_sub(n as u64);
                }
                if n == self.block {
                    self.block = (self.block * 2).min(MAX_BLOCK);
                }
                self.buf.truncate(start + n);
                self.eof = n == 0;
                Ok(n > 0)
            }
            Err(err) => {
                self.buf.truncate(start);
                Err(PyOSError::new_err(format!(
                    "error reading request body: {err}"
                )))
            }
        }
    }

    /// Takes up to `n` buffered bytes.
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.buf.len() - self.pos);
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    /// One line (through `\n`), at most `limit` bytes, as Rust bytes.
    fn line(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<u8>> {
        let mut scanned = 0;
        loop {
            let available = self.buffered();
            let window = limit.map_or(available.len(), |l| l.min(available.len()));
            if let Some(i) = available[scanned..window].iter().position(|&b| b == b'\n') {
                return Ok(self.take(scanned + i + 1).to_vec());
            }
            if limit.is_some_and(|l| available.len() >= l) {
                return Ok(self.take(window).to_vec());
            }
            scanned = window;
            if !self.fill(py)? {
                let rest = self.buffered().len();
                return Ok(self.take(rest).to_vec());
            }
        }
    }
}

/// `None` or a negative size means "no limit", as for `io.RawIOBase`.
fn limit_of(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    /// Reads `size` bytes (fewer only at the end of the body), or everything left.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let limit = limit_of(size);
        if let Some(left) = self.known_left.filter(|&l| l > 0) {
            if self.buffered().is_empty() {
                let n = limit.map_or(left, |l| left.min(l as u64));
                if let Ok(n) = usize::try_from(n) {
                    if n > 0 {
                        return self.read_direct(py, n);
                    }
                }
            }
        }
        while limit.is_none_or(|l| self.buffered().len() < l) {
            if !self.fill(py)? {
                break;
            }
        }
        let n = limit.unwrap_or(usize::MAX);
        Ok(PyBytes::new(py, self.take(n)))
    }

    /// Reads one line, including its `\n`, of at most `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.line(py, limit_of(size))?;
        Ok(PyBytes::new(py, &line))
    }

    /// Reads lines until their total size reaches `hint` (all lines when there is none).
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = limit_of(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.line(py, None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.line(py, None)?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}
