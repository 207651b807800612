//! The iterable's `close()` (PEP 3333: called on every path, "whether the request was
//! completed normally, or terminated early due to an application error during iteration or
//! an early disconnect of the browser"), and what a failing one does to the outcome.

use super::{app, done, strs};
use crate::wsgi::testing::TestRequest;
use crate::wsgi::{Outcome, Step};

const BODY_APP: &str = r#"
    def app(environ, start_response):
        start_response("200 OK", [])
        return Body(CHUNKS, **OPTIONS)
"#;

/// An app answering with `Body(chunks, **options)` (see prelude.py).
fn body_app(chunks: &str, options: &str) -> super::TestApp {
    app(&format!(
        "CHUNKS = {chunks}\nOPTIONS = dict({options})\n{}",
        super::dedent(BODY_APP)
    ))
}

#[test]
fn after_a_complete_response() {
    let app = body_app("[b'a', b'b']", "");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"ab");
}

#[test]
fn after_an_exception_before_any_body() {
    let app = body_app("[b'a']", "fail_at=0");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(strs(&app.events()), ["raise 0", "close"]);
    assert_eq!(t.head, None);
}

#[test]
fn after_an_exception_mid_body() {
    let app = body_app("[b'a', b'b', b'c']", "fail_at=2");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(
        strs(&app.events()),
        ["yield 0", "yield 1", "raise 2", "close"]
    );
    assert_eq!(t.body, b"ab");
    assert!(!t.finished);
}

#[test]
fn after_a_chunk_that_is_not_bytes() {
    let app = body_app("[b'a', 'text', b'c']", "");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"a");
}

#[test]
fn when_start_response_was_never_called() {
    let app = app(r#"
        def app(environ, start_response):
            return Body([b"", b"data", b"more"])
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    // Iteration stops at the first chunk that would need a head.
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.head, None);
}

#[test]
fn when_start_response_refused_the_headers() {
    let app = app(r#"
        def app(environ, start_response):
            record(start_response, "200 OK", [("Trailer", "X")])
            return Body([b"data"])
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(strs(&app.events()), ["ValueError", "yield 0", "close"]);
    assert_eq!(t.head, None);
}

#[test]
fn when_the_body_is_not_iterable() {
    let app = app(r#"
        class NotIterable:
            def close(self):
                events.append("close")

        def app(environ, start_response):
            start_response("200 OK", [])
            return NotIterable()
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(strs(&app.events()), ["close"]);
    assert_eq!(t.head, None);
}

#[test]
fn when_the_client_is_gone() {
    let app = body_app("[b'abc', b'def', b'ghi']", "");
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().gone_after(4));
    assert_eq!(outcome, Outcome::Aborted);
    // The chunk that failed is the last one asked of the iterable.
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"abc");
    assert!(!t.finished);
}

#[test]
fn when_the_client_is_gone_at_the_end() {
    let app = body_app("[b'abc']", "");
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(1));
    assert_eq!(step, Step::Paused);
    let mut call = call;
    call.with_transport(|t| t.disconnect());
    assert_eq!(call.resume(), Step::Done(Outcome::Aborted));
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
    let t = done(call);
    assert!(t.finished, "finish was tried, and failed");
}

#[test]
fn when_a_paused_call_is_aborted() {
    let app = body_app("[b'abc', b'def']", "");
    let req = TestRequest::get("/");
    let (mut call, step) = app.start(&req, req.transport().full_at(3));
    assert_eq!(step, Step::Paused);
    assert_eq!(strs(&app.events()), ["yield 0"]);
    call.abort();
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
    // Aborting again, resuming or taking the transport closes nothing twice.
    call.abort();
    assert_eq!(call.resume(), Step::Done(Outcome::Aborted));
    let t = done(call);
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
    assert_eq!(t.body, b"abc");
    assert!(!t.finished);
}

#[test]
fn when_a_paused_call_is_dropped() {
    let app = body_app("[b'abc', b'def']", "");
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(3));
    assert_eq!(step, Step::Paused);
    drop(call);
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
}

#[test]
fn when_a_paused_call_gives_its_transport_back() {
    let app = body_app("[b'abc', b'def']", "");
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(3));
    assert_eq!(step, Step::Paused);
    let t = done(call);
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
    assert!(!t.finished);
}

