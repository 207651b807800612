//! Prometheus metrics: what workers record per request, and what the master serves on
//! `--metrics-bind`.
//!
//! * [`shared`]: the block of shared memory, one region per scoreboard slot, that workers
//!   write (one writer per region, relaxed load and store) and the master reads;
//! * [`histogram`]: the fixed log-spaced latency buckets;
//! * [`record`]: a finished request, recorded in one call;
//! * [`exposition`]: the text formats (Prometheus 0.0.4, OpenMetrics 1.0.0);
//! * [`server`]: the master's small non-blocking HTTP/1.1 server for scrapes.
//!
//! Nothing here knows of the engine or the arbiter: the engine calls [`record`] where it
//! logs a request, the arbiter gathers a [`exposition::Snapshot`] and answers through
//! [`server`].

pub mod exposition;
pub mod histogram;
pub mod record;
pub mod server;
pub mod shared;

pub use record::Finished;
pub use shared::{Block, Counts, Region};
