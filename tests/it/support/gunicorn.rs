//! A real gunicorn (the project venv's, the reference server) serving an app on
//! 127.0.0.1:0, for tests that compare its answers with ours.

use super::logs::Log;
use super::server::{PYTHON_ENV, without_runner_env};
use super::{DEADLINE, test_python};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// A running gunicorn; stopped (its whole process group) on drop.
pub struct Gunicorn {
    child: Child,
    addr: SocketAddr,
    log: Log,
}

/// Whether gunicorn can be run here (the test Python has it).
pub fn available() -> bool {
    Command::new(test_python())
        .args(["-c", "import gunicorn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Gunicorn {
    /// `python -m gunicorn -w 1 -k sync APP` in `cwd`, with `env` added; waits until its
    /// worker booted. `args` go before the app.
    pub fn start<K, V>(app: &str, cwd: &Path, env: &[(K, V)], args: &[&str]) -> Gunicorn
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut cmd = Command::new(test_python());
        without_runner_env(&mut cmd).envs(PYTHON_ENV);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args([
            "-m",
            "gunicorn",
            "-w",
            "1",
            "-k",
            "sync",
            "-b",
            "127.0.0.1:0",
        ])
        // Its control socket would be shared by every gunicorn the tests run at once.
        .arg("--no-control-socket")
        .args(args)
        .arg(app)
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn gunicorn");
        let mut log = Log::new(child.stderr.take().expect("stderr"));
        let listening = log
            .wait_count(1, |l| l.contains("Listening at: http://"))
            .unwrap_or_else(|e| panic!("gunicorn did not listen: {e}"))
            .remove(0);
        let addr = listening
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {listening:?}"));
        log.wait_count(1, |l| l.contains("Booting worker with pid"))
            .unwrap_or_else(|e| panic!("gunicorn's worker did not boot: {e}"));
        let mut gunicorn = Gunicorn { child, addr, log };
        gunicorn.await_serving();
        gunicorn
    }

    /// The worker imports the app after it logs its boot: the first connection answered
    /// is the signal that it serves.
    fn await_serving(&mut self) {
        let until = Instant::now() + DEADLINE;
        loop {
            let mut c = super::Conn::tcp(self.addr);
            c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
            if c.read_head().is_ok() {
                return;
            }
            assert!(Instant::now() < until, "gunicorn never answered");
            self.log.drain();
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Gunicorn {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
