//! The PEP 3333 environ: CGI variables from the request head and connection, plus the
//! `wsgi.*` keys.
//!
//! Strings follow PEP 3333's "native string" rule: bytes from the wire become `str` by
//! latin-1, one code point per byte, so the app can recover the exact bytes. The process
//! environment is deliberately not copied in (it would leak secrets to every request and cost
//! a copy of every variable per request).

use super::environ_reuse::{Keeper, LastEnviron, SharedLast};
use super::errors::ErrorStream;
use super::file_wrapper::FileWrapper;
use super::input::Input;
use super::native::from_latin1;
use super::{Link, Request, ServerInfo};
use crate::http::body::BodyFraming;
use crate::http::request::RequestHead;
use crate::peer::ConnInfo;
use crate::proxy::underscore::{Fate, Underscores};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{ffi, intern};
use std::sync::Mutex;

/// A connection as its requests' environs see it: its facts, and the Python strings made
/// from them by one request for the next ones. A new view (a request whose trusted proxy
/// headers change the facts) starts with no strings.
#[derive(Debug)]
pub struct ConnView {
    /// The connection's facts.
    pub info: ConnInfo,
    strings: ConnStrings,
}

impl ConnView {
    /// A view of `info` with no strings made yet.
    pub fn new(info: ConnInfo) -> ConnView {
        ConnView {
            info,
            strings: ConnStrings::default(),
        }
    }
}

/// Environ strings that stay the same from one request to the next on a connection, made
/// once rather than per request: `REMOTE_ADDR` and `REMOTE_PORT`, and what a Host value
/// gives (`HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT`), kept while it is unchanged.
///
struct ConnStrings {
    peer: PyOnceLock<[Py<PyString>; 2]>,
    /// Requests on a connection run one at a time, so this lock is never contended; it is
    /// only tried (with the GIL held, nothing may be waited for).
    host: Mutex<Option<HostStrings>>,
}

/// The strings one Host value gives.
struct HostStrings {
    /// The Host value they were made from.
    value: Vec<u8>,
    /// `HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT`.
    strings: [Py<PyString>; 3],
    /// The worker's template with the connection's keys already set (the three above, the
    /// peer's and the scheme), made when a second request brings the same Host: later ones
    /// copy it and skip six lookups and stores each, a tenth of a keep-alive hello's work.
    /// Not made for the first request, so a connection that sends one costs nothing more.
    environ: Option<Py<PyDict>>,
    /// The environ the last request made from `environ` got, which the next may reuse.
    last: SharedLast,
}

impl Default for ConnStrings {
    fn default() -> Self {
        ConnStrings {
            peer: PyOnceLock::new(),
            host: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for ConnStrings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnStrings")
    }
}

impl ConnStrings {
    /// `HTTP_HOST`, `SERVER_NAME` and `SERVER_PORT` for a request whose Host is `value`;
    /// on the second request with that Host, also makes the connection's environ by
    /// `make_environ` (from the three strings) for the next ones.
    fn host<'py>(
        &self,
        py: Python<'py>,
        conn: &ConnInfo,
        value: &[u8],
        make_environ: impl FnOnce(&[Bound<'py, PyString>; 3]) -> PyResult<Py<PyDict>>,
    ) -> PyResult<[Bound<'py, PyString>; 3]> {
        let Ok(mut cached) = self.host.try_lock() else {
            return Ok(host_strings(py, conn, value));
        };
        if let Some(hit) = cached.as_mut().filter(|c| c.value == value) {
            let strings = hit.strings.each_ref().map(|s| s.bind(py).clone());
            if hit.environ.is_none() {
                hit.environ = Some(make_environ(&strings)?);
            }
            return Ok(strings);
        }
        let strings = host_strings(py, conn, value);
        *cached = Some(HostStrings {
            value: value.to_vec(),
            strings: strings.each_ref().map(|s| s.clone().unbind()),
            environ: None,
            last: SharedLast::default(),
        });
        Ok(strings)
    }

    /// The connection's environ for `head`, whose Host is `value`, if one was made for that
    /// Host: the previous request's when it may be reused, else a copy.
    fn environ<'py>(
        &self,
        py: Python<'py>,
        value: &[u8],
        head: &RequestHead,
    ) -> Option<PyResult<Prepared<'py>>> {
        let cached = self.host.try_lock().ok()?;
        let hit = cached.as_ref().filter(|c| c.value == value)?;
        let environ = hit.environ.as_ref()?;
        let last = hit.last.clone();
        let reused = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(py, head);
        let (env, reused) = match reused {
            Some(env) => (env, true),
            None => match environ.bind(py).copy() {
                Ok(env) => (env, false),
                Err(err) => return Some(Err(err)),
            },
        };
        Some(Ok(Prepared { env, reused, last }))
    }
}

