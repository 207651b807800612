//! The request corpus (`tests/requests/`, format in its README): raw requests written from
//! RFC 9112 and the request-smuggling advisories, each with what must come of it.
//!
//! Every case runs twice:
//! * through the sans-IO codec (`rsgi_server::http`) as the engine drives it (a
//!   [`HeadReader`] over the bytes buffered so far, then the body decoder), whole, split in
//!   two at every byte boundary and fed byte by byte, which must all give the expected
//!   result;
//! * against the real binary over a real socket, with an app that counts its calls and
//!   reports what it was handed: the statuses must be the expected ones and the app must be
//!   called exactly once per expected request (never for a rejected one).

use crate::support::*;
use rsgi_server::http::body::{BodyDecoder, Decoded};
use rsgi_server::http::{HeadReader, Limits};
use std::fs;
use std::path::{Path, PathBuf};

/// A request the codec must produce (and the app must see).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Request {
    method: String,
    target: Vec<u8>,
    version: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

/// One corpus file.
#[derive(Debug)]
struct Case {
    name: String,
    requests: Vec<Request>,
    /// The status the request after `requests` is refused with (the connection then closes).
    status: Option<u16>,
    raw: Vec<u8>,
}

/// What the codec made of a byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    requests: Vec<Request>,
    /// Whether each request lets the connection persist.
    keep_alive: Vec<bool>,
    status: Option<u16>,
    /// Bytes were left over that neither completed a request nor failed.
    incomplete: bool,
}

fn corpus_dir() -> PathBuf {
    repo_root().join("tests/requests")
}

/// Every case, sorted by name.
fn load_corpus() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/requests")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "req"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_case(p)).collect()
}

/// Decodes the corpus escapes: `\r \n \t \0 \\ \xHH` and `\{TEXT*N}` (TEXT, itself escaped,
/// repeated N times).
fn unescape(s: &str, at: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            panic!("{at}: trailing backslash");
        };
        i += 2;
        match e {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = s.get(i..i + 2).unwrap_or_else(|| panic!("{at}: short \\x"));
                out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{at}: \\x{hex}")));
                i += 2;
            }
            b'{' => {
                let end = s[i..]
                    .find('}')
                    .unwrap_or_else(|| panic!("{at}: open \\{{"));
                let inner = &s[i..i + end];
                let star = inner
                    .rfind('*')
                    .unwrap_or_else(|| panic!("{at}: \\{{ without *"));
                let n: usize = inner[star + 1..]
                    .parse()
                    .unwrap_or_else(|_| panic!("{at}: bad count in \\{{{inner}}}"));
                out.extend(unescape(&inner[..star], at).repeat(n));
                i += end + 1;
            }
            other => panic!("{at}: unknown escape \\{}", other as char),
        }
    }
    out
}

