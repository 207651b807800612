//! The command line, RSGI_* variables and the TOML file: validation (exit 2 naming the
//! option), precedence, --check-config / --print-config / --version, app specs, and what
//! happens when the app cannot be loaded.

use crate::support::*;

/// Asserts a run exited with status 2 and its output names `option` and `value`.
fn exits_2_naming(run: &Finished, option: &str, value: &str) {
    assert_eq!(run.code(), Some(2), "{run:?}");
    let out = run.all_output();
    assert!(
        out.contains(option),
        "message does not name {option}: {run:?}"
    );
    assert!(
        out.contains(value),
        "message does not name value {value}: {run:?}"
    );
}

/// The load-failure line names the spec as given, possibly completed with the default
/// callable (`mod` → `mod:application`).
fn names_failed_spec(stderr: &str, spec: &str) -> bool {
    stderr.contains(&format!("failed to load app '{spec}'"))
        || (!spec.contains(':')
            && stderr.contains(&format!("failed to load app '{spec}:application'")))
}

#[test]
fn version_names_the_embedded_python() {
    let run = bare().arg("--version").run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert!(run.stdout.contains("rsgi-server 0.1.0"), "{run:?}");
    assert!(run.stdout.contains("Python 3."), "{run:?}");
}

#[test]
fn non_numeric_workers_exits_2() {
    exits_2_naming(&server("hello").args(["-w", "abc"]).run(), "workers", "abc");
}

#[test]
fn zero_workers_exits_2() {
    exits_2_naming(
        &server("hello").args(["--workers", "0"]).run(),
        "workers",
        "0",
    );
}

#[test]
fn malformed_bind_exits_2() {
    let run = server("hello")
        .no_default_bind()
        .args(["-b", "127.0.0.1:notaport"])
        .run();
    exits_2_naming(&run, "bind", "127.0.0.1:notaport");
}

#[test]
fn unknown_log_level_exits_2() {
    exits_2_naming(
        &server("hello").args(["--log-level", "shouty"]).run(),
        "log-level",
        "shouty",
    );
}

#[test]
fn non_octal_unix_socket_mode_exits_2() {
    exits_2_naming(
        &server("hello").args(["--unix-socket-mode", "999"]).run(),
        "unix-socket-mode",
        "999",
    );
}

#[test]
fn non_numeric_timeout_exits_2() {
    exits_2_naming(
        &server("hello").args(["--timeout", "soon"]).run(),
        "timeout",
        "soon",
    );
}

#[test]
fn malformed_env_option_exits_2() {
    exits_2_naming(
        &server("hello").args(["-e", "NOEQUALS"]).run(),
        "env",
        "NOEQUALS",
    );
}

#[test]
fn bad_value_in_environment_variable_exits_2() {
    let run = server("hello").env("RSGI_WORKERS", "lots").run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    let out = run.all_output();
    assert!(
        out.contains("WORKERS") || out.contains("workers"),
        "{run:?}"
    );
    assert!(out.contains("lots"), "{run:?}");
}

#[test]
fn bad_value_in_config_file_exits_2() {
    let dir = TempDir::new();
    let file = dir.write("rsgi.toml", "workers = \"many\"\n");
    let run = server("hello").arg("-c").arg(&file).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.all_output().contains("workers"), "{run:?}");
}

#[test]
fn unknown_config_file_key_exits_2_naming_it() {
    let dir = TempDir::new();
    let file = dir.write("rsgi.toml", "workers = 2\nworkerz = 3\n");
    let run = server("hello").arg("--config").arg(&file).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.all_output().contains("workerz"), "{run:?}");
}

#[test]
fn missing_config_file_exits_2() {
    let run = server("hello")
        .args(["-c", "/nonexistent/rsgi-no-such.toml"])
        .run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.all_output().contains("rsgi-no-such.toml"), "{run:?}");
}

#[test]
fn bad_value_is_reported_before_anything_is_bound() {
    let dir = TempDir::new();
    let sock = dir.join("early.sock");
    let run = server("hello")
        .bind(format!("unix:{}", sock.display()))
        .args(["--workers", "nope"])
        .run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(!sock.exists(), "the socket was created before validation");
    assert!(!run.stderr.contains("Listening at"), "{run:?}");
}

