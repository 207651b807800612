//! The error log and the access log.
//!
//! STUB (issue 4 contract): logging is still `tracing` to stderr, set up in `main`; this
//! module grows files, formats and reopening.

/// USR1: reopen the log files (after logrotate moved them). Called in the master and in
/// every worker.
pub fn reopen() {}