fn load_case(path: &Path) -> Case {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (meta, raw) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{name}: no '---' line"));
    let mut requests: Vec<Request> = Vec::new();
    let mut status = None;
    for (n, line) in meta.lines().enumerate() {
        let at = format!("{name}:{}", n + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
            .unwrap_or_else(|| panic!("{at}: expected 'key: value'"));
        assert!(status.is_none(), "{at}: nothing may follow 'status'");
        let last = requests.last_mut();
        match (key, last) {
            ("request", _) => {
                let words: Vec<&str> = value.split(' ').collect();
                let [method, target, version] = words[..] else {
                    panic!("{at}: request: METHOD TARGET VERSION");
                };
                requests.push(Request {
                    method: method.to_owned(),
                    target: unescape(target, &at),
                    version: version.to_owned(),
                    headers: Vec::new(),
                    body: Vec::new(),
                });
            }
            ("header", Some(r)) => {
                let field = unescape(value, &at);
                let colon = field
                    .iter()
                    .position(|&b| b == b':')
                    .unwrap_or_else(|| panic!("{at}: header: NAME: VALUE"));
                let v = &field[colon + 1..];
                let v = v.strip_prefix(b" ").unwrap_or(v);
                r.headers.push((field[..colon].to_vec(), v.to_vec()));
            }
            ("body", Some(r)) => r.body = unescape(value, &at),
            ("status", _) => status = Some(value.parse().expect("status code")),
            (key, _) => panic!("{at}: unexpected {key:?}"),
        }
    }
    assert!(
        !requests.is_empty() || status.is_some(),
        "{name}: expects nothing"
    );
    let mut bytes = Vec::new();
    for (n, line) in raw.lines().enumerate() {
        // Spaces at the end of a line are invisible in review and eaten by editors.
        assert!(
            !line.ends_with([' ', '\t']),
            "{name}: raw line {} ends in whitespace; write it as \\x20 or \\t",
            n + 1
        );
        bytes.extend(unescape(line, &format!("{name}: raw line {}", n + 1)));
    }
    assert!(!bytes.is_empty(), "{name}: no raw bytes");
    Case {
        name,
        requests,
        status,
        raw: bytes,
    }
}

/// A connection as the codec sees it: bytes arrive in pieces, requests come out.
struct Driver {
    limits: Limits,
    head: HeadReader,
    buf: Vec<u8>,
    body: Option<(Request, BodyDecoder)>,
    out: Outcome,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            limits: Limits::default(),
            head: HeadReader::default(),
            buf: Vec::new(),
            body: None,
            out: Outcome {
                requests: Vec::new(),
                keep_alive: Vec::new(),
                status: None,
                incomplete: false,
            },
        }
    }

    fn feed(&mut self, piece: &[u8]) {
        if self.out.status.is_some() {
            return;
        }
        self.buf.extend_from_slice(piece);
        loop {
            if let Some((req, dec)) = &mut self.body {
                match dec.decode(&self.buf) {
                    Ok((n, Decoded::Data(d))) => {
                        req.body.extend_from_slice(d);
                        self.buf.drain(..n);
                    }
                    Ok((n, Decoded::NeedMore)) => {
                        self.buf.drain(..n);
                        return;
                    }
                    Ok((n, Decoded::Done)) => {
                        self.buf.drain(..n);
                        let (req, _) = self.body.take().unwrap();
                        self.out.requests.push(req);
                    }
                    Err(e) => {
                        self.out.status = Some(e.status());
                        return;
                    }
                }
                continue;
            }
            if self.buf.is_empty() {
                return;
            }
            match self.head.read(&self.buf, &self.limits) {
                Ok(None) => return,
                Err(e) => {
                    self.out.status = Some(e.status());
                    return;
                }
                Ok(Some((head, n))) => {
                    self.buf.drain(..n);
                    let req = Request {
                        method: head.method().to_owned(),
                        target: head.target().to_vec(),
                        version: head.version.as_str().to_owned(),
                        headers: head
                            .headers()
                            .map(|(k, v)| (k.to_vec(), v.to_vec()))
                            .collect(),
                        body: Vec::new(),
                    };
                    self.out.keep_alive.push(head.keep_alive);
                    self.body = Some((req, BodyDecoder::new(head.framing, &self.limits)));
                }
            }
        }
    }

    fn finish(mut self) -> Outcome {
        self.out.incomplete =
            self.out.status.is_none() && (self.body.is_some() || !self.buf.is_empty());
        self.out
    }
}

fn run_pieces(pieces: &[&[u8]]) -> Outcome {
    let mut d = Driver::new();
    for p in pieces {
        d.feed(p);
    }
    d.finish()
}

/// The codec's result for `raw`, checked to be the same however the bytes arrive: whole,
/// split in two at every byte boundary, and fed byte by byte. Splitting at every byte is
/// quadratic in a case's size: the largest cases (the limit cases, about 20 KB) take most of
/// the test's time.
fn codec_outcome(case: &Case) -> Outcome {
    let raw = &case.raw;
    let whole = run_pieces(&[raw]);
    for cut in 0..=raw.len() {
        let split = run_pieces(&[&raw[..cut], &raw[cut..]]);
        assert_eq!(split, whole, "{}: split at byte {cut}", case.name);
    }
    let bytes: Vec<&[u8]> = raw.chunks(1).collect();
    assert_eq!(run_pieces(&bytes), whole, "{}: byte by byte", case.name);
    whole
}

#[test]
fn corpus_is_large_and_well_formed() {
    let cases = load_corpus();
    let rejects = cases.iter().filter(|c| c.status.is_some()).count();
    let valid = cases.iter().filter(|c| c.status.is_none()).count();
    assert!(cases.len() >= 220, "only {} cases", cases.len());
    assert!(
        rejects >= 150 && valid >= 40,
        "{valid} valid, {rejects} rejected"
    );
    for c in &cases {
        assert!(
            c.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}: name cases in lower-case-with-dashes",
            c.name
        );
    }
}

