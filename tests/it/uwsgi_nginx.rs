//! The uwsgi protocol as nginx speaks it: a real nginx (`uwsgi_pass` with Debian's stock
//! `uwsgi_params`) in front of the server, over a Unix socket and over TCP. The environ is
//! what the parameters say (PATH_INFO decoded by nginx, REMOTE_ADDR the client's), bodies go
//! up (a chunked one buffered by nginx) and down (streamed, file_wrapper), and an app error
//! and a `--timeout` reach the client as 500 and 504.

use crate::support::nginx::{self, Nginx, UWSGI_PARAMS};
use crate::support::*;

/// How nginx reaches the server.
#[derive(Clone, Copy)]
enum Over {
    Unix,
    Tcp,
}

/// The server (with `args`) on one uwsgi listener, and nginx in front of it with
/// `locations` (`{pass}` stands for the `uwsgi_pass` target).
struct Stack {
    server: Server,
    nginx: Nginx,
    _dir: TempDir,
}

impl Stack {
    fn start(app: &str, over: Over, args: &[&str], locations: &str) -> Stack {
        let dir = TempDir::new();
        let bind = match over {
            Over::Unix => format!("uwsgi://unix:{}", dir.join("app.sock").display()),
            Over::Tcp => "uwsgi://127.0.0.1:0".to_owned(),
        };
        let server = server(app).bind(&bind).args(args).start();
        let pass = match over {
            Over::Unix => format!("unix:{}", dir.join("app.sock").display()),
            Over::Tcp => uwsgi_addr(&server).to_string(),
        };
        let nginx = Nginx::start(&locations.replace("{pass}", &pass));
        Stack {
            server,
            nginx,
            _dir: dir,
        }
    }

    /// The usual front end: every path to the app with the stock parameters.
    fn plain(app: &str, over: Over, args: &[&str]) -> Stack {
        Stack::start(
            app,
            over,
            args,
            &format!("location / {{ include {UWSGI_PARAMS}; uwsgi_pass {{pass}}; }}"),
        )
    }

    fn conn(&self) -> Conn {
        Conn::tcp(self.nginx.addr())
    }

    fn get(&self, target: &str) -> Response {
        self.conn().roundtrip(&get_req(target))
    }
}

/// The address of the server's first `uwsgi://` TCP listener.
pub fn uwsgi_addr(server: &Server) -> std::net::SocketAddr {
    server
        .urls
        .iter()
        .find_map(|u| u.strip_prefix("uwsgi://").and_then(|a| a.parse().ok()))
        .unwrap_or_else(|| panic!("no uwsgi TCP listener in {:?}", server.urls))
}

