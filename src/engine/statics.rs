//! The seam where the engine answers what needs no Python: after a request head is
//! parsed and before it is dispatched, a request under a `--static-map` mount is answered
//! by [`crate::static_files`] and sent from the loop thread (never a pool thread), its file
//! body flushed with sendfile(2) as the client takes it. The rules (paths, validators,
//! ranges) are that module's; this file only moves its reply onto the connection.

use super::Engine;
use super::exchange::Body;
use super::spool::BodyReader;
use crate::http::body::BodyFraming;
use crate::http::request::RequestHead;
use crate::static_files::{Answer, Reply};
use crate::wsgi::Outcome;

impl<'a> Engine<'a> {
    /// Answers `head` from the static mounts when it is theirs; returns whether it did.
    // Out of line: the request path without static mounts pays one test, not this frame.
    #[inline(never)]
    pub(super) fn serve_static(&mut self, key: usize, head: &RequestHead) -> bool {
        let Some(statics) = self.settings.statics.as_deref() else {
            return false;
        };
        match statics.answer(head) {
            Answer::Pass => false,
            Answer::Reply(reply) => {
                self.send_reply(key, head, reply, true);
                true
            }
        }
    }

    /// Sends a reply the server composed for `head`, then goes on as after any response;
    /// `logged`: it is counted and logged as a request (a health probe is neither).
    pub(super) fn send_reply(
        &mut self,
        key: usize,
        head: &RequestHead,
        reply: Reply,
        logged: bool,
    ) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Some(mut ex) = conn.ex.take() else {
            return;
        };
        ex.begin(head, self.draining, Body::Buffered(BodyReader::empty()));
        if head.framing != BodyFraming::Empty {
            // A body nobody reads: the connection ends after the answer.
            ex.close_after();
        }
        ex.send_reply(reply);
        conn.deadline = None;
        if logged {
            self.complete(key, head, Outcome::Complete, ex);
        } else {
            let keep = ex.end_request(Outcome::Complete, head.is_head());
            self.conclude(key, head, keep, ex);
        }
    }
}
