//! The one declaration of every option.
//!
//! Each setting is written once in the `settings!` invocation below: its doc comment (the
//! user documentation, shown by `--help` and [`markdown_table`]), its clap attributes, its
//! name, its type and its default. From that one declaration come the command-line flag, the
//! TOML key (the name), the `RSGI_<NAME>` environment variable, the defaults and the docs, so
//! the four can never drift apart.
//!
//! Values here are still raw (strings, whole numbers and booleans as the user wrote them);
//! checking them and turning them into a [`super::Config`] is the private `validate`
//! module's job.
//! This file knows how settings are spelled and where they come from, not what they mean.

use super::ConfigError;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Args, Command, FromArgMatches, Parser};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

/// The `--version` text: our version and the interpreter we were built against (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (Python ",
    env!("EMBEDDED_PYTHON_VERSION"),
    " at ",
    env!("EMBEDDED_PYTHON"),
    ")"
);

/// Prefix of every setting's environment variable.
pub const ENV_PREFIX: &str = "RSGI_";

/// The environment variable naming the config file (the `-c/--config` flag is CLI-only, so
/// it is not a setting, but it may still come from the environment).
pub const CONFIG_ENV: &str = "RSGI_CONFIG";

/// Everything known about a setting besides its value: what the docs and errors need.
#[derive(Debug)]
pub struct Meta {
    /// The TOML key, snake_case (gunicorn's config name); also the clap argument id.
    pub name: &'static str,
    /// The user documentation (the declaration's doc comment, one source line per line).
    pub doc: &'static str,
    /// The default as shown to users.
    pub default: &'static str,
    /// A conventional, non-`RSGI_` variable that supplies the default when set.
    pub fallback: Option<Fallback>,
}

/// A platform convention that supplies a setting's default, e.g. `PORT` for `bind`.
#[derive(Debug)]
pub struct Fallback {
    /// The variable, e.g. `WEB_CONCURRENCY`.
    pub var: &'static str,
    /// Turns the variable's value into the setting's value as it would be written on the
    /// command line (`PORT=5000` becomes `0.0.0.0:5000`).
    pub to_value: fn(&str) -> String,
}