/// Flow::Enough (HEAD, a declared length reached): the iterable is closed without being
/// asked for chunks whose bytes would be thrown away.
#[test]
fn when_the_response_has_enough() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "4")])
            return Body([b"ab", b"cd", b"ef", b"gh"])
    "#);
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().limit(4));
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"abcd");
    assert!(t.finished);

    let req = TestRequest::new(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (outcome, t) = app.serve(&req, req.transport().limit(0));
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(
        strs(&app.events()[3..]),
        ["yield 0", "close"],
        "HEAD asks for one chunk"
    );
    assert!(t.body.is_empty() && t.finished);
}

#[test]
fn of_a_file_wrapper_sent_as_a_file() {
    let dir = crate::test_support::TempDir::new("rsgi-wsgi-", "close");
    let path = dir.write("body.txt", "file body");
    let app = app(&format!(
        r#"
        def app(environ, start_response):
            global f
            start_response("200 OK", [])
            f = open({path:?}, "rb")
            return environ["wsgi.file_wrapper"](f)
        "#
    ));
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"file body");
    assert!(app.eval::<bool>("f.closed"));
}

#[test]
fn of_a_file_wrapper_that_is_iterated() {
    let app = app(r#"
        def app(environ, start_response):
            global f
            start_response("200 OK", [])
            f = io.BytesIO(b"in memory")
            return environ["wsgi.file_wrapper"](f, 4)
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"in memory");
    assert!(app.eval::<bool>("f.closed"));
}

#[test]
fn of_a_file_wrapper_whose_client_is_gone() {
    let dir = crate::test_support::TempDir::new("rsgi-wsgi-", "gone");
    let path = dir.write("body.txt", "file body");
    let app = app(&format!(
        r#"
        def app(environ, start_response):
            global f
            start_response("200 OK", [])
            f = open({path:?}, "rb")
            return environ["wsgi.file_wrapper"](f)
        "#
    ));
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().gone_after(0));
    assert_eq!(outcome, Outcome::Aborted);
    assert!(t.body.is_empty());
    assert!(app.eval::<bool>("f.closed"));
}

/// A body that closes only what it must: a list or tuple has no close() to call.
#[test]
fn a_body_without_close_is_fine() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            return iter([b"plain"])
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"plain");
}

/// A failing close() turns a complete response into a failure: the response is out (the
/// head was sent at the latest by finishing it), so the connection must close.
#[test]
fn a_failing_close_aborts_a_complete_response() {
    let app = body_app("[b'all of it']", "close_raises=True");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
    assert_eq!(t.body, b"all of it");
    assert!(t.finished);

    let app = body_app("[]", "close_raises=True");
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(t.status(), Some(200));
}

#[test]
fn a_failing_close_keeps_an_earlier_failure() {
    let app = body_app("[b'a']", "fail_at=0, close_raises=True");
    let (outcome, _) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);

    let app = body_app("[b'a', b'b']", "fail_at=1, close_raises=True");
    let (outcome, _) = app.get("/");
    assert_eq!(outcome, Outcome::Aborted);
}

#[test]
fn a_failing_close_after_the_client_is_gone() {
    let app = body_app("[b'abc', b'def']", "close_raises=True");
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().gone_after(3));
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"abc");
}

#[test]
fn a_failing_close_of_an_aborted_call() {
    let app = body_app("[b'abc', b'def']", "close_raises=True");
    let req = TestRequest::get("/");
    let (mut call, step) = app.start(&req, req.transport().full_at(1));
    assert_eq!(step, Step::Paused);
    call.abort();
    assert_eq!(call.resume(), Step::Done(Outcome::Aborted));
    assert_eq!(strs(&app.events()), ["yield 0", "close"]);
}

/// A body whose close() raises before the head is out: a 500 is still possible.
#[test]
fn a_failing_close_before_the_head_is_a_failure_before_the_head() {
    let app = app(r#"
        def app(environ, start_response):
            return Body([], close_raises=True)
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(strs(&app.events()), ["close"]);
    assert_eq!(t.head, None);
}
