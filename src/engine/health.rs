//! Health probes on the main listeners (`--health-path-prefix`): answered on the loop
//! thread, without Python, from the readiness the master published in the scoreboard
//! ([`crate::health`]); with `--threads` > 1 a probe is answered even while every Python
//! thread is busy.
//!
//! Probes are not the application's requests: they are not in the access log (a platform
//! polls every few seconds per instance, which would drown the log) and do not count
//! towards `--max-requests`.

use super::Engine;
use crate::health::{self, HEADERS, Probe, View};
use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use crate::static_files::{Body as ReplyBody, Reply};

impl<'a> Engine<'a> {
    /// Answers `head` if it is a probe under the health prefix; returns whether it did.
    // Out of line: the request path without probes pays one test, not this frame.
    #[inline(never)]
    pub(super) fn serve_health(&mut self, key: usize, head: &RequestHead) -> bool {
        let Some(paths) = self.settings.health.as_deref() else {
            return false;
        };
        let Some(which) = paths.which(head.path()) else {
            return false;
        };
        let reply = match head.method_bytes() {
            b"GET" | b"HEAD" => {
                let probe = match self.beats.seat() {
                    Some(seat) => health::probe(which, &View::of(seat.server)),
                    // Beyond the scoreboard's capacity: nothing published to read.
                    None => Probe {
                        status: 503,
                        body: "unknown: this worker has no scoreboard slot\n".to_owned(),
                    },
                };
                probe_reply(&probe, head.is_head())
            }
            _ => not_allowed(),
        };
        self.send_reply(key, head, reply, false);
        true
    }
}

/// The HTTP reply carrying `probe`.
fn probe_reply(probe: &Probe, head_only: bool) -> Reply {
    let mut head = ResponseHead::new(probe.status, probe.reason().as_bytes(), 128);
    for (name, value) in HEADERS {
        head.push_header(name.as_bytes(), value.as_bytes());
    }
    let len = probe.body.len().to_string();
    head.push_header(b"Content-Length", len.as_bytes());
    let body = if head_only {
        ReplyBody::Empty
    } else {
        ReplyBody::Text(probe.body.clone().into_bytes())
    };
    Reply { head, body }
}

/// 405 for a probe asked with another method than GET or HEAD.
fn not_allowed() -> Reply {
    let text = b"405 Method Not Allowed\n".to_vec();
    let mut head = ResponseHead::new(405, b"Method Not Allowed", 128);
    head.push_header(b"Content-Type", b"text/plain; charset=utf-8");
    head.push_header(b"Allow", b"GET, HEAD");
    head.push_header(b"Content-Length", text.len().to_string().as_bytes());
    Reply {
        head,
        body: ReplyBody::Text(text),
    }
}
