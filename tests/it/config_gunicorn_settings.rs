//! gunicorn's remaining settings: `-k/--worker-class` (sync and gthread served, the other
//! worker types refused by name), `--paste` PasteDeploy apps, `--spew`, `--sendfile`,
//! `--worker-tmp-dir`, `--reload-engine`, the TLS settings accepted with no effect, and the
//! metrics and uwsgi settings that are not supported yet.

use crate::support::*;

/// Asserts a run exited with status 2 and its message names each of `needles`.
fn exits_2_saying(run: &Finished, needles: &[&str]) {
    assert_eq!(run.code(), Some(2), "{run:?}");
    let out = run.all_output();
    for needle in needles {
        assert!(
            out.contains(needle),
            "message does not say {needle:?}: {run:?}"
        );
    }
}

#[test]
fn gthread_with_threads_serves_multithreaded_and_sync_serves_single_threaded() {
    let threaded = server("environ")
        .args(["-k", "gthread", "--threads", "4"])
        .start();
    let env = threaded.get("/").environ();
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(true));
    let plain = server("environ")
        .args(["--worker-class", "gunicorn.workers.sync.SyncWorker"])
        .start();
    let env = plain.get("/").environ();
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(false));
}

#[test]
fn greenlet_tornado_asgi_and_custom_workers_are_refused_by_name() {
    let cases: &[(&str, &[&str])] = &[
        ("gevent", &["--worker-class", "gevent", "--threads N"]),
        ("eventlet", &["eventlet", "greenlets"]),
        ("egg:gunicorn#tornado", &["tornado", "Tornado's own server"]),
        ("asgi", &["asgi", "ASGI server"]),
        (
            "uvicorn.workers.UvicornWorker",
            &["uvicorn.workers.UvicornWorker", "uvicorn"],
        ),
        ("uvicorn_worker.UvicornWorker", &["uvicorn_worker", "ASGI"]),
        (
            "myproj.FastWorker",
            &["myproj.FastWorker", "custom worker class"],
        ),
    ];
    for (class, says) in cases {
        exits_2_saying(&server("hello").args(["-k", class]).run(), says);
    }
}

#[test]
fn worker_class_from_the_environment_and_the_toml_file() {
    let run = server("hello").env("RSGI_WORKER_CLASS", "gevent").run();
    exits_2_saying(&run, &["RSGI_WORKER_CLASS", "gevent", "not supported"]);
    let dir = TempDir::new();
    let file = dir.write(
        "rsgi.toml",
        "worker_class = \"egg:gunicorn#gthread\"\nthreads = 2\n",
    );
    let threaded = server("environ").arg("-c").arg(&file).start();
    let env = threaded.get("/").environ();
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(true));
}

const PASTE_APP: &str = r#"
import logging


def factory(global_config, **local_conf):
    name = local_conf["name"]
    logging.getLogger("pasteapp").info("factory built %s", name)
    greeting = global_config.get("GREETING", "(no greeting)")
    here = global_config["here"]

    def application(environ, start_response):
        body = f"{greeting} from {name} in {here}".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return application
"#;

const PASTE_INI: &str = "\
[app:main]
use = call:pasteapp:factory
name = main

[app:admin]
use = call:pasteapp:factory
name = admin

[server:main]
use = egg:gunicorn#main
port = 1

[loggers]
keys = root

[handlers]
keys = file

[formatters]
keys = plain

[logger_root]
level = INFO
handlers = file

[handler_file]
class = FileHandler
args = ('%(here)s/app.log', 'a')
formatter = plain

[formatter_plain]
format = %(levelname)s %(message)s
";

/// A Pyramid-style project: the factory module and its ini file.
fn paste_project() -> TempDir {
    let dir = TempDir::new();
    dir.write("pasteapp.py", PASTE_APP);
    dir.write("development.ini", PASTE_INI);
    dir
}

/// A server in the project's directory, with PasteDeploy from the project venv.
fn paste_server(dir: &TempDir, args: &[&str]) -> Builder {
    let b = bare().cwd(dir.path()).bind("127.0.0.1:0").args(args);
    match project_venv() {
        Some(venv) => b.arg("--virtualenv").arg(venv),
        // Without the project venv, the interpreter's own site-packages must have it.
        None => b,
    }
}

#[test]
fn a_paste_ini_app_is_served_with_its_global_conf_section_and_logging() {
    let dir = paste_project();
    let server = paste_server(
        &dir,
        &[
            "--paste",
            "development.ini",
            "--paste-global",
            "GREETING=hi",
        ],
    )
    .expect_workers(1)
    .start();
    let here = dir.path().display().to_string();
    assert_eq!(server.get("/").text(), format!("hi from main in {here}"));
    // The [loggers] section configured logging, as gunicorn's --log-config would; the
    // [server:main] section is ignored, as gunicorn ignores it (port 1 is not bound).
    let log = std::fs::read_to_string(dir.join("app.log")).expect("app.log written");
    assert!(log.contains("INFO factory built main"), "{log}");

    let admin = paste_server(&dir, &["--paster", "development.ini#admin"])
        .env("RSGI_PASTE_GLOBAL", "GREETING=hello")
        .expect_workers(1)
        .start();
    assert_eq!(admin.get("/").text(), format!("hello from admin in {here}"));
}

#[test]
fn paste_global_conf_comes_from_the_toml_file_under_gunicorns_name() {
    let dir = paste_project();
    let file = dir.write(
        "rsgi.toml",
        "paste = \"development.ini\"\nraw_paste_global_conf = [\"GREETING=toml\"]\n",
    );
    let server = paste_server(&dir, &["-c", file.to_str().unwrap()])
        .expect_workers(1)
        .start();
    assert!(server.get("/").text().starts_with("toml from main"));
}

