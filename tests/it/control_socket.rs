//! `--control-socket` and `rsgi-server ctl`: every command against a real server over its
//! real socket, with the real `ctl` command (and gunicorn's `gunicornc`, which speaks the
//! same protocol); who may use the socket; stale and live sockets; garbage on the socket.

use crate::support::hygiene::{is_root, python_for_everyone};
use crate::support::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

/// The outcome of one `rsgi-server ctl` run.
struct Ctl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ctl {
    /// The `--json` reply.
    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("ctl --json printed no JSON ({e}): {}", self.stdout))
    }
}

fn finished(out: std::process::Output) -> Ctl {
    Ctl {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `rsgi-server ctl --socket SOCKET ARGS...`.
fn ctl(socket: &Path, args: &[&str]) -> Ctl {
    let out = Command::new(server_bin())
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run rsgi-server ctl");
    finished(out)
}

/// `ctl` that must succeed.
fn ok(socket: &Path, args: &[&str]) -> Ctl {
    let run = ctl(socket, args);
    assert_eq!(
        run.code,
        Some(0),
        "ctl {args:?}: {}{}",
        run.stdout,
        run.stderr
    );
    run
}

/// A server of `app` with its control socket at `dir/ctl.sock`.
fn with_control(app: &str, dir: &TempDir) -> Builder {
    server(app)
        .arg("--control-socket")
        .arg(dir.join("ctl.sock"))
}

/// The workers' pids, from `ctl workers --json`.
fn worker_pids(socket: &Path) -> Vec<i64> {
    let reply = ok(socket, &["--json", "workers"]).json();
    reply["data"]["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["pid"].as_i64().expect("pid"))
        .collect()
}

#[test]
fn status_scale_workers_reload_and_reopen_logs() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("hello", &dir).workers(2).start();

    let status = ok(&sock, &["status"]);
    assert!(
        status.stdout.contains(&format!("master pid {}", srv.pid())),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("generation 1"), "{}", status.stdout);
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], 1);
    assert_eq!(json["data"]["pid"], srv.pid());
    assert_eq!(json["data"]["workers"]["target"], 2);
    assert_eq!(json["data"]["generation"], 1);
    assert_eq!(json["data"]["draining"], false);
    assert_eq!(
        json["data"]["listeners"][0]["address"],
        srv.urls[0].as_str()
    );

    // scale 3: one more worker, the same path as TTIN.
    let scaled = ok(&sock, &["scale", "3"]);
    assert!(scaled.stdout.contains("2 -> 3"), "{}", scaled.stdout);
    srv.wait_for_lines("Worker ready (pid: ", 3);
    let workers = ok(&sock, &["workers"]);
    let rows: Vec<&str> = workers.stdout.lines().collect();
    assert!(rows[0].starts_with("PID"), "{}", workers.stdout);
    assert_eq!(
        rows.iter().filter(|r| r.contains(" ready ")).count(),
        3,
        "{}",
        workers.stdout
    );
    let json = ok(&sock, &["--json", "workers"]).json();
    assert_eq!(json["data"]["count"], 3);
    for w in json["data"]["workers"].as_array().unwrap() {
        assert_eq!(w["state"], "ready", "{w}");
        assert_eq!(w["generation"], 1, "{w}");
        assert!(w["rss"].as_u64().unwrap() > 0, "{w}");
    }
    // Out of --workers' range: the command fails; not a number: a usage error.
    let zero = ctl(&sock, &["scale", "0"]);
    assert_eq!(zero.code, Some(1), "{}", zero.stderr);
    assert!(zero.stderr.contains("out of range"), "{}", zero.stderr);
    assert_eq!(ctl(&sock, &["scale", "many"]).code, Some(2));

    // reload: replies once the new generation started; --wait once it is ready.
    let reload = ok(&sock, &["reload"]);
    assert!(reload.stdout.contains("generation 2"), "{}", reload.stdout);
    let waited = ok(&sock, &["reload", "--wait"]);
    assert!(
        waited.stdout.contains("generation 3 is ready"),
        "{}",
        waited.stdout
    );
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["data"]["generation"], 3);

    ok(&sock, &["reopen-logs"]);
    srv.wait_for_line("Reopening the log files");
    let help = ok(&sock, &["help"]);
    assert!(help.stdout.contains("dump-stacks"), "{}", help.stdout);
    assert_eq!(srv.get("/").status(), 200);
    assert!(srv.terminate().success());
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[test]
fn dump_stacks_shows_a_stuck_request_and_kills_nothing() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("cases.stuck", &dir)
        .args(["--graceful-timeout", "1"])
        .workers(2)
        .start();
    let before = worker_pids(&sock);
    assert_eq!(before.len(), 2);
    // A request spinning in pure Python, holding the GIL.
    let mut c = srv.conn();
    c.send(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n");
    srv.wait_for_line("stuck /spin");

    let workers = ok(&sock, &["--json", "workers"]).json();
    let busy: Vec<&Json> = workers["data"]["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "busy")
        .collect();
    assert_eq!(busy.len(), 1, "{workers}");
    assert_eq!(busy[0]["request"]["line"], "GET /spin", "{workers}");
    let stuck_pid = busy[0]["pid"].as_i64().unwrap();

    let dump = ok(&sock, &["dump-stacks"]);
    assert!(
        dump.stdout.contains("in rsgi_spin_forever"),
        "{}",
        dump.stdout
    );
    assert!(
        dump.stdout.contains(&format!("--- worker {stuck_pid} ")),
        "{}",
        dump.stdout
    );
    let json = ok(&sock, &["--json", "dump-stacks"]).json();
    let entries = json["data"]["workers"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{json}");
    for entry in entries {
        let stacks = entry["stacks"].as_str().expect("every worker answered");
        let stuck = entry["pid"].as_i64() == Some(stuck_pid);
        assert_eq!(stacks.contains("rsgi_spin_forever"), stuck, "{entry}");
    }
    // Nothing was killed or replaced: the same workers, the stuck one still busy.
    assert_eq!(worker_pids(&sock), before);
    assert!(
        srv.stderr_text().matches("Worker ready (pid: ").count() == 2,
        "no worker was replaced"
    );
    let again = ok(&sock, &["--json", "workers"]).json();
    assert!(
        again["data"]["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["pid"].as_i64() == Some(stuck_pid) && w["state"] == "busy"),
        "{again}"
    );
    srv.terminate();
}

#[test]
fn stop_ends_the_server_and_then_ctl_says_none_runs() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("hello", &dir).start();
    let stop = ok(&sock, &["stop"]);
    assert!(
        stop.stdout.contains("stopping (graceful)"),
        "{}",
        stop.stdout
    );
    let status = srv.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(
        srv.stderr_text()
            .contains("Stop asked on the control socket")
    );
    assert!(!sock.exists());
    let gone = ctl(&sock, &["status"]);
    assert_eq!(gone.code, Some(1));
    assert!(
        gone.stderr.contains("no control socket at"),
        "{}",
        gone.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new();
    let sock = dir.join("none.sock");
    for args in [&["frobnicate"][..], &["status", "now"], &["scale"], &[]] {
        let run = ctl(&sock, args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }
    let out = Command::new(server_bin())
        .args(["ctl", "status"])
        .env_remove("RSGI_CONTROL_SOCKET")
        .output()
        .expect("run ctl");
    let run = finished(out);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--socket"), "{}", run.stderr);
    // A path no Unix socket can have, and a mode that is not octal: configuration errors.
    let long = format!("/tmp/{}/ctl.sock", "x".repeat(120));
    let run = server("hello").args(["--control-socket", &long]).run();
    assert_eq!(run.code(), Some(2), "{}", run.all_output());
    assert!(
        run.all_output().contains("--control-socket"),
        "{}",
        run.all_output()
    );
    let run = server("hello")
        .args([
            "--control-socket",
            "/tmp/x.sock",
            "--control-socket-mode",
            "999",
        ])
        .run();
    assert_eq!(run.code(), Some(2), "{}", run.all_output());
    assert!(run.all_output().contains("--control-socket-mode"));
}

/// `setpriv` running `ctl` as nobody, with Python reachable (the binary links libpython).
fn ctl_as_nobody(socket: &Path, args: &[&str]) -> Ctl {
    let mut cmd = match python_for_everyone() {
        Some(wrap) => {
            let mut cmd = Command::new("unshare");
            cmd.args(wrap).arg("setpriv");
            cmd
        }
        None => Command::new("setpriv"),
    };
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(server_bin())
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args);
    finished(cmd.output().expect("run setpriv"))
}

#[test]
fn only_the_servers_user_may_use_the_socket() {
    if !is_root() {
        eprintln!("skipping: running a client as another user needs root");
        return;
    }
    let dir = TempDir::new();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let sock = dir.join("ctl.sock");
    // The default mode, whatever the umask: the file refuses anyone else.
    let mut srv = with_control("hello", &dir).args(["--umask", "0"]).start();
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let refused = ctl_as_nobody(&sock, &["status"]);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("permission denied"),
        "{}",
        refused.stderr
    );
    srv.terminate();

    // A mode that lets everyone connect: the peer's credentials still refuse them.
    let mut srv = with_control("hello", &dir)
        .args(["--control-socket-mode", "666"])
        .start();
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666);
    let refused = ctl_as_nobody(&sock, &["stop"]);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("only the server's user"),
        "{}",
        refused.stderr
    );
    srv.wait_for_line("refused a client running as uid 65534");
    // Still running, and its owner is served.
    assert_eq!(srv.get("/").status(), 200);
    ok(&sock, &["status"]);
    srv.terminate();
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    // A socket whose server has gone: the file is left, nobody accepts.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("bind"));
    assert!(sock.exists());
    let mut srv = with_control("hello", &dir).start();
    ok(&sock, &["status"]);
    // A second server on the same path refuses to start, and takes nothing from the first.
    let second = with_control("hello", &dir).run();
    assert_eq!(second.code(), Some(1), "{}", second.all_output());
    assert!(
        second
            .all_output()
            .contains("another server is using this control socket"),
        "{}",
        second.all_output()
    );
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["data"]["pid"], srv.pid());
    srv.terminate();
}

