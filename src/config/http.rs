//! What the server accepts from a client, and how long it waits for one: the codec's size
//! limits, request bodies, and the client-side deadlines.

use crate::http::{Leniency, Limits, is_token};
use crate::proxy::underscore::Underscores;
use crate::settings::{Check, ConfigError, Settings, group};
use std::path::PathBuf;
use std::time::Duration;

group! {
    /// The clients' side of the engine: deadlines, keep-alive, request bodies and the
    /// request codec's limits.
    #[derive(Clone, Debug, PartialEq)]
    pub struct HttpSettings from (s, v) {
        /// How long a client has to deliver a complete request head (408 after); `None`
        /// disables.
        pub header_timeout: Option<Duration> = v.seconds_or_off(s.header_timeout())?,
        /// Longest wait for the next bytes of a request body (408 after); `None` disables.
        pub body_timeout: Option<Duration> = v.seconds_or_off(s.body_timeout())?,
        /// Longest wait for a client to accept more response bytes (close after); `None`
        /// disables.
        pub send_timeout: Option<Duration> = v.seconds_or_off(s.send_timeout())?,
        /// How long an idle persistent connection is kept; `None` disables keep-alive.
        pub keep_alive: Option<Duration> = v.seconds_or_off(s.keep_alive())?,
        /// Call the app only once the whole request body has arrived (false: once the head
        /// has).
        pub request_buffering: bool = v.flag(s.request_buffering()),
        /// Request bodies up to this many bytes stay in memory; larger ones go to a
        /// temporary file.
        pub body_buffer_size: u64 = v.number(s.body_buffer_size(), 0..=i64::from(u32::MAX))?,
        /// Where spooled bodies go (checked to exist); `None` means
        /// [`std::env::temp_dir`].
        pub tmp_upload_dir: Option<PathBuf> = v.existing_dir(s.tmp_upload_dir())?,
        /// Largest request body accepted (413 beyond); `None` means no limit.
        pub limit_request_body: Option<u64> = v.count_or_off(s.limit_request_body(), i64::MAX)?,
        /// Send `wsgi.file_wrapper` files with sendfile(2) (false: read and written in
        /// blocks).
        pub sendfile: bool = v.flag(s.sendfile()),
        /// Send the responses finished in one batch with one io_uring submission where the
        /// kernel allows (false: one send(2) each).
        pub io_uring: bool = v.flag(s.io_uring()),
        /// The request codec's size limits (`--limit-request-line`, `--limit-request-fields`,
        /// `--limit-request-field-size`, `--limit-request-head`, `--limit-chunk-ext-size`,
        /// `--limit-trailer-size`) and gunicorn's parser switches (`--permit-*`,
        /// `--strip-header-spaces`, `--casefold-http-method`).
        pub limits: Limits = limits(s, v)?,
        /// Header names with `_` (`--header-map`, `--forwarder-headers`).
        pub underscores: Underscores = underscores(s, v)?,
        /// `--http-parser`, checked and otherwise ignored: there is one parser.
        pub http_parser: &'static str = v.choice(
            s.http_parser(),
            |p| HTTP_PARSERS.into_iter().find(|k| p.trim().eq_ignore_ascii_case(k)),
            "auto, fast or python (all mean the one parser rsgi has)",
        )?,
    }
}

/// gunicorn's `--http-parser` values.
const HTTP_PARSERS: [&str; 3] = ["auto", "fast", "python"];

/// `--header-map` and `--forwarder-headers`: each forwarder a header name or `*`.
fn underscores(s: &Settings, v: &Check<'_>) -> Result<Underscores, ConfigError> {
    let map = v.choice(
        s.header_map(),
        |m| m.parse().ok(),
        "drop, refuse or dangerous",
    )?;
    let forwarders = v.each(s.forwarder_headers(), |name| {
        let name = name.trim();
        if name == "*" || name.is_empty() || is_token(name.as_bytes()) {
            Ok(name.to_owned())
        } else {
            Err("header names (such as SCRIPT_NAME), or * for all".to_owned())
        }
    })?;
    Ok(Underscores::new(map, forwarders))
}

/// Largest `--limit-request-line` (and what 0 means).
pub(super) const MAX_REQUEST_LINE: i64 = 65536;
/// Largest `--limit-request-fields` (gunicorn's maximum, and what 0 means).
pub(super) const MAX_REQUEST_FIELDS: i64 = 32768;
/// Largest `--limit-request-field-size` (and what 0 means).
pub(super) const MAX_FIELD_SIZE: i64 = 65536;
/// Largest `--limit-request-head`.
pub(super) const MAX_HEAD_SIZE: i64 = 16 * 1024 * 1024;
/// Largest `--limit-chunk-ext-size` and `--limit-trailer-size`.
pub(super) const MAX_FRAMING_LINE: i64 = 65536;

/// The codec limits. Gunicorn's three take 0 for "unlimited"; here it means the documented
/// maximum, so no setting lets a client make a worker buffer an unbounded head.
fn limits(s: &Settings, v: &Check<'_>) -> Result<Limits, ConfigError> {
    let gunicorn_style = |raw, max: i64| match v.whole(raw, 0..=max) {
        Ok(0) => Ok(max as usize),
        Ok(n) => Ok(n as usize),
        Err(_) => Err(v.refuse(
            raw,
            &format!("a whole number from 0 to {max} (0 means {max})"),
        )),
    };
    Ok(Limits {
        request_line: gunicorn_style(s.limit_request_line(), MAX_REQUEST_LINE)?,
        header_count: gunicorn_style(s.limit_request_fields(), MAX_REQUEST_FIELDS)?,
        header_field_size: gunicorn_style(s.limit_request_field_size(), MAX_FIELD_SIZE)?,
        head_size: match v.whole(s.limit_request_head(), 0..=MAX_HEAD_SIZE)? {
            0 => usize::MAX,
            n => n as usize,
        },
        chunk_line: v.number(s.limit_chunk_ext_size(), 1..=MAX_FRAMING_LINE)?,
        trailer_size: v.number(s.limit_trailer_size(), 0..=MAX_FRAMING_LINE)?,
        leniency: Leniency {
            obs_fold: v.flag(s.permit_obsolete_folding()),
            strip_header_spaces: v.flag(s.strip_header_spaces()),
            unconventional_method: v.flag(s.permit_unconventional_http_method()),
            casefold_method: v.flag(s.casefold_http_method()),
            unconventional_version: v.flag(s.permit_unconventional_http_version()),
        },
        ..Limits::default()
    })
}