#[test]
fn codec_gives_the_expected_result_however_the_bytes_arrive() {
    let mut failures = Vec::new();
    for case in load_corpus() {
        let got = codec_outcome(&case);
        let want = (&case.requests, case.status, false);
        if (&got.requests, got.status, got.incomplete) != want {
            failures.push(format!(
                "{}:\n  want {:?} then {:?}\n  got  {:?} then {:?}{}",
                case.name,
                case.requests,
                case.status,
                got.requests,
                got.status,
                if got.incomplete { " (incomplete)" } else { "" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn server_answers_the_corpus_and_the_app_sees_only_valid_requests() {
    let cases = load_corpus();
    let mut server = server("cases.recorder:application")
        .args(["--keep-alive", "30", "--header-timeout", "30"])
        .start();
    let addr = server.addr();
    // The app's call count so far, from its own answer to a probe.
    let probe = |expect: i64, after: &str| {
        let mut conn = Conn::tcp(addr);
        let r = conn.roundtrip(b"GET /probe HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n");
        assert_eq!(r.status(), 200);
        let calls = r.json().get("calls").and_then(Json::as_i64).unwrap();
        assert_eq!(calls, expect, "app calls after {after}");
        calls
    };
    let mut calls = probe(1, "start");
    let mut failures = Vec::new();
    for case in &cases {
        let codec = run_pieces(&[&case.raw]);
        if let Err(why) = run_case_on_server(addr, case, &codec, calls) {
            failures.push(format!("{}: {why}", case.name));
        }
        // Requests the server answers: up to the first that ends the connection.
        let answered = codec
            .keep_alive
            .iter()
            .position(|&k| !k)
            .map_or(case.requests.len(), |i| i + 1)
            .min(case.requests.len());
        calls = probe(calls + answered as i64 + 1, &case.name);
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        server.stderr_text()
    );
}

/// Sends one case on a fresh connection and checks every response, in order.
fn run_case_on_server(
    addr: std::net::SocketAddr,
    case: &Case,
    codec: &Outcome,
    calls_before: i64,
) -> Result<(), String> {
    let mut conn = Conn::tcp(addr);
    // The server may answer and close before taking everything (a refused head).
    let _ = conn.try_send(&case.raw);
    // What the app must see is the corpus's expectation; whether each request lets the
    // connection persist comes from the codec.
    for (i, want) in case.requests.iter().enumerate() {
        let head_request = want.method == "HEAD";
        let r = loop {
            let r = conn
                .try_read_response_to(head_request)
                .map_err(|e| format!("request {i}: no response: {e}"))?;
            if r.status() != 100 {
                break r;
            }
        };
        if r.status() != 200 {
            return Err(format!("request {i}: status {}: {}", r.status(), r.text()));
        }
        if !head_request {
            let j = r.json();
            let field = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_owned();
            let seen = (
                field("method"),
                field("uri").into_bytes(),
                field("protocol"),
                field("body")
                    .chars()
                    .map(|c| c as u32 as u8)
                    .collect::<Vec<u8>>(),
            );
            let expected = (
                want.method.clone(),
                want.target.clone(),
                want.version.clone(),
                want.body.clone(),
            );
            if seen != expected {
                return Err(format!("request {i}: app saw {seen:?}, want {expected:?}"));
            }
            let n = j.get("calls").and_then(Json::as_i64).unwrap_or(0);
            if n != calls_before + i as i64 + 1 {
                return Err(format!("request {i}: app call number {n}"));
            }
        }
        if !codec.keep_alive.get(i).copied().unwrap_or(false) {
            conn.expect_closed();
            return Ok(());
        }
    }
    if let Some(status) = case.status {
        let r = conn
            .try_read_response()
            .map_err(|e| format!("no {status} response: {e}"))?;
        if r.status() != status {
            return Err(format!("status {}, want {status}", r.status()));
        }
        if r.header("connection") != Some("close") {
            return Err(format!("{status} without Connection: close"));
        }
        conn.expect_closed();
    }
    Ok(())
}
