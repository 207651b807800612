//! Settings: one declaration per option ([`settings`]), read from the command line, `RSGI_*`
//! environment variables and a TOML file (precedence CLI > env > file > default), then
//! validated once into an immutable [`Config`]. A reload swaps in a whole new `Config` or
//! nothing. This module knows nothing of sockets, processes or Python.
//!
//! Relative paths are resolved where they were written: against the current directory for
//! the command line and the environment, against the file's directory for the config file.
//! So a config file means the same thing whichever directory the server is started from.

pub mod bind;
pub mod settings;
mod validate;

pub use bind::BindAddr;

use settings::{CONFIG_ENV, Cli, Layer, SETTINGS};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The name of the config file read from the current directory when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "rsgi.toml";

/// The validated configuration every other module reads.
///
/// Equality compares the settings and `config_file`, not [`Config::sources`].
#[derive(Clone, Debug)]
pub struct Config {
    /// The application, `module:expression` (default expression `application`).
    pub app: String,
    /// Where to listen, in order.
    pub binds: Vec<BindAddr>,
    /// Number of worker processes.
    pub workers: u32,
    /// Python threads per worker: 1 runs the app on the event-loop thread, more a pool.
    pub threads: u32,
    /// Open client connections per worker; at the limit the worker stops accepting.
    pub worker_connections: u32,
    /// Directory to change to before loading the app.
    pub chdir: Option<PathBuf>,
    /// Directories prepended to `sys.path`.
    pub pythonpath: Vec<PathBuf>,
    /// Environment variables set in the workers' process environment (not in `environ`).
    pub env: Vec<(String, String)>,
    /// `SCRIPT_NAME` prefix the app is mounted at ("" or "/prefix", no trailing slash).
    pub root_path: String,
    /// How long the app may go without progress before its worker is killed and replaced
    /// (the app only, not socket I/O or head delivery); `None` disables.
    pub timeout: Option<Duration>,
    /// How long a client has to deliver a complete request head (408 after); `None` disables.
    pub header_timeout: Option<Duration>,
    /// Longest wait for the next bytes of a request body (408 after); `None` disables.
    pub body_timeout: Option<Duration>,
    /// Longest wait for a client to accept more response bytes (close after); `None` disables.
    pub send_timeout: Option<Duration>,
    /// How long in-flight requests get to finish on a graceful stop.
    pub graceful_timeout: Duration,
    /// How long an idle persistent connection is kept; `None` disables keep-alive.
    pub keep_alive: Option<Duration>,
    /// listen(2) backlog.
    pub backlog: i32,
    /// SO_REUSEPORT on TCP listeners, plus a listener of its own per worker and address.
    pub reuse_port: bool,
    /// Call the app only once the whole request body has arrived (false: once the head has).
    pub request_buffering: bool,
    /// Request bodies up to this many bytes stay in memory; larger ones go to a temp file.
    pub body_buffer_size: u64,
    /// Where spooled bodies go (checked to exist); `None` means [`std::env::temp_dir`].
    pub tmp_upload_dir: Option<PathBuf>,
    /// Largest request body accepted (413 beyond); `None` means no limit.
    pub limit_request_body: Option<u64>,
    /// Virtual environment whose packages the app imports (from `--virtualenv` or
    /// `$VIRTUAL_ENV`), checked to exist and hold `pyvenv.cfg`.
    pub virtualenv: Option<PathBuf>,
    /// Permission bits applied to Unix sockets we create; `None` leaves the umask's choice.
    pub unix_socket_mode: Option<u32>,
    /// Minimum level written to the error log.
    pub log_level: LogLevel,
    // -- issue 4: supervisor --
    /// Requests after which a worker is replaced; `None` disables.
    pub max_requests: Option<u64>,
    /// Up to this many more requests per worker, drawn at random for each.
    pub max_requests_jitter: u64,
    /// Age after which a worker is replaced; `None` disables.
    pub max_worker_lifetime: Option<Duration>,
    /// Up to this much more lifetime per worker, drawn at random for each.
    pub max_worker_lifetime_jitter: Duration,
    /// Resident memory in bytes above which a worker is replaced; `None` disables.
    pub max_worker_memory: Option<u64>,
    // -- issue 4: logging --
    /// The error log file; `None` is standard error (`-`).
    pub error_logfile: Option<PathBuf>,
    /// Where access log lines go; `None`: no access log.
    pub access_logfile: Option<LogTarget>,
    /// The access log line format (gunicorn's `%(atom)s` syntax), checked to compile.
    pub access_log_format: String,
    /// Text lines or JSON objects, for both logs.
    pub log_format: LogFormat,
    /// The application's standard output and error go to the error log.
    pub capture_output: bool,
    // -- issue 4: python --
    /// Import the app in the master before forking (copy-on-write sharing).
    pub preload: bool,
    /// Gunicorn-style server hooks: a dotted module name or an absolute `.py` path.
    pub hooks: Option<String>,
    /// Restart workers when the app's Python files (or `reload_extra_files`) change.
    pub reload: bool,
    /// Further files watched under `reload`.
    pub reload_extra_files: Vec<PathBuf>,
    /// The TOML file this configuration was read from, if any (re-read on reload).
    pub config_file: Option<PathBuf>,
    // -- issue 4: hygiene --
    /// Whether `binds` was configured (command line, environment, file or `PORT`) rather
    /// than the built-in default: decides what systemd's inherited sockets serve.
    pub binds_explicit: bool,
    /// The master's pid file.
    pub pid: Option<PathBuf>,
    /// The user to run as once bound (resolved from a name at validation).
    pub user: Option<u32>,
    /// The group to run as once bound (`--group`, else the user's primary group).
    pub group: Option<u32>,
    /// The file mode creation mask set at startup.
    pub umask: Option<u32>,
    /// Join the user's supplementary groups when dropping privileges.
    pub initgroups: bool,
    /// The name shown in process titles; `None` means the app spec.
    pub proc_name: Option<String>,
    /// Detach into the background.
    pub daemon: bool,
    // -- issue 5: strict --
    /// The request codec's size limits (`--limit-request-line`, `--limit-request-fields`,
    /// `--limit-request-field-size`, `--limit-chunk-ext-size`, `--limit-trailer-size`).
    pub http_limits: crate::http::Limits,
    // -- issue 5: tls --
    /// The certificate chain file (PEM); with `keyfile`, every listener serves TLS.
    pub certfile: Option<PathBuf>,
    /// The private key file (PEM) of `certfile`.
    pub keyfile: Option<PathBuf>,
    /// CA certificates (PEM) client certificates are verified against.
    pub ca_certs: Option<PathBuf>,
    /// Whether clients are asked for a certificate.
    pub cert_reqs: CertReqs,
    /// The cipher suites allowed, by IANA name (canonical spelling); empty: all.
    pub ciphers: Vec<String>,
    /// The oldest TLS version accepted.
    pub tls_min_version: TlsVersion,
    // -- issue 5: proxy --
    /// Peers whose proxy headers (`X-Forwarded-*`, `Forwarded`) are believed.
    pub forwarded_allow_ips: crate::proxy::allow::AllowList,
    /// Header names (as written) and the value meaning https, from a trusted peer.
    pub secure_scheme_headers: Vec<(String, String)>,
    /// Whether connections may or must start with a PROXY protocol header.
    pub proxy_protocol: crate::proxy::Mode,
    /// Peers allowed to send a PROXY protocol header.
    pub proxy_allow_ips: crate::proxy::allow::AllowList,
    /// The command-line and environment layers this configuration was loaded with, kept so
    /// [`Config::reload`] can re-read the file under them. `Sources::default()` for a
    /// configuration built in code (`Config { workers: 2, ..Config::default() }`).
    pub sources: Sources,
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            app,
            binds,
            workers,
            threads,
            worker_connections,
            chdir,
            pythonpath,
            env,
            root_path,
            timeout,
            header_timeout,
            body_timeout,
            send_timeout,
            graceful_timeout,
            keep_alive,
            backlog,
            reuse_port,
            request_buffering,
            body_buffer_size,
            tmp_upload_dir,
            limit_request_body,
            virtualenv,
            unix_socket_mode,
            log_level,
            max_requests,
            max_requests_jitter,
            max_worker_lifetime,
            max_worker_lifetime_jitter,
            max_worker_memory,
            error_logfile,
            access_logfile,
            access_log_format,
            log_format,
            capture_output,
            preload,
            hooks,
            reload,
            reload_extra_files,
            config_file,
            sources: _,
            binds_explicit,
            pid,
            user,
            group,
            umask,
            initgroups,
            proc_name,
            daemon,
            http_limits,
            certfile,
            keyfile,
            ca_certs,
            cert_reqs,
            ciphers,
            tls_min_version,
            forwarded_allow_ips,
            secure_scheme_headers,
            proxy_protocol,
            proxy_allow_ips,
        } = self;
        *app == other.app
            && *binds == other.binds
            && *workers == other.workers
            && *threads == other.threads
            && *worker_connections == other.worker_connections
            && *chdir == other.chdir
            && *pythonpath == other.pythonpath
            && *env == other.env
            && *root_path == other.root_path
            && *timeout == other.timeout
            && *header_timeout == other.header_timeout
            && *body_timeout == other.body_timeout
            && *send_timeout == other.send_timeout
            && *graceful_timeout == other.graceful_timeout
            && *keep_alive == other.keep_alive
            && *backlog == other.backlog
            && *reuse_port == other.reuse_port
            && *request_buffering == other.request_buffering
            && *body_buffer_size == other.body_buffer_size
            && *tmp_upload_dir == other.tmp_upload_dir
            && *limit_request_body == other.limit_request_body
            && *virtualenv == other.virtualenv
            && *unix_socket_mode == other.unix_socket_mode
            && *log_level == other.log_level
            && *max_requests == other.max_requests
            && *max_requests_jitter == other.max_requests_jitter
            && *max_worker_lifetime == other.max_worker_lifetime
            && *max_worker_lifetime_jitter == other.max_worker_lifetime_jitter
            && *max_worker_memory == other.max_worker_memory
            && *error_logfile == other.error_logfile
            && *access_logfile == other.access_logfile
            && *access_log_format == other.access_log_format
            && *log_format == other.log_format
            && *capture_output == other.capture_output
            && *preload == other.preload
            && *hooks == other.hooks
            && *reload == other.reload
            && *reload_extra_files == other.reload_extra_files
            && *config_file == other.config_file
            && *binds_explicit == other.binds_explicit
            && *pid == other.pid
            && *user == other.user
            && *group == other.group
            && *umask == other.umask
            && *initgroups == other.initgroups
            && *proc_name == other.proc_name
            && *daemon == other.daemon
            && *http_limits == other.http_limits
            && *certfile == other.certfile
            && *keyfile == other.keyfile
            && *ca_certs == other.ca_certs
            && *cert_reqs == other.cert_reqs
            && *ciphers == other.ciphers
            && *tls_min_version == other.tls_min_version
            && *forwarded_allow_ips == other.forwarded_allow_ips
            && *secure_scheme_headers == other.secure_scheme_headers
            && *proxy_protocol == other.proxy_protocol
            && *proxy_allow_ips == other.proxy_allow_ips
    }
}

