//! The gunicorn front end: `gunicorn.conf.py` executed as gunicorn does (computed values,
//! gunicorn's names and value types, hooks called with `server`/`worker`/`req`), `-c
//! python:module`, `GUNICORN_CMD_ARGS`, gunicorn's precedence, and every refusal's message.

use crate::support::logs::lines;
use crate::support::*;
use std::path::Path;

/// A gunicorn.conf.py as deployments write them: computed values, gunicorn's names, hooks
/// that record what they are given into `$HOOKS_LOG`.
const CONF: &str = r#"
import multiprocessing
import os

wsgi_app = "hello"
workers = min(2, multiprocessing.cpu_count())
keepalive = int(os.environ.get("KEEPALIVE", "5"))
preload_app = False
raw_env = ["FROM_CONF=yes"]
umask = 0o022
secure_scheme_headers = {"X-SCHEME": "https"}
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
_helper = "not a setting"

def _w(*parts):
    with open(os.environ["HOOKS_LOG"], "a") as f:
        f.write(" ".join(str(p) for p in parts) + "\n")

def when_ready(server):
    _w("when_ready", server.pid, server.cfg.keepalive, server.cfg.workers)
    server.log.info("when_ready from gunicorn.conf.py")

def post_fork(server, worker):
    _w("post_fork", worker.pid, worker.age)

def pre_request(worker, req):
    _w("pre_request", worker.pid, req.method, req.path)

def worker_exit(server, worker):
    _w("worker_exit", worker.pid)
"#;

fn wait_for_entries(path: &Path, prefix: &str, n: usize) -> Vec<String> {
    let mut found = Vec::new();
    wait_until(&format!("{n} {prefix:?} lines in the hooks log"), || {
        found = lines(path)
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect();
        found.len() >= n
    });
    found
}

#[test]
fn gunicorn_conf_py_in_the_current_directory_configures_and_hooks_the_server() {
    let dir = TempDir::new();
    dir.write("gunicorn.conf.py", CONF);
    let log = dir.join("hooks.log");
    let server = bare()
        .cwd(dir.path())
        .args(["--pythonpath"])
        .arg(pyapps())
        .bind("127.0.0.1:0")
        .expect_workers(2)
        .env("HOOKS_LOG", &log)
        .env("KEEPALIVE", "7")
        .start();
    let ready = wait_for_entries(&log, "when_ready ", 1);
    assert_eq!(
        ready[0],
        format!("when_ready {} 7 2", server.pid()),
        "when_ready runs in the master and sees gunicorn's names in server.cfg"
    );
    let forks = wait_for_entries(&log, "post_fork ", 2);
    let mut ages: Vec<&str> = forks
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    ages.sort();
    assert_eq!(ages, ["1", "2"], "{forks:?}");
    let response = server.get("/some/path");
    assert_eq!(response.text(), "Hello, World!\n");
    let request = wait_for_entries(&log, "pre_request ", 1);
    assert!(request[0].ends_with(" GET /some/path"), "{request:?}");
    let worker_pid: i32 = request[0].split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        forks
            .iter()
            .any(|l| l.starts_with(&format!("post_fork {worker_pid} "))),
        "pre_request ran in a forked worker: {forks:?} {request:?}"
    );
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .env("HOOKS_LOG", &log)
            .env("KEEPALIVE", "7"),
    );
    assert_eq!(cfg["keep_alive"].as_integer(), Some(7), "{cfg:?}");
    assert_eq!(cfg["app"].as_str(), Some("hello"), "{cfg:?}");
    assert_eq!(cfg["umask"].as_str(), Some("022"), "{cfg:?}");
    assert_eq!(cfg["preload"].as_bool(), Some(false), "{cfg:?}");
    assert_eq!(
        cfg["env"].as_array().map(|a| a.len()),
        Some(1),
        "raw_env is env: {cfg:?}"
    );
    assert_eq!(
        cfg["secure_scheme_headers"].as_array().unwrap()[0].as_str(),
        Some("X-SCHEME=https")
    );
    assert_eq!(
        cfg["hooks"].as_str(),
        dir.join("gunicorn.conf.py").to_str(),
        "the file's hooks are called from the file"
    );
    drop(server);
}

