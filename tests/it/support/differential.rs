//! Differential testing: the same raw requests sent to rsgi-server and to a reference
//! server (gunicorn), and their responses compared byte for byte, except what may
//! legitimately differ between two servers: `Date`, `Server` and the connection-management
//! headers (`Connection`, `Keep-Alive`), and the body's framing (`Transfer-Encoding:
//! chunked` against `Content-Length`: bodies are compared decoded, and a framing
//! difference is recorded, not failed).
//!
//! Each difference is one [`Difference`]; a test explains each by an entry of
//! `docs/differences.md` ([`unexplained`]), so the comparison has to come out clean.

use super::{Conn, Response, repo_root};
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Headers never compared: set by each server for itself (RFC 9110 §6.6.1 `Date`, §10.2.4
/// `Server`) or managing the connection (RFC 9112 §9.3, §9.6; RFC 9110 §7.6.1).
pub const UNCOMPARED: [&str; 4] = ["date", "server", "connection", "keep-alive"];

/// Headers that frame the body (RFC 9112 §6): compared as framing, not as headers.
const FRAMING: [&str; 2] = ["transfer-encoding", "content-length"];

/// How a case's requests travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One request, one connection.
    Single,
    /// Each request after the previous response, on one connection.
    KeepAlive,
    /// Every request in one write, then every response.
    Pipelined,
}

/// Requests sent alike to both servers.
#[derive(Clone, Debug)]
pub struct Case {
    /// What the case is (its requests' targets), unique in a corpus.
    pub name: String,
    /// The raw requests.
    pub requests: Vec<Vec<u8>>,
    pub mode: Mode,
}

impl Case {
    /// A case of one request.
    pub fn single(name: impl Into<String>, request: Vec<u8>) -> Case {
        Case {
            name: name.into(),
            requests: vec![request],
            mode: Mode::Single,
        }
    }
}

/// A response reduced to what is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The compared headers, in order, as sent (names and values).
    pub headers: Vec<(String, String)>,
    /// `chunked`, `length N`, `close` or `none`.
    pub framing: String,
    /// The decoded body.
    pub body: Vec<u8>,
}

/// What a server did with one request: a response, or the reason there was none.
pub type Outcome = Result<Seen, String>;

/// One way the two servers' answers to a request differ.
#[derive(Clone, Debug)]
pub struct Difference {
    pub case: String,
    /// Which request of the case (0-based).
    pub index: usize,
    /// `status`, `header NAME`, `body`, `framing` or `outcome` (a response on one side only).
    pub what: String,
    pub ours: String,
    pub theirs: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} #{}: {}\n    ours:   {}\n    theirs: {}",
            self.case, self.index, self.what, self.ours, self.theirs
        )
    }
}

/// Sends `case` to the server at `addr`. `split`: send each request on a connection of its
/// own whatever the mode (for a reference server that closes after each response, such as
/// gunicorn's sync worker).
pub fn run(addr: SocketAddr, case: &Case, split: bool) -> Vec<Outcome> {
    let mode = if split { Mode::Single } else { case.mode };
    match mode {
        Mode::Single => case
            .requests
            .iter()
            .map(|r| {
                let mut c = Conn::tcp(addr);
                exchange(&mut c, r)
            })
            .collect(),
        Mode::KeepAlive => {
            let mut c = Conn::tcp(addr);
            let mut out = Vec::new();
            for r in &case.requests {
                let outcome = exchange(&mut c, r);
                let failed = outcome.is_err();
                out.push(outcome);
                if failed {
                    break;
                }
            }
            out
        }
        Mode::Pipelined => {
            let mut c = Conn::tcp(addr);
            c.send(&case.requests.concat());
            let mut out = Vec::new();
            for r in &case.requests {
                let outcome = receive(&mut c, r);
                let failed = outcome.is_err();
                out.push(outcome);
                if failed {
                    break;
                }
            }
            out
        }
    }
}

fn exchange(c: &mut Conn, request: &[u8]) -> Outcome {
    if let Err(e) = c.try_send(request) {
        return Err(format!("send: {e}"));
    }
    receive(c, request)
}

/// Reads the final response to `request` (interim 1xx responses to an `Expect` are skipped:
/// they are connection management too).
fn receive(c: &mut Conn, request: &[u8]) -> Outcome {
    let head_request = request.starts_with(b"HEAD ");
    let expects = String::from_utf8_lossy(request)
        .to_ascii_lowercase()
        .contains("\r\nexpect: 100-continue");
    loop {
        let response = c
            .try_read_response_to(head_request)
            .map_err(|e| describe(&e))?;
        if expects && response.status() == 100 {
            continue;
        }
        return Ok(seen(&response));
    }
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "closed without a response".to_owned(),
        _ => format!("no response ({})", e.kind()),
    }
}