/// Reads one reply frame from a raw connection.
fn read_frame(stream: &mut UnixStream) -> Json {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("reply length");
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut payload).expect("reply");
    serde_json::from_slice(&payload).expect("JSON reply")
}

#[test]
fn garbage_and_silence_on_the_socket_do_not_disturb_the_master() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("hello", &dir).start();
    let timeout = Some(std::time::Duration::from_secs(10));
    // A client that connects and says nothing, held open throughout.
    let silent = UnixStream::connect(&sock).expect("connect");
    // HTTP on the control socket: a length far too large, refused and closed.
    let mut http = UnixStream::connect(&sock).expect("connect");
    http.set_read_timeout(timeout).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let reply = read_frame(&mut http);
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("too large"),
        "{reply}"
    );
    let mut rest = Vec::new();
    assert_eq!(http.read_to_end(&mut rest).expect("closed"), 0);
    // A well-framed message that is not JSON, then one with an unknown command.
    for payload in [
        &b"\xff\xfe not json"[..],
        br#"{"id": 5, "command": "explode"}"#,
    ] {
        let mut c = UnixStream::connect(&sock).expect("connect");
        c.set_read_timeout(timeout).unwrap();
        c.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
        c.write_all(payload).unwrap();
        let reply = read_frame(&mut c);
        assert_eq!(reply["status"], "error", "{reply}");
    }
    // A request cut short: the connection just ends.
    let mut cut = UnixStream::connect(&sock).expect("connect");
    cut.write_all(&[0, 0, 0, 50, b'{']).unwrap();
    drop(cut);
    // The master still answers on both sockets, the silent client notwithstanding.
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["data"]["workers"]["ready"], 1);
    assert_eq!(srv.get("/").status(), 200);
    drop(silent);
    assert!(srv.terminate().success());
}

