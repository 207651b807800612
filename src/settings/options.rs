//! Every option's declaration: its doc comment (the user documentation, shown by `--help`
//! and in the README), its clap attributes, its name (the TOML key, and `RSGI_<NAME>`), its
//! type and its default. From that one declaration come the command-line flag, the file
//! key, the environment variable, the defaults and the docs, so they never drift apart.
//!
//! What a value means and which values are allowed is said by the group that consumes it
//! ([`group!`](super::group)), not here.

use super::check::Raw;
use super::macros::settings;
use super::paths;
use super::sources::layer_command;
use super::values::{
    boolean, comma_separated, flexible_bool, header_table, json_text, mode_or_bool, one_or_many,
    text_or_number, whole_number,
};
use clap::{Args, Parser};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// gunicorn's access log line, the default `--access-log-format`.
pub const DEFAULT_ACCESS_LOG_FORMAT: &str =
    r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

/// gunicorn's default `--secure-scheme-headers`: the headers, and the value meaning https,
/// that common proxies set.
pub const DEFAULT_SECURE_SCHEME_HEADERS: [(&str, &str); 3] = [
    ("X-FORWARDED-PROTOCOL", "ssl"),
    ("X-FORWARDED-PROTO", "https"),
    ("X-FORWARDED-SSL", "on"),
];

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

