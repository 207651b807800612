//! USR2 binary upgrade under continuous load: a new master inherits the listening sockets,
//! the pid file moves to `.oldbin`, the old master drains on TERM (or stops only its
//! workers on WINCH), and if the new master dies the old one takes over again. No request
//! fails at any step.

use crate::support::*;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Requests in a loop from another thread; records failures and which master's workers
/// answered (the app reports its ppid).
struct Load {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<Stats>>,
    thread: Option<thread::JoinHandle<()>>,
}

#[derive(Default, Debug)]
struct Stats {
    ok: u64,
    failures: Vec<String>,
    by_master: BTreeMap<i64, u64>,
}

/// An upper bound so the loop cannot run away if a test forgets to stop it.
const MAX_REQUESTS: u64 = 200_000;

fn one_request(addr: SocketAddr) -> Result<i64, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    if !text.starts_with("HTTP/1.1 200 ") {
        return Err(format!("bad response: {text:?}"));
    }
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|j| j.get("ppid").and_then(|p| p.as_i64()))
        .ok_or_else(|| format!("bad body: {body:?}"))
}

impl Load {
    fn start(addr: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(Stats::default()));
        let (s, st) = (stop.clone(), stats.clone());
        let thread = thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::SeqCst) && n < MAX_REQUESTS {
                n += 1;
                let result = one_request(addr);
                let mut st = st.lock().unwrap();
                match result {
                    Ok(ppid) => {
                        st.ok += 1;
                        *st.by_master.entry(ppid).or_default() += 1;
                    }
                    Err(e) => st.failures.push(e),
                }
            }
        });
        Load {
            stop,
            stats,
            thread: Some(thread),
        }
    }

    /// Waits until `n` more requests have been answered by `master`'s workers.
    fn wait_served_by(&self, master: i32, n: u64) {
        let base = self.served_by(master);
        wait_until(&format!("{n} requests served by master {master}"), || {
            self.served_by(master) >= base + n
        });
    }

    fn served_by(&self, master: i32) -> u64 {
        let st = self.stats.lock().unwrap();
        assert!(st.failures.is_empty(), "failed requests: {:?}", st.failures);
        st.by_master.get(&i64::from(master)).copied().unwrap_or(0)
    }

    fn finish(mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("load thread");
        std::mem::take(&mut *self.stats.lock().unwrap())
    }
}

fn new_master_pid(srv: &mut Server) -> i32 {
    let line = srv.wait_for_line("started a new master (pid: ");
    let rest = &line[line.find("(pid: ").unwrap() + 6..];
    rest.split(')').next().unwrap().parse().expect("pid")
}

#[test]
fn usr2_then_term_under_load_drops_nothing() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    let oldbin = dir.join("app.pid.oldbin");
    let sock = dir.join("app.sock");
    let notify_path = dir.join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify socket");
    let mut srv = server("cases.hygiene")
        .bind("127.0.0.1:0")
        .bind(format!("unix:{}", sock.display()))
        .workers(2)
        .arg("--pid")
        .arg(&pidfile)
        .env("NOTIFY_SOCKET", &notify_path)
        .start();
    let old = srv.pid();
    let load = Load::start(srv.addr());
    load.wait_served_by(old, 20);

    srv.signal(Signal::SIGUSR2);
    let new = new_master_pid(&mut srv);
    let _reap = Reap(new);
    // Two more workers: the new master's.
    srv.wait_for_lines("Worker ready (pid: ", 4);
    wait_until("the new master writes the pid file", || {
        read_pid(&pidfile) == Some(new)
    });
    assert_eq!(read_pid(&oldbin), Some(old));
    assert!(cmdline(new).starts_with("rsgi-server: master"));
    // Both generations serve the same sockets, and the Unix one through the new master too.
    load.wait_served_by(old, 20);
    let over_unix = get_json_unix(&sock, "/");
    assert!(over_unix.get("ppid").is_some());

    srv.signal(Signal::SIGTERM);
    // Not wait_exit: the new master still holds the shared stderr open.
    assert!(crate::support::wait_child(&mut srv.child).success());
    assert!(
        !oldbin.exists(),
        "the old master removes its .oldbin pid file"
    );
    assert_eq!(read_pid(&pidfile), Some(new));
    assert!(
        sock.exists(),
        "the socket file now belongs to the new master"
    );
    load.wait_served_by(new, 50);
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{stats:?}");
    get_json_unix(&sock, "/");

    // systemd was told the service's main process is now the new master.
    notify.set_nonblocking(true).expect("nonblocking");
    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = notify.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let mainpid = messages.iter().position(|m| *m == format!("MAINPID={new}"));
    assert!(mainpid.is_some(), "{messages:?}");
    assert!(
        !messages[..mainpid.unwrap()]
            .iter()
            .any(|m| m.contains("STOPPING=1")),
        "the old master must not report the service stopping: {messages:?}"
    );

    // The new master stops like any other, removing its pid file and socket.
    kill(new, Signal::SIGTERM);
    wait_until("the new master exits", || !Server::is_alive(new));
    wait_until("its pid file is removed", || !pidfile.exists());
    assert!(!sock.exists());
}