#[test]
fn worker_exit_hook_from_the_file_runs_on_stop() {
    let dir = TempDir::new();
    dir.write("gunicorn.conf.py", CONF);
    let log = dir.join("hooks.log");
    let mut server = bare()
        .cwd(dir.path())
        .arg("--pythonpath")
        .arg(pyapps())
        .args(["-c", "gunicorn.conf.py", "-w", "1"])
        .bind("127.0.0.1:0")
        .env("HOOKS_LOG", &log)
        .start();
    let pid = server.worker_pid();
    assert!(server.terminate().success());
    let exits = wait_for_entries(&log, "worker_exit ", 1);
    assert_eq!(exits, [format!("worker_exit {pid}")]);
}

#[test]
fn precedence_is_command_line_then_gunicorn_cmd_args_then_file() {
    let dir = TempDir::new();
    dir.write(
        "conf.py",
        "workers = 2\ntimeout = 11\nkeepalive = 9\nbacklog = 100\n",
    );
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .args(["-c", "conf.py", "--workers", "4", "app"])
            .env(
                "GUNICORN_CMD_ARGS",
                "--workers 3 --timeout 12 --backlog='200'",
            ),
    );
    assert_eq!(cfg["workers"].as_integer(), Some(4), "CLI wins: {cfg:?}");
    assert_eq!(
        cfg["timeout"].as_integer(),
        Some(12),
        "env beats file: {cfg:?}"
    );
    assert_eq!(cfg["backlog"].as_integer(), Some(200), "quotes: {cfg:?}");
    assert_eq!(
        cfg["keep_alive"].as_integer(),
        Some(9),
        "file beats default"
    );
    assert_eq!(cfg["graceful_timeout"].as_integer(), Some(30), "default");
    // RSGI_* sits above GUNICORN_CMD_ARGS: it is ours, and more specific.
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .args(["-c", "conf.py", "app"])
            .env("GUNICORN_CMD_ARGS", "--timeout 12")
            .env("RSGI_TIMEOUT", "13"),
    );
    assert_eq!(cfg["timeout"].as_integer(), Some(13), "{cfg:?}");
    // GUNICORN_CMD_ARGS may name the config file, as in gunicorn.
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .arg("app")
            .env("GUNICORN_CMD_ARGS", "-c conf.py"),
    );
    assert_eq!(cfg["keep_alive"].as_integer(), Some(9), "{cfg:?}");
}

#[test]
fn python_module_config_is_imported_from_the_current_directory() {
    let dir = TempDir::new();
    dir.write("deploy_conf.py", "workers = 3\nbind = '127.0.0.1:9'\n");
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .args(["-c", "python:deploy_conf", "app"]),
    );
    assert_eq!(cfg["workers"].as_integer(), Some(3), "{cfg:?}");
    assert_eq!(
        cfg["bind"].as_array().unwrap()[0].as_str(),
        Some("127.0.0.1:9")
    );
}

#[test]
fn unknown_names_in_the_file_are_an_error_listing_them() {
    let dir = TempDir::new();
    dir.write(
        "gunicorn.conf.py",
        "wrokers = 3\nmax_request = 5\nworkers = 2\n",
    );
    let run = bare().cwd(dir.path()).arg("app").run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    for expected in [
        "wrokers (did you mean workers?)",
        "max_request (did you mean max_requests?)",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {run:?}");
    }
    assert!(!run.stderr.contains("Listening"), "{run:?}");
}

