//! Listen addresses as the user writes them: `HOST:PORT`, `[V6]:PORT`, `unix:PATH`, `fd://N`,
//! each optionally after `uwsgi://` for a listener speaking the uwsgi protocol ([`Protocol`]).
//!
//! Pure parsing and printing: this file resolves no names and opens no sockets (that is
//! [`crate::listen`]'s job), so a bad address is reported before anything is bound.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// One address to listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindAddr {
    /// A TCP host (name, IPv4 or IPv6 literal without brackets) and port.
    Tcp {
        /// Host as written, brackets removed.
        host: String,
        /// Port; 0 asks the kernel for a free one.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// An already-open listening socket inherited from the parent (systemd, a supervisor).
    Fd(i32),
}

/// The protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.x.
    #[default]
    Http,
    /// uWSGI's binary protocol, as nginx's `uwsgi_pass` speaks it.
    Uwsgi,
}

impl Protocol {
    /// Splits a bind as written into the protocol its prefix names (`uwsgi://`), if any,
    /// and the address after it.
    pub fn split(bind: &str) -> (Option<Protocol>, &str) {
        match bind.strip_prefix(UWSGI_PREFIX) {
            Some(address) => (Some(Protocol::Uwsgi), address),
            None => (None, bind),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Uwsgi => "uwsgi",
        })
    }
}

/// The prefix of a bind whose listener speaks the uwsgi protocol.
pub const UWSGI_PREFIX: &str = "uwsgi://";

/// What the accepted forms are, appended to every parse error so the user sees the fix.
const FORMS: &str =
    "expected HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N, each optionally after uwsgi://";

impl FromStr for BindAddr {
    type Err = String;

    /// Parses one address; the error says what is wrong and which forms are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("fd://") {
            // Negative or non-numeric descriptors are typos, never something to adopt.
            return rest
                .parse::<i32>()
                .ok()
                .filter(|fd| *fd >= 0)
                .map(BindAddr::Fd)
                .ok_or_else(|| format!("fd://N needs a non-negative descriptor number ({FORMS})"));
        }
        // `unix://PATH` is accepted like gunicorn does; it must be checked before `unix:` or
        // `unix://run/app.sock` would silently become the absolute path `//run/app.sock`.
        if let Some(path) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err(format!("unix: needs a socket path ({FORMS})"));
            }
            if path.contains('\0') {
                return Err("a socket path cannot contain a NUL byte".to_owned());
            }
            return Ok(BindAddr::Unix(PathBuf::from(path)));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("missing ']' after the IPv6 address ({FORMS})"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("missing :PORT after [{host}] ({FORMS})"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{host:?} is not an IPv6 address"));
            }
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("missing :PORT ({FORMS})"))?;
            if host.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(format!("{host:?} is not a host name or address ({FORMS})"));
            }
            if host.contains(':') {
                // Without brackets "::1:8000" is ambiguous; refuse rather than guess.
                return Err(format!(
                    "IPv6 addresses need brackets, e.g. [{host}]:{port} ({FORMS})"
                ));
            }
            if host.is_empty() {
                return Err(format!(
                    "missing host, e.g. 0.0.0.0:{port} for every interface ({FORMS})"
                ));
            }
            (host, port)
        };
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
        Ok(BindAddr::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for BindAddr {
    /// Writes the address in the form [`FromStr`] reads back (IPv6 hosts in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            BindAddr::Tcp { host, port } => write!(f, "{host}:{port}"),
            BindAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            BindAddr::Fd(fd) => write!(f, "fd://{fd}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> BindAddr {
        BindAddr::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!("127.0.0.1:8000".parse(), Ok(tcp("127.0.0.1", 8000)));
        assert_eq!("localhost:0".parse(), Ok(tcp("localhost", 0)));
        assert_eq!("[::1]:65535".parse(), Ok(tcp("::1", 65535)));
        assert_eq!("[::]:80".parse(), Ok(tcp("::", 80)));
        assert_eq!(
            "unix:/run/app.sock".parse(),
            Ok(BindAddr::Unix("/run/app.sock".into()))
        );
        assert_eq!(
            "unix:///run/app.sock".parse(),
            Ok(BindAddr::Unix("/run/app.sock".into()))
        );
        assert_eq!(
            "unix:rel.sock".parse(),
            Ok(BindAddr::Unix("rel.sock".into()))
        );
        assert_eq!("fd://3".parse(), Ok(BindAddr::Fd(3)));
    }

    #[test]
    fn rejects_bad_forms_with_a_reason() {
        let cases = [
            ("127.0.0.1", "missing :PORT"),
            ("127.0.0.1:", "port \"\""),
            ("127.0.0.1:65536", "0 to 65535"),
            ("127.0.0.1:-1", "0 to 65535"),
            ("127.0.0.1:http", "not a number"),
            ("::1:8000", "brackets"),
            ("[::1]8000", "missing :PORT"),
            ("[::1:8000", "missing ']'"),
            ("[127.0.0.1]:80", "not an IPv6 address"),
            (":8000", "missing host"),
            ("unix:", "needs a socket path"),
            ("fd://", "descriptor"),
            ("fd://-1", "descriptor"),
            ("fd://x", "descriptor"),
            ("http://x:80", "not a host"),
            ("", "missing :PORT"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<BindAddr>().expect_err(input);
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn a_uwsgi_prefix_names_the_protocol() {
        assert_eq!(
            Protocol::split("uwsgi://unix:/run/app.sock"),
            (Some(Protocol::Uwsgi), "unix:/run/app.sock")
        );
        assert_eq!(
            Protocol::split("uwsgi://127.0.0.1:3031"),
            (Some(Protocol::Uwsgi), "127.0.0.1:3031")
        );
        assert_eq!(Protocol::split("127.0.0.1:80"), (None, "127.0.0.1:80"));
        // The address itself is parsed without the prefix.
        assert!("uwsgi://127.0.0.1:3031".parse::<BindAddr>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["0.0.0.0:8000", "[::1]:80", "unix:/tmp/a.sock", "fd://4"] {
            let addr: BindAddr = s.parse().expect(s);
            assert_eq!(addr.to_string(), s);
        }
    }
}
