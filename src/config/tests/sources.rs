//! Where settings come from: the command line over the environment over the file over
//! the defaults, which file, relative paths, printing and reloading.

use super::*;

#[test]
fn defaults() {
    let dir = TempDir::new("rsgi-config-", "defaults");
    let config = run(&["myproject.wsgi"], &[], dir.path());
    assert_eq!(config.python.app, "myproject.wsgi:application");
    assert_eq!(
        config.sockets.binds,
        vec![BindAddr::Tcp {
            host: "127.0.0.1".into(),
            port: 8000
        }]
    );
    assert_eq!(config.workers.count, 1);
    assert_eq!(config.workers.timeout, Some(Duration::from_secs(30)));
    assert_eq!(config.workers.graceful_timeout, Duration::from_secs(30));
    assert_eq!(config.http.keep_alive, Some(Duration::from_secs(2)));
    assert_eq!(config.sockets.backlog, 2048);
    assert_eq!(config.python.root_path, "");
    assert_eq!(config.logging.level, LogLevel::Info);
    assert_eq!(config.sockets.unix_socket_mode, None);
    assert_eq!(config.config_file, None);
    assert_eq!(config.workers.threads, 1);
    assert_eq!(config.workers.connections, 1000);
    assert!(!config.sockets.reuse_port);
    assert!(config.http.request_buffering);
    assert_eq!(config.http.body_buffer_size, 1_048_576);
    assert_eq!(config.http.tmp_upload_dir, None);
    assert_eq!(config.http.limit_request_body, None);
    assert_eq!(config.http.header_timeout, Some(Duration::from_secs(30)));
    assert_eq!(config.http.body_timeout, Some(Duration::from_secs(30)));
    assert_eq!(config.http.send_timeout, Some(Duration::from_secs(30)));
    let mut expected = Config::default();
    expected.python.app = config.python.app.clone();
    assert_eq!(config, expected);
}

#[test]
fn precedence_cli_env_file_default() {
    let dir = TempDir::new("rsgi-config-", "precedence");
    dir.write(
        "rsgi.toml",
        "app = \"file:app\"\nworkers = 2\ntimeout = 10\nkeep_alive = 5\nlog_level = \"debug\"\n",
    );
    let vars = [
        ("RSGI_WORKERS", "3"),
        ("RSGI_TIMEOUT", "20"),
        ("RSGI_APP", "env:app"),
    ];
    let config = run(&["--workers", "4"], &vars, dir.path());
    assert_eq!(config.workers.count, 4, "CLI beats env and file");
    assert_eq!(
        config.workers.timeout,
        Some(Duration::from_secs(20)),
        "env beats file"
    );
    assert_eq!(config.python.app, "env:app", "env beats file");
    assert_eq!(
        config.http.keep_alive,
        Some(Duration::from_secs(5)),
        "file beats default"
    );
    assert_eq!(config.logging.level, LogLevel::Debug);
    assert_eq!(config.sockets.backlog, 2048, "default");
    assert_eq!(
        config.config_file,
        Some(ConfigSource::Toml(dir.path().join("rsgi.toml")))
    );
    let config = run(&["cli:app"], &vars, dir.path());
    assert_eq!(config.python.app, "cli:app");
    assert_eq!(config.workers.count, 3);
}

#[test]
fn port_and_web_concurrency_defaults() {
    let dir = TempDir::new("rsgi-config-", "port");
    let vars = [("PORT", "5000"), ("WEB_CONCURRENCY", "3")];
    let config = run(&["app"], &vars, dir.path());
    assert_eq!(
        config.sockets.binds,
        vec!["0.0.0.0:5000".parse().expect("addr")]
    );
    assert_eq!(config.workers.count, 3);
    assert_invalid(
        &["app"],
        &[("WEB_CONCURRENCY", "many")],
        dir.path(),
        "WEB_CONCURRENCY",
        "many",
    );
    assert_invalid(
        &["app"],
        &[("PORT", "http")],
        dir.path(),
        "PORT",
        "0.0.0.0:http",
    );
    // Anything explicit beats the platform conventions, even the file.
    dir.write("rsgi.toml", "bind = \"127.0.0.1:1\"\n");
    let config = run(&["app", "-w", "2"], &vars, dir.path());
    assert_eq!(
        config.sockets.binds,
        vec!["127.0.0.1:1".parse().expect("addr")]
    );
    assert_eq!(config.workers.count, 2);
    // A convention that is overridden is not looked at (gunicorn reads PORT the same way).
    run(&["app"], &[("PORT", "http")], dir.path());
}

