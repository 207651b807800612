//! The StatsD settings (`--statsd-host`, `--statsd-prefix`, `--dogstatsd-tags`,
//! `--enable-backlog-metric`), and the addresses `--statsd-host` takes, read as gunicorn
//! 27's `validate_statsd_address` reads them.

use super::packet::normalize_prefix;
use crate::settings::{Check, ConfigError, Settings};
use std::path::PathBuf;

/// What `--statsd-host` accepts, for error messages.
pub const ADDR_FORMS: &str = "HOST:PORT, [IPV6]:PORT, HOST (port 8125) or unix://PATH";

/// Where StatsD lines are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsdAddr {
    /// A UDP address: a host name or address literal, and a port.
    Udp {
        /// Lowercased, as gunicorn does.
        host: String,
        /// The UDP port.
        port: u16,
    },
    /// A Unix datagram socket.
    Unix(PathBuf),
}

impl std::fmt::Display for StatsdAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsdAddr::Udp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            StatsdAddr::Udp { host, port } => write!(f, "{host}:{port}"),
            StatsdAddr::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// StatsD metrics, when `--statsd-host` is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsdSettings {
    /// Where to send.
    pub addr: StatsdAddr,
    /// Put before every name, ending with a dot (gunicorn's rule).
    pub prefix: String,
    /// DogStatsD tags appended as `|#tags`; empty: none.
    pub tags: String,
    /// Also send the listeners' accept-queue depth (`gunicorn.backlog`).
    pub backlog: bool,
}

/// The settings, or `None` when `--statsd-host` is unset or empty.
pub fn check(s: &Settings, v: &Check<'_>) -> Result<Option<StatsdSettings>, ConfigError> {
    let ascii = |raw: crate::settings::Raw<'_, String>| -> Result<String, ConfigError> {
        let text = raw.value.cloned().unwrap_or_default();
        if text.is_ascii() && !text.contains(['\n', '\r']) {
            Ok(text)
        } else {
            Err(v.refuse(raw, "ASCII text on one line (StatsD packets are ASCII)"))
        }
    };
    let prefix = normalize_prefix(&ascii(s.statsd_prefix())?);
    let tags = ascii(s.dogstatsd_tags())?;
    let backlog = v.flag(s.enable_backlog_metric());
    let raw = s.statsd_host();
    let Some(text) = raw.value.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let addr = parse(text.trim()).map_err(|why| v.refuse(raw, &format!("{ADDR_FORMS}: {why}")))?;
    Ok(Some(StatsdSettings {
        addr,
        prefix,
        tags,
        backlog,
    }))
}

/// Reads a `--statsd-host` value as gunicorn's `validate_statsd_address` and
/// `util.parse_address` do; `fd://` is refused (gunicorn fails on it at startup).
pub fn parse(text: &str) -> Result<StatsdAddr, String> {
    const DEFAULT_PORT: &str = "8125";
    // gunicorn's guard for 19.x configs: `unix:8125` is the host "unix", not a socket.
    if let Some(port) = text.strip_prefix("unix:") {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(StatsdAddr::Udp {
                host: "unix".into(),
                port: port_number(port)?,
            });
        }
        let at = text.rfind("unix:").map_or(0, |i| i + "unix:".len());
        let rest = &text[at..];
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err("unix:// needs a socket path".into());
        }
        return Ok(StatsdAddr::Unix(PathBuf::from(path)));
    }
    if text.starts_with("fd://") {
        return Err("a file descriptor cannot be a StatsD destination".into());
    }
    let netloc = text.strip_prefix("tcp://").unwrap_or(text);
    let (host, port) = if netloc.contains('[') && netloc.contains(']') {
        let host = netloc.split(']').next().unwrap_or("");
        let host = host.get(1..).unwrap_or("");
        let port = netloc.split("]:").nth(1).unwrap_or(DEFAULT_PORT);
        (host, port)
    } else if netloc.contains(':') {
        let mut parts = netloc.split(':');
        (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(DEFAULT_PORT),
        )
    } else if netloc.is_empty() {
        ("0.0.0.0", DEFAULT_PORT)
    } else {
        (netloc, DEFAULT_PORT)
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok(StatsdAddr::Udp {
        host: host.to_lowercase(),
        port: port_number(port)?,
    })
}

fn port_number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{text:?} is not a port number (1 to 65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(host: &str, port: u16) -> StatsdAddr {
        StatsdAddr::Udp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn reads_gunicorns_address_forms() {
        assert_eq!(parse("localhost:9125"), Ok(udp("localhost", 9125)));
        assert_eq!(parse("LocalHost"), Ok(udp("localhost", 8125)));
        assert_eq!(parse("127.0.0.1"), Ok(udp("127.0.0.1", 8125)));
        assert_eq!(parse("tcp://10.0.0.1:1"), Ok(udp("10.0.0.1", 1)));
        assert_eq!(parse("[::1]:9125"), Ok(udp("::1", 9125)));
        assert_eq!(parse("[::1]"), Ok(udp("::1", 8125)));
        assert_eq!(parse("unix:8125"), Ok(udp("unix", 8125)));
        assert_eq!(
            parse("unix:///run/statsd.sock"),
            Ok(StatsdAddr::Unix("/run/statsd.sock".into()))
        );
        assert_eq!(
            parse("unix:/run/statsd.sock"),
            Ok(StatsdAddr::Unix("/run/statsd.sock".into()))
        );
    }

    #[test]
    fn refuses_what_gunicorn_cannot_send_to() {
        for bad in [
            "host:port",
            "host:0",
            "host:70000",
            "::1",
            "unix://",
            "fd://3",
            ":8125",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