fn seen(r: &Response) -> Seen {
    let status_line = r.head.raw.split("\r\n").next().unwrap_or("").to_owned();
    let headers = r
        .head
        .headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !UNCOMPARED.contains(&k.as_str()) && !FRAMING.contains(&k.as_str())
        })
        .cloned()
        .collect();
    let framing = match (
        r.head.header("transfer-encoding"),
        r.head.header("content-length"),
    ) {
        (Some(te), _) => format!("transfer-encoding {te}"),
        (None, Some(n)) => format!("length {n}"),
        (None, None) => "none".to_owned(),
    };
    Seen {
        status_line,
        headers,
        framing,
        body: r.body.clone(),
    }
}

/// Compares what both servers made of `case`; `mask` blanks what is volatile by nature
/// (a random UUID, a timestamp in a body) before the comparison.
pub fn compare(
    case: &Case,
    ours: &[Outcome],
    theirs: &[Outcome],
    mask: &dyn Fn(&Case, &mut Seen),
) -> Vec<Difference> {
    let mut found = Vec::new();
    for index in 0..ours.len().max(theirs.len()) {
        let diff = |what: &str, ours: String, theirs: String| Difference {
            case: case.name.clone(),
            index,
            what: what.to_owned(),
            ours,
            theirs,
        };
        let missing = || Err("no response (an earlier one failed)".to_owned());
        let (a, b) = (
            ours.get(index).cloned().unwrap_or_else(missing),
            theirs.get(index).cloned().unwrap_or_else(missing),
        );
        match (a, b) {
            (Ok(mut a), Ok(mut b)) => {
                mask(case, &mut a);
                mask(case, &mut b);
                found.extend(
                    compare_seen(&a, &b)
                        .into_iter()
                        .map(|(w, o, t)| diff(&w, o, t)),
                );
            }
            (Err(a), Err(b)) if a == b => {}
            (a, b) => found.push(diff("outcome", summary(&a), summary(&b))),
        }
    }
    found
}

fn summary(outcome: &Outcome) -> String {
    match outcome {
        Ok(seen) => seen.status_line.clone(),
        Err(why) => why.clone(),
    }
}

/// The differences between two responses: (what, ours, theirs).
fn compare_seen(a: &Seen, b: &Seen) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if a.status_line != b.status_line {
        out.push((
            "status".into(),
            a.status_line.clone(),
            b.status_line.clone(),
        ));
    }
    let mut names: Vec<String> = a
        .headers
        .iter()
        .chain(&b.headers)
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let values = |s: &Seen| -> Vec<String> {
            s.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(&name))
                .map(|(k, v)| format!("{k}: {v}"))
                .collect()
        };
        let (va, vb) = (values(a), values(b));
        if va != vb {
            out.push((format!("header {name}"), va.join(" | "), vb.join(" | ")));
        }
    }
    if a.headers.len() == b.headers.len()
        && out.is_empty()
        && a.headers
            .iter()
            .map(|(k, _)| k)
            .ne(b.headers.iter().map(|(k, _)| k))
    {
        out.push((
            "header order".into(),
            format!("{:?}", a.headers.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            format!("{:?}", b.headers.iter().map(|(k, _)| k).collect::<Vec<_>>()),
        ));
    }
    if a.body != b.body {
        out.push(("body".into(), excerpt(&a.body), excerpt(&b.body)));
    }
    // A length follows from the body: only a different kind of framing, or a different
    // length for the same body, is news.
    let kind = |f: &str| f.split(' ').next().unwrap_or("").to_owned();
    if kind(&a.framing) != kind(&b.framing) || (a.body == b.body && a.framing != b.framing) {
        out.push(("framing".into(), a.framing.clone(), b.framing.clone()));
    }
    out
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    format!("{} bytes: {text:?}", body.len())
}

/// An entry of `docs/differences.md` explaining differences: those of cases whose name
/// starts with `case` (any case: "") in `what` (a prefix: "header set-cookie", "status").
#[derive(Clone, Copy, Debug)]
pub struct Explained {
    pub case: &'static str,
    pub what: &'static str,
    /// The entry's anchor in `docs/differences.md` (`<a id="...">`).
    pub entry: &'static str,
}

/// The differences no entry of `explained` covers; panics if an entry names an anchor
/// `docs/differences.md` lacks (every explanation must be written down).
pub fn unexplained(found: &[Difference], explained: &[Explained]) -> Vec<Difference> {
    let doc = std::fs::read_to_string(repo_root().join("docs/differences.md"))
        .expect("docs/differences.md");
    for e in explained {
        assert!(
            doc.contains(&format!("<a id=\"{}\"></a>", e.entry)),
            "docs/differences.md has no entry {:?}",
            e.entry
        );
    }
    found
        .iter()
        .filter(|d| {
            !explained
                .iter()
                .any(|e| d.case.starts_with(e.case) && d.what.starts_with(e.what))
        })
        .cloned()
        .collect()
}
