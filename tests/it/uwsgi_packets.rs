//! uwsgi listeners at the socket level: packets cut short, bodies cut short, bytes after a
//! packet, limits, peers not allowed, and uwsgi beside HTTP on one server. A refused packet
//! closes its connection unanswered and is logged; the worker lives on.

use crate::support::*;
use crate::uwsgi_nginx::uwsgi_addr;
use rsgi_server::uwsgi::packet::encode;

/// The environ a complete answer on `conn` carries (the connection must close after it).
fn answered_environ(conn: &mut Conn) -> Environ {
    let bytes = conn
        .read_until_closed()
        .expect("the server closes after answering");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response: {text:?}"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    Environ::parse(body)
}

fn get_packet(path: &str) -> Vec<u8> {
    encode(0, &[(b"PATH_INFO", path.as_bytes())], b"")
}

#[test]
fn a_packet_sent_byte_by_byte_is_served_once_and_the_connection_closed() {
    let server = server("environ").bind("uwsgi://127.0.0.1:0").start();
    let packet = encode(
        0,
        &[
            (b"REQUEST_METHOD", b"PUT"),
            (b"PATH_INFO", b"/bytes"),
            (b"CONTENT_LENGTH", b"6"),
        ],
        b"abcdef",
    );
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    for byte in &packet {
        conn.send(std::slice::from_ref(byte));
    }
    let env = answered_environ(&mut conn);
    assert_eq!(env.str("PATH_INFO"), "/bytes");
    assert_eq!(env.body_length(), 6);
    assert_eq!(env.body_crc32(), crc32(0, b"abcdef"));
}

#[test]
fn bytes_after_a_packet_are_never_a_second_request() {
    let server = server("environ").bind("uwsgi://127.0.0.1:0").start();
    let mut two = get_packet("/first");
    two.extend_from_slice(&get_packet("/second"));
    two.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    conn.send(&two);
    let bytes = conn.read_until_closed().expect("closed");
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    assert!(text.contains("\"/first\""), "{text}");
    assert!(!text.contains("/second"), "{text}");
}

#[test]
fn a_connection_cut_in_the_header_or_the_body_reaches_no_app() {
    let mut server = server("environ")
        .bind("uwsgi://127.0.0.1:0")
        .args(["--access-logfile", "-"])
        .start();
    let addr = uwsgi_addr(&server);
    let worker = server.worker_pid();
    let full = encode(0, &[(b"CONTENT_LENGTH", b"10")], b"01234");
    // Cut in the header, in the variables, and five bytes short of the body.
    for cut in [2, 7, full.len()] {
        let mut conn = Conn::tcp(addr);
        conn.send(&full[..cut]);
        conn.shutdown_write();
        let answer = conn.read_until_closed().expect("closed");
        assert!(answer.is_empty(), "cut at {cut}: {answer:?}");
    }
    let mut conn = Conn::tcp(addr);
    conn.send(&get_packet("/after"));
    let env = answered_environ(&mut conn);
    assert_eq!(env.pid(), worker);
    // Only the last request reached the app (and the access log).
    server
        .stdout
        .wait_count(1, |l| l.contains("\"GET /after HTTP/1.1\" 200"))
        .expect("logged");
    assert_eq!(server.stdout.count(|l| l.contains("\" 200 ")), 1);
}

#[test]
fn a_block_over_the_head_limit_is_refused_from_its_header() {
    let mut server = server("environ")
        .bind("uwsgi://127.0.0.1:0")
        .args(["--limit-request-head", "200"])
        .start();
    let addr = uwsgi_addr(&server);
    let long = vec![b'x'; 300];
    let mut conn = Conn::tcp(addr);
    // Only the header: refused before the block is waited for.
    conn.send(&encode(0, &[(b"HTTP_X", &long)], b"")[..4]);
    assert!(conn.read_until_closed().expect("closed").is_empty());
    let line = server.wait_for_line("uwsgi packet from 127.0.0.1 refused");
    assert!(
        line.contains("exceeds the request head limit of 200"),
        "{line}"
    );
    // At the limit it is served.
    let at = vec![b'x'; 200 - 2 - 6 - 2];
    let mut conn = Conn::tcp(addr);
    conn.send(&encode(0, &[(b"HTTP_X", &at)], b""));
    assert_eq!(answered_environ(&mut conn).str("HTTP_X").len(), at.len());
}

#[test]
fn more_than_a_thousand_variables_are_refused() {
    let mut server = server("environ").bind("uwsgi://127.0.0.1:0").start();
    let names: Vec<String> = (0..1001).map(|i| format!("HTTP_V{i}")).collect();
    let vars: Vec<(&[u8], &[u8])> = names.iter().map(|n| (n.as_bytes(), &b"1"[..])).collect();
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    conn.send(&encode(0, &vars, b""));
    assert!(conn.read_until_closed().expect("closed").is_empty());
    let line = server.wait_for_line("uwsgi packet from 127.0.0.1 refused");
    assert!(line.contains("more than 1000 variables"), "{line}");
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    conn.send(&encode(0, &vars[..1000], b""));
    assert_eq!(answered_environ(&mut conn).str("HTTP_V999"), "1");
}

