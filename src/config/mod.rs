//! The configuration: the raw settings of every source ([`crate::settings`]), merged with
//! the command line over `RSGI_*` variables over the TOML file over the defaults, and
//! validated once into an immutable [`Config`] of groups, each the value its consumer
//! takes. A reload swaps in a whole new `Config` or nothing. This module knows nothing of
//! sockets, processes or Python.
//!
//! The groups with no owner below this layer are declared here ([`PythonSettings`],
//! [`SocketSettings`], [`WorkerSettings`], [`HttpSettings`], [`RecycleSettings`],
//! [`ProcessSettings`], [`ControlSettings`]); TLS, proxies and logging declare theirs ([`TlsSettings`],
//! [`ProxySettings`], [`LogSettings`]).

mod control;
mod http;
mod load;
mod metrics;
mod paste;
mod process;
mod python;
mod recycle;
mod sockets;
mod worker_class;
mod workers;

pub use crate::health::HealthSettings;
pub use crate::logging::LogSettings;
pub use crate::proxy::ProxySettings;
pub use crate::request_id::RequestIdSettings;
pub use crate::settings::frontends::{ConfigSource, PythonReader};
pub use crate::settings::{BindAddr, ConfigError};
pub use crate::shed::ShedSettings;
pub use crate::static_files::StaticSettings;
pub use crate::tls::TlsSettings;
pub use control::ControlSettings;
pub use http::HttpSettings;
pub use load::{DEFAULT_CONFIG_FILE, Origin, load, load_with};
pub use metrics::MetricsSettings;
pub use paste::PasteApp;
pub use process::{Owner, ProcessSettings};
pub use python::{PythonSettings, ReloadEngine};
pub use recycle::RecycleSettings;
pub use sockets::SocketSettings;
pub use worker_class::WorkerClass;
pub use workers::{WORKERS_RANGE, WorkerSettings};

use crate::settings::{Check, Label, Layer, Settings};

/// The validated configuration: one value per group of settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The application and the interpreter it runs in.
    pub python: PythonSettings,
    /// Where the server listens.
    pub sockets: SocketSettings,
    /// The worker processes.
    pub workers: WorkerSettings,
    /// What the server accepts from clients and how long it waits for them.
    pub http: HttpSettings,
    /// TLS on every listener, or not.
    pub tls: TlsSettings,
    /// What to believe about clients behind proxies.
    pub proxy: ProxySettings,
    /// Files served without Python (static mounts, offload).
    pub statics: StaticSettings,
    /// The error and access logs.
    pub logging: LogSettings,
    /// When workers are replaced.
    pub recycle: RecycleSettings,
    /// Health probes on the main listeners and the drain delay before a stop.
    pub health: HealthSettings,
    /// The master process and the identity the server runs under.
    pub process: ProcessSettings,
    /// The control socket.
    pub control: ControlSettings,
    /// Where the master serves Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Load shedding (`--max-queue-time`).
    pub shed: ShedSettings,
    /// Request IDs (`--request-id-header`).
    pub request_id: RequestIdSettings,
    /// The config file this configuration was read from, if any (re-read on reload).
    pub config_file: Option<ConfigSource>,
    /// What it was validated from, and how to load it again: not part of what it is
    /// (equality ignores it).
    pub origin: Origin,
}

impl Config {
    /// Validates every group of `given`; `label` names each setting as the user wrote it in
    /// the source that supplied it. `require_app` is false only for `--print-config`;
    /// `binds_explicit`: the addresses were configured rather than defaulted.
    fn validate(
        given: Settings,
        label: Label<'_>,
        require_app: bool,
        binds_explicit: bool,
    ) -> Result<Config, ConfigError> {
        let v = Check::new(label);
        let s = &given;
        let python = PythonSettings::check(s, &v, require_app)?;
        let sockets = SocketSettings::check(s, &v, binds_explicit)?;
        let workers = WorkerSettings::check(s, &v)?;
        let http = HttpSettings::check(s, &v)?;
        let recycle = RecycleSettings::check(s, &v)?;
        let process = ProcessSettings::check(s, &v)?;
        let logging = LogSettings::check(s, &v, &python.env)?;
        let tls = TlsSettings::check(s, &v)?;
        let proxy = ProxySettings::check(s, &v)?;
        let statics = StaticSettings::check(s, &v)?;
        let control = ControlSettings::check(s, &v)?;
        let health = HealthSettings::check(s, &v)?;
        let metrics = MetricsSettings::check(s, &v)?;
        let shed = ShedSettings::check(s, &v)?;
        let request_id = RequestIdSettings::check(s, &v)?;
        Ok(Config {
            python,
            sockets,
            workers,
            http,
            tls,
            proxy,
            statics,
            logging,
            recycle,
            health,
            process,
            control,
            metrics,
            shed,
            request_id,
            config_file: None,
            origin: Origin::given(given),
        })
    }
}

impl Default for Config {
    /// The declared defaults, with no application, no environment and no file: a starting
    /// point for configurations built in code (tests).
    fn default() -> Self {
        let label = |name: &str| name.to_owned();
        Config::validate(Layer::default().resolve(), &label, false, false)
            .expect("the declared defaults are valid")
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

#[cfg(test)]
mod tests;
