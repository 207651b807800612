//! uWSGI's own HTTP router (`uwsgi --http ADDR --http-to UPSTREAM`, from the PyPI `uwsgi`
//! package pinned in requirements-dev.txt) as a second real uwsgi-protocol client: it turns
//! HTTP requests into uwsgi packets for the server under test. Stopped on drop.

use super::{TempDir, test_python, wait_until};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `uwsgi` command beside the test Python, if the package is installed; a test
/// without it says so and passes vacuously.
pub fn command() -> Option<PathBuf> {
    let uwsgi = test_python().with_file_name("uwsgi");
    if uwsgi.exists() {
        Some(uwsgi)
    } else {
        eprintln!("skipped: {} is not installed", uwsgi.display());
        None
    }
}

/// A running router, stopped on drop.
pub struct Router {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Router {
    /// Starts `uwsgi` routing HTTP on a free loopback port to `upstream` (`HOST:PORT` or a
    /// Unix socket path), and waits until it accepts connections.
    pub fn start(uwsgi: &PathBuf, upstream: &str) -> Router {
        for _ in 0..5 {
            let dir = TempDir::new();
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log = std::fs::File::create(dir.join("uwsgi.log")).expect("log file");
            let mut child = Command::new(uwsgi)
                .args(["--master", "--die-on-term", "--http"])
                .arg(addr.to_string())
                .args(["--http-to", upstream])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn uwsgi");
            let mut exited = false;
            wait_until("uWSGI's router to listen", || {
                exited = child.try_wait().ok().flatten().is_some();
                exited || TcpStream::connect(addr).is_ok()
            });
            if !exited {
                return Router {
                    child,
                    addr,
                    _dir: dir,
                };
            }
            let log = std::fs::read_to_string(dir.join("uwsgi.log")).unwrap_or_default();
            eprintln!("uwsgi exited at start on port {port}: {log}");
        }
        panic!("uWSGI's router did not start on any of five free ports");
    }

    /// Where it takes HTTP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        // SIGINT stops uWSGI's master and its router at once.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let _ = self.child.wait();
    }
}