fn environ_is_the_stock_parameters(over: Over) {
    if !nginx::available() {
        return;
    }
    let stack = Stack::plain("environ", over, &[]);
    let mut conn = stack.conn();
    let port = conn.local_port();
    let env = conn
        .roundtrip(&request(
            "GET",
            "/caf%C3%A9/a%2Fb?x=%20y&z",
            &[("X-Custom-Thing", "v1"), ("User-Agent", "t/1")],
            b"",
        ))
        .environ();
    // nginx decodes the path once ($document_uri); the bytes reach the app as latin-1.
    assert_eq!(env.str("PATH_INFO"), "/caf\u{c3}\u{a9}/a/b");
    assert_eq!(env.str("QUERY_STRING"), "x=%20y&z");
    assert_eq!(env.str("REQUEST_URI"), "/caf%C3%A9/a%2Fb?x=%20y&z");
    assert_eq!(env.str("REQUEST_METHOD"), "GET");
    assert_eq!(env.str("SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(env.str("REQUEST_SCHEME"), "http");
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.str("SCRIPT_NAME"), "");
    // The client as nginx saw it, not nginx's own connection.
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(env.str("REMOTE_PORT"), port.to_string());
    assert_eq!(env.str("SERVER_NAME"), "localhost");
    assert_eq!(
        env.str("SERVER_PORT"),
        stack.nginx.addr().port().to_string()
    );
    assert_eq!(env.str("HTTP_HOST"), "localhost");
    assert_eq!(env.str("HTTP_X_CUSTOM_THING"), "v1");
    assert_eq!(env.str("HTTP_USER_AGENT"), "t/1");
    assert!(env.has("DOCUMENT_ROOT"));
    // `HTTPS $https if_not_empty`: not sent for http.
    assert!(!env.has("HTTPS"));
    assert_eq!(env.body_length(), 0);
}

#[test]
fn environ_over_a_unix_socket_is_the_stock_uwsgi_params() {
    environ_is_the_stock_parameters(Over::Unix);
}

#[test]
fn environ_over_tcp_is_the_stock_uwsgi_params() {
    environ_is_the_stock_parameters(Over::Tcp);
}

#[test]
fn script_name_https_and_modifier1_30_come_from_the_parameters() {
    if !nginx::available() {
        return;
    }
    let locations = format!(
        "location /app/ {{ include {UWSGI_PARAMS}; uwsgi_param SCRIPT_NAME /app; \
         uwsgi_modifier1 30; uwsgi_pass {{pass}}; }}\n\
         location /plain/ {{ include {UWSGI_PARAMS}; uwsgi_param SCRIPT_NAME /plain; \
         uwsgi_pass {{pass}}; }}\n\
         location / {{ include {UWSGI_PARAMS}; uwsgi_param HTTPS on; uwsgi_pass {{pass}}; }}"
    );
    let stack = Stack::start("environ", Over::Unix, &[], &locations);
    let env = stack.get("/app/x/y").environ();
    assert_eq!(env.str("SCRIPT_NAME"), "/app");
    assert_eq!(env.str("PATH_INFO"), "/x/y");
    // modifier1 0: PATH_INFO stays as sent (uWSGI's behaviour too).
    let env = stack.get("/plain/x").environ();
    assert_eq!(env.str("SCRIPT_NAME"), "/plain");
    assert_eq!(env.str("PATH_INFO"), "/plain/x");
    let env = stack.get("/z").environ();
    assert_eq!(env.str("HTTPS"), "on");
    assert_eq!(env.str("wsgi.url_scheme"), "https");
}

#[test]
fn root_path_is_script_name_when_the_packet_has_none() {
    if !nginx::available() {
        return;
    }
    let stack = Stack::plain("environ", Over::Tcp, &["--root-path", "/mnt"]);
    let env = stack.get("/mnt/page").environ();
    assert_eq!(env.str("SCRIPT_NAME"), "/mnt");
    assert_eq!(env.str("PATH_INFO"), "/page");
}

#[test]
fn an_upload_arrives_whole_over_both_transports() {
    if !nginx::available() {
        return;
    }
    for over in [Over::Unix, Over::Tcp] {
        let stack = Stack::plain("environ", over, &[]);
        let body = pattern(3 * 1024 * 1024 + 17);
        let env = stack
            .conn()
            .roundtrip(&request(
                "POST",
                "/up",
                &[("Content-Type", "application/x-test")],
                &body,
            ))
            .environ();
        assert_eq!(env.str("CONTENT_LENGTH"), body.len().to_string());
        assert_eq!(env.str("CONTENT_TYPE"), "application/x-test");
        assert_eq!(env.body_length(), body.len() as i64);
        assert_eq!(env.body_crc32(), crc32(0, &body));
    }
}

#[test]
fn a_chunked_upload_is_buffered_by_nginx_and_arrives_with_its_length() {
    if !nginx::available() {
        return;
    }
    let stack = Stack::plain("environ", Over::Unix, &[]);
    let body = pattern(200_000);
    let env = stack
        .conn()
        .roundtrip(&chunked_post("/chunked", &body, 7000))
        .environ();
    assert_eq!(env.str("CONTENT_LENGTH"), body.len().to_string());
    assert!(!env.has("HTTP_TRANSFER_ENCODING"), "{:?}", env.keys());
    assert_eq!(env.body_length(), body.len() as i64);
    assert_eq!(env.body_crc32(), crc32(0, &body));
}

#[test]
fn a_streamed_response_goes_through_without_chunk_markers() {
    if !nginx::available() {
        return;
    }
    let stack = Stack::plain("stream", Over::Tcp, &[]);
    for query in ["chunks=40&size=16384", "chunks=40&size=16384&length=1"] {
        let response = stack.get(&format!("/?{query}"));
        assert_eq!(response.status(), 200);
        assert!(response.complete);
        let expected: Vec<u8> = (0..40u8).flat_map(|i| vec![b'A' + i % 26; 16384]).collect();
        assert!(response.body == expected, "{query}: body differs");
    }
    // nginx found every response well-formed (no chunk markers, no premature close).
    let errors = stack.nginx.error_log();
    assert!(!errors.contains("upstream"), "{errors}");
}

#[test]
fn file_wrapper_responses_go_through() {
    if !nginx::available() {
        return;
    }
    let dir = TempDir::new();
    let data = pattern(5 * 1024 * 1024 + 3);
    let file = dir.write("big.bin", &data);
    let dir2 = TempDir::new();
    let bind = format!("uwsgi://unix:{}", dir2.join("app.sock").display());
    let _server = server("download")
        .bind(&bind)
        .env("DOWNLOAD_FILE", &file)
        .start();
    let nginx = Nginx::start(&format!(
        "location / {{ include {UWSGI_PARAMS}; uwsgi_pass unix:{}; }}",
        dir2.join("app.sock").display()
    ));
    for target in ["/", "/?nolength=1", "/?block=1000"] {
        let response = Conn::tcp(nginx.addr()).roundtrip(&get_req(target));
        assert_eq!(response.status(), 200, "{target}");
        assert!(response.complete, "{target}");
        assert!(
            response.body == data,
            "{target}: {} bytes",
            response.body.len()
        );
    }
}

#[test]
fn an_app_error_is_a_500_through_nginx_and_the_worker_lives() {
    if !nginx::available() {
        return;
    }
    let stack = Stack::plain("raises", Over::Unix, &[]);
    let first = stack.server.worker_pid();
    assert_eq!(stack.get("/before").status(), 500);
    assert_eq!(stack.get("/after-start").status(), 500);
    assert_eq!(stack.get("/ok").status(), 200);
    assert!(Server::is_alive(first));
}

#[test]
fn a_timeout_is_a_504_through_nginx() {
    if !nginx::available() {
        return;
    }
    let mut stack = Stack::plain("cases.stuck", Over::Tcp, &["--timeout", "1"]);
    let first = stack.server.worker_pid();
    let mut conn = stack.conn();
    conn.send(&get_req("/sleep"));
    stack.server.wait_for_line("stuck /sleep");
    let response = conn.read_response();
    assert_eq!(response.status(), 504, "{}", response.text());
    stack
        .server
        .wait_for_line(&format!("Worker (pid: {first}) exited after its timeout"));
    stack.server.wait_for_lines("Worker ready (pid: ", 2);
    let next = stack.get("/");
    assert_eq!(next.status(), 200);
    assert!(!next.text().contains(&format!("pid={first}")));
}

#[test]
fn the_access_log_names_the_client_nginx_served() {
    if !nginx::available() {
        return;
    }
    let dir = TempDir::new();
    let log = dir.join("access.log");
    let stack = Stack::plain(
        "hello",
        Over::Unix,
        &["--access-logfile", log.to_str().expect("utf-8")],
    );
    let mut conn = stack.conn();
    let port = conn.local_port();
    let response = conn.roundtrip(&request(
        "GET",
        "/logged?q=1",
        &[("User-Agent", "agent/7"), ("Referer", "http://r/")],
        b"",
    ));
    assert_eq!(response.status(), 200);
    let line = logs::wait_for_lines(&log, "/logged?q=1", 1).remove(0);
    // Over a Unix socket the peer has no address: this one is the packet's REMOTE_ADDR.
    assert!(line.starts_with("127.0.0.1 "), "{line}");
    assert!(line.contains("\"GET /logged?q=1 HTTP/1.1\" 200"), "{line}");
    assert!(line.contains("\"http://r/\" \"agent/7\""), "{line}");
    let _ = port;
}