/// A request's environ made from its connection's ([`ConnStrings::environ`]).
struct Prepared<'py> {
    env: Bound<'py, PyDict>,
    /// The previous request's dict: every key the request sets is there already.
    reused: bool,
    /// Where the next request may find it ([`LastEnviron::prepare`]).
    last: SharedLast,
}

/// `HTTP_HOST`, `SERVER_NAME` and `SERVER_PORT` from a Host value.
fn host_strings<'py>(py: Python<'py>, conn: &ConnInfo, value: &[u8]) -> [Bound<'py, PyString>; 3] {
    let [name, port] = server_name_port(py, conn, Some(value));
    [from_latin1(py, value), name, port]
}

/// `SERVER_NAME` and `SERVER_PORT`: the name from the request's host when it names one, else
/// the listener's; the port the request was received on (on a Unix socket, which has none,
/// the host's port or the scheme's default, as gunicorn does).
fn server_name_port<'py>(
    py: Python<'py>,
    conn: &ConnInfo,
    host: Option<&[u8]>,
) -> [Bound<'py, PyString>; 2] {
    match host.and_then(split_host) {
        Some((name, port)) => [
            from_latin1(py, name),
            match port {
                _ if conn.port_received => PyString::new(py, &conn.server_port),
                Some(port) => from_latin1(py, port),
                None if conn.url_scheme == "https" => intern!(py, "443").clone(),
                None => intern!(py, "80").clone(),
            },
        ],
        None => [
            PyString::new(py, &conn.server_name),
            PyString::new(py, &conn.server_port),
        ],
    }
}

/// What every environ of a worker starts from.
pub(crate) struct EnvironTemplate {
    pub(super) root_path: String,
    underscores: Underscores,
    /// Every environ starts as a copy of this: the keys that are the same for every request
    /// already set, and those every request sets present (with the usual request's value, or
    /// `None`), in a table presized
    /// for the usual headers. Copying it is one memcpy of the table, where building each
    /// environ key by key would insert, hash and grow the table over and over.
    pub(super) template: Py<PyDict>,
}

/// Keys every request sets; present in the template so the copy never has to grow for them.
/// `HTTP_HOST` is among them, ahead of the other headers' keys, where gunicorn puts it when
/// Host comes first (as clients send it): apps that list `request.headers` in environ order
/// see them in gunicorn's order. A request without a host removes it.
const PER_REQUEST_KEYS: [&str; 10] = [
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "RAW_URI",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTP_HOST",
];

/// Keys that make a dict grow its table to 64 slots: a 32-slot table holds 21. 64 slots hold
/// 42 entries, the fixed keys and a typical request's headers; 128 would make the copy every
/// request takes 1.5 KiB. The table is grown by inserting keys, not presized: since CPython
/// 3.11 a dict whose keys are all `str` stores 16-byte entries, but `_PyDict_NewPresized`
/// makes the 24-byte kind. Each request's copy of the template's keys then takes 784 bytes
/// instead of 1,120, under the 1,032 that glibc serves from its per-thread cache: about 600
/// instructions less per request (`bench/callgrind.sh`), in `_int_malloc` and `_int_free`.
const TABLE_KEYS: usize = 22;

