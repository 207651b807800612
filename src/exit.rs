//! A worker's exit status, as the master reads it (gunicorn's numbers): [`EXIT_BOOT_ERROR`]
//! and [`EXIT_APP_LOAD_ERROR`] stop the whole server instead of a respawn loop;
//! [`EXIT_TIMEOUT`] follows a timeout abort; [`EXIT_PANIC`] is a bug in the server itself,
//! on any of the worker's threads. Every other status means an ordinary exit.

/// The worker could not start (Python failed to initialise).
pub const EXIT_BOOT_ERROR: i32 = 3;
/// The application could not be imported.
pub const EXIT_APP_LOAD_ERROR: i32 = 4;
/// The worker was told it timed out (SIGABRT) and exited after reporting it.
pub const EXIT_TIMEOUT: i32 = 5;
/// A Rust panic (a bug in rsgi-server) on one of the worker's threads ended the worker.
pub const EXIT_PANIC: i32 = 6;
