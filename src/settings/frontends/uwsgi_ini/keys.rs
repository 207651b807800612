//! The uWSGI options rsgi-server reads, and what each means here: one of our settings, a
//! translation [`super::translate`] makes by name, no meaning at all (warned about once), or
//! refused with the reason (behaviour we cannot honour).

/// What a uWSGI option means here.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Meaning {
    /// Our setting of this name, the value as written (numbers and text are checked by the
    /// setting's own parser).
    Set(&'static str),
    /// Our boolean setting of this name, from uWSGI's boolean words.
    Flag(&'static str),
    /// Translated by name in [`super::translate`] (app, listeners, logs, preload...).
    Special,
    /// Nothing to do here: the reason, in the warning.
    Ignored(&'static str),
    /// Behaviour rsgi-server cannot honour: the reason, in the error.
    Refused(&'static str),
}

use Meaning::{Flag, Ignored, Refused, Set, Special};

const HOOKS: &str = "uWSGI's hooks run commands at server phases; use --hooks (gunicorn's \
                     server hooks) or the service manager";
const SPOOLER: &str = "uWSGI's spooler is a task queue; use Celery, RQ or similar";
const TIMERS: &str = "uWSGI's timers, signals and cron; use systemd timers or cron";
const DAEMONS: &str = "uWSGI managing other programs; run them as their own services";
const MULES: &str = "mules are extra processes for background work; use a task queue";
const GREEN: &str = "rsgi-server runs each worker's requests on threads (--threads), not \
                     coroutines (gevent, async, greenlets)";
const CHEAPER: &str = "the number of workers is fixed (--workers); it does not scale with load";
const EMPEROR: &str = "the Emperor manages many instances; run one rsgi-server per application \
                       (e.g. a systemd template unit)";
const ROUTING: &str = "uWSGI's internal routing and response rewriting; do it in the proxy or \
                       the application";
const CACHE: &str = "uWSGI's shared cache; use Redis or memcached";
const MONITORING: &str = "uWSGI's monitoring (stats server, carbon, alarms, SNMP) is not \
                          supported yet (the metrics issue)";
const ROUTERS: &str = "uWSGI's routers and clustering; put a proxy (nginx, HAProxy) in front";
const SHARED: &str = "uWSGI's shared memory, queue and RPC APIs are not available here";
const STATIC: &str = "uWSGI's other static-file options (docroots, per-file checks) are not \
                      supported; map URL prefixes to directories with static-map";
const REWRITES: &str = "the process title is always `rsgi-server: master|worker [NAME]` \
                        (--proc-name names it)";
const LOG_SUBSET: &str = "the access log has every request or none (disable-logging); it \
                          cannot log a subset";

/// Every uWSGI option read by name, with its aliases.
pub const KEYS: &[(&[&str], Meaning)] = &[
    // The application.
    (&["module", "wsgi", "w"], Special),
    (&["wsgi-file", "file"], Special),
    (&["callable"], Special),
    (&["lazy-apps", "lazy"], Special),
    (&["chdir"], Set("chdir")),
    (&["static-map"], Set("static_map")),
    (
        &["home", "virtualenv", "venv", "pyhome", "H"],
        Set("virtualenv"),
    ),
    (&["pythonpath", "python-path", "pp"], Special),
    (&["env"], Set("env")),
    (&["py-autoreload", "python-autoreload"], Special),
    // Listeners.
    (&["http", "http-socket", "http11-socket"], Special),
    (&["https", "https-socket"], Special),
    (&["socket", "uwsgi-socket", "s"], Special),
    (&["protocol", "socket-protocol"], Special),
    (&["chmod-socket", "chmod"], Special),
    (&["listen", "l"], Set("backlog")),
    (
        &["enable-proxy-protocol", "http-enable-proxy-protocol"],
        Special,
    ),
    (&["reuse-port"], Flag("reuse_port")),
    // Processes.
    (&["processes", "workers", "p"], Set("workers")),
    (&["threads"], Set("threads")),
    (&["uid"], Set("user")),
    (&["gid"], Set("group")),
    (&["umask"], Set("umask")),
    (&["pidfile", "pidfile2"], Set("pid")),
    (&["procname"], Set("proc_name")),
    (&["daemonize", "daemonize2"], Special),
    // Limits and recycling.
    (&["harakiri", "t"], Special),
    (
        &["max-requests", "max-requests-per-worker"],
        Set("max_requests"),
    ),
    // Approximate: uWSGI adds worker-id × delta to each worker's limit, ours a random 0 to
    // delta; both keep the workers from being replaced at once.
    (&["max-requests-delta"], Set("max_requests_jitter")),
    (
        &["reload-on-rss", "evil-reload-on-rss"],
        Set("max_worker_memory"),
    ),
    (&["max-worker-lifetime"], Set("max_worker_lifetime")),
    (
        &["max-worker-lifetime-delta"],
        Set("max_worker_lifetime_jitter"),
    ),
    (
        &["reload-mercy", "worker-reload-mercy"],
        Set("graceful_timeout"),
    ),
    (&["buffer-size", "b"], Set("limit_request_head")),
    (&["post-buffering"], Set("body_buffer_size")),
    (&["limit-post"], Set("limit_request_body")),
    (&["socket-timeout", "http-timeout"], Special),
    // Logging.
    (&["logto", "logto2"], Special),
    (&["logger", "req-logger"], Special),
    (&["disable-logging"], Special),
    (&["log-format", "logformat"], Special),
    // No meaning here.
    (
        &["master", "M"],
        Ignored("there is always a master process here"),
    ),
    (
        &["enable-threads", "T"],
        Ignored("Python threads are always enabled here"),
    ),
    (
        &["vacuum"],
        Ignored("Unix sockets and the pid file are always removed at exit"),
    ),
    (
        &["die-on-term"],
        Ignored("SIGTERM always stops the server gracefully here"),
    ),
    (
        &["single-interpreter", "i"],
        Ignored("each worker always has one interpreter"),
    ),
    (
        &["thunder-lock"],
        Ignored("there is no accept lock to take: the workers' listening sockets need none"),
    ),
    (
        &["need-app"],
        Ignored("a server whose application cannot be loaded always exits"),
    ),
    (
        &["memory-report"],
        Ignored("per-request memory is not reported; --max-worker-memory bounds it"),
    ),
    (
        &["strict"],
        Ignored("unknown options are always errors here"),
    ),
    (&["plugins", "plugin"], Special),
    (
        &[
            "auto-procname",
            "procname-prefix",
            "procname-prefix-spaced",
            "procname-append",
            "procname-master",
        ],
        Ignored(REWRITES),
    ),
    (
        &["harakiri-verbose"],
        Ignored("a worker killed by --timeout is always logged"),
    ),
    (
        &[
            "log-date",
            "log-micros",
            "log-master",
            "log-reopen",
            "logfile-chown",
            "log-encoder",
        ],
        Ignored("both logs are written line by line with timestamps, and reopened on SIGUSR1"),
    ),
    (
        &["no-orphans"],
        Ignored("workers always exit with the master"),
    ),
    (
        &["close-on-exec", "close-on-exec2"],
        Ignored("sockets are always close-on-exec"),
    ),
    (
        &["http-keepalive", "so-keepalive"],
        Ignored("HTTP keep-alive is always on (--keep-alive)"),
    ),
    (
        &["offload-threads"],
        Ignored("responses are written by the workers themselves"),
    ),
    (
        &["manage-script-name"],
        Ignored("SCRIPT_NAME comes from --root-path"),
    ),
    (
        &[
            "ignore-sigpipe",
            "ignore-write-errors",
            "disable-write-exception",
        ],
        Ignored("a client that goes away never raises in the application here"),
    ),
    (
        &[
            "post-buffering-bufsize",
            "max-fd",
            "optimize",
            "py-call-osafterfork",
        ],
        Ignored("no setting of that kind here"),
    ),
    (
        &[
            "http-processes",
            "http-workers",
            "http-buffer-size",
            "http-raw-body",
        ],
        Ignored("there is no separate HTTP router here: the workers serve HTTP themselves"),
    ),
    (
        &["http-auto-chunked"],
        Ignored("HTTP/1.1 responses without a length are always sent chunked"),
    ),
    (
        &["show-config", "print", "honour-stdin", "no-site"],
        Ignored("no setting of that kind here"),
    ),
    (
        &["harakiri-graceful-timeout", "harakiri-graceful-signal"],
        Ignored("a worker stuck past --timeout is killed and replaced"),
    ),
    (
        &["wsgi-disable-file-wrapper"],
        Ignored("wsgi.file_wrapper is always provided"),
    ),
    // Refused.
    (
        &["http-auto-gzip"],
        Refused("compress responses in the proxy or the application"),
    ),
    (
        &["limit-as"],
        Refused(
            "limit memory with the service manager (MemoryMax=, ulimit -v) or --max-worker-memory",
        ),
    ),
    (
        &[
            "ssl-socket",
            "suwsgi-socket",
            "fastcgi-socket",
            "fastcgi-nph-socket",
            "scgi-socket",
            "scgi-nph-socket",
            "raw-socket",
            "shared-socket",
            "zeromq",
            "zmq",
        ],
        Refused(
            "only HTTP and uwsgi listeners are served here (http, http-socket, https, socket, \
             uwsgi-socket)",
        ),
    ),
    (
        &["vhost", "vhost-host"],
        Refused("one application per server here"),
    ),
    (
        &[
            "pyargv",
            "import",
            "pyimport",
            "python-import",
            "py-import",
            "pymodule-alias",
            "shared-import",
            "spooler-import",
        ],
        Refused("import modules from the application (or a --hooks file's post_fork)"),
    ),
    (
        &[
            "py-tracebacker",
            "master-fifo",
            "reload-on-exception",
            "touch-logreopen",
        ],
        Refused("control the server with signals: HUP reloads, USR1 reopens the logs, TERM stops"),
    ),
    (
        &["mount"],
        Refused(
            "one application per server here: name it with module or wsgi-file, and its URL prefix with --root-path",
        ),
    ),
    (
        &["chown-socket"],
        Refused("Unix sockets belong to the user of uid (--user)"),
    ),
    (
        &["reload-on-as"],
        Refused("--max-worker-memory measures resident memory (reload-on-rss)"),
    ),
    (
        &[
            "touch-reload",
            "touch-chain-reload",
            "touch-workers-reload",
            "fs-reload",
        ],
        Refused("reload with SIGHUP (kill -HUP), or --reload for Python changes"),
    ),
    (&["idle", "cheap", "die-on-idle"], Refused(CHEAPER)),
    (
        &["log-maxsize", "log-backupname"],
        Refused("rotate logs with logrotate and SIGUSR1"),
    ),
    (
        &["log-x-forwarded-for"],
        Refused("trust the proxy with --forwarded-allow-ips: the access log then names the client"),
    ),
    (
        &[
            "log-4xx",
            "log-5xx",
            "log-slow",
            "log-big",
            "log-zero",
            "log-ioerror",
            "log-sendfile",
        ],
        Refused(LOG_SUBSET),
    ),
    (
        &["add-header", "del-header", "pass-header"],
        Refused(ROUTING),
    ),
    (
        &[
            "chroot",
            "cap",
            "unshare",
            "jailed",
            "pivot-root",
            "cpu-affinity",
            "cgroup",
        ],
        Refused(
            "process confinement is left to the service manager (systemd's sandboxing options)",
        ),
    ),
    (
        &["xml", "yaml", "yml", "json", "include", "sqlite", "ldap"],
        Refused("only ini files can be included here (ini = FILE[:SECTION])"),
    ),
    (
        &["declare-option", "set-placeholder", "set-ph", "set"],
        Refused("define a custom option with a plain `name = value` line and read it with %(name)"),
    ),
    (
        &["http-websockets", "websockets-ping-freq"],
        Refused("WebSockets are not served here"),
    ),
    (
        &[
            "stats",
            "stats-server",
            "stats-http",
            "stats-minified",
            "stats-push",
        ],
        Refused(MONITORING),
    ),
];

/// Families of uWSGI options refused together, by prefix.
pub const REFUSED_FAMILIES: &[(&str, &str)] = &[
    ("hook-", HOOKS),
    ("exec-", HOOKS),
    ("call-", HOOKS),
    ("spooler", SPOOLER),
    ("cron", TIMERS),
    ("unique-cron", TIMERS),
    ("timer", TIMERS),
    ("rbtimer", TIMERS),
    ("signal", TIMERS),
    ("attach-daemon", DAEMONS),
    ("smart-attach-daemon", DAEMONS),
    ("attach-control-daemon", DAEMONS),
    ("legion", DAEMONS),
    ("mule", MULES),
    ("farm", MULES),
    ("gevent", GREEN),
    ("async", GREEN),
    ("ugreen", GREEN),
    ("greenlet", GREEN),
    ("asyncio", GREEN),
    ("tornado", GREEN),
    ("cheaper", CHEAPER),
    ("emperor", EMPEROR),
    ("vassal", EMPEROR),
    ("route", ROUTING),
    ("response-route", ROUTING),
    ("final-route", ROUTING),
    ("error-route", ROUTING),
    ("cache", CACHE),
    ("carbon", MONITORING),
    ("alarm", MONITORING),
    ("snmp", MONITORING),
    ("metric", MONITORING),
    ("fastrouter", ROUTERS),
    ("subscribe", ROUTERS),
    ("zerg", ROUTERS),
    ("http-to", ROUTERS),
    ("cluster", ROUTERS),
    ("sharedarea", SHARED),
    ("queue", SHARED),
    ("rpc", SHARED),
    ("static", STATIC),
    ("check-static", STATIC),
    ("offload-", ROUTERS),
];

/// What `key` (normalized) means, if rsgi-server knows it by name.
pub fn exact(key: &str) -> Option<Meaning> {
    KEYS.iter()
        .find(|(names, _)| names.contains(&key))
        .map(|(_, meaning)| *meaning)
}

/// Why `key` is refused, if it belongs to a family of options refused together.
pub fn family(key: &str) -> Option<&'static str> {
    REFUSED_FAMILIES
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// The known option closest to an unknown `key`, for "did you mean".
pub fn closest(key: &str) -> Option<String> {
    let names = KEYS
        .iter()
        .flat_map(|(names, _)| names.iter())
        .filter(|n| n.len() > 2)
        .map(|n| (*n).to_owned());
    crate::settings::closest(key, names)
}
