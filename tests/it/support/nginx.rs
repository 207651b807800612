//! A real nginx for tests to put in front of the server: started in the foreground from its
//! own prefix (configuration, pid file, temporary directories and logs all in a temp dir),
//! on a free loopback port, and stopped on drop.
//!
//! `Nginx::start(locations)` takes the inside of one `server {}` block (`location / {
//! uwsgi_pass ...; }`); Debian's stock `uwsgi_params` is at [`UWSGI_PARAMS`]. Tests that need nginx skip themselves (saying so) where it is not
//! installed.

use super::{TempDir, wait_until};
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The nginx binary (Debian's package).
pub const NGINX: &str = "/usr/sbin/nginx";
/// Debian's stock `uwsgi_params`.
pub const UWSGI_PARAMS: &str = "/etc/nginx/uwsgi_params";

/// Whether nginx is installed; a test without it says so and passes vacuously.
pub fn available() -> bool {
    let there = Path::new(NGINX).exists();
    if !there {
        eprintln!("skipped: {NGINX} is not installed");
    }
    there
}

/// A running nginx, killed on drop.
pub struct Nginx {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl Nginx {
    /// Starts nginx with `server_body` inside its one `server {}` block, listening on a
    /// free 127.0.0.1 port, and waits until it accepts connections.
    pub fn start(server_body: &str) -> Nginx {
        // The port is picked by binding :0 and released for nginx, so another process may
        // take it in between: nginx then fails to bind and exits, and another port is tried.
        for _ in 0..5 {
            if let Some(nginx) = Nginx::try_start(server_body) {
                return nginx;
            }
        }
        panic!("nginx did not start on any of five free ports");
    }

    fn try_start(server_body: &str) -> Option<Nginx> {
        let dir = TempDir::new();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let p = |name: &str| dir.join(name).display().to_string();
        for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            fs::create_dir_all(dir.join(sub)).expect("temp dir");
        }
        // `user root`: as root, nginx would otherwise run its worker as nobody, who may not
        // reach the test's sockets; as anyone else the directive is ignored.
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n\
             pid {pid};\nerror_log {err} info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {access};\n  client_max_body_size 0;\n\
               client_body_temp_path {body};\n  proxy_temp_path {proxy};\n\
               fastcgi_temp_path {fastcgi};\n  uwsgi_temp_path {uwsgi};\n\
               scgi_temp_path {scgi};\n\
               server {{\n    listen 127.0.0.1:{port};\n    server_name localhost;\n\
             {server_body}\n  }}\n}}\n",
            pid = p("nginx.pid"),
            err = p("error.log"),
            access = p("access.log"),
            body = p("client_body"),
            proxy = p("proxy"),
            fastcgi = p("fastcgi"),
            uwsgi = p("uwsgi"),
            scgi = p("scgi"),
        );
        let conf_path = dir.write("nginx.conf", conf);
        let mut child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut exited = false;
        // The pid file is written once the listening sockets are open; a connection
        // proves they are nginx's.
        wait_until("nginx to listen", || {
            exited = child.try_wait().ok().flatten().is_some();
            exited || (dir.join("nginx.pid").exists() && TcpStream::connect(addr).is_ok())
        });
        if exited {
            let log = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            eprintln!("nginx exited at start on port {port}: {log}");
            return None;
        }
        Some(Nginx { child, dir, port })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its access log so far (the default `combined` format, one line per request).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// Its error log so far (upstream errors, "upstream prematurely closed"...).
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM is nginx's fast shutdown: the master stops its workers and exits.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
