//! Each group of settings: what it accepts, what it refuses and why.

use super::*;

#[test]
fn http_limit_options() {
    let dir = TempDir::new("rsgi-config-", "limits");
    let config = run(&["app"], &[], dir.path());
    assert_eq!(config.http.limits, crate::http::Limits::default());
    assert_eq!(
        (
            config.http.limits.request_line,
            config.http.limits.header_count,
            config.http.limits.header_field_size,
            config.http.limits.chunk_line,
            config.http.limits.trailer_size,
        ),
        (4094, 100, 8190, 4096, 8190),
        "gunicorn's defaults"
    );
    assert_eq!(config.http.limits.head_size, 65536);
    let head = |v: &str| {
        run(&["app", "--limit-request-head", v], &[], dir.path())
            .http
            .limits
            .head_size
    };
    assert_eq!(head("1000"), 1000);
    assert_eq!(head("0"), usize::MAX, "0: no cap of its own");
    let config = run(
        &[
            "app",
            "--limit-request-line",
            "100",
            "--limit-request-fields",
            "7",
            "--limit-request-field-size",
            "200",
            "--limit-chunk-ext-size",
            "50",
            "--limit-trailer-size",
            "0",
        ],
        &[],
        dir.path(),
    );
    let l = &config.http.limits;
    assert_eq!(
        (l.request_line, l.header_count, l.header_field_size),
        (100, 7, 200)
    );
    assert_eq!((l.chunk_line, l.trailer_size), (50, 0));
    // Gunicorn's 0 ("unlimited") is the documented maximum, never unbounded.
    let config = run(
        &[
            "app",
            "--limit-request-line=0",
            "--limit-request-fields=0",
            "--limit-request-field-size=0",
        ],
        &[],
        dir.path(),
    );
    let l = &config.http.limits;
    assert_eq!(
        (l.request_line, l.header_count, l.header_field_size),
        (
            http::MAX_REQUEST_LINE as usize,
            http::MAX_REQUEST_FIELDS as usize,
            http::MAX_FIELD_SIZE as usize
        )
    );
    // From the environment and the file too.
    dir.write(
        "rsgi.toml",
        "limit_request_fields = 12\nlimit_trailer_size = 99\n",
    );
    let config = run(&["app"], &[("RSGI_LIMIT_REQUEST_LINE", "555")], dir.path());
    let l = &config.http.limits;
    assert_eq!(
        (l.request_line, l.header_count, l.trailer_size),
        (555, 12, 99)
    );
}