#[test]
fn env_lists_and_repeated_flags() {
    let dir = TempDir::new("rsgi-config-", "lists");
    let config = run(
        &[
            "app",
            "-b",
            "127.0.0.1:1",
            "--bind",
            "[::1]:2",
            "-e",
            "A=1",
            "-e",
            "B=x=y",
        ],
        &[("RSGI_PYTHONPATH", "/a,/b")],
        dir.path(),
    );
    assert_eq!(config.sockets.binds.len(), 2);
    assert_eq!(
        config.python.env,
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    assert_eq!(
        config.python.pythonpath,
        vec![PathBuf::from("/a"), PathBuf::from("/b")]
    );
    let config = run(
        &["app"],
        &[("RSGI_BIND", "unix:/tmp/x.sock,127.0.0.1:9")],
        dir.path(),
    );
    assert_eq!(config.sockets.binds.len(), 2);
}

/// The settings of the event-loop engine, every one set to a non-default value.
struct Engine {
    threads: u32,
    worker_connections: u32,
    reuse_port: bool,
    request_buffering: bool,
    body_buffer_size: u64,
    tmp_upload_dir: Option<PathBuf>,
    limit_request_body: Option<u64>,
    header_timeout: Option<Duration>,
    body_timeout: Option<Duration>,
    send_timeout: Option<Duration>,
}

impl Engine {
    fn of(config: &Config) -> Engine {
        Engine {
            threads: config.workers.threads,
            worker_connections: config.workers.connections,
            reuse_port: config.sockets.reuse_port,
            request_buffering: config.http.request_buffering,
            body_buffer_size: config.http.body_buffer_size,
            tmp_upload_dir: config.http.tmp_upload_dir.clone(),
            limit_request_body: config.http.limit_request_body,
            header_timeout: config.http.header_timeout,
            body_timeout: config.http.body_timeout,
            send_timeout: config.http.send_timeout,
        }
    }

    /// Asserts every engine setting has the value the tests below give it, with the
    /// upload directory `dir`.
    fn assert_set(config: &Config, dir: &Path, source: &str) {
        let e = Engine::of(config);
        assert_eq!(e.threads, 8, "{source}");
        assert_eq!(e.worker_connections, 500, "{source}");
        assert!(e.reuse_port, "{source}");
        assert!(!e.request_buffering, "{source}");
        assert_eq!(e.body_buffer_size, 0, "{source}");
        assert_eq!(e.tmp_upload_dir.as_deref(), Some(dir), "{source}");
        assert_eq!(e.limit_request_body, Some(10_000_000), "{source}");
        assert_eq!(e.header_timeout, None, "{source}");
        assert_eq!(e.body_timeout, Some(Duration::from_secs(5)), "{source}");
        assert_eq!(e.send_timeout, Some(Duration::from_secs(60)), "{source}");
    }
}

#[test]
fn engine_settings_from_cli_env_and_file() {
    let dir = TempDir::new("rsgi-config-", "engine");
    let uploads = dir.path().join("uploads");
    std::fs::create_dir(&uploads).expect("mkdir");
    let cli = run(
        &[
            "app",
            "--threads",
            "8",
            "--worker-connections=500",
            "--reuse-port",
            "--request-buffering=false",
            "--body-buffer-size",
            "0",
            "--tmp-upload-dir",
            "uploads",
            "--limit-request-body",
            "10000000",
            "--header-timeout",
            "0",
            "--body-timeout",
            "5",
            "--send-timeout",
            "60",
        ],
        &[],
        dir.path(),
    );
    Engine::assert_set(&cli, &uploads, "CLI");
    let env_vars = [
        ("RSGI_THREADS", "8"),
        ("RSGI_WORKER_CONNECTIONS", "500"),
        ("RSGI_REUSE_PORT", "yes"),
        ("RSGI_REQUEST_BUFFERING", "off"),
        ("RSGI_BODY_BUFFER_SIZE", "0"),
        ("RSGI_TMP_UPLOAD_DIR", "uploads"),
        ("RSGI_LIMIT_REQUEST_BODY", "10000000"),
        ("RSGI_HEADER_TIMEOUT", "0"),
        ("RSGI_BODY_TIMEOUT", "5"),
        ("RSGI_SEND_TIMEOUT", "60"),
    ];
    let from_env = run(&["app"], &env_vars, dir.path());
    Engine::assert_set(&from_env, &uploads, "env");
    // The file's relative directory is relative to the file, not to the cwd.
    let elsewhere = TempDir::new("rsgi-config-", "engine-cwd");
    let file = dir.write(
        "engine.toml",
        "threads = 8
worker_connections = 500
reuse_port = true
\
         request_buffering = false
body_buffer_size = 0
tmp_upload_dir = \"uploads\"
\
         limit_request_body = 10000000
header_timeout = 0
body_timeout = 5
\
         send_timeout = 60
",
    );
    let from_file = run(
        &["app", "-c", file.to_str().expect("utf-8")],
        &[],
        elsewhere.path(),
    );
    Engine::assert_set(&from_file, &uploads, "file");
    // The command line still wins over the environment, which wins over the file.
    let mixed = run(
        &[
            "app",
            "-c",
            file.to_str().expect("utf-8"),
            "--reuse-port=off",
        ],
        &[("RSGI_REQUEST_BUFFERING", "1"), ("RSGI_THREADS", "2")],
        elsewhere.path(),
    );
    assert!(!mixed.sockets.reuse_port);
    assert!(mixed.http.request_buffering);
    assert_eq!(mixed.workers.threads, 2);
    assert_eq!(mixed.workers.connections, 500);
}

#[test]
fn unknown_file_key_names_key_and_file() {
    let dir = TempDir::new("rsgi-config-", "unknown-key");
    let file = dir.write("rsgi.toml", "workers = 2\nwrokers = 3\n");
    match load(args(&["app"]), &env(&[]), dir.path()) {
        Err(ConfigError::File { path, message }) => {
            assert_eq!(path, file);
            assert!(message.contains("wrokers"), "{message}");
            assert!(message.contains("line 2"), "{message}");
        }
        other => panic!("expected File error, got {other:?}"),
    }
}

#[test]
fn unknown_rsgi_variable_is_a_warning_naming_the_closest_setting() {
    let dir = TempDir::new("rsgi-config-", "unknown-env");
    let config = run(
        &["app"],
        &[("RSGI_WROKERS", "2"), ("RSGI_BIN", "/x")],
        dir.path(),
    );
    assert_eq!(config.workers.count, 1);
    let warnings = config.origin.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("RSGI_WROKERS") && w.contains("RSGI_WORKERS")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("RSGI_BIN") && w.contains("RSGI_BIND")),
        "{warnings:?}"
    );
    // Variables without the prefix are none of our business.
    run(&["app"], &[("RSGIX", "1"), ("HOME", "/")], dir.path());
}

