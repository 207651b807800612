//! The checks behind rsgi-server's fuzz targets (the HTTP codec and the uwsgi decoder), one module per target.
//!
//! Each module's `check` runs one input through a piece of the sans-IO codec and panics when
//! an invariant breaks. The targets in `fuzz_targets/` only call these, and the server crate's
//! integration tests include the same files (by `#[path]`, in `tests/it/main.rs`) and replay
//! inputs through them (`tests/it/http_fuzz_regressions.rs`), so a crash input replays through
//! exactly the checks that found it, on stable, under `cargo test`.
#![deny(missing_docs)]

pub mod chunked_body;
pub mod request_head;
pub mod response_chunked;
pub mod split;
pub mod uwsgi_packet;
