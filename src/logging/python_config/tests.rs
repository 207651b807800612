use super::*;
use crate::logging::pyformat::PyFormat;
use crate::logging::route::{Destination, GunicornLogging, LineFormat, Output};
use crate::logging::syslog::SyslogAddr;
use crate::test_support::TempDir;
use std::path::PathBuf;

fn base() -> Routes {
    Routes::gunicorn(&GunicornLogging {
        level: LogLevel::Info,
        error_logfile: None,
        access_logfile: None,
        syslog: None,
        access_not_to_syslog: false,
    })
}

fn dict(json: &str) -> Result<Routes, String> {
    translate(Source::Dict(json), &base(), LogLevel::Info)
}

fn ini(text: &str) -> Result<Routes, String> {
    let dir = TempDir::new("rsgi-logconfig-", "ini");
    let path = dir.path().join("logging.conf");
    std::fs::write(&path, text).unwrap();
    translate(Source::Ini(&path), &base(), LogLevel::Info)
}

fn py(format: &str, datefmt: Option<&str>) -> LineFormat {
    LineFormat::Python(PyFormat::compile(format, datefmt).unwrap())
}

/// gunicorn's documentation example (docs/source/deploy.rst's logging.conf shape).
const GUNICORN_DOCS_INI: &str = r#"
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
propagate=1
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
args=('%(here)s/gunicorn.error.log',)

[handler_access_file]
class=logging.FileHandler
formatter=access
args=('/tmp/gunicorn.access.log',)

[formatter_generic]
format=%(asctime)s [%(process)d] [%(levelname)s] %(message)s
datefmt=%Y-%m-%d %H:%M:%S
class=logging.Formatter

[formatter_access]
format=%(message)s
class=logging.Formatter
"#;

#[test]
fn gunicorn_docs_ini() {
    let routes = ini(GUNICORN_DOCS_INI).expect("translates");
    let generic = py(
        "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
        Some("%Y-%m-%d %H:%M:%S"),
    );
    assert_eq!(routes.error.len(), 2, "{routes:?}");
    assert!(
        matches!(&routes.error[0].to, Destination::File(p) if p.ends_with("gunicorn.error.log") && p.is_absolute())
    );
    assert_eq!(routes.error[0].format, generic);
    // propagate=1: root's console too.
    assert_eq!(routes.error[1].to, Destination::Stdout);
    assert_eq!(routes.error[1].level, LogLevel::Info);
    assert_eq!(
        routes.access,
        [Output {
            to: Destination::File(PathBuf::from("/tmp/gunicorn.access.log")),
            level: LogLevel::Info,
            format: LineFormat::Native,
        }]
    );
}

#[test]
fn ini_syslog_and_null_handlers() {
    let routes = ini(r#"
[loggers]
keys=root,error,access
[handlers]
keys=syslog,null
[formatters]
keys=
[logger_root]
handlers=
[logger_error]
qualname=gunicorn.error
level=WARNING
handlers=syslog
propagate=0
[logger_access]
qualname=gunicorn.access
handlers=null
[handler_syslog]
class=handlers.SysLogHandler
args=('/dev/log', handlers.SysLogHandler.LOG_LOCAL3)
[handler_null]
class=NullHandler
"#)
    .expect("translates");
    assert_eq!(
        routes.error,
        [Output {
            to: Destination::Syslog(
                SyslogAddr::Unix {
                    path: "/dev/log".into(),
                    dgram_only: false
                },
                19
            ),
            level: LogLevel::Warning,
            format: LineFormat::Python(PyFormat::message_only()),
        }]
    );
    assert!(routes.access.is_empty());
}

/// A Django-style dictionary: many handlers and loggers, only gunicorn's matter.
const DJANGO_STYLE: &str = r#"{
  "version": 1,
  "disable_existing_loggers": false,
  "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
  "formatters": {
    "verbose": {"format": "%(levelname)s %(asctime)s %(process)d %(thread)d %(message)s"},
    "json": {"()": "pythonjsonlogger.jsonlogger.JsonFormatter",
             "format": "%(asctime)s %(levelname)s %(message)s"}
  },
  "handlers": {
    "mail_admins": {"level": "ERROR", "filters": ["require_debug_false"],
                    "class": "django.utils.log.AdminEmailHandler"},
    "error_file": {"class": "logging.handlers.WatchedFileHandler",
                   "filename": "/var/log/app/error.log", "formatter": "verbose"},
    "access_json": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                    "formatter": "json"}
  },
  "loggers": {
    "django.request": {"handlers": ["mail_admins"], "level": "ERROR"},
    "gunicorn.error": {"handlers": ["error_file"], "level": "DEBUG", "propagate": false},
    "gunicorn.access": {"handlers": ["access_json"], "propagate": false}
  }
}"#;

