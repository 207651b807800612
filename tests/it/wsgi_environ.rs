//! The environ dict (PEP 3333 "environ Variables", CGI/1.1 RFC 3875 §4.1).

use crate::support::*;

#[test]
fn pep3333_keys_are_present_with_the_right_types() {
    let server = server("environ").start();
    let port = server.addr().port();
    let mut c = server.conn();
    let req = request(
        "GET",
        "/p?q=1",
        &[("Host", &format!("127.0.0.1:{port}"))],
        b"",
    );
    let env = c.roundtrip(&req).environ();
    for key in [
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "RAW_URI",
        "HTTP_HOST",
    ] {
        // PEP 3333: CGI keys are native strings.
        assert_eq!(env.type_of(key), "str", "{key}");
    }
    assert_eq!(env.str("REQUEST_METHOD"), "GET");
    assert_eq!(env.str("SCRIPT_NAME"), "");
    assert_eq!(env.str("SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(env.str("SERVER_PORT"), port.to_string());
    assert!(!env.str("SERVER_NAME").is_empty());
    assert_eq!(env.type_of("wsgi.version"), "tuple");
    assert_eq!(env.value("wsgi.version"), &serde_json::json!([1, 0]));
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(false));
    assert_eq!(env.value("wsgi.multiprocess"), &Json::Bool(false));
    assert_eq!(env.value("wsgi.run_once"), &Json::Bool(false));
    assert_eq!(env.value("wsgi.input_terminated"), &Json::Bool(true));
    for key in ["wsgi.input", "wsgi.errors", "wsgi.file_wrapper"] {
        assert!(env.has(key), "{key} missing");
    }
}

#[test]
fn remote_addr_and_port_name_each_connection_own_client() {
    // Made once per connection and reused by its later requests: each connection must
    // still see its own port, request after request.
    let server = server("environ").start();
    let mut conns = [server.conn(), server.conn()];
    for _ in 0..2 {
        for c in &mut conns {
            let env = c.roundtrip(&request("GET", "/", &[], b"")).environ();
            assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
            assert_eq!(env.str("REMOTE_PORT"), c.local_port().to_string());
        }
    }
}

#[test]
fn host_keys_follow_the_host_of_each_request_on_a_connection() {
    // The strings a Host value gives are kept for the connection's next request: a
    // different Host must still give its own keys, and a return to the first its own again.
    let server = server("environ").start();
    let mut c = server.conn();
    for (host, name) in [
        ("a.example:8080", "a.example"),
        ("a.example:8080", "a.example"),
        ("b.example", "b.example"),
        ("[::1]:9", "[::1]"),
        ("a.example:8080", "a.example"),
    ] {
        let env = c
            .roundtrip(&request("GET", "/", &[("Host", host)], b""))
            .environ();
        assert_eq!(env.str("HTTP_HOST"), host);
        assert_eq!(env.str("SERVER_NAME"), name, "{host}");
    }
    // An absolute-form target names the host, whatever Host says.
    let env = c
        .roundtrip(b"GET http://c.example:81/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n")
        .environ();
    assert_eq!(env.str("HTTP_HOST"), "c.example:81");
    assert_eq!(env.str("SERVER_NAME"), "c.example");
}

#[test]
fn every_request_on_a_connection_gets_the_environ_a_first_request_would() {
    // Later requests on a connection start from an environ the connection keeps: each must
    // still get, key for key and in the same order, what the same request gets as the first
    // on a new connection (the client's port aside), whatever the one before it was and
    // whatever the app did to its environ.
    let requests: [&[u8]; 10] = [
        b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
        b"POST /p?q=1 HTTP/1.1\r\nHost: a.example:8080\r\nContent-Length: 3\r\n\r\nabc",
        b"OPTIONS /x%20y HTTP/1.1\r\nHost: a.example:8080\r\nX-A: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-A: 1\r\nhost: b.example\r\n\r\n",
        b"GET http://c.example:81/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
        b"GET /q?x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
    ];
    // Loopback is a trusted proxy by default (as in gunicorn).
    for options in [&[][..], &["--forwarded-allow-ips", "192.0.2.1"][..]] {
        let server = server("cases.environ_order").args(options).start();
        let mut forwarded = Vec::new();
        let alone = |raw: &[u8]| -> String {
            let mut c = server.conn();
            let port = c.local_port();
            mask_port(&c.roundtrip(raw).text(), port)
        };
        let expected: Vec<String> = requests.iter().map(|r| alone(r)).collect();
        assert!(
            expected[0].contains("HTTP_HOST='a.example:8080'"),
            "{}",
            expected[0]
        );
        assert!(expected[2].contains("REQUEST_METHOD='POST'"));
        assert!(!expected[7].contains("HTTP_HOST"));
        let mut c = server.conn();
        let port = c.local_port();
        for round in 0..3 {
            for (raw, want) in requests.iter().zip(&expected) {
                let got = c.roundtrip(raw);
                assert_eq!(&mask_port(&got.text(), port), want, "round {round}");
            }
        }
        // Through a trusted proxy that says https: the scheme's keys, request after request.
        let via_proxy = b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-Proto: https\r\n\r\n";
        for _ in 0..3 {
            forwarded.push(mask_port(&c.roundtrip(via_proxy).text(), port));
        }
        assert!(forwarded.iter().all(|f| f == &alone(via_proxy)));
        let trusted = options.is_empty();
        assert_eq!(
            forwarded[2].contains("wsgi.url_scheme='https'"),
            trusted,
            "{}",
            forwarded[2]
        );
    }
}

#[test]
fn an_environ_handed_to_the_next_request_again_is_the_one_it_would_have_got() {
    // A keep-alive request with the same header names as the one before may get that
    // request's environ dict again, its values replaced: only when the app neither kept
    // nor changed it. Each must list, key for key and in order, what the same request gets
    // as the first on a new connection: with a pool of threads and with request IDs too.
    for options in [
        &[][..],
        &["--threads", "2"][..],
        &["--request-id-header", "X-Request-ID"][..],
    ] {
        environ_reuse_sequence(options);
    }
}

fn environ_reuse_sequence(options: &[&str]) {
    let server = server("cases.environ_reuse").args(options).start();
    let request = |path: &str, a: &str, cookie: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: h.example\r\nX-A: {a}\r\nCookie: {cookie}\r\n\r\n")
    };
    let twice = |path: &str, a: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: h.example\r\nX-A: {a}\r\nX-A: 2{a}\r\n\r\n")
    };
    let options = |path: &str, a: &str| request(path, a, "c").replacen("GET", "OPTIONS", 1);
    let http10 = |path: &str| {
        format!("GET {path}?v=1.0 HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n\r\n")
    };
    // Loopback is a trusted proxy, whose SCRIPT_NAME header sets SCRIPT_NAME. (A path
    // outside it is a 500, which closes the connection: no next request there.)
    let script =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: h.example\r\nSCRIPT_NAME: /mnt\r\n\r\n");
    let empty_body =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: h.example\r\nContent-Length: 0\r\n\r\n");
    let requests = [
        request("/one", "1", "c=1"),
        request("/two", "2", "c=2"),
        request("/three?q=3", "3", "c=3"),
        request("/four?q=4", "\u{e9}4", "c=4"),
        request("/five", "5", "c=5"),
        // Changed keys the next requests do not set: each must see the environ unchanged.
        request("/spoil-value", "6", "c=6"),
        request("/after-value", "7", "c=7"),
        request("/spoil-add", "8", "c=8"),
        request("/after-add", "9", "c=9"),
        request("/spoil-del", "10", "c=10"),
        request("/after-del", "11", "c=11"),
        // Repeated fields are joined once, not onto the previous request's values.
        twice("/twice", "a"),
        twice("/twice", "b"),
        request("/keep", "12", "c=12"),
        request("/after-keep", "13", "c=13"),
        options("/options-1", "14"),
        options("/options-2", "15"),
        http10("/http10-1"),
        http10("/http10-2"),
        empty_body("/empty-1"),
        empty_body("/empty-2"),
        script("/mnt/a"),
        script("/mnt/b"),
        request("/six", "16", "c=16"),
    ];
    // Pairs whose second request gets the first's dict again (same keys, left alone).
    let pairs = [(2, 3), (15, 16), (17, 18), (19, 20), (21, 22)];
    let alone = |raw: &str| -> String {
        let mut c = server.conn();
        let port = c.local_port();
        mask(&c.roundtrip(raw.as_bytes()).text(), port)
    };
    let expected: Vec<String> = requests.iter().map(|r| alone(r)).collect();
    // The requests are what they are meant to be.
    for (i, needle) in [
        (3, "HTTP_X_A='\u{e9}4'\n"),
        (12, "HTTP_X_A='b, 2b'\n"),
        (16, "REQUEST_METHOD='OPTIONS'\n"),
        (18, "SERVER_PROTOCOL='HTTP/1.0'\n"),
        (20, "CONTENT_LENGTH='0'\n"),
        (22, "SCRIPT_NAME='/mnt'\n"),
        (22, "PATH_INFO='/b'\n"),
    ] {
        assert!(expected[i].contains(needle), "{needle}: {}", expected[i]);
    }
    let mut c = server.conn();
    let port = c.local_port();
    for round in 0..2 {
        let mut ids = Vec::new();
        for (raw, want) in requests.iter().zip(&expected) {
            let got = c.roundtrip(raw.as_bytes());
            ids.push(got.header("X-Environ-Id").expect("named").to_owned());
            assert_eq!(&mask(&got.text(), port), want, "round {round}: {raw}");
        }
        for (first, second) in pairs {
            assert_eq!(
                ids[first], ids[second],
                "round {round}: {}",
                requests[second]
            );
        }
        // The request after one whose environ the app kept gets another dict. (After one
        // it changed, the dict is freed, and CPython may make the next from its memory.)
        assert_ne!(ids[13], ids[14], "round {round}");
    }
    // The environ the app kept is still its own request's, after the requests that came
    // after it on the connection.
    let kept = c.roundtrip(b"GET /kept HTTP/1.1\r\nHost: h.example\r\n\r\n");
    assert_eq!(mask(&kept.text(), port), expected[13]);
}