#[test]
fn bad_engine_values_exit_2_before_anything_is_bound() {
    let dir = TempDir::new();
    let sock = dir.join("engine.sock");
    // Each option with a bad value: a flag is given as `--flag=value`, an `RSGI_` name as
    // an environment variable.
    let cases = [
        ("--reuse-port", "maybe"),
        ("RSGI_REQUEST_BUFFERING", "perhaps"),
        ("--threads", "0"),
        ("--worker-connections", "1000001"),
        ("--body-buffer-size", "4294967296"),
        ("--limit-request-body", "-1"),
        ("--header-timeout", "soon"),
        ("RSGI_SEND_TIMEOUT", "-3"),
        ("--tmp-upload-dir", "/nonexistent/rsgi-uploads"),
    ];
    for (option, value) in cases {
        let b = server("hello").bind(format!("unix:{}", sock.display()));
        let run = if option.starts_with("--") {
            b.arg(format!("{option}={value}")).run()
        } else {
            b.env(option, value).run()
        };
        exits_2_naming(&run, option, value);
        assert!(
            !sock.exists(),
            "{option}: the socket was created before validation"
        );
        assert!(!run.stderr.contains("Listening at"), "{run:?}");
    }
}

#[test]
fn boolean_flags_print_back_as_booleans() {
    let cfg = print_config(server("hello").args(["--reuse-port", "--request-buffering=off"]));
    assert_eq!(cfg["reuse_port"].as_bool(), Some(true), "{cfg:?}");
    assert_eq!(cfg["request_buffering"].as_bool(), Some(false), "{cfg:?}");
    let cfg = print_config(server("hello").env("RSGI_REUSE_PORT", "false"));
    assert_eq!(cfg["reuse_port"].as_bool(), Some(false), "{cfg:?}");
    assert_eq!(cfg["request_buffering"].as_bool(), Some(true), "{cfg:?}");
}

#[test]
fn missing_virtualenv_exits_2() {
    let run = server("hello")
        .args(["--virtualenv", "/nonexistent/venv-dir"])
        .run();
    exits_2_naming(&run, "virtualenv", "/nonexistent/venv-dir");
}

#[test]
fn missing_virtual_env_variable_target_exits_2() {
    let run = server("hello")
        .env("VIRTUAL_ENV", "/nonexistent/venv-env")
        .run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(
        run.all_output().contains("/nonexistent/venv-env"),
        "{run:?}"
    );
}

#[test]
fn missing_app_argument_is_an_error() {
    let run = bare().run();
    assert_eq!(run.code(), Some(2), "{run:?}");
}

#[test]
fn print_config_is_toml_with_the_effective_values() {
    let cfg = print_config(
        server("hello")
            .no_default_bind()
            .args(["-w", "3", "-b", "127.0.0.1:0", "-b", "unix:/tmp/x.sock"])
            .args(["--root-path", "/mount"]),
    );
    assert_eq!(cfg["workers"].as_integer(), Some(3), "{cfg:?}");
    let binds: Vec<&str> = cfg["bind"]
        .as_array()
        .expect("bind list")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(binds, vec!["127.0.0.1:0", "unix:/tmp/x.sock"]);
    assert_eq!(cfg["root_path"].as_str(), Some("/mount"));
}

#[test]
fn print_config_output_is_accepted_back_as_a_config_file() {
    // What --print-config prints must be a valid config file (no unknown keys).
    let dir = TempDir::new();
    let first = bare()
        .args(["-w", "2", "--keep-alive", "7", "--print-config", "hello"])
        .run();
    assert_eq!(first.code(), Some(0), "{first:?}");
    let file = dir.write("round.toml", &first.stdout);
    let again = bare()
        .arg("-c")
        .arg(&file)
        .args(["--print-config", "hello"])
        .run();
    assert_eq!(again.code(), Some(0), "{again:?}");
    let a: toml::Table = first.stdout.parse().unwrap();
    let mut b: toml::Table = again.stdout.parse().unwrap();
    // The second one may also record which file it read.
    b.remove("config");
    let mut a = a;
    a.remove("config");
    assert_eq!(a, b);
}

#[test]
fn precedence_is_cli_then_env_then_file_then_default() {
    let dir = TempDir::new();
    let file = dir.write("p.toml", "workers = 3\nkeep_alive = 9\n");
    let base = || bare().arg("-c").arg(&file).arg("hello");
    let cfg = print_config(base().env("RSGI_WORKERS", "5").args(["-w", "7"]));
    assert_eq!(cfg["workers"].as_integer(), Some(7), "CLI wins: {cfg:?}");
    let cfg = print_config(base().env("RSGI_WORKERS", "5"));
    assert_eq!(
        cfg["workers"].as_integer(),
        Some(5),
        "env beats file: {cfg:?}"
    );
    let cfg = print_config(base());
    assert_eq!(
        cfg["workers"].as_integer(),
        Some(3),
        "file beats default: {cfg:?}"
    );
    let default = print_config(bare().arg("hello"));
    assert_ne!(default["workers"].as_integer(), Some(3));
}

#[test]
fn check_config_succeeds_for_a_loadable_app() {
    let run = server("hello:application").arg("--check-config").run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    // As gunicorn's: nothing but problems is printed, so it can gate a deploy script.
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
}

