//! Workers never outlive their master, and a master running as PID 1 (a container's init)
//! reaps orphans and answers TERM.

use crate::support::hygiene::*;
use crate::support::*;
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;

#[test]
fn workers_exit_when_the_master_is_killed() {
    let mut srv = server("hello").workers(3).start();
    let workers = srv.worker_pids.clone();
    kill(srv.pid(), Signal::SIGKILL);
    srv.wait_exit();
    for pid in workers {
        wait_until(&format!("worker {pid} is gone"), || !Server::is_alive(pid));
    }
}

#[test]
fn as_pid_1_the_master_reaps_orphans_and_stops_on_term() {
    if !is_root() {
        eprintln!("skipping: a PID namespace needs root");
        return;
    }
    let dir = TempDir::new();
    let sock_path = dir.join("orphan.sock");
    let orphans = UnixListener::bind(&sock_path).expect("bind");
    let mut srv = server("cases.hygiene")
        .wrapper("unshare", ["--pid", "--fork", "--mount-proc"])
        .workers(2)
        .start();
    // unshare forks; its child is the master, PID 1 in the new namespace.
    let master = children_of(srv.pid())[0];
    assert!(cmdline(master).starts_with("rsgi-server: master"));
    assert_eq!(
        status_field(master, "NSpid")
            .as_deref()
            .and_then(|s| s.split_whitespace().last()),
        Some("1")
    );
    let target = format!(
        "/doublefork?sock={}",
        crate::support::qs_escape(&sock_path.display().to_string())
    );
    let reply = get_json(srv.addr(), &target);
    assert_eq!(reply.get("forked").and_then(|v| v.as_bool()), Some(true));
    // The grandchild connects; its pid (in our namespace) comes with the connection.
    let (conn, _) = orphans.accept().expect("accept");
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line).expect("read");
    assert_eq!(line, "orphan\n");
    let orphan = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
        .expect("SO_PEERCRED")
        .pid();
    // Its parent exited at once, so it was re-parented to PID 1: the master.
    wait_until("the orphan is re-parented to the master", || {
        status_field(orphan, "PPid").and_then(|p| p.parse().ok()) == Some(master)
    });
    // Let it exit; as its new parent the master must reap it (no zombie is left).
    drop(conn);
    wait_until(&format!("orphan {orphan} is reaped"), || !exists(orphan));
    // PID 1 ignores signals it has no handler for; the master has one for TERM.
    kill(master, Signal::SIGTERM);
    srv.wait_for_line("Shutting down");
    assert!(srv.wait_exit().success());
}