impl EnvironTemplate {
    pub(crate) fn new(py: Python<'_>, server: ServerInfo) -> PyResult<Self> {
        let template = PyDict::new(py);
        template.set_item(intern!(py, "SCRIPT_NAME"), &server.root_path)?;
        template.set_item(intern!(py, "wsgi.version"), PyTuple::new(py, [1, 0])?)?;
        template.set_item(intern!(py, "wsgi.input_terminated"), true)?;
        template.set_item(intern!(py, "wsgi.errors"), Py::new(py, ErrorStream)?)?;
        template.set_item(intern!(py, "wsgi.multithread"), server.multithread)?;
        template.set_item(intern!(py, "wsgi.multiprocess"), server.multiprocess)?;
        template.set_item(intern!(py, "wsgi.run_once"), false)?;
        template.set_item(
            intern!(py, "wsgi.file_wrapper"),
            py.get_type::<FileWrapper>(),
        )?;
        // Defaults a request replaces only when it differs: a TLS connection, a body.
        template.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "http"))?;
        // Stateless once at its end (it never touches a transport or releases the GIL), so
        // one serves every request without a body, even on several threads at once.
        template.set_item(intern!(py, "wsgi.input"), Py::new(py, Input::exhausted())?)?;
        for key in PER_REQUEST_KEYS {
            // The usual request's values, which a request that has them leaves as they are.
            let usual = match key {
                "REQUEST_METHOD" => intern!(py, "GET").clone().into_any(),
                "QUERY_STRING" => intern!(py, "").clone().into_any(),
                "SERVER_PROTOCOL" => intern!(py, "HTTP/1.1").clone().into_any(),
                _ => py.None().into_bound(py),
            };
            template.set_item(PyString::intern(py, key), usual)?;
        }
        // Grown to its 64 slots by keys no request has, then rid of them: their entries stay
        // used (20 left for headers), and a copy still clones the table whole.
        let padding: Vec<String> = (template.len()..TABLE_KEYS)
            .map(|i| format!("rsgi.padding.{i}"))
            .collect();
        for key in &padding {
            template.set_item(key, py.None())?;
        }
        for key in &padding {
            template.del_item(key)?;
        }
        Ok(EnvironTemplate {
            root_path: server.root_path,
            underscores: server.underscores,
            template: template.unbind(),
        })
    }
}

/// Builds the environ for one request; `input` is the transport `wsgi.input` reads from,
/// for a request framed with a body. With it, what may keep it for the connection's next
/// request once this one ends ([`Keeper::release`]).
pub(crate) fn build<'py>(
    py: Python<'py>,
    template: &EnvironTemplate,
    request: &Request<'_>,
    input: Option<Link>,
) -> PyResult<(Bound<'py, PyDict>, Option<Keeper>)> {
    let (head, view) = (request.head, request.conn);
    let conn = &view.info;
    if let Some(gateway) = &conn.gateway {
        let env = super::environ_gateway::build(py, template, request, gateway, input)?;
        return Ok((env, None));
    }
    // A chunked body received whole is presented as what it now is, a body of known length
    // (as a buffering proxy would forward it), which apps handle best.
    let dechunked = match (head.framing, request.body_length) {
        (BodyFraming::Chunked, Some(n)) => Some(n),
        _ => None,
    };
    // RFC 9112 §3.2.2: with an absolute-form target the authority in it is the host, and any
    // Host header is ignored.
    let authority = head.absolute_authority();
    // The connection's own environ when an earlier request made it for this Host: its keys
    // are then set already.
    let prepared = match head.host() {
        Some(host) if authority.is_none() && conn.forwarded_host.is_none() => {
            view.strings.environ(py, host, head).transpose()?
        }
        _ => None,
    };
    let (env, reused, last) = match prepared {
        Some(Prepared { env, reused, last }) => (env, reused, Some(last)),
        None => (template.template.bind(py).copy()?, false, None),
    };
    let connection_keys_set = last.is_some();
    set_request_line(py, &env, head, &template.root_path)?;
    let fields = set_fields(
        py,
        &env,
        head,
        conn,
        &template.underscores,
        authority,
        dechunked.is_some(),
        reused,
    )?;
    if let Some(n) = dechunked {
        env.set_item(intern!(py, "CONTENT_LENGTH"), n.to_string())?;
    } else if let BodyFraming::Length(n) = head.framing {
        env.set_item(intern!(py, "CONTENT_LENGTH"), n.to_string())?;
    } else if fields.sent_length {
        // `Content-Length: 0`: framed as no body, but the client did send the header.
        env.set_item(intern!(py, "CONTENT_LENGTH"), intern!(py, "0"))?;
    }
    if !connection_keys_set {
        // What `connection_environ` sets (all keys the template has, so their order is the
        // template's whichever way they are set).
        set_peer(py, &env, view)?;
        set_scheme(py, &env, conn)?;
        set_server(py, &env, template, view, authority, fields.host_header)?;
    }
    set_proxy(py, &env, conn)?;
    if let Some((key, id)) = request.request_id {
        set_request_id(py, &env, key, id)?;
    }
    if conn.url_scheme == "https" {
        // The CGI convention, which some frameworks (and wsgiref.util.guess_scheme) read.
        env.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
    }
    // A request framed without a body keeps the template's exhausted input.
    if let Some(link) = input {
        env.set_item(
            intern!(py, "wsgi.input"),
            Py::new(py, Input::new(link, request.body_length))?,
        )?;
    }
    let keeper = last.and_then(|last| LastEnviron::prepare(last, &env, head, fields.joined));
    Ok((env, keeper))
}