impl Default for Config {
    /// The declared defaults, with no application, no environment and no file: a starting
    /// point for configurations built in code (tests).
    fn default() -> Self {
        let label = |name: &str| name.to_owned();
        validate::validate(Layer::default().resolve(), &label, false)
            .expect("the declared defaults are valid")
    }
}

/// Where a loaded [`Config`] came from: the layers that outrank the file, and how to find
/// the file again. Opaque; only [`Config::reload`] uses it.
#[derive(Clone, Debug, Default)]
pub struct Sources(Option<Arc<Retained>>);

/// What a reload keeps from startup.
#[derive(Debug)]
struct Retained {
    /// Settings from the command line (paths made absolute).
    cli: Layer,
    /// Settings from `RSGI_*` variables (paths made absolute).
    env: Layer,
    /// Defaults from `PORT`, `WEB_CONCURRENCY`, `VIRTUAL_ENV`.
    fallback: Layer,
    /// Whether the application must be named (not for `--print-config`).
    require_app: bool,
}

impl Config {
    /// Re-reads the config file (the same one as at startup, if any) and reapplies the
    /// command-line and environment settings on top, as on SIGHUP. Returns a whole new
    /// configuration or an error, never a mix. A configuration built in code (without
    /// [`Sources`]) reloads as itself.
    pub fn reload(&self) -> Result<Config, ConfigError> {
        match &self.sources.0 {
            Some(retained) => build(retained, self.config_file.clone()),
            None => Ok(self.clone()),
        }
    }
}

/// Parses the command line (`args` includes the program name), the `RSGI_*` and fallback
/// variables in `env`, and the config file, and validates the result. `cwd` is where
/// `rsgi.toml` is looked for and what relative paths on the command line and in the
/// environment are relative to.
pub fn load(
    args: Vec<OsString>,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Invocation, ConfigError> {
    let cli =
        <Cli as clap::Parser>::try_parse_from(args).map_err(|e| settings::clap_error(e, None))?;
    let mut cli_layer = cli.settings;
    let mut env_layer = settings::env_layer(env)?;
    let mut fallback = settings::fallback_layer(env)?;
    for layer in [&mut cli_layer, &mut env_layer, &mut fallback] {
        absolutize(layer, cwd);
    }
    let config_file = match (cli.config, env.get(CONFIG_ENV)) {
        (Some(file), _) => Some(cwd.join(file)),
        (None, Some(file)) if !file.is_empty() => Some(cwd.join(file)),
        // The default file is optional; a named one that is missing is an error (on read).
        _ => Some(cwd.join(DEFAULT_CONFIG_FILE)).filter(|f| f.is_file()),
    };
    let retained = Arc::new(Retained {
        cli: cli_layer,
        env: env_layer,
        fallback,
        require_app: !cli.print_config,
    });
    let config = build(&retained, config_file)?;
    Ok(if cli.print_config {
        let text = print_config(&config)?;
        Invocation::PrintConfig(config, text)
    } else if cli.check_config {
        Invocation::CheckConfig(config)
    } else {
        Invocation::Run(config)
    })
}

/// Reads the file (if any), merges it under the retained layers and validates the result.
fn build(retained: &Arc<Retained>, config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let file = match &config_file {
        Some(path) => read_file(path)?,
        None => Layer::default(),
    };
    let merged = retained
        .cli
        .clone()
        .or(retained.env.clone())
        .or(file.clone())
        .or(retained.fallback.clone());
    // Names each setting as the user wrote it in the source that supplied its value.
    let label = |name: &str| -> String {
        let Some(meta) = SETTINGS.iter().find(|m| m.name == name) else {
            return name.to_owned();
        };
        if retained.cli.is_set(name) {
            meta.cli_spelling()
        } else if retained.env.is_set(name) {
            meta.env_var()
        } else if let (true, Some(path)) = (file.is_set(name), &config_file) {
            format!("{name} (in {})", path.display())
        } else if let (true, Some(fallback)) = (retained.fallback.is_set(name), &meta.fallback) {
            fallback.var.to_owned()
        } else {
            meta.cli_spelling()
        }
    };
    let binds_explicit = merged.is_set("bind");
    let mut config = validate::validate(merged.resolve(), &label, retained.require_app)?;
    config.binds_explicit = binds_explicit;
    config.config_file = config_file;
    config.sources = Sources(Some(Arc::clone(retained)));
    Ok(config)
}

/// Reads and parses a config file; unknown keys are errors naming the key and line.
fn read_file(path: &Path) -> Result<Layer, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_owned(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read it: {e}")))?;
    let mut layer: Layer =
        toml::from_str(&text).map_err(|e| file_error(e.to_string().trim_end().to_owned()))?;
    absolutize(&mut layer, path.parent().unwrap_or(Path::new("/")));
    Ok(layer)
}

/// The effective configuration as a config file that loads back to the same `Config`.
fn print_config(config: &Config) -> Result<String, ConfigError> {
    let body = toml::to_string(&config.to_settings()).map_err(|e| ConfigError::Invalid {
        option: "--print-config".to_owned(),
        value: e.to_string(),
        allowed: "settings TOML can hold (paths must be valid UTF-8)".to_owned(),
    })?;
    Ok(format!(
        "# Effective rsgi-server configuration (--print-config); usable as a config file.\n{body}"
    ))
}

/// Makes the layer's relative paths absolute against `base` (see the module docs).
fn absolutize(layer: &mut Layer, base: &Path) {
    for dir in layer
        .chdir
        .iter_mut()
        .chain(layer.virtualenv.iter_mut())
        .chain(layer.tmp_upload_dir.iter_mut())
        .chain(layer.pid.iter_mut())
    {
        *dir = base.join(&*dir);
    }
    // `-` names a standard stream, not a file.
    for file in layer
        .error_logfile
        .iter_mut()
        .chain(layer.access_logfile.iter_mut())
    {
        if file.as_os_str() != "-" {
            *file = base.join(&*file);
        }
    }
    for dir in layer.pythonpath.iter_mut().flatten() {
        if !dir.as_os_str().is_empty() {
            *dir = base.join(&*dir);
        }
    }
    // -- issue 4: python --
    for file in layer.reload_extra_files.iter_mut().flatten() {
        *file = base.join(&*file);
    }
    // -- issue 5: tls --
    for file in layer
        .certfile
        .iter_mut()
        .chain(layer.keyfile.iter_mut())
        .chain(layer.ca_certs.iter_mut())
    {
        *file = base.join(&*file);
    }
    if let Some(hooks) = layer.hooks.as_mut() {
        if validate::hooks_is_file(hooks) {
            *hooks = base.join(&*hooks).to_string_lossy().into_owned();
        }
    }
    for bind in layer.bind.iter_mut().flatten() {
        if let Ok(BindAddr::Unix(path)) = bind.parse::<BindAddr>() {
            if path.is_relative() {
                *bind = BindAddr::Unix(base.join(path)).to_string();
            }
        }
    }
}

/// Error log verbosity, gunicorn's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including per-connection tracing.
    Debug,
    /// Lifecycle events (default).
    Info,
    /// Problems the server recovered from.
    Warning,
    /// Failures.
    Error,
    /// Only fatal conditions.
    Critical,
}

impl LogLevel {
    /// The level's name as written in settings: `debug`, `info`, `warning`, `error`,
    /// `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// The closest `tracing` level (tracing has no "critical"; it maps to ERROR).
    pub fn tracing_level(self) -> tracing::Level {
        match self {
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warning => tracing::Level::WARN,
            LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();

    /// Reads a level name, case-insensitively (gunicorn accepts `INFO`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warning" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            _ => return Err(()),
        })
    }
}

/// Where a log goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output (`-`).
    Stdout,
    /// A file, opened for appending.
    File(PathBuf),
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// gunicorn's text lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format's name as written in settings: `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

