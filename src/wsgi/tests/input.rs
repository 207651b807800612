//! `wsgi.input` (PEP 3333 "Input and Error Streams"): every reading method, across short
//! reads from the transport and with a body received whole before the call, never past the
//! body, and never after the request.

use super::{TestApp, app, done, strs};
use crate::wsgi::testing::TestRequest;
use crate::wsgi::{Outcome, Step};

const LINES: &[u8] = b"first line\nsecond\n\nfourth is longer than the others\nno newline";

/// An app whose `read(inp)` (defined by `reader`) returns what it read, recorded as reprs.
fn reader(reader: &str) -> TestApp {
    app(&format!(
        r#"
        {reader}

        def app(environ, start_response):
            for got in read(environ["wsgi.input"]):
                events.append(repr(got))
            start_response("200 OK", [])
            return []
        "#
    ))
}

/// What `read` reads of `body` posted in every way the transport can serve it: streamed
/// whole, streamed a byte or a few per transport read, and received before the call. The
/// results must agree; returns them.
fn read_all_ways(reader: &str, body: &[u8]) -> Vec<String> {
    read_ways(reader, body, &[1, 3])
}

/// [`read_all_ways`] with `pieces` as the short reads.
fn read_ways(reader: &str, body: &[u8], pieces: &[usize]) -> Vec<String> {
    let ways = pieces
        .iter()
        .map(|&piece| (piece, false))
        .chain([(usize::MAX, false), (usize::MAX, true)]);
    let mut seen: Option<Vec<String>> = None;
    for (piece, buffered) in ways {
        let app = self::reader(reader);
        let req = match buffered {
            false => TestRequest::post(body),
            true => TestRequest::post(body).buffered(body),
        };
        let (outcome, _) = app.serve(&req, req.transport().read_piece(piece));
        assert_eq!(outcome, Outcome::Complete);
        let events = app.events();
        if let Some(first) = &seen {
            assert_eq!(
                &events, first,
                "read {piece} at a time, buffered: {buffered}"
            );
        }
        seen = Some(events);
    }
    seen.expect("ran")
}

#[test]
fn read_returns_everything_then_nothing() {
    let got = read_all_ways("def read(inp): return [inp.read(), inp.read()]", LINES);
    assert_eq!(
        strs(&got),
        [
            "b'first line\\nsecond\\n\\nfourth is longer than the others\\nno newline'",
            "b''"
        ]
    );
    let got = read_all_ways("def read(inp): return [inp.read(), inp.read(5)]", b"");
    assert_eq!(strs(&got), ["b''", "b''"]);
}

#[test]
fn read_n_returns_n_bytes_until_the_end() {
    let got = read_all_ways(
        "def read(inp): return [inp.read(0), inp.read(4), inp.read(7), inp.read(1000), inp.read(1)]",
        b"0123456789abcdef",
    );
    assert_eq!(
        strs(&got),
        ["b''", "b'0123'", "b'456789a'", "b'bcdef'", "b''"]
    );
    let got = read_all_ways(
        "def read(inp): return [inp.read(2), inp.read(-1), inp.read(None)]",
        b"0123456789",
    );
    assert_eq!(strs(&got), ["b'01'", "b'23456789'", "b''"]);
}

#[test]
fn readline_returns_lines_with_their_newline() {
    let got = read_all_ways(
        "def read(inp): return [inp.readline() for _ in range(7)]",
        LINES,
    );
    assert_eq!(
        strs(&got),
        [
            "b'first line\\n'",
            "b'second\\n'",
            "b'\\n'",
            "b'fourth is longer than the others\\n'",
            "b'no newline'",
            "b''",
            "b''",
        ]
    );
}

#[test]
fn readline_with_a_limit_never_returns_more() {
    let got = read_all_ways(
        "def read(inp): return [inp.readline(4), inp.readline(0), inp.readline(100), inp.readline(7), inp.readline(-1), inp.readline(None)]",
        LINES,
    );
    assert_eq!(
        strs(&got),
        [
            "b'firs'",
            "b''",
            "b't line\\n'",
            "b'second\\n'",
            "b'\\n'",
            "b'fourth is longer than the others\\n'",
        ]
    );
}

