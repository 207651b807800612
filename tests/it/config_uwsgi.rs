//! `--ini uwsgi.ini[:section]`: realistic uWSGI files read by the real server, which
//! serves what they describe; what we cannot honour exits 2 before anything is bound
//! (or is warned about with `--ini-ignore-unsupported`); `--print-config` converts a file
//! and `--check-config` checks one silently.

use crate::support::logs;
use crate::support::*;
use std::path::Path;

/// A Django-style file, as a project's deploy directory holds it: the port from the
/// environment, uWSGI's process options, and the ones that have no meaning here.
fn django_style(pyapps: &Path) -> String {
    format!(
        "# uWSGI config for the hello project\n\
         [uwsgi]\n\
         project = hello\n\
         chdir = {}\n\
         module = %(project):application\n\
         master = true\n\
         processes = 2\n\
         threads = 2\n\
         enable-threads = true\n\
         http = 127.0.0.1:$(PORT)\n\
         vacuum = true\n\
         die-on-term = true\n\
         harakiri = 30\n\
         max-requests = 5000\n\
         buffer-size = 32768\n\
         env = DJANGO_SETTINGS_MODULE=%(project).settings\n\
         log-format = %(addr) [%(ltime)] \"%(method) %(uri) %(proto)\" %(status) %(size)\n",
        pyapps.display()
    )
}

/// The server started from `dir` with `args` (`--ini` among them), no app or bind of its
/// own: the file names them.
fn from_ini(dir: &TempDir, args: &[&str]) -> Builder {
    bare().cwd(dir.path()).args(args).env("PORT", "0")
}

fn print_ini_config(dir: &TempDir, args: &[&str]) -> toml::Table {
    print_config(from_ini(dir, args))
}

#[test]
fn a_django_style_ini_serves_with_its_workers_and_logs_requests() {
    let dir = TempDir::new();
    dir.write("uwsgi.ini", django_style(&pyapps()));
    let mut server = from_ini(&dir, &["--ini", "uwsgi.ini"])
        .expect_listeners(1)
        .expect_workers(2)
        .start();
    assert_eq!(server.worker_pids.len(), 2);
    let resp = server.get("/?from=ini");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "Hello, World!\n");
    // uWSGI logs every request unless told not to; the line is in its translated format.
    let line = server
        .stdout
        .wait_count(1, |l| l.contains("/?from=ini"))
        .expect("an access log line")
        .remove(0);
    assert!(
        line.starts_with("127.0.0.1 [") && line.contains("] \"GET /?from=ini HTTP/1.1\" 200 14"),
        "{line}"
    );
    let warning = server.wait_for_line("have no meaning here");
    for key in ["master", "enable-threads", "vacuum", "die-on-term"] {
        assert!(warning.contains(key), "{key} not in {warning}");
    }
    server.terminate();
}

#[test]
fn a_named_section_is_read_with_file_colon_section() {
    let dir = TempDir::new();
    dir.write(
        "app.ini",
        format!(
            "[uwsgi]\nchdir = {}\nmodule = hello\nhttp = 127.0.0.1:0\nprocesses = 1\n\
             [production]\nini = :uwsgi\nprocesses = 3\n",
            pyapps().display()
        ),
    );
    let server = from_ini(&dir, &["--ini", "app.ini:production"])
        .expect_listeners(1)
        .expect_workers(3)
        .start();
    assert_eq!(server.worker_pids.len(), 3);
    assert_eq!(server.get("/").status(), 200);
    let run = from_ini(&dir, &["--ini", "app.ini:staging"]).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("no [staging] section"), "{run:?}");
    assert!(run.stderr.contains("[uwsgi], [production]"), "{run:?}");
}

/// A file with what real deployments attach to uWSGI besides the app.
fn with_unsupported(dir: &TempDir) -> String {
    format!(
        "[uwsgi]\nchdir = {}\nmodule = hello\nhttp-socket = {}\nmaster = true\n\
         spooler = /tmp/spool\nattach-daemon = celery -A proj worker\n\
         cron = 0 -1 -1 -1 -1 /usr/bin/backup\ncheaper = 2\n",
        pyapps().display(),
        dir.join("app.sock").display()
    )
}

#[test]
fn unsupported_options_exit_2_naming_them_all_before_binding() {
    let dir = TempDir::new();
    dir.write("uwsgi.ini", with_unsupported(&dir));
    let run = from_ini(&dir, &["--ini", "uwsgi.ini"]).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    for needle in [
        "spooler (line 6)",
        "attach-daemon (line 7)",
        "cron (line 8)",
        "cheaper (line 9)",
        "--ini-ignore-unsupported",
    ] {
        assert!(run.stderr.contains(needle), "{needle:?} missing: {run:?}");
    }
    assert!(!dir.join("app.sock").exists(), "bound before refusing");
    assert!(!run.stderr.contains("Listening at"), "{run:?}");
}

#[test]
fn unsupported_options_are_warned_about_with_ini_ignore_unsupported() {
    let dir = TempDir::new();
    dir.write("uwsgi.ini", with_unsupported(&dir));
    let mut server = from_ini(&dir, &["--ini", "uwsgi.ini", "--ini-ignore-unsupported"])
        .expect_listeners(1)
        .start();
    let mut c = Conn::unix(&server.unix_path());
    c.send(&get_req("/"));
    assert_eq!(c.read_response().status(), 200);
    let warning = server.wait_for_line("ignoring uWSGI options");
    assert!(warning.contains("spooler (line 6)"), "{warning}");
    assert!(warning.contains("cheaper (line 9)"), "{warning}");
    server.terminate();
}

