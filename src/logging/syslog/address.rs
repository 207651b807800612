//! `--log-syslog-to` and `--log-syslog-facility` as gunicorn reads them
//! (`glogging.parse_syslog_address`, `SYSLOG_FACILITIES`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Where syslog lines are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogAddr {
    /// A Unix socket: datagram, else (unless `dgram_only`) stream, as Python's
    /// `SysLogHandler` tries them.
    Unix {
        /// The socket's path (`/dev/log`).
        path: PathBuf,
        /// `unix://PATH#dgram`: only a datagram socket.
        dgram_only: bool,
    },
    /// UDP to a host and port.
    Udp(String, u16),
    /// TCP to a host and port.
    Tcp(String, u16),
}

/// What `--log-syslog-to` accepts, for error messages.
pub const ADDR_FORMS: &str = "unix://PATH, unix://PATH#dgram, unix://PATH#stream, \
                              udp://HOST:PORT or tcp://HOST:PORT";

impl SyslogAddr {
    /// Parses gunicorn's address forms.
    pub fn parse(text: &str) -> Result<SyslogAddr, String> {
        if let Some(rest) = text.strip_prefix("unix://") {
            let (path, kind) = match rest.split_once('#') {
                Some((path, kind)) => (path, Some(kind)),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(format!("a socket path after unix:// ({ADDR_FORMS})"));
            }
            return Ok(SyslogAddr::Unix {
                path: PathBuf::from(path),
                dgram_only: kind == Some("dgram"),
            });
        }
        let (rest, tcp) = if let Some(rest) = text.strip_prefix("udp://") {
            (rest, false)
        } else if let Some(rest) = text.strip_prefix("tcp://") {
            (rest, true)
        } else {
            return Err(ADDR_FORMS.to_owned());
        };
        let (host, port) = host_port(rest)?;
        Ok(if tcp {
            SyslogAddr::Tcp(host, port)
        } else {
            SyslogAddr::Udp(host, port)
        })
    }

    /// The network address to send to (resolved once, at startup).
    pub fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
        (host, port).to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address for this name")
        })
    }
}

impl std::fmt::Display for SyslogAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyslogAddr::Unix { path, .. } => write!(f, "unix://{}", path.display()),
            SyslogAddr::Udp(host, port) => write!(f, "udp://{host}:{port}"),
            SyslogAddr::Tcp(host, port) => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// `HOST:PORT`, `[V6]:PORT`, `HOST` (port 514) or nothing (localhost), as gunicorn splits
/// them.
fn host_port(addr: &str) -> Result<(String, u16), String> {
    let host = if addr.contains('[') && addr.contains(']') {
        addr.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        addr.split(':').next().unwrap_or("")
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let tail = addr.rsplit(']').next().unwrap_or(addr);
    let port = match tail.split_once(':') {
        Some((_, port)) => port
            .parse::<u16>()
            .ok()
            .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{port:?} is not a valid port number"))?,
        None => 514,
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// gunicorn's facility names and codes (`security` is `auth`, as gunicorn has it).
const FACILITIES: &[(&str, u8)] = &[
    ("auth", 4),
    ("authpriv", 10),
    ("cron", 9),
    ("daemon", 3),
    ("ftp", 11),
    ("kern", 0),
    ("lpr", 6),
    ("mail", 2),
    ("news", 7),
    ("security", 4),
    ("syslog", 5),
    ("user", 1),
    ("uucp", 8),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// What `--log-syslog-facility` accepts, for error messages.
pub const FACILITY_NAMES: &str = "auth, authpriv, cron, daemon, ftp, kern, lpr, mail, news, \
                                  security, syslog, user, uucp, local0 to local7";

/// A facility code from gunicorn's name for it (any case).
pub fn facility(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    FACILITIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// A facility code from Python's `SysLogHandler.facility_names` (a `SysLogHandler` in a
/// logging config): gunicorn's, plus `console`, `ntp`, `solaris-cron`, and `security` as
/// Python numbers it (13).
pub fn python_facility(name: &str) -> Option<u8> {
    match name {
        "security" => Some(13),
        "console" => Some(14),
        "ntp" => Some(12),
        "solaris-cron" => Some(15),
        _ => FACILITIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_gunicorn_parses_them() {
        let p = |s| SyslogAddr::parse(s);
        assert_eq!(
            p("unix:///dev/log#dgram"),
            Ok(SyslogAddr::Unix {
                path: "/dev/log".into(),
                dgram_only: true
            })
        );
        assert_eq!(
            p("unix:///dev/log"),
            Ok(SyslogAddr::Unix {
                path: "/dev/log".into(),
                dgram_only: false
            })
        );
        assert_eq!(
            p("udp://localhost:514"),
            Ok(SyslogAddr::Udp("localhost".into(), 514))
        );
        assert_eq!(
            p("tcp://LogHost"),
            Ok(SyslogAddr::Tcp("loghost".into(), 514))
        );
        assert_eq!(p("udp://"), Ok(SyslogAddr::Udp("localhost".into(), 514)));
        assert_eq!(
            p("udp://[::1]:5140"),
            Ok(SyslogAddr::Udp("::1".into(), 5140))
        );
        assert!(p("udp://h:x").unwrap_err().contains("port"));
        assert!(p("localhost:514").is_err());
        assert!(p("unix://").is_err());
    }

    #[test]
    fn facilities() {
        assert_eq!(facility("USER"), Some(1));
        assert_eq!(facility("local7"), Some(23));
        assert_eq!(facility("security"), Some(4));
        assert_eq!(python_facility("security"), Some(13));
        assert_eq!(facility("bogus"), None);
    }
}