/// `REQUEST_METHOD`, `PATH_INFO` (below the mount point `root`), `QUERY_STRING`,
/// `RAW_URI` and `SERVER_PROTOCOL`.
#[inline]
fn set_request_line(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    head: &RequestHead,
    root: &str,
) -> PyResult<()> {
    // GET, no query and HTTP/1.1 are the template's.
    if head.method_bytes() != b"GET" {
        env.set_item(
            intern!(py, "REQUEST_METHOD"),
            method(py, head.method_bytes()),
        )?;
    }
    let path = crate::http::percent_decode(head.path());
    let path_info = strip_root(&path, root.as_bytes());
    env.set_item(intern!(py, "PATH_INFO"), from_latin1(py, path_info))?;
    if !head.query().is_empty() {
        env.set_item(intern!(py, "QUERY_STRING"), from_latin1(py, head.query()))?;
    }
    env.set_item(intern!(py, "RAW_URI"), from_latin1(py, head.target()))?;
    if let Some(sent) = head.unconventional_version() {
        // `--permit-unconventional-http-version`: the version as sent.
        return env.set_item(intern!(py, "SERVER_PROTOCOL"), from_latin1(py, sent));
    }
    if head.version == crate::http::Version::Http10 {
        env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.0"))?;
    }
    Ok(())
}

/// `REMOTE_ADDR` and `REMOTE_PORT`, made by the connection's first request.
fn set_peer(py: Python<'_>, env: &Bound<'_, PyDict>, view: &ConnView) -> PyResult<()> {
    let conn = &view.info;
    let [remote_addr, remote_port] = view.strings.peer.get_or_init(py, || {
        [
            PyString::new(py, &conn.remote_addr).unbind(),
            PyString::new(py, &conn.remote_port).unbind(),
        ]
    });
    env.set_item(intern!(py, "REMOTE_ADDR"), remote_addr.bind(py))?;
    env.set_item(intern!(py, "REMOTE_PORT"), remote_port.bind(py))
}

/// `wsgi.url_scheme` when it is not the template's "http".
fn set_scheme(py: Python<'_>, env: &Bound<'_, PyDict>, conn: &ConnInfo) -> PyResult<()> {
    if conn.url_scheme == "https" {
        env.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "https"))?;
    }
    Ok(())
}

/// `SCRIPT_NAME` from a trusted proxy's `SCRIPT_NAME` header (`--forwarder-headers`), and
/// `PATH_INFO` the path after it, as gunicorn does: a path not under it is the proxy's
/// misconfiguration, an error (500).
fn set_script_name(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    head: &RequestHead,
    script_name: &[u8],
) -> PyResult<()> {
    // gunicorn compares the path as received (still percent-encoded), bytes for bytes.
    let Some(rest) = head.path().strip_prefix(script_name) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "request path {:?} does not start with the SCRIPT_NAME header's {:?}",
            String::from_utf8_lossy(head.path()),
            String::from_utf8_lossy(script_name),
        )));
    };
    env.set_item(intern!(py, "SCRIPT_NAME"), from_latin1(py, script_name))?;
    let path_info = crate::http::percent_decode(rest);
    env.set_item(intern!(py, "PATH_INFO"), from_latin1(py, &path_info))
}