#[test]
fn gunicornc_speaks_to_it() {
    let python = test_python();
    let probe = Command::new(&python)
        .args(["-c", "import gunicorn.ctl.cli"])
        .output()
        .expect("run python");
    if !probe.status.success() {
        eprintln!("skipping: this gunicorn has no gunicornc");
        return;
    }
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("hello", &dir).workers(2).start();
    let gunicornc = |command: &str| {
        let out = Command::new(&python)
            .args(["-m", "gunicorn.ctl.cli", "--socket"])
            .arg(&sock)
            .args(["--json", "--command", command])
            .output()
            .expect("run gunicornc");
        assert!(out.status.success(), "gunicornc {command}: {out:?}");
        serde_json::from_slice::<Json>(&out.stdout).expect("gunicornc --json")
    };
    let workers = gunicornc("show workers");
    assert_eq!(workers["count"], 2, "{workers}");
    let stats = gunicornc("show stats");
    assert_eq!(stats["pid"], srv.pid(), "{stats}");
    let added = gunicornc("worker add 1");
    assert_eq!(added["total"], 3, "{added}");
    srv.wait_for_lines("Worker ready (pid: ", 3);
    gunicornc("shutdown");
    assert_eq!(srv.wait_exit().code(), Some(0));
}

#[test]
fn after_a_usr2_upgrade_the_new_master_answers_and_keeps_the_socket() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let mut srv = with_control("hello", &dir).start();
    let old = srv.pid();
    srv.signal(nix::sys::signal::Signal::SIGUSR2);
    let line = srv.wait_for_line("started a new master (pid: ");
    let rest = &line[line.find("(pid: ").unwrap() + 6..];
    let new: i32 = rest.split(')').next().unwrap().parse().expect("pid");
    let _reap = Reap(new);
    // The new master took the path over (the old one's socket is no longer reachable).
    srv.wait_for_lines("Worker ready (pid: ", 2);
    wait_until("the new master answers on the control socket", || {
        ok(&sock, &["--json", "status"]).json()["data"]["pid"] == new
    });
    // The old master stops, and leaves the new master's socket file in place.
    srv.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(crate::support::wait_child(&mut srv.child).success());
    assert!(sock.exists(), "the socket file belongs to the new master");
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["data"]["pid"], new);
    assert_ne!(new, old);
    ok(&sock, &["stop"]);
    wait_until("the new master exits", || !Server::is_alive(new));
    assert!(!sock.exists());
}

#[test]
fn reload_wait_reports_a_generation_that_cannot_boot() {
    let dir = TempDir::new();
    let sock = dir.join("ctl.sock");
    let app = TempDir::new();
    app.write(
        "ctlapp.py",
        "def application(environ, start_response):\n    \
         start_response('200 OK', [])\n    return [b'ok']\n",
    );
    let mut srv = server("ctlapp")
        .no_chdir()
        .arg("--chdir")
        .arg(app.path())
        .arg("--control-socket")
        .arg(&sock)
        .start();
    app.write("ctlapp.py", "raise ImportError('broken on purpose')\n");
    let failed = ctl(&sock, &["reload", "--wait"]);
    assert_eq!(failed.code, Some(1), "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stderr.contains("generation 2 did not become ready"),
        "{}",
        failed.stderr
    );
    let json = ok(&sock, &["--json", "status"]).json();
    assert_eq!(json["data"]["generation"], 1);
    assert_eq!(srv.get("/").status(), 200);
    srv.terminate();
}
