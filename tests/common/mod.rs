//! Test harness for the integration tests: runs the real `rsgi-server` binary against the
//! apps in `pyapps/` and talks to it over raw sockets.
//!
//! Synchronisation is always on the server's own readiness signals (its stderr lines) or on
//! socket events, never on sleeps. Every wait has a generous safety deadline
//! ([`DEADLINE`]) that only exists to turn a hung test into a failing one.
#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// Safety deadline for anything we wait on. Not a timing assertion: a healthy server
/// answers in milliseconds; this only stops a hung test.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The server binary under test.
pub fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsgi-server"))
}

/// The repository root (where Cargo.toml lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the demo and test apps.
pub fn pyapps() -> PathBuf {
    repo_root().join("pyapps")
}

/// The Python used for client-side tests: `$RSGI_TEST_PYTHON`, else the project venv's
/// python, else `python3` from PATH.
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("RSGI_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The project venv (`<repo>/.venv`) if the ops scripts created it.
pub fn project_venv() -> Option<PathBuf> {
    let venv = repo_root().join(".venv");
    venv.join("pyvenv.cfg").exists().then_some(venv)
}

// ---------------------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------------------

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique directory under the system temp dir, removed on drop. Names stay short so a
/// Unix socket path inside fits in `sun_path` (108 bytes).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("rsgi-t{}-{}", std::process::id(), n));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` (parent directories created) and returns the path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, contents).unwrap();
        p
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------
// Line collection from a child's stderr
// ---------------------------------------------------------------------------------------

/// Every stderr line a server printed so far, fed by a reader thread.
pub struct Log {
    rx: Receiver<String>,
    lines: Vec<String>,
    eof: bool,
}

impl Log {
    fn new(stream: impl Read + Send + 'static) -> Log {
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

    pub fn lines(&mut self) -> &[String] {
        self.drain();
        &self.lines
    }

    pub fn text(&mut self) -> String {
        self.drain();
        self.lines.join("\n")
    }

    pub fn count(&mut self, pred: impl Fn(&str) -> bool) -> usize {
        self.drain();
        self.lines.iter().filter(|l| pred(l)).count()
    }
}

/// Waits for a child with a safety deadline (polling `try_wait`; the deadline is not a
/// timing assertion).
pub fn wait_child(child: &mut Child) -> ExitStatus {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "process {} did not exit before the safety deadline",
                child.id()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// Running the server
// ---------------------------------------------------------------------------------------

/// The outcome of a run that is expected to end on its own (`--version`, bad config, ...).
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Both streams, for messages whose stream is not part of the contract.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// How to start a server: the app spec, options, and what readiness to expect.
pub struct Builder {
    app: Option<String>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    cwd: Option<PathBuf>,
    chdir_pyapps: bool,
    binds: usize,
    default_bind: bool,
    workers: usize,
    expect_listeners: Option<usize>,
    wrapper: Vec<OsString>,
}

/// Starts `rsgi-server ... APP` with `--chdir pyapps` and `-b 127.0.0.1:0` unless told
/// otherwise.
pub fn server(app: &str) -> Builder {
    Builder {
        app: Some(app.to_string()),
        args: Vec::new(),
        env: Vec::new(),
        env_remove: Vec::new(),
        cwd: None,
        chdir_pyapps: true,
        binds: 0,
        default_bind: true,
        workers: 1,
        expect_listeners: None,
        wrapper: Vec::new(),
    }
}

/// A command line with no app and no defaults (for `--version`, `--print-config`, ...).
pub fn bare() -> Builder {
    let mut b = server("");
    b.app = None;
    b.chdir_pyapps = false;
    b.default_bind = false;
    b
}

impl Builder {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.args.push(a.as_ref().to_owned());
        }
        self
    }

    /// Adds `-b ADDR`; the first one replaces the default bind.
    pub fn bind(mut self, addr: impl AsRef<OsStr>) -> Self {
        self.args.push("-b".into());
        self.args.push(addr.as_ref().to_owned());
        self.binds += 1;
        self.default_bind = false;
        self
    }

    /// Adds `-w N` and waits for N workers at start.
    pub fn workers(mut self, n: usize) -> Self {
        self.args.push("-w".into());
        self.args.push(n.to_string().into());
        self.workers = n;
        self
    }

    /// Expect this many workers without adding `-w` (config file or env sets it).
    pub fn expect_workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Expect this many `Listening at:` lines without adding `-b`.
    pub fn expect_listeners(mut self, n: usize) -> Self {
        self.expect_listeners = Some(n);
        self.default_bind = false;
        self
    }

    pub fn no_default_bind(mut self) -> Self {
        self.default_bind = false;
        self
    }

    pub fn no_chdir(mut self) -> Self {
        self.chdir_pyapps = false;
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(k.as_ref().to_owned());
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Runs the server under another program: `prog args... rsgi-server ...` (e.g.
    /// `systemd-socket-activate`, `unshare`). `Server::pid` is then the wrapper's pid.
    pub fn wrapper<I, S>(mut self, prog: impl AsRef<OsStr>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper = std::iter::once(prog.as_ref().to_owned())
            .chain(args.into_iter().map(|a| a.as_ref().to_owned()))
            .collect();
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, args)) => {
                let mut cmd = Command::new(prog);
                cmd.args(args).arg(server_bin());
                cmd
            }
            None => Command::new(server_bin()),
        };
        // The test runner's own environment must not configure the server under test.
        for (k, _) in std::env::vars_os() {
            let ks = k.to_string_lossy();
            if ks.starts_with("RSGI_") || ks == "VIRTUAL_ENV" || ks.starts_with("PYTHON") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("PYTHONDONTWRITEBYTECODE", "1");
        cmd.env("PYTHONUNBUFFERED", "1");
        for k in &self.env_remove {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        if self.chdir_pyapps {
            cmd.arg("--chdir").arg(pyapps());
        }
        if self.default_bind {
            cmd.arg("-b").arg("127.0.0.1:0");
        }
        cmd.args(&self.args);
        if let Some(app) = &self.app {
            cmd.arg(app);
        }
        // Own process group, so Drop can kill the master and every worker at once.
        cmd.process_group(0);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Starts the server and waits for every listener and worker to be ready.
    pub fn start(self) -> Server {
        let listeners =
            self.expect_listeners
                .unwrap_or(if self.default_bind { 1 } else { self.binds });
        let workers = self.workers;
        let mut server = self.spawn();
        server.await_ready(listeners, workers);
        server
    }

    /// Starts the server without waiting for anything (see [`Server::await_ready`]).
    pub fn spawn(self) -> Server {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn rsgi-server");
        let stdout = child.stdout.take().unwrap();
        let mut stdout_log = Log::new(stdout);
        stdout_log.drain();
        let log = Log::new(child.stderr.take().unwrap());
        Server {
            child,
            log,
            stdout: stdout_log,
            urls: Vec::new(),
            worker_pids: Vec::new(),
            reaped: None,
        }
    }
}

impl Server {
    /// Waits for `listeners` `Listening at:` lines and `workers` ready workers, and
    /// records their URLs and pids.
    pub fn await_ready(&mut self, listeners: usize, workers: usize) {
        let server = self;
        let listening = server
            .log
            .wait_count(listeners, |l| l.contains("Listening at: "))
            .unwrap_or_else(|e| panic!("server did not report {listeners} listener(s): {e}"));
        server.urls = listening
            .iter()
            .map(|l| parse_listen_url(l).expect("listen url"))
            .collect();
        let ready = server
            .log
            .wait_count(workers, |l| l.contains("Worker ready (pid: "))
            .unwrap_or_else(|e| panic!("server did not report {workers} ready worker(s): {e}"));
        server.worker_pids = ready.iter().filter_map(|l| parse_worker_pid(l)).collect();
    }
}

impl Builder {
    /// Runs a command that must end on its own and collects its output.
    pub fn run(self) -> Finished {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn rsgi-server");
        let mut out = Log::new(child.stdout.take().unwrap());
        let mut err = Log::new(child.stderr.take().unwrap());
        let status = wait_child_group(&mut child);
        let _ = out.read_to_eof();
        let _ = err.read_to_eof();
        Finished {
            status,
            stdout: out.text(),
            stderr: err.text(),
        }
    }
}

/// Like [`wait_child`] but kills the child's whole process group at the deadline.
fn wait_child_group(child: &mut Child) -> ExitStatus {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = signal::killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "rsgi-server {} did not exit before the safety deadline",
                child.id()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `... Listening at: http://127.0.0.1:8000 (...)` → `http://127.0.0.1:8000`.
pub fn parse_listen_url(line: &str) -> Option<String> {
    let rest = &line[line.find("Listening at: ")? + "Listening at: ".len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// `... Worker ready (pid: 1234)` → 1234.
pub fn parse_worker_pid(line: &str) -> Option<i32> {
    let rest = &line[line.find("Worker ready (pid: ")? + "Worker ready (pid: ".len()..];
    rest.split(')').next()?.trim().parse().ok()
}

/// A running server; killed (with its workers) on drop. Its stderr is printed when the
/// test is failing, to make the failure readable.
pub struct Server {
    pub child: Child,
    pub log: Log,
    pub stdout: Log,
    /// `Listening at:` URLs in bind order.
    pub urls: Vec<String>,
    /// The pids from the start-up `Worker ready` lines.
    pub worker_pids: Vec<i32>,
    reaped: Option<ExitStatus>,
}

impl Server {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The first TCP listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.tcp_addrs()
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no TCP listener in {:?}", self.urls))
    }

    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.urls
            .iter()
            .filter_map(|u| {
                u.strip_prefix("http://")
                    .or_else(|| u.strip_prefix("https://"))
            })
            .map(|hp| hp.trim_end_matches('/').parse().expect("socket addr"))
            .collect()
    }

    /// The first Unix listener's path.
    pub fn unix_path(&self) -> PathBuf {
        self.urls
            .iter()
            .find_map(|u| u.strip_prefix("unix:"))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no unix listener in {:?}", self.urls))
    }

    pub fn worker_pid(&self) -> i32 {
        self.worker_pids[0]
    }

    /// A new connection to the first TCP listener.
    pub fn conn(&self) -> Conn {
        Conn::tcp(self.addr())
    }

    /// One request on a fresh connection (`Connection: close`); the whole response.
    pub fn get(&self, target: &str) -> Response {
        let mut c = self.conn();
        c.send(&request("GET", target, &[("Connection", "close")], b""));
        c.read_response()
    }

    pub fn post(&self, target: &str, body: &[u8]) -> Response {
        let mut c = self.conn();
        c.send(&request("POST", target, &[("Connection", "close")], body));
        c.read_response()
    }

    pub fn signal(&self, sig: Signal) {
        signal::kill(Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// Waits for exit (after a signal was sent) and for stderr to close; returns the
    /// status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let status = match self.reaped {
            Some(s) => s,
            None => {
                let s = wait_child(&mut self.child);
                self.reaped = Some(s);
                s
            }
        };
        // Workers share stderr: EOF also means they are all gone.
        if let Err(e) = self.log.read_to_eof() {
            panic!("after the master exited: {e}");
        }
        status
    }

    /// SIGTERM, then wait for exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait_exit()
    }

    /// Waits for a stderr line containing `needle` (anywhere in the log so far).
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        self.log
            .wait_count(1, |l| l.contains(needle))
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"))
            .remove(0)
    }

    /// Waits until `n` stderr lines contain `needle`.
    pub fn wait_for_lines(&mut self, needle: &str, n: usize) -> Vec<String> {
        self.log
            .wait_count(n, |l| l.contains(needle))
            .unwrap_or_else(|e| panic!("waiting for {n} x {needle:?}: {e}"))
    }

    /// Pids of every `Worker ready` line so far.
    pub fn ready_pids(&mut self) -> Vec<i32> {
        self.log
            .lines()
            .iter()
            .filter_map(|l| parse_worker_pid(l))
            .collect()
    }

    pub fn stderr_text(&mut self) -> String {
        self.log.text()
    }

    /// Whether process `pid` exists and is not a zombie (an exited child of a master
    /// that died is not reaped in every container, so kill(pid, 0) is not enough).
    pub fn is_alive(pid: i32) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // "pid (comm) S ...": the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            let _ = signal::killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
            let _ = self.child.wait();
        }
        for pid in &self.worker_pids {
            let _ = signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        if thread::panicking() {
            self.log.drain();
            eprintln!(
                "--- rsgi-server stderr (pid {}) ---\n{}\n--- end ---",
                self.pid(),
                self.log.lines.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Process inspection
// ---------------------------------------------------------------------------------------

/// A field of /proc/PID/status in KiB (VmRSS, VmHWM, ...).
pub fn proc_status_kib(pid: i32, field: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            return rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .expect("kB value");
        }
    }
    panic!("{field} not in /proc/{pid}/status");
}

pub fn kill(pid: i32, sig: Signal) {
    signal::kill(Pid::from_raw(pid), sig).expect("kill");
}

// ---------------------------------------------------------------------------------------
// Raw-socket HTTP client
// ---------------------------------------------------------------------------------------

/// A client socket, TCP or Unix.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Builds a request with `Host: localhost` first (unless the caller gives one), the given
/// headers, and a Content-Length when there is a body and no Transfer-Encoding.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        out.extend_from_slice(b"Host: localhost\r\n");
    }
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !body.is_empty() && !has("content-length") && !has("transfer-encoding") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A GET request with only a Host header.
pub fn get_req(target: &str) -> Vec<u8> {
    request("GET", target, &[], b"")
}

/// Encodes `body` as chunks of at most `size` bytes, with an optional trailer section.
pub fn chunked(body: &[u8], size: usize, trailers: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailers.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// How the response body was delimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body by rule (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Read until the server closed the connection.
    Close,
}

/// A response status line and headers.
#[derive(Clone, Debug)]
pub struct Head {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The bytes of the head exactly as received.
    pub raw: String,
}

impl Head {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn framing(&self, head_request: bool) -> Framing {
        if head_request
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304
        {
            return Framing::None;
        }
        if let Some(te) = self.header("transfer-encoding") {
            if te.to_ascii_lowercase().trim().ends_with("chunked") {
                return Framing::Chunked;
            }
            return Framing::Close;
        }
        if let Some(cl) = self.header("content-length") {
            return Framing::Length(cl.trim().parse().expect("numeric Content-Length"));
        }
        Framing::Close
    }

    /// Whether the server said the connection stays open (per RFC 9112 §9.3).
    pub fn keeps_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if conn.contains("close") {
            return false;
        }
        self.version == "HTTP/1.1" || conn.contains("keep-alive")
    }
}

/// A whole response.
#[derive(Clone, Debug)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Json {
        Json::parse(&self.text()).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.text()))
    }

    /// The environ report of `pyapps/environ.py`.
    pub fn environ(&self) -> Environ {
        assert_eq!(self.status(), 200, "environ app failed: {}", self.text());
        Environ(self.json())
    }
}