#[test]
fn a_body_over_the_limit_is_answered_413_unread() {
    let server = server("environ")
        .bind("uwsgi://127.0.0.1:0")
        .args(["--limit-request-body", "100"])
        .start();
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    conn.send(&encode(0, &[(b"CONTENT_LENGTH", b"101")], &[b'b'; 101]));
    let bytes = conn.read_until_closed().expect("closed");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
}

#[test]
fn request_buffering_off_streams_the_body_to_the_app() {
    let server = server("upload")
        .bind("uwsgi://127.0.0.1:0")
        .arg("--request-buffering=false")
        .start();
    let body = pattern(300_000);
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    conn.send(&encode(
        0,
        &[
            (b"REQUEST_METHOD", b"POST"),
            (b"QUERY_STRING", b"mode=summary"),
            (b"CONTENT_LENGTH", body.len().to_string().as_bytes()),
        ],
        &body,
    ));
    let bytes = conn.read_until_closed().expect("closed");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.ends_with(&format!("\r\n\r\n{} {}", body.len(), crc32(0, &body))),
        "{text}"
    );
}

#[test]
fn peers_not_allowed_are_closed_and_unix_clients_always_allowed() {
    let dir = TempDir::new();
    let sock = dir.join("app.sock");
    let mut server = server("environ")
        .bind("uwsgi://127.0.0.1:0")
        .bind(format!("uwsgi://unix:{}", sock.display()))
        .args(["--uwsgi-allow-from", "192.0.2.1"])
        .start();
    let mut conn = Conn::tcp(uwsgi_addr(&server));
    // Whatever it would send, it is closed before a byte is read.
    let _ = conn.try_send(&get_packet("/"));
    assert!(conn.read_until_closed().expect("closed").is_empty());
    let line = server.wait_for_line("closed: not in --uwsgi-allow-from");
    assert!(line.contains("uwsgi connection from 127.0.0.1"), "{line}");
    let mut conn = Conn::unix(&sock);
    conn.send(&encode(
        0,
        &[(b"PATH_INFO", b"/u"), (b"REMOTE_ADDR", b"198.51.100.7")],
        b"",
    ));
    let env = answered_environ(&mut conn);
    assert_eq!(env.str("REMOTE_ADDR"), "198.51.100.7");
}

#[test]
fn uwsgi_and_http_listeners_serve_side_by_side() {
    let dir = TempDir::new();
    let sock = dir.join("u.sock");
    let server = server("environ")
        .bind("127.0.0.1:0")
        .bind(format!("uwsgi://unix:{}", sock.display()))
        .start();
    assert_eq!(server.urls.len(), 2);
    assert!(server.urls[0].starts_with("http://"), "{:?}", server.urls);
    assert_eq!(server.urls[1], format!("uwsgi://unix:{}", sock.display()));
    let env = server.get("/over-http").environ();
    assert_eq!(env.str("PATH_INFO"), "/over-http");
    let mut conn = Conn::unix(&sock);
    conn.send(&get_packet("/over-uwsgi"));
    assert_eq!(answered_environ(&mut conn).str("PATH_INFO"), "/over-uwsgi");
    // An HTTP request on the uwsgi listener is a packet with modifier1 71 ('G'): refused.
    let mut conn = Conn::unix(&sock);
    conn.send(&get_req("/"));
    assert!(conn.read_until_closed().expect("closed").is_empty());
}

#[test]
fn protocol_uwsgi_makes_every_listener_speak_it() {
    let server = server("environ")
        .bind("127.0.0.1:0")
        .args(["--protocol", "uwsgi", "--threads", "4"])
        .start();
    let addr = uwsgi_addr(&server);
    let mut conn = Conn::tcp(addr);
    conn.send(&get_packet("/threads"));
    assert_eq!(answered_environ(&mut conn).str("PATH_INFO"), "/threads");
}

#[test]
fn a_packet_that_stops_arriving_meets_the_header_timeout_and_the_worker_lives() {
    let server = server("environ")
        .bind("uwsgi://127.0.0.1:0")
        .args(["--header-timeout", "1"])
        .start();
    let addr = uwsgi_addr(&server);
    let packet = get_packet("/late");
    let mut conn = Conn::tcp(addr);
    conn.send(&packet[..packet.len() - 1]);
    // Answered as an HTTP head that timed out (408), then closed; never the app.
    let bytes = conn.read_until_closed().expect("closed at the deadline");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    let mut conn = Conn::tcp(addr);
    conn.send(&packet);
    let env = answered_environ(&mut conn);
    assert_eq!(env.pid(), server.worker_pid());
}