#[test]
fn a_typo_exits_2_naming_the_closest_option() {
    let dir = TempDir::new();
    dir.write("uwsgi.ini", "[uwsgi]\nmodule = hello\nproccesses = 4\n");
    let run = from_ini(&dir, &["--ini", "uwsgi.ini"]).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("proccesses (line 3): did you mean processes?"),
        "{run:?}"
    );
}

#[test]
fn a_wsgi_file_with_a_callable_next_to_the_ini_is_served() {
    let dir = TempDir::new();
    dir.write(
        "site/run.py",
        "def app(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [b'from run.py\\n']\n",
    );
    dir.write(
        "site/uwsgi.ini",
        "[uwsgi]\nwsgi-file = %drun.py\ncallable = app\nhttp-socket = 127.0.0.1:0\n\
         lazy-apps = true\n",
    );
    let server = from_ini(&dir, &["--ini", "site/uwsgi.ini"])
        .expect_listeners(1)
        .start();
    assert_eq!(server.get("/").text(), "from run.py\n");
}

#[test]
fn logto_holds_the_error_log_and_the_requests_as_in_uwsgi() {
    let dir = TempDir::new();
    dir.write(
        "uwsgi.ini",
        format!(
            "[uwsgi]\nchdir = {}\nmodule = hello\nhttp = 127.0.0.1:0\nlogto = %dapp.log\n",
            pyapps().display()
        ),
    );
    let log = dir.join("app.log");
    let mut server = from_ini(&dir, &["--ini", "uwsgi.ini"]).spawn();
    let listening = logs::wait_for_lines(&log, "Listening at: ", 1).remove(0);
    logs::wait_for_lines(&log, "Worker ready (pid: ", 1);
    let url = parse_listen_url(&listening).expect("a listen url");
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut c = Conn::tcp(addr.parse().expect("address"));
    c.send(&get_req("/logged"));
    assert_eq!(c.read_response().status(), 200);
    let line = logs::wait_for_lines(&log, "GET /logged HTTP/1.1", 1).remove(0);
    assert!(line.contains("\" 200 "), "{line}");
    server.terminate();
}

#[test]
fn print_config_converts_the_file_to_our_toml() {
    let dir = TempDir::new();
    dir.write("uwsgi.ini", django_style(&pyapps()));
    let cfg = print_ini_config(&dir, &["--ini", "uwsgi.ini"]);
    let text = |k: &str| cfg[k].as_str().map(str::to_owned);
    let int = |k: &str| cfg[k].as_integer();
    assert_eq!(text("app").as_deref(), Some("hello:application"));
    assert_eq!(
        cfg["bind"].as_array().unwrap()[0].as_str(),
        Some("127.0.0.1:0")
    );
    assert_eq!((int("workers"), int("threads")), (Some(2), Some(2)));
    assert_eq!(
        (int("timeout"), int("max_requests")),
        (Some(30), Some(5000))
    );
    assert_eq!(int("limit_request_head"), Some(32768));
    assert_eq!(cfg["preload"].as_bool(), Some(true));
    assert_eq!(text("access_logfile").as_deref(), Some("-"));
    assert_eq!(
        text("access_log_format").as_deref(),
        Some(r#"%(h)s %(t)s "%(m)s %({RAW_URI}e)s %(H)s" %(s)s %(B)s"#)
    );
    assert_eq!(
        cfg["env"].as_array().unwrap()[0].as_str(),
        Some("DJANGO_SETTINGS_MODULE=hello.settings")
    );
    // The command line still wins over the file.
    let cfg = print_ini_config(&dir, &["--ini", "uwsgi.ini", "-w", "5", "--preload=false"]);
    assert_eq!(cfg["workers"].as_integer(), Some(5));
    assert_eq!(cfg["preload"].as_bool(), Some(false));
}

#[test]
fn check_config_of_a_clean_ini_is_silent() {
    let dir = TempDir::new();
    dir.write(
        "uwsgi.ini",
        format!(
            "[uwsgi]\nchdir = {}\nmodule = hello\nhttp = :$(PORT)\nprocesses = 2\n\
             harakiri = 20\n",
            pyapps().display()
        ),
    );
    let run = from_ini(&dir, &["--ini", "uwsgi.ini", "--check-config"]).run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    assert_eq!(run.all_output().trim(), "", "{run:?}");
}

#[test]
fn a_reload_reads_the_ini_again_relative_to_where_the_server_started() {
    // The master has moved to chdir by then; the include is still next to the ini.
    let dir = TempDir::new();
    dir.write(
        "uwsgi.ini",
        format!(
            "[uwsgi]\nchdir = {}\nmodule = hello\nhttp = 127.0.0.1:0\nini = common.ini\n",
            pyapps().display()
        ),
    );
    dir.write("common.ini", "[uwsgi]\nprocesses = 1\n");
    let mut server = from_ini(&dir, &["--ini", "uwsgi.ini"])
        .expect_listeners(1)
        .start();
    dir.write("common.ini", "[uwsgi]\nprocesses = 2\n");
    server.signal(nix::sys::signal::Signal::SIGHUP);
    server.wait_for_line("Reload complete (generation 2)");
    server.wait_for_lines("Worker ready (pid: ", 3);
    assert_eq!(server.get("/").status(), 200);
    server.terminate();
}
