//! Where the master serves its Prometheus metrics.

use crate::settings::{BindAddr, Check, ConfigError, Raw, group};

group! {
    /// The metrics listener.
    #[derive(Clone, Debug, PartialEq)]
    pub struct MetricsSettings from (s, v) {
        /// `--metrics-bind`: the address to serve `/metrics` on; `None`: no metrics (and
        /// workers record nothing).
        pub bind: Option<BindAddr> = metrics_bind(s.metrics_bind(), v)?,
    }
}

/// What `--metrics-bind` accepts.
const ALLOWED: &str = "HOST:PORT, [IPV6]:PORT or unix:PATH";

/// A TCP or Unix address; not an inherited descriptor, not `uwsgi://`.
fn metrics_bind(raw: Raw<'_, String>, v: &Check<'_>) -> Result<Option<BindAddr>, ConfigError> {
    let Some(text) = raw.value else {
        return Ok(None);
    };
    match text.trim().parse::<BindAddr>() {
        Ok(BindAddr::Fd(_)) | Err(_) => Err(v.refuse(raw, ALLOWED)),
        Ok(_) if text.starts_with(crate::settings::UWSGI_PREFIX) => Err(v.refuse(raw, ALLOWED)),
        Ok(addr) => Ok(Some(addr)),
    }
}
