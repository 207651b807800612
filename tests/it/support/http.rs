//! HTTP/1.1 messages as bytes: requests built by hand (so a test controls every byte) and
//! the responses a [`Conn`](super::Conn) reads.

use super::Json;
use super::json::Environ;

/// headers, and a Content-Length when there is a body and no Transfer-Encoding.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        out.extend_from_slice(b"Host: localhost\r\n");
    }
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !body.is_empty() && !has("content-length") && !has("transfer-encoding") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A GET request with only a Host header.
pub fn get_req(target: &str) -> Vec<u8> {
    request("GET", target, &[], b"")
}

/// Encodes `body` as chunks of at most `size` bytes, with an optional trailer section.
pub fn chunked(body: &[u8], size: usize, trailers: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailers.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// A chunked POST of `body` in pieces of `piece` bytes: head and body in one buffer.
pub fn chunked_post(target: &str, body: &[u8], piece: usize) -> Vec<u8> {
    let mut req = request("POST", target, &[("Transfer-Encoding", "chunked")], b"");
    req.extend(chunked(body, piece, ""));
    req
}

/// How the response body was delimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body by rule (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Read until the server closed the connection.
    Close,
}

/// A response status line and headers.
#[derive(Clone, Debug)]
pub struct Head {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The bytes of the head exactly as received.
    pub raw: String,
}

impl Head {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order (case-insensitive name).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn framing(&self, head_request: bool) -> Framing {
        if head_request
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304
        {
            return Framing::None;
        }
        if let Some(te) = self.header("transfer-encoding") {
            if te.to_ascii_lowercase().trim().ends_with("chunked") {
                return Framing::Chunked;
            }
            return Framing::Close;
        }
        if let Some(cl) = self.header("content-length") {
            return Framing::Length(cl.trim().parse().expect("numeric Content-Length"));
        }
        Framing::Close
    }

    /// Whether the server said the connection stays open (per RFC 9112 §9.3).
    pub fn keeps_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if conn.contains("close") {
            return false;
        }
        self.version == "HTTP/1.1" || conn.contains("keep-alive")
    }
}

/// A whole response.
#[derive(Clone, Debug)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the body) if it is not.
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.text())
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.text()))
    }

    /// The environ report of `pyapps/environ.py`.
    pub fn environ(&self) -> Environ {
        assert_eq!(self.status(), 200, "environ app failed: {}", self.text());
        Environ(self.json())
    }
}

/// What happened to a body read into a sink.
pub struct BodyInfo {
    pub length: u64,
    pub complete: bool,
}
