//! gunicorn 27 and rsgi-server read the same `gunicorn.conf.py` files and command lines
//! (`tests/gunicorn_configs/`), and their `--print-config` outputs are compared setting by
//! setting: every gunicorn setting rsgi-server honours must come out with gunicorn's value,
//! spelled our way. What is left out of the comparison, and why, is listed in [`SKIPPED`].

use crate::support::tls::Pki;
use crate::support::*;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// A setting's value, reduced to what both servers can print: one text or a list of texts.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Unset,
    Text(String),
    List(Vec<String>),
}

/// How a gunicorn setting is found in our `--print-config`, and how its value is spelled.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The same value under our name.
    Plain,
    /// A path: gunicorn prints it as written, ours is absolute.
    Path,
    /// A list of paths.
    Paths,
    /// gunicorn's comma-separated string of paths (pythonpath).
    CommaPaths,
    /// A list (gunicorn prints a Python list or a comma-separated string).
    List,
    /// Listen addresses (`unix:` paths absolute in ours).
    Binds,
    /// Permission bits: gunicorn's integer, our octal text.
    Mode,
    /// gunicorn's ssl.VerifyMode number, our word.
    CertReqs,
    /// gunicorn's dict of header → value, our `NAME=VALUE` list.
    Headers,
    /// gunicorn's dict, our JSON text of it.
    Json,
    /// gunicorn's `sendfile` (None: on unless `SENDFILE=0`), our boolean.
    Sendfile,
    /// gunicorn's user/group: the current id unless set; ours unset means unchanged.
    Identity,
    /// gunicorn's chdir: the current directory unless set; ours unset means unchanged.
    Chdir,
    /// gunicorn's parsed address tuple `('HOST', PORT)`, our `HOST:PORT` as written.
    Address,
}

