//! Starting the server under test: a [`Builder`] for its command line, a running
//! [`Server`] (killed with its workers on drop), or a [`Finished`] run.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::logs::Log;
use super::{Conn, DEADLINE, Response, pyapps, request, server_bin};

/// Removes the test runner's own RSGI_*, VIRTUAL_ENV and PYTHON* variables from `cmd`:
/// the environment the tests run in must not configure the server under test.
pub fn without_runner_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        let ks = k.to_string_lossy();
        if ks.starts_with("RSGI_") || ks == "VIRTUAL_ENV" || ks.starts_with("PYTHON") {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// What every server under test runs with: no bytecode files in `pyapps/`, and the app's
/// output unbuffered so a test sees it when it is printed.
pub const PYTHON_ENV: [(&str, &str); 2] =
    [("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUNBUFFERED", "1")];

/// Waits for a child with a safety deadline (polling `try_wait`; the deadline is not a
/// timing assertion); at the deadline the child is killed and the test fails.
pub fn wait_child(child: &mut Child) -> ExitStatus {
    wait_or_kill(child, "process", |child| {
        let _ = child.kill();
    })
}

/// Like [`wait_child`] but kills the child's whole process group at the deadline.
fn wait_child_group(child: &mut Child) -> ExitStatus {
    wait_or_kill(child, "rsgi-server", |child| {
        let _ = signal::killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    })
}

fn wait_or_kill(child: &mut Child, what: &str, kill: impl FnOnce(&mut Child)) -> ExitStatus {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > until {
            kill(child);
            let _ = child.wait();
            panic!(
                "{what} {} did not exit before the safety deadline",
                child.id()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The outcome of a run that is expected to end on its own (`--version`, bad config, ...).
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The exit code (`None` when a signal ended it).
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
    program: Option<(PathBuf, Vec<OsString>)>,
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
        program: None,
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
    /// Adds one command-line argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// Adds command-line arguments.
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

    /// Leaves out the default `-b 127.0.0.1:0` (binds come from elsewhere).
    pub fn no_default_bind(mut self) -> Self {
        self.default_bind = false;
        self
    }

    /// Leaves out the default `--chdir pyapps`.
    pub fn no_chdir(mut self) -> Self {
        self.chdir_pyapps = false;
        self
    }

    /// Sets an environment variable for the server.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// Removes an environment variable from the server's environment.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(k.as_ref().to_owned());
        self
    }

    /// Sets the server's working directory.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Runs this server command instead of [`server_bin`] (e.g. a virtualenv's
    /// `rsgi-server`).
    pub fn program(self, path: impl AsRef<Path>) -> Self {
        self.program_with(path, [""; 0])
    }

    /// Runs `path args...` as the server command (e.g. a venv's `python -m rsgi_server`);
    /// the server's own arguments follow.
    pub fn program_with<I, S>(mut self, path: impl AsRef<Path>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.program = Some((path.as_ref().to_owned(), args));
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
        let (program, program_args) = self
            .program
            .clone()
            .unwrap_or_else(|| (server_bin(), Vec::new()));
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, args)) => {
                let mut cmd = Command::new(prog);
                cmd.args(args).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.args(program_args);
        without_runner_env(&mut cmd).envs(PYTHON_ENV);
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
    /// The master's pid (the wrapper's, when there is one).
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

    /// Every TCP listener's address, in bind order.
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

    /// The first worker ready at start.
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

    /// One POST of `body` on a fresh connection (`Connection: close`); the whole response.
    pub fn post(&self, target: &str, body: &[u8]) -> Response {
        let mut c = self.conn();
        c.send(&request("POST", target, &[("Connection", "close")], body));
        c.read_response()
    }

    /// Sends `sig` to the master.
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

    /// Keeps the worker busy in the app: sends `/gate?GATE` (served by the `cases.stuck`
    /// and `cases.sized` apps, which print `gated` and wait until the file `gate` exists)
    /// on a new connection, and returns it once the app has said so.
    pub fn busy_until(&mut self, gate: &Path) -> Conn {
        let mut busy = self.conn();
        let target = format!("/gate?{}", gate.display());
        busy.send(&request("GET", &target, &[], b""));
        self.wait_for_line("gated");
        busy
    }

    /// Waits until `n` stderr lines contain `needle`.
    pub fn wait_for_lines(&mut self, needle: &str, n: usize) -> Vec<String> {
        self.log
            .wait_count(n, |l| l.contains(needle))
            .unwrap_or_else(|e| panic!("waiting for {n} x {needle:?}: {e}"))
    }

    /// After the worker `stuck` was held past `--timeout` by the request on `c`: a new
    /// worker replaces it, `c` gets an error response or none, and the server serves again.
    pub fn expect_stuck_worker_replaced(&mut self, stuck: i32, c: &mut Conn) {
        // The safety deadline is shorter here: a timeout of seconds that has not fired
        // after 30 s has not been implemented.
        let ready = self
            .log
            .wait_count_within(
                2,
                |l| l.contains("Worker ready (pid: "),
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("the stuck worker was not replaced: {e}"));
        assert_ne!(parse_worker_pid(&ready[1]).unwrap(), stuck);
        assert!(
            c.try_read_response()
                .map(|r| r.status() >= 500)
                .unwrap_or(true)
        );
        let resp = self.get("/?id=fresh&seconds=0");
        assert_eq!(resp.status(), 200);
    }

    /// Pids of every `Worker ready` line so far.
    pub fn ready_pids(&mut self) -> Vec<i32> {
        self.log
            .lines()
            .iter()
            .filter_map(|l| parse_worker_pid(l))
            .collect()
    }

    /// Everything on stderr so far.
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
            eprintln!(
                "--- rsgi-server stderr (pid {}) ---\n{}\n--- end ---",
                self.pid(),
                self.log.text()
            );
        }
    }
}

/// Runs `b` with `--print-config`, which must succeed, and reads what it prints as TOML.
pub fn print_config(b: Builder) -> toml::Table {
    let run = b.arg("--print-config").run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    run.stdout
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("--print-config is not TOML ({e}): {run:?}"))
}
