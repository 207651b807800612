//! Reading the server's logs: [`Log`] collects the lines of a child's stdout or stderr as
//! they come; [`FileServer`] is a server whose logs go to files, for the logging tests (the
//! error log may be a file there, so readiness and every log line are awaited by polling the
//! files, bounded by [`DEADLINE`]; never a fixed sleep).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::server::{PYTHON_ENV, wait_child, without_runner_env};
use super::{DEADLINE, TempDir, pyapps, server_bin};

/// Every stderr line a server printed so far, fed by a reader thread.
pub struct Log {
    rx: Receiver<String>,
    lines: Vec<String>,
    eof: bool,
}

impl Log {
    pub(super) fn new(stream: impl Read + Send + 'static) -> Log {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Log {
            rx,
            lines: Vec::new(),
            eof: false,
        }
    }

    /// Takes in whatever lines have arrived, without blocking.
    pub fn drain(&mut self) {
        while let Ok(line) = self.rx.try_recv() {
            self.lines.push(line);
        }
    }

    /// Receives one more line; false at EOF.
    fn pull(&mut self, until: Instant) -> bool {
        if self.eof {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(line) => {
                self.lines.push(line);
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                false
            }
        }
    }

    /// Waits until at least `n` lines satisfy `pred`; returns them, or the full log as
    /// the error when EOF or the deadline comes first.
    pub fn wait_count(
        &mut self,
        n: usize,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String> {
        self.wait_count_within(n, pred, DEADLINE)
    }

    /// [`Log::wait_count`] with a different safety deadline.
    pub fn wait_count_within(
        &mut self,
        n: usize,
        pred: impl Fn(&str) -> bool,
        deadline: Duration,
    ) -> Result<Vec<String>, String> {
        let until = Instant::now() + deadline;
        loop {
            self.drain();
            let found: Vec<String> = self.lines.iter().filter(|l| pred(l)).cloned().collect();
            if found.len() >= n {
                return Ok(found);
            }
            if !self.pull(until) {
                self.drain();
                let found: Vec<String> = self.lines.iter().filter(|l| pred(l)).cloned().collect();
                if found.len() >= n {
                    return Ok(found);
                }
                let why = if self.eof {
                    "stderr closed (process exited)"
                } else {
                    "safety deadline passed"
                };
                return Err(format!("{why}; stderr so far:\n{}", self.lines.join("\n")));
            }
        }
    }

    /// Reads to EOF (the process and every worker have exited or closed stderr).
    pub fn read_to_eof(&mut self) -> Result<(), String> {
        let until = Instant::now() + DEADLINE;
        while !self.eof {
            if !self.pull(until) && !self.eof {
                return Err(format!(
                    "stderr still open at the safety deadline; so far:\n{}",
                    self.lines.join("\n")
                ));
            }
        }
        Ok(())
    }

    /// Every line so far.
    pub fn lines(&mut self) -> &[String] {
        self.drain();
        &self.lines
    }

    /// Every line so far, joined with newlines.
    pub fn text(&mut self) -> String {
        self.drain();
        self.lines.join("\n")
    }

    /// How many lines so far satisfy `pred`.
    pub fn count(&mut self, pred: impl Fn(&str) -> bool) -> usize {
        self.drain();
        self.lines.iter().filter(|l| pred(l)).count()
    }
}

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
    without_runner_env(&mut cmd).envs(PYTHON_ENV);
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

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the master.
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
        wait_child(&mut self.child)
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
    poll_lines(path, |all| {
        let found: Vec<String> = all.iter().filter(|l| l.contains(needle)).cloned().collect();
        (found.len() >= n).then_some(found)
    })
}

/// Polls `path` until it holds at least `n` complete lines; returns them all.
pub fn wait_for_count(path: &Path, n: usize) -> Vec<String> {
    poll_lines(path, |all| (all.len() >= n).then(|| all.to_vec()))
}

fn poll_lines<T>(path: &Path, found: impl Fn(&[String]) -> Option<T>) -> T {
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
