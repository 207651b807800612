//! Regression tests for bugs a review found where the issue-4 features meet: the binary
//! upgrade (USR2) with `--daemon` and with `--hooks`.

use crate::support::*;
use nix::sys::signal::Signal;
use std::net::SocketAddr;
use std::path::Path;

fn log_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

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
    let line = srv.wait_for_line("started a new master (pid: ");
    let rest = &line[line.find("(pid: ").unwrap() + 6..];
    let new: i32 = rest.split(')').next().unwrap().parse().expect("pid");
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

/// An app whose import starts a thread, preloaded: documented as a warning (the thread
/// will not exist in the workers), not as a master that dies at its first fork.
#[test]
fn preloading_an_app_that_starts_a_thread_warns_and_serves() {
    let dir = TempDir::new();
    dir.write(
        "threaded_import.py",
        "import threading, time\n\
         threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n\
         def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Length', '2')])\n    \
             return [b'ok']\n",
    );
    let mut srv = server("threaded_import:application")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .arg("--preload")
        .start();
    assert!(
        srv.stderr_text()
            .contains("importing in the master started 1 thread(s)"),
        "{}",
        srv.stderr_text()
    );
    assert_eq!(srv.get("/").text(), "ok");
    assert!(srv.terminate().success());
}

/// `--daemon` must let go of the pipes it was started with once it is in the background
/// (as gunicorn does): a caller that reads the command's output to its end (`$(...)`,
/// `subprocess.run(capture_output=True)`, ssh, Ansible) would otherwise hang until the
/// server stops, because the error log `-` and the access log `-` kept writing there.
#[test]
fn a_daemon_lets_go_of_the_pipes_it_was_started_with() {
    use std::os::fd::AsFd;
    use std::process::{Command, Stdio};
    let dir = TempDir::new();
    let pidfile = dir.join("d.pid");
    let sock = dir.join("d.sock");
    let mut cmd = Command::new(crate::support::server_bin());
    without_runner_env(&mut cmd)
        .arg("--chdir")
        .arg(crate::support::pyapps())
        .arg("-b")
        .arg(format!("unix:{}", sock.display()))
        .args(["--daemon", "-w", "1", "--access-logfile", "-", "--pid"])
        .arg(&pidfile)
        .arg("cases.hygiene")
        .stdin(Stdio::null())
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
    kill(pid, Signal::SIGTERM);
    wait_until("the daemon exits", || !Server::is_alive(pid));
}

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

/// Until the master's signal handlers exist, HUP and USR1 had their default action, which
/// ends the process: a `systemctl reload` or a logrotate `postrotate` during a slow
/// `--preload` import killed the server (leaving its pid file). They now wait for the
/// master to handle them.
#[test]
fn hup_and_usr1_during_a_slow_preload_wait_for_the_master() {
    let dir = TempDir::new();
    let started = dir.join("started");
    let go = dir.join("go");
    dir.write(
        "slow_import.py",
        "import os, time\n\
         open(os.environ['IMPORT_STARTED'], 'w').close()\n\
         while not os.path.exists(os.environ['IMPORT_GO']):\n    \
             time.sleep(0.01)\n\
         def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Length', '2')])\n    \
             return [b'ok']\n",
    );
    let mut srv = server("slow_import:application")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .arg("--preload")
        .env("IMPORT_STARTED", &started)
        .env("IMPORT_GO", &go)
        .spawn();
    wait_until("the preload import starts", || started.exists());
    srv.signal(Signal::SIGUSR1);
    srv.signal(Signal::SIGHUP);
    std::fs::write(&go, "").expect("write");
    srv.await_ready(1, 1);
    srv.wait_for_line("Handling signal: usr1");
    srv.wait_for_line("Handling signal: hup");
    assert_eq!(srv.get("/").text(), "ok");
    assert!(srv.terminate().success());
}
