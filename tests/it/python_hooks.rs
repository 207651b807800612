//! `--hooks`: gunicorn's server hooks from a `.py` file or a module, called in the right
//! process with gunicorn's arguments; an exception in one is logged and the server goes on;
//! the master runs Python only when a master-side hook is defined.

use crate::support::logs::lines;
use crate::support::*;
use nix::sys::signal::Signal;
use std::path::Path;

/// Hooks that append one line per call to `$HOOKS_LOG`; the module also records which
/// process imported it.
const RECORDING_HOOKS: &str = r#"
import os

def _w(*parts):
    with open(os.environ["HOOKS_LOG"], "a") as f:
        f.write(" ".join(str(p) for p in parts) + "\n")

_w("imported", os.getpid())

def on_starting(server):
    _w("on_starting", server.pid, server.cfg.workers, server.num_workers, server.cfg.timeout)

def pre_fork(server, worker):
    _w("pre_fork", server.pid, worker.age, worker.pid)

def post_fork(server, worker):
    _w("post_fork", server.pid, worker.pid, worker.ppid, worker.age)

def post_worker_init(worker):
    _w("post_worker_init", worker.pid, worker.booted)
    worker.log.info("post_worker_init says hello from %s", worker.pid)

def pre_request(worker, req):
    _w("pre_request", worker.pid, req.method, req.path, req.query, req.uri, req.version,
       dict(req.headers).get("X-TEST"))
    if req.path == "/raise":
        raise ValueError("pre_request failed on purpose")

def post_request(worker, req, environ, resp):
    _w("post_request", req.path, resp.status_code, resp.status.replace(" ", "_"), resp.sent,
       environ["PATH_INFO"], dict(resp.headers).get("Content-Type"))

def nworkers_changed(server, new_value, old_value):
    _w("nworkers_changed", new_value, old_value, server.num_workers)

def child_exit(server, worker):
    _w("child_exit", worker.pid)

def worker_exit(server, worker):
    _w("worker_exit", worker.pid, worker.alive)

def on_exit(server):
    _w("on_exit", server.pid)
"#;

