//! The health settings: where the main listeners answer probes, and how long a stop waits
//! with readiness down before draining.

use super::Which;
use crate::settings::{Check, ConfigError, Settings, group};
use std::sync::Arc;
use std::time::Duration;

group! {
    /// Health probes on the main listeners and the drain delay before a graceful stop.
    #[derive(Clone, Debug, PartialEq)]
    pub struct HealthSettings from (s, v) {
        /// The probe paths the workers answer without Python (`--health-path-prefix`);
        /// `None`: off.
        pub paths: Option<Arc<HealthPaths>> = paths(s, v)?,
        /// How long after TERM readiness is down while everything keeps serving, before
        /// the graceful stop begins (`--drain-delay`); zero: stop at once.
        pub drain_delay: Duration = {
            let raw = s.drain_delay();
            Duration::from_secs(v.whole(raw, 0..=MAX_DRAIN_DELAY)? as u64)
        },
    }
}

/// Longest `--drain-delay`: an hour, far beyond any load balancer's check interval.
const MAX_DRAIN_DELAY: i64 = 3600;

/// The two probe paths under a prefix, as a request's raw path must spell them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthPaths {
    live: Vec<u8>,
    ready: Vec<u8>,
}

impl HealthPaths {
    /// The probe paths under `prefix` (`/_rsgi` gives `/_rsgi/livez`; `/` gives `/livez`).
    pub fn new(prefix: &str) -> HealthPaths {
        let base = prefix.trim_end_matches('/');
        HealthPaths {
            live: format!("{base}/livez").into_bytes(),
            ready: format!("{base}/readyz").into_bytes(),
        }
    }

    /// The probe a request's path (without its query) names, if any.
    pub fn which(&self, path: &[u8]) -> Option<Which> {
        if path == self.live.as_slice() {
            Some(Which::Live)
        } else if path == self.ready.as_slice() {
            Some(Which::Ready)
        } else {
            None
        }
    }
}

fn paths(s: &Settings, v: &Check<'_>) -> Result<Option<Arc<HealthPaths>>, ConfigError> {
    let raw = s.health_path_prefix();
    let Some(prefix) = raw.value.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let valid = prefix.starts_with('/')
        && !prefix.contains("//")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'%'));
    if !valid {
        return Err(v.refuse(
            raw,
            "a URL path starting with / (e.g. /_rsgi; / for /livez and /readyz at the root), \
             without spaces, ?, # or %",
        ));
    }
    Ok(Some(Arc::new(HealthPaths::new(prefix))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_paths_sit_under_the_prefix() {
        let p = HealthPaths::new("/_rsgi/");
        assert_eq!(p.which(b"/_rsgi/livez"), Some(Which::Live));
        assert_eq!(p.which(b"/_rsgi/readyz"), Some(Which::Ready));
        assert_eq!(p.which(b"/readyz"), None);
        assert_eq!(p.which(b"/_rsgi/readyz/"), None);
        let root = HealthPaths::new("/");
        assert_eq!(root.which(b"/livez"), Some(Which::Live));
    }
}