#[test]
fn a_file_that_raises_prints_its_traceback_and_one_error_line() {
    let dir = TempDir::new();
    dir.write(
        "gunicorn.conf.py",
        "import os\nworkers = int(os.environ['NO_SUCH_VAR'])\n",
    );
    let run = bare().cwd(dir.path()).arg("app").run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("KeyError: 'NO_SUCH_VAR'"), "{run:?}");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("rsgi-server: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(errors[0].contains("gunicorn.conf.py"), "{run:?}");
}

#[test]
fn with_both_default_files_ours_is_read_and_the_other_named_in_a_warning() {
    let dir = TempDir::new();
    dir.write("gunicorn.conf.py", "workers = 2\n");
    dir.write("rsgi.toml", "workers = 3\n");
    let run = bare().cwd(dir.path()).args(["app", "--print-config"]).run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("workers = 3\n"), "{run:?}");
    assert!(
        run.stderr.contains("./gunicorn.conf.py is not read"),
        "{run:?}"
    );
    let cfg = print_config(
        bare()
            .cwd(dir.path())
            .args(["-c", "gunicorn.conf.py", "app"]),
    );
    assert_eq!(cfg["workers"].as_integer(), Some(2));
}

#[test]
fn a_config_file_without_an_extension_is_ours_if_it_reads_as_our_toml() {
    let dir = TempDir::new();
    dir.write("rsgi.conf", "workers = 3\nkeep_alive = 4\n");
    dir.write("gunicorn.conf", "workers = 2\nkeepalive = 6\n");
    let cfg = print_config(bare().cwd(dir.path()).args(["-c", "rsgi.conf", "app"]));
    assert_eq!(cfg["keep_alive"].as_integer(), Some(4));
    let cfg = print_config(bare().cwd(dir.path()).args(["-c", "gunicorn.conf", "app"]));
    assert_eq!(cfg["keep_alive"].as_integer(), Some(6));
}

#[test]
fn what_the_file_does_to_its_environment_and_path_reaches_the_app() {
    let dir = TempDir::new();
    dir.write(
        "lib/extra_mod.py",
        "VALUE = 'imported from the path the conf added'\n",
    );
    dir.write(
        "probe.py",
        "import os\n\
         def application(environ, start_response):\n    \
             import extra_mod\n    \
             start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
             return [('%s|%s|%s' % (os.environ.get('CONF_SET'), os.environ.get('RAW'),\n    \
                      extra_mod.VALUE)).encode()]\n",
    );
    dir.write(
        "gunicorn.conf.py",
        "import os, sys\n\
         os.environ.setdefault('CONF_SET', 'set by the conf')\n\
         sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))\n\
         raw_env = ['RAW=1']\n",
    );
    // A --pythonpath and -e on the command line replace the file's settings, not what the
    // file did to its process.
    let server = bare()
        .cwd(dir.path())
        .args(["--pythonpath", ".", "-e", "OTHER=2", "probe"])
        .bind("127.0.0.1:0")
        .start();
    assert_eq!(
        server.get("/").text(),
        "set by the conf|None|imported from the path the conf added"
    );
    let cfg = print_config(bare().cwd(dir.path()).arg("app"));
    let env: Vec<&str> = cfg["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(env, ["CONF_SET=set by the conf", "RAW=1"]);
    assert_eq!(
        cfg["pythonpath"].as_array().unwrap()[0].as_str(),
        dir.join("lib").to_str()
    );
}

#[test]
fn gunicorn_abbreviations_of_long_options_are_understood() {
    let cfg = print_config(bare().args(["--graceful", "7", "--max-requests-j", "3", "app"]));
    assert_eq!(cfg["graceful_timeout"].as_integer(), Some(7));
    assert_eq!(cfg["max_requests_jitter"].as_integer(), Some(3));
}

#[test]
fn gunicorn_cmd_args_may_ask_for_print_config() {
    let run = bare()
        .arg("app")
        .env("GUNICORN_CMD_ARGS", "--print-config --workers 3")
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("workers = 3\n"), "{run:?}");
}

