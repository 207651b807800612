//! `--pid FILE`: written by the master, replaced if stale, refused if live, removed at exit
//! only while it still names the master.

use crate::support::*;
use std::fs;

#[test]
fn pid_file_names_the_master_and_is_removed_at_exit() {
    let dir = TempDir::new();
    let pidfile = dir.join("run/app.pid");
    fs::create_dir(dir.join("run")).expect("mkdir");
    let mut srv = server("hello").arg("--pid").arg(&pidfile).start();
    assert_eq!(
        fs::read_to_string(&pidfile).expect("pid file"),
        format!("{}\n", srv.pid())
    );
    // Written atomically: no temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(dir.join("run"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec!["app.pid"]);
    assert!(srv.terminate().success());
    assert!(!pidfile.exists());
}

#[test]
fn stale_pid_file_is_replaced() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    // A process that has exited: its pid is stale.
    let mut gone = std::process::Command::new("true").spawn().expect("spawn");
    let dead = gone.id();
    gone.wait().expect("wait");
    fs::write(&pidfile, format!("{dead}\n")).expect("write");
    let mut srv = server("hello").arg("--pid").arg(&pidfile).start();
    assert_eq!(
        fs::read_to_string(&pidfile).expect("pid file"),
        format!("{}\n", srv.pid())
    );
    assert!(srv.terminate().success());
}

#[test]
fn live_pid_file_is_an_error_naming_the_option() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    // This test process is alive.
    let live = format!("{}\n", std::process::id());
    fs::write(&pidfile, &live).expect("write");
    let out = server("hello").arg("--pid").arg(&pidfile).run();
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("--pid"), "{out:?}");
    assert!(
        out.stderr.contains(&std::process::id().to_string()),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("Listening at"),
        "nothing is bound: {out:?}"
    );
    assert_eq!(fs::read_to_string(&pidfile).expect("kept"), live);
}

#[test]
fn pid_file_replaced_by_another_process_is_left_alone() {
    let dir = TempDir::new();
    let pidfile = dir.join("app.pid");
    let mut srv = server("hello").arg("--pid").arg(&pidfile).start();
    // Someone else (a newer server) took the file over: ours to keep hands off.
    fs::write(&pidfile, "1\n").expect("write");
    assert!(srv.terminate().success());
    assert_eq!(fs::read_to_string(&pidfile).expect("kept"), "1\n");
}