#[test]
fn missing_app_and_cli_errors() {
    let dir = TempDir::new("rsgi-config-", "missing-app");
    assert!(matches!(
        load(args(&[]), &env(&[]), dir.path()),
        Err(ConfigError::Missing(_))
    ));
    match load(args(&["--version"]), &env(&[]), dir.path()) {
        Err(ConfigError::Cli(e)) => {
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
            assert!(e.to_string().contains("Python"), "{e}");
        }
        other => panic!("expected a clap error, got {other:?}"),
    }
    assert!(matches!(
        load(args(&["app", "--no-such-flag"]), &env(&[]), dir.path()),
        Err(ConfigError::Cli(_))
    ));
    assert!(matches!(
        load(args(&["app", "--check-config"]), &env(&[]), dir.path()),
        Ok(Invocation::CheckConfig(_))
    ));
}

#[test]
fn config_file_selection() {
    let dir = TempDir::new("rsgi-config-", "config-file");
    let elsewhere = dir.write("other.toml", "workers = 7\n");
    // An explicitly named file must exist.
    match load(args(&["app", "-c", "missing.toml"]), &env(&[]), dir.path()) {
        Err(ConfigError::File { path, .. }) => {
            assert_eq!(path, dir.path().join("missing.toml"))
        }
        other => panic!("expected File error, got {other:?}"),
    }
    assert_eq!(
        run(&["app", "-c", "other.toml"], &[], dir.path())
            .workers
            .count,
        7
    );
    assert_eq!(
        run(&["app"], &[("RSGI_CONFIG", "other.toml")], dir.path())
            .workers
            .count,
        7
    );
    dir.write("rsgi.toml", "workers = 5\n");
    assert_eq!(run(&["app"], &[], dir.path()).workers.count, 5);
    let config = run(
        &["app", "--config", elsewhere.to_str().expect("utf-8")],
        &[],
        dir.path(),
    );
    assert_eq!(config.workers.count, 7);
}