#[test]
fn readlines_returns_every_line_or_stops_at_the_hint() {
    let got = read_all_ways(
        "def read(inp): return inp.readlines() + [inp.read()]",
        LINES,
    );
    assert_eq!(
        strs(&got),
        [
            "b'first line\\n'",
            "b'second\\n'",
            "b'\\n'",
            "b'fourth is longer than the others\\n'",
            "b'no newline'",
            "b''",
        ]
    );
    // Lines until their total reaches the hint: 11 + 7 >= 12.
    let got = read_all_ways(
        "def read(inp): return [inp.readlines(12), inp.readlines(0)]",
        LINES,
    );
    assert_eq!(
        strs(&got),
        [
            "[b'first line\\n', b'second\\n']",
            "[b'\\n', b'fourth is longer than the others\\n', b'no newline']",
        ]
    );
}

#[test]
fn iteration_yields_lines() {
    let got = read_all_ways(
        "def read(inp): return [line for line in inp] + [next(iter(inp), 'ended')]",
        b"a\nb\n\nc",
    );
    assert_eq!(
        strs(&got),
        ["b'a\\n'", "b'b\\n'", "b'\\n'", "b'c'", "'ended'"]
    );
}

#[test]
fn reading_methods_mix() {
    let got = read_all_ways(
        "def read(inp): return [inp.readline(), inp.read(3), inp.readline(), next(inp), inp.read()]",
        LINES,
    );
    assert_eq!(
        strs(&got),
        [
            "b'first line\\n'",
            "b'sec'",
            "b'ond\\n'",
            "b'\\n'",
            "b'fourth is longer than the others\\nno newline'",
        ]
    );
}

/// A body larger than the input's read blocks, read line by line and in odd sizes: every
/// byte once, in order.
#[test]
fn a_large_body_reassembles_exactly() {
    let body: Vec<u8> = (0..12_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let got = read_ways(
        r#"
        def read(inp):
            expected = b"".join(b"line %d\n" % i for i in range(12000))
            lines = []
            while len(lines) < 1000:
                lines.append(inp.readline())
            parts = [b"".join(lines)]
            while part := inp.read(4099):
                parts.append(part)
            return [b"".join(parts) == expected]
        "#
        .trim_start(),
        &body,
        &[997],
    );
    assert_eq!(strs(&got), ["True"]);
}

#[test]
fn a_request_without_a_body_has_an_empty_input() {
    let app = reader(
        "def read(inp): return [inp.read(), inp.read(3), inp.readline(), inp.readlines(), list(inp)]",
    );
    let (outcome, _) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(strs(&app.events()), ["b''", "b''", "b''", "[]", "[]"]);
}

#[test]
fn a_failed_read_raises() {
    let app = app(r#"
        def app(environ, start_response):
            record(environ["wsgi.input"].read)
            record(environ["wsgi.input"].readline)
            start_response("200 OK", [])
            return []
    "#);
    let req = TestRequest::post(b"lost");
    let mut transport = req.transport();
    transport.disconnect();
    let (outcome, _) = app.serve(&req, transport);
    assert_eq!(strs(&app.events()), ["OSError", "OSError"]);
    // The end of the response could not be sent either.
    assert_eq!(outcome, Outcome::Aborted);
}

const KEEPS_INPUT: &str = r#"
    kept = []
    def app(environ, start_response):
        kept.append(environ["wsgi.input"])
        start_response("200 OK", [])
        return [b"x" * 10, b"y" * 10]

    def late():
        record(kept[0].read)
        record(kept[0].read, 3)
        record(kept[0].readline)
"#;

/// An input kept past its request must not reach the transport: on a kept-alive
/// connection it would read the next request.
#[test]
fn reading_after_the_request_ended_raises() {
    for buffered in [false, true] {
        let app = app(KEEPS_INPUT);
        let req = TestRequest::post(b"unread body");
        let req = if buffered {
            req.buffered(b"unread body")
        } else {
            req
        };
        let (call, step) = app.start(&req, req.transport());
        assert_eq!(step, Step::Done(Outcome::Complete));
        let _transport = done(call);
        app.exec("late()");
        assert_eq!(
            strs(&app.events()),
            ["OSError", "OSError", "OSError"],
            "buffered: {buffered}"
        );
    }
}

/// The same for a call the driver drops instead of taking its transport back (a paused
/// response whose connection is closed): the transport, and the socket it owns, must not
/// stay reachable from Python.
#[test]
fn reading_after_the_call_was_dropped_raises() {
    let app = app(KEEPS_INPUT);
    let req = TestRequest::post(b"unread body");
    let (mut call, step) = app.start(&req, req.transport().full_at(5));
    assert_eq!(step, Step::Paused);
    call.abort();
    drop(call);
    app.exec("late()");
    assert_eq!(strs(&app.events()), ["OSError", "OSError", "OSError"]);
}
