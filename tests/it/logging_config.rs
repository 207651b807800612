//! gunicorn's Python logging configs, honoured by translation: an ini file (`--log-config`)
//! and a dictionary (`--log-config-dict`) that send the error log and the access log to
//! files of their own with their own formats; a handler that cannot be honoured is refused
//! by name before anything is bound.

use crate::support::logs::*;
use crate::support::*;
use std::path::Path;

/// Error lines `LEVEL|logger|pid|message`, access lines `ACCESS <the access line>`.
fn check_logs(server: &mut FileServer, error: &Path, access: &Path) {
    let master = server.pid();
    let worker = server.workers[0];
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/logged?q=1")).status(), 200);
    drop(c);
    let line = wait_for_lines(access, "ACCESS ", 1).remove(0);
    assert!(line.starts_with("ACCESS 127.0.0.1 - - ["), "{line}");
    assert!(line.contains("\"GET /logged?q=1 HTTP/1.1\" 200"), "{line}");
    server.terminate();
    let lines = lines(error);
    let listening = format!("INFO|gunicorn.error|{master}|Listening at: http://");
    assert!(
        lines.iter().any(|l| l.starts_with(&listening)),
        "{lines:#?}"
    );
    let ready = format!("INFO|gunicorn.error|{worker}|Worker ready (pid: {worker})");
    assert!(lines.contains(&ready), "{lines:#?}");
    // Only the access file got access lines, and the streams no log line (the app's own
    // print() still reaches stdout).
    assert!(
        !lines.iter().any(|l| l.contains("GET /logged")),
        "{lines:#?}"
    );
    let streams = std::fs::read_to_string(&server.stdout).unwrap()
        + &std::fs::read_to_string(&server.stderr).unwrap();
    assert!(
        !streams.contains("GET /logged") && !streams.contains("Listening"),
        "{streams}"
    );
}

#[test]
fn ini_log_config_routes_both_logs_to_files_with_their_formats() {
    let dir = TempDir::new();
    let (error, access) = (dir.join("error.log"), dir.join("access.log"));
    let ini = dir.join("logging.conf");
    std::fs::write(
        &ini,
        r#"
[loggers]
keys=root, gunicorn.error, gunicorn.access

[handlers]
keys=console, error_file, access_file

[formatters]
keys=generic, access

[logger_root]
level=INFO
handlers=console

[logger_gunicorn.error]
level=INFO
handlers=error_file
propagate=0
qualname=gunicorn.error

[logger_gunicorn.access]
level=INFO
handlers=access_file
propagate=0
qualname=gunicorn.access

[handler_console]
class=StreamHandler
formatter=generic
args=(sys.stdout, )

[handler_error_file]
class=logging.FileHandler
formatter=generic
args=('%(here)s/error.log',)

[handler_access_file]
class=logging.handlers.WatchedFileHandler
formatter=access
args=('%(here)s/access.log', 'a')

[formatter_generic]
format=%(levelname)s|%(name)s|%(process)d|%(message)s
class=logging.Formatter

[formatter_access]
format=ACCESS %(message)s
class=logging.Formatter
"#,
    )
    .unwrap();
    let mut server = FileServer::start(
        &dir,
        "cases.logged",
        &["--log-config", ini.to_str().unwrap()],
        1,
        Some(&error),
    );
    check_logs(&mut server, &error, &access);
}

#[test]
fn dict_log_config_routes_both_logs_to_files_with_their_formats() {
    let dir = TempDir::new();
    let (error, access) = (dir.join("error.log"), dir.join("access.log"));
    let dict = format!(
        r#"{{
  "version": 1,
  "disable_existing_loggers": false,
  "formatters": {{
    "plain": {{"format": "%(levelname)s|%(name)s|%(process)d|%(message)s"}},
    "access": {{"format": "ACCESS %(message)s"}}
  }},
  "handlers": {{
    "error_file": {{"class": "logging.FileHandler", "filename": "{}",
                    "formatter": "plain"}},
    "access_file": {{"class": "logging.FileHandler", "filename": "{}",
                     "formatter": "access"}}
  }},
  "loggers": {{
    "gunicorn.error": {{"level": "INFO", "handlers": ["error_file"], "propagate": false}},
    "gunicorn.access": {{"level": "INFO", "handlers": ["access_file"], "propagate": false}}
  }}
}}"#,
        error.display(),
        access.display()
    );
    let mut server = FileServer::start(
        &dir,
        "cases.logged",
        &["--log-config-dict", &dict],
        1,
        Some(&error),
    );
    check_logs(&mut server, &error, &access);
}

#[test]
fn a_handler_that_cannot_be_honoured_exits_2_naming_it() {
    let dict = r#"{"loggers": {"gunicorn.error": {"handlers": ["rotating"]}},
        "handlers": {"rotating": {"class": "logging.handlers.RotatingFileHandler",
                                  "filename": "e.log", "maxBytes": 1000000}}}"#;
    let out = server("hello").args(["--log-config-dict", dict]).run();
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("logconfig-dict"), "{out:?}");
    assert!(out.stderr.contains("handler \"rotating\""), "{out:?}");
    assert!(out.stderr.contains("logrotate"), "{out:?}");
    assert!(!out.stderr.contains("Listening at"), "{out:?}");

    let dir = TempDir::new();
    let ini = dir.join("bad.ini");
    std::fs::write(
        &ini,
        "[loggers]\nkeys=root,error\n[handlers]\nkeys=h\n[formatters]\nkeys=\n\
         [logger_root]\nhandlers=\n[logger_error]\nqualname=gunicorn.error\nhandlers=h\n\
         [handler_h]\nclass=handlers.SMTPHandler\n\
         args=('localhost', 'a@b', ['c@d'], 'x')\n",
    )
    .unwrap();
    let out = server("hello").arg("--log-config").arg(&ini).run();
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("SMTPHandler"), "{out:?}");
}
