//! `--daemon`: the command returns 0 once the detached server is set up, the daemon writes
//! the pid file and serves, and TERM through the pid file stops it.

use crate::support::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::net::SocketAddr;

#[test]
fn daemon_detaches_serves_and_stops_through_its_pid_file() {
    let dir = TempDir::new();
    let pidfile = dir.join("daemon.pid");
    let out = server("cases.hygiene")
        .args(["--daemon", "-w", "2", "--pid"])
        .arg(&pidfile)
        .run();
    assert_eq!(out.code(), Some(0), "{out:?}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the daemon wrote its pid file before the command returned")
        .trim()
        .parse()
        .expect("a pid");
    let _reap = Reap(pid);
    assert!(Server::is_alive(pid));
    assert!(
        cmdline(pid).starts_with("rsgi-server: master"),
        "{}",
        cmdline(pid)
    );
    // Detached: a new session (whose leader already exited, so no terminal can be
    // reacquired), and not our child any more.
    let sid = nix::unistd::getsid(Some(Pid::from_raw(pid))).expect("sid");
    assert_ne!(sid, nix::unistd::getsid(None).expect("our sid"));
    assert_ne!(sid, Pid::from_raw(pid));
    assert_ne!(
        status_field(pid, "PPid").and_then(|p| p.parse::<u32>().ok()),
        Some(std::process::id())
    );
    // Startup lines reached the terminal (here, the pipe) before it let go.
    let url = out
        .stderr
        .lines()
        .find_map(parse_listen_url)
        .unwrap_or_else(|| panic!("no Listening line: {out:?}"));
    let addr: SocketAddr = url.trim_start_matches("http://").parse().expect("addr");
    let info = get_json(addr, "/");
    assert_eq!(
        status_field(
            info.get("pid").and_then(|p| p.as_i64()).expect("pid") as i32,
            "PPid"
        ),
        Some(pid.to_string())
    );
    // The daemon's stdio is /dev/null now.
    for fd in 0..3 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("fd");
        assert_eq!(link, std::path::Path::new("/dev/null"), "fd {fd}");
    }
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("TERM");
    wait_until("the daemon exits", || !Server::is_alive(pid));
    wait_until("its pid file is removed", || !pidfile.exists());
}

#[test]
fn daemon_startup_error_is_printed_and_fails_the_command() {
    let dir = TempDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let out = server("hello")
        .no_default_bind()
        .args(["--daemon", "--pid"])
        .arg(dir.join("d.pid"))
        .arg("-b")
        .arg(addr.to_string())
        .run();
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("cannot listen on"), "{out:?}");
    assert!(!dir.join("d.pid").exists());
}

/// `rsgi-server --daemon` serving `cases.hygiene` on the Unix socket `sock` with one
/// worker, both logs to `-`, its pid in `pidfile`; `extra` options before the app.
fn daemon_command(
    pidfile: &std::path::Path,
    sock: &std::path::Path,
    extra: &[&str],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(crate::support::server_bin());
    without_runner_env(&mut cmd)
        .arg("--chdir")
        .arg(crate::support::pyapps())
        .arg("-b")
        .arg(format!("unix:{}", sock.display()))
        .args(["--daemon", "-w", "1", "--access-logfile", "-", "--pid"])
        .arg(pidfile)
        .args(extra)
        .arg("cases.hygiene");
    cmd
}