/// The environ listing with the client's port and the request's ID masked (each
/// connection and request has its own).
fn mask(listing: &str, port: u16) -> String {
    let listing = mask_port(listing, port);
    let key = "HTTP_X_REQUEST_ID='";
    match listing.find(key) {
        Some(at) => {
            let from = at + key.len();
            let to = from + listing[from..].find('\'').expect("quoted");
            format!("{}*{}", &listing[..from], &listing[to..])
        }
        None => listing,
    }
}

#[test]
fn what_an_app_attaches_to_its_environ_goes_when_its_request_ends() {
    // The server may hold a request's environ for the connection's next request; not one
    // the app put things in, which must go with the request, as before, even while the
    // connection stays open.
    let server = server("cases.environ_reuse").start();
    let attach = b"GET /attach HTTP/1.1\r\nHost: h.example\r\n\r\n";
    let mut open = server.conn();
    for _ in 0..3 {
        assert_eq!(open.roundtrip(attach).status(), 200);
    }
    let mut other = server.conn();
    let alive = other.roundtrip(b"GET /attached HTTP/1.1\r\nHost: h.example\r\n\r\n");
    assert_eq!(alive.text(), "0 alive\n");
    assert_eq!(open.roundtrip(attach).status(), 200);
}

/// The environ listing with the client's port replaced (each connection has its own).
fn mask_port(listing: &str, port: u16) -> String {
    listing.replace(&format!("REMOTE_PORT='{port}'"), "REMOTE_PORT=*")
}