impl Meta {
    /// The environment variable for this setting: `RSGI_` + the name in upper case.
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase())
    }

    /// The setting as written on the command line: `--workers`, or `APP` for a positional.
    pub fn cli_spelling(&self) -> String {
        let cmd = layer_command();
        match cmd.get_arguments().find(|a| a.get_id() == self.name) {
            Some(arg) => match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => self.name.to_ascii_uppercase(),
            },
            None => self.name.to_owned(),
        }
    }

    /// The documentation as one paragraph (doc comment lines joined).
    pub fn doc_paragraph(&self) -> String {
        self.doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Generates [`Layer`], [`Settings`] and [`SETTINGS`] from one declaration per setting:
///
/// ```text
/// /// User documentation.
/// #[arg(clap attributes)]
/// #[serde(optional extra serde attributes for the file layer)]
/// name: Type = default expression (an Option<Type>), shown "default as documented"
///     [, fallback "VAR" => |value| value as written on the CLI];
/// ```
macro_rules! settings {
    (@fallback) => { None };
    (@fallback $var:literal => $map:expr) => {
        Some(Fallback { var: $var, to_value: $map })
    };
    ($(
        $(#[doc = $doc:literal])+
        #[arg($($arg:tt)*)]
        $(#[serde($($serde:tt)*)])*
        $name:ident : $ty:ty = $default:expr, shown $shown:literal
            $(, fallback $fvar:literal => $fmap:expr)? ;
    )*) => {
        /// One source's settings: the command line, the environment, the file, or the
        /// platform fallbacks. `None` means "this source does not say".
        #[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct Layer {
            $(
                $(#[doc = $doc])+
                #[arg($($arg)*)]
                $(#[serde($($serde)*)])*
                pub $name: Option<$ty>,
            )*
        }

        impl Layer {
            /// This layer's values, with `lower`'s filling in what this one leaves unset.
            pub fn or(self, lower: Layer) -> Layer {
                Layer { $( $name: self.$name.or(lower.$name), )* }
            }

            /// Whether this layer sets the setting called `name`.
            pub fn is_set(&self, name: &str) -> bool {
                match name {
                    $( stringify!($name) => self.$name.is_some(), )*
                    _ => false,
                }
            }

            /// Applies the declared defaults to what no layer set.
            pub fn resolve(self) -> Settings {
                Settings { $( $name: self.$name.or_else(|| $default), )* }
            }
        }

        /// Every setting with defaults applied; `None` only where there is no default.
        /// Serializes to a valid config file (used by `--print-config`).
        #[derive(Serialize, Clone, Debug, PartialEq)]
        pub struct Settings {
            $(
                $(#[doc = $doc])+
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        /// Every setting's metadata, in declaration order.
        pub const SETTINGS: &[Meta] = &[
            $(
                Meta {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n"),+),
                    default: $shown,
                    fallback: settings!(@fallback $($fvar => $fmap)?),
                },
            )*
        ];
    };
}

settings! {
    /// The WSGI application to serve, as `module:callable`; the callable defaults to
    /// `application` (e.g. `myproject.wsgi:application`).
    #[arg(value_name = "APP")]
    app: String = None, shown "(required)";

    /// Address to listen on: `HOST:PORT`, `[IPV6]:PORT`, `unix:PATH` or `fd://N` (an
    /// inherited listening socket). Repeat to listen on several addresses.
    #[arg(short = 'b', long, value_name = "ADDRESS")]
    #[serde(default, deserialize_with = "one_or_many")]
    bind: Vec<String> = Some(vec!["127.0.0.1:8000".to_owned()]),
        shown "`127.0.0.1:8000`, or `0.0.0.0:$PORT` if `PORT` is set",
        fallback "PORT" => |port| format!("0.0.0.0:{port}");

    /// Number of worker processes (1 to 1024).
    #[arg(short = 'w', long, value_name = "N", value_parser = whole_number,
          allow_negative_numbers = true)]
    workers: i64 = Some(1), shown "`$WEB_CONCURRENCY`, else 1",
        fallback "WEB_CONCURRENCY" => |n| n.to_owned();

    /// Python threads per worker (1 to 1024). With 1 the application runs on the worker's
    /// event-loop thread; with more, requests run on a pool of that many threads and
    /// `wsgi.multithread` is true.
    #[arg(long, value_name = "N", value_parser = whole_number, allow_negative_numbers = true)]
    threads: i64 = Some(1), shown "1";

    /// Open client connections per worker (1 to 1000000); at the limit the worker stops
    /// accepting and further connections wait in the kernel's backlog.
    #[arg(long, value_name = "N", value_parser = whole_number, allow_negative_numbers = true)]
    worker_connections: i64 = Some(1000), shown "1000";

    /// Directory to change to before loading the application (must exist).
    #[arg(long, value_name = "DIR")]
    chdir: PathBuf = None, shown "(the current directory)";

    /// Directories to prepend to the Python path, comma-separated.
    #[arg(long, value_name = "DIRS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    pythonpath: Vec<PathBuf> = None, shown "(none)";

    /// Set an environment variable in the worker processes, `KEY=VALUE`. Repeatable.
    #[arg(short = 'e', long, value_name = "KEY=VALUE")]
    #[serde(default, deserialize_with = "one_or_many")]
    env: Vec<String> = None, shown "(none)";

    /// The URL prefix the application is mounted at (WSGI `SCRIPT_NAME`): empty, or
    /// starting with `/` and not ending with `/`.
    #[arg(long, value_name = "PATH")]
    root_path: String = Some(String::new()), shown "`\"\"`";

    /// Seconds the application may run without progress (returning, or reading or producing
    /// a body chunk) before its worker is killed and replaced. It bounds only the
    /// application: waits on clients (socket reads and writes, the delivery of a request
    /// head) have their own limits, `--header-timeout`, `--body-timeout` and
    /// `--send-timeout`. 0 disables the limit.
    #[arg(short = 't', long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    timeout: i64 = Some(30), shown "30";

    /// Seconds a client has to deliver a complete request head, counted from accept (on a
    /// persistent connection, from the first byte of the next request); otherwise it gets
    /// 408 and the connection is closed. A TCP client that sends nothing is accepted only
    /// about a second after it connects (the kernel defers accept until data arrives), so
    /// its limit ends that much later. 0 disables the limit.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    header_timeout: i64 = Some(30), shown "30";

    /// Longest wait, in seconds, for the next bytes of a request body; otherwise the client
    /// gets 408 and the connection is closed. 0 disables the limit.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    body_timeout: i64 = Some(30), shown "30";

    /// Longest wait, in seconds, for a client to accept more response bytes; otherwise the
    /// connection is closed. 0 disables the limit.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    send_timeout: i64 = Some(30), shown "30";

    /// Seconds in-flight requests get to finish on a graceful stop or reload.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    graceful_timeout: i64 = Some(30), shown "30";

    /// Seconds an idle persistent connection is kept open; 0 turns keep-alive off.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    keep_alive: i64 = Some(2), shown "2";

    /// Maximum number of pending connections per listener (1 to 65535; the kernel may cap
    /// it further at `net.core.somaxconn`).
    #[arg(long, value_name = "N", value_parser = whole_number, allow_negative_numbers = true)]
    backlog: i64 = Some(2048), shown "2048";

    /// Set SO_REUSEPORT on TCP listeners, and give each worker its own listening socket on
    /// every TCP address, so the kernel spreads new connections across the workers.
    /// `--reuse-port` alone means true; `--reuse-port=false` turns it off.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    reuse_port: bool = Some(false), shown "false";

    /// Call the application only once the request head and the whole body have arrived.
    /// With `--request-buffering=false` it is called as soon as the head is parsed, and
    /// `wsgi.input` reads from the socket.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    request_buffering: bool = Some(true), shown "true";

    /// Request bodies up to this many bytes are kept in memory, larger ones are spooled to
    /// a temporary file (0 to 4294967295).
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    body_buffer_size: i64 = Some(1_048_576), shown "1048576";

    /// Directory for the temporary files large request bodies are spooled to (must exist;
    /// the files are unlinked as soon as they are created).
    #[arg(long, value_name = "DIR")]
    tmp_upload_dir: PathBuf = None, shown "`$TMPDIR`, else `/tmp`";

    /// Largest request body accepted, in bytes; a larger one gets 413. 0 means no limit.
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_body: i64 = Some(0), shown "0 (no limit)";

    /// Virtual environment whose packages the application imports; the directory must
    /// contain `pyvenv.cfg`.
    #[arg(long, value_name = "DIR")]
    virtualenv: PathBuf = None, shown "`$VIRTUAL_ENV`, if set",
        fallback "VIRTUAL_ENV" => |dir| dir.to_owned();

    /// Permission bits, in octal (e.g. `660`), for Unix sockets the server creates.
    #[arg(long, value_name = "OCTAL")]
    unix_socket_mode: String = None, shown "(from the umask)";

    /// Minimum level of messages written to the error log: debug, info, warning, error
    /// or critical.
    #[arg(long, value_name = "LEVEL")]
    log_level: String = Some("info".to_owned()), shown "`info`";

    // -- issue 4: supervisor --

    /// Requests a worker serves before it is replaced (gracefully: its replacement is
    /// started first, and it stops only once the replacement is ready). 0 disables.
    #[arg(long, value_name = "N", value_parser = whole_number, allow_negative_numbers = true)]
    max_requests: i64 = Some(0), shown "0 (off)";

    /// Adds a random 0 to N requests to each worker's `--max-requests`, so workers are not
    /// all replaced at once.
    #[arg(long, value_name = "N", value_parser = whole_number, allow_negative_numbers = true)]
    max_requests_jitter: i64 = Some(0), shown "0";

    /// Seconds a worker lives before it is replaced, gracefully as with `--max-requests`.
    /// 0 disables.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    max_worker_lifetime: i64 = Some(0), shown "0 (off)";

    /// Adds a random 0 to SECS seconds to each worker's `--max-worker-lifetime`.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    max_worker_lifetime_jitter: i64 = Some(0), shown "0";

    /// Resident memory, in MiB, above which a worker is replaced, gracefully as with
    /// `--max-requests` (sampled by the master every second). 0 disables.
    #[arg(long, value_name = "MIB", value_parser = whole_number,
          allow_negative_numbers = true)]
    max_worker_memory: i64 = Some(0), shown "0 (off)";
    // -- issue 4: hygiene --

    /// Write the master's process id to this file (atomically), and remove it on exit. A
    /// file naming a live process is an error; one left by a dead process is replaced.
    #[arg(short = 'p', long, value_name = "FILE")]
    pid: PathBuf = None, shown "(none)";

    /// Run the master and workers as this user (name or number) once the listening
    /// sockets, the pid file and the log files exist, so a server started as root can
    /// listen on port 80. Unix sockets the server creates are given to this user.
    #[arg(short = 'u', long, value_name = "USER")]
    user: String = None, shown "(unchanged)";

    /// Run as this group (name or number); with `--user` alone, the user's primary group.
    #[arg(short = 'g', long, value_name = "GROUP")]
    group: String = None, shown "(the user's group, else unchanged)";

    /// File mode creation mask, in octal (e.g. `027`), set at startup: it applies to the
    /// pid file, Unix sockets, log files and the files the application creates.
    #[arg(short = 'm', long, value_name = "OCTAL")]
    umask: String = None, shown "(unchanged)";

    /// With `--user`, also join every supplementary group the user belongs to
    /// (initgroups(3)); otherwise the only group is `--group`.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    initgroups: bool = Some(false), shown "false";

    /// The name in process titles, `rsgi-server: master [NAME]` and
    /// `rsgi-server: worker [NAME]`, as `ps` shows them (gunicorn's `--name` works too).
    #[arg(short = 'n', long, visible_alias = "name", value_name = "NAME")]
    proc_name: String = None, shown "(the application)";

    /// Detach from the terminal and run in the background (`--pid` tells where). The
    /// command returns once the workers serve; startup errors (an app's import traceback
    /// too) are still printed, and make it fail.
    #[arg(short = 'D', long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    daemon: bool = Some(false), shown "false";
    // -- issue 4: logging --
    /// Where the error log goes: a file (opened for appending and reopened on SIGUSR1), or
    /// `-` for standard error. The master and every worker write whole lines to it. Also
    /// spelled `--log-file`.
    #[arg(long, visible_alias = "log-file", value_name = "FILE")]
    error_logfile: PathBuf = Some(PathBuf::from("-")), shown "`-` (standard error)";

    /// Where the access log goes: a file (opened for appending and reopened on SIGUSR1), or
    /// `-` for standard output. No access log unless set.
    #[arg(long, value_name = "FILE")]
    access_logfile: PathBuf = None, shown "(none)";

    /// The access log line, with gunicorn's atoms: `%(h)s` remote address, `%(l)s` `-`,
    /// `%(u)s` Basic auth user, `%(t)s` time, `%(r)s` request line, `%(m)s` method, `%(U)s`
    /// path, `%(q)s` query, `%(H)s` protocol, `%(s)s` status, `%(B)s` body bytes, `%(b)s`
    /// body bytes or `-`, `%(f)s` referer, `%(a)s` user agent, `%(T)s` `%(M)s` `%(D)s`
    /// `%(L)s` duration in seconds, milliseconds, microseconds, decimal seconds, `%(p)s`
    /// `<pid>`, `%({Header}i)s` request header, `%({Header}o)s` response header,
    /// `%({NAME}e)s` environ key as the server sets it (`REMOTE_PORT`, `HTTP_X_ID`...) or
    /// else the process environment variable; `%%` is a `%`. Values are escaped (`\xNN`,
    /// `\"`, `\\`) so a client cannot forge a line. An unknown atom is an error.
    #[arg(long, value_name = "FORMAT")]
    access_log_format: String = Some(crate::logging::access::DEFAULT_FORMAT.to_owned()),
        shown "`%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"`";

    /// How both logs are written: `text` (gunicorn's lines) or `json` (one JSON object per
    /// line, with typed fields).
    #[arg(long, value_name = "FORMAT")]
    log_format: String = Some("text".to_owned()), shown "`text`";

    /// Send what the application writes to its standard output and standard error to the
    /// error log. `--capture-output` alone means true.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    capture_output: bool = Some(false), shown "false";
    // -- issue 4: python --
    /// Import the application in the master before forking the workers, so they share its
    /// memory copy-on-write. A HUP then restarts the workers on the same code: it cannot
    /// reload preloaded code (restart the server, or use a USR2 upgrade).
    /// `--preload` alone means true.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    preload: bool = Some(false), shown "false";

    /// Gunicorn server hooks: a Python module (`myproj.gunicorn_hooks`) or a `.py` file
    /// (e.g. an existing `gunicorn.conf.py`) whose module-level functions named like
    /// gunicorn's hooks (`on_starting`, `when_ready`, `pre_fork`, `post_fork`,
    /// `post_worker_init`, `worker_int`, `worker_abort`, `pre_request`, `post_request`,
    /// `child_exit`, `worker_exit`, `nworkers_changed`, `on_reload`, `pre_exec`, `on_exit`)
    /// are called with gunicorn's arguments. Defining any master-side hook runs Python in
    /// the master.
    #[arg(long, value_name = "MODULE_OR_FILE")]
    hooks: String = None, shown "(none)";

    /// Restart a worker when a Python file of the application (or a
    /// `--reload-extra-file`) changes; a failed import is answered with 500 and the
    /// traceback until the file is fixed. For development. `--reload` alone means true.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    reload: bool = Some(false), shown "false";

    /// A further file whose change restarts the workers under `--reload` (templates,
    /// configuration). Repeatable.
    #[arg(long, visible_alias = "reload-extra-file", value_name = "FILE")]
    #[serde(default, deserialize_with = "one_or_many")]
    reload_extra_files: Vec<PathBuf> = None, shown "(none)";
    // -- issue 5: strict --
    /// Longest request line (method, target and version) in bytes, 1 to 65536; a longer one
    /// gets 414. 0 means the maximum, 65536 (gunicorn's "unlimited" is never unbounded).
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_line: i64 = Some(4094), shown "4094";

    /// Most header fields in a request, 1 to 32768; more get 431. 0 means the maximum,
    /// 32768.
    #[arg(long, value_name = "N", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_fields: i64 = Some(100), shown "100";

    /// Longest header field line (name, colon and value) in bytes, 1 to 65536; a longer one
    /// gets 431. 0 means the maximum, 65536.
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_field_size: i64 = Some(8190), shown "8190";

    /// Most bytes of a whole request head, request line and fields together (0 to
    /// 16777216); a larger head gets 431. It bounds a connection's head buffer, which the
    /// line and field limits alone allow to reach about 800 KB. 0 means no cap of its own
    /// (gunicorn has none).
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_head: i64 = Some(65536), shown "65536";

    /// Longest chunk-size line of a chunked request body, extensions included, in bytes
    /// (1 to 65536); a longer one gets 400.
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_chunk_ext_size: i64 = Some(4096), shown "4096";

    /// Most bytes of trailer fields after a chunked request body (0 to 65536; 0 refuses
    /// any trailer field); more get 431.
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_trailer_size: i64 = Some(8190), shown "8190";
    // -- issue 5: tls --
    /// Serve HTTPS on every listener with this certificate chain (PEM: the server's
    /// certificate first, then any intermediates). Needs `--keyfile`. Read by the master
    /// at startup (before dropping privileges) and again on HUP.
    #[arg(long, value_name = "FILE")]
    certfile: PathBuf = None, shown "(none: plain HTTP)";

    /// The private key of `--certfile` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    keyfile: PathBuf = None, shown "(none)";

    /// CA certificates (PEM) that client certificates are verified against
    /// (`--cert-reqs`).
    #[arg(long, value_name = "FILE")]
    ca_certs: PathBuf = None, shown "(none)";

    /// Client certificates: `none` (not asked for), `optional` (verified against
    /// `--ca-certs` if sent) or `required` (a connection without a valid one is refused);
    /// gunicorn's `0`, `1`, `2` work too.
    #[arg(long, value_name = "MODE")]
    #[serde(default, deserialize_with = "text_or_number")]
    cert_reqs: String = Some("none".to_owned()), shown "`none`";

    /// The TLS cipher suites allowed, separated by `:` or `,`: IANA names
    /// (`TLS_AES_128_GCM_SHA256`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) or their OpenSSL
    /// names (`ECDHE-RSA-AES128-GCM-SHA256`). Only modern AEAD suites exist here.
    #[arg(long, value_name = "LIST")]
    ciphers: String = None, shown "(all suites rustls offers: AES-GCM and ChaCha20-Poly1305)";

    /// The oldest TLS version accepted: `1.2` or `1.3`.
    #[arg(long, value_name = "VERSION")]
    #[serde(default, deserialize_with = "text_or_number")]
    tls_min_version: String = Some("1.2".to_owned()), shown "`1.2`";
    // -- issue 5: proxy --
    /// Peers whose proxy headers are believed, comma-separated: IP addresses, CIDR ranges,
    /// `*` for everyone, `unix` for clients of Unix socket listeners (not trusted
    /// otherwise). From them, `X-Forwarded-For` and `Forwarded: for=` set `REMOTE_ADDR`
    /// (the list is walked from the right, past addresses that are themselves trusted
    /// proxies), the `--secure-scheme-headers` and `Forwarded: proto=` set
    /// `wsgi.url_scheme`, `X-Forwarded-Host` and `Forwarded: host=` set `HTTP_HOST` and
    /// `SERVER_NAME`, `X-Forwarded-Port` sets `SERVER_PORT`. From anyone else these headers
    /// reach the application untouched and change nothing. Behind a PROXY protocol header
    /// the peer judged is the client it names.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    forwarded_allow_ips: Vec<String> = Some(vec!["127.0.0.1".to_owned(), "::1".to_owned()]),
        shown "`127.0.0.1,::1`, or `$FORWARDED_ALLOW_IPS` if set",
        fallback "FORWARDED_ALLOW_IPS" => |ips| ips.to_owned();

    /// Headers, and the value meaning https, by which a peer in `--forwarded-allow-ips`
    /// says the client used https: `NAME=VALUE,...` (a TOML table in the config file); any
    /// other value of such a header means http, and two that disagree get 400. Empty to
    /// believe none.
    #[arg(long, value_name = "NAME=VALUE,...", value_delimiter = ',')]
    #[serde(default, deserialize_with = "header_table")]
    secure_scheme_headers: Vec<String> = Some(
        crate::proxy::forwarded::DEFAULT_SECURE_SCHEME_HEADERS
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    ), shown "`X-FORWARDED-PROTOCOL=ssl,X-FORWARDED-PROTO=https,X-FORWARDED-SSL=on`";

    /// Read a PROXY protocol header (HAProxy, AWS NLB) at the start of each connection from
    /// a peer in `--proxy-allow-ips`: `off`, `v1` or `v2` (that version required from those
    /// peers), or `auto` (either version, or none). Its client address becomes the
    /// connection's. `--proxy-protocol` alone means `auto`, as in gunicorn. A header from
    /// any other peer, or a malformed one, closes the connection.
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "auto")]
    #[serde(default, deserialize_with = "mode_or_bool")]
    proxy_protocol: String = Some("off".to_owned()), shown "`off`";

    /// Peers allowed to send a PROXY protocol header, in the form of
    /// `--forwarded-allow-ips` (`unix` for clients of Unix socket listeners). Also spelled
    /// `--proxy-allow-from`.
    #[arg(long, visible_alias = "proxy-allow-from", value_name = "LIST", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    proxy_allow_ips: Vec<String> = Some(vec!["127.0.0.1".to_owned(), "::1".to_owned()]),
        shown "`127.0.0.1,::1`";
}

/// The whole command line: every setting plus the options that only make sense there.
#[derive(Parser, Debug)]
#[command(
    name = "rsgi-server",
    version = VERSION,
    about = "A pre-fork WSGI (PEP 3333) application server",
    after_help = "Every option except -c, --check-config and --print-config can also be set \
                  with an RSGI_<NAME> environment variable (e.g. RSGI_WORKERS=4; lists \
                  comma-separated) or a key in the config file (e.g. workers = 4). The \
                  command line wins over the environment, which wins over the file."
)]
pub struct Cli {
    /// The settings given on the command line.
    #[command(flatten)]
    pub settings: Layer,

    /// Read settings from this TOML file (also `RSGI_CONFIG`; by default `./rsgi.toml`
    /// when it exists).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration, import the application, and exit.
    #[arg(long, conflicts_with = "print_config")]
    pub check_config: bool,

    /// Print the effective configuration as a TOML config file and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// A command that parses nothing but the settings: used to read the environment and the
/// platform fallbacks with exactly the parsers the command line uses.
fn layer_command() -> Command {
    Layer::augment_args(Command::new("rsgi-server").no_binary_name(true))
}

/// Parses a whole number; ranges are checked later, so the error can name the range.
fn whole_number(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number".to_owned())
}

/// The spellings [`boolean`] accepts, in the order error messages list them.
const BOOLEAN_WORDS: &str = "true/false, on/off, yes/no or 1/0";

/// Parses a boolean: true/false, on/off, yes/no or 1/0, in any case.
fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("expected {BOOLEAN_WORDS}")),
    }
}

/// Reads one setting's value, as written by `source` (an environment variable's name), into
/// a layer, using the setting's command-line parser. Lists are split on commas.
fn parse_assignment(meta: &Meta, value: &str, source: &str) -> Result<Layer, ConfigError> {
    let cmd = layer_command();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == meta.name)
        .ok_or_else(|| ConfigError::Missing("a command-line argument for a declared setting"))?;
    let mut args: Vec<String> = Vec::new();
    match arg.get_long() {
        // `--` keeps a positional value that starts with '-' from being read as a flag.
        None => args.extend(["--".to_owned(), value.to_owned()]),
        Some(long) if matches!(arg.get_action(), ArgAction::Append) => {
            args.extend(
                value
                    .split(',')
                    .filter(|part| !part.is_empty())
                    .map(|part| format!("--{long}={part}")),
            );
        }
        // `--flag=value` so that values starting with '-' are not taken for flags.
        Some(long) => args.push(format!("--{long}={value}")),
    }
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| clap_error(e, Some(source)))?;
    Layer::from_arg_matches(&matches).map_err(|e| clap_error(e, Some(source)))
}

/// Builds the environment layer from every `RSGI_<NAME>` variable; any other `RSGI_`
/// variable (except [`CONFIG_ENV`]) is an error, since it is almost certainly a typo.
pub fn env_layer(env: &BTreeMap<String, String>) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for (var, value) in env.range(ENV_PREFIX.to_owned()..) {
        if !var.starts_with(ENV_PREFIX) {
            break;
        }
        if var == CONFIG_ENV {
            continue;
        }
        let meta = SETTINGS
            .iter()
            .find(|m| m.env_var() == *var)
            .ok_or_else(|| ConfigError::Invalid {
                option: var.clone(),
                value: value.clone(),
                allowed: format!(
                    "not a known variable; known are {CONFIG_ENV}, {}",
                    SETTINGS
                        .iter()
                        .map(Meta::env_var)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        layer = layer.or(parse_assignment(meta, value, var)?);
    }
    Ok(layer)
}

/// Builds the layer of platform conventions (`PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`),
/// which sits below the file: they only fill in what nothing else set.
pub fn fallback_layer(env: &BTreeMap<String, String>) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for meta in SETTINGS {
        let Some(fallback) = &meta.fallback else {
            continue;
        };
        // An empty variable is treated as unset, as shells make it easy to export one.
        match env.get(fallback.var).filter(|v| !v.is_empty()) {
            Some(value) => {
                let value = (fallback.to_value)(value);
                layer = layer.or(parse_assignment(meta, &value, fallback.var)?);
            }
            None => continue,
        }
    }
    Ok(layer)
}

/// Turns a clap error into ours: a bad value becomes [`ConfigError::Invalid`] naming the
/// option (or `source`, the variable it came from); anything else stays a clap error.
pub fn clap_error(e: clap::Error, source: Option<&str>) -> ConfigError {
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return ConfigError::Cli(e);
    }
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    let option = match source {
        Some(source) => source.to_owned(),
        // clap spells the argument "--workers <N>" or "--reuse-port[=<BOOL>]"; the flag
        // alone is what users type.
        None => context(ContextKind::InvalidArg)
            .map(|a| {
                a.split([' ', '[', '='])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_default(),
    };
    let allowed = match std::error::Error::source(&e) {
        Some(inner) => inner.to_string(),
        None => e.kind().to_string(),
    };
    ConfigError::Invalid {
        option,
        value,
        allowed,
    }
}

/// Reads a TOML boolean, or a string [`boolean`] accepts (`"on"`, `"no"`...), as the
/// environment spells it.
fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolVisitor).map(Some)
}

/// Visitor for [`flexible_bool`].
struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a boolean ({BOOLEAN_WORDS})")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        boolean(v).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
}

/// Reads a string, or a number as the string it is written as: `cert_reqs = 2` (gunicorn's
/// `ssl.CERT_REQUIRED`), `tls_min_version = 1.3`.
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor).map(Some)
}

/// Visitor for [`text_or_number`].
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Reads a string or an array of strings (gunicorn accepts `bind = "x"` as well as a list).
fn one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    d.deserialize_any(StringsVisitor(false, PhantomData))
        .map(Some)
}

/// Like [`one_or_many`], but a single string is a comma-separated list, as on the CLI.
fn comma_separated<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    d.deserialize_any(StringsVisitor(true, PhantomData))
        .map(Some)
}

/// Visitor for [`one_or_many`] and [`comma_separated`]; the flag says whether to split a
/// single string on commas.
struct StringsVisitor<T>(bool, PhantomData<T>);

impl<'de, T: From<String>> Visitor<'de> for StringsVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if self.0 {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| T::from(s.to_owned()))
                .collect()
        } else {
            vec![T::from(v.to_owned())]
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<String>()? {
            out.push(T::from(s));
        }
        Ok(out)
    }
}

/// Reads `--secure-scheme-headers` from a file: a table (`{ "X-FORWARDED-PROTO" = "https" }`,
/// gunicorn's dict), or the command line's `NAME=VALUE` strings (one string, comma-separated,
/// or an array: what `--print-config` writes).
fn header_table<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct TableVisitor;
    impl<'de> Visitor<'de> for TableVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of header names and values, or NAME=VALUE strings")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                out.push(format!("{name}={value}"));
            }
            Ok(out)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            StringsVisitor(true, PhantomData).visit_str(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            StringsVisitor(false, PhantomData).visit_seq(seq)
        }
    }
    d.deserialize_any(TableVisitor).map(Some)
}

/// Reads `proxy_protocol` from a file: a mode string, or gunicorn's boolean (true: `auto`).
fn mode_or_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct ModeVisitor;
    impl Visitor<'_> for ModeVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("off, v1, v2, auto, or a boolean")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(if v { "auto" } else { "off" }.to_owned())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
    }
    d.deserialize_any(ModeVisitor).map(Some)
}

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// How an argument is written on the command line, for the docs: "`-w N`, `--workers N`",
/// or "`--reuse-port[=BOOL]`" for a value that may be left out.
fn flag_cell(arg: &clap::Arg) -> String {
    let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(|n| match optional {
            true => format!("[={n}]"),
            false => format!(" {n}"),
        })
        .filter(|_| arg.get_action().takes_values())
        .unwrap_or_default();
    let mut forms = Vec::new();
    if let Some(short) = arg.get_short() {
        forms.push(format!("`-{short}{value}`"));
    }
    if let Some(long) = arg.get_long() {
        forms.push(format!("`--{long}{value}`"));
    }
    if forms.is_empty() {
        forms.push(format!("`{}`", value.trim()));
    }
    forms.join(", ")
}

/// User documentation of every option, as Markdown: a table of the settings (flags, TOML
/// key, environment variable, default, description) followed by the command-line-only
/// options. Generated from the declarations, so it cannot go stale.
pub fn markdown_table() -> String {
    let layer = layer_command();
    let mut out = String::from(
        "| Option | TOML key | Environment | Default | Description |\n\
         |---|---|---|---|---|\n",
    );
    for meta in SETTINGS {
        let flags = layer
            .get_arguments()
            .find(|a| a.get_id() == meta.name)
            .map(flag_cell)
            .unwrap_or_default();
        out.push_str(&format!(
            "| {flags} | `{}` | `{}` | {} | {} |\n",
            meta.name,
            meta.env_var(),
            cell(meta.default),
            cell(&meta.doc_paragraph()),
        ));
    }
    out.push_str("\nCommand-line only:\n\n| Option | Description |\n|---|---|\n");
    let cli = <Cli as clap::CommandFactory>::command();
    for arg in cli.get_arguments() {
        if SETTINGS.iter().any(|m| m.name == arg.get_id()) {
            continue;
        }
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        out.push_str(&format!("| {} | {} |\n", flag_cell(arg), cell(&help)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_env_var_doc_flag_and_default() {
        let cmd = layer_command();
        for meta in SETTINGS {
            assert_eq!(
                meta.env_var(),
                format!("RSGI_{}", meta.name.to_uppercase()),
                "{}",
                meta.name
            );
            assert!(!meta.doc_paragraph().is_empty(), "{} has no doc", meta.name);
            assert!(!meta.default.is_empty(), "{} has no default doc", meta.name);
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == meta.name)
                .unwrap_or_else(|| panic!("{} is not a clap argument", meta.name));
            // Long flags are the kebab-case of the TOML key, as gunicorn spells them.
            if let Some(long) = arg.get_long() {
                assert_eq!(long, meta.name.replace('_', "-"));
            }
        }
    }

    #[test]
    fn markdown_table_lists_every_setting() {
        let table = markdown_table();
        for meta in SETTINGS {
            assert!(table.contains(&format!("`{}`", meta.name)), "{}", meta.name);
            assert!(table.contains(&meta.env_var()), "{}", meta.name);
        }
        assert!(table.contains("`-w N`, `--workers N`"), "{table}");
        assert!(table.contains("`--config FILE`"), "{table}");
        assert!(table.contains("`--print-config`"), "{table}");
        assert!(table.contains("| `--reuse-port[=BOOL]` |"), "{table}");
        assert!(table.contains("| `--threads N` |"), "{table}");
    }

    #[test]
    fn boolean_words() {
        for word in ["true", "True", "ON", "yes", "1", " on "] {
            assert_eq!(boolean(word), Ok(true), "{word:?}");
        }
        for word in ["false", "FALSE", "off", "No", "0"] {
            assert_eq!(boolean(word), Ok(false), "{word:?}");
        }
        for word in ["", "2", "y", "n", "enable", "truefalse", "-1"] {
            let err = boolean(word).expect_err(word);
            assert!(err.contains(BOOLEAN_WORDS), "{word:?}: {err}");
        }
    }

    #[test]
    fn env_booleans_go_through_the_flag_parser() {
        let env = BTreeMap::from([
            ("RSGI_REUSE_PORT".to_owned(), "false".to_owned()),
            ("RSGI_REQUEST_BUFFERING".to_owned(), "Off".to_owned()),
        ]);
        let layer = env_layer(&env).expect("env layer");
        assert_eq!(layer.reuse_port, Some(false));
        assert_eq!(layer.request_buffering, Some(false));
        let layer: Layer =
            toml::from_str("reuse_port = true\nrequest_buffering = \"no\"\n").expect("toml");
        assert_eq!(layer.reuse_port, Some(true));
        assert_eq!(layer.request_buffering, Some(false));
    }

    #[test]
    fn layers_merge_and_resolve() {
        let high = Layer {
            workers: Some(3),
            ..Layer::default()
        };
        let low = Layer {
            workers: Some(5),
            timeout: Some(9),
            ..Layer::default()
        };
        let settings = high.or(low).resolve();
        assert_eq!(settings.workers, Some(3));
        assert_eq!(settings.timeout, Some(9));
        assert_eq!(settings.keep_alive, Some(2));
        assert_eq!(settings.app, None);
    }

    #[test]
    fn env_lists_split_on_commas() {
        let env = BTreeMap::from([
            ("RSGI_BIND".to_owned(), "a:1,b:2".to_owned()),
            ("RSGI_APP".to_owned(), "-odd:app".to_owned()),
        ]);
        let layer = env_layer(&env).expect("env layer");
        assert_eq!(layer.bind, Some(vec!["a:1".to_owned(), "b:2".to_owned()]));
        assert_eq!(layer.app.as_deref(), Some("-odd:app"));
    }

    #[test]
    fn file_lists_accept_a_single_string() {
        let layer: Layer = toml::from_str("bind = \"x:1\"\npythonpath = \"a,b\"\n").expect("toml");
        assert_eq!(layer.bind, Some(vec!["x:1".to_owned()]));
        assert_eq!(
            layer.pythonpath,
            Some(vec![PathBuf::from("a"), PathBuf::from("b")])
        );
    }
}