fn wait_for_entry(path: &Path, prefix: &str) -> String {
    let mut found = None;
    wait_until(&format!("a {prefix:?} line in the hooks log"), || {
        found = lines(path).into_iter().find(|l| l.starts_with(prefix));
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn every_hook_runs_in_its_process_with_gunicorns_arguments() {
    let dir = TempDir::new();
    let log = dir.join("hooks.log");
    let hooks = dir.write("gunicorn.conf.py", RECORDING_HOOKS);
    let mut server = server("hello")
        .arg("--hooks")
        .arg(&hooks)
        .args(["--timeout", "17"])
        .env("HOOKS_LOG", &log)
        .start();
    let master = server.pid();
    let worker = server.worker_pid();

    let mut conn = server.conn();
    conn.send(&request("GET", "/x/y?a=1", &[("X-Test", "yes")], b""));
    let response = conn.read_response();
    assert_eq!(response.status(), 200);
    drop(conn);
    let body = response.body.len();
    let post = wait_for_entry(&log, "post_request /x/y");
    assert_eq!(
        post,
        format!("post_request /x/y 200 200_OK {body} /x/y text/plain; charset=utf-8")
    );

    // An exception in a hook is logged with its traceback; the request is still served.
    assert_eq!(server.get("/raise").status(), 200);
    server.wait_for_line("exception in the pre_request hook");
    server.wait_for_line("ValueError: pre_request failed on purpose");
    server.wait_for_line(&format!("post_worker_init says hello from {worker}"));

    server.signal(Signal::SIGTTIN);
    server.wait_for_lines("Worker ready (pid: ", 2);
    server.terminate();

    let got = lines(&log);
    let expect = [
        // Master-side hooks exist, so the module was imported in the master.
        format!("imported {master}"),
        format!("on_starting {master} 1 1 17"),
        format!("pre_fork {master} 1 None"),
        format!("post_fork {master} {worker} {master} 1"),
        format!("post_worker_init {worker} True"),
        format!("pre_request {worker} GET /x/y a=1 /x/y?a=1 (1, 1) yes"),
        "nworkers_changed 2 1 2".to_owned(),
        format!("pre_fork {master} 2 None"),
        format!("worker_exit {worker} False"),
        format!("child_exit {worker}"),
        format!("on_exit {master}"),
    ];
    for line in &expect {
        assert!(
            got.contains(line),
            "missing {line:?} in hooks log:\n{got:#?}"
        );
    }
    // The master imported it (the binary's, after a probe in a short-lived child had found
    // master-side hooks); workers inherited it.
    let importers: Vec<&str> = got
        .iter()
        .filter_map(|l| l.strip_prefix("imported "))
        .collect();
    let expected = match host() {
        Host::Embedded => 2,
        Host::Interpreter => 1,
    };
    assert_eq!(importers.len(), expected, "{got:#?}");
    assert!(importers.contains(&master.to_string().as_str()), "{got:#?}");
    assert!(
        !importers.contains(&worker.to_string().as_str()),
        "{got:#?}"
    );
    let pos = |p: &str| got.iter().position(|l| l.starts_with(p)).unwrap();
    assert!(pos("on_starting") < pos("pre_fork") && pos("pre_fork") < pos("post_fork"));
    assert!(pos("post_fork") < pos("post_worker_init") && pos("on_exit") == got.len() - 1);
}

#[test]
fn worker_side_hooks_from_a_module_leave_the_binarys_master_without_python() {
    let dir = TempDir::new();
    let log = dir.join("hooks.log");
    dir.write(
        "myproj/hooks.py",
        r#"
import os

def _w(*parts):
    with open(os.environ["HOOKS_LOG"], "a") as f:
        f.write(" ".join(str(p) for p in parts) + "\n")

_w("imported", os.getpid())

def post_fork(server, worker):
    _w("post_fork", server.pid, worker.pid, worker.ppid)

def pre_request(worker, req):
    _w("pre_request", req.path)

def worker_int(worker):
    _w("worker_int", worker.pid)
"#,
    );
    dir.write("myproj/__init__.py", "");
    let server = server("hello")
        .args(["--hooks", "myproj.hooks", "--pythonpath"])
        .arg(dir.path())
        .env("HOOKS_LOG", &log)
        .start();
    let master = server.pid();
    let worker = server.worker_pid();
    assert_eq!(server.get("/only").status(), 200);
    wait_for_entry(&log, "pre_request /only");
    let got = lines(&log);
    assert!(
        got.contains(&format!("post_fork {master} {worker} {master}")),
        "{got:#?}"
    );
    let importers: Vec<&str> = got
        .iter()
        .filter_map(|l| l.strip_prefix("imported "))
        .collect();
    let (worker, master) = (worker.to_string(), master.to_string());
    match host() {
        // Imported by the probe (a short-lived child of the master) and by the worker,
        // never by the master itself, which stays without Python.
        Host::Embedded => {
            assert!(importers.contains(&worker.as_str()), "{got:#?}");
            assert!(!importers.contains(&master.as_str()), "{got:#?}");
        }
        // Python runs the master anyway: it imports the hooks once, as gunicorn does, and
        // the worker inherits them.
        Host::Interpreter => assert_eq!(importers, [master.as_str()], "{got:#?}"),
    }
}

#[test]
fn a_hooks_module_that_fails_to_import_stops_the_server() {
    let dir = TempDir::new();
    let hooks = dir.write("hooks.py", "raise ImportError('rsgi-bad-hooks')\n");
    let run = server("hello").arg("--hooks").arg(&hooks).run();
    assert_eq!(run.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("rsgi-bad-hooks"), "{run:?}");
    assert!(run.stderr.contains("cannot load --hooks"), "{run:?}");
    assert!(!run.stderr.contains("Booting worker"), "{run:?}");
}
