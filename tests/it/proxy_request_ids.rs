//! Request IDs (`--request-id-header`): generated (32 hex digits, unique), taken from a
//! trusted proxy when sane, replaced when an untrusted client sends one; in the environ, in
//! the response (unless the app set it), in the text and JSON access logs, and over uwsgi.

use crate::support::logs::*;
use crate::support::*;
use crate::uwsgi_nginx::uwsgi_addr;
use rsgi_server::uwsgi::packet::encode;
use std::collections::HashSet;

const ID: [&str; 2] = ["--request-id-header", "X-Request-ID"];

fn is_generated(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn get_with(c: &mut Conn, headers: &[(&str, &str)]) -> Response {
    c.roundtrip(&request("GET", "/", headers, b""))
}

#[test]
fn generated_ids_are_unique_and_reach_the_app_the_response_and_the_log() {
    let mut server = server("environ")
        .args(ID)
        .args(["--access-logfile", "-"])
        .args(["--access-log-format", "%(request_id)s %(s)s"])
        .start();
    let mut c = server.conn();
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let response = get_with(&mut c, &[]);
        let id = response.header("X-Request-ID").expect("echoed").to_owned();
        assert!(is_generated(&id), "{id}");
        assert_eq!(response.environ().str("HTTP_X_REQUEST_ID"), id);
        assert!(seen.insert(id.clone()), "{id} repeated");
    }
    let lines = server
        .stdout
        .wait_count(300, |l| !l.is_empty())
        .expect("access lines");
    let logged: HashSet<String> = lines
        .iter()
        .map(|l| l.strip_suffix(" 200").expect("id and status").to_owned())
        .collect();
    assert_eq!(logged, seen, "each response's ID is in the log");
}

#[test]
fn a_trusted_proxys_sane_id_is_kept_and_an_insane_one_replaced() {
    let server = server("environ").args(ID).start();
    let mut c = server.conn();
    let response = get_with(&mut c, &[("X-Request-Id", "edge-7f3a/2")]);
    assert_eq!(response.header("X-Request-ID"), Some("edge-7f3a/2"));
    assert_eq!(response.environ().str("HTTP_X_REQUEST_ID"), "edge-7f3a/2");
    let long = "a".repeat(201);
    for insane in ["has space", long.as_str()] {
        let response = get_with(&mut c, &[("X-Request-ID", insane)]);
        let id = response.header("X-Request-ID").expect("echoed");
        assert!(is_generated(id), "{insane:?} gave {id}");
        assert_eq!(response.environ().str("HTTP_X_REQUEST_ID"), id);
    }
}

#[test]
fn an_untrusted_clients_id_is_replaced_everywhere() {
    let server = server("environ")
        .args(ID)
        .args(["--forwarded-allow-ips", "10.0.0.1"])
        .start();
    let mut c = server.conn();
    let response = get_with(&mut c, &[("X-Request-ID", "forged")]);
    let id = response.header("X-Request-ID").expect("echoed");
    assert!(is_generated(id), "{id}");
    assert_eq!(response.environ().str("HTTP_X_REQUEST_ID"), id);
}

#[test]
fn an_id_the_app_sets_itself_is_not_doubled() {
    let server = server("cases.queued").args(ID).start();
    let mut c = server.conn();
    let response = c.roundtrip(&get_req("/?set_id=mine"));
    let head = response.head.header_all("X-Request-ID");
    assert_eq!(head, ["mine"]);
    // The app saw the server's, which it chose to replace.
    let seen = response.json()["request_id"].as_str().unwrap().to_owned();
    assert!(is_generated(&seen), "{seen}");
}

#[test]
fn shed_requests_carry_their_id() {
    let server = server("cases.queued")
        .args(ID)
        .args(["--max-queue-time", "10000"])
        .start();
    let mut c = server.conn();
    let response = get_with(
        &mut c,
        &[
            ("X-Request-Start", "t=1000000000.000"),
            ("X-Request-ID", "old-1"),
        ],
    );
    assert_eq!(response.status(), 503);
    assert_eq!(response.header("X-Request-ID"), Some("old-1"));
}

#[test]
fn json_access_lines_have_a_request_id_key() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let errors = dir.join("error.log");
    let server = FileServer::start(
        &dir,
        "environ",
        &[
            ID[0],
            ID[1],
            "--log-format",
            "json",
            "--access-logfile",
            access.to_str().unwrap(),
            "--error-logfile",
            errors.to_str().unwrap(),
        ],
        1,
        Some(&errors),
    );
    let mut c = Conn::tcp(server.addr);
    let response = get_with(&mut c, &[("X-Request-ID", "json-1")]);
    assert_eq!(response.status(), 200);
    let lines = wait_for_count(&access, 1);
    let line: Json = serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("{e}: {lines:?}"));
    assert_eq!(line["request_id"], "json-1");
}

#[test]
fn uwsgi_requests_get_ids_too() {
    let server = server("environ")
        .args(ID)
        .bind("uwsgi://127.0.0.1:0")
        .start();
    let addr = uwsgi_addr(&server);
    // The front end's ID (nginx: `uwsgi_param HTTP_X_REQUEST_ID $request_id;`) is kept.
    let with_id: &[(&[u8], &[u8])] = &[(b"PATH_INFO", b"/"), (b"HTTP_X_REQUEST_ID", b"nginx-42")];
    let without: &[(&[u8], &[u8])] = &[(b"PATH_INFO", b"/")];
    for (vars, expected) in [(with_id, Some("nginx-42")), (without, None)] {
        let mut c = Conn::tcp(addr);
        c.send(&encode(0, vars, b""));
        let response = c.read_response();
        let id = response.header("X-Request-ID").expect("echoed").to_owned();
        match expected {
            Some(kept) => assert_eq!(id, kept),
            None => assert!(is_generated(&id), "{id}"),
        }
        assert_eq!(response.environ().str("HTTP_X_REQUEST_ID"), id);
    }
}

#[test]
fn bad_header_names_name_the_option() {
    for bad in ["X Request", "Content-Length", "X_Request_ID"] {
        let run = server("environ")
            .arg(format!("--request-id-header={bad}"))
            .run();
        assert_eq!(run.code(), Some(2), "{run:?}");
        let out = run.all_output();
        assert!(
            out.contains("request-id-header") && out.contains(bad),
            "{run:?}"
        );
    }
}