#[test]
fn paste_refuses_an_app_beside_it_a_missing_file_and_a_bad_global() {
    let dir = paste_project();
    let both = paste_server(&dir, &["--paste", "development.ini", "hello"]).run();
    exits_2_saying(&both, &["APP", "hello", "--paste"]);
    let missing = paste_server(&dir, &["--paste", "nope.ini"]).run();
    exits_2_saying(&missing, &["--paste", "nope.ini", "cannot be read"]);
    let bad = paste_server(
        &dir,
        &["--paste", "development.ini", "--paste-global", "novalue"],
    )
    .run();
    exits_2_saying(&bad, &["--paste-global", "novalue", "KEY=VALUE"]);
}

#[test]
fn spew_prints_the_lines_the_app_executes() {
    // With threads the app runs on pool threads, which are traced as well.
    for threads in ["1", "2"] {
        let mut server = server("hello")
            .args(["--spew", "--threads", threads])
            .start();
        assert_eq!(server.get("/").text(), "Hello, World!\n");
        let lines = server
            .stdout
            .wait_count(1, |l| {
                l.starts_with("hello:") && l.contains("start_response(\"200 OK\"")
            })
            .unwrap_or_else(|e| panic!("no spewed app line with --threads {threads}: {e}"));
        // gunicorn's format: module:line: source.
        let (_, rest) = lines[0].split_once(':').expect("module:");
        let (number, _) = rest.split_once(": ").expect("line: source");
        assert!(number.parse::<u32>().is_ok(), "{lines:?}");
    }
}

#[test]
fn files_are_the_same_bytes_with_and_without_sendfile() {
    let dir = TempDir::new();
    let content: Vec<u8> = (0..3_000_017u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = dir.write("big.bin", &content);
    for flag in ["--sendfile", "--no-sendfile", "--sendfile=false"] {
        let server = server("download")
            .arg("-e")
            .arg(format!("DOWNLOAD_FILE={}", file.display()))
            .arg(flag)
            .start();
        let body = server.get("/").body;
        assert_eq!(body.len(), content.len(), "{flag}");
        assert!(body == content, "{flag}: the bytes differ");
    }
}

#[test]
fn sendfile_follows_gunicorns_sendfile_variable_when_unset() {
    let config = print_config(bare().env("SENDFILE", "0"));
    assert_eq!(config["sendfile"].as_bool(), Some(false));
    let config = print_config(bare().env("SENDFILE", "yes"));
    assert_eq!(config["sendfile"].as_bool(), Some(true));
    let config = print_config(bare().env("SENDFILE", "0").arg("--sendfile"));
    assert_eq!(config["sendfile"].as_bool(), Some(true), "the flag wins");
}

#[test]
fn worker_tmp_dir_must_be_an_existing_directory() {
    let dir = TempDir::new();
    let ok = server("hello")
        .arg("--worker-tmp-dir")
        .arg(dir.path())
        .arg("--check-config")
        .run();
    assert_eq!(ok.code(), Some(0), "{ok:?}");
    let missing = dir.join("missing");
    let run = server("hello").arg("--worker-tmp-dir").arg(&missing).run();
    exits_2_saying(&run, &["--worker-tmp-dir", "missing", "existing directory"]);
}

#[test]
fn reload_engines_pick_up_an_edit_and_unknown_ones_are_refused() {
    for (engine, says) in [
        ("inotify", "(inotify)"),
        ("poll", "(polling)"),
        ("auto", "(inotify)"),
    ] {
        let dir = TempDir::new();
        dir.write("app.py", "import msg\n\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [msg.TEXT.encode()]\n");
        dir.write("msg.py", "TEXT = 'one'\n");
        let mut server = server("app")
            .no_chdir()
            .arg("--chdir")
            .arg(dir.path())
            .args([
                "--reload",
                "--log-level",
                "debug",
                "--reload-engine",
                engine,
            ])
            .start();
        server.wait_for_line(says);
        assert_eq!(server.get("/").text(), "one");
        dir.write("msg.py", "TEXT = 'two!'\n");
        server.wait_for_line("msg.py modified");
        server.wait_for_lines("Worker ready (pid: ", 2);
        assert_eq!(server.get("/").text(), "two!", "{engine}");
    }
    let run = server("hello").args(["--reload-engine", "fsevents"]).run();
    exits_2_saying(
        &run,
        &["--reload-engine", "fsevents", "auto, poll or inotify"],
    );
}

#[test]
fn tls_settings_gunicorn_ignores_are_accepted() {
    let run = server("hello")
        .args([
            "--ssl-version",
            "TLSv1_2",
            "--suppress-ragged-eofs",
            "--do-handshake-on-connect",
            "--check-config",
        ])
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
}

#[test]
fn their_defaults_and_a_disabled_control_socket_are_accepted() {
    let run = server("hello")
        .args([
            "--protocol",
            "http",
            "--uwsgi-allow-from",
            "127.0.0.1,::1",
            "--control-socket-mode",
            "0600",
            "--statsd-prefix",
            "",
            "--check-config",
        ])
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    let disabled = server("hello")
        .args([
            "--control-socket-disable",
            "--control-socket",
            "/tmp/x.ctl",
            "--check-config",
        ])
        .run();
    assert_eq!(disabled.code(), Some(0), "{disabled:?}");
}
