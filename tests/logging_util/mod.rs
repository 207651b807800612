//! A server whose logs go to files, for the logging tests: the shared harness reads
//! readiness from stderr, but here the error log may be a file, so readiness and every log
//! line are awaited by polling the files (bounded by [`DEADLINE`]; never a fixed sleep).
#![allow(dead_code)]

use crate::common::{DEADLINE, TempDir, pyapps, server_bin};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running server with its standard streams in files.
pub struct FileServer {
    pub child: Child,
    pub addr: SocketAddr,
    /// Where the error log is (a file option, or the captured stderr).
    pub error_log: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Worker pids from the `Worker ready` lines at start.
    pub workers: Vec<i32>,
}

/// The server command: `--chdir pyapps`, `-b 127.0.0.1:0`, `args`, then `app`; the test
/// runner's own RSGI_*/PYTHON* variables removed; stdout and stderr into `dir`.
pub fn command(dir: &TempDir, app: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(server_bin());
    for (k, _) in std::env::vars_os() {
        let ks = k.to_string_lossy();
        if ks.starts_with("RSGI_") || ks == "VIRTUAL_ENV" || ks.starts_with("PYTHON") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd.env("PYTHONUNBUFFERED", "1");
    cmd.arg("--chdir").arg(pyapps());
    cmd.args(["-b", "127.0.0.1:0"]);
    cmd.args(args);
    cmd.arg(app);
    cmd.process_group(0);
    cmd.stdin(Stdio::null());
    cmd.stdout(std::fs::File::create(dir.join("stdout")).unwrap());
    cmd.stderr(std::fs::File::create(dir.join("stderr")).unwrap());
    cmd
}

impl FileServer {
    /// Starts `app` with `args` and `workers` workers; `error_log` is the `--error-logfile`
    /// the args name, if any (readiness is read there).
    pub fn start(
        dir: &TempDir,
        app: &str,
        args: &[&str],
        workers: usize,
        error_log: Option<&Path>,
    ) -> FileServer {
        let w = workers.to_string();
        let mut all = vec!["-w", &w];
        all.extend_from_slice(args);
        let child = command(dir, app, &all).spawn().expect("spawn rsgi-server");
        let mut server = FileServer {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            error_log: error_log.map_or_else(|| dir.join("stderr"), Path::to_owned),
            stdout: dir.join("stdout"),
            stderr: dir.join("stderr"),
            workers: Vec::new(),
        };
        let listening = server.wait_for_line("Listening at: http://");
        let url = listening
            .split("Listening at: http://")
            .nth(1)
            .and_then(|r| r.split([' ', '"']).next())
            .unwrap();
        server.addr = url.trim_end_matches('/').parse().expect("address");
        let ready = server.wait_for_lines("Worker ready (pid: ", workers);
        server.workers = ready
            .iter()
            .map(|l| pid_in(l, "Worker ready (pid: "))
            .collect();
        server
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: Signal) {
        signal::kill(Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// Waits for a line of the error log containing `needle`.
    pub fn wait_for_line(&self, needle: &str) -> String {
        wait_for_lines(&self.error_log, needle, 1).remove(0)
    }

    /// Waits until `n` lines of the error log contain `needle`.
    pub fn wait_for_lines(&self, needle: &str, n: usize) -> Vec<String> {
        wait_for_lines(&self.error_log, needle, n)
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = signal::killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
        if std::thread::panicking() {
            for path in [&self.error_log, &self.stderr, &self.stdout] {
                let text = std::fs::read(path).unwrap_or_default();
                eprintln!(
                    "--- {} ---\n{}",
                    path.display(),
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}

/// The pid after `prefix` in `line` (`... Worker ready (pid: 42)` → 42).
pub fn pid_in(line: &str, prefix: &str) -> i32 {
    let rest = &line[line.find(prefix).expect(prefix) + prefix.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// The file's complete lines (a line still being written is left out).
pub fn lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..end + 1],
        None => &[][..],
    };
    String::from_utf8_lossy(complete)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Polls `path` until `n` complete lines contain `needle`; returns them.
pub fn wait_for_lines(path: &Path, needle: &str, n: usize) -> Vec<String> {
    wait_until(path, |all| {
        let found: Vec<String> = all.iter().filter(|l| l.contains(needle)).cloned().collect();
        (found.len() >= n).then_some(found)
    })
}

/// Polls `path` until it holds at least `n` complete lines; returns them all.
pub fn wait_for_count(path: &Path, n: usize) -> Vec<String> {
    wait_until(path, |all| (all.len() >= n).then(|| all.to_vec()))
}

fn wait_until<T>(path: &Path, found: impl Fn(&[String]) -> Option<T>) -> T {
    let until = Instant::now() + DEADLINE;
    loop {
        let all = lines(path);
        if let Some(result) = found(&all) {
            return result;
        }
        if Instant::now() > until {
            panic!(
                "{} never held the lines awaited; it has:\n{}",
                path.display(),
                all.join("\n")
            );
        }
        // A bounded poll of a file: the server gives no other signal that it wrote a line.
        std::thread::sleep(Duration::from_millis(5));
    }
}
