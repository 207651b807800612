//! A real HAProxy for the fleet tests, in the foreground, configured from
//! `examples/haproxy.cfg` with the test's addresses, and stopped on drop.
//!
//! Its frontend listens on a socket the test bound (passed as fd 3, `bind fd@3`), so there
//! is no race for a free port; its admin socket (`show stat`) says which servers it sends
//! to.

use super::{TempDir, repo_root, wait_until};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The HAProxy binary (Debian's package).
pub const HAPROXY: &str = "/usr/sbin/haproxy";

/// Whether HAProxy is installed; a test without it says so and passes vacuously.
pub fn available() -> bool {
    let there = Path::new(HAPROXY).exists();
    if !there {
        eprintln!("skipped: {HAPROXY} is not installed");
    }
    there
}

/// A running HAProxy, killed on drop.
pub struct Haproxy {
    child: Child,
    /// Where clients connect.
    pub addr: SocketAddr,
    admin: PathBuf,
    log: PathBuf,
    _dir: TempDir,
}

impl Haproxy {
    /// Starts HAProxy with `examples/haproxy.cfg`, its servers `app1`.. at `backends` and
    /// its health checks every `inter` (an HAProxy time, e.g. `200ms`).
    pub fn start(backends: &[SocketAddr], inter: &str) -> Haproxy {
        let dir = TempDir::new();
        let admin = dir.join("admin.sock");
        let example = std::fs::read_to_string(repo_root().join("examples/haproxy.cfg"))
            .expect("examples/haproxy.cfg");
        let mut config = example
            .replace("bind :8080", "bind fd@3")
            .replace("/run/haproxy/admin.sock", &admin.display().to_string())
            .replace("inter 1s", &format!("inter {inter}"));
        for (i, addr) in backends.iter().enumerate() {
            let placeholder = format!("127.0.0.1:{}", 8001 + i);
            assert!(
                config.contains(&placeholder),
                "the example names {placeholder}"
            );
            config = config.replace(&placeholder, &addr.to_string());
        }
        Haproxy::launch(dir, admin, &config)
    }

    /// Starts HAProxy with `proxies` (its `defaults`, `frontend` and `backend` sections; the
    /// frontend binds `fd@3`, a loopback socket the test bound) after a `global` section
    /// naming its admin socket.
    pub fn start_with(proxies: &str) -> Haproxy {
        let dir = TempDir::new();
        let admin = dir.join("admin.sock");
        let config = format!(
            "global\n    stats socket {} mode 600 level admin\n\n{proxies}",
            admin.display()
        );
        Haproxy::launch(dir, admin, &config)
    }

    fn launch(dir: TempDir, admin: PathBuf, config: &str) -> Haproxy {
        let cfg = dir.write("haproxy.cfg", config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the frontend");
        let addr = listener.local_addr().unwrap();
        let log = dir.join("haproxy.log");
        let out = std::fs::File::create(&log).unwrap();
        let fd = listener.as_raw_fd();
        let mut cmd = Command::new(HAPROXY);
        cmd.arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // SAFETY: dup2 and fcntl are async-signal-safe; they give the child the listener as
        // fd 3 without close-on-exec (dup2 onto itself would keep the flag).
        unsafe {
            cmd.pre_exec(move || {
                let ok = if fd == 3 {
                    nix::libc::fcntl(3, nix::libc::F_SETFD, 0)
                } else {
                    nix::libc::dup2(fd, 3)
                };
                if ok < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn haproxy");
        drop(listener);
        let haproxy = Haproxy {
            child,
            addr,
            admin,
            log,
            _dir: dir,
        };
        wait_until("haproxy's admin socket", || haproxy.admin.exists());
        haproxy
    }

    /// HAProxy's own output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The check status HAProxy shows for `server` (`UP`, `DOWN`, `UP 1/2`, ...).
    pub fn status(&self, server: &str) -> String {
        let stat = self.admin_command("show stat");
        let mut lines = stat.lines();
        let header = lines.next().unwrap_or_default().trim_start_matches("# ");
        let column = header
            .split(',')
            .position(|c| c == "status")
            .expect("a status column");
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.get(1) == Some(&server))
            .and_then(|f| f.get(column).map(|s| s.to_string()))
            .unwrap_or_default()
    }

    /// Waits until HAProxy shows `server` with exactly `status`.
    pub fn wait_status(&self, server: &str, status: &str) {
        wait_until(&format!("haproxy to show {server} {status}"), || {
            self.status(server) == status
        });
    }

    fn admin_command(&self, command: &str) -> String {
        let Ok(mut s) = UnixStream::connect(&self.admin) else {
            return String::new();
        };
        let _ = s.write_all(format!("{command}\n").as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- haproxy output ---\n{}\n--- end ---", self.log_text());
        }
    }
}
