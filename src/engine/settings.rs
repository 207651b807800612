//! What the engine is configured with, and what all of a worker's connections share.

use super::spool::SpoolConfig;
use crate::config::{Config, HttpSettings};
use crate::health::HealthPaths;
use crate::http::Limits;
use crate::peer::Peer;
use crate::proxy::Proxying;
use crate::proxy::allow::AllowList;
use crate::request_id::IdHeader;
use crate::settings::Protocol;
use crate::static_files::{Offload, Statics};
use std::sync::Arc;
use std::time::Duration;

/// What every connection of a worker shares.
#[derive(Debug)]
pub struct ConnShared {
    /// Parser limits.
    pub limits: Limits,
    /// Whether connections may persist between requests (`--keep-alive` > 0).
    pub keep_alive: bool,
    /// Longest wait for a client to take response bytes.
    pub send_timeout: Option<Duration>,
    /// Longest wait for the next request body bytes.
    pub body_timeout: Option<Duration>,
    /// Largest accepted request body.
    pub limit_request_body: Option<u64>,
    /// Send `wsgi.file_wrapper` files with sendfile(2) (`--sendfile`), else in blocks.
    pub sendfile: bool,
    /// Files applications may hand over in a response header (`--sendfile-header`).
    pub offload: Option<Arc<Offload>>,
    /// The header request IDs are echoed in (`--request-id-header`).
    pub request_id: Option<Arc<IdHeader>>,
    /// Note when the kernel received each read's bytes (`--max-queue-time`).
    pub stamp_arrivals: bool,
}

#[cfg(test)]
impl ConnShared {
    /// Default limits, keep-alive on, no timeouts: what the unit tests' connections share.
    pub(crate) fn for_tests() -> Arc<ConnShared> {
        Arc::new(ConnShared {
            limits: Limits::default(),
            keep_alive: true,
            send_timeout: None,
            body_timeout: None,
            limit_request_body: None,
            sendfile: true,
            offload: None,
            request_id: None,
            stamp_arrivals: false,
        })
    }
}

/// The engine's settings, from the configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Python threads running requests; 1 runs them on the loop thread.
    pub threads: usize,
    /// Most open connections per worker.
    pub worker_connections: usize,
    /// Open a per-worker SO_REUSEPORT listener beside each shared TCP listener.
    pub reuse_port: bool,
    /// listen(2) backlog for per-worker listeners.
    pub backlog: i32,
    /// What the engine accepts from clients and how long it waits for them.
    pub http: HttpSettings,
    /// Where buffered bodies go.
    pub spool: SpoolConfig,
    /// Every connection speaks TLS with this configuration (`--certfile`), loaded by the
    /// master.
    pub tls: Option<crate::tls::ServerTls>,
    /// What to believe about clients behind proxies (PROXY protocol, forwarded headers).
    pub proxy: Arc<Proxying>,
    /// Static mounts served without Python (`--static-map`).
    pub statics: Option<Arc<Statics>>,
    /// Files applications may hand over (`--sendfile-header`).
    pub offload: Option<Arc<Offload>>,
    /// Health probe paths answered without Python (`--health-path-prefix`).
    pub health: Option<Arc<HealthPaths>>,
    /// What each listener speaks, in the order of the binds (`uwsgi://` or `--protocol`).
    pub protocols: Vec<Protocol>,
    /// What listeners not in `protocols` speak (`--protocol`): inherited sockets served as
    /// they are.
    pub protocol: Protocol,
    /// Peers allowed to speak the uwsgi protocol (`--uwsgi-allow-from`).
    pub uwsgi_allow: AllowList,
    /// `--soft-timeout`: when a stuck request's thread gets `RequestTimeout`.
    pub soft_timeout: Option<Duration>,
    /// Longest a request may wait for the app before it is shed (`--max-queue-time`).
    pub max_queue_time: Option<Duration>,
    /// The header of request IDs (`--request-id-header`); `None`: no IDs.
    pub request_id: Option<Arc<IdHeader>>,
}

impl EngineSettings {
    /// The engine settings in `config`, serving TLS with `tls` (loaded by the master).
    pub fn new(config: &Config, tls: Option<crate::tls::ServerTls>) -> EngineSettings {
        EngineSettings {
            threads: config.workers.threads as usize,
            worker_connections: config.workers.connections as usize,
            reuse_port: config.sockets.reuse_port,
            backlog: config.sockets.backlog,
            http: config.http.clone(),
            spool: SpoolConfig {
                memory_limit: config.http.body_buffer_size,
                dir: config
                    .http
                    .tmp_upload_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir),
            },
            tls,
            proxy: Arc::new(Proxying::new(&config.proxy)),
            statics: config.statics.statics.clone(),
            offload: config.statics.offload.clone(),
            health: config.health.paths.clone(),
            protocols: config.sockets.protocols.clone(),
            protocol: config.sockets.protocol,
            uwsgi_allow: config.sockets.uwsgi_allow_ips.clone(),
            soft_timeout: config.workers.soft_timeout,
            max_queue_time: config.shed.max_queue_time,
            request_id: config.request_id.header.clone(),
        }
    }

    /// What the `index`th listener speaks: its bind's protocol, unless the listeners are
    /// inherited sockets served as they are (no binds describe them).
    pub fn protocol_of(&self, index: usize) -> Protocol {
        if crate::listen::serving_inherited_as_is() {
            return self.protocol;
        }
        self.protocols.get(index).copied().unwrap_or(self.protocol)
    }

    /// Whether `peer` may speak the uwsgi protocol: a Unix socket client always may (as in
    /// gunicorn: it has no address to judge, and the socket file's mode guards it).
    pub fn uwsgi_allows(&self, peer: &Peer) -> bool {
        matches!(peer, Peer::Unix) || self.uwsgi_allow.allows(peer)
    }
}
