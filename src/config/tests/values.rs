//! How values may be written, and the errors that name a bad one.

use super::*;

#[test]
fn range_limits_are_accepted() {
    let dir = TempDir::new("rsgi-config-", "limits");
    let config = run(
        &[
            "app",
            "--threads=1024",
            "--worker-connections=1000000",
            "--body-buffer-size=4294967295",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(config.workers.threads, 1024);
    assert_eq!(config.workers.connections, 1_000_000);
    assert_eq!(config.http.body_buffer_size, u64::from(u32::MAX));
    let config = run(
        &["app", "--threads=1", "--worker-connections=1"],
        &[],
        dir.path(),
    );
    assert_eq!((config.workers.threads, config.workers.connections), (1, 1));
}

#[test]
fn booleans_accept_every_spelling() {
    let dir = TempDir::new("rsgi-config-", "booleans");
    let spellings = [
        ("true", true),
        ("TRUE", true),
        ("on", true),
        ("Yes", true),
        ("1", true),
        ("false", false),
        ("Off", false),
        ("NO", false),
        ("0", false),
    ];
    for (word, want) in spellings {
        let flag = format!("--reuse-port={word}");
        assert_eq!(
            run(&["app", &flag], &[], dir.path()).sockets.reuse_port,
            want,
            "{flag}"
        );
        let flag = format!("--request-buffering={word}");
        let config = run(&["app", &flag], &[], dir.path());
        assert_eq!(config.http.request_buffering, want, "{flag}");
        let vars = [("RSGI_REUSE_PORT", word), ("RSGI_REQUEST_BUFFERING", word)];
        let config = run(&["app"], &vars, dir.path());
        assert_eq!(
            (config.sockets.reuse_port, config.http.request_buffering),
            (want, want)
        );
        let file = dir.write("b.toml", &format!("reuse_port = \"{word}\"\n"));
        let config = run(
            &["app", "-c", file.to_str().expect("utf-8")],
            &[],
            dir.path(),
        );
        assert_eq!(config.sockets.reuse_port, want, "TOML string {word:?}");
    }
    // The bare flag means true, also for a setting whose default is already true.
    assert!(
        run(&["app", "--reuse-port"], &[], dir.path())
            .sockets
            .reuse_port
    );
    let config = run(&["app", "--request-buffering"], &[], dir.path());
    assert!(config.http.request_buffering);
    // A bare flag does not swallow the next argument: that stays the application.
    let config = run(&["--reuse-port", "app"], &[], dir.path());
    assert_eq!(
        (config.python.app.as_str(), config.sockets.reuse_port),
        ("app:application", true)
    );
    for (text, want) in [("true", true), ("false", false)] {
        let file = dir.write("b.toml", &format!("request_buffering = {text}\n"));
        let config = run(
            &["app", "-c", file.to_str().expect("utf-8")],
            &[],
            dir.path(),
        );
        assert_eq!(config.http.request_buffering, want, "TOML {text}");
    }
}

#[test]
fn bad_booleans_name_option_value_and_spellings() {
    let dir = TempDir::new("rsgi-config-", "bad-booleans");
    for (list, vars, option, value) in [
        (
            &["app", "--reuse-port=maybe"][..],
            &[][..],
            "--reuse-port",
            "maybe",
        ),
        (
            &["app", "--request-buffering=2"],
            &[],
            "--request-buffering",
            "2",
        ),
        (&["app", "--reuse-port="], &[], "--reuse-port", ""),
        (
            &["app"],
            &[("RSGI_REUSE_PORT", "enable")],
            "RSGI_REUSE_PORT",
            "enable",
        ),
        (
            &["app"],
            &[("RSGI_REQUEST_BUFFERING", "nope")],
            "RSGI_REQUEST_BUFFERING",
            "nope",
        ),
    ] {
        assert_invalid(list, vars, dir.path(), option, value);
        match load(args(list), &env(vars), dir.path()) {
            Err(ConfigError::Invalid {
                option: o, allowed, ..
            }) => {
                assert!(!o.contains('['), "{o}: the flag as users type it");
                assert!(
                    allowed.contains("true/false, on/off, yes/no or 1/0"),
                    "{allowed}"
                );
            }
            other => panic!("{list:?}: {other:?}"),
        }
    }
    // TOML: neither a boolean nor one of the words.
    for text in [
        "reuse_port = \"maybe\"",
        "request_buffering = 2",
        "reuse_port = 1.5",
    ] {
        let file = dir.write("bad.toml", &format!("{text}\n"));
        match load(
            args(&["app", "-c", file.to_str().expect("utf-8")]),
            &env(&[]),
            dir.path(),
        ) {
            Err(ConfigError::File { path, message }) => {
                assert_eq!(path, file);
                let key = text.split(' ').next().expect("key");
                assert!(message.contains(key), "{message}");
                assert!(message.contains("a boolean"), "{message}");
            }
            other => panic!("{text}: expected a File error, got {other:?}"),
        }
    }
}

/// Command-line values every one of which is refused: the arguments (after the app), the
/// option the error must name, and the value it must show.
const BAD_FLAGS: &[(&[&str], &str, &str)] = &[
    (&["--workers", "0"], "--workers", "0"),
    (&["--workers", "x"], "--workers", "x"),
    (&["--workers=1025"], "--workers", "1025"),
    (&["-w", "-3"], "--workers", "-3"),
    (&["-b", "::1:80"], "--bind", "::1:80"),
    (&["-b", "localhost"], "--bind", "localhost"),
    (&["-b", "localhost:99999"], "--bind", "localhost:99999"),
    (&["-b", "fd://x"], "--bind", "fd://x"),
    (&["-b", "127.0.0.1:1", "-b", "unix:"], "--bind", "unix:"),
    (&["--root-path", "app"], "--root-path", "app"),
    (&["--root-path", "/app/"], "--root-path", "/app/"),
    (&["--root-path", "/"], "--root-path", "/"),
    (&["-e", "=x"], "--env", "=x"),
    (&["-e", "NOVALUE"], "--env", "NOVALUE"),
    (&["--log-level", "loud"], "--log-level", "loud"),
    (&["--unix-socket-mode", "999"], "--unix-socket-mode", "999"),
    (&["--unix-socket-mode", "rw"], "--unix-socket-mode", "rw"),
    (&["--timeout", "-1"], "--timeout", "-1"),
    (
        &["--graceful-timeout", "soon"],
        "--graceful-timeout",
        "soon",
    ),
    (&["--keep-alive", "-2"], "--keep-alive", "-2"),
    (&["--backlog", "0"], "--backlog", "0"),
    (&["--backlog", "65536"], "--backlog", "65536"),
    (&["--threads", "0"], "--threads", "0"),
    (&["--threads", "1025"], "--threads", "1025"),
    (&["--threads", "many"], "--threads", "many"),
    (&["--worker-connections", "0"], "--worker-connections", "0"),
    (
        &["--worker-connections", "1000001"],
        "--worker-connections",
        "1000001",
    ),
    (
        &["--worker-connections=lots"],
        "--worker-connections",
        "lots",
    ),
    (&["--body-buffer-size", "-1"], "--body-buffer-size", "-1"),
    (
        &["--body-buffer-size", "4294967296"],
        "--body-buffer-size",
        "4294967296",
    ),
    (&["--body-buffer-size", "1M"], "--body-buffer-size", "1M"),
    (
        &["--limit-request-body", "-1"],
        "--limit-request-body",
        "-1",
    ),
    (
        &["--limit-request-body", "10k"],
        "--limit-request-body",
        "10k",
    ),
    (&["--header-timeout", "-1"], "--header-timeout", "-1"),
    (&["--header-timeout", "soon"], "--header-timeout", "soon"),
    (&["--body-timeout", "-5"], "--body-timeout", "-5"),
    (&["--body-timeout", "1.5"], "--body-timeout", "1.5"),
    (&["--send-timeout", "-1"], "--send-timeout", "-1"),
    (&["--send-timeout", "never"], "--send-timeout", "never"),
    (
        &["--tmp-upload-dir", "no/such/dir"],
        "--tmp-upload-dir",
        "no/such/dir",
    ),
    (&["--chdir", "no/such/dir"], "--chdir", "no/such/dir"),
    (
        &["--virtualenv", "missing-venv"],
        "--virtualenv",
        "missing-venv",
    ),
    (&["x y:app"], "APP", "x y:app"),
];

#[test]
fn bad_command_line_values_name_option_and_value() {
    let dir = TempDir::new("rsgi-config-", "bad-values");
    for (list, option, value) in BAD_FLAGS {
        let mut all = vec!["app"];
        if list[0] == "x y:app" {
            all.clear();
        }
        all.extend_from_slice(list);
        assert_invalid(&all, &[], dir.path(), option, value);
    }
}

#[test]
fn bad_values_from_the_environment_and_files_name_their_source() {
    let dir = TempDir::new("rsgi-config-", "bad-values");
    let no_cfg = TempDir::new("rsgi-config-", "venv-without-cfg");
    let d = dir.path().to_str().expect("utf-8 temp dir");
    let venv = no_cfg.path().to_str().expect("utf-8 temp dir");
    assert_invalid(
        &["app", "--virtualenv", venv],
        &[],
        dir.path(),
        "--virtualenv",
        venv,
    );
    match load(args(&["app", "--virtualenv", venv]), &env(&[]), dir.path()) {
        Err(e) => assert!(e.to_string().contains("pyvenv.cfg"), "{e}"),
        Ok(_) => panic!("a virtualenv without pyvenv.cfg was accepted"),
    }
    let missing = format!("{d}/nope");
    assert_invalid(
        &["app"],
        &[("VIRTUAL_ENV", &missing)],
        dir.path(),
        "VIRTUAL_ENV",
        &missing,
    );
    assert_invalid(
        &["app"],
        &[("RSGI_WORKERS", "0")],
        dir.path(),
        "RSGI_WORKERS",
        "0",
    );
    assert_invalid(
        &["app"],
        &[("RSGI_BIND", "nope")],
        dir.path(),
        "RSGI_BIND",
        "nope",
    );
    assert_invalid(
        &["app"],
        &[("RSGI_THREADS", "0")],
        dir.path(),
        "RSGI_THREADS",
        "0",
    );
    assert_invalid(
        &["app"],
        &[("RSGI_BODY_BUFFER_SIZE", "big")],
        dir.path(),
        "RSGI_BODY_BUFFER_SIZE",
        "big",
    );
    assert_invalid(
        &["app"],
        &[("RSGI_TMP_UPLOAD_DIR", &missing)],
        dir.path(),
        "RSGI_TMP_UPLOAD_DIR",
        &missing,
    );
    // A file is not a directory.
    let not_dir = dir.write("not-a-dir", "");
    let not_dir = not_dir.to_str().expect("utf-8");
    assert_invalid(
        &["app", "--tmp-upload-dir", not_dir],
        &[],
        dir.path(),
        "--tmp-upload-dir",
        not_dir,
    );
    match load(
        args(&["app", "--tmp-upload-dir", not_dir]),
        &env(&[]),
        dir.path(),
    ) {
        Err(e) => assert!(e.to_string().contains("an existing directory"), "{e}"),
        Ok(_) => panic!("a regular file was accepted as tmp_upload_dir"),
    }
    dir.write("rsgi.toml", "worker_connections = 0\n");
    assert_invalid(&["app"], &[], dir.path(), "worker_connections (in ", "0");
    dir.write("rsgi.toml", "tmp_upload_dir = \"gone\"\n");
    assert_invalid(&["app"], &[], dir.path(), "tmp_upload_dir (in ", "gone");
    dir.write("rsgi.toml", "limit_request_body = -1\n");
    assert_invalid(&["app"], &[], dir.path(), "limit_request_body (in ", "-1");
    dir.write("rsgi.toml", "workers = 0\n");
    assert_invalid(&["app"], &[], dir.path(), "workers (in ", "0");
    assert_invalid(&["app"], &[], dir.path(), "rsgi.toml", "0");
}

#[test]
fn a_valid_virtualenv_is_accepted() {
    let dir = TempDir::new("rsgi-config-", "venv");
    dir.write("pyvenv.cfg", "home = /usr/bin\n");
    let config = run(
        &["app"],
        &[("VIRTUAL_ENV", dir.path().to_str().expect("utf-8"))],
        dir.path(),
    );
    assert_eq!(config.python.virtualenv.as_deref(), Some(dir.path()));
    // An explicit --virtualenv wins over $VIRTUAL_ENV.
    let other = TempDir::new("rsgi-config-", "venv-other");
    other.write("pyvenv.cfg", "");
    let config = run(
        &["app", "--virtualenv", other.path().to_str().expect("utf-8")],
        &[("VIRTUAL_ENV", "/nonexistent")],
        dir.path(),
    );
    assert_eq!(config.python.virtualenv.as_deref(), Some(other.path()));
}
