//! The `write()` callable `start_response` returns (PEP 3333 "The write() Callable").

use super::{app, done, strs};
use crate::wsgi::testing::{Op, TestRequest};
use crate::wsgi::{Outcome, Step};

#[test]
fn written_bytes_go_out_in_order_before_the_iterable_with_the_head_first() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [("X-A", "a")])
            write(b"one,")
            write(b"")
            write(b"two,")
            return [b"three"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"one,two,three");
    assert_eq!(t.header("x-a").as_deref(), Some("a"));
    // The head went with the first write, before the list's length could be known; the
    // empty write sent nothing.
    assert_eq!(t.known_length, None);
    assert_eq!(
        t.ops,
        [Op::Head, Op::Send(4), Op::Send(4), Op::Send(5), Op::Finish]
    );
}

/// write() is for imperative apps: the bytes are on their way when it returns, even if
/// the body is a list that could be queued.
#[test]
fn written_bytes_are_never_queued() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])(b"now")
            return [b"later"]
    "#);
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().queueing());
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(
        t.ops,
        [Op::Head, Op::Send(3), Op::Queue(5, true), Op::QueueFinish]
    );
}

#[test]
fn write_waits_for_a_slow_client_instead_of_pausing_the_call() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            for i in range(5):
                write(b"%d" % i * 10)
            return []
    "#);
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(15));
    // The app cannot be paused mid-write(): each write that fills the transport flushes.
    assert_eq!(step, Step::Done(Outcome::Complete));
    let t = done(call);
    let expected: String = (0..5).map(|i| i.to_string().repeat(10)).collect();
    assert_eq!(t.body_text(), expected);
    let flushes = t.ops.iter().filter(|op| **op == Op::Flush).count();
    assert_eq!(flushes, 2, "{:?}", t.ops);
}

#[test]
fn write_raises_once_the_client_is_gone() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            record(write, b"taken")
            record(write, b"lost")
            record(write, b"lost too")
            return []
    "#);
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().gone_after(5));
    assert_eq!(
        strs(&app.events()),
        ["ok", "ConnectionError", "ConnectionError"]
    );
    // Even an app that carries on is cut short.
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(t.body, b"taken");
}

#[test]
fn write_failing_uncaught_aborts_the_response() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"lost")
            events.append("not reached")
            return []
    "#);
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().gone_after(0));
    assert!(app.events().is_empty());
    assert_eq!(outcome, Outcome::Aborted);
    assert!(t.body.is_empty() && !t.finished);
}

#[test]
fn write_takes_bytes_only() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            record(write, "text")
            record(write, bytearray(b"mutable"))
            record(write, memoryview(b"view"))
            return [b"ok"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["TypeError", "TypeError", "TypeError"]);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"ok");
}

#[test]
fn write_of_a_refused_declaration_raises() {
    let app = app(r#"
        def app(environ, start_response):
            record(start_response, "200 OK", [("Upgrade", "websocket")])
            record(start_response.__self__.write, b"data")
            return []
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["ValueError", "ValueError"]);
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(t.head, None);
}

#[test]
fn write_before_start_response_raises() {
    let app = app(r#"
        def app(environ, start_response):
            record(start_response.__self__.write, b"data")
            start_response("200 OK", [])
            return [b"body"]
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(strs(&app.events()), ["AssertionError"]);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"body");
}

/// A write() kept past its request must not reach the connection, which may be serving
/// the next request by then.
#[test]
fn write_kept_after_the_request_ended_raises() {
    let app = app(r#"
        kept = []
        def app(environ, start_response):
            kept.append(start_response("200 OK", []))
            return [b"done"]

        def late():
            record(kept[0], b"late")
    "#);
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport());
    assert_eq!(step, Step::Done(Outcome::Complete));
    let t = done(call);
    app.exec("late()");
    assert_eq!(strs(&app.events()), ["ConnectionError"]);
    assert_eq!(t.body, b"done");
}

/// A write() kept by the app keeps its request's pair from serving the next request: the
/// next one gets a new one, and the kept write reaches neither.
#[test]
fn a_kept_write_is_not_reused_for_the_next_request() {
    // Compared by identity while the kept one is alive: an id() could be reused.
    let app = app(r#"
        kept = []
        def app(environ, start_response):
            write = start_response("200 OK", [])
            if kept:
                events.append(str(write is kept[0]))
            else:
                kept.append(write)
            return [b"done"]

        def late():
            record(kept[0], b"late")
    "#);
    let (_, first) = app.get("/");
    let (_, second) = app.get("/");
    app.exec("late()");
    let events = app.events();
    assert_eq!(events[0], "False", "a kept pair served again");
    assert_eq!(events[1], "ConnectionError");
    assert_eq!(
        (first.body.as_slice(), second.body.as_slice()),
        (&b"done"[..], &b"done"[..])
    );
}

/// A pair nothing kept serves the next request, starting afresh: no status, headers or
/// state of the previous response carry over.
#[test]
fn an_unshared_start_response_serves_the_next_request_afresh() {
    let app = app(r#"
        def app(environ, start_response):
            events.append(str(id(start_response)))
            if environ["PATH_INFO"] == "/first":
                start_response("201 Created", [("X-First", "1")])
                return [b"one"]
            record(start_response.__self__.write, b"early")
            start_response("200 OK", [("X-Second", "2")])
            return [b"two"]
    "#);
    let (outcome, first) = app.get("/first");
    assert_eq!(outcome, Outcome::Complete);
    let (outcome, second) = app.get("/second");
    assert_eq!(outcome, Outcome::Complete);
    let events = app.events();
    assert_eq!(events[0], events[1], "the pair was not reused");
    // write() before start_response raises on the reused pair as on a new one.
    assert_eq!(events[2], "AssertionError");
    assert_eq!(first.status(), Some(201));
    assert_eq!(second.status(), Some(200));
    let head = second.head.as_ref().expect("a head");
    assert_eq!(head.header(b"X-Second"), Some(&b"2"[..]));
    assert_eq!(head.header(b"X-First"), None);
    assert_eq!(second.body, b"two");
}

/// HEAD (or a declared length reached): write() succeeds, and its bytes are dropped by the
/// transport, not by the WSGI layer.
#[test]
fn write_after_the_response_has_enough_is_accepted() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            record(write, b"abc")
            record(write, b"def")
            return []
    "#);
    let req = TestRequest::new(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (outcome, t) = app.serve(&req, req.transport().limit(0));
    assert_eq!(strs(&app.events()), ["ok", "ok"]);
    assert_eq!(outcome, Outcome::Complete);
    assert!(t.body.is_empty() && t.finished);
}