/// Every gunicorn setting compared: gunicorn's name, ours, and how.
const COMPARED: &[(&str, &str, Kind)] = &[
    ("bind", "bind", Kind::Binds),
    ("backlog", "backlog", Kind::Plain),
    ("workers", "workers", Kind::Plain),
    ("worker_class", "worker_class", Kind::Plain),
    ("threads", "threads", Kind::Plain),
    ("worker_connections", "worker_connections", Kind::Plain),
    ("max_requests", "max_requests", Kind::Plain),
    ("max_requests_jitter", "max_requests_jitter", Kind::Plain),
    ("timeout", "timeout", Kind::Plain),
    ("graceful_timeout", "graceful_timeout", Kind::Plain),
    ("keepalive", "keep_alive", Kind::Plain),
    ("limit_request_line", "limit_request_line", Kind::Plain),
    ("limit_request_fields", "limit_request_fields", Kind::Plain),
    (
        "limit_request_field_size",
        "limit_request_field_size",
        Kind::Plain,
    ),
    ("reload", "reload", Kind::Plain),
    ("reload_engine", "reload_engine", Kind::Plain),
    ("reload_extra_files", "reload_extra_files", Kind::Paths),
    ("spew", "spew", Kind::Plain),
    ("preload_app", "preload", Kind::Plain),
    ("sendfile", "sendfile", Kind::Sendfile),
    ("reuse_port", "reuse_port", Kind::Plain),
    ("chdir", "chdir", Kind::Chdir),
    ("daemon", "daemon", Kind::Plain),
    ("raw_env", "env", Kind::List),
    ("pidfile", "pid", Kind::Path),
    ("worker_tmp_dir", "worker_tmp_dir", Kind::Path),
    ("user", "user", Kind::Identity),
    ("group", "group", Kind::Identity),
    ("umask", "umask", Kind::Mode),
    ("initgroups", "initgroups", Kind::Plain),
    ("tmp_upload_dir", "tmp_upload_dir", Kind::Path),
    (
        "secure_scheme_headers",
        "secure_scheme_headers",
        Kind::Headers,
    ),
    ("forwarded_allow_ips", "forwarded_allow_ips", Kind::List),
    ("accesslog", "access_logfile", Kind::Path),
    (
        "disable_redirect_access_to_syslog",
        "disable_redirect_access_to_syslog",
        Kind::Plain,
    ),
    ("access_log_format", "access_log_format", Kind::Plain),
    ("errorlog", "error_logfile", Kind::Path),
    ("loglevel", "log_level", Kind::Plain),
    ("capture_output", "capture_output", Kind::Plain),
    ("logconfig", "logconfig", Kind::Path),
    ("logconfig_dict", "logconfig_dict", Kind::Json),
    ("logconfig_json", "logconfig_json", Kind::Path),
    ("syslog_addr", "syslog_addr", Kind::Plain),
    ("syslog", "syslog", Kind::Plain),
    ("syslog_prefix", "syslog_prefix", Kind::Plain),
    ("syslog_facility", "syslog_facility", Kind::Plain),
    (
        "enable_stdio_inheritance",
        "enable_stdio_inheritance",
        Kind::Plain,
    ),
    ("statsd_host", "statsd_host", Kind::Address),
    ("dogstatsd_tags", "dogstatsd_tags", Kind::Plain),
    ("statsd_prefix", "statsd_prefix", Kind::Plain),
    (
        "enable_backlog_metric",
        "enable_backlog_metric",
        Kind::Plain,
    ),
    ("proc_name", "proc_name", Kind::Plain),
    ("pythonpath", "pythonpath", Kind::CommaPaths),
    ("paste", "paste", Kind::Path),
    ("raw_paste_global_conf", "paste_global", Kind::List),
    ("proxy_protocol", "proxy_protocol", Kind::Plain),
    ("proxy_allow_ips", "proxy_allow_ips", Kind::List),
    ("protocol", "protocol", Kind::Plain),
    ("uwsgi_allow_ips", "uwsgi_allow_ips", Kind::List),
    ("keyfile", "keyfile", Kind::Path),
    ("certfile", "certfile", Kind::Path),
    ("cert_reqs", "cert_reqs", Kind::CertReqs),
    ("ca_certs", "ca_certs", Kind::Path),
    ("suppress_ragged_eofs", "suppress_ragged_eofs", Kind::Plain),
    (
        "do_handshake_on_connect",
        "do_handshake_on_connect",
        Kind::Plain,
    ),
    ("ciphers", "ciphers", Kind::Plain),
    (
        "permit_obsolete_folding",
        "permit_obsolete_folding",
        Kind::Plain,
    ),
    ("strip_header_spaces", "strip_header_spaces", Kind::Plain),
    (
        "permit_unconventional_http_method",
        "permit_unconventional_http_method",
        Kind::Plain,
    ),
    (
        "permit_unconventional_http_version",
        "permit_unconventional_http_version",
        Kind::Plain,
    ),
    ("casefold_http_method", "casefold_http_method", Kind::Plain),
    ("forwarder_headers", "forwarder_headers", Kind::List),
    ("header_map", "header_map", Kind::Plain),
    ("http_parser", "http_parser", Kind::Plain),
    ("root_path", "root_path", Kind::Plain),
    ("control_socket_mode", "control_socket_mode", Kind::Mode),
    (
        "control_socket_disable",
        "control_socket_disable",
        Kind::Plain,
    ),
];

/// gunicorn settings left out of the comparison, and why.
const SKIPPED: &[(&str, &str)] = &[
    ("config", "the file itself"),
    ("check_config", "a command-line action"),
    ("print_config", "a command-line action"),
    (
        "wsgi_app",
        "gunicorn prints the file's value, not the application it serves",
    ),
    (
        "default_proc_name",
        "gunicorn's internal fallback for proc_name (the application)",
    ),
    (
        "logger_class",
        "refused unless gunicorn's default (config_gunicorn)",
    ),
    (
        "ssl_version",
        "deprecated in gunicorn and without effect; compared by config_gunicorn_settings",
    ),
    (
        "control_socket",
        "gunicorn creates its default path; ours only when set (compared by control_socket)",
    ),
    (
        "http_protocols",
        "refused unless gunicorn's default (config_gunicorn)",
    ),
    ("http2_cleartext", "refused unless gunicorn's default"),
    (
        "http2_max_concurrent_streams",
        "refused unless gunicorn's default",
    ),
    (
        "http2_initial_window_size",
        "refused unless gunicorn's default",
    ),
    ("http2_max_frame_size", "refused unless gunicorn's default"),
    (
        "http2_max_header_list_size",
        "refused unless gunicorn's default",
    ),
    ("asgi_loop", "refused unless gunicorn's default"),
    ("asgi_lifespan", "refused unless gunicorn's default"),
    (
        "asgi_disconnect_grace_period",
        "refused unless gunicorn's default",
    ),
    (
        "websocket_max_message_size",
        "refused unless gunicorn's default",
    ),
    ("dirty_apps", "refused unless gunicorn's default"),
    ("dirty_workers", "refused unless gunicorn's default"),
    ("dirty_timeout", "refused unless gunicorn's default"),
    ("dirty_threads", "refused unless gunicorn's default"),
    (
        "dirty_graceful_timeout",
        "refused unless gunicorn's default",
    ),
    ("ssl_context", "a hook refused when defined"),
    ("on_dirty_starting", "a hook refused when defined"),
    ("dirty_post_fork", "a hook refused when defined"),
    ("dirty_worker_init", "a hook refused when defined"),
    ("dirty_worker_exit", "a hook refused when defined"),
];

