//! PEP 3333 semantics of the WSGI layer, rule by rule, through [`MemoryTransport`]: no
//! sockets, no server process. Each app is a small module of Python written inline, started
//! with `prelude.py` (its `events` list and `Body` iterable are what the tests observe).

mod body;
mod close;
mod environ;
mod input;
mod pause;
mod start_response;
mod write;

use super::testing::{MemoryTransport, TestRequest, python};
use super::{App, Call, Outcome, ServerInfo, Step, environ as env};
use pyo3::prelude::*;
use pyo3::types::PyModule;
use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An application under test and the module it was defined in.
pub(super) struct TestApp {
    app: App,
    module: Py<PyModule>,
}

/// Loads `code`, which defines `app(environ, start_response)`, mounted at the root.
pub(super) fn app(code: &str) -> TestApp {
    app_with(code, server(""))
}

pub(super) fn server(root_path: &str) -> ServerInfo {
    ServerInfo {
        root_path: root_path.to_owned(),
        multiprocess: false,
        multithread: false,
        underscores: Default::default(),
    }
}

pub(super) fn app_with(code: &str, server: ServerInfo) -> TestApp {
    // Tests run in parallel threads under `cargo test`: each app gets a module of its own.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    python();
    let name = format!("rsgi_unit_app_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let source = format!("{}\n{}", include_str!("prelude.py"), dedent(code));
    let cstr = |s: &str| CString::new(s).expect("no NUL in test code");
    Python::attach(|py| {
        let module = PyModule::from_code(
            py,
            &cstr(&source),
            &cstr(&format!("{name}.py")),
            &cstr(&name),
        )
        .unwrap_or_else(|err| panic!("test app does not load: {err}"));
        let callable = module.getattr("app").expect("the module defines app");
        TestApp {
            app: App {
                callable: callable.unbind(),
                environ: env::EnvironTemplate::new(py, server).expect("environ template"),
                spare: std::sync::Mutex::new(None),
            },
            module: module.unbind(),
        }
    })
}

impl TestApp {
    pub(super) fn start(
        &self,
        req: &TestRequest,
        transport: MemoryTransport,
    ) -> (Call<MemoryTransport>, Step) {
        self.app.start(req.request(), transport)
    }

    /// Serves `req` to the end; the transport must not have paused it.
    pub(super) fn serve(
        &self,
        req: &TestRequest,
        transport: MemoryTransport,
    ) -> (Outcome, MemoryTransport) {
        let (call, step) = self.start(req, transport);
        let Step::Done(outcome) = step else {
            panic!("the call paused; use start() and resume()");
        };
        (outcome, self.end(call))
    }

    /// Ends a finished call as the driver does (keeping its `start_response` for the next
    /// request when it can), checking the layer used the transport correctly.
    pub(super) fn end(&self, call: Call<MemoryTransport>) -> MemoryTransport {
        checked(self.app.end(call))
    }

    /// Serves `GET target` on a transport that takes everything.
    pub(super) fn get(&self, target: &str) -> (Outcome, MemoryTransport) {
        let req = TestRequest::get(target);
        self.serve(&req, req.transport())
    }

    /// The module's `events`, as the app and its body recorded them.
    pub(super) fn events(&self) -> Vec<String> {
        self.eval("events")
    }

    /// Python statements run in the app's module.
    pub(super) fn exec(&self, code: &str) {
        Python::attach(|py| {
            let globals = self.module.bind(py).dict();
            let source = CString::new(dedent(code)).expect("no NUL");
            py.run(&source, Some(&globals), None)
                .unwrap_or_else(|err| panic!("{code}: {err}"));
        })
    }

    /// A Python expression evaluated in the app's module.
    pub(super) fn eval<T: for<'py> FromPyObjectOwned<'py>>(&self, expr: &str) -> T {
        Python::attach(|py| {
            let globals = self.module.bind(py).dict();
            let code = CString::new(expr).expect("no NUL");
            let value = py
                .eval(&code, Some(&globals), None)
                .unwrap_or_else(|err| panic!("{expr}: {err}"));
            <T as FromPyObject>::extract(value.as_borrowed())
                .unwrap_or_else(|_| panic!("{expr}: unexpected type"))
        })
    }
}

/// Takes the transport back from a finished call, checking the layer used it correctly.
pub(super) fn done(call: Call<MemoryTransport>) -> MemoryTransport {
    checked(call.into_transport())
}

/// `transport`, once checked for misuse by the layer.
fn checked(transport: MemoryTransport) -> MemoryTransport {
    assert!(
        transport.violations.is_empty(),
        "transport misused: {:?}",
        transport.violations
    );
    transport
}

/// Removes the indentation common to every non-blank line, so apps can be written indented
/// like the Rust around them.
fn dedent(code: &str) -> String {
    let indent = code
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    code.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The events as `&str`s, for comparing with a literal list.
pub(super) fn strs(events: &[String]) -> Vec<&str> {
    events.iter().map(String::as_str).collect()
}