#[test]
fn header_keys_keep_the_order_a_host_first_request_sent_them_in() {
    // As under gunicorn: an app listing its headers in environ order (Django's
    // request.headers, httpbin's /stream) sees Host where a client sends it, first.
    let server = server("cases.header_order").start();
    let mut c = server.conn();
    let order = |c: &mut Conn, raw: &[u8]| c.roundtrip(raw).text();
    assert_eq!(
        order(
            &mut c,
            b"GET / HTTP/1.1\r\nHost: h\r\nX-B: 1\r\nX-A: 2\r\nAccept: */*\r\n\r\n"
        ),
        "HTTP_HOST\nHTTP_X_B\nHTTP_X_A\nHTTP_ACCEPT\n"
    );
    // Without a host, no HTTP_HOST at all (not a placeholder).
    let mut c = server.conn();
    assert_eq!(
        order(&mut c, b"GET / HTTP/1.0\r\nX-A: 2\r\n\r\n"),
        "HTTP_X_A\n"
    );
    // An absolute-form target names the host.
    let mut c = server.conn();
    assert_eq!(
        order(&mut c, b"GET http://a.example/ HTTP/1.0\r\nX-A: 2\r\n\r\n"),
        "HTTP_HOST\nHTTP_X_A\n"
    );
}