#[test]
fn relative_paths_resolve_against_their_source() {
    let project = TempDir::new("rsgi-config-", "project");
    std::fs::create_dir(project.path().join("src")).expect("mkdir");
    let file = project.write(
        "rsgi.toml",
        "chdir = \"src\"\nbind = \"unix:run/app.sock\"\npythonpath = [\"lib\"]\n",
    );
    let cwd = TempDir::new("rsgi-config-", "cwd");
    std::fs::create_dir(cwd.path().join("here")).expect("mkdir");
    let config = run(
        &[
            "app",
            "-c",
            file.to_str().expect("utf-8"),
            "--pythonpath",
            "mine",
        ],
        &[],
        cwd.path(),
    );
    assert_eq!(config.python.chdir, Some(project.path().join("src")));
    assert_eq!(
        config.sockets.binds,
        vec![BindAddr::Unix(project.path().join("run/app.sock"))]
    );
    assert_eq!(config.python.pythonpath, vec![cwd.path().join("mine")]);
    let config = run(&["app", "--chdir", "here"], &[], cwd.path());
    assert_eq!(config.python.chdir, Some(cwd.path().join("here")));
}

#[test]
fn print_config_round_trips() {
    let dir = TempDir::new("rsgi-config-", "print");
    std::fs::create_dir(dir.path().join("code")).expect("mkdir");
    dir.write("pyvenv.cfg", "");
    let list = [
        "myapp.wsgi:app",
        "--print-config",
        "-b",
        "[::1]:8001",
        "-b",
        "unix:app.sock",
        "-b",
        "fd://3",
        "-w",
        "3",
        "--chdir",
        "code",
        "--pythonpath",
        "a,b",
        "-e",
        "GREETING=hello, world",
        "--root-path",
        "/mount",
        "--timeout",
        "0",
        "--keep-alive",
        "0",
        "--graceful-timeout",
        "7",
        "--backlog",
        "100",
        "--virtualenv",
        ".",
        "--unix-socket-mode",
        "0660",
        "--log-level",
        "WARNING",
        "--threads",
        "4",
        "--worker-connections",
        "64",
        "--reuse-port",
        "--request-buffering=no",
        "--body-buffer-size",
        "4096",
        "--tmp-upload-dir",
        "code",
        "--limit-request-body",
        "123",
        "--header-timeout",
        "0",
        "--body-timeout",
        "9",
        "--send-timeout",
        "11",
        "--pid",
        "run/app.pid",
        "--user",
        "0",
        "--group",
        "0",
        "--umask",
        "027",
        "--name",
        "demo",
        "--daemon",
        "--initgroups",
        "--certfile",
        "tls/cert.pem",
        "--keyfile",
        "tls/key.pem",
        "--ca-certs",
        "tls/ca.pem",
        "--cert-reqs",
        "optional",
        "--ciphers",
        "TLS_AES_128_GCM_SHA256,ECDHE-ECDSA-AES256-GCM-SHA384",
        "--tls-min-version",
        "1.2",
        "--forwarded-allow-ips",
        "10.0.0.0/8,unix",
        "--secure-scheme-headers",
        "X-Scheme=https",
        "--proxy-protocol=v2",
        "--proxy-allow-from",
        "*",
    ];
    let (config, text) = match load(args(&list), &env(&[]), dir.path()) {
        Ok(Invocation::PrintConfig(config, text)) => (config, text),
        other => panic!("expected PrintConfig, got {other:?}"),
    };
    assert_eq!(config.sockets.unix_socket_mode, Some(0o660));
    assert_eq!(config.workers.timeout, None);
    assert_eq!(config.http.tmp_upload_dir, Some(dir.path().join("code")));
    assert_eq!(
        (config.sockets.reuse_port, config.http.request_buffering),
        (true, false)
    );
    assert_eq!(config.http.header_timeout, None);
    assert_eq!(config.http.limit_request_body, Some(123));
    assert!(text.contains("reuse_port = true\n"), "{text}");
    // The printed file, loaded from another directory, gives the same configuration.
    let other = TempDir::new("rsgi-config-", "print-elsewhere");
    let file = other.write("printed.toml", &text);
    let reloaded = run(&["-c", file.to_str().expect("utf-8")], &[], other.path());
    assert_eq!(reloaded.config_file, Some(ConfigSource::Toml(file)));
    assert_eq!(
        Config {
            config_file: None,
            ..reloaded
        },
        config,
        "{text}"
    );
    // Printing works without an application, and the output still round-trips.
    match load(args(&["--print-config"]), &env(&[]), dir.path()) {
        Ok(Invocation::PrintConfig(config, text)) => {
            assert_eq!(config.python.app, "");
            let layer: Layer = toml::from_str(&text).expect("printed TOML parses");
            assert_eq!(layer.app, None);
        }
        other => panic!("expected PrintConfig, got {other:?}"),
    }
}