/// gunicorn's server hooks: compared together (defined in the file ⇔ our `hooks` is it).
const HOOKS: &[&str] = &[
    "on_starting",
    "on_reload",
    "when_ready",
    "pre_fork",
    "post_fork",
    "post_worker_init",
    "worker_int",
    "worker_abort",
    "pre_exec",
    "pre_request",
    "post_request",
    "child_exit",
    "worker_exit",
    "nworkers_changed",
    "on_exit",
];

/// One comparison: a config file (or none), command-line arguments, environment.
struct Case {
    file: Option<&'static str>,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        file: Some("01_minimal.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("02_django.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("03_environment.py"),
        args: &[],
        env: &[("PORT", "5000"), ("WEB_CONCURRENCY", "6")],
    },
    Case {
        file: Some("04_hooks.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("05_tls.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("06_proxies.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("07_logging.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("08_mechanics.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("09_limits.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("10_parser.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("11_defaults_spelled_out.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: Some("12_paste_globals.py"),
        args: &[],
        env: &[],
    },
    Case {
        file: None,
        args: &[
            "-w",
            "3",
            "-b",
            "127.0.0.1:9000",
            "--bind",
            "unix:run/app.sock",
            "--keep-alive",
            "10",
            "-k",
            "gthread",
            "--threads",
            "8",
            "--access-logformat",
            "%(h)s %(r)s",
            "--limit-request-field_size",
            "1000",
            "--no-sendfile",
            "--log-syslog",
            "--forwarded-allow-ips",
            "*",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "--max-requests",
            "10",
            "--preload",
            "-n",
            "shop",
            "--paste-global",
            "x=1",
            "--umask",
            "0o077",
            "--proxy-protocol",
            "--proxy-allow-from",
            "10.1.1.1",
            "--root-path",
            "/x",
            "--header-map",
            "dangerous",
            "--log-level",
            "debug",
        ],
        env: &[],
    },
    Case {
        file: Some("01_minimal.py"),
        args: &["--bind", "127.0.0.1:1"],
        env: &[(
            "GUNICORN_CMD_ARGS",
            "--workers 5 --timeout 99 --graceful-timeout=7",
        )],
    },
];

/// gunicorn's `--print-config`: `name = value` lines, values as Python prints them.
fn gunicorn_print(dir: &Path, case: &Case, env: &[(String, String)]) -> BTreeMap<String, String> {
    let gunicorn = test_python().with_file_name("gunicorn");
    let mut cmd = Command::new(gunicorn);
    cmd.current_dir(dir).env_remove("GUNICORN_CMD_ARGS");
    if let Some(file) = case.file {
        cmd.arg("-c").arg(dir.join(file));
    } else {
        cmd.args(["-c", "/dev/null"]);
    }
    cmd.args(case.args)
        .args(["--print-config", "app:application"]);
    cmd.envs(case.env.iter().copied())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().expect("run gunicorn");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gunicorn failed for {:?}: {stdout}\n{}",
        case.file,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(" = ")?;
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Our `--print-config` for the same case, or why it failed.
fn our_print(dir: &Path, case: &Case, env: &[(String, String)]) -> Result<toml::Table, String> {
    let mut b = bare().cwd(dir).env_remove("GUNICORN_CMD_ARGS");
    if let Some(file) = case.file {
        b = b.arg("-c").arg(dir.join(file));
    }
    b = b
        .args(case.args)
        .args(["--print-config", "app:application"]);
    for (k, v) in case.env {
        b = b.env(k, v);
    }
    for (k, v) in env {
        b = b.env(k, v);
    }
    let run = b.run();
    if run.code() != Some(0) {
        return Err(format!("rsgi-server failed: {}", run.stderr.trim_end()));
    }
    run.stdout
        .parse::<toml::Table>()
        .map_err(|e| format!("our --print-config is not TOML ({e}): {run:?}"))
}

/// Reads a Python list or dict of strings as printed (`['a', 'b']`, `{'K': 'v'}`).
fn python_strings(text: &str) -> Option<Vec<String>> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .or_else(|| text.strip_prefix('{').and_then(|t| t.strip_suffix('}')))?;
    let mut items = Vec::new();
    let mut chars = inner.chars();
    let mut pending: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut s = String::new();
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                    s.push(d);
                }
                pending = Some(match pending.take() {
                    Some(key) => format!("{key}={s}"),
                    None => s,
                });
            }
            ':' => {}
            ',' => items.extend(pending.take()),
            // A dict's key waits for its value: `'K': 'v'` becomes `K=v`.
            _ => {}
        }
    }
    items.extend(pending);
    Some(items)
}