#[test]
fn server_port_is_the_port_the_request_was_received_on() {
    // RFC 3875 §4.1.15: "the TCP/IP port number on which this request is received from the
    // client", whatever port the Host names (as gunicorn, waitress and granian report it).
    let server = server("environ").start();
    let port = server.addr().port().to_string();
    let mut c = server.conn();
    for host in ["example", "example:8080", "[::1]:9", "example:8080"] {
        let env = c
            .roundtrip(&request("GET", "/", &[("Host", host)], b""))
            .environ();
        assert_eq!(env.str("SERVER_PORT"), port, "Host: {host}");
    }
    let env = c
        .roundtrip(b"GET http://c.example:81/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n")
        .environ();
    assert_eq!(env.str("SERVER_PORT"), port, "absolute-form target");
}

#[test]
fn on_a_unix_socket_server_port_is_the_host_port_or_the_scheme_default() {
    // A Unix socket has no port: as gunicorn does, the Host's port stands in, else the
    // scheme's default.
    let dir = TempDir::new();
    let sock = dir.path().join("s.sock");
    let server = server("environ")
        .no_default_bind()
        .bind(format!("unix:{}", sock.display()))
        .start();
    let mut c = Conn::unix(&server.unix_path());
    for (host, name, port) in [
        ("example:8080", "example", "8080"),
        ("example", "example", "80"),
    ] {
        let env = c
            .roundtrip(&request("GET", "/", &[("Host", host)], b""))
            .environ();
        assert_eq!(env.str("SERVER_NAME"), name, "Host: {host}");
        assert_eq!(env.str("SERVER_PORT"), port, "Host: {host}");
    }
}

#[test]
fn path_info_is_percent_decoded_as_latin1_and_raw_uri_is_raw() {
    let server = server("environ").start();
    let mut c = server.conn();
    let target = "/caf%C3%A9/a%20b%2Fc?x=%C3%A9&y=a+b";
    let env = c.roundtrip(&get_req(target)).environ();
    // UTF-8 bytes C3 A9 decoded one byte per char (latin-1), as PEP 3333 requires.
    assert_eq!(env.str("PATH_INFO"), "/caf\u{c3}\u{a9}/a b/c");
    assert_eq!(env.str("QUERY_STRING"), "x=%C3%A9&y=a+b");
    assert_eq!(env.str("RAW_URI"), target);
}

#[test]
fn query_string_is_present_and_empty_without_a_query() {
    let server = server("environ").start();
    let env = server.get("/plain").environ();
    assert_eq!(env.str("QUERY_STRING"), "");
    assert_eq!(env.str("PATH_INFO"), "/plain");
}

#[test]
fn http_headers_become_http_keys_and_repeats_are_joined() {
    let server = server("environ").start();
    let mut c = server.conn();
    let req = request(
        "GET",
        "/",
        &[
            ("X-Custom-Thing", "one"),
            ("Accept", "text/html"),
            ("Accept", "application/json"),
            ("x-lower-case", "low"),
        ],
        b"",
    );
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.str("HTTP_X_CUSTOM_THING"), "one");
    assert_eq!(env.str("HTTP_ACCEPT"), "text/html, application/json");
    assert_eq!(env.str("HTTP_X_LOWER_CASE"), "low");
    assert_eq!(env.str("HTTP_HOST"), "localhost");
}

#[test]
fn header_with_underscore_is_dropped_so_it_cannot_spoof_a_dash_header() {
    let server = server("environ").start();
    let mut c = server.conn();
    // Both map to HTTP_X_AUTH_USER; a proxy that strips X-Auth-User would let X_Auth_User
    // through, so the underscore form must be ignored (as nginx and gunicorn do).
    let req = request(
        "GET",
        "/",
        &[("X_Auth_User", "attacker"), ("X-Auth-User", "alice")],
        b"",
    );
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.str("HTTP_X_AUTH_USER"), "alice");
    let req = request("GET", "/", &[("X_Only_Underscore", "spoof")], b"");
    let env = c.roundtrip(&req).environ();
    assert!(!env.has("HTTP_X_ONLY_UNDERSCORE"));
}

