//! What a worker records when a request is finished, in one call on its region.

use super::shared::{Region, class_index, method_index};

/// One finished request, as the worker's event loop saw it.
#[derive(Clone, Copy, Debug)]
pub struct Finished<'a> {
    /// Its method (empty when the head could not be parsed: counted as `other`).
    pub method: &'a [u8],
    /// The status sent; 0 when no response was.
    pub status: u16,
    /// Nanoseconds waited for the application and spent in it, when it was called (not for
    /// what the server answered itself: bad requests, static files).
    pub app: Option<(u64, u64)>,
}

impl Region {
    /// Records a finished request.
    #[inline]
    pub fn record(&self, request: &Finished<'_>) {
        self.count_request(method_index(request.method), class_index(request.status));
        if let Some((queue_wait, duration)) = request.app {
            self.observe_app(queue_wait, duration);
        }
    }
}