// Regression: a daemon kept its caller's pipes open, so a caller reading them hung,
// commit 9b74d7d (issue 4)
/// `--daemon` must let go of the pipes it was started with once it is in the background
/// (as gunicorn does): a caller that reads the command's output to its end (`$(...)`,
/// `subprocess.run(capture_output=True)`, ssh, Ansible) would otherwise hang until the
/// server stops, because the error log `-` and the access log `-` kept writing there.
#[test]
fn a_daemon_lets_go_of_the_pipes_it_was_started_with() {
    use std::os::fd::AsFd;
    use std::process::Stdio;
    let dir = TempDir::new();
    let pidfile = dir.join("d.pid");
    let sock = dir.join("d.sock");
    let mut cmd = daemon_command(&pidfile, &sock, &[]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let status = crate::support::wait_child(&mut child);
    assert!(status.success(), "{status:?}");
    let pid = read_pid(&pidfile).expect("the daemon wrote its pid file");
    let _reap = Reap(pid);
    let pipes: Vec<String> = [
        child.stdout.as_ref().unwrap().as_fd(),
        child.stderr.as_ref().unwrap().as_fd(),
    ]
    .iter()
    .map(|fd| {
        format!(
            "pipe:[{}]",
            nix::sys::stat::fstat(*fd).expect("fstat").st_ino
        )
    })
    .collect();
    let worker = get_json_unix(&sock, "/")
        .get("pid")
        .and_then(|p| p.as_i64())
        .expect("worker pid") as i32;
    for process in [pid, worker] {
        for entry in std::fs::read_dir(format!("/proc/{process}/fd"))
            .expect("fds")
            .flatten()
        {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            let target = target.to_string_lossy();
            assert!(
                !pipes.iter().any(|p| *p == target),
                "process {process} still holds the caller's pipe as fd {:?}",
                entry.file_name()
            );
        }
    }
    crate::support::kill(pid, Signal::SIGTERM);
    wait_until("the daemon exits", || !Server::is_alive(pid));
}

// Regression: a daemon whose app failed to import exited 0 and printed nothing,
// commit ba2506e (issue 4)
/// `rsgi-server --daemon` with an app that does not import: the command fails and the
/// traceback reaches its caller (the guide: an app that fails to import prints its
/// traceback and the server exits with a clear message), instead of exit 0 and nothing.
#[test]
fn a_daemon_whose_app_fails_to_import_fails_the_command_with_the_traceback() {
    let dir = TempDir::new();
    let pidfile = dir.join("d.pid");
    let out = server("cases.broken_import")
        .args(["--daemon", "--pid"])
        .arg(&pidfile)
        .run();
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("rsgi-test-import-failure"), "{out:?}");
    assert!(out.stderr.contains("failed to load app"), "{out:?}");
    wait_until("the daemon removes its pid file", || !pidfile.exists());
}

/// `-R` (`--enable-stdio-inheritance`), as gunicorn's: a daemon whose standard output and
/// error were redirected to a file keeps writing there (the error log `-` and the access log
/// `-` too); stdin is /dev/null. Without it, gunicorn's daemon points them at /dev/null
/// even when they are a file.
#[test]
fn stdio_inheritance_keeps_redirected_streams_of_a_daemon() {
    use std::process::Stdio;
    for inherit in [true, false] {
        let dir = TempDir::new();
        let (pidfile, sock, out) = (dir.join("d.pid"), dir.join("d.sock"), dir.join("out.log"));
        let file = std::fs::File::create(&out).expect("out.log");
        let extra: &[&str] = if inherit { &["-R"] } else { &[] };
        let mut cmd = daemon_command(&pidfile, &sock, extra);
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let status = cmd.status().expect("run");
        assert!(status.success(), "{status:?}");
        let pid = read_pid(&pidfile).expect("the daemon wrote its pid file");
        let _reap = Reap(pid);
        let worker = get_json_unix(&sock, "/")
            .get("pid")
            .and_then(|p| p.as_i64())
            .expect("worker pid") as i32;
        for process in [pid, worker] {
            for fd in 1..3 {
                let target = std::fs::read_link(format!("/proc/{process}/fd/{fd}")).unwrap();
                let expected = if inherit {
                    out.clone()
                } else {
                    "/dev/null".into()
                };
                assert_eq!(target, expected, "-R {inherit}: process {process} fd {fd}");
            }
            let stdin = std::fs::read_link(format!("/proc/{process}/fd/0")).unwrap();
            assert_eq!(stdin, std::path::Path::new("/dev/null"));
        }
        crate::support::kill(pid, Signal::SIGTERM);
        wait_until("the daemon exits", || !Server::is_alive(pid));
        let written = std::fs::read_to_string(&out).unwrap();
        // The access line and the shutdown lines arrive only when the streams were kept.
        assert_eq!(
            written.contains("\"GET / HTTP/1.1\" 200"),
            inherit,
            "{written}"
        );
        assert_eq!(written.contains("Shutdown complete"), inherit, "{written}");
    }
}