#[test]
fn content_type_and_length_have_no_http_prefix() {
    let server = server("environ").start();
    let mut c = server.conn();
    let req = request("POST", "/", &[("Content-Type", "text/plain")], b"12345");
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.str("CONTENT_TYPE"), "text/plain");
    assert_eq!(env.str("CONTENT_LENGTH"), "5");
    assert!(!env.has("HTTP_CONTENT_TYPE"));
    assert!(!env.has("HTTP_CONTENT_LENGTH"));
    assert_eq!(env.body_length(), 5);
}

#[test]
fn content_type_and_length_absent_when_not_sent() {
    let server = server("environ").start();
    let env = server.get("/").environ();
    assert!(!env.has("CONTENT_TYPE"), "keys: {:?}", env.keys());
    assert!(!env.has("CONTENT_LENGTH"), "keys: {:?}", env.keys());
    assert_eq!(env.body_length(), 0);
}

#[test]
fn remote_addr_and_port_are_the_client_socket() {
    let server = server("environ").start();
    let mut c = server.conn();
    let local = c.try_clone_tcp().local_addr().unwrap();
    let env = c.roundtrip(&get_req("/")).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(env.str("REMOTE_PORT"), local.port().to_string());
}

#[test]
fn non_ascii_header_value_is_latin1_decoded() {
    let server = server("environ").start();
    let mut c = server.conn();
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Latin: caf".to_vec();
    req.push(0xE9); // obs-text (RFC 9110 §5.5)
    req.extend(b"\r\n\r\n");
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.str("HTTP_X_LATIN"), "caf\u{e9}");
}

#[test]
fn extension_methods_are_passed_through() {
    let server = server("environ").start();
    let mut c = server.conn();
    let env = c.roundtrip(&request("PURGE", "/x", &[], b"")).environ();
    assert_eq!(env.str("REQUEST_METHOD"), "PURGE");
}

#[test]
fn root_path_sets_script_name_and_strips_matching_prefix() {
    let server = server("environ").args(["--root-path", "/prefix"]).start();
    let env = server.get("/prefix/foo/bar?z=1").environ();
    assert_eq!(env.str("SCRIPT_NAME"), "/prefix");
    assert_eq!(env.str("PATH_INFO"), "/foo/bar");
    assert_eq!(env.str("QUERY_STRING"), "z=1");
    // A path outside the prefix keeps its PATH_INFO intact.
    let env = server.get("/elsewhere").environ();
    assert_eq!(env.str("SCRIPT_NAME"), "/prefix");
    assert_eq!(env.str("PATH_INFO"), "/elsewhere");
}

#[test]
fn process_environment_is_not_in_environ() {
    let server = server("environ")
        .env("ZZ_RSGI_LEAK_PROBE", "leaked")
        .args(["-e", "ZZ_RSGI_DASH_E_PROBE=also"])
        .start();
    let env = server.get("/").environ();
    for key in ["ZZ_RSGI_LEAK_PROBE", "ZZ_RSGI_DASH_E_PROBE", "PATH", "HOME"] {
        assert!(!env.has(key), "{key} leaked into environ");
    }
}

#[test]
fn dash_e_sets_the_worker_process_environment() {
    let server = server("cases.introspect")
        .args(["-e", "RSGI_PROBE_ONE=first", "--env", "ZZ_PROBE_TWO=a=b"])
        .start();
    let report = server.get("/?env=RSGI_PROBE_ONE&env=ZZ_PROBE_TWO").json();
    assert_eq!(report["env"]["RSGI_PROBE_ONE"].as_str(), Some("first"));
    // Only the first '=' separates name and value.
    assert_eq!(report["env"]["ZZ_PROBE_TWO"].as_str(), Some("a=b"));
}

#[test]
fn wsgi_errors_writes_reach_the_server_stderr() {
    let mut server = server("cases.responses").start();
    assert_eq!(server.get("/errors").text(), "logged\n");
    server.wait_for_line("errors-write-probe");
    server.wait_for_line("errors-writelines-probe-1");
    server.wait_for_line("errors-writelines-probe-2");
}