/// What the header fields said that the keys after them depend on.
struct Fields<'h> {
    /// The Host header's value, when it is the request's host (no absolute-form authority,
    /// no host from a trusted proxy).
    host_header: Option<&'h [u8]>,
    /// A Content-Length field was sent (its number is the framing's).
    sent_length: bool,
    /// A repeated field was joined into one key.
    joined: bool,
}

/// The header fields as `HTTP_*` keys (and `CONTENT_TYPE`), repeated fields joined; Host and
/// Content-Length are left to the keys made from them. `dechunked`: the body is presented
/// with a length, so Transfer-Encoding is left out. `reused`: `env` is a previous
/// request's with the same keys ([`super::environ_reuse`]), whose values are replaced.
#[inline]
#[allow(clippy::too_many_arguments)]
fn set_fields<'h>(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    head: &'h RequestHead,
    conn: &ConnInfo,
    underscores: &Underscores,
    authority: Option<&[u8]>,
    dechunked: bool,
    reused: bool,
) -> PyResult<Fields<'h>> {
    let mut fields = Fields {
        host_header: None,
        sent_length: false,
        joined: false,
    };
    let mut key = String::new();
    for (name, value) in head.headers() {
        // A header spelled with "_" would land on the same key as its "-" twin and could
        // spoof it (X_Forwarded_For vs X-Forwarded-For): dropped, as nginx and gunicorn do,
        // unless a trusted proxy sends it or --header-map says otherwise (`refuse` never
        // gets here).
        if name.contains(&b'_') {
            if underscores.fate(name, conn.trusted) != Fate::Map {
                continue;
            }
            if name.eq_ignore_ascii_case(b"script_name") {
                // The last one counts, as in gunicorn (so each sets what the last says).
                let last = head
                    .headers()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(b"script_name"))
                    .last()
                    .map_or(value, |(_, v)| v);
                set_script_name(py, env, head, last)?;
            }
        }
        let key = if name.eq_ignore_ascii_case(b"content-type") {
            intern!(py, "CONTENT_TYPE").clone()
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // Set from the parsed framing (a repeated Content-Length, even with equal
            // values, is refused): the app sees the number the framing was decided on.
            fields.sent_length = true;
            continue;
        } else if dechunked && name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The body is presented as the known length it now has.
            continue;
        } else if name.eq_ignore_ascii_case(b"host") {
            if authority.is_none() && conn.forwarded_host.is_none() {
                // Set with SERVER_NAME and SERVER_PORT, from strings the connection's
                // previous request may already have made (Host is never repeated: the
                // parser refuses that).
                fields.host_header = Some(value);
            }
            continue;
        } else if let Some(common) = common_header_key(py, name) {
            common.clone()
        } else {
            key.clear();
            key.push_str("HTTP_");
            key.extend(name.iter().map(|&b| match b {
                b'-' => '_',
                b => b.to_ascii_uppercase() as char,
            }));
            // Not interned: client-chosen names must not grow a process-wide table that
            // (from Python 3.12) is never freed.
            PyString::new(py, &key)
        };
        let value = from_latin1(py, value);
        if reused {
            // Its fields are never repeated: that request's environ was not kept.
            env.set_item(&key, value)?;
        } else {
            fields.joined |= set_field(py, env, &key, &value)?;
        }
    }
    Ok(fields)
}

/// The request's ID under `key`, replacing what the client sent there (the default
/// header's key is interned, as a common header's).
pub(super) fn set_request_id(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    key: &str,
    id: &[u8],
) -> PyResult<()> {
    let id = from_latin1(py, id);
    match key {
        "HTTP_X_REQUEST_ID" => env.set_item(intern!(py, "HTTP_X_REQUEST_ID"), id),
        _ => env.set_item(key, id),
    }
}

