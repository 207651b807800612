//! Replies the server composes rather than the application ([`crate::static_files`]): a
//! static file, or the file an application named in its offload header (`X-Sendfile`,
//! `X-Accel-Redirect`), whose body replaces the application's.

use super::Exchange;
use super::output::PendingFile;
use crate::http::response::{self, BodyEncoder, ResponseFraming, ResponseHead};
use crate::static_files::{Body, Preconditions, Reply};

impl Exchange {
    /// Queues `reply` for the loop to send: its head, and its body (a file is sent with
    /// sendfile(2), or a TLS record at a time, as the client takes it).
    pub fn send_reply(&mut self, reply: Reply) {
        let known = reply.body.length();
        self.head_out(reply.head, Some(known));
        match reply.body {
            Body::Empty => {}
            Body::Text(text) => {
                if let Ok((framed, _)) = self.frame(&text) {
                    self.out.extend_from_slice(framed.data);
                    self.out.extend_from_slice(framed.suffix);
                }
            }
            Body::File { fd, offset, len } => {
                if self
                    .framing
                    .is_some_and(|f| f.body != ResponseFraming::NoBody)
                {
                    if let Some(encoder) = self.encoder.as_mut() {
                        encoder.advance(len);
                    }
                    self.file = Some(PendingFile {
                        fd,
                        offset: offset as i64,
                        remaining: len,
                        counted: true,
                    });
                    self.response.body_bytes += len;
                }
            }
        }
    }

    /// The connection closes after this exchange.
    pub fn close_after(&mut self) {
        self.must_close = true;
    }

    /// The application's head names a file to send instead of its body: answers with it
    /// and swallows the body. Returns whether it did.
    #[inline(never)]
    pub(super) fn offload(&mut self, head: &ResponseHead) -> bool {
        let Some(offload) = self.shared.offload.clone() else {
            return false;
        };
        let Some(value) = head.header(offload.header()) else {
            return false;
        };
        let pre = self.offload_pre.take().unwrap_or_default();
        let reply = offload.answer(value, head, &pre);
        self.replaced = true;
        self.send_reply(reply);
        true
    }

    /// Frames and encodes `head` into the output, as the request and the head decide.
    #[inline(always)]
    pub(super) fn head_out(&mut self, head: ResponseHead, known_length: Option<u64>) {
        if self.must_close {
            self.terms.server_close = true;
        }
        let framing = response::decide(self.terms, &head, known_length);
        response::encode_head(&mut self.out, &head, framing, &self.date);
        if let (Some(header), Some(id)) = (&self.shared.request_id, &self.request_id) {
            // The request's ID goes back to the client, unless the app answered with its
            // own. Added to the encoded head rather than to `head`, whose buffer was sized
            // for the app's headers (growing it is an allocation and a copy).
            if !head.has_header(header.lower.as_bytes()) {
                let end = self.out.len() - 2;
                self.out.truncate(end);
                response::push_header(&mut self.out, header.name.as_bytes(), id.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
        self.encoder = Some(BodyEncoder::new(framing.body));
        self.framing = Some(framing);
        self.response.status = head.status;
        self.response.head = Some(head);
    }

    /// Notes what an offloaded reply needs of the request about to run (only with
    /// `--sendfile-header`).
    #[inline(never)]
    pub(super) fn keep_preconditions(&mut self, head: &crate::http::request::RequestHead) {
        self.replaced = false;
        self.offload_pre = self
            .shared
            .offload
            .is_some()
            .then(|| Box::new(Preconditions::of(head)));
    }
}