settings! {
    /// The WSGI application to serve, as `module:callable`; the callable defaults to
    /// `application` (e.g. `myproject.wsgi:application`).
    #[arg(value_name = "APP")]
    app: String = None, shown "(required)";

    /// Address to listen on: `HOST:PORT`, `[IPV6]:PORT`, `unix:PATH` or `fd://N` (an
    /// inherited listening socket), after `uwsgi://` for a listener speaking the uwsgi
    /// protocol (`--protocol`). Repeat to listen on several addresses.
    #[arg(short = 'b', long, value_name = "ADDRESS")]
    #[serde(default, deserialize_with = "one_or_many")]
    bind: Vec<String> = Some(vec!["127.0.0.1:8000".to_owned()]),
        shown "`127.0.0.1:8000`, or `0.0.0.0:$PORT` if `PORT` is set",
        fallback "PORT" => |port| format!("0.0.0.0:{port}"),
        paths paths::binds;

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
    chdir: PathBuf = None, shown "(the current directory)",
        paths paths::path;

    /// Directories to prepend to the Python path, comma-separated.
    #[arg(long, value_name = "DIRS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    pythonpath: Vec<PathBuf> = None, shown "(none)",
        paths paths::path_list;

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
    tmp_upload_dir: PathBuf = None, shown "`$TMPDIR`, else `/tmp`",
        paths paths::path;

    /// Largest request body accepted, in bytes; a larger one gets 413. 0 means no limit.
    #[arg(long, value_name = "BYTES", value_parser = whole_number,
          allow_negative_numbers = true)]
    limit_request_body: i64 = Some(0), shown "0 (no limit)";

    /// Virtual environment whose packages the application imports; the directory must
    /// contain `pyvenv.cfg`.
    #[arg(long, value_name = "DIR")]
    virtualenv: PathBuf = None, shown "`$VIRTUAL_ENV`, if set",
        fallback "VIRTUAL_ENV" => |dir| dir.to_owned(),
        paths paths::path;

    /// Permission bits, in octal (e.g. `660`), for Unix sockets the server creates.
    #[arg(long, value_name = "OCTAL")]
    unix_socket_mode: String = None, shown "(from the umask)";

    /// Minimum level of messages written to the error log: debug, info, warning, error
    /// or critical.
    #[arg(long, value_name = "LEVEL")]
    log_level: String = Some("info".to_owned()), shown "`info`";

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

    /// Write the master's process id to this file (atomically), and remove it on exit. A
    /// file naming a live process is an error; one left by a dead process is replaced.
    #[arg(short = 'p', long, value_name = "FILE")]
    pid: PathBuf = None, shown "(none)",
        paths paths::path;

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

    /// Where the error log goes: a file (opened for appending and reopened on SIGUSR1), or
    /// `-` for standard error. The master and every worker write whole lines to it. Also
    /// spelled `--log-file`.
    #[arg(long, visible_alias = "log-file", value_name = "FILE")]
    error_logfile: PathBuf = Some(PathBuf::from("-")), shown "`-` (standard error)",
        paths paths::log_file;

    /// Where the access log goes: a file (opened for appending and reopened on SIGUSR1), or
    /// `-` for standard output. No access log unless set.
    #[arg(long, value_name = "FILE")]
    access_logfile: PathBuf = None, shown "(none)",
        paths paths::log_file;

    /// The access log line, with gunicorn's atoms: `%(h)s` remote address, `%(l)s` `-`,
    /// `%(u)s` Basic auth user, `%(t)s` time, `%(r)s` request line, `%(m)s` method, `%(U)s`
    /// path, `%(q)s` query, `%(H)s` protocol, `%(s)s` status, `%(B)s` body bytes, `%(b)s`
    /// body bytes or `-`, `%(f)s` referer, `%(a)s` user agent, `%(T)s` `%(M)s` `%(D)s`
    /// `%(L)s` duration in seconds, milliseconds, microseconds, decimal seconds, `%(p)s`
    /// `<pid>`, `%({Header}i)s` request header, `%({Header}o)s` response header,
    /// `%({NAME}e)s` environ key as the server sets it (`REMOTE_PORT`, `HTTP_X_ID`...) or
    /// else the process environment variable; `%%` is a `%`. Values are escaped (`\xNN`,
    /// `\"`, `\\`) so a client cannot forge a line. An unknown atom is an error.
    #[arg(long, visible_alias = "access-logformat", value_name = "FORMAT")]
    access_log_format: String = Some(DEFAULT_ACCESS_LOG_FORMAT.to_owned()),
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

    /// Send the logs to syslog too (gunicorn's `--log-syslog`): the error log always, the
    /// access log unless `--disable-redirect-access-to-syslog`, each line as
    /// `<PRI>gunicorn.<PREFIX>.error: [PID] message` (or `.access`) where PREFIX is
    /// `--log-syslog-prefix` or the process name. A syslog server that is down never blocks
    /// the server: lines are dropped and counted. `--log-syslog` (gunicorn's spelling) alone means true.
    #[arg(long, visible_alias = "log-syslog", value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    syslog: bool = Some(false), shown "false";

    /// Where syslog lines go: `unix://PATH` (a datagram socket, else a stream one;
    /// `unix://PATH#dgram` only a datagram one), `udp://HOST:PORT` or `tcp://HOST:PORT`
    /// (port 514 if left out). Also spelled `--log-syslog-to`.
    #[arg(long, visible_alias = "log-syslog-to", value_name = "SYSLOG_ADDR")]
    syslog_addr: String = Some("udp://localhost:514".to_owned()), shown "`udp://localhost:514`";

    /// The program name in syslog lines is `gunicorn.<PREFIX>.error` (and `.access`). Also
    /// spelled `--log-syslog-prefix`.
    #[arg(long, visible_alias = "log-syslog-prefix", value_name = "SYSLOG_PREFIX")]
    syslog_prefix: String = None, shown "(the process name, `--proc-name`)";

    /// The syslog facility: `user`, `daemon`, `auth`, `authpriv`, `cron`, `ftp`, `kern`,
    /// `lpr`, `mail`, `news`, `security`, `syslog`, `uucp`, `local0` to `local7`. Also spelled
    /// `--log-syslog-facility`.
    #[arg(long, visible_alias = "log-syslog-facility", value_name = "SYSLOG_FACILITY")]
    syslog_facility: String = Some("user".to_owned()), shown "`user`";

    /// With `--log-syslog`, keep the access log out of syslog.
    /// `--disable-redirect-access-to-syslog` alone means true.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    disable_redirect_access_to_syslog: bool = Some(false), shown "false";

    /// A Python logging config file (`logging.config.fileConfig`'s ini), as gunicorn reads
    /// it for its `gunicorn.error` and `gunicorn.access` loggers. Translated at startup:
    /// levels, `StreamHandler` (stdout/stderr), `FileHandler`/`WatchedFileHandler`,
    /// `SysLogHandler`, `NullHandler`, and formatters' `format`/`datefmt`; anything else is
    /// an error naming it. Also spelled `--log-config`.
    #[arg(long, visible_alias = "log-config", value_name = "FILE")]
    logconfig: PathBuf = None, shown "(none)",
        paths paths::path;

    /// A Python logging config dictionary (`logging.config.dictConfig`), as JSON (in a
    /// config file, a table). Translated as `--log-config` is; it takes precedence over
    /// `--log-config` and `--log-config-json`. Also spelled `--log-config-dict`.
    #[arg(long, visible_alias = "log-config-dict", value_name = "JSON")]
    #[serde(default, deserialize_with = "json_text")]
    logconfig_dict: String = None, shown "(none)";

    /// A JSON file holding a Python logging config dictionary; translated as
    /// `--log-config-dict` is, and takes precedence over `--log-config`. Also spelled
    /// `--log-config-json`.
    #[arg(long, visible_alias = "log-config-json", value_name = "FILE")]
    logconfig_json: PathBuf = None, shown "(none)",
        paths paths::path;

    /// With `--daemon`, keep standard output and error where they were redirected
    /// (a file or a pipe; a terminal still goes to /dev/null); without it, they go to
    /// /dev/null once the daemon serves. `-R` alone means true.
    #[arg(short = 'R', long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    enable_stdio_inheritance: bool = Some(false), shown "false";

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
    hooks: String = None, shown "(none)",
        paths paths::module_or_file;

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
    reload_extra_files: Vec<PathBuf> = None, shown "(none)",
        paths paths::path_list;

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
    #[arg(long, visible_alias = "limit-request-field_size", value_name = "BYTES",
          value_parser = whole_number,
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

    /// Accept obsolete line folding in request headers: a header line starting with a
    /// space or tab continues the field before it, and the pieces are joined by one space
    /// (RFC 9112 §5.2). Off (the default): such a request gets 400, as the RFC requires of
    /// a server and gunicorn does by default. Whitespace before the first header is refused
    /// either way, and a folded field is held to `--limit-request-field-size` as a whole.
    /// gunicorn's `--permit-obsolete-folding`; also applies to trailer fields.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    permit_obsolete_folding: bool = Some(false), shown "false";

    /// DANGEROUS compatibility switch: strip whitespace between a header name and its
    /// colon (`Host : x` is read as `Host: x`) instead of answering 400. RFC 9112 §5.1 says
    /// a server MUST refuse such a request, because a proxy in front that reads the header
    /// differently (or not at all) sees another message: it is a known request-smuggling
    /// vector (`Content-Length : 5`). gunicorn's `--strip-header-spaces`, which gunicorn
    /// itself deprecates; enable only behind a proxy that never forwards such headers.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    strip_header_spaces: bool = Some(false), shown "false";

    /// Accept any token as the request method. Off (the default), as in gunicorn, a method
    /// shorter than 3 or longer than 20 characters, or with a lower case letter or `#`,
    /// gets 400 (every registered method is conventional; RFC 9110 would pass such a token
    /// on). On, the application sees the method as sent (see `--casefold-http-method`).
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    permit_unconventional_http_method: bool = Some(false), shown "false";

    /// Upper-case the request method before anything reads it (`delete` becomes
    /// `DELETE`), as old gunicorn versions did. Methods are case-sensitive (RFC 9110 §9.1),
    /// and without `--permit-unconventional-http-method` a lower case method gets 400
    /// before it could be folded, as in gunicorn.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    casefold_http_method: bool = Some(false), shown "false";

    /// Serve requests with any `HTTP/D.D` version, not only HTTP/1.0 and HTTP/1.1: below
    /// 1.1 (`HTTP/0.9`) as HTTP/1.0, from 1.1 on (`HTTP/1.2`, `HTTP/2.0`) as HTTP/1.1,
    /// with `SERVER_PROTOCOL` the version as sent (gunicorn's meaning; the response's status
    /// line still says HTTP/1.1 or HTTP/1.0). Off (the default), such a request gets 505
    /// (RFC 9110 §15.6.6; gunicorn answers 400). A malformed version is a 400 either way.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    permit_unconventional_http_version: bool = Some(false), shown "false";

    /// What becomes of a request header whose name contains `_`, which the environ could
    /// not tell from its `-` twin (`X_Forwarded_For` and `X-Forwarded-For` are both
    /// `HTTP_X_FORWARDED_FOR`): `drop` leaves it out of the environ, `refuse` answers
    /// 400, `dangerous` maps it like any other (the twins collide, and as in gunicorn any
    /// client's `SCRIPT_NAME` header then sets `SCRIPT_NAME`). Headers named in
    /// `--forwarder-headers` from a peer in `--forwarded-allow-ips` are mapped whatever
    /// this says.
    #[arg(long, value_name = "MODE")]
    header_map: String = Some("drop".to_owned()), shown "`drop`";

    /// Header names with `_` that a peer in `--forwarded-allow-ips` may send into the
    /// environ (as `HTTP_<NAME>`) whatever `--header-map` says; `*` for all. A
    /// `SCRIPT_NAME` header among them also sets `SCRIPT_NAME`, and `PATH_INFO` becomes the
    /// path after it (a path not under it gets 500), as in gunicorn. From any other peer
    /// these headers are treated like any header with `_`. The proxy must make sure
    /// clients cannot send them through.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    forwarder_headers: Vec<String> =
        Some(vec!["SCRIPT_NAME".to_owned(), "PATH_INFO".to_owned()]),
        shown "`SCRIPT_NAME,PATH_INFO`";

    /// gunicorn's choice of HTTP parser (`auto`, `fast` or `python`). Accepted so that
    /// gunicorn command lines work; it has no effect: there is one parser here, and every
    /// value means it.
    #[arg(long, value_name = "PARSER")]
    http_parser: String = Some("auto".to_owned()), shown "`auto`";

    /// Serve HTTPS on every listener with this certificate chain (PEM: the server's
    /// certificate first, then any intermediates). Needs `--keyfile`. Read by the master
    /// at startup (before dropping privileges) and again on HUP.
    #[arg(long, value_name = "FILE")]
    certfile: PathBuf = None, shown "(none: plain HTTP)",
        paths paths::path;

    /// The private key of `--certfile` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    keyfile: PathBuf = None, shown "(none)",
        paths paths::path;

    /// CA certificates (PEM) that client certificates are verified against
    /// (`--cert-reqs`).
    #[arg(long, value_name = "FILE")]
    ca_certs: PathBuf = None, shown "(none)",
        paths paths::path;

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
        DEFAULT_SECURE_SCHEME_HEADERS
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

    /// gunicorn's worker type (`-k`): `sync` and `gthread` (also spelled
    /// `gunicorn.workers.sync.SyncWorker`, `gunicorn.workers.gthread.ThreadWorker`,
    /// `egg:gunicorn#sync`...) both run rsgi-server's workers, threaded or not as
    /// `--threads` says (gunicorn too switches `sync` to `gthread` when `--threads` > 1).
    /// gevent, eventlet, tornado, ASGI and uvicorn workers, and custom classes, are refused
    /// with the reason and what to use instead.
    #[arg(short = 'k', long, value_name = "CLASS")]
    worker_class: String = Some("sync".to_owned()), shown "`sync`";

    /// Serve the application of a PasteDeploy ini file (as Pyramid projects deploy):
    /// `FILE`, or `FILE#SECTION` for an app section other than `main`; then no APP is
    /// given. Loaded as gunicorn loads it, with PasteDeploy's `loadapp` (which must be
    /// importable); a `[loggers]` section of the file configures Python's `logging`, as
    /// gunicorn does. `[server:...]` sections are ignored, as by gunicorn. Also spelled
    /// `--paster`.
    #[arg(long, visible_alias = "paster", value_name = "FILE[#SECTION]")]
    paste: PathBuf = None, shown "(none)",
        paths paths::path;

    /// A PasteDeploy global config variable for `--paste`'s application, `KEY=VALUE`
    /// (`\=` for a `=` in the key). Repeatable. gunicorn's config-file name,
    /// `raw_paste_global_conf`, works too.
    #[arg(long, value_name = "KEY=VALUE")]
    #[serde(default, alias = "raw_paste_global_conf", deserialize_with = "one_or_many")]
    paste_global: Vec<String> = None, shown "(none)";

    /// Print every line of Python the workers execute (module, line number and source) to
    /// standard output, as gunicorn's `--spew` does: the nuclear option of debugging.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    spew: bool = Some(false), shown "false";

    /// Send `wsgi.file_wrapper` files with sendfile(2); with `--sendfile=false` (gunicorn's
    /// `--no-sendfile`) they are read and written in blocks instead. Under TLS files are
    /// always read and encrypted in blocks. When unset, gunicorn's `SENDFILE` variable
    /// decides (`y`, `yes`, `1` or `true` mean true, anything else false).
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    sendfile: bool = Some(true), shown "true, or `$SENDFILE` if set",
        fallback "SENDFILE" => |v| {
            let yes = ["y", "1", "yes", "true"].contains(&v.to_ascii_lowercase().as_str());
            yes.to_string()
        };

    /// Send the responses a worker finishes in one turn of its event loop with one io_uring
    /// submission instead of one send(2) each, so that a client or proxy on the same CPU is
    /// woken once rather than once per response. Needs Linux 5.6 or later and a process
    /// allowed io_uring (not `kernel.io_uring_disabled`, nor a seccomp filter such as
    /// Docker's default profile); elsewhere, or with `--io-uring=false`, each response goes
    /// out with its own send(2).
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    io_uring: bool = Some(true), shown "true";

    /// gunicorn's directory for its workers' heartbeat files. rsgi-server's workers report
    /// their heartbeat through shared memory instead, so no file is created; the directory
    /// must still exist and be writable, so a setting that would fail under gunicorn fails
    /// here too.
    #[arg(long, value_name = "DIR")]
    worker_tmp_dir: PathBuf = None, shown "(none: no heartbeat files)",
        paths paths::path;

    /// How `--reload` notices changes: `poll` (look at every watched file once a second),
    /// `inotify` (woken by the kernel's inotify as soon as a watched file changes) or `auto`
    /// (inotify, or polling where inotify cannot be used).
    #[arg(long, value_name = "ENGINE")]
    reload_engine: String = Some("auto".to_owned()), shown "`auto`";

    /// Accepted for compatibility and ignored, as gunicorn 21+ ignores it: the TLS
    /// versions offered are set with `--tls-min-version`.
    #[arg(long, value_name = "VERSION")]
    #[serde(default, deserialize_with = "text_or_number")]
    ssl_version: String = None, shown "(ignored)";

    /// Accepted for compatibility, with no effect: a client that closes a TLS connection
    /// without close_notify simply ends it here, as gunicorn's default (true) does.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    suppress_ragged_eofs: bool = Some(true), shown "true";

    /// Accepted for compatibility, with no effect: the TLS handshake always happens as the
    /// connection's first bytes arrive, without blocking the worker.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    do_handshake_on_connect: bool = Some(false), shown "false";

    /// Send StatsD metrics, named and typed as gunicorn sends them, to this address:
    /// `HOST:PORT`, `[IPV6]:PORT`, `HOST` (port 8125) or `unix://PATH` (a Unix datagram
    /// socket). Each process sends over its own non-blocking socket; a lost datagram is
    /// dropped, never waited for. Unset or empty: no metrics.
    #[arg(long, value_name = "ADDRESS")]
    statsd_host: String = None, shown "(none)";

    /// Put before every StatsD metric name (`myapp` gives `myapp.gunicorn.requests`); a
    /// trailing `.` is added if missing, by gunicorn's rule. ASCII.
    #[arg(long, value_name = "PREFIX")]
    statsd_prefix: String = Some(String::new()), shown "`\"\"`";

    /// DogStatsD tags added to every StatsD metric, `tag1:value1,tag2:value2` (sent as
    /// `|#tag1:value1,tag2:value2`). ASCII.
    #[arg(long, value_name = "TAGS")]
    dogstatsd_tags: String = Some(String::new()), shown "`\"\"`";

    /// With `--statsd-host`: the master also sends the number of connections waiting in
    /// the listeners' accept queues, `gunicorn.backlog`, once a second (Linux, TCP
    /// listeners; as in gunicorn, a histogram).
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    enable_backlog_metric: bool = Some(false), shown "false";

    /// A Unix socket where the master takes commands: `rsgi-server ctl` (status, workers,
    /// reload, scale, stop, dump-stacks, reopen-logs) and gunicorn's `gunicornc -s PATH`
    /// (same protocol). Off unless set: gunicorn creates one by default at a fixed per-user
    /// path (`$XDG_RUNTIME_DIR/gunicorn.ctl` or `~/.gunicorn/gunicorn.ctl`), where a second
    /// instance would steal the first one's socket; here a second server on a path whose
    /// socket is in use refuses to start, so each instance names its own. A stale socket
    /// (its server gone) is replaced; the file is removed at exit if it is still ours.
    /// Missing parent directories are created (mode 700).
    #[arg(long, value_name = "PATH")]
    control_socket: PathBuf = None, shown "(none)",
        paths paths::path;

    /// Permission bits, in octal, of the control socket file (set before it accepts
    /// anything, whatever the umask). Whatever they allow, only the master's own user (or
    /// root) is served: other peers are refused by their credentials.
    #[arg(long, value_name = "OCTAL")]
    #[serde(default, deserialize_with = "text_or_number")]
    control_socket_mode: String = Some("600".to_owned()), shown "`600`";

    /// Turn the control socket off (gunicorn's `--no-control-socket`), even if a path is
    /// set.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    control_socket_disable: bool = Some(false), shown "false";


    /// Where the master serves Prometheus metrics (`GET /metrics`), on a listener of its
    /// own: `HOST:PORT`, `[IPV6]:PORT` or `unix:PATH`. Answered by the master from shared
    /// memory, even while every worker is busy. Off when unset; applies at start (a reload
    /// does not move it).
    #[arg(long, value_name = "ADDRESS")]
    metrics_bind: String = None, shown "(none)";


    /// Answer health probes on the main listeners, in the workers without Python:
    /// `PREFIX/livez` (the master runs and a worker answers) and `PREFIX/readyz` (every
    /// worker of the current generation is ready and the server is neither draining nor
    /// shedding load), 200 or 503 with a line saying why and `Cache-Control: no-store`.
    /// GET and HEAD only; not in the access log. `/` serves `/livez` and `/readyz`.
    #[arg(long, value_name = "PREFIX")]
    health_path_prefix: String = None, shown "(off)";

    /// Seconds between TERM and the graceful stop: readiness turns 503 at once while the
    /// listeners keep accepting and the workers keep serving, so a load balancer polling
    /// `/readyz` stops sending before any connection is refused; then workers drain as
    /// usual (`--graceful-timeout`). A second TERM, or INT or QUIT, stops at once. 0 (the
    /// default) stops at once, as gunicorn does.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    drain_delay: i64 = Some(0), shown "0";



    /// Milliseconds a request may wait before it reaches the application: one that waited
    /// longer is answered `503 Service Unavailable` with `Retry-After: 1` and
    /// `Connection: close`, without calling the application. The wait runs from when the
    /// request was ready (its head arrived; with request buffering, its body too), or from
    /// an earlier `X-Request-Start` sent by a `--forwarded-allow-ips` proxy (nginx's
    /// `t=SECONDS.MILLIS`, or whole milliseconds, microseconds or nanoseconds since the epoch
    /// as Heroku and others send it). 0 disables shedding.
    #[arg(long, value_name = "MS", value_parser = whole_number,
          allow_negative_numbers = true)]
    max_queue_time: i64 = Some(0), shown "0 (off)";

    /// A request ID header, such as `X-Request-ID`: each request gets an ID, taken from
    /// this header when a `--forwarded-allow-ips` proxy (or a uwsgi front end) sent a sane
    /// one (1 to 200 visible ASCII characters), otherwise generated (32 random hex
    /// digits). The application sees it in the environ under the header's CGI name
    /// (`HTTP_X_REQUEST_ID`, replacing what a client sent), the response carries it unless
    /// the application set the header itself, and the access log shows it as
    /// `%(request_id)s` and the JSON key `request_id`. Unset: no request IDs.
    #[arg(long, value_name = "NAME")]
    request_id_header: String = None, shown "(none: off)";


    /// Seconds a request may run in the application without progress (as `--timeout`
    /// counts it) before `rsgi_server.RequestTimeout`, a `BaseException`, is raised in the
    /// thread running it (mod_wsgi 6's `interrupt-timeout` recovery): its Python stack is
    /// logged, the client gets 504 if no response head was sent yet (otherwise the
    /// connection closes), and the worker and its other threads carry on. The exception
    /// lands when the thread next runs Python bytecode: one blocked in a C call (a long
    /// `time.sleep`, a socket read) gets it when the call returns. An app that swallows it
    /// and stays stuck is still killed at `--timeout`. Must be less than `--timeout` when
    /// both are set. 0 disables it.
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    soft_timeout: i64 = Some(0), shown "0";

    /// The protocol spoken on every listener: `http`, or `uwsgi` (uWSGI's binary protocol,
    /// for nginx's `uwsgi_pass` with its stock `uwsgi_params`), as in gunicorn. One listener
    /// speaks uwsgi when its bind starts with `uwsgi://` (`-b uwsgi://unix:/run/app.sock`,
    /// `-b uwsgi://127.0.0.1:3031`). A uwsgi request's environ is its packet's variables;
    /// its response is HTTP/1.1 without chunked framing, and the connection closes after
    /// it. A malformed packet closes the connection, logged.
    #[arg(long, value_name = "PROTOCOL")]
    protocol: String = Some("http".to_owned()), shown "`http`";

    /// Peers allowed to speak the uwsgi protocol, in the form of `--forwarded-allow-ips`
    /// (`*` for everyone); clients of Unix socket listeners always may, as in gunicorn. A
    /// packet's `REMOTE_ADDR` becomes the client's address, so this is who may name it:
    /// anyone else's connection is closed, logged. Also spelled `--uwsgi-allow-from`.
    #[arg(long, visible_alias = "uwsgi-allow-from", value_name = "LIST", value_delimiter = ',')]
    #[serde(default, deserialize_with = "comma_separated")]
    uwsgi_allow_ips: Vec<String> = Some(vec!["127.0.0.1".to_owned(), "::1".to_owned()]),
        shown "`127.0.0.1,::1`";

    /// Serve the files under DIR at URL_PREFIX from the engine, without Python:
    /// `URL_PREFIX=DIR` (uWSGI's `static-map`). Repeatable; the longest matching prefix
    /// wins. GET and HEAD only (others get 405), with ETag, Last-Modified, conditional and
    /// single-range requests, and `.br`/`.zst`/`.gz` siblings chosen by Accept-Encoding.
    /// Whatever is not a regular file beneath DIR (dotfiles, symlinks out of DIR, devices,
    /// directories without `--static-index`) is a 404.
    #[arg(long, value_name = "URL_PREFIX=DIR")]
    #[serde(default, deserialize_with = "one_or_many")]
    static_map: Vec<String> = None, shown "(none)";

    /// `Cache-Control: public, max-age=SECS` on static files (0: no Cache-Control), plus
    /// `immutable` on fingerprinted names (`name.<12 hex>.ext`, as Django's
    /// ManifestStaticFilesStorage writes them).
    #[arg(long, value_name = "SECS", value_parser = whole_number,
          allow_negative_numbers = true)]
    static_max_age: i64 = Some(0), shown "0";

    /// Serve a directory's `index.html` for the directory (a path without its trailing
    /// slash is redirected to it). Without it, directories are 404.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    static_index: bool = Some(false), shown "false";

    /// Under a static mount, send what is not served (a missing file, a refused path, a
    /// method other than GET or HEAD) to the application instead of answering 404 or 405.
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    static_fallthrough: bool = Some(false), shown "false";

    /// Follow symlinks under static mounts wherever they lead (by default only symlinks
    /// that stay beneath the mapped directory are followed).
    #[arg(long, value_name = "BOOL", value_parser = boolean, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    #[serde(default, deserialize_with = "flexible_bool")]
    static_follow_symlinks: bool = Some(false), shown "false";

    /// A response header with which the application hands the server a file to send in
    /// place of its body: `X-Sendfile` (an absolute path) or `X-Accel-Redirect` (a URI
    /// under a `--sendfile-map` location). The header never reaches the client. Needs
    /// `--sendfile-root`.
    #[arg(long, value_name = "HEADER")]
    sendfile_header: String = Some(String::new()), shown "(none)";

    /// For `X-Accel-Redirect`: `LOCATION=DIR`, the internal location (as in nginx) and
    /// the directory it names, under a `--sendfile-root`. Repeatable.
    #[arg(long, value_name = "LOCATION=DIR")]
    #[serde(default, deserialize_with = "one_or_many")]
    sendfile_map: Vec<String> = None, shown "(none)";

    /// A directory offloaded files may come from; anything else is a 500, logged with the
    /// reason. Repeatable.
    #[arg(long, value_name = "DIR")]
    #[serde(default, deserialize_with = "one_or_many")]
    sendfile_root: Vec<String> = None, shown "(none)";
}