/// Sets one field's key, joining a repeated field to the value already there (then
/// `true`).
#[inline]
fn set_field(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    key: &Bound<'_, PyString>,
    value: &Bound<'_, PyString>,
) -> PyResult<bool> {
    // One lookup for the usual case: set it unless the header was seen already.
    // SAFETY: all three are live objects and we hold the GIL; PyDict_SetDefault returns a
    // borrowed reference to the value now in the dict, or NULL with an exception set.
    let present = unsafe { ffi::PyDict_SetDefault(env.as_ptr(), key.as_ptr(), value.as_ptr()) };
    if present.is_null() {
        return Err(PyErr::fetch(py));
    }
    if present != value.as_ptr() {
        // SAFETY: a valid borrowed reference (above), made owned before the dict changes.
        let previous = unsafe { Bound::from_borrowed_ptr(py, present) };
        // RFC 9110 §5.3: repeated fields combine into one comma-separated list; cookies use
        // "; " (RFC 6265 §5.4).
        let sep = if key.to_str()? == "HTTP_COOKIE" {
            "; "
        } else {
            ", "
        };
        let joined = format!("{}{sep}{}", previous.str()?, value.to_str()?);
        env.set_item(key, joined)?;
        return Ok(true);
    }
    Ok(false)
}

/// `HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT` and the PROXY protocol's keys: from a trusted
/// proxy's host, the target's `authority`, the Host field's value, or the listener.
#[inline]
fn set_server(
    py: Python<'_>,
    env: &Bound<'_, PyDict>,
    template: &EnvironTemplate,
    view: &ConnView,
    authority: Option<&[u8]>,
    host_header: Option<&[u8]>,
) -> PyResult<()> {
    let conn = &view.info;
    // The host named by a trusted proxy or the target; a Host field's value is `host_header`.
    let mut host = authority;
    if let Some(forwarded) = &conn.forwarded_host {
        // Believed from a trusted proxy: the host the client asked the proxy for.
        host = Some(forwarded.as_bytes());
        env.set_item(intern!(py, "HTTP_HOST"), forwarded)?;
    } else if let Some(authority) = authority {
        env.set_item(intern!(py, "HTTP_HOST"), from_latin1(py, authority))?;
    }
    let [server_name, server_port] = match host_header {
        Some(value) => {
            let [http_host, name, port] = view.strings.host(py, conn, value, |strings| {
                connection_environ(py, template, view, strings)
            })?;
            env.set_item(intern!(py, "HTTP_HOST"), http_host)?;
            [name, port]
        }
        None => {
            if host.is_none() {
                // No host at all (HTTP/1.0): the template's placeholder goes.
                env.del_item(intern!(py, "HTTP_HOST"))?;
            }
            server_name_port(py, conn, host)
        }
    };
    env.set_item(intern!(py, "SERVER_NAME"), server_name)?;
    env.set_item(
        intern!(py, "SERVER_PORT"),
        forwarded_port(py, conn, server_port),
    )
}

/// `SERVER_PORT`: a trusted proxy's port, else `port`.
fn forwarded_port<'py>(
    py: Python<'py>,
    conn: &ConnInfo,
    port: Bound<'py, PyString>,
) -> Bound<'py, PyString> {
    match &conn.forwarded_port {
        Some(forwarded) => PyString::new(py, forwarded),
        None => port,
    }
}