#[test]
fn winch_stops_old_workers_and_the_old_master_takes_over_if_the_new_one_dies() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    let mut srv = server("cases.hygiene")
        .workers(2)
        .arg("--pid")
        .arg(&pidfile)
        .start();
    let old = srv.pid();
    let old_workers = srv.worker_pids.clone();
    let load = Load::start(srv.addr());
    load.wait_served_by(old, 10);
    srv.signal(Signal::SIGUSR2);
    let new = new_master_pid(&mut srv);
    let _reap = Reap(new);
    srv.wait_for_lines("Worker ready (pid: ", 4);
    // WINCH: the old workers drain and exit, the old master stays.
    srv.signal(Signal::SIGWINCH);
    for pid in &old_workers {
        srv.wait_for_line(&format!("Worker exiting (pid: {pid})"));
    }
    assert!(Server::is_alive(old));
    load.wait_served_by(new, 20);
    // The new binary turns out bad: it dies. The old master resumes with new workers and
    // takes its pid file back.
    kill(new, Signal::SIGKILL);
    srv.wait_for_line(&format!("the new master (pid: {new}) exited"));
    srv.wait_for_lines("Worker ready (pid: ", 6);
    load.wait_served_by(old, 20);
    assert_eq!(read_pid(&pidfile), Some(old));
    assert!(!dir.join("app.pid.oldbin").exists());
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{stats:?}");
    assert!(srv.terminate().success());
}

#[test]
fn a_new_master_that_cannot_start_leaves_the_old_one_serving() {
    let dir = TempDir::new();
    let config = dir.write("rsgi.toml", "workers = 1\n");
    let pidfile = dir.join("app.pid");
    let mut srv = server("cases.hygiene")
        .arg("-c")
        .arg(&config)
        .arg("--pid")
        .arg(&pidfile)
        .start();
    // The configuration the new master will read is invalid: it exits with status 2.
    std::fs::write(&config, "workers = \"many\"\n").expect("write");
    srv.signal(Signal::SIGUSR2);
    let new = new_master_pid(&mut srv);
    srv.wait_for_line(&format!("the new master (pid: {new}) exited"));
    assert_eq!(read_pid(&pidfile), Some(srv.pid()));
    assert!(!dir.join("app.pid.oldbin").exists());
    let info = get_json(srv.addr(), "/");
    assert_eq!(
        info.get("ppid").and_then(|p| p.as_i64()),
        Some(srv.pid().into())
    );
    // Startup errors of the new master reach the same error log.
    assert!(
        srv.stderr_text().contains("workers"),
        "{}",
        srv.stderr_text()
    );
    assert!(srv.terminate().success());
}

fn log_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

// Regression: a --daemon master's USR2 child detached again, taken for dead,
// commit 96c3ae9 (issue 4)
/// A daemonized master's USR2 child must not daemonize again: it would exit at once (the
/// daemon lives on as a grandchild), the old master would take that for "the new master
/// died", take the pid file back, and remove it when it is stopped, leaving the new master
/// running with no pid file.
#[test]
fn usr2_of_a_daemon_hands_over_the_pid_file_to_the_new_master() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    let log = dir.join("error.log");
    let out = server("cases.hygiene")
        .args(["--daemon", "-w", "1", "--pid"])
        .arg(&pidfile)
        .arg("--error-logfile")
        .arg(&log)
        .run();
    assert_eq!(out.code(), Some(0), "{out:?}");
    let old = read_pid(&pidfile).expect("the daemon wrote its pid file");
    let _reap_old = Reap(old);
    let addr: SocketAddr = log_text(&log)
        .lines()
        .find_map(parse_listen_url)
        .expect("a Listening line")
        .trim_start_matches("http://")
        .parse()
        .expect("addr");

    kill(old, Signal::SIGUSR2);
    let mut new = 0;
    wait_until("the new master writes the pid file", || {
        new = read_pid(&pidfile).filter(|p| *p != old).unwrap_or(0);
        new != 0
    });
    let _reap_new = Reap(new);
    wait_until("the new master's workers are ready", || {
        log_text(&log).contains(&format!("[{new}] [INFO] All 1 workers ready"))
    });
    // Commit the upgrade: the old master drains and exits.
    kill(old, Signal::SIGTERM);
    wait_until("the old master exits", || !Server::is_alive(old));
    assert!(
        !log_text(&log).contains("this master carries on"),
        "the old master took the new one for dead:\n{}",
        log_text(&log)
    );
    assert_eq!(
        read_pid(&pidfile),
        Some(new),
        "the pid file names the new master:\n{}",
        log_text(&log)
    );
    assert!(Server::is_alive(new));
    let served_by = get_json(addr, "/").get("ppid").and_then(|p| p.as_i64());
    assert_eq!(served_by, Some(i64::from(new)));
    kill(new, Signal::SIGTERM);
    wait_until("the new master exits", || !Server::is_alive(new));
    wait_until("its pid file is removed", || !pidfile.exists());
}

// Regression: USR2 did not run the pre_exec hook, commit ba5740d (issue 4)
/// `pre_exec(server)` is documented as running before a USR2 upgrade execs the new binary.
#[test]
fn usr2_runs_the_pre_exec_hook() {
    let dir = TempDir::new();
    let record = dir.join("hooks.log");
    let hooks = dir.write(
        "hooks.py",
        "import os\n\
         def pre_exec(server):\n    \
             with open(os.environ['HOOKS_LOG'], 'a') as f:\n        \
                 f.write('pre_exec %d\\n' % server.pid)\n",
    );
    let mut srv = server("hello")
        .arg("--hooks")
        .arg(&hooks)
        .env("HOOKS_LOG", &record)
        .start();
    let old = srv.pid();
    srv.signal(Signal::SIGUSR2);
    let new = new_master_pid(&mut srv);
    let _reap = Reap(new);
    wait_until("pre_exec is recorded", || {
        log_text(&record).contains(&format!("pre_exec {old}"))
    });
    // Only once, and by the old master (the new one is a fresh process).
    assert_eq!(log_text(&record), format!("pre_exec {old}\n"));
    srv.signal(Signal::SIGTERM);
    assert!(crate::support::wait_child(&mut srv.child).success());
    kill(new, Signal::SIGTERM);
    wait_until("the new master exits", || !Server::is_alive(new));
}