#[test]
fn django_style_dict() {
    let routes = dict(DJANGO_STYLE).expect("translates");
    assert_eq!(
        routes.error,
        [Output {
            to: Destination::File("/var/log/app/error.log".into()),
            level: LogLevel::Debug,
            format: py(
                "%(levelname)s %(asctime)s %(process)d %(thread)d %(message)s",
                None
            ),
        }]
    );
    assert_eq!(routes.access[0].to, Destination::Stdout);
    assert_eq!(routes.access[0].format, LineFormat::Json);
}

#[test]
fn gunicorn_defaults_fill_what_a_dict_leaves_out() {
    // Only a root: gunicorn's default loggers stay, and propagate to root's handler (the
    // same `console` handler the access logger has, written once).
    let routes = dict(r#"{"root": {"level": "WARNING", "handlers": ["console"]}}"#).unwrap();
    let generic = py(
        "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
        Some("[%Y-%m-%d %H:%M:%S %z]"),
    );
    assert_eq!(routes.error.len(), 2);
    assert_eq!(routes.error[0].to, Destination::Stderr);
    assert_eq!(routes.error[1].to, Destination::Stdout);
    assert_eq!(routes.error[0].format, generic);
    assert_eq!(routes.access.len(), 1);
    assert_eq!(routes.access[0].to, Destination::Stdout);
}

#[test]
fn unconfigured_loggers_keep_gunicorns_own_handlers() {
    let routes = dict(
        r#"{"loggers": {"gunicorn.access": {"handlers": ["f"]}},
            "handlers": {"f": {"class": "logging.FileHandler", "filename": "a.log"}}}"#,
    )
    .unwrap();
    assert_eq!(routes.error, base().error);
    assert_eq!(routes.access[0].to, Destination::File("a.log".into()));
}

#[test]
fn syslog_handler_in_a_dict() {
    let routes = dict(
        r#"{"loggers": {"gunicorn.error": {"handlers": ["s"], "propagate": false}},
            "handlers": {"s": {"class": "logging.handlers.SysLogHandler",
                               "address": ["logs.example", 6514],
                               "socktype": "ext://socket.SOCK_STREAM",
                               "facility": "local1"}}}"#,
    )
    .unwrap();
    assert_eq!(
        routes.error[0].to,
        Destination::Syslog(SyslogAddr::Tcp("logs.example".into(), 6514), 17)
    );
}

#[test]
fn refusals_name_the_handler_and_why() {
    let err = dict(
        r#"{"loggers": {"gunicorn.error": {"handlers": ["r"]}},
            "handlers": {"r": {"class": "logging.handlers.RotatingFileHandler",
                               "filename": "e.log", "maxBytes": 1048576, "backupCount": 3}}}"#,
    )
    .unwrap_err();
    assert!(err.contains("\"r\"") && err.contains("logrotate"), "{err}");
    let err = dict(
        r#"{"loggers": {"gunicorn.error": {"handlers": ["h"]}},
            "handlers": {"h": {"class": "logging.handlers.HTTPHandler", "host": "x"}}}"#,
    )
    .unwrap_err();
    assert!(err.contains("HTTPHandler"), "{err}");
    let err = dict(
        r#"{"loggers": {"gunicorn.error": {"handlers": ["h"]}},
            "handlers": {"h": {"class": "myapp.log.FileHandler", "filename": "x"}}}"#,
    )
    .unwrap_err();
    assert!(err.contains("myapp.log.FileHandler"), "{err}");
    let err = dict(
        r#"{"loggers": {"gunicorn.error": {"handlers": ["h"]}},
            "formatters": {"f": {"format": "%(funcName)s %(message)s"}},
            "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "f"}}}"#,
    )
    .unwrap_err();
    assert!(err.contains("\"f\"") && err.contains("funcName"), "{err}");
    let err = dict(r#"{"loggers": {"gunicorn.error": {"handlers": ["missing"]}}}"#).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    assert!(dict("[1]").is_err());
    let err = ini("[loggers]\nkeys=root\n").unwrap_err();
    assert!(err.contains("[logger_root]"), "{err}");
}

#[test]
fn levels_filter_outputs() {
    let routes = dict(
        r#"{"loggers": {"gunicorn.access": {"level": "WARNING", "handlers": ["console"]},
                        "gunicorn.error": {"level": 40, "handlers": ["error_console"],
                                           "propagate": false}}}"#,
    )
    .unwrap();
    assert!(
        routes.access.is_empty(),
        "access lines are info: {routes:?}"
    );
    assert_eq!(routes.error[0].level, LogLevel::Error);
}
