//! uWSGI's own HTTP router (`uwsgi --http --http-to`) as a second real client of the uwsgi
//! listeners, over TCP and a Unix socket: its packets carry a different set of variables
//! than nginx's (no DOCUMENT_ROOT, `UWSGI_ROUTER`), and the same requests must work.

use crate::support::uwsgi_router::{self, Router};
use crate::support::*;
use crate::uwsgi_nginx::uwsgi_addr;

#[test]
fn environ_and_upload_through_uwsgis_router_over_tcp() {
    let Some(uwsgi) = uwsgi_router::command() else {
        return;
    };
    let server = server("environ").bind("uwsgi://127.0.0.1:0").start();
    let router = Router::start(&uwsgi, &uwsgi_addr(&server).to_string());
    let mut conn = Conn::tcp(router.addr());
    let port = conn.local_port();
    let body = pattern(700_000);
    let env = conn
        .roundtrip(&request(
            "POST",
            "/a%20b/c?x=%41",
            &[("X-Thing", "yes"), ("Content-Type", "application/x-t")],
            &body,
        ))
        .environ();
    assert_eq!(env.str("PATH_INFO"), "/a b/c");
    assert_eq!(env.str("QUERY_STRING"), "x=%41");
    assert_eq!(env.str("REQUEST_METHOD"), "POST");
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    // uWSGI 2.0's router sends the port with its bytes swapped (49646 arrives as 61121):
    // the variable is reported as sent, which is all a server can do.
    let swapped = port.swap_bytes().to_string();
    let sent = env.str("REMOTE_PORT");
    assert!(
        sent == port.to_string() || sent == swapped,
        "{sent} for {port}"
    );
    assert_eq!(env.str("HTTP_X_THING"), "yes");
    assert_eq!(env.str("CONTENT_TYPE"), "application/x-t");
    assert_eq!(env.str("UWSGI_ROUTER"), "http");
    assert_eq!(env.body_length(), body.len() as i64);
    assert_eq!(env.body_crc32(), crc32(0, &body));
}

#[test]
fn streamed_and_file_responses_through_uwsgis_router_over_a_unix_socket() {
    let Some(uwsgi) = uwsgi_router::command() else {
        return;
    };
    let dir = TempDir::new();
    let data = pattern(2 * 1024 * 1024 + 5);
    let file = dir.write("f.bin", &data);
    let sock = dir.join("app.sock");
    for (app, target) in [
        ("stream", "/?chunks=30&size=10000"),
        ("download", "/?nolength=1"),
    ] {
        let _server = server(app)
            .bind(format!("uwsgi://unix:{}", sock.display()))
            .env("DOWNLOAD_FILE", &file)
            .start();
        let router = Router::start(&uwsgi, sock.to_str().expect("utf-8"));
        let response = Conn::tcp(router.addr()).roundtrip(&get_req(target));
        assert_eq!(response.status(), 200, "{app}");
        let expected: Vec<u8> = match app {
            "stream" => (0..30u8).flat_map(|i| vec![b'A' + i % 26; 10000]).collect(),
            _ => data.clone(),
        };
        assert!(
            response.body == expected,
            "{app}: {} bytes",
            response.body.len()
        );
    }
}
