//! Sans-IO uwsgi protocol (the binary packets nginx's `uwsgi_pass` sends): bytes in, the
//! request head the engine dispatches (the same [`crate::http::request::RequestHead`] as
//! for HTTP) and the packet's variables for the environ out.
//!
//! A packet (uWSGI's "uwsgi protocol", as `ngx_http_uwsgi_module` writes it):
//!
//! 1. a 4-byte header: `modifier1` (u8), the size of the variables block (u16,
//!    little-endian), `modifier2` (u8);
//! 2. the variables block: `key_size` (u16 LE), key, `value_size` (u16 LE), value, repeated;
//! 3. the request body, `CONTENT_LENGTH` bytes, unframed.
//!
//! Nothing here touches a socket or Python: [`packet`] decodes a packet's header and
//! variables, [`request`] turns them into a head and the facts the environ reports. The
//! response is plain HTTP/1.1 ([`crate::http::response`]), without chunked framing, and the
//! connection closes after it: nginx never reuses an upstream uwsgi connection.

pub mod packet;
pub mod request;

pub use packet::{MAX_VARS, Modifier, Packet, Vars, parse_packet};
pub use request::{Gateway, into_request};

use std::fmt;

/// Why a packet was refused. A uwsgi peer is a trusted front end, not a client: none of
/// these is answered, the connection is closed and the reason logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UwsgiError {
    /// A `modifier1` other than 0 (WSGI) and 30 (WSGI, SCRIPT_NAME stripped from PATH_INFO):
    /// another language's request or a uWSGI-internal packet.
    UnsupportedModifier(u8),
    /// A variables block larger than the request head limit (`--limit-request-head-size`).
    BlockTooLarge {
        /// The block's announced size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A size that points past the end of the variables block, or bytes left over that
    /// cannot hold a size; the text says which.
    Truncated(&'static str),
    /// A variable with an empty name.
    EmptyKey,
    /// More than [`MAX_VARS`] variables.
    TooManyVars,
    /// A `CONTENT_LENGTH` that is not a decimal number (or two that differ).
    BadContentLength,
    /// A `REQUEST_METHOD` that is not an HTTP token.
    BadMethod,
}

impl fmt::Display for UwsgiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UwsgiError::UnsupportedModifier(m) => {
                write!(
                    f,
                    "unsupported modifier1 {m} (only 0 and 30 are WSGI requests)"
                )
            }
            UwsgiError::BlockTooLarge { size, limit } => write!(
                f,
                "variables block of {size} bytes exceeds the request head limit of {limit}"
            ),
            UwsgiError::Truncated(what) => write!(f, "truncated variables block: {what}"),
            UwsgiError::EmptyKey => f.write_str("a variable with an empty name"),
            UwsgiError::TooManyVars => write!(f, "more than {MAX_VARS} variables"),
            UwsgiError::BadContentLength => f.write_str("invalid CONTENT_LENGTH"),
            UwsgiError::BadMethod => f.write_str("invalid REQUEST_METHOD"),
        }
    }
}

impl std::error::Error for UwsgiError {}