// -- issue 5: tls --
/// Whether TLS clients are asked for a certificate (`--cert-reqs`; Python's `ssl.CERT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertReqs {
    /// Not asked for (`CERT_NONE`, 0).
    #[default]
    None,
    /// Asked for, verified if sent (`CERT_OPTIONAL`, 1).
    Optional,
    /// A connection without a valid certificate is refused (`CERT_REQUIRED`, 2).
    Required,
}

impl CertReqs {
    /// The mode's name as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            CertReqs::None => "none",
            CertReqs::Optional => "optional",
            CertReqs::Required => "required",
        }
    }
}

/// A TLS protocol version (`--tls-min-version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The version as written in settings: `1.2` or `1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Invocation {
    /// Serve the app.
    Run(Config),
    /// Validate the configuration, import the app, and exit.
    CheckConfig(Config),
    /// Print the effective configuration as TOML and exit.
    PrintConfig(Config, String),
}

/// A configuration that cannot be used; `main` prints it and exits with status 2.
#[derive(Debug)]
pub enum ConfigError {
    /// An option's value is not allowed.
    Invalid {
        /// The option as the user spells it on the command line, e.g. `--workers`.
        option: String,
        /// The offending value.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// The TOML file could not be read or parsed (unknown keys included).
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key and line where known.
        message: String,
    },
    /// The command line itself is wrong (clap's message; also `--help` and `--version`,
    /// which clap reports as errors that print to stdout and exit 0).
    Cli(clap::Error),
    /// A required setting is missing.
    Missing(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                option,
                value,
                allowed,
            } => write!(f, "invalid value {value:?} for {option}: {allowed}"),
            ConfigError::File { path, message } => {
                write!(f, "config file {}: {message}", path.display())
            }
            ConfigError::Cli(e) => write!(f, "{e}"),
            ConfigError::Missing(what) => write!(f, "missing {what}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::TempDir;

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("rsgi-server")
            .chain(list.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(list: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Config {
        match load(args(list), &env(vars), cwd) {
            Ok(Invocation::Run(config)) => config,
            other => panic!("expected Run for {list:?}, got {other:?}"),
        }
    }

    /// Asserts the load fails with `Invalid` naming `option` and `value`.
    fn assert_invalid(list: &[&str], vars: &[(&str, &str)], cwd: &Path, option: &str, value: &str) {
        match load(args(list), &env(vars), cwd) {
            Err(ConfigError::Invalid {
                option: o,
                value: v,
                allowed,
            }) => {
                assert!(
                    o.contains(option),
                    "{list:?} {vars:?}: option {o:?}, want {option:?}"
                );
                assert!(
                    v.contains(value),
                    "{list:?} {vars:?}: value {v:?}, want {value:?}"
                );
                assert!(!allowed.is_empty());
            }
            other => panic!("{list:?} {vars:?}: expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let dir = TempDir::new("rsgi-config-", "defaults");
        let config = run(&["myproject.wsgi"], &[], dir.path());
        assert_eq!(config.app, "myproject.wsgi:application");
        assert_eq!(
            config.binds,
            vec![BindAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 8000
            }]
        );
        assert_eq!(config.workers, 1);
        assert_eq!(config.timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.graceful_timeout, Duration::from_secs(30));
        assert_eq!(config.keep_alive, Some(Duration::from_secs(2)));
        assert_eq!(config.backlog, 2048);
        assert_eq!(config.root_path, "");
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.unix_socket_mode, None);
        assert_eq!(config.config_file, None);
        assert_eq!(config.threads, 1);
        assert_eq!(config.worker_connections, 1000);
        assert!(!config.reuse_port);
        assert!(config.request_buffering);
        assert_eq!(config.body_buffer_size, 1_048_576);
        assert_eq!(config.tmp_upload_dir, None);
        assert_eq!(config.limit_request_body, None);
        assert_eq!(config.header_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.body_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.send_timeout, Some(Duration::from_secs(30)));
        let expected = Config {
            app: config.app.clone(),
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn precedence_cli_env_file_default() {
        let dir = TempDir::new("rsgi-config-", "precedence");
        dir.write(
            "rsgi.toml",
            "app = \"file:app\"\nworkers = 2\ntimeout = 10\nkeep_alive = 5\nlog_level = \"debug\"\n",
        );
        let vars = [
            ("RSGI_WORKERS", "3"),
            ("RSGI_TIMEOUT", "20"),
            ("RSGI_APP", "env:app"),
        ];
        let config = run(&["--workers", "4"], &vars, dir.path());
        assert_eq!(config.workers, 4, "CLI beats env and file");
        assert_eq!(
            config.timeout,
            Some(Duration::from_secs(20)),
            "env beats file"
        );
        assert_eq!(config.app, "env:app", "env beats file");
        assert_eq!(
            config.keep_alive,
            Some(Duration::from_secs(5)),
            "file beats default"
        );
        assert_eq!(config.log_level, LogLevel::Debug);
        assert_eq!(config.backlog, 2048, "default");
        assert_eq!(config.config_file, Some(dir.path().join("rsgi.toml")));
        let config = run(&["cli:app"], &vars, dir.path());
        assert_eq!(config.app, "cli:app");
        assert_eq!(config.workers, 3);
    }

    #[test]
    fn port_and_web_concurrency_defaults() {
        let dir = TempDir::new("rsgi-config-", "port");
        let vars = [("PORT", "5000"), ("WEB_CONCURRENCY", "3")];
        let config = run(&["app"], &vars, dir.path());
        assert_eq!(config.binds, vec!["0.0.0.0:5000".parse().expect("addr")]);
        assert_eq!(config.workers, 3);
        assert_invalid(
            &["app"],
            &[("WEB_CONCURRENCY", "many")],
            dir.path(),
            "WEB_CONCURRENCY",
            "many",
        );
        assert_invalid(
            &["app"],
            &[("PORT", "http")],
            dir.path(),
            "PORT",
            "0.0.0.0:http",
        );
        // Anything explicit beats the platform conventions, even the file.
        dir.write("rsgi.toml", "bind = \"127.0.0.1:1\"\n");
        let config = run(&["app", "-w", "2"], &vars, dir.path());
        assert_eq!(config.binds, vec!["127.0.0.1:1".parse().expect("addr")]);
        assert_eq!(config.workers, 2);
        // A convention that is overridden is not looked at (gunicorn reads PORT the same way).
        run(&["app"], &[("PORT", "http")], dir.path());
    }

    #[test]
    fn env_lists_and_repeated_flags() {
        let dir = TempDir::new("rsgi-config-", "lists");
        let config = run(
            &[
                "app",
                "-b",
                "127.0.0.1:1",
                "--bind",
                "[::1]:2",
                "-e",
                "A=1",
                "-e",
                "B=x=y",
            ],
            &[("RSGI_PYTHONPATH", "/a,/b")],
            dir.path(),
        );
        assert_eq!(config.binds.len(), 2);
        assert_eq!(
            config.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            config.pythonpath,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let config = run(
            &["app"],
            &[("RSGI_BIND", "unix:/tmp/x.sock,127.0.0.1:9")],
            dir.path(),
        );
        assert_eq!(config.binds.len(), 2);
    }

    /// The settings of the event-loop engine, every one set to a non-default value.
    struct Engine {
        threads: u32,
        worker_connections: u32,
        reuse_port: bool,
        request_buffering: bool,
        body_buffer_size: u64,
        tmp_upload_dir: Option<PathBuf>,
        limit_request_body: Option<u64>,
        header_timeout: Option<Duration>,
        body_timeout: Option<Duration>,
        send_timeout: Option<Duration>,
    }

    impl Engine {
        fn of(config: &Config) -> Engine {
            Engine {
                threads: config.threads,
                worker_connections: config.worker_connections,
                reuse_port: config.reuse_port,
                request_buffering: config.request_buffering,
                body_buffer_size: config.body_buffer_size,
                tmp_upload_dir: config.tmp_upload_dir.clone(),
                limit_request_body: config.limit_request_body,
                header_timeout: config.header_timeout,
                body_timeout: config.body_timeout,
                send_timeout: config.send_timeout,
            }
        }

        /// Asserts every engine setting has the value the tests below give it, with the
        /// upload directory `dir`.
        fn assert_set(config: &Config, dir: &Path, source: &str) {
            let e = Engine::of(config);
            assert_eq!(e.threads, 8, "{source}");
            assert_eq!(e.worker_connections, 500, "{source}");
            assert!(e.reuse_port, "{source}");
            assert!(!e.request_buffering, "{source}");
            assert_eq!(e.body_buffer_size, 0, "{source}");
            assert_eq!(e.tmp_upload_dir.as_deref(), Some(dir), "{source}");
            assert_eq!(e.limit_request_body, Some(10_000_000), "{source}");
            assert_eq!(e.header_timeout, None, "{source}");
            assert_eq!(e.body_timeout, Some(Duration::from_secs(5)), "{source}");
            assert_eq!(e.send_timeout, Some(Duration::from_secs(60)), "{source}");
        }
    }

    #[test]
    fn engine_settings_from_cli_env_and_file() {
        let dir = TempDir::new("rsgi-config-", "engine");
        let uploads = dir.path().join("uploads");
        std::fs::create_dir(&uploads).expect("mkdir");
        let cli = run(
            &[
                "app",
                "--threads",
                "8",
                "--worker-connections=500",
                "--reuse-port",
                "--request-buffering=false",
                "--body-buffer-size",
                "0",
                "--tmp-upload-dir",
                "uploads",
                "--limit-request-body",
                "10000000",
                "--header-timeout",
                "0",
                "--body-timeout",
                "5",
                "--send-timeout",
                "60",
            ],
            &[],
            dir.path(),
        );
        Engine::assert_set(&cli, &uploads, "CLI");
        let env_vars = [
            ("RSGI_THREADS", "8"),
            ("RSGI_WORKER_CONNECTIONS", "500"),
            ("RSGI_REUSE_PORT", "yes"),
            ("RSGI_REQUEST_BUFFERING", "off"),
            ("RSGI_BODY_BUFFER_SIZE", "0"),
            ("RSGI_TMP_UPLOAD_DIR", "uploads"),
            ("RSGI_LIMIT_REQUEST_BODY", "10000000"),
            ("RSGI_HEADER_TIMEOUT", "0"),
            ("RSGI_BODY_TIMEOUT", "5"),
            ("RSGI_SEND_TIMEOUT", "60"),
        ];
        let from_env = run(&["app"], &env_vars, dir.path());
        Engine::assert_set(&from_env, &uploads, "env");
        // The file's relative directory is relative to the file, not to the cwd.
        let elsewhere = TempDir::new("rsgi-config-", "engine-cwd");
        let file = dir.write(
            "engine.toml",
            "threads = 8
worker_connections = 500
reuse_port = true
\
             request_buffering = false
body_buffer_size = 0
tmp_upload_dir = \"uploads\"
\
             limit_request_body = 10000000
header_timeout = 0
body_timeout = 5
\
             send_timeout = 60
",
        );
        let from_file = run(
            &["app", "-c", file.to_str().expect("utf-8")],
            &[],
            elsewhere.path(),
        );
        Engine::assert_set(&from_file, &uploads, "file");
        // The command line still wins over the environment, which wins over the file.
        let mixed = run(
            &[
                "app",
                "-c",
                file.to_str().expect("utf-8"),
                "--reuse-port=off",
            ],
            &[("RSGI_REQUEST_BUFFERING", "1"), ("RSGI_THREADS", "2")],
            elsewhere.path(),
        );
        assert!(!mixed.reuse_port);
        assert!(mixed.request_buffering);
        assert_eq!(mixed.threads, 2);
        assert_eq!(mixed.worker_connections, 500);
    }

    #[test]
    fn range_limits_are_accepted() {
        let dir = TempDir::new("rsgi-config-", "limits");
        let config = run(
            &[
                "app",
                "--threads=1024",
                "--worker-connections=1000000",
                "--body-buffer-size=4294967295",
            ],
            &[],
            dir.path(),
        );
        assert_eq!(config.threads, 1024);
        assert_eq!(config.worker_connections, 1_000_000);
        assert_eq!(config.body_buffer_size, u64::from(u32::MAX));
        let config = run(
            &["app", "--threads=1", "--worker-connections=1"],
            &[],
            dir.path(),
        );
        assert_eq!((config.threads, config.worker_connections), (1, 1));
    }

    #[test]
    fn booleans_accept_every_spelling() {
        let dir = TempDir::new("rsgi-config-", "booleans");
        let spellings = [
            ("true", true),
            ("TRUE", true),
            ("on", true),
            ("Yes", true),
            ("1", true),
            ("false", false),
            ("Off", false),
            ("NO", false),
            ("0", false),
        ];
        for (word, want) in spellings {
            let flag = format!("--reuse-port={word}");
            assert_eq!(
                run(&["app", &flag], &[], dir.path()).reuse_port,
                want,
                "{flag}"
            );
            let flag = format!("--request-buffering={word}");
            let config = run(&["app", &flag], &[], dir.path());
            assert_eq!(config.request_buffering, want, "{flag}");
            let vars = [("RSGI_REUSE_PORT", word), ("RSGI_REQUEST_BUFFERING", word)];
            let config = run(&["app"], &vars, dir.path());
            assert_eq!((config.reuse_port, config.request_buffering), (want, want));
            let file = dir.write("b.toml", &format!("reuse_port = \"{word}\"\n"));
            let config = run(
                &["app", "-c", file.to_str().expect("utf-8")],
                &[],
                dir.path(),
            );
            assert_eq!(config.reuse_port, want, "TOML string {word:?}");
        }
        // The bare flag means true, also for a setting whose default is already true.
        assert!(run(&["app", "--reuse-port"], &[], dir.path()).reuse_port);
        let config = run(&["app", "--request-buffering"], &[], dir.path());
        assert!(config.request_buffering);
        // A bare flag does not swallow the next argument: that stays the application.
        let config = run(&["--reuse-port", "app"], &[], dir.path());
        assert_eq!(
            (config.app.as_str(), config.reuse_port),
            ("app:application", true)
        );
        for (text, want) in [("true", true), ("false", false)] {
            let file = dir.write("b.toml", &format!("request_buffering = {text}\n"));
            let config = run(
                &["app", "-c", file.to_str().expect("utf-8")],
                &[],
                dir.path(),
            );
            assert_eq!(config.request_buffering, want, "TOML {text}");
        }
    }

    #[test]
    fn bad_booleans_name_option_value_and_spellings() {
        let dir = TempDir::new("rsgi-config-", "bad-booleans");
        for (list, vars, option, value) in [
            (
                &["app", "--reuse-port=maybe"][..],
                &[][..],
                "--reuse-port",
                "maybe",
            ),
            (
                &["app", "--request-buffering=2"],
                &[],
                "--request-buffering",
                "2",
            ),
            (&["app", "--reuse-port="], &[], "--reuse-port", ""),
            (
                &["app"],
                &[("RSGI_REUSE_PORT", "enable")],
                "RSGI_REUSE_PORT",
                "enable",
            ),
            (
                &["app"],
                &[("RSGI_REQUEST_BUFFERING", "nope")],
                "RSGI_REQUEST_BUFFERING",
                "nope",
            ),
        ] {
            assert_invalid(list, vars, dir.path(), option, value);
            match load(args(list), &env(vars), dir.path()) {
                Err(ConfigError::Invalid {
                    option: o, allowed, ..
                }) => {
                    assert!(!o.contains('['), "{o}: the flag as users type it");
                    assert!(
                        allowed.contains("true/false, on/off, yes/no or 1/0"),
                        "{allowed}"
                    );
                }
                other => panic!("{list:?}: {other:?}"),
            }
        }
        // TOML: neither a boolean nor one of the words.
        for text in [
            "reuse_port = \"maybe\"",
            "request_buffering = 2",
            "reuse_port = 1.5",
        ] {
            let file = dir.write("bad.toml", &format!("{text}\n"));
            match load(
                args(&["app", "-c", file.to_str().expect("utf-8")]),
                &env(&[]),
                dir.path(),
            ) {
                Err(ConfigError::File { path, message }) => {
                    assert_eq!(path, file);
                    let key = text.split(' ').next().expect("key");
                    assert!(message.contains(key), "{message}");
                    assert!(message.contains("a boolean"), "{message}");
                }
                other => panic!("{text}: expected a File error, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_file_key_names_key_and_file() {
        let dir = TempDir::new("rsgi-config-", "unknown-key");
        let file = dir.write("rsgi.toml", "workers = 2\nwrokers = 3\n");
        match load(args(&["app"]), &env(&[]), dir.path()) {
            Err(ConfigError::File { path, message }) => {
                assert_eq!(path, file);
                assert!(message.contains("wrokers"), "{message}");
                assert!(message.contains("line 2"), "{message}");
            }
            other => panic!("expected File error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_rsgi_variable_is_an_error() {
        let dir = TempDir::new("rsgi-config-", "unknown-env");
        assert_invalid(
            &["app"],
            &[("RSGI_WROKERS", "2")],
            dir.path(),
            "RSGI_WROKERS",
            "2",
        );
        // Variables without the prefix are none of our business.
        run(&["app"], &[("RSGIX", "1"), ("HOME", "/")], dir.path());
    }

    #[test]
    fn bad_values_name_option_and_value() {
        let dir = TempDir::new("rsgi-config-", "bad-values");
        let no_cfg = TempDir::new("rsgi-config-", "venv-without-cfg");
        let d = dir.path().to_str().expect("utf-8 temp dir");
        let cases: &[(&[&str], &str, &str)] = &[
            (&["--workers", "0"], "--workers", "0"),
            (&["--workers", "x"], "--workers", "x"),
            (&["--workers=1025"], "--workers", "1025"),
            (&["-w", "-3"], "--workers", "-3"),
            (&["-b", "::1:80"], "--bind", "::1:80"),
            (&["-b", "localhost"], "--bind", "localhost"),
            (&["-b", "localhost:99999"], "--bind", "localhost:99999"),
            (&["-b", "fd://x"], "--bind", "fd://x"),
            (&["-b", "127.0.0.1:1", "-b", "unix:"], "--bind", "unix:"),
            (&["--root-path", "app"], "--root-path", "app"),
            (&["--root-path", "/app/"], "--root-path", "/app/"),
            (&["--root-path", "/"], "--root-path", "/"),
            (&["-e", "=x"], "--env", "=x"),
            (&["-e", "NOVALUE"], "--env", "NOVALUE"),
            (&["--log-level", "loud"], "--log-level", "loud"),
            (&["--unix-socket-mode", "999"], "--unix-socket-mode", "999"),
            (&["--unix-socket-mode", "rw"], "--unix-socket-mode", "rw"),
            (&["--timeout", "-1"], "--timeout", "-1"),
            (
                &["--graceful-timeout", "soon"],
                "--graceful-timeout",
                "soon",
            ),
            (&["--keep-alive", "-2"], "--keep-alive", "-2"),
            (&["--backlog", "0"], "--backlog", "0"),
            (&["--backlog", "65536"], "--backlog", "65536"),
            (&["--threads", "0"], "--threads", "0"),
            (&["--threads", "1025"], "--threads", "1025"),
            (&["--threads", "many"], "--threads", "many"),
            (&["--worker-connections", "0"], "--worker-connections", "0"),
            (
                &["--worker-connections", "1000001"],
                "--worker-connections",
                "1000001",
            ),
            (
                &["--worker-connections=lots"],
                "--worker-connections",
                "lots",
            ),
            (&["--body-buffer-size", "-1"], "--body-buffer-size", "-1"),
            (
                &["--body-buffer-size", "4294967296"],
                "--body-buffer-size",
                "4294967296",
            ),
            (&["--body-buffer-size", "1M"], "--body-buffer-size", "1M"),
            (
                &["--limit-request-body", "-1"],
                "--limit-request-body",
                "-1",
            ),
            (
                &["--limit-request-body", "10k"],
                "--limit-request-body",
                "10k",
            ),
            (&["--header-timeout", "-1"], "--header-timeout", "-1"),
            (&["--header-timeout", "soon"], "--header-timeout", "soon"),
            (&["--body-timeout", "-5"], "--body-timeout", "-5"),
            (&["--body-timeout", "1.5"], "--body-timeout", "1.5"),
            (&["--send-timeout", "-1"], "--send-timeout", "-1"),
            (&["--send-timeout", "never"], "--send-timeout", "never"),
            (
                &["--tmp-upload-dir", "no/such/dir"],
                "--tmp-upload-dir",
                "no/such/dir",
            ),
            (&["--chdir", "no/such/dir"], "--chdir", "no/such/dir"),
            (
                &["--virtualenv", "missing-venv"],
                "--virtualenv",
                "missing-venv",
            ),
            (&["x y:app"], "APP", "x y:app"),
        ];
        for (list, option, value) in cases {
            let mut all = vec!["app"];
            if list[0] == "x y:app" {
                all.clear();
            }
            all.extend_from_slice(list);
            assert_invalid(&all, &[], dir.path(), option, value);
        }
        let venv = no_cfg.path().to_str().expect("utf-8 temp dir");
        assert_invalid(
            &["app", "--virtualenv", venv],
            &[],
            dir.path(),
            "--virtualenv",
            venv,
        );
        match load(args(&["app", "--virtualenv", venv]), &env(&[]), dir.path()) {
            Err(e) => assert!(e.to_string().contains("pyvenv.cfg"), "{e}"),
            Ok(_) => panic!("a virtualenv without pyvenv.cfg was accepted"),
        }
        let missing = format!("{d}/nope");
        assert_invalid(
            &["app"],
            &[("VIRTUAL_ENV", &missing)],
            dir.path(),
            "VIRTUAL_ENV",
            &missing,
        );
        assert_invalid(
            &["app"],
            &[("RSGI_WORKERS", "0")],
            dir.path(),
            "RSGI_WORKERS",
            "0",
        );
        assert_invalid(
            &["app"],
            &[("RSGI_BIND", "nope")],
            dir.path(),
            "RSGI_BIND",
            "nope",
        );
        assert_invalid(
            &["app"],
            &[("RSGI_THREADS", "0")],
            dir.path(),
            "RSGI_THREADS",
            "0",
        );
        assert_invalid(
            &["app"],
            &[("RSGI_BODY_BUFFER_SIZE", "big")],
            dir.path(),
            "RSGI_BODY_BUFFER_SIZE",
            "big",
        );
        assert_invalid(
            &["app"],
            &[("RSGI_TMP_UPLOAD_DIR", &missing)],
            dir.path(),
            "RSGI_TMP_UPLOAD_DIR",
            &missing,
        );
        // A file is not a directory.
        let not_dir = dir.write("not-a-dir", "");
        let not_dir = not_dir.to_str().expect("utf-8");
        assert_invalid(
            &["app", "--tmp-upload-dir", not_dir],
            &[],
            dir.path(),
            "--tmp-upload-dir",
            not_dir,
        );
        match load(
            args(&["app", "--tmp-upload-dir", not_dir]),
            &env(&[]),
            dir.path(),
        ) {
            Err(e) => assert!(e.to_string().contains("an existing directory"), "{e}"),
            Ok(_) => panic!("a regular file was accepted as tmp_upload_dir"),
        }
        dir.write("rsgi.toml", "worker_connections = 0\n");
        assert_invalid(&["app"], &[], dir.path(), "worker_connections (in ", "0");
        dir.write("rsgi.toml", "tmp_upload_dir = \"gone\"\n");
        assert_invalid(&["app"], &[], dir.path(), "tmp_upload_dir (in ", "gone");
        dir.write("rsgi.toml", "limit_request_body = -1\n");
        assert_invalid(&["app"], &[], dir.path(), "limit_request_body (in ", "-1");
        dir.write("rsgi.toml", "workers = 0\n");
        assert_invalid(&["app"], &[], dir.path(), "workers (in ", "0");
        assert_invalid(&["app"], &[], dir.path(), "rsgi.toml", "0");
    }

    #[test]
    fn a_valid_virtualenv_is_accepted() {
        let dir = TempDir::new("rsgi-config-", "venv");
        dir.write("pyvenv.cfg", "home = /usr/bin\n");
        let config = run(
            &["app"],
            &[("VIRTUAL_ENV", dir.path().to_str().expect("utf-8"))],
            dir.path(),
        );
        assert_eq!(config.virtualenv.as_deref(), Some(dir.path()));
        // An explicit --virtualenv wins over $VIRTUAL_ENV.
        let other = TempDir::new("rsgi-config-", "venv-other");
        other.write("pyvenv.cfg", "");
        let config = run(
            &["app", "--virtualenv", other.path().to_str().expect("utf-8")],
            &[("VIRTUAL_ENV", "/nonexistent")],
            dir.path(),
        );
        assert_eq!(config.virtualenv.as_deref(), Some(other.path()));
    }

    #[test]
    fn missing_app_and_cli_errors() {
        let dir = TempDir::new("rsgi-config-", "missing-app");
        assert!(matches!(
            load(args(&[]), &env(&[]), dir.path()),
            Err(ConfigError::Missing(_))
        ));
        match load(args(&["--version"]), &env(&[]), dir.path()) {
            Err(ConfigError::Cli(e)) => {
                assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
                assert!(e.to_string().contains("Python"), "{e}");
            }
            other => panic!("expected a clap error, got {other:?}"),
        }
        assert!(matches!(
            load(args(&["app", "--no-such-flag"]), &env(&[]), dir.path()),
            Err(ConfigError::Cli(_))
        ));
        assert!(matches!(
            load(args(&["app", "--check-config"]), &env(&[]), dir.path()),
            Ok(Invocation::CheckConfig(_))
        ));
    }

    #[test]
    fn config_file_selection() {
        let dir = TempDir::new("rsgi-config-", "config-file");
        let elsewhere = dir.write("other.toml", "workers = 7\n");
        // An explicitly named file must exist.
        match load(args(&["app", "-c", "missing.toml"]), &env(&[]), dir.path()) {
            Err(ConfigError::File { path, .. }) => {
                assert_eq!(path, dir.path().join("missing.toml"))
            }
            other => panic!("expected File error, got {other:?}"),
        }
        assert_eq!(
            run(&["app", "-c", "other.toml"], &[], dir.path()).workers,
            7
        );
        assert_eq!(
            run(&["app"], &[("RSGI_CONFIG", "other.toml")], dir.path()).workers,
            7
        );
        dir.write("rsgi.toml", "workers = 5\n");
        assert_eq!(run(&["app"], &[], dir.path()).workers, 5);
        let config = run(
            &["app", "--config", elsewhere.to_str().expect("utf-8")],
            &[],
            dir.path(),
        );
        assert_eq!(config.workers, 7);
    }

    #[test]
    fn relative_paths_resolve_against_their_source() {
        let project = TempDir::new("rsgi-config-", "project");
        std::fs::create_dir(project.path().join("src")).expect("mkdir");
        let file = project.write(
            "rsgi.toml",
            "chdir = \"src\"\nbind = \"unix:run/app.sock\"\npythonpath = [\"lib\"]\n",
        );
        let cwd = TempDir::new("rsgi-config-", "cwd");
        std::fs::create_dir(cwd.path().join("here")).expect("mkdir");
        let config = run(
            &[
                "app",
                "-c",
                file.to_str().expect("utf-8"),
                "--pythonpath",
                "mine",
            ],
            &[],
            cwd.path(),
        );
        assert_eq!(config.chdir, Some(project.path().join("src")));
        assert_eq!(
            config.binds,
            vec![BindAddr::Unix(project.path().join("run/app.sock"))]
        );
        assert_eq!(config.pythonpath, vec![cwd.path().join("mine")]);
        let config = run(&["app", "--chdir", "here"], &[], cwd.path());
        assert_eq!(config.chdir, Some(cwd.path().join("here")));
    }

    #[test]
    fn print_config_round_trips() {
        let dir = TempDir::new("rsgi-config-", "print");
        std::fs::create_dir(dir.path().join("code")).expect("mkdir");
        dir.write("pyvenv.cfg", "");
        let list = [
            "myapp.wsgi:app",
            "--print-config",
            "-b",
            "[::1]:8001",
            "-b",
            "unix:app.sock",
            "-b",
            "fd://3",
            "-w",
            "3",
            "--chdir",
            "code",
            "--pythonpath",
            "a,b",
            "-e",
            "GREETING=hello, world",
            "--root-path",
            "/mount",
            "--timeout",
            "0",
            "--keep-alive",
            "0",
            "--graceful-timeout",
            "7",
            "--backlog",
            "100",
            "--virtualenv",
            ".",
            "--unix-socket-mode",
            "0660",
            "--log-level",
            "WARNING",
            "--threads",
            "4",
            "--worker-connections",
            "64",
            "--reuse-port",
            "--request-buffering=no",
            "--body-buffer-size",
            "4096",
            "--tmp-upload-dir",
            "code",
            "--limit-request-body",
            "123",
            "--header-timeout",
            "0",
            "--body-timeout",
            "9",
            "--send-timeout",
            "11",
            "--pid",
            "run/app.pid",
            "--user",
            "0",
            "--group",
            "0",
            "--umask",
            "027",
            "--name",
            "demo",
            "--daemon",
            "--initgroups",
            "--certfile",
            "tls/cert.pem",
            "--keyfile",
            "tls/key.pem",
            "--ca-certs",
            "tls/ca.pem",
            "--cert-reqs",
            "optional",
            "--ciphers",
            "TLS_AES_128_GCM_SHA256,ECDHE-ECDSA-AES256-GCM-SHA384",
            "--tls-min-version",
            "1.2",
            "--forwarded-allow-ips",
            "10.0.0.0/8,unix",
            "--secure-scheme-headers",
            "X-Scheme=https",
            "--proxy-protocol=v2",
            "--proxy-allow-from",
            "*",
        ];
        let (config, text) = match load(args(&list), &env(&[]), dir.path()) {
            Ok(Invocation::PrintConfig(config, text)) => (config, text),
            other => panic!("expected PrintConfig, got {other:?}"),
        };
        assert_eq!(config.unix_socket_mode, Some(0o660));
        assert_eq!(config.timeout, None);
        assert_eq!(config.tmp_upload_dir, Some(dir.path().join("code")));
        assert_eq!((config.reuse_port, config.request_buffering), (true, false));
        assert_eq!(config.header_timeout, None);
        assert_eq!(config.limit_request_body, Some(123));
        assert!(text.contains("reuse_port = true\n"), "{text}");
        // The printed file, loaded from another directory, gives the same configuration.
        let other = TempDir::new("rsgi-config-", "print-elsewhere");
        let file = other.write("printed.toml", &text);
        let reloaded = run(&["-c", file.to_str().expect("utf-8")], &[], other.path());
        assert_eq!(reloaded.config_file, Some(file));
        assert_eq!(
            Config {
                config_file: None,
                ..reloaded
            },
            config,
            "{text}"
        );
        // Printing works without an application, and the output still round-trips.
        match load(args(&["--print-config"]), &env(&[]), dir.path()) {
            Ok(Invocation::PrintConfig(config, text)) => {
                assert_eq!(config.app, "");
                let layer: Layer = toml::from_str(&text).expect("printed TOML parses");
                assert_eq!(layer.app, None);
            }
            other => panic!("expected PrintConfig, got {other:?}"),
        }
    }

    #[test]
    fn reload_rereads_file_and_keeps_overrides() {
        let dir = TempDir::new("rsgi-config-", "reload");
        let file = dir.write("rsgi.toml", "app = \"a:app\"\nworkers = 2\ntimeout = 10\n");
        let config = run(&["--timeout", "5"], &[("RSGI_KEEP_ALIVE", "9")], dir.path());
        assert_eq!(
            (config.workers, config.timeout),
            (2, Some(Duration::from_secs(5)))
        );
        std::fs::write(
            &file,
            "app = \"b:app\"\nworkers = 3\ntimeout = 99\nkeep_alive = 1\n",
        )
        .expect("rewrite");
        let reloaded = config.reload().expect("reload");
        assert_eq!(reloaded.app, "b:app");
        assert_eq!(reloaded.workers, 3);
        assert_eq!(
            reloaded.timeout,
            Some(Duration::from_secs(5)),
            "CLI still wins"
        );
        assert_eq!(
            reloaded.keep_alive,
            Some(Duration::from_secs(9)),
            "env still wins"
        );
        // A broken file is an error, and the running configuration is untouched.
        std::fs::write(&file, "workers = \"many\"\n").expect("rewrite");
        assert!(matches!(reloaded.reload(), Err(ConfigError::File { .. })));
        assert_eq!(reloaded.workers, 3);
        // A configuration built in code reloads as itself.
        let built = Config {
            workers: 4,
            ..Config::default()
        };
        assert_eq!(built.reload().expect("reload"), built);
    }

    // -- issue 5: strict --
    #[test]
    fn http_limit_options() {
        let dir = TempDir::new("rsgi-config-", "limits");
        let config = run(&["app"], &[], dir.path());
        assert_eq!(config.http_limits, crate::http::Limits::default());
        assert_eq!(
            (
                config.http_limits.request_line,
                config.http_limits.header_count,
                config.http_limits.header_field_size,
                config.http_limits.chunk_line,
                config.http_limits.trailer_size,
            ),
            (4094, 100, 8190, 4096, 8190),
            "gunicorn's defaults"
        );
        assert_eq!(config.http_limits.head_size, 65536);
        let head = |v: &str| {
            run(&["app", "--limit-request-head", v], &[], dir.path())
                .http_limits
                .head_size
        };
        assert_eq!(head("1000"), 1000);
        assert_eq!(head("0"), usize::MAX, "0: no cap of its own");
        let config = run(
            &[
                "app",
                "--limit-request-line",
                "100",
                "--limit-request-fields",
                "7",
                "--limit-request-field-size",
                "200",
                "--limit-chunk-ext-size",
                "50",
                "--limit-trailer-size",
                "0",
            ],
            &[],
            dir.path(),
        );
        let l = &config.http_limits;
        assert_eq!(
            (l.request_line, l.header_count, l.header_field_size),
            (100, 7, 200)
        );
        assert_eq!((l.chunk_line, l.trailer_size), (50, 0));
        // The engine takes them as they are.
        assert_eq!(
            crate::engine::Settings::from_config(&config).limits,
            config.http_limits
        );
        // Gunicorn's 0 ("unlimited") is the documented maximum, never unbounded.
        let config = run(
            &[
                "app",
                "--limit-request-line=0",
                "--limit-request-fields=0",
                "--limit-request-field-size=0",
            ],
            &[],
            dir.path(),
        );
        let l = &config.http_limits;
        assert_eq!(
            (l.request_line, l.header_count, l.header_field_size),
            (
                validate::MAX_REQUEST_LINE as usize,
                validate::MAX_REQUEST_FIELDS as usize,
                validate::MAX_FIELD_SIZE as usize
            )
        );
        // From the environment and the file too.
        dir.write(
            "rsgi.toml",
            "limit_request_fields = 12\nlimit_trailer_size = 99\n",
        );
        let config = run(&["app"], &[("RSGI_LIMIT_REQUEST_LINE", "555")], dir.path());
        let l = &config.http_limits;
        assert_eq!(
            (l.request_line, l.header_count, l.trailer_size),
            (555, 12, 99)
        );
    }

    #[test]
    fn http_limit_options_refuse_bad_values() {
        let dir = TempDir::new("rsgi-config-", "limits-bad");
        for (list, option, value) in [
            (
                &["--limit-request-line", "-1"][..],
                "--limit-request-line",
                "-1",
            ),
            (
                &["--limit-request-line", "65537"],
                "--limit-request-line",
                "65537",
            ),
            (
                &["--limit-request-line", "4k"],
                "--limit-request-line",
                "4k",
            ),
            (
                &["--limit-request-fields", "32769"],
                "--limit-request-fields",
                "32769",
            ),
            (
                &["--limit-request-fields", "-5"],
                "--limit-request-fields",
                "-5",
            ),
            (
                &["--limit-request-field-size", "65537"],
                "--limit-request-field-size",
                "65537",
            ),
            (
                &["--limit-chunk-ext-size", "0"],
                "--limit-chunk-ext-size",
                "0",
            ),
            (
                &["--limit-chunk-ext-size", "65537"],
                "--limit-chunk-ext-size",
                "65537",
            ),
            (
                &["--limit-request-head", "16777217"],
                "--limit-request-head",
                "16777217",
            ),
            (
                &["--limit-request-head", "-1"],
                "--limit-request-head",
                "-1",
            ),
            (
                &["--limit-trailer-size", "-1"],
                "--limit-trailer-size",
                "-1",
            ),
            (
                &["--limit-trailer-size", "65537"],
                "--limit-trailer-size",
                "65537",
            ),
        ] {
            let mut full = vec!["app"];
            full.extend_from_slice(list);
            assert_invalid(&full, &[], dir.path(), option, value);
        }
        // The message says what is allowed, including what 0 means.
        match load(
            args(&["app", "--limit-request-fields", "40000"]),
            &env(&[]),
            dir.path(),
        ) {
            Err(ConfigError::Invalid { allowed, .. }) => {
                assert!(allowed.contains("0 to 32768"), "{allowed}");
                assert!(allowed.contains("0 means 32768"), "{allowed}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_invalid(
            &["app"],
            &[("RSGI_LIMIT_TRAILER_SIZE", "100000")],
            dir.path(),
            "RSGI_LIMIT_TRAILER_SIZE",
            "100000",
        );
        dir.write("rsgi.toml", "limit_chunk_ext_size = 0\n");
        assert_invalid(&["app"], &[], dir.path(), "limit_chunk_ext_size (in ", "0");
    }

    #[test]
    fn hygiene_options() {
        let dir = TempDir::new("rsgi-config-", "hygiene");
        let config = run(&["app"], &[], dir.path());
        assert_eq!(
            (config.pid.clone(), config.user, config.group, config.umask),
            (None, None, None, None)
        );
        assert!(!config.daemon && !config.initgroups && !config.binds_explicit);
        assert_eq!(config.proc_name, None);
        // Names resolve to ids; --user alone brings its primary group; relative pid files
        // are relative to where they were written.
        let config = run(
            &[
                "app", "-u", "root", "-m", "0o22", "-p", "x.pid", "-n", "web", "-D",
            ],
            &[],
            dir.path(),
        );
        assert_eq!((config.user, config.group), (Some(0), Some(0)));
        assert_eq!(config.umask, Some(0o22));
        assert_eq!(config.pid, Some(dir.path().join("x.pid")));
        assert_eq!(config.proc_name.as_deref(), Some("web"));
        assert!(config.daemon);
        let config = run(
            &["app", "--group", "0", "--proc-name", "w2"],
            &[("RSGI_INITGROUPS", "yes")],
            dir.path(),
        );
        assert_eq!((config.user, config.group), (None, Some(0)));
        assert_eq!(config.proc_name.as_deref(), Some("w2"));
        assert!(config.initgroups);
        // A uid with a group given is fine even without a passwd entry.
        let config = run(
            &["app", "--user", "4000000", "--group", "0"],
            &[],
            dir.path(),
        );
        assert_eq!(config.user, Some(4_000_000));
        // Where the binds came from decides what inherited sockets serve.
        assert!(run(&["app", "-b", "127.0.0.1:1"], &[], dir.path()).binds_explicit);
        assert!(run(&["app"], &[("PORT", "5000")], dir.path()).binds_explicit);

        let bad: &[(&[&str], &str, &str)] = &[
            (
                &["app", "--user", "no-such-user-rsgi"],
                "--user",
                "no-such-user-rsgi",
            ),
            (
                &["app", "--group", "no-such-group-rsgi"],
                "--group",
                "no-such-group-rsgi",
            ),
            (&["app", "--user", "4000000"], "--user", "4000000"),
            (&["app", "--umask", "8"], "--umask", "8"),
            (&["app", "--umask", "1777"], "--umask", "1777"),
            (&["app", "--name", ""], "--proc-name", ""),
            (
                &["app", "--user", "4000000", "--group", "0", "--initgroups"],
                "--initgroups",
                "true",
            ),
        ];
        for (list, option, value) in bad {
            assert_invalid(list, &[], dir.path(), option, value);
        }
        assert_invalid(
            &["app"],
            &[("RSGI_USER", "no-such-user-rsgi")],
            dir.path(),
            "RSGI_USER",
            "no-such-user-rsgi",
        );
    }

    #[test]
    fn log_levels() {
        for level in [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Critical,
        ] {
            assert_eq!(level.as_str().parse(), Ok(level));
            assert_eq!(level.as_str().to_uppercase().parse(), Ok(level));
        }
        assert_eq!("warn".parse::<LogLevel>(), Err(()));
    }

    // -- issue 4: supervisor --

    #[test]
    fn recycling_options() {
        let dir = TempDir::new("rsgi-config-", "recycling");
        let defaults = run(&["app"], &[], dir.path());
        assert_eq!(defaults.max_requests, None);
        assert_eq!(defaults.max_requests_jitter, 0);
        assert_eq!(defaults.max_worker_lifetime, None);
        assert_eq!(defaults.max_worker_lifetime_jitter, Duration::ZERO);
        assert_eq!(defaults.max_worker_memory, None);
        let set = run(
            &[
                "app",
                "--max-requests",
                "1000",
                "--max-requests-jitter",
                "50",
                "--max-worker-lifetime",
                "3600",
                "--max-worker-lifetime-jitter",
                "60",
            ],
            &[("RSGI_MAX_WORKER_MEMORY", "512")],
            dir.path(),
        );
        assert_eq!(set.max_requests, Some(1000));
        assert_eq!(set.max_requests_jitter, 50);
        assert_eq!(set.max_worker_lifetime, Some(Duration::from_secs(3600)));
        assert_eq!(set.max_worker_lifetime_jitter, Duration::from_secs(60));
        assert_eq!(set.max_worker_memory, Some(512 << 20));
        // --print-config writes them back as they were given.
        let printed = set.to_settings();
        assert_eq!(printed.max_worker_memory, Some(512));
        assert_eq!(printed.max_worker_lifetime, Some(3600));
        for (option, value) in [
            ("--max-requests", "-1"),
            ("--max-requests-jitter", "x"),
            ("--max-worker-lifetime", "-5"),
            ("--max-worker-lifetime-jitter", "1.5"),
            ("--max-worker-memory", "-1"),
            ("--max-worker-memory", "2G"),
        ] {
            assert_invalid(&["app", option, value], &[], dir.path(), option, value);
        }
    }

    // -- issue 4: logging --
    #[test]
    fn logging_settings() {
        let dir = TempDir::new("rsgi-config-", "logging");
        let config = run(&["app"], &[], dir.path());
        assert_eq!(config.error_logfile, None);
        assert_eq!(config.access_logfile, None);
        assert_eq!(
            config.access_log_format,
            crate::logging::access::DEFAULT_FORMAT
        );
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(!config.capture_output);

        let config = run(
            &[
                "app",
                "--log-file",
                "err.log",
                "--access-logfile",
                "-",
                "--log-format",
                "JSON",
                "--capture-output",
                "--access-log-format",
                "%(s)s",
            ],
            &[],
            dir.path(),
        );
        assert_eq!(config.error_logfile, Some(dir.path().join("err.log")));
        assert_eq!(config.access_logfile, Some(LogTarget::Stdout));
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.capture_output);
        assert_eq!(config.access_log_format, "%(s)s");

        let file = dir.write(
            "rsgi.toml",
            "error_logfile = \"-\"\naccess_logfile = \"logs/a.log\"\ncapture_output = \"yes\"\n",
        );
        let config = run(&["app", "-c", file.to_str().unwrap()], &[], dir.path());
        assert_eq!(config.error_logfile, None);
        assert_eq!(
            config.access_logfile,
            Some(LogTarget::File(dir.path().join("logs/a.log")))
        );
        assert!(config.capture_output);
        // --print-config writes them back.
        let settings = config.to_settings();
        assert_eq!(settings.error_logfile, Some(PathBuf::from("-")));
        assert_eq!(settings.access_logfile, Some(dir.path().join("logs/a.log")));
    }

    #[test]
    fn bad_logging_values_name_option_and_value() {
        let dir = TempDir::new("rsgi-config-", "logging-bad");
        let d = dir.path().to_str().expect("utf-8");
        assert_invalid(
            &["app", "--log-format", "xml"],
            &[],
            dir.path(),
            "--log-format",
            "xml",
        );
        assert_invalid(
            &["app", "--access-log-format", "%(h)s %(zz)s"],
            &[],
            dir.path(),
            "--access-log-format",
            "%(zz)s",
        );
        assert_invalid(
            &["app", "--access-log-format", "50%"],
            &[],
            dir.path(),
            "--access-log-format",
            "50%",
        );
        assert_invalid(
            &["app", "--error-logfile", d],
            &[],
            dir.path(),
            "--error-logfile",
            d,
        );
        assert_invalid(
            &["app", "--access-logfile", d],
            &[],
            dir.path(),
            "--access-logfile",
            d,
        );
        assert_invalid(
            &["app"],
            &[("RSGI_LOG_FORMAT", "yaml")],
            dir.path(),
            "RSGI_LOG_FORMAT",
            "yaml",
        );
        assert_invalid(
            &["app", "--capture-output=maybe"],
            &[],
            dir.path(),
            "--capture-output",
            "maybe",
        );
    }

    // -- issue 4: python --
    #[test]
    fn python_operations_options() {
        let dir = TempDir::new("rsgi-config-", "python-ops");
        let config = run(&["app"], &[], dir.path());
        assert!(!config.preload && !config.reload);
        assert_eq!(config.hooks, None);
        assert!(config.reload_extra_files.is_empty());

        dir.write("hooks.py", "def on_starting(server): pass\n");
        let config = run(
            &[
                "app",
                "--preload",
                "--reload=true",
                "--hooks",
                "hooks.py",
                "--reload-extra-file",
                "a.txt",
                "--reload-extra-file",
                "b.txt",
            ],
            &[],
            dir.path(),
        );
        assert!(config.preload && config.reload);
        assert_eq!(
            config.hooks.as_deref().map(Path::new),
            Some(dir.path().join("hooks.py").as_path()),
            "a hooks file is resolved where it was written"
        );
        assert_eq!(
            config.reload_extra_files,
            vec![dir.path().join("a.txt"), dir.path().join("b.txt")]
        );
        let config = run(&["app"], &[("RSGI_HOOKS", "myproj.hooks")], dir.path());
        assert_eq!(config.hooks.as_deref(), Some("myproj.hooks"));
        // A config round trip keeps them.
        assert_eq!(config.to_settings().hooks.as_deref(), Some("myproj.hooks"));

        assert_invalid(
            &["app", "--hooks", "missing.py"],
            &[],
            dir.path(),
            "--hooks",
            "missing.py",
        );
        assert_invalid(
            &["app", "--hooks", "my-hooks"],
            &[],
            dir.path(),
            "--hooks",
            "my-hooks",
        );
        assert_invalid(
            &["app", "--preload=maybe"],
            &[],
            dir.path(),
            "--preload",
            "maybe",
        );
    }

    // -- issue 5: tls --
    #[test]
    fn tls_options() {
        let dir = TempDir::new("rsgi-config-", "tls");
        let config = run(
            &[
                "app",
                "--certfile",
                "c.pem",
                "--keyfile",
                "k.pem",
                "--ca-certs",
                "ca.pem",
                "--cert-reqs",
                "2",
                "--ciphers",
                "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384",
                "--tls-min-version",
                "TLSv1.3",
            ],
            &[],
            dir.path(),
        );
        // Relative to where they were written, like every other path.
        assert_eq!(config.certfile, Some(dir.path().join("c.pem")));
        assert_eq!(config.keyfile, Some(dir.path().join("k.pem")));
        assert_eq!(config.ca_certs, Some(dir.path().join("ca.pem")));
        assert_eq!(config.cert_reqs, CertReqs::Required);
        assert_eq!(
            config.ciphers,
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_AES_256_GCM_SHA384"
            ]
        );
        assert_eq!(config.tls_min_version, TlsVersion::Tls13);
        let defaults = run(&["app"], &[], dir.path());
        assert_eq!(defaults.certfile, None);
        assert_eq!(defaults.cert_reqs, CertReqs::None);
        assert_eq!(defaults.tls_min_version, TlsVersion::Tls12);
        assert!(defaults.ciphers.is_empty());
        for reqs in ["none", "0", "CERT_NONE"] {
            let c = run(&["app", "--cert-reqs", reqs], &[], dir.path());
            assert_eq!(c.cert_reqs, CertReqs::None, "{reqs}");
        }
    }

    #[test]
    fn tls_option_errors() {
        let dir = TempDir::new("rsgi-config-", "tls-errors");
        let cwd = dir.path();
        let tls = ["app", "--certfile", "c.pem", "--keyfile", "k.pem"];
        // One file without the other names the missing one.
        assert_invalid(&["app", "--certfile", "c.pem"], &[], cwd, "--keyfile", "");
        assert_invalid(&["app", "--keyfile", "k.pem"], &[], cwd, "--certfile", "");
        assert_invalid(
            &[&tls[..], &["--cert-reqs", "sometimes"]].concat(),
            &[],
            cwd,
            "--cert-reqs",
            "sometimes",
        );
        // Client certificates need TLS and a CA to verify them against.
        assert_invalid(
            &["app", "--cert-reqs", "required"],
            &[],
            cwd,
            "--cert-reqs",
            "required",
        );
        assert_invalid(
            &[&tls[..], &["--cert-reqs", "optional"]].concat(),
            &[],
            cwd,
            "--cert-reqs",
            "optional",
        );
        assert_invalid(
            &[&tls[..], &["--tls-min-version", "1.1"]].concat(),
            &[],
            cwd,
            "--tls-min-version",
            "1.1",
        );
        assert_invalid(
            &[&tls[..], &["--ciphers", "HIGH:!aNULL"]].concat(),
            &[],
            cwd,
            "--ciphers",
            "HIGH",
        );
        // TLS 1.3 only, with TLS 1.2 suites only: nothing could be negotiated.
        assert_invalid(
            &[
                &tls[..],
                &[
                    "--tls-min-version",
                    "1.3",
                    "--ciphers",
                    "ECDHE-RSA-AES128-GCM-SHA256",
                ],
            ]
            .concat(),
            &[],
            cwd,
            "--ciphers",
            "ECDHE-RSA",
        );
        // The environment and the file speak the same language.
        assert_invalid(
            &["app"],
            &[("RSGI_CERT_REQS", "3")],
            cwd,
            "RSGI_CERT_REQS",
            "3",
        );
        // In the file, gunicorn's numbers may be written as numbers.
        dir.write(
            "rsgi.toml",
            "certfile = \"c.pem\"\nkeyfile = \"k.pem\"\nca_certs = \"ca.pem\"\n\
             cert_reqs = 2\ntls_min_version = 1.3\n",
        );
        let config = run(&["app"], &[], cwd);
        assert_eq!(config.cert_reqs, CertReqs::Required);
        assert_eq!(config.tls_min_version, TlsVersion::Tls13);
        assert_eq!(config.ca_certs, Some(cwd.join("ca.pem")));
    }
    // -- issue 5: proxy --
    #[test]
    fn proxy_options() {
        use crate::proxy::Mode;
        let dir = TempDir::new("rsgi-config-", "proxy");
        let local: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
        let remote: std::net::IpAddr = "10.1.2.3".parse().expect("ip");
        let config = run(&["app"], &[], dir.path());
        assert!(config.forwarded_allow_ips.allows_ip(local));
        assert!(
            config
                .forwarded_allow_ips
                .allows_ip("::1".parse().expect("ip"))
        );
        assert!(!config.forwarded_allow_ips.allows_ip(remote));
        assert!(!config.forwarded_allow_ips.allows(&crate::peer::Peer::Unix));
        assert_eq!(config.forwarded_allow_ips, config.proxy_allow_ips);
        assert_eq!(
            config.secure_scheme_headers,
            [
                ("X-FORWARDED-PROTOCOL", "ssl"),
                ("X-FORWARDED-PROTO", "https"),
                ("X-FORWARDED-SSL", "on")
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(config.proxy_protocol, Mode::Off);

        let config = run(
            &[
                "app",
                "--forwarded-allow-ips",
                "10.0.0.0/8, unix",
                "--secure-scheme-headers",
                "Front-End-Https=on,X-Forwarded-Proto=https",
                "--proxy-protocol",
                "--proxy-allow-from",
                "192.0.2.1",
            ],
            &[],
            dir.path(),
        );
        assert!(config.forwarded_allow_ips.allows_ip(remote));
        assert!(!config.forwarded_allow_ips.allows_ip(local));
        assert!(config.forwarded_allow_ips.allows(&crate::peer::Peer::Unix));
        assert_eq!(config.secure_scheme_headers.len(), 2);
        assert_eq!(
            config.proxy_protocol,
            Mode::Auto,
            "the bare flag means auto"
        );
        assert!(
            config
                .proxy_allow_ips
                .allows_ip("192.0.2.1".parse().expect("ip"))
        );
        assert!(!config.proxy_allow_ips.allows_ip(local));
        for (value, mode) in [("v1", Mode::V1), ("v2", Mode::V2), ("off", Mode::Off)] {
            let flag = format!("--proxy-protocol={value}");
            assert_eq!(run(&["app", &flag], &[], dir.path()).proxy_protocol, mode);
        }

        // gunicorn's variable, and ours over it; an empty header list believes none.
        let config = run(
            &["app", "--secure-scheme-headers", ""],
            &[("FORWARDED_ALLOW_IPS", "*"), ("RSGI_PROXY_PROTOCOL", "v1")],
            dir.path(),
        );
        assert!(config.forwarded_allow_ips.allows_ip(remote));
        assert!(config.secure_scheme_headers.is_empty());
        assert_eq!(config.proxy_protocol, Mode::V1);
        let config = run(
            &["app"],
            &[
                ("FORWARDED_ALLOW_IPS", "*"),
                ("RSGI_FORWARDED_ALLOW_IPS", "192.0.2.0/24"),
            ],
            dir.path(),
        );
        assert!(!config.forwarded_allow_ips.allows_ip(remote));

        // A config file: gunicorn's dict and boolean.
        let file = dir.write(
            "proxy.toml",
            "app = \"a:app\"\nproxy_protocol = true\nforwarded_allow_ips = [\"10.0.0.1\"]\n\
             [secure_scheme_headers]\n\"X-FORWARDED-PROTO\" = \"https\"\n",
        );
        let config = run(&["-c", file.to_str().expect("utf-8")], &[], dir.path());
        assert_eq!(config.proxy_protocol, Mode::Auto);
        assert_eq!(
            config.secure_scheme_headers,
            vec![("X-FORWARDED-PROTO".to_owned(), "https".to_owned())]
        );
        assert!(
            config
                .forwarded_allow_ips
                .allows_ip("10.0.0.1".parse().expect("ip"))
        );

        let bad: &[(&[&str], &str, &str)] = &[
            (
                &["app", "--forwarded-allow-ips", "10.0.0.0/33"],
                "--forwarded-allow-ips",
                "10.0.0.0/33",
            ),
            (
                &["app", "--forwarded-allow-ips", "localhost"],
                "--forwarded-allow-ips",
                "localhost",
            ),
            (
                &["app", "--proxy-allow-ips", "10.1.2.3/8"],
                "--proxy-allow-ips",
                "10.1.2.3/8",
            ),
            (&["app", "--proxy-protocol=v3"], "--proxy-protocol", "v3"),
            (
                &["app", "--secure-scheme-headers", "X-Proto"],
                "--secure-scheme-headers",
                "X-Proto",
            ),
            (
                &["app", "--secure-scheme-headers", "X Proto=https"],
                "--secure-scheme-headers",
                "X Proto=https",
            ),
        ];
        for (list, option, value) in bad {
            assert_invalid(list, &[], dir.path(), option, value);
        }
        assert_invalid(
            &["app"],
            &[("RSGI_PROXY_ALLOW_IPS", "nope")],
            dir.path(),
            "RSGI_PROXY_ALLOW_IPS",
            "nope",
        );
    }
}
