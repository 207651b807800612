//! What the master answers itself, between its supervision passes: each service is a set of
//! non-blocking descriptors the loop waits on beside the signals and the scoreboard's bell,
//! and a `serve` step that does whatever is ready without ever blocking (a slow or silent
//! peer must not stall supervision).
//!
//! The services stay single-threaded, in the loop, so the master remains one thread and
//! `fork` stays sound.

use super::Arbiter;
use nix::poll::PollFlags;
use std::os::fd::BorrowedFd;

impl Arbiter {
    /// The descriptors the services wait on, each with the readiness it waits for.
    pub(super) fn service_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = Vec::new();
        fds.extend(self.control.iter().flat_map(|c| c.fds()));
        fds.extend(self.metrics_fds());
        fds
    }

    /// Serves whatever is ready, without blocking; called after every wake-up.
    pub(super) fn serve(&mut self) {
        self.serve_control();
        self.serve_metrics();
    }
}
