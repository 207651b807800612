//! rsgi-server: a pre-fork WSGI (PEP 3333) application server.
//!
//! # Architecture
//!
//! ```text
//! main ── config ──> arbiter (master) ── fork ──> worker ── engine ──> wsgi ──> the app
//!                      │  listen (binds)            │         │
//!                      │  signals (self-pipe)       │         └── http (sans-IO codec)
//! ```
//!
//! * [`config`] turns CLI flags, `RSGI_*` variables and a TOML file into one validated
//!   [`config::Config`].
//! * [`listen`] binds every listener before any fork; workers inherit them.
//! * [`arbiter`] is the master: it owns the listeners and the worker table, forks workers,
//!   and reacts to signals recorded by [`signals`]. It runs Python only for `--preload` or
//!   master-side [`hooks`], with every fork bracketed by [`wsgi::interp`].
//! * [`worker`] is a child process: it initialises CPython, loads the app and runs the
//!   engine.
//! * [`engine`] is the worker's epoll event loop: it accepts, reads and parses requests
//!   with [`http`], buffers bodies, hands ready requests to [`wsgi`] (on the loop thread or a
//!   thread pool) and writes responses with backpressure. It never touches Python types.
//! * [`http`] is the sans-IO HTTP/1.1 codec: no sockets, no clocks, no Python.
//! * [`wsgi`] is where requests meet pyo3: environ, `start_response`, `wsgi.input`, the
//!   response iterable, and the interpreter itself. Python outside requests lives in
//!   [`hooks`] (gunicorn's server hooks) and [`reloader`] (`--reload`); the worker's reaction
//!   to a timeout is [`engine::abort`].
//! * [`tls`] builds the rustls configuration in the master and holds each connection's
//!   session; the engine's exchange reads and writes through it.
//! * [`proxy`] decides what to believe about a client behind proxies: the PROXY protocol
//!   header a connection may start with, and trusted `X-Forwarded-*`/`Forwarded` headers.
//! * [`logging`] writes the error log and the access log (text or JSON), captures the app's
//!   output, and reopens the files on SIGUSR1.
#![deny(missing_docs)]

pub mod arbiter;
pub mod config;
mod decimal;
pub mod engine;
pub mod exit;
pub mod http;
pub mod listen;
pub mod logging;
pub mod peer;
pub mod process;
pub mod proxy;
pub mod scoreboard;
pub mod signals;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod worker;
pub mod wsgi;