/// A path made absolute against `dir` and normalised (`./x` is `x`).
fn absolute(dir: &Path, path: &str) -> String {
    let joined = dir.join(path);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// An empty list and no list print differently and mean the same.
fn normal(value: Value) -> Value {
    match value {
        Value::List(items) if items.is_empty() => Value::Unset,
        other => other,
    }
}

fn gunicorn_value(kind: Kind, raw: &str, dir: &Path) -> Value {
    if raw == "None" {
        return match kind {
            Kind::Sendfile => Value::Text("true".into()),
            _ => Value::Unset,
        };
    }
    let text = |s: &str| Value::Text(s.to_owned());
    match kind {
        Kind::Plain => match raw {
            "True" => text("true"),
            "False" => text("false"),
            _ => text(raw),
        },
        Kind::Path if raw == "-" => text("-"),
        Kind::Path | Kind::Chdir => text(&absolute(dir, raw)),
        Kind::Paths => Value::List(
            python_strings(raw)
                .unwrap_or_default()
                .iter()
                .map(|p| absolute(dir, p))
                .collect(),
        ),
        Kind::CommaPaths => Value::List(raw.split(',').map(|p| absolute(dir, p.trim())).collect()),
        Kind::List => Value::List(match python_strings(raw) {
            Some(items) => items,
            None if raw.is_empty() => Vec::new(),
            None => raw.split(',').map(|s| s.trim().to_owned()).collect(),
        }),
        Kind::Binds => Value::List(
            python_strings(raw)
                .unwrap_or_default()
                .iter()
                .map(|b| match b.strip_prefix("unix:") {
                    Some(path) => format!("unix:{}", absolute(dir, path)),
                    None => b.clone(),
                })
                .collect(),
        ),
        // gunicorn's umask 0 is its "not set": it applies its umask only to the Unix sockets
        // it creates, ours to the whole process, and unset leaves the process's alone.
        Kind::Mode if raw == "0" => Value::Unset,
        Kind::Mode => text(&format!("{:o}", raw.parse::<u32>().expect("a mode"))),
        Kind::Address => match raw
            .strip_prefix("('")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once("', "))
        {
            Some((host, port)) => text(&format!("{host}:{port}")),
            None => text(raw),
        },
        Kind::CertReqs => text(match raw {
            "0" => "none",
            "1" => "optional",
            _ => "required",
        }),
        Kind::Headers => Value::List(python_strings(raw).unwrap_or_default()),
        Kind::Json => {
            if raw == "{}" {
                Value::Unset
            } else {
                // Python's repr of a dict of plain values reads as JSON once quoted alike.
                let json = raw
                    .replace('\'', "\"")
                    .replace("False", "false")
                    .replace("True", "true");
                let parsed: serde_json::Value = serde_json::from_str(&json).expect("a dict");
                Value::Text(parsed.to_string())
            }
        }
        Kind::Sendfile => text(if raw == "False" { "false" } else { "true" }),
        // gunicorn shows the current id when unset, which is "unchanged".
        Kind::Identity => {
            let current = nix::unistd::geteuid().as_raw().to_string();
            if raw == current || raw == nix::unistd::getegid().as_raw().to_string() {
                Value::Unset
            } else {
                text(raw)
            }
        }
    }
}

