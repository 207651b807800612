//! systemd integration: `sd_notify` readiness/status messages (socket activation lives in
//! [`crate::listen::activation`]).
//!
//! The protocol is one datagram per message to the Unix socket named by `$NOTIFY_SOCKET`
//! (a path, or `@name` for the abstract namespace), `KEY=VALUE` lines; no libsystemd. The
//! variables are read once and removed from the environment at startup ([`take_env`]), so
//! workers and anything the application spawns do not see them and cannot impersonate the
//! master. A failed send is never fatal: systemd may be gone, the server is not.

use nix::time::{ClockId, clock_gettime};
use nix::unistd::getpid;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;
use std::time::Duration;

/// What systemd told us through the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyEnv {
    /// `$NOTIFY_SOCKET` as given.
    pub socket: String,
    /// `$WATCHDOG_USEC`, if set, valid and meant for us (`$WATCHDOG_PID` unset or ours).
    pub watchdog: Option<Duration>,
}

static ENV: OnceLock<Option<NotifyEnv>> = OnceLock::new();

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and removes them from the
/// environment; later calls return the first reading. Call early in `main`, while
/// single-threaded.
pub fn take_env() -> Option<&'static NotifyEnv> {
    ENV.get_or_init(|| {
        let socket = std::env::var("NOTIFY_SOCKET").ok();
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            // SAFETY: called from main before any thread exists (see the doc), so nothing
            // reads the environment concurrently.
            unsafe { std::env::remove_var(var) };
        }
        let socket = socket.filter(|s| !s.is_empty())?;
        let for_us = pid.is_none_or(|p| p.trim().parse::<i32>().ok() == Some(getpid().as_raw()));
        let watchdog = usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(Duration::from_micros);
        Some(NotifyEnv { socket, watchdog })
    })
    .as_ref()
}

/// Sends `sd_notify` messages to `$NOTIFY_SOCKET`, if systemd gave us one.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`, or `None` when not started by systemd with
    /// `Type=notify` (or the socket address is unusable).
    pub fn from_env() -> Option<Notifier> {
        let env = take_env()?;
        let addr = match parse_address(&env.socket) {
            Some(addr) => addr,
            None => {
                tracing::warn!("NOTIFY_SOCKET={:?} is not a usable address", env.socket);
                return None;
            }
        };
        let socket = match UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot create the systemd notification socket: {e}");
                return None;
            }
        };
        // A full socket buffer must never block the master loop.
        let _ = socket.set_nonblocking(true);
        Some(Notifier {
            socket,
            addr,
            watchdog: env.watchdog,
        })
    }

    /// `READY=1`: every worker of the current generation has loaded the app. A daemonized
    /// master also says who it is (`MAINPID`), since systemd started another process.
    pub fn ready(&self) {
        if crate::process::daemon::is_daemonized() {
            self.send(&format!("READY=1\nMAINPID={}", getpid()));
        } else {
            self.send("READY=1");
        }
    }

    /// `RELOADING=1` (with `MONOTONIC_USEC`): a HUP reload has begun.
    pub fn reloading(&self) {
        let usec = clock_gettime(ClockId::CLOCK_MONOTONIC)
            .map(|t| Duration::from(t).as_micros())
            .unwrap_or(0);
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    /// `STOPPING=1`: a stop has begun. Not when a new master took over (USR2 then TERM):
    /// the service goes on, under `new_master`'s pid.
    pub fn stopping(&self, new_master: Option<i32>) {
        match new_master {
            Some(pid) => self.main_pid(pid),
            None => self.send("STOPPING=1"),
        }
    }

    /// `STATUS=...`: free text shown by `systemctl status` (one line).
    pub fn status(&self, text: &str) {
        let line: String = text.chars().filter(|c| *c != '\n').collect();
        self.send(&format!("STATUS={line}"));
    }

    /// `MAINPID=...`: after a binary upgrade, the new master is the service's main process.
    pub fn main_pid(&self, pid: i32) {
        self.send(&format!("MAINPID={pid}"));
    }

    /// How often [`Notifier::watchdog`] must be called (half of `$WATCHDOG_USEC`), if the
    /// service has a watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// `WATCHDOG=1`: the master loop is alive.
    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send("WATCHDOG=1");
        }
    }

    fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            tracing::debug!("sd_notify {message:?} failed: {e}");
        }
    }
}

/// `/path` or `@abstract-name` (systemd's spelling for the abstract namespace).
fn parse_address(spec: &str) -> Option<SocketAddr> {
    if let Some(name) = spec.strip_prefix('@') {
        SocketAddr::from_abstract_name(name.as_bytes()).ok()
    } else if spec.starts_with('/') {
        SocketAddr::from_pathname(spec).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn notifier_for(addr: SocketAddr, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            socket: UnixDatagram::unbound().expect("socket"),
            addr,
            watchdog,
        }
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = TempDir::new("rsgi-sd", "path");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        let addr = parse_address(path.to_str().expect("utf-8")).expect("address");
        let n = notifier_for(addr, Some(Duration::from_secs(10)));
        n.ready();
        assert_eq!(recv(&listener), "READY=1");
        n.status("2 workers\nready");
        assert_eq!(recv(&listener), "STATUS=2 workersready");
        n.reloading();
        let reloading = recv(&listener);
        assert!(
            reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{reloading}"
        );
        n.stopping(None);
        assert_eq!(recv(&listener), "STOPPING=1");
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(5)));
        n.watchdog();
        assert_eq!(recv(&listener), "WATCHDOG=1");
    }

    #[test]
    fn abstract_addresses_and_bad_ones() {
        let name = format!("rsgi-sd-test-{}", getpid());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("a"))
                .expect("bind");
        let addr = parse_address(&format!("@{name}")).expect("abstract");
        let n = notifier_for(addr, None);
        n.stopping(None);
        assert_eq!(recv(&listener), "STOPPING=1");
        assert_eq!(n.watchdog_interval(), None);
        assert!(parse_address("relative/path").is_none());
        assert!(parse_address("").is_none());
    }
}