/// What happened to a body read into a sink.
pub struct BodyInfo {
    pub length: u64,
    pub complete: bool,
    pub trailers: Vec<(String, String)>,
}

fn is_eofish(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// A client connection that can carry several requests.
pub struct Conn {
    reader: BufReader<Stream>,
}

impl Conn {
    pub fn tcp(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::with_capacity(256 * 1024, Stream::Tcp(s)),
        }
    }

    pub fn unix(path: &Path) -> Conn {
        let s =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        Conn {
            reader: BufReader::with_capacity(256 * 1024, Stream::Unix(s)),
        }
    }

    pub fn stream(&mut self) -> &mut Stream {
        self.reader.get_mut()
    }

    /// The client side's TCP port (panics on a Unix socket).
    pub fn local_port(&self) -> u16 {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.local_addr().unwrap().port(),
            Stream::Unix(_) => panic!("a Unix socket has no port"),
        }
    }

    pub fn try_clone_tcp(&self) -> TcpStream {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.try_clone().unwrap(),
            Stream::Unix(_) => panic!("not TCP"),
        }
    }

    /// Reads whatever bytes are available (through the buffer; 0 at EOF).
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("send request");
    }

    /// Sends, tolerating a server that already closed (it may answer and close early).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream().write_all(bytes)
    }

    /// Half-closes the sending side.
    pub fn shutdown_write(&mut self) {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write).unwrap(),
            Stream::Unix(s) => s.shutdown(Shutdown::Write).unwrap(),
        }
    }

    /// Reads a status line and headers. `UnexpectedEof` if the connection closed first.
    pub fn read_head(&mut self) -> io::Result<Head> {
        let mut raw = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a complete response head; got {:?}",
                        String::from_utf8_lossy(&raw)
                    ),
                ));
            }
            raw.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                break;
            }
        }
        // Latin-1, one char per byte, as HTTP field values are octets (RFC 9110 §5.5).
        let raw: String = raw.iter().map(|&b| char::from(b)).collect();
        let mut lines = raw.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status = parts.next().unwrap_or("").parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        for l in lines {
            if l.is_empty() {
                continue;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {l:?}"))
            })?;
            headers.push((k.to_string(), v.trim().to_string()));
        }
        Ok(Head {
            version,
            status,
            reason,
            headers,
            raw,
        })
    }

    /// Reads up to `n` body bytes into `sink`, counting them in `info`; an early EOF (or
    /// reset) marks the body incomplete instead of failing.
    fn read_counted(
        &mut self,
        n: u64,
        buf: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
        info: &mut BodyInfo,
    ) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            let want = buf.len().min(left as usize);
            match self.reader.read(&mut buf[..want]) {
                Ok(0) => {
                    info.complete = false;
                    break;
                }
                Ok(k) => {
                    sink(&buf[..k]);
                    info.length += k as u64;
                    left -= k as u64;
                }
                Err(e) if is_eofish(&e) => {
                    info.complete = false;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads the body `framing` describes into `sink`. An early EOF (or reset) is reported
    /// as `complete: false`, not an error.
    pub fn read_body(
        &mut self,
        framing: &Framing,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<BodyInfo> {
        let mut info = BodyInfo {
            length: 0,
            complete: true,
            trailers: Vec::new(),
        };
        let mut buf = vec![0u8; 256 * 1024];
        match framing {
            Framing::None => {}
            Framing::Length(n) => {
                self.read_counted(*n, &mut buf, sink, &mut info)?;
            }
            Framing::Close => loop {
                match self.reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        sink(&buf[..k]);
                        info.length += k as u64;
                    }
                    Err(e) if is_eofish(&e) => break,
                    Err(e) => return Err(e),
                }
            },
            Framing::Chunked => loop {
                let mut line = String::new();
                match self.reader.read_line(&mut line) {
                    Ok(0) => {
                        info.complete = false;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if is_eofish(&e) => {
                        info.complete = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
                if !line.ends_with("\r\n") {
                    info.complete = false;
                    break;
                }
                let size_text = line.trim_end().split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size line {line:?}"),
                    )
                })?;
                if size == 0 {
                    loop {
                        let mut t = String::new();
                        match self.reader.read_line(&mut t) {
                            Ok(0) => {
                                info.complete = false;
                                break;
                            }
                            Ok(_) => {}
                            Err(e) if is_eofish(&e) => {
                                info.complete = false;
                                break;
                            }
                            Err(e) => return Err(e),
                        }
                        if t == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = t.trim_end().split_once(':') {
                            info.trailers.push((k.to_string(), v.trim().to_string()));
                        }
                    }
                    break;
                }
                self.read_counted(size, &mut buf, sink, &mut info)?;
                if !info.complete {
                    break;
                }
                let mut crlf = [0u8; 2];
                match self.reader.read_exact(&mut crlf) {
                    Ok(()) if &crlf == b"\r\n" => {}
                    Ok(()) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("chunk not followed by CRLF: {crlf:?}"),
                        ));
                    }
                    Err(e) if is_eofish(&e) => {
                        info.complete = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            },
        }
        Ok(info)
    }

    /// Reads one response (for a request that was not HEAD).
    pub fn try_read_response(&mut self) -> io::Result<Response> {
        self.try_read_response_to(false)
    }

    pub fn try_read_response_to(&mut self, head_request: bool) -> io::Result<Response> {
        let head = self.read_head()?;
        let framing = head.framing(head_request);
        let mut body = Vec::new();
        let info = self.read_body(&framing, &mut |b| body.extend_from_slice(b))?;
        Ok(Response {
            head,
            body,
            framing,
            complete: info.complete,
            trailers: info.trailers,
        })
    }

    pub fn read_response(&mut self) -> Response {
        self.try_read_response().expect("read response")
    }

    /// Reads the response to a HEAD request (no body by rule).
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response_to(true).expect("read HEAD response")
    }

    /// Sends a request and reads its response.
    pub fn roundtrip(&mut self, req: &[u8]) -> Response {
        self.send(req);
        self.read_response()
    }

    /// True when the server has closed the connection: a read returns EOF (or a reset).
    /// Panics if more response bytes arrive instead.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 4096];
        match self.reader.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the connection to be closed, got {} more bytes: {:?}",
                n,
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if is_eofish(&e) => {}
            Err(e) => panic!("expected the connection to be closed, got error {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Data helpers
// ---------------------------------------------------------------------------------------

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (the zlib one, so Python's `zlib.crc32` agrees), continued from `crc`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Deterministic, position-dependent test data: block `k` of `block.len()` bytes.
pub fn pattern_block(k: u64, block: &mut [u8]) {
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// `n` bytes of pattern data.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for (k, block) in v.chunks_mut(4096).enumerate() {
        pattern_block(k as u64, block);
    }
    v
}

/// Percent-encodes a query value.
pub fn qs_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// A minimal JSON reader (the crate has no JSON dependency and tests may not add one)
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

static JSON_NULL: Json = Json::Null;

impl Json {
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(n) => Some(*n as i64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(v) => Some(v),
            _ => None,
        }
    }

    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(items) => items.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl std::ops::Index<&str> for Json {
    type Output = Json;
    fn index(&self, key: &str) -> &Json {
        self.get(key).unwrap_or(&JSON_NULL)
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(format!("expected {lit} at {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            None => Err("unexpected end".into()),
            Some(b'n') => self.eat("null").map(|_| Json::Null),
            Some(b't') => self.eat("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(items));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    let v = self.value()?;
                    items.push((k, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(items));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .unwrap()
                    .parse()
                    .map(Json::Num)
                    .map_err(|_| format!("bad number at {start}"))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = std::str::from_utf8(self.s.get(self.i..self.i + 4).ok_or("short \\u")?)
            .map_err(|_| "bad \\u")?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| "bad \\u".to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                _ => {
                    // Multi-byte UTF-8: copy the whole sequence.
                    let start = self.i - 1;
                    let len = match c {
                        0x00..=0x7F => 1,
                        0xC0..=0xDF => 2,
                        0xE0..=0xEF => 3,
                        _ => 4,
                    };
                    self.i = start + len;
                    out.push_str(
                        std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad utf-8")?,
                    );
                }
            }
        }
    }
}

/// The environ report from `pyapps/environ.py`.
pub struct Environ(pub Json);

impl Environ {
    fn entry(&self, key: &str) -> Option<&Json> {
        self.0["environ"].get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The JSON value of a key (missing keys panic with the list of keys).
    pub fn value(&self, key: &str) -> &Json {
        let e = self
            .entry(key)
            .unwrap_or_else(|| panic!("{key} not in environ; keys: {:?}", self.keys()));
        e.get("value")
            .unwrap_or_else(|| panic!("{key} has no JSON value: {:?}", e))
    }

    /// A str-valued key.
    pub fn str(&self, key: &str) -> &str {
        self.value(key)
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a str: {:?}", self.entry(key)))
    }

    pub fn type_of(&self, key: &str) -> &str {
        self.entry(key)
            .and_then(|e| e["type"].as_str())
            .unwrap_or_else(|| panic!("{key} not in environ; keys: {:?}", self.keys()))
    }

    pub fn repr(&self, key: &str) -> &str {
        self.entry(key)
            .and_then(|e| e["repr"].as_str())
            .unwrap_or_else(|| panic!("{key} not in environ"))
    }

    pub fn keys(&self) -> Vec<&str> {
        self.0["environ"].keys()
    }

    pub fn body_length(&self) -> i64 {
        self.0["body_length"].as_i64().unwrap()
    }

    pub fn body_crc32(&self) -> u32 {
        self.0["body_crc32"].as_i64().unwrap() as u32
    }

    pub fn pid(&self) -> i32 {
        self.0["pid"].as_i64().unwrap() as i32
    }
}

/// Distinct values, for "every worker served" style checks.
pub fn distinct<T: std::hash::Hash + Eq + Clone>(items: &[T]) -> HashSet<T> {
    items.iter().cloned().collect()
}

// ---------------------------------------------------------------------------------------
// Event-loop engine helpers (socket states, partial reads, worker file descriptors)
// ---------------------------------------------------------------------------------------

impl std::os::fd::AsFd for Stream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Conn {
    /// A TCP connection whose receive buffer is limited to `rcvbuf` bytes before the
    /// handshake (so the window stays small): a client that stops reading makes the
    /// server's writes stall after little data.
    pub fn tcp_small_rcvbuf(addr: SocketAddr, rcvbuf: usize) -> Conn {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, connect, setsockopt,
            socket, sockopt,
        };
        use std::os::fd::AsRawFd;
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        };
        let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).expect("socket");
        setsockopt(&fd, sockopt::RcvBuf, &rcvbuf).expect("SO_RCVBUF");
        let res = match addr {
            SocketAddr::V4(a) => connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
            SocketAddr::V6(a) => connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
        };
        res.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let s = TcpStream::from(fd);
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        // A small client-side buffer too, so "not reading" really means not reading.
        Conn {
            reader: BufReader::with_capacity(4096, Stream::Tcp(s)),
        }
    }

    /// Sets the socket read timeout (the safety net for reads that wait for the server).
    pub fn set_read_timeout(&self, d: Duration) {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.set_read_timeout(Some(d)).unwrap(),
            Stream::Unix(s) => s.set_read_timeout(Some(d)).unwrap(),
        }
    }

    /// Whether a read would return at once: response bytes are buffered or pending, or
    /// the server closed (EOF or reset). False means the server has sent nothing yet.
    pub fn readable_now(&mut self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.reader.get_ref();
        let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).expect("poll") > 0
    }

    /// Reads everything until the server closes the connection (EOF or reset). An error
    /// (the socket read timeout, i.e. the safety deadline) means the server never closed.
    pub fn read_until_closed(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if is_eofish(&e) => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "the server did not close the connection ({e}); got so far: {:?}",
                            String::from_utf8_lossy(&out[..out.len().min(400)])
                        ),
                    ));
                }
            }
        }
    }

    /// Reads one chunk of a chunked body (after [`Conn::read_head`]); `None` for the last
    /// chunk (its trailer section is consumed too).
    pub fn read_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a chunk-size line",
            ));
        }
        let size_text = line.trim_end().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size line {line:?}"),
            )
        })?;
        if size == 0 {
            loop {
                let mut t = String::new();
                if self.reader.read_line(&mut t)? == 0 || t == "\r\n" {
                    return Ok(None);
                }
            }
        }
        let mut data = vec![0u8; size + 2];
        self.reader.read_exact(&mut data)?;
        if &data[size..] != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk not followed by CRLF",
            ));
        }
        data.truncate(size);
        Ok(Some(data))
    }

    /// Reads chunks (after [`Conn::read_head`]) until at least `n` body bytes arrived;
    /// fails if the body ends first.
    pub fn read_chunked_bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.read_chunk()? {
                Some(c) => out.extend_from_slice(&c),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("chunked body ended after {} of {n} bytes", out.len()),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Where the file descriptors of process `pid` point (`/proc/PID/fd/*` link targets). A
/// file that was unlinked while open ends in ` (deleted)`.
pub fn fd_links(pid: i32) -> Vec<String> {
    let dir = format!("/proc/{pid}/fd");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir}: {e}"));
    entries
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

/// Open files of `pid` that live in `dir` and were unlinked.
pub fn deleted_files_in(pid: i32, dir: &Path) -> Vec<String> {
    let dir = fs::canonicalize(dir).expect("canonicalize");
    let prefix = format!("{}/", dir.display());
    fd_links(pid)
        .into_iter()
        .filter(|l| l.starts_with(&prefix) && l.ends_with(" (deleted)"))
        .collect()
}

/// Polls `cond` (every 10 ms) until it holds; panics at the safety deadline. For states
/// that are observable but announce themselves nowhere (a file appearing, an fd closing).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !cond() {
        if Instant::now() > until {
            panic!("still waiting for {what} at the safety deadline");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A file a gated app (`?until=<path>`) waits for; `open_gate_file` lets it go on.
pub fn gate_path(dir: &TempDir, id: &str) -> PathBuf {
    dir.join(&format!("gate-{id}"))
}

/// `until=<escaped gate path>` for a query string.
pub fn gate_param(dir: &TempDir, id: &str) -> String {
    format!("until={}", qs_escape(gate_path(dir, id).to_str().unwrap()))
}

pub fn open_gate_file(dir: &TempDir, id: &str) {
    fs::write(gate_path(dir, id), b"").unwrap();
}

/// Kills a process the test did not stop itself (a daemon or a new master is not our child,
/// and a failed assertion would leave it running) when dropped, with its process group
/// (a daemon leads its own, workers included).
pub struct Reap(pub i32);

impl Drop for Reap {
    fn drop(&mut self) {
        if Server::is_alive(self.0) {
            use nix::sys::signal::{Signal, kill};
            use nix::unistd::Pid;
            let _ = kill(Pid::from_raw(-self.0), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}