#[test]
fn http_limit_options_refuse_bad_values() {
    let dir = TempDir::new("rsgi-config-", "limits-bad");
    for (list, option, value) in [
        (
            &["--limit-request-line", "-1"][..],
            "--limit-request-line",
            "-1",
        ),
        (
            &["--limit-request-line", "65537"],
            "--limit-request-line",
            "65537",
        ),
        (
            &["--limit-request-line", "4k"],
            "--limit-request-line",
            "4k",
        ),
        (
            &["--limit-request-fields", "32769"],
            "--limit-request-fields",
            "32769",
        ),
        (
            &["--limit-request-fields", "-5"],
            "--limit-request-fields",
            "-5",
        ),
        (
            &["--limit-request-field-size", "65537"],
            "--limit-request-field-size",
            "65537",
        ),
        (
            &["--limit-chunk-ext-size", "0"],
            "--limit-chunk-ext-size",
            "0",
        ),
        (
            &["--limit-chunk-ext-size", "65537"],
            "--limit-chunk-ext-size",
            "65537",
        ),
        (
            &["--limit-request-head", "16777217"],
            "--limit-request-head",
            "16777217",
        ),
        (
            &["--limit-request-head", "-1"],
            "--limit-request-head",
            "-1",
        ),
        (
            &["--limit-trailer-size", "-1"],
            "--limit-trailer-size",
            "-1",
        ),
        (
            &["--limit-trailer-size", "65537"],
            "--limit-trailer-size",
            "65537",
        ),
    ] {
        let mut full = vec!["app"];
        full.extend_from_slice(list);
        assert_invalid(&full, &[], dir.path(), option, value);
    }
    // The message says what is allowed, including what 0 means.
    match load(
        args(&["app", "--limit-request-fields", "40000"]),
        &env(&[]),
        dir.path(),
    ) {
        Err(ConfigError::Invalid { allowed, .. }) => {
            assert!(allowed.contains("0 to 32768"), "{allowed}");
            assert!(allowed.contains("0 means 32768"), "{allowed}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_invalid(
        &["app"],
        &[("RSGI_LIMIT_TRAILER_SIZE", "100000")],
        dir.path(),
        "RSGI_LIMIT_TRAILER_SIZE",
        "100000",
    );
    dir.write("rsgi.toml", "limit_chunk_ext_size = 0\n");
    assert_invalid(&["app"], &[], dir.path(), "limit_chunk_ext_size (in ", "0");
}

#[test]
fn hygiene_options() {
    let dir = TempDir::new("rsgi-config-", "hygiene");
    let config = run(&["app"], &[], dir.path());
    assert_eq!(
        (
            config.process.pid.clone(),
            config.process.owner.user,
            config.process.owner.group,
            config.process.umask
        ),
        (None, None, None, None)
    );
    assert!(!config.process.daemon && !config.process.initgroups && !config.sockets.binds_explicit);
    assert_eq!(config.process.proc_name, None);
    // Names resolve to ids; --user alone brings its primary group; relative pid files
    // are relative to where they were written.
    let config = run(
        &[
            "app", "-u", "root", "-m", "0o22", "-p", "x.pid", "-n", "web", "-D",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(
        (config.process.owner.user, config.process.owner.group),
        (Some(0), Some(0))
    );
    assert_eq!(config.process.umask, Some(0o22));
    assert_eq!(config.process.pid, Some(dir.path().join("x.pid")));
    assert_eq!(config.process.proc_name.as_deref(), Some("web"));
    assert!(config.process.daemon);
    let config = run(
        &["app", "--group", "0", "--proc-name", "w2"],
        &[("RSGI_INITGROUPS", "yes")],
        dir.path(),
    );
    assert_eq!(
        (config.process.owner.user, config.process.owner.group),
        (None, Some(0))
    );
    assert_eq!(config.process.proc_name.as_deref(), Some("w2"));
    assert!(config.process.initgroups);
    // A uid with a group given is fine even without a passwd entry.
    let config = run(
        &["app", "--user", "4000000", "--group", "0"],
        &[],
        dir.path(),
    );
    assert_eq!(config.process.owner.user, Some(4_000_000));
    // Where the binds came from decides what inherited sockets serve.
    assert!(
        run(&["app", "-b", "127.0.0.1:1"], &[], dir.path())
            .sockets
            .binds_explicit
    );
    assert!(
        run(&["app"], &[("PORT", "5000")], dir.path())
            .sockets
            .binds_explicit
    );

    let bad: &[(&[&str], &str, &str)] = &[
        (
            &["app", "--user", "no-such-user-rsgi"],
            "--user",
            "no-such-user-rsgi",
        ),
        (
            &["app", "--group", "no-such-group-rsgi"],
            "--group",
            "no-such-group-rsgi",
        ),
        (&["app", "--user", "4000000"], "--user", "4000000"),
        (&["app", "--umask", "8"], "--umask", "8"),
        (&["app", "--umask", "1777"], "--umask", "1777"),
        (&["app", "--name", ""], "--proc-name", ""),
        (
            &["app", "--user", "4000000", "--group", "0", "--initgroups"],
            "--initgroups",
            "true",
        ),
    ];
    for (list, option, value) in bad {
        assert_invalid(list, &[], dir.path(), option, value);
    }
    assert_invalid(
        &["app"],
        &[("RSGI_USER", "no-such-user-rsgi")],
        dir.path(),
        "RSGI_USER",
        "no-such-user-rsgi",
    );
}

#[test]
fn log_levels() {
    for level in [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
    ] {
        assert_eq!(level.as_str().parse(), Ok(level));
        assert_eq!(level.as_str().to_uppercase().parse(), Ok(level));
    }
    assert_eq!("warn".parse::<LogLevel>(), Err(()));
}

#[test]
fn recycling_options() {
    let dir = TempDir::new("rsgi-config-", "recycling");
    let defaults = run(&["app"], &[], dir.path());
    assert_eq!(defaults.recycle.max_requests, None);
    assert_eq!(defaults.recycle.max_requests_jitter, 0);
    assert_eq!(defaults.recycle.max_worker_lifetime, None);
    assert_eq!(defaults.recycle.max_worker_lifetime_jitter, Duration::ZERO);
    assert_eq!(defaults.recycle.max_worker_memory, None);
    let set = run(
        &[
            "app",
            "--max-requests",
            "1000",
            "--max-requests-jitter",
            "50",
            "--max-worker-lifetime",
            "3600",
            "--max-worker-lifetime-jitter",
            "60",
        ],
        &[("RSGI_MAX_WORKER_MEMORY", "512")],
        dir.path(),
    );
    assert_eq!(set.recycle.max_requests, Some(1000));
    assert_eq!(set.recycle.max_requests_jitter, 50);
    assert_eq!(
        set.recycle.max_worker_lifetime,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        set.recycle.max_worker_lifetime_jitter,
        Duration::from_secs(60)
    );
    assert_eq!(set.recycle.max_worker_memory, Some(512 << 20));
    // --print-config writes them back as they were given.
    let printed = set.origin.settings();
    assert_eq!(printed.max_worker_memory, Some(512));
    assert_eq!(printed.max_worker_lifetime, Some(3600));
    for (option, value) in [
        ("--max-requests", "-1"),
        ("--max-requests-jitter", "x"),
        ("--max-worker-lifetime", "-5"),
        ("--max-worker-lifetime-jitter", "1.5"),
        ("--max-worker-memory", "-1"),
        ("--max-worker-memory", "2G"),
    ] {
        assert_invalid(&["app", option, value], &[], dir.path(), option, value);
    }
}

#[test]
fn logging_settings() {
    let dir = TempDir::new("rsgi-config-", "logging");
    let config = run(&["app"], &[], dir.path());
    assert_eq!(config.logging.error_logfile, None);
    assert_eq!(config.logging.access_logfile, None);
    assert_eq!(
        config.origin.settings().access_log_format.as_deref(),
        Some(crate::logging::access::DEFAULT_FORMAT)
    );
    assert_eq!(
        config.logging.access_log_format,
        crate::logging::access::Format::compile(crate::logging::access::DEFAULT_FORMAT, &[])
            .expect("the default compiles")
    );
    assert_eq!(config.logging.format, LogFormat::Text);
    assert!(!config.logging.capture_output);

    let config = run(
        &[
            "app",
            "--log-file",
            "err.log",
            "--access-logfile",
            "-",
            "--log-format",
            "JSON",
            "--capture-output",
            "--access-log-format",
            "%(s)s",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(
        config.logging.error_logfile,
        Some(dir.path().join("err.log"))
    );
    assert_eq!(config.logging.access_logfile, Some(LogTarget::Stdout));
    assert_eq!(config.logging.format, LogFormat::Json);
    assert!(config.logging.capture_output);
    assert_eq!(
        config.origin.settings().access_log_format.as_deref(),
        Some("%(s)s")
    );

    let file = dir.write(
        "rsgi.toml",
        "error_logfile = \"-\"\naccess_logfile = \"logs/a.log\"\ncapture_output = \"yes\"\n",
    );
    let config = run(&["app", "-c", file.to_str().unwrap()], &[], dir.path());
    assert_eq!(config.logging.error_logfile, None);
    assert_eq!(
        config.logging.access_logfile,
        Some(LogTarget::File(dir.path().join("logs/a.log")))
    );
    assert!(config.logging.capture_output);
    // --print-config writes them back.
    let settings = config.origin.settings();
    assert_eq!(settings.error_logfile, Some(PathBuf::from("-")));
    assert_eq!(settings.access_logfile, Some(dir.path().join("logs/a.log")));
}

#[test]
fn bad_logging_values_name_option_and_value() {
    let dir = TempDir::new("rsgi-config-", "logging-bad");
    let d = dir.path().to_str().expect("utf-8");
    assert_invalid(
        &["app", "--log-format", "xml"],
        &[],
        dir.path(),
        "--log-format",
        "xml",
    );
    assert_invalid(
        &["app", "--access-log-format", "%(h)s %(zz)s"],
        &[],
        dir.path(),
        "--access-log-format",
        "%(zz)s",
    );
    assert_invalid(
        &["app", "--access-log-format", "50%"],
        &[],
        dir.path(),
        "--access-log-format",
        "50%",
    );
    assert_invalid(
        &["app", "--error-logfile", d],
        &[],
        dir.path(),
        "--error-logfile",
        d,
    );
    assert_invalid(
        &["app", "--access-logfile", d],
        &[],
        dir.path(),
        "--access-logfile",
        d,
    );
    assert_invalid(
        &["app"],
        &[("RSGI_LOG_FORMAT", "yaml")],
        dir.path(),
        "RSGI_LOG_FORMAT",
        "yaml",
    );
    assert_invalid(
        &["app", "--capture-output=maybe"],
        &[],
        dir.path(),
        "--capture-output",
        "maybe",
    );
}

#[test]
fn python_operations_options() {
    let dir = TempDir::new("rsgi-config-", "python-ops");
    let config = run(&["app"], &[], dir.path());
    assert!(!config.python.preload && !config.python.reload);
    assert_eq!(config.python.hooks, None);
    assert!(config.python.reload_extra_files.is_empty());

    dir.write("hooks.py", "def on_starting(server): pass\n");
    let config = run(
        &[
            "app",
            "--preload",
            "--reload=true",
            "--hooks",
            "hooks.py",
            "--reload-extra-file",
            "a.txt",
            "--reload-extra-file",
            "b.txt",
        ],
        &[],
        dir.path(),
    );
    assert!(config.python.preload && config.python.reload);
    assert_eq!(
        config.python.hooks.as_deref().map(Path::new),
        Some(dir.path().join("hooks.py").as_path()),
        "a hooks file is resolved where it was written"
    );
    assert_eq!(
        config.python.reload_extra_files,
        vec![dir.path().join("a.txt"), dir.path().join("b.txt")]
    );
    let config = run(&["app"], &[("RSGI_HOOKS", "myproj.hooks")], dir.path());
    assert_eq!(config.python.hooks.as_deref(), Some("myproj.hooks"));
    // A config round trip keeps them.
    assert_eq!(
        config.origin.settings().hooks.as_deref(),
        Some("myproj.hooks")
    );

    assert_invalid(
        &["app", "--hooks", "missing.py"],
        &[],
        dir.path(),
        "--hooks",
        "missing.py",
    );
    assert_invalid(
        &["app", "--hooks", "my-hooks"],
        &[],
        dir.path(),
        "--hooks",
        "my-hooks",
    );
    assert_invalid(
        &["app", "--preload=maybe"],
        &[],
        dir.path(),
        "--preload",
        "maybe",
    );
}

#[test]
fn tls_options() {
    let dir = TempDir::new("rsgi-config-", "tls");
    let config = run(
        &[
            "app",
            "--certfile",
            "c.pem",
            "--keyfile",
            "k.pem",
            "--ca-certs",
            "ca.pem",
            "--cert-reqs",
            "2",
            "--ciphers",
            "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384",
            "--tls-min-version",
            "TLSv1.3",
        ],
        &[],
        dir.path(),
    );
    // Relative to where they were written, like every other path.
    assert_eq!(config.tls.certfile, Some(dir.path().join("c.pem")));
    assert_eq!(config.tls.keyfile, Some(dir.path().join("k.pem")));
    assert_eq!(config.tls.ca_certs, Some(dir.path().join("ca.pem")));
    assert_eq!(config.tls.cert_reqs, CertReqs::Required);
    assert_eq!(
        config.tls.ciphers,
        [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384"
        ]
    );
    assert_eq!(config.tls.min_version, TlsVersion::Tls13);
    let defaults = run(&["app"], &[], dir.path());
    assert_eq!(defaults.tls.certfile, None);
    assert_eq!(defaults.tls.cert_reqs, CertReqs::None);
    assert_eq!(defaults.tls.min_version, TlsVersion::Tls12);
    assert!(defaults.tls.ciphers.is_empty());
    for reqs in ["none", "0", "CERT_NONE"] {
        let c = run(&["app", "--cert-reqs", reqs], &[], dir.path());
        assert_eq!(c.tls.cert_reqs, CertReqs::None, "{reqs}");
    }
}

#[test]
fn tls_option_errors() {
    let dir = TempDir::new("rsgi-config-", "tls-errors");
    let cwd = dir.path();
    let tls = ["app", "--certfile", "c.pem", "--keyfile", "k.pem"];
    // One file without the other names the missing one.
    assert_invalid(&["app", "--certfile", "c.pem"], &[], cwd, "--keyfile", "");
    assert_invalid(&["app", "--keyfile", "k.pem"], &[], cwd, "--certfile", "");
    assert_invalid(
        &[&tls[..], &["--cert-reqs", "sometimes"]].concat(),
        &[],
        cwd,
        "--cert-reqs",
        "sometimes",
    );
    // Client certificates need TLS and a CA to verify them against.
    assert_invalid(
        &["app", "--cert-reqs", "required"],
        &[],
        cwd,
        "--cert-reqs",
        "required",
    );
    assert_invalid(
        &[&tls[..], &["--cert-reqs", "optional"]].concat(),
        &[],
        cwd,
        "--cert-reqs",
        "optional",
    );
    assert_invalid(
        &[&tls[..], &["--tls-min-version", "1.1"]].concat(),
        &[],
        cwd,
        "--tls-min-version",
        "1.1",
    );
    assert_invalid(
        &[&tls[..], &["--ciphers", "HIGH:!aNULL"]].concat(),
        &[],
        cwd,
        "--ciphers",
        "HIGH",
    );
    // TLS 1.3 only, with TLS 1.2 suites only: nothing could be negotiated.
    assert_invalid(
        &[
            &tls[..],
            &[
                "--tls-min-version",
                "1.3",
                "--ciphers",
                "ECDHE-RSA-AES128-GCM-SHA256",
            ],
        ]
        .concat(),
        &[],
        cwd,
        "--ciphers",
        "ECDHE-RSA",
    );
    // The environment and the file speak the same language.
    assert_invalid(
        &["app"],
        &[("RSGI_CERT_REQS", "3")],
        cwd,
        "RSGI_CERT_REQS",
        "3",
    );
    // In the file, gunicorn's numbers may be written as numbers.
    dir.write(
        "rsgi.toml",
        "certfile = \"c.pem\"\nkeyfile = \"k.pem\"\nca_certs = \"ca.pem\"\n\
         cert_reqs = 2\ntls_min_version = 1.3\n",
    );
    let config = run(&["app"], &[], cwd);
    assert_eq!(config.tls.cert_reqs, CertReqs::Required);
    assert_eq!(config.tls.min_version, TlsVersion::Tls13);
    assert_eq!(config.tls.ca_certs, Some(cwd.join("ca.pem")));
}

#[test]
fn proxy_options() {
    use crate::proxy::Mode;
    let dir = TempDir::new("rsgi-config-", "proxy");
    let local: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
    let remote: std::net::IpAddr = "10.1.2.3".parse().expect("ip");
    let config = run(&["app"], &[], dir.path());
    assert!(config.proxy.forwarded_allow_ips.allows_ip(local));
    assert!(
        config
            .proxy
            .forwarded_allow_ips
            .allows_ip("::1".parse().expect("ip"))
    );
    assert!(!config.proxy.forwarded_allow_ips.allows_ip(remote));
    assert!(
        !config
            .proxy
            .forwarded_allow_ips
            .allows(&crate::peer::Peer::Unix)
    );
    assert_eq!(
        config.proxy.forwarded_allow_ips,
        config.proxy.proxy_allow_ips
    );
    assert_eq!(
        config.proxy.secure_scheme_headers,
        [
            ("X-FORWARDED-PROTOCOL", "ssl"),
            ("X-FORWARDED-PROTO", "https"),
            ("X-FORWARDED-SSL", "on")
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(config.proxy.proxy_protocol, Mode::Off);

    let config = run(
        &[
            "app",
            "--forwarded-allow-ips",
            "10.0.0.0/8, unix",
            "--secure-scheme-headers",
            "Front-End-Https=on,X-Forwarded-Proto=https",
            "--proxy-protocol",
            "--proxy-allow-from",
            "192.0.2.1",
        ],
        &[],
        dir.path(),
    );
    assert!(config.proxy.forwarded_allow_ips.allows_ip(remote));
    assert!(!config.proxy.forwarded_allow_ips.allows_ip(local));
    assert!(
        config
            .proxy
            .forwarded_allow_ips
            .allows(&crate::peer::Peer::Unix)
    );
    assert_eq!(config.proxy.secure_scheme_headers.len(), 2);
    assert_eq!(
        config.proxy.proxy_protocol,
        Mode::Auto,
        "the bare flag means auto"
    );
    assert!(
        config
            .proxy
            .proxy_allow_ips
            .allows_ip("192.0.2.1".parse().expect("ip"))
    );
    assert!(!config.proxy.proxy_allow_ips.allows_ip(local));
    for (value, mode) in [("v1", Mode::V1), ("v2", Mode::V2), ("off", Mode::Off)] {
        let flag = format!("--proxy-protocol={value}");
        assert_eq!(
            run(&["app", &flag], &[], dir.path()).proxy.proxy_protocol,
            mode
        );
    }

    // gunicorn's variable, and ours over it; an empty header list believes none.
    let config = run(
        &["app", "--secure-scheme-headers", ""],
        &[("FORWARDED_ALLOW_IPS", "*"), ("RSGI_PROXY_PROTOCOL", "v1")],
        dir.path(),
    );
    assert!(config.proxy.forwarded_allow_ips.allows_ip(remote));
    assert!(config.proxy.secure_scheme_headers.is_empty());
    assert_eq!(config.proxy.proxy_protocol, Mode::V1);
    let config = run(
        &["app"],
        &[
            ("FORWARDED_ALLOW_IPS", "*"),
            ("RSGI_FORWARDED_ALLOW_IPS", "192.0.2.0/24"),
        ],
        dir.path(),
    );
    assert!(!config.proxy.forwarded_allow_ips.allows_ip(remote));

    // A config file: gunicorn's dict and boolean.
    let file = dir.write(
        "proxy.toml",
        "app = \"a:app\"\nproxy_protocol = true\nforwarded_allow_ips = [\"10.0.0.1\"]\n\
         [secure_scheme_headers]\n\"X-FORWARDED-PROTO\" = \"https\"\n",
    );
    let config = run(&["-c", file.to_str().expect("utf-8")], &[], dir.path());
    assert_eq!(config.proxy.proxy_protocol, Mode::Auto);
    assert_eq!(
        config.proxy.secure_scheme_headers,
        vec![("X-FORWARDED-PROTO".to_owned(), "https".to_owned())]
    );
    assert!(
        config
            .proxy
            .forwarded_allow_ips
            .allows_ip("10.0.0.1".parse().expect("ip"))
    );
}

#[test]
fn bad_proxy_options_name_option_and_value() {
    let dir = TempDir::new("rsgi-config-", "proxy-bad");
    let bad: &[(&[&str], &str, &str)] = &[
        (
            &["app", "--forwarded-allow-ips", "10.0.0.0/33"],
            "--forwarded-allow-ips",
            "10.0.0.0/33",
        ),
        (
            &["app", "--forwarded-allow-ips", "localhost"],
            "--forwarded-allow-ips",
            "localhost",
        ),
        (
            &["app", "--proxy-allow-ips", "10.1.2.3/8"],
            "--proxy-allow-ips",
            "10.1.2.3/8",
        ),
        (&["app", "--proxy-protocol=v3"], "--proxy-protocol", "v3"),
        (
            &["app", "--secure-scheme-headers", "X-Proto"],
            "--secure-scheme-headers",
            "X-Proto",
        ),
        (
            &["app", "--secure-scheme-headers", "X Proto=https"],
            "--secure-scheme-headers",
            "X Proto=https",
        ),
    ];
    for (list, option, value) in bad {
        assert_invalid(list, &[], dir.path(), option, value);
    }
    assert_invalid(
        &["app"],
        &[("RSGI_PROXY_ALLOW_IPS", "nope")],
        dir.path(),
        "RSGI_PROXY_ALLOW_IPS",
        "nope",
    );
}