fn our_value(kind: Kind, value: Option<&toml::Value>, dir: &Path) -> Value {
    let Some(value) = value else {
        return match kind {
            Kind::Chdir => Value::Text(dir.display().to_string()),
            _ => Value::Unset,
        };
    };
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (kind, value) {
        (Kind::Mode, toml::Value::String(s)) => Value::Text(format!(
            "{:o}",
            u32::from_str_radix(s.trim_start_matches("0o"), 8).expect("octal")
        )),
        (Kind::Json, toml::Value::String(s)) => {
            let parsed: serde_json::Value = serde_json::from_str(s).expect("JSON");
            Value::Text(parsed.to_string())
        }
        (Kind::Path | Kind::Chdir, toml::Value::String(s)) if s != "-" => {
            Value::Text(absolute(Path::new("/"), s))
        }
        (_, toml::Value::Array(items)) => Value::List(items.iter().map(scalar).collect()),
        (_, other) => Value::Text(scalar(other)),
    }
}

#[test]
fn gunicorn_and_rsgi_print_the_same_configuration_for_realistic_files() {
    let pki = Pki::new();
    let dir = TempDir::new();
    for entry in std::fs::read_dir(repo_root().join("tests/gunicorn_configs")).expect("configs") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap().to_str().unwrap())).expect("copy");
    }
    dir.write(
        "app.py",
        "def application(environ, start_response):\n    return []\n",
    );
    for sub in ["run", "templates", "lib", "vendor"] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
    }
    dir.write("templates/base.html", "<html></html>\n");
    let server = pki.server();
    let env = vec![
        ("CERT".to_owned(), server.cert.display().to_string()),
        ("KEY".to_owned(), server.key.display().to_string()),
        ("CA".to_owned(), pki.ca().display().to_string()),
    ];
    let mut differences = Vec::new();
    for case in CASES {
        let theirs = gunicorn_print(dir.path(), case, &env);
        let what = case.file.unwrap_or("command line");
        let ours = match our_print(dir.path(), case, &env) {
            Ok(ours) => ours,
            Err(why) => {
                differences.push(format!("{what}: {why}"));
                continue;
            }
        };
        for name in theirs.keys() {
            let known = COMPARED.iter().any(|(n, _, _)| n == name)
                || SKIPPED.iter().any(|(n, _)| n == name)
                || HOOKS.contains(&name.as_str());
            assert!(known, "gunicorn's {name} is neither compared nor skipped");
        }
        for (theirs_name, ours_name, kind) in COMPARED {
            let raw = theirs
                .get(*theirs_name)
                .unwrap_or_else(|| panic!("gunicorn printed no {theirs_name}"));
            let expected = normal(gunicorn_value(*kind, raw, dir.path()));
            let got = normal(our_value(*kind, ours.get(*ours_name), dir.path()));
            if expected != got {
                differences.push(format!("{what}: {theirs_name} = {raw:?}: gunicorn {expected:?}, ours {ours_name} = {got:?}"));
            }
        }
        let user_hooks = HOOKS
            .iter()
            .any(|h| theirs.get(*h).is_some_and(|v| !v.contains('.')));
        if user_hooks != ours.contains_key("hooks") {
            differences.push(format!(
                "{what}: hooks defined {user_hooks}, ours {:?}",
                ours.get("hooks")
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// The migration guide's table says what becomes of each of gunicorn's 120 settings.
#[test]
fn the_migration_guide_lists_every_gunicorn_setting() {
    let guide = std::fs::read_to_string(repo_root().join("docs/migrating.md")).expect("guide");
    let start = guide
        .find("### Every Gunicorn setting")
        .expect("the section");
    let end = guide.find("## From uWSGI").expect("the next section");
    let guide = &guide[start..end];
    let names: Vec<&str> = COMPARED
        .iter()
        .map(|(n, _, _)| *n)
        .chain(SKIPPED.iter().map(|(n, _)| *n))
        .chain(HOOKS.iter().copied())
        .collect();
    assert_eq!(names.len(), 120, "gunicorn 27 has 120 settings");
    for name in names {
        let row = format!("| `{name}` |");
        assert_eq!(
            guide.matches(&row).count(),
            1,
            "{name} in docs/migrating.md"
        );
    }
}
