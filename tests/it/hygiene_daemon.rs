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