/// Every refused gunicorn flag exits 2 before binding, naming the flag, the value and the
/// reason; its gunicorn default is accepted.
#[test]
fn refused_gunicorn_settings_name_the_reason_everywhere() {
    let cases = [
        ("--http-protocols", "h2,h1", "h1", "HTTP/2"),
        ("--http2-cleartext", "on", "off", "HTTP/2"),
        ("--http2-max-concurrent-streams", "50", "100", "HTTP/2"),
        ("--http2-initial-window-size", "1", "65535", "HTTP/2"),
        ("--http2-max-frame-size", "1", "16384", "HTTP/2"),
        ("--http2-max-header-list-size", "1", "65536", "HTTP/2"),
        ("--asgi-loop", "uvloop", "auto", "ASGI"),
        ("--asgi-lifespan", "on", "auto", "ASGI"),
        ("--asgi-disconnect-grace-period", "5", "3", "ASGI"),
        ("--websocket-max-message-size", "1", "16777216", "ASGI"),
        ("--dirty-app", "x:y", "", "dirty arbiters"),
        ("--dirty-workers", "2", "0", "dirty arbiters"),
        ("--dirty-timeout", "1", "300", "dirty arbiters"),
        ("--dirty-threads", "2", "1", "dirty arbiters"),
        ("--dirty-graceful-timeout", "1", "30", "dirty arbiters"),
        (
            "--logger-class",
            "myproj.Logger",
            "gunicorn.glogging.Logger",
            "--log-config",
        ),
    ];
    for (flag, value, default, reason) in cases {
        let run = server("hello").args([flag, value]).run();
        assert_eq!(run.code(), Some(2), "{flag}: {run:?}");
        for needle in [flag, value, reason, "not supported"] {
            assert!(run.stderr.contains(needle), "{flag}: {needle}: {run:?}");
        }
        assert!(!run.stderr.contains("Listening"), "{flag}: {run:?}");
        if !default.is_empty() {
            let run = bare()
                .args([flag, default, "hello", "--print-config"])
                .run();
            assert_eq!(run.code(), Some(0), "{flag} {default} is harmless: {run:?}");
        }
    }
    let run = server("hello")
        .env("GUNICORN_CMD_ARGS", "--dirty-workers 2")
        .run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("GUNICORN_CMD_ARGS"), "{run:?}");
    let dir = TempDir::new();
    dir.write("gunicorn.conf.py", "http_protocols = 'h2'\n");
    let run = bare().cwd(dir.path()).arg("hello").run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("http_protocols (in"), "{run:?}");
    dir.write(
        "gunicorn.conf.py",
        "def ssl_context(config, default):\n    return default()\n",
    );
    let run = bare().cwd(dir.path()).arg("hello").run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("ssl_context (TLS is rustls"), "{run:?}");
}

#[test]
fn unknown_rsgi_variable_is_a_warning_and_the_server_serves() {
    let mut server = server("hello").env("RSGI_BIN", "/opt/rsgi/bin").start();
    assert_eq!(server.get("/").text(), "Hello, World!\n");
    let stderr = server.stderr_text();
    assert!(
        stderr.contains("ignoring RSGI_BIN: no such setting; did you mean RSGI_BIND?"),
        "{stderr}"
    );
}

#[test]
fn hup_executes_the_gunicorn_file_again() {
    let dir = TempDir::new();
    let config = dir.write("gunicorn.conf.py", "workers = 1\n");
    let mut server = server("hello")
        .arg("-c")
        .arg(&config)
        .env("ADD", "x")
        .start();
    std::fs::write(&config, "workers = 1 +\n").unwrap();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    server.wait_for_line("SyntaxError");
    server.wait_for_line("still serving with the current configuration");
    assert_eq!(server.get("/").status(), 200);
    std::fs::write(&config, "import os\nworkers = 1 + len(os.environ['ADD'])\n").unwrap();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    server.wait_for_lines("Worker ready (pid: ", 3);
    assert_eq!(server.get("/").status(), 200);
    assert_eq!(server.terminate().code(), Some(0));
}
