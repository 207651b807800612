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
//! * [`start`] runs the command, for the standalone binary and the pip-installed package
//!   alike.
//! * [`settings`] declares every option once (flag, TOML key, `RSGI_*` variable, default,
//!   docs); [`config`] reads the command line, the environment and a TOML file into those
//!   raw settings and validates them into one [`config::Config`] of groups, each the value
//!   the module that consumes it declared.
//! * [`listen`] binds every listener before any fork; workers inherit them.
//! * [`arbiter`] is the master: it owns the listeners and the worker table, forks workers,
//!   and reacts to signals recorded by [`signals`]; [`process`] is its housekeeping (pid
//!   file, privileges, daemon, systemd, binary upgrade). It runs Python only for `--preload`
//!   or master-side server hooks, with every fork bracketed by [`wsgi::interp`]. It takes
//!   commands on [`control`]'s socket (`rsgi-server ctl`, gunicorn's `gunicornc`).
//! * [`worker`] is a child process: it initialises CPython, loads the app and runs the
//!   engine; its exit status speaks to the master through [`exit`].
//! * [`engine`] is the worker's epoll event loop: it accepts, reads and parses requests
//!   with [`http`], buffers bodies, hands ready requests to [`wsgi`] (on the loop thread or a
//!   thread pool) and writes responses with backpressure. It neither calls Python nor names
//!   a Python type: it holds wsgi's opaque values (a call in progress, a connection's view
//!   for the environ) and asks wsgi to run a call or give a pool thread its thread state.
//! * [`http`] is the sans-IO HTTP/1.1 codec: no sockets, no clocks, no Python; [`uwsgi`]
//!   decodes nginx's uwsgi packets into the same request head, as sans-IO.
//! * [`wsgi`] is where requests meet pyo3: environ, `start_response`, `wsgi.input`, the
//!   response iterable, and the interpreter itself; Python outside requests lives there too
//!   (gunicorn's server hooks, `--reload`).
//! * [`peer`] says who a connection's client is; [`tls`] builds the rustls configuration in
//!   the master and holds each connection's session; [`proxy`] decides what to believe
//!   about a client behind proxies (the PROXY protocol, trusted `X-Forwarded-*` and
//!   `Forwarded` headers); [`logging`] writes the error and access logs and reopens them on
//!   SIGUSR1; [`health`] answers `/livez` and `/readyz` from what the master published in
//!   the scoreboard; [`metrics`] holds what workers record per request in shared memory
//!   and the master's Prometheus scrape server; [`shed`] says when a request waited too
//!   long to be worth running, and [`request_id`] names each request.
//!
//! # Layers
//!
//! A module uses only modules of its own layer or of the layers above it in this list, and
//! no two modules use each other (`tests/it/source_layering.rs` checks both on every
//! `crate::` path):
//!
//! 1. Foundations, plain values and primitives: `decimal`, `exit`, `peer`, `http`,
//!    `uwsgi`, `scoreboard`, `signals`, `settings`.
//! 2. Subsystems that declare their own settings: `tls`, `proxy`, `logging`,
//!    `static_files`, `health`, `shed`, `request_id`.
//! 3. Configuration: `config`.
//! 4. The operating system: `listen`, `process`, `control`, `metrics`.
//! 5. Python: `wsgi`.
//! 6. The event loop: `engine`.
//! 7. The worker process: `worker`.
//! 8. The master: `arbiter`.
//! 9. The command: `start`.
#![deny(missing_docs)]

pub mod arbiter;
pub mod config;
pub mod control;
mod decimal;
pub mod engine;
pub mod exit;
pub mod health;
pub mod http;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod peer;
pub mod process;
pub mod proxy;
pub mod request_id;
pub mod scoreboard;
pub mod settings;
pub mod shed;
pub mod signals;
pub mod start;
pub mod static_files;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod uwsgi;
pub mod worker;
pub mod wsgi;
