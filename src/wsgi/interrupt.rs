//! `--soft-timeout`'s exception, `rsgi_server.RequestTimeout`, and raising it in another
//! thread with `PyThreadState_SetAsyncExc`, as mod_wsgi 6 raises its own `RequestTimeout`
//! (its `interrupt-timeout` recovery). Like mod_wsgi's, it derives from `BaseException`, so
//! an app's `except Exception:` does not swallow it by accident.
//!
//! The exception lands when the thread next runs Python bytecode: a thread blocked in a C
//! call (`time.sleep`, a socket read) gets it when the call returns.

use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::{create_exception, ffi};

create_exception!(
    rsgi_server,
    RequestTimeout,
    PyBaseException,
    "Raised in a request's thread when it runs longer than --soft-timeout without progress."
);

/// Makes `from rsgi_server import RequestTimeout` work: set on the `rsgi_server` package
/// when it is installed (the pip-installed server), otherwise on a module of that name made
/// for it (the standalone binary, where no such package exists).
pub fn register() {
    let made = Python::attach(|py| -> PyResult<()> {
        let class = py.get_type::<RequestTimeout>();
        let module = match py.import("rsgi_server") {
            Ok(module) => module,
            Err(_) => {
                let module = PyModule::new(py, "rsgi_server")?;
                py.import("sys")?
                    .getattr("modules")?
                    .set_item("rsgi_server", &module)?;
                module
            }
        };
        module.setattr("RequestTimeout", class)
    });
    if let Err(err) = made {
        tracing::warn!("rsgi_server.RequestTimeout cannot be made importable: {err}");
    }
}

/// Whether `err` is the soft timeout's exception (or the app's subclass of it).
pub fn is_request_timeout(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<RequestTimeout>(py)
}

/// Raises [`RequestTimeout`] in the Python thread `thread` (its `threading.get_ident()`),
/// if `claim` (run under the GIL) still says so. Returns the thread's stack as it was, most
/// recent call last; `None` when not claimed or no such Python thread exists.
pub fn raise_in(thread: u64, claim: impl FnOnce() -> bool) -> Option<String> {
    Python::attach(|py| {
        if !claim() {
            return None;
        }
        let stack = stack_of(py, thread).unwrap_or_else(|err| format!("(no stack: {err})\n"));
        let class = py.get_type::<RequestTimeout>();
        // SAFETY: the GIL is held; `class` is a live type object, which the thread state
        // keeps its own reference to.
        let found = unsafe {
            ffi::PyThreadState_SetAsyncExc(thread as std::os::raw::c_long, class.as_ptr())
        };
        (found > 0).then_some(stack)
    })
}

/// Drops an exception raised in `thread` that has not landed yet (its request ended first),
/// so that it does not hit the thread's next request.
pub fn clear_pending(thread: u64) {
    Python::attach(|_py| {
        // SAFETY: the GIL is held; a null exception clears the thread's pending one.
        unsafe {
            ffi::PyThreadState_SetAsyncExc(thread as std::os::raw::c_long, std::ptr::null_mut())
        };
    });
}

/// The stack of Python thread `thread`, formatted as a traceback (most recent call last).
fn stack_of(py: Python<'_>, thread: u64) -> PyResult<String> {
    let frames = py.import("sys")?.call_method0("_current_frames")?;
    let Some(frame) = frames.get_item(thread).ok() else {
        return Ok("(the thread runs no Python code)\n".to_owned());
    };
    let lines: Vec<String> = py
        .import("traceback")?
        .call_method1("format_stack", (frame,))?
        .extract()?;
    Ok(lines.concat())
}