#[test]
fn reload_rereads_file_and_keeps_overrides() {
    let dir = TempDir::new("rsgi-config-", "reload");
    let file = dir.write("rsgi.toml", "app = \"a:app\"\nworkers = 2\ntimeout = 10\n");
    let config = run(&["--timeout", "5"], &[("RSGI_KEEP_ALIVE", "9")], dir.path());
    assert_eq!(
        (config.workers.count, config.workers.timeout),
        (2, Some(Duration::from_secs(5)))
    );
    std::fs::write(
        &file,
        "app = \"b:app\"\nworkers = 3\ntimeout = 99\nkeep_alive = 1\n",
    )
    .expect("rewrite");
    let reloaded = config.reload().expect("reload");
    assert_eq!(reloaded.python.app, "b:app");
    assert_eq!(reloaded.workers.count, 3);
    assert_eq!(
        reloaded.workers.timeout,
        Some(Duration::from_secs(5)),
        "CLI still wins"
    );
    assert_eq!(
        reloaded.http.keep_alive,
        Some(Duration::from_secs(9)),
        "env still wins"
    );
    // A broken file is an error, and the running configuration is untouched.
    std::fs::write(&file, "workers = \"many\"\n").expect("rewrite");
    assert!(matches!(reloaded.reload(), Err(ConfigError::File { .. })));
    assert_eq!(reloaded.workers.count, 3);
    // A configuration built in code reloads as itself.
    let mut built = Config::default();
    built.workers.count = 4;
    assert_eq!(built.reload().expect("reload"), built);
}
