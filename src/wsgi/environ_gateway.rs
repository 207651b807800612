//! The environ of a request that came in a uwsgi packet: its variables as nginx's
//! `uwsgi_params` define them, each one a key as sent (as uWSGI does), plus the `wsgi.*`
//! keys. Nothing is decoded again: `PATH_INFO` is nginx's `$document_uri`, already
//! percent-decoded.
//!
//! Rules:
//! 1. Every variable becomes a key, latin-1 both ways (PEP 3333's native strings); a later
//!    repeat replaces an earlier one. Names starting with `wsgi.` are skipped: the server's
//!    own keys (`wsgi.input`...) are not a front end's to replace; so is
//!    `HTTP_TRANSFER_ENCODING`, which describes the client's body, not the packet's.
//! 2. `SCRIPT_NAME` is the packet's, else `--root-path`. With modifier1 30 the packet's
//!    `SCRIPT_NAME` is stripped from the front of `PATH_INFO`; with `--root-path` the root
//!    is stripped as for HTTP.
//! 3. `wsgi.url_scheme` is https when `HTTPS` is on (or `REQUEST_SCHEME` is https).
//! 4. What the packet leaves out comes from the request head or the connection
//!    (`REQUEST_METHOD` GET, `SERVER_PROTOCOL` HTTP/1.1, the listener's address).

use super::environ::{EnvironTemplate, strip_root};
use super::input::Input;
use super::native::from_latin1;
use super::{Link, Request};
use crate::uwsgi::{Gateway, Modifier};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Builds the environ of a uwsgi request (see the rules above). Kept out of line: the HTTP
/// environ's builder only branches here.
#[cold]
#[inline(never)]
pub(super) fn build<'py>(
    py: Python<'py>,
    template: &EnvironTemplate,
    request: &Request<'_>,
    gateway: &Gateway,
    input: Option<Link>,
) -> PyResult<Bound<'py, PyDict>> {
    let (head, conn) = (request.head, &request.conn.info);
    let env = template.template.bind(py).copy()?;
    // What every environ has, whether or not the packet says it (rule 4).
    env.set_item(intern!(py, "REQUEST_METHOD"), head.method())?;
    env.set_item(intern!(py, "PATH_INFO"), intern!(py, ""))?;
    env.set_item(intern!(py, "QUERY_STRING"), intern!(py, ""))?;
    env.set_item(intern!(py, "RAW_URI"), from_latin1(py, head.target()))?;
    env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.1"))?;
    env.set_item(intern!(py, "REMOTE_ADDR"), &conn.remote_addr)?;
    env.set_item(intern!(py, "REMOTE_PORT"), &conn.remote_port)?;
    env.set_item(intern!(py, "SERVER_NAME"), &conn.server_name)?;
    env.set_item(intern!(py, "SERVER_PORT"), &conn.server_port)?;
    for (key, value) in gateway.vars.iter() {
        // nginx passes a chunked request's Transfer-Encoding on, though the body it sends
        // is the de-chunked one of CONTENT_LENGTH bytes: the app reads what the packet
        // carries (as the HTTP side does with a chunked body it received whole).
        if key.starts_with(b"wsgi.") || key == b"HTTP_TRANSFER_ENCODING" {
            continue;
        }
        env.set_item(from_latin1(py, key), from_latin1(py, value))?;
    }
    if gateway.vars.get("HTTP_HOST").is_none() {
        // The template's placeholder, which only a packet's own HTTP_HOST replaces.
        env.del_item(intern!(py, "HTTP_HOST"))?;
    }
    let path_info = gateway.vars.get("PATH_INFO").unwrap_or_default();
    match gateway.vars.get("SCRIPT_NAME") {
        Some(script_name) => {
            if gateway.modifier == Modifier::StripScriptName {
                if let Some(rest) = path_info.strip_prefix(script_name) {
                    env.set_item(intern!(py, "PATH_INFO"), from_latin1(py, rest))?;
                }
            }
        }
        None => {
            // The template's SCRIPT_NAME is the root path.
            let root = template.root_path.as_bytes();
            let rest = strip_root(path_info, root);
            if rest.len() != path_info.len() {
                env.set_item(intern!(py, "PATH_INFO"), from_latin1(py, rest))?;
            }
        }
    }
    if conn.url_scheme == "https" {
        env.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "https"))?;
    }
    // After the packet's variables: the ID replaces what the front end passed on.
    if let Some((key, id)) = request.request_id {
        super::environ::set_request_id(py, &env, key, id)?;
    }
    if let Some(link) = input {
        env.set_item(
            intern!(py, "wsgi.input"),
            Py::new(py, Input::new(link, request.body_length))?,
        )?;
    }
    Ok(env)
}
