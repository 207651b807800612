//! `--user`, `--group`, `--umask`, `--initgroups`: privileges are dropped after binding and
//! before forking, so a server started as root listens on a privileged port while its
//! master and workers run as the configured user.

use crate::support::hygiene::*;
use crate::support::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

const NOBODY: u32 = 65534;

#[test]
fn root_binds_port_below_1024_then_runs_as_nobody() {
    if !is_root() {
        eprintln!("skipping: dropping privileges needs root");
        return;
    }
    let dir = TempDir::new();
    // The app (running as nobody) writes here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let sock = dir.join("app.sock");
    let port = free_privileged_port(900);
    let piddir = TempDir::new();
    let mut srv = with_python_for_everyone(
        server("cases.hygiene")
            .args(["--user", "nobody", "--umask", "027", "--pid"])
            .arg(piddir.join("app.pid"))
            .bind(format!("127.0.0.1:{port}"))
            .bind(format!("unix:{}", sock.display()))
            .workers(2),
    )
    .start();
    assert_eq!(srv.addr().port(), port);
    // The pid file was written as root, in a directory nobody cannot write to: said once.
    srv.wait_for_line("will be left behind at exit");
    for pid in srv.worker_pids.iter().copied().chain([srv.pid()]) {
        let ids = |f| status_field(pid, f).expect("status");
        assert_eq!(
            ids("Uid"),
            format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}"),
            "{pid}"
        );
        assert_eq!(
            ids("Gid"),
            format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}"),
            "{pid}"
        );
        // No group of root's survives the drop.
        assert_eq!(ids("Groups"), NOBODY.to_string(), "{pid}");
    }
    let info = get_json(srv.addr(), "/");
    assert_eq!(
        info.get("uid").and_then(|v| v.as_i64()),
        Some(NOBODY.into())
    );
    assert_eq!(
        info.get("egid").and_then(|v| v.as_i64()),
        Some(NOBODY.into())
    );
    // The Unix socket we created belongs to the user, and still serves.
    let meta = std::fs::metadata(&sock).expect("socket file");
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    let over_unix = get_json_unix(&sock, "/");
    assert_eq!(
        over_unix.get("euid").and_then(|v| v.as_i64()),
        Some(NOBODY.into())
    );
    // --umask 027: a file the app creates with 0666 ends up 0640.
    let touched = dir.join("created-by-app");
    let target = format!(
        "/touch?path={}",
        crate::support::qs_escape(&touched.display().to_string())
    );
    let mode = get_json(srv.addr(), &target);
    assert_eq!(mode.get("mode").and_then(|v| v.as_i64()), Some(0o640));
    assert_eq!(std::fs::metadata(&touched).expect("file").uid(), NOBODY);
    assert!(srv.terminate().success());
    assert!(
        !sock.exists(),
        "the socket file is removed at exit, as nobody"
    );
}

#[test]
fn group_alone_changes_only_the_group() {
    if !is_root() {
        eprintln!("skipping: changing groups needs root");
        return;
    }
    // --group alone changes only the group (and drops root's supplementary groups).
    let mut srv = server("cases.hygiene").args(["--group", "nogroup"]).start();
    assert_eq!(
        status_field(srv.worker_pid(), "Gid").expect("Gid"),
        format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}")
    );
    assert_eq!(
        status_field(srv.worker_pid(), "Groups").as_deref(),
        Some("65534")
    );
    assert_eq!(
        status_field(srv.worker_pid(), "Uid").expect("Uid"),
        "0\t0\t0\t0"
    );
    assert!(srv.terminate().success());
}

#[test]
fn unknown_user_or_group_is_a_config_error() {
    for (flag, value) in [
        ("--user", "no-such-user-rsgi"),
        ("--group", "no-such-group-rsgi"),
        ("--umask", "999"),
    ] {
        let out = server("hello").args([flag, value]).run();
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(value),
            "{flag}: {out:?}"
        );
        assert!(!out.stderr.contains("Listening at"), "{out:?}");
    }
}

/// Owners (uids) of the sockets listening on 127.0.0.1:`port`, from /proc/net/tcp.
fn listening_owners(port: u16) -> Vec<u32> {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .expect("/proc/net/tcp")
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f[1] == local && f[3] == "0A")
        .map(|f| f[7].parse().expect("uid"))
        .collect()
}

// Regression: --reuse-port with --user: every worker failed with EADDRINUSE,
// commit c797161 (issue 4)
#[test]
fn reuse_port_twins_work_for_workers_running_as_another_user() {
    if !is_root() {
        eprintln!("skipping: dropping privileges needs root");
        return;
    }
    // The kernel lets a socket join a port's SO_REUSEPORT group only if the same user
    // created it: the master creates its socket as --user, so the workers' twins fit.
    let mut srv = with_python_for_everyone(
        server("cases.hygiene")
            .args(["--user", "nobody", "--reuse-port"])
            .workers(2),
    )
    .start();
    assert_eq!(listening_owners(srv.addr().port()), vec![NOBODY; 3]);
    assert_eq!(
        get_json(srv.addr(), "/")
            .get("uid")
            .and_then(|v| v.as_i64()),
        Some(NOBODY.into())
    );
    assert!(srv.terminate().success());
    // Below 1024 the workers could not bind at all: they share the master's socket.
    let port = free_privileged_port(960);
    let mut srv = with_python_for_everyone(
        server("cases.hygiene")
            .args(["--user", "nobody", "--reuse-port"])
            .bind(format!("127.0.0.1:{port}"))
            .workers(2),
    )
    .start();
    srv.wait_for_line("they share one listening socket");
    assert_eq!(listening_owners(port), vec![0]);
    assert_eq!(
        get_json(srv.addr(), "/")
            .get("uid")
            .and_then(|v| v.as_i64()),
        Some(NOBODY.into())
    );
    assert!(srv.terminate().success());
}