/// The environ a connection's requests with one Host start from: the worker's template
/// with the peer's keys, the scheme and the Host's `HTTP_HOST`, `SERVER_NAME` and
/// `SERVER_PORT` set as [`set_peer`], [`set_scheme`] and [`set_server`] set them. Only keys
/// the template has are set, so a copy keeps the key order a request built key by key gets.
fn connection_environ(
    py: Python<'_>,
    template: &EnvironTemplate,
    view: &ConnView,
    [http_host, name, port]: &[Bound<'_, PyString>; 3],
) -> PyResult<Py<PyDict>> {
    let env = template.template.bind(py).copy()?;
    set_peer(py, &env, view)?;
    set_scheme(py, &env, &view.info)?;
    env.set_item(intern!(py, "HTTP_HOST"), http_host)?;
    env.set_item(intern!(py, "SERVER_NAME"), name)?;
    env.set_item(
        intern!(py, "SERVER_PORT"),
        forwarded_port(py, &view.info, port.clone()),
    )?;
    Ok(env.unbind())
}

/// The PROXY protocol's keys, when the connection began with a PROXY header.
fn set_proxy(py: Python<'_>, env: &Bound<'_, PyDict>, conn: &ConnInfo) -> PyResult<()> {
    if let Some(proxy) = &conn.proxy_header {
        env.set_item(intern!(py, "PROXY_PROTOCOL"), proxy.protocol)?;
        env.set_item(intern!(py, "PROXY_ADDR"), &proxy.addr)?;
        env.set_item(intern!(py, "PROXY_PORT"), &proxy.port)?;
    }
    Ok(())
}

/// The environ key of a header most requests carry, as a cached Python string (no
/// allocation, no hashing per request).
fn common_header_key<'py>(py: Python<'py>, name: &[u8]) -> Option<&'py Bound<'py, PyString>> {
    macro_rules! table {
        ($($header:literal => $key:literal),* $(,)?) => {
            $(if name.eq_ignore_ascii_case($header) {
                return Some(intern!(py, $key));
            })*
        };
    }
    table! {
        b"user-agent" => "HTTP_USER_AGENT",
        b"accept" => "HTTP_ACCEPT",
        b"accept-encoding" => "HTTP_ACCEPT_ENCODING",
        b"accept-language" => "HTTP_ACCEPT_LANGUAGE",
        b"connection" => "HTTP_CONNECTION",
        b"cookie" => "HTTP_COOKIE",
        b"referer" => "HTTP_REFERER",
        b"authorization" => "HTTP_AUTHORIZATION",
        b"cache-control" => "HTTP_CACHE_CONTROL",
        b"origin" => "HTTP_ORIGIN",
        b"x-forwarded-for" => "HTTP_X_FORWARDED_FOR",
        b"x-forwarded-proto" => "HTTP_X_FORWARDED_PROTO",
        b"x-request-id" => "HTTP_X_REQUEST_ID",
        b"if-none-match" => "HTTP_IF_NONE_MATCH",
        b"if-modified-since" => "HTTP_IF_MODIFIED_SINCE",
    }
    None
}

/// The method as an interned string for the common ones (they repeat on every request).
fn method<'py>(py: Python<'py>, method: &[u8]) -> Bound<'py, PyString> {
    // Cached strings for the common methods: no allocation or interning per request.
    match method {
        b"GET" => intern!(py, "GET").clone(),
        b"POST" => intern!(py, "POST").clone(),
        b"HEAD" => intern!(py, "HEAD").clone(),
        b"PUT" => intern!(py, "PUT").clone(),
        b"DELETE" => intern!(py, "DELETE").clone(),
        b"PATCH" => intern!(py, "PATCH").clone(),
        b"OPTIONS" => intern!(py, "OPTIONS").clone(),
        other => from_latin1(py, other),
    }
}

/// PATH_INFO is the path below SCRIPT_NAME: strip the mount prefix when the path is under it.
pub(super) fn strip_root<'a>(path: &'a [u8], root: &[u8]) -> &'a [u8] {
    match path.strip_prefix(root) {
        Some(rest) if !root.is_empty() && (rest.is_empty() || rest[0] == b'/') => rest,
        _ => path,
    }
}

/// Splits a Host value into name and optional port (`[v6]:port` keeps its brackets, as
/// SERVER_NAME conventionally does).
fn split_host(host: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if host.is_empty() {
        return None;
    }
    let (name, port) = if host.starts_with(b"[") {
        let end = host.iter().position(|&b| b == b']')?;
        let (name, rest) = host.split_at(end + 1);
        (name, rest.strip_prefix(b":"))
    } else {
        match host.iter().rposition(|&b| b == b':') {
            Some(i) => (&host[..i], Some(&host[i + 1..])),
            None => (host, None),
        }
    };
    Some((name, port.filter(|p| !p.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_path_stripping() {
        assert_eq!(strip_root(b"/app/x", b"/app"), b"/x");
        assert_eq!(strip_root(b"/app", b"/app"), b"");
        assert_eq!(strip_root(b"/application", b"/app"), b"/application");
        assert_eq!(strip_root(b"/x", b""), b"/x");
    }

    #[test]
    fn host_splitting() {
        assert_eq!(
            split_host(b"example.com:8080"),
            Some((&b"example.com"[..], Some(&b"8080"[..])))
        );
        assert_eq!(
            split_host(b"example.com"),
            Some((&b"example.com"[..], None))
        );
        assert_eq!(
            split_host(b"[::1]:80"),
            Some((&b"[::1]"[..], Some(&b"80"[..])))
        );
        assert_eq!(split_host(b"[::1]"), Some((&b"[::1]"[..], None)));
        assert_eq!(split_host(b""), None);
    }
}