/// The whole command line: every setting plus the options that only make sense there.
#[derive(Parser, Debug)]
// infer_long_args: gunicorn's argparse takes any unambiguous prefix of a long option
// (`--graceful 10`), and command lines written for it use them.
#[command(
    name = "rsgi-server",
    infer_long_args = true,
    version = VERSION,
    about = "A pre-fork WSGI (PEP 3333) application server",
    after_help = "Every option except -c, --ini, --check-config and --print-config can also \
                  be set with an RSGI_<NAME> environment variable (e.g. RSGI_WORKERS=4; lists \
                  comma-separated) or a key in the config file (e.g. workers = 4). The \
                  command line wins over RSGI_* variables, which win over \
                  GUNICORN_CMD_ARGS, which wins over the file (rsgi.toml, a gunicorn.conf.py \
                  or a uwsgi.ini)."
)]
pub struct Cli {
    /// The settings given on the command line.
    #[command(flatten)]
    pub settings: Layer,

    /// Read settings from this file (also `RSGI_CONFIG`): our TOML if it ends in `.toml`,
    /// `python:MODULE` or any other file a gunicorn config file, executed as gunicorn does.
    /// By default `./rsgi.toml` or `./gunicorn.conf.py`, whichever exists.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Read settings from a uWSGI ini file: its `[uwsgi]` section, or `FILE:SECTION`.
    #[arg(long, value_name = "FILE[:SECTION]", conflicts_with = "config")]
    pub ini: Option<String>,

    /// Warn about, rather than refuse, uwsgi.ini settings whose behaviour rsgi-server
    /// cannot honour (spooler, cron, attach-daemon, gevent, cheaper...).
    #[arg(long)]
    pub ini_ignore_unsupported: bool,

    /// Check the configuration, import the application, and exit.
    #[arg(long, conflicts_with = "print_config")]
    pub check_config: bool,

    /// Print the effective configuration as a TOML config file and exit.
    #[arg(long)]
    pub print_config: bool,
}