#[test]
fn check_config_fails_for_an_unimportable_app() {
    let run = server("cases.broken_import").arg("--check-config").run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(
        run.all_output().contains("rsgi-test-import-failure"),
        "{run:?}"
    );
}

#[test]
fn check_config_fails_for_a_missing_attribute() {
    let run = server("hello:no_such_callable").arg("--check-config").run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(run.all_output().contains("no_such_callable"), "{run:?}");
}

#[test]
fn unimportable_app_prints_traceback_and_exits_without_respawning() {
    let run = server("cases.broken_import").workers(2).run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(
        run.stderr.contains("Traceback (most recent call last)"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("RuntimeError: rsgi-test-import-failure"),
        "{run:?}"
    );
    assert!(
        names_failed_spec(&run.stderr, "cases.broken_import"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("Worker ready"), "{run:?}");
    // No respawn loop: at most one import attempt per configured worker.
    let attempts = run
        .stderr
        .matches("RuntimeError: rsgi-test-import-failure")
        .count();
    assert!((1..=2).contains(&attempts), "{attempts} attempts: {run:?}");
}

#[test]
fn a_load_failure_is_logged_once_with_its_traceback_then_one_exit_line() {
    // The worker that failed logs it with the traceback; the master only says it stops,
    // in other words (it was once the same line twice, from the worker and the master).
    let run = server("cases.broken_import").run();
    assert_eq!(run.code(), Some(4), "{run:?}");
    assert_eq!(
        run.stderr.matches("failed to load app").count(),
        1,
        "{run:?}"
    );
    assert_eq!(
        run.stderr
            .matches("Traceback (most recent call last)")
            .count(),
        1,
        "{run:?}"
    );
    let exit_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("could not load the app; stopping"))
        .collect();
    assert_eq!(exit_lines.len(), 1, "{run:?}");
    assert!(exit_lines[0].contains("exit code 4"), "{run:?}");
}

#[test]
fn missing_module_fails_to_load() {
    let run = server("no_such_module_rsgi_xyz").run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(run.stderr.contains("ModuleNotFoundError"), "{run:?}");
    assert!(
        names_failed_spec(&run.stderr, "no_such_module_rsgi_xyz"),
        "{run:?}"
    );
}

#[test]
fn missing_attribute_fails_to_load() {
    let run = server("hello:nope").run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(names_failed_spec(&run.stderr, "hello:nope"), "{run:?}");
}

#[test]
fn factory_without_arguments() {
    let server = server("cases.factory:create_app()").start();
    assert_eq!(server.get("/").text(), "factory default 0\n");
}

#[test]
fn factory_with_literal_arguments() {
    let server = server(r#"cases.factory:create_app("x", n=2)"#).start();
    assert_eq!(server.get("/").text(), "factory x 2\n");
}

#[test]
fn dotted_attribute_path() {
    let server = server("cases.factory:holder.inner.app").start();
    assert_eq!(server.get("/").text(), "dotted attribute\n");
}

#[test]
fn callable_instance_and_package_module() {
    let server = server("cases.factory:instance").start();
    assert_eq!(server.get("/").text(), "callable instance\n");
    let server = self::server("cases.factory").start();
    assert_eq!(server.get("/").text(), "module application\n");
}

#[test]
fn factory_call_with_non_literal_arguments_is_refused() {
    // Only literals are allowed: the spec must not be a way to run arbitrary code.
    let run = server("cases.factory:create_app(__import__('os').getpid())").run();
    assert_ne!(run.code(), Some(0), "{run:?}");
    assert!(!run.stderr.contains("Worker ready"), "{run:?}");
}

#[test]
fn config_file_configures_workers_and_binds() {
    let dir = TempDir::new();
    let file = dir.write(
        "serve.toml",
        "workers = 2\nbind = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n",
    );
    let server = server("hello")
        .no_default_bind()
        .arg("-c")
        .arg(&file)
        .expect_listeners(2)
        .expect_workers(2)
        .start();
    assert_eq!(server.tcp_addrs().len(), 2);
    for addr in server.tcp_addrs() {
        assert_eq!(Conn::tcp(addr).roundtrip(&get_req("/")).status(), 200);
    }
}

#[test]
fn rsgi_workers_environment_variable_is_honoured() {
    let server = server("hello")
        .env("RSGI_WORKERS", "2")
        .expect_workers(2)
        .start();
    assert_eq!(distinct(&server.worker_pids).len(), 2);
}

#[test]
fn chdir_changes_the_working_directory_and_sys_path() {
    let dir = TempDir::new();
    dir.write(
        "chdir_probe_app.py",
        "import os\n\ndef application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [os.getcwd().encode()]\n",
    );
    let server = server("chdir_probe_app")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .start();
    let cwd = server.get("/").text();
    assert_eq!(
        std::fs::canonicalize(&cwd).unwrap(),
        std::fs::canonicalize(dir.path()).unwrap()
    );
}

#[test]
fn pythonpath_entries_are_importable() {
    let one = TempDir::new();
    let two = TempDir::new();
    one.write(
        "pp_first_app.py",
        "import pp_second_lib\n\ndef application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [pp_second_lib.VALUE.encode()]\n",
    );
    two.write("pp_second_lib.py", "VALUE = 'from the second path entry'\n");
    let paths = format!("{},{}", one.path().display(), two.path().display());
    let server = server("pp_first_app")
        .args(["--pythonpath", &paths])
        .start();
    assert_eq!(server.get("/").text(), "from the second path entry");
}

#[test]
fn log_level_debug_is_accepted() {
    let server = server("hello").args(["--log-level", "debug"]).start();
    assert_eq!(server.get("/").status(), 200);
}

#[test]
fn every_option_is_accepted_as_a_config_file_key() {
    // TOML keys are the option names in snake_case.
    let dir = TempDir::new();
    let venv = dir.join("venv");
    let out = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = dir.write(
        "all.toml",
        format!(
            r#"workers = 2
bind = ["127.0.0.1:0", "unix:{sock}"]
chdir = "{pyapps}"
pythonpath = ["{tmp}"]
env = ["A=1", "B=2"]
root_path = "/root"
timeout = 30
graceful_timeout = 5
keep_alive = 3
backlog = 64
virtualenv = "{venv}"
unix_socket_mode = "660"
log_level = "warning"
threads = 4
worker_connections = 100
reuse_port = true
request_buffering = false
body_buffer_size = 65536
tmp_upload_dir = "{tmp}"
limit_request_body = 1000000
header_timeout = 10
body_timeout = 20
send_timeout = 40
"#,
            sock = dir.join("all.sock").display(),
            pyapps = pyapps().display(),
            tmp = dir.path().display(),
            venv = venv.display(),
        ),
    );
    let cfg = print_config(bare().arg("-c").arg(&file).arg("hello"));
    assert_eq!(cfg["workers"].as_integer(), Some(2), "{cfg:?}");
    assert_eq!(cfg["root_path"].as_str(), Some("/root"), "{cfg:?}");
    assert_eq!(cfg["backlog"].as_integer(), Some(64), "{cfg:?}");
    assert_eq!(cfg["log_level"].as_str(), Some("warning"), "{cfg:?}");
    assert_eq!(cfg["threads"].as_integer(), Some(4), "{cfg:?}");
    assert_eq!(cfg["reuse_port"].as_bool(), Some(true), "{cfg:?}");
    assert_eq!(cfg["request_buffering"].as_bool(), Some(false), "{cfg:?}");
    assert_eq!(
        cfg["limit_request_body"].as_integer(),
        Some(1_000_000),
        "{cfg:?}"
    );
    assert_eq!(cfg["send_timeout"].as_integer(), Some(40), "{cfg:?}");
    let run = bare()
        .arg("-c")
        .arg(&file)
        .args(["--check-config", "hello"])
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
}

#[test]
fn rsgi_bind_environment_variable_is_honoured() {
    let server = server("hello")
        .no_default_bind()
        .env("RSGI_BIND", "127.0.0.1:0")
        .expect_listeners(1)
        .start();
    assert_eq!(server.get("/").text(), "Hello, World!\n");
}

// Regression: examples/rsgi.toml's chdir was not relative to the file, commit 4865aa9 (issue 4)
/// The example file in the repo is what users copy: it must load as shipped, from any
/// directory (its relative paths are relative to the file).
#[test]
fn shipped_example_config_loads_its_app() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rsgi.toml");
    let dir = TempDir::new();
    let run = bare()
        .cwd(dir.path())
        .arg("-c")
        .arg(&example)
        .arg("--check-config")
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
}

/// The gunicorn.conf.py and uwsgi.ini of `examples/` load their app from any directory,
/// and --check-config says nothing about them but problems: the uwsgi.ini's options
/// without meaning here.
#[test]
fn shipped_gunicorn_and_uwsgi_examples_load_their_app() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = TempDir::new();
    let run = bare()
        .cwd(dir.path())
        .arg("-c")
        .arg(examples.join("gunicorn.conf.py"))
        .arg("--check-config")
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run:?}"
    );
    let run = bare()
        .cwd(dir.path())
        .arg("--ini")
        .arg(examples.join("uwsgi.ini"))
        .arg("--check-config")
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(lines[0].contains("no meaning here"), "{run:?}");
}
