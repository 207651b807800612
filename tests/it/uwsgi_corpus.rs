//! The uwsgi packet corpus (`tests/uwsgi/*.uwsgi`, format in its README): every case through
//! the codec whole and cut at every byte, and against the real server on its own connection.

use crate::support::*;
use crate::uwsgi_nginx::uwsgi_addr;
use rsgi_server::http::Limits;
use rsgi_server::uwsgi::{UwsgiError, into_request, parse_packet};
use std::path::PathBuf;

/// What a case must do.
#[derive(Debug)]
enum Expect {
    /// Answered with these environ values.
    Env(Vec<(String, String)>),
    /// Refused; the log line says this.
    Refused(String),
}

/// One corpus file, as bytes to send and the expected outcome.
#[derive(Debug)]
struct Case {
    name: String,
    packet: Vec<u8>,
    expect: Expect,
}

/// `\xNN` and `\\` escapes as bytes.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x')) => {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Bytes as the environ's latin-1 text.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn parse_case(path: &PathBuf) -> Case {
    let text = std::fs::read_to_string(path).expect("read case");
    let mut modifier1 = 0u8;
    let mut size: Option<usize> = None;
    let mut block = Vec::new();
    let mut body = Vec::new();
    let mut env = Vec::new();
    let mut refused = None;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (field, value) = line
            .split_once(": ")
            .unwrap_or((line.trim_end_matches(':'), ""));
        match field {
            "modifier1" => modifier1 = value.parse().expect("modifier1"),
            "size" => size = Some(value.parse().expect("size")),
            "var" => {
                let (k, v) = value.split_once('=').expect("KEY=VALUE");
                for part in [unescape(k), unescape(v)] {
                    block.extend_from_slice(&(part.len() as u16).to_le_bytes());
                    block.extend_from_slice(&part);
                }
            }
            "raw" => block.extend(
                value
                    .split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).expect("raw hex")),
            ),
            "body" => body = unescape(value),
            "expect" => match value.split_once(' ').unwrap_or((value, "")) {
                ("env", kv) => {
                    let (k, v) = kv.split_once('=').expect("env KEY=VALUE");
                    env.push((k.to_owned(), latin1(&unescape(v))));
                }
                ("refused", why) => refused = Some(why.to_owned()),
                other => panic!("{}: unknown expectation {other:?}", path.display()),
            },
            other => panic!("{}: unknown field {other:?}", path.display()),
        }
    }
    let size = size.unwrap_or(block.len()) as u16;
    let mut packet = vec![modifier1];
    packet.extend_from_slice(&size.to_le_bytes());
    packet.push(0);
    packet.extend_from_slice(&block);
    packet.extend_from_slice(&body);
    Case {
        name: path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned(),
        packet,
        expect: match refused {
            Some(why) => Expect::Refused(why),
            None => Expect::Env(env),
        },
    }
}

fn cases() -> Vec<Case> {
    let dir = repo_root().join("tests/uwsgi");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/uwsgi")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "uwsgi"))
        .collect();
    paths.sort();
    paths.iter().map(parse_case).collect()
}

/// The codec's answer for `bytes`: need more, accepted, or refused.
fn decode(bytes: &[u8]) -> Result<Option<()>, UwsgiError> {
    match parse_packet(bytes, &Limits::default())? {
        None => Ok(None),
        Some((packet, _)) => into_request(packet).map(|_| Some(())),
    }
}

#[test]
fn every_case_decodes_the_same_whole_and_cut_at_every_byte() {
    let cases = cases();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in &cases {
        let whole = decode(&case.packet);
        match (&case.expect, &whole) {
            (Expect::Env(_), Ok(Some(()))) => {}
            (Expect::Refused(why), Err(err)) => {
                assert!(
                    err.to_string().contains(why.as_str()),
                    "{}: {err}",
                    case.name
                );
            }
            _ => panic!(
                "{}: decoded as {whole:?}, expected {:?}",
                case.name, case.expect
            ),
        }
        for cut in 0..case.packet.len() {
            let part = decode(&case.packet[..cut]);
            assert!(
                part == Ok(None) || part == whole,
                "{} cut at {cut}: {part:?} vs {whole:?}",
                case.name
            );
        }
    }
}

#[test]
fn every_case_gets_its_answer_from_the_server() {
    let mut server = server("environ").bind("uwsgi://127.0.0.1:0").start();
    let addr = uwsgi_addr(&server);
    let worker = server.worker_pid();
    let mut refused = 0;
    for case in cases() {
        let mut conn = Conn::tcp(addr);
        conn.send(&case.packet);
        let answer = conn.read_until_closed().expect("the server closes");
        match &case.expect {
            Expect::Env(values) => {
                let text = String::from_utf8_lossy(&answer).into_owned();
                let (head, body) = text.split_once("\r\n\r\n").expect("a response");
                assert!(head.starts_with("HTTP/1.1 200 OK"), "{}: {head}", case.name);
                assert!(head.contains("Connection: close"), "{}: {head}", case.name);
                let env = Environ::parse(body);
                assert_eq!(env.pid(), worker, "{}", case.name);
                for (key, value) in values {
                    assert_eq!(env.str(key), value, "{}: {key}", case.name);
                }
            }
            Expect::Refused(why) => {
                assert!(answer.is_empty(), "{}: answered {answer:?}", case.name);
                refused += 1;
                let lines = server.wait_for_lines("uwsgi packet from 127.0.0.1 refused", refused);
                let line = &lines[refused - 1];
                assert!(line.contains(why.as_str()), "{}: {line}", case.name);
            }
        }
    }
    // Every refusal left the worker serving.
    let mut conn = Conn::tcp(addr);
    conn.send(&rsgi_server::uwsgi::packet::encode(0, &[], b""));
    let text = String::from_utf8_lossy(&conn.read_until_closed().expect("closed")).into_owned();
    let env = Environ::parse(text.split_once("\r\n\r\n").expect("response").1);
    assert_eq!(env.pid(), worker);
}
