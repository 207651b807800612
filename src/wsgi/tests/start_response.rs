//! `start_response` (PEP 3333 "The start_response() Callable"): what is declared, what is
//! refused, and `exc_info`.

use super::{app, strs};
use crate::wsgi::Outcome;

#[test]
fn the_declared_status_and_headers_are_sent_as_latin1() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("201 Cr\u00e9\u00e9", [("X-One", "1"), ("X-Caf", "caf\u00e9")])
            return [b"made"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    let head = t.head.as_ref().expect("head sent");
    assert_eq!(head.status, 201);
    assert_eq!(head.reason(), b"Cr\xe9\xe9");
    let headers: Vec<_> = head.headers().collect();
    assert_eq!(
        headers,
        [(&b"X-One"[..], &b"1"[..]), (&b"X-Caf"[..], &b"caf\xe9"[..])]
    );
    assert_eq!(t.body, b"made");
    assert!(t.finished);
}

#[test]
fn headers_may_be_a_tuple_of_pairs() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", (("X-A", "a"), ("X-B", "b")))
            return [b""]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.header("x-a").as_deref(), Some("a"));
    assert_eq!(t.header("x-b").as_deref(), Some("b"));
}

/// Each declaration is refused with the exception named; the app swallows it and returns a
/// body, and still nothing of its response goes out: the driver answers 500.
#[test]
fn a_refused_declaration_fails_the_request_even_if_the_app_swallows_it() {
    let app = app(r#"
        CASES = [
            (b"200 OK", []),
            ("200OK", []),
            ("20 OK", []),
            ("2000 OK", []),
            ("099 Low", []),
            ("101 Switching Protocols", []),
            ("200 O\r\nX-Injected: 1", []),
            ("200 \u0100", []),
            ("200 OK", {"X-A": "a"}),
            ("200 OK", "X-A: a"),
            ("200 OK", [["X-A", "a"]]),
            ("200 OK", [("X-A", "a", "b")]),
            ("200 OK", [("X-A", 1)]),
            ("200 OK", [(b"X-A", "a")]),
            ("200 OK", [("X-A", "\u0100")]),
            ("200 OK", [("X-\u0100", "a")]),
            ("200 OK", [("X A", "a")]),
            ("200 OK", [("", "a")]),
            ("200 OK", [("X-A", "a\r\nSet-Cookie: x=1")]),
            ("200 OK", [("X-A", "a\0b")]),
            ("200 OK", [("Connection", "close")]),
            ("200 OK", [("Transfer-Encoding", "chunked")]),
            ("200 OK", [("UPGRADE", "h2c")]),
            ("200 OK", [("Keep-Alive", "timeout=5")]),
            ("200 OK", [("Content-Length", "ten")]),
            ("200 OK", [("Content-Length", "-1")]),
            # One bad header among good ones refuses the whole declaration.
            ("200 OK", [("X-Good", "1"), ("Te", "trailers"), ("X-Also-Good", "2")]),
        ]

        def app(environ, start_response):
            status, headers = CASES[int(environ["QUERY_STRING"])]
            record(start_response, status, headers)
            return [b"must not be sent"]
    "#);
    let expected = [
        "TypeError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
    ];
    assert_eq!(app.eval::<usize>("len(CASES)"), expected.len());
    for (i, raised) in expected.iter().enumerate() {
        let (outcome, t) = app.get(&format!("/?{i}"));
        let case: String = app.eval(&format!("repr(CASES[{i}])"));
        assert_eq!(outcome, Outcome::FailedBeforeHead, "{case}");
        assert_eq!(t.head, None, "{case}");
        assert!(t.body.is_empty() && !t.finished, "{case}");
        assert_eq!(
            app.events().last().map(String::as_str),
            Some(*raised),
            "{case}"
        );
    }
}

#[test]
fn a_refused_declaration_can_be_followed_by_a_valid_one() {
    let app = app(r#"
        def app(environ, start_response):
            record(start_response, "200 OK", [("Connection", "close")])
            start_response("200 OK", [("X-Fixed", "yes")])
            return [b"fixed"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["ValueError"]);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.header("x-fixed").as_deref(), Some("yes"));
    assert_eq!(t.body, b"fixed");
}

#[test]
fn a_second_call_without_exc_info_raises_and_the_first_stands() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [("X-First", "1")])
            record(start_response, "404 Not Found", [])
            record(start_response, "404 Not Found", [], None)
            return [b"first"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["AssertionError", "AssertionError"]);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.status(), Some(200));
    assert_eq!(t.header("x-first").as_deref(), Some("1"));
}

#[test]
fn a_second_call_without_exc_info_fails_an_app_that_lets_it_raise() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("404 Not Found", [])
            return [b"never"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(t.head, None);
}

#[test]
fn exc_info_before_the_head_is_sent_replaces_status_and_headers() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [("X-First", "1")])
            try:
                raise ValueError("while building the page")
            except ValueError:
                start_response("500 Oops", [("X-Second", "2")], sys.exc_info())
            return [b"error page"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.status(), Some(500));
    assert_eq!(t.head.as_ref().unwrap().reason(), b"Oops");
    assert_eq!(t.header("x-first"), None);
    assert_eq!(t.header("x-second").as_deref(), Some("2"));
    assert_eq!(t.body, b"error page");
}

/// PEP 3333: the head goes with the first non-empty chunk, so until then `exc_info` may
/// still replace it, even from inside the iterable.
#[test]
fn exc_info_after_only_empty_chunks_still_replaces_the_status() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b""
            yield b""
            try:
                raise ValueError("late")
            except ValueError:
                start_response("503 Later", [], sys.exc_info())
            yield b"sorry"
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.status(), Some(503));
    assert_eq!(t.body, b"sorry");
}

#[test]
fn exc_info_after_the_head_is_sent_reraises_that_exception() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b"partial"
            try:
                raise KeyError("original")
            except KeyError as original:
                try:
                    start_response("500 Oops", [], sys.exc_info())
                except KeyError as reraised:
                    events.append("same" if reraised is original else "other")
                    raise
            yield b"never"
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["same"]);
    // The head is out: the response can only be cut short.
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(t.status(), Some(200));
    assert_eq!(t.body, b"partial");
    assert!(!t.finished);
}

#[test]
fn returning_without_calling_start_response_fails_before_the_head() {
    for body in ["[]", "[b'']", "[b'data']", "Body([b'', b'data'])"] {
        let app = app(&format!(
            r#"
            def app(environ, start_response):
                return {body}
            "#
        ));
        let (outcome, t) = app.get("/");
        assert_eq!(outcome, Outcome::FailedBeforeHead, "{body}");
        assert_eq!(t.head, None, "{body}");
        assert!(t.body.is_empty() && !t.finished, "{body}");
    }
}

/// start_response may be called from the iterable, before its first non-empty chunk.
#[test]
fn start_response_may_be_called_lazily_from_the_iterable() {
    let app = app(r#"
        def app(environ, start_response):
            yield b""
            start_response("202 Accepted", [("X-Lazy", "1")])
            yield b"later"
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.status(), Some(202));
    assert_eq!(t.body, b"later");
}

#[test]
fn start_response_returns_the_write_callable() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            events.append(str(write == start_response.__self__.write))
            return []
    "#);
    let (outcome, _) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(strs(&app.events()), ["True"]);
}
