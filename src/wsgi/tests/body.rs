//! The response iterable (PEP 3333 "Buffering and Streaming", "Handling the Content-Length
//! Header"): what is sent when, what length the transport is told, what may be queued.

use super::{app, strs};
use crate::wsgi::Outcome;
use crate::wsgi::testing::{Op, TestRequest};

#[test]
fn empty_chunks_are_not_sent() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b""
            yield b"a"
            yield b""
            yield b""
            yield b"bc"
            yield b""
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"abc");
    // The head goes with the first non-empty chunk; an empty chunk would be the chunked
    // terminator on the wire.
    assert_eq!(t.ops, [Op::Head, Op::Send(1), Op::Send(2), Op::Finish]);
    assert_eq!(t.known_length, None);
}

#[test]
fn a_body_of_only_empty_chunks_sends_the_head_at_the_end_with_length_zero() {
    for body in ["iter([b'', b''])", "Body([b''])", "[]", "[b'', b'']", "()"] {
        let app = app(&format!(
            r#"
            def app(environ, start_response):
                start_response("204 No Content", [])
                return {body}
            "#
        ));
        let (outcome, t) = app.get("/");
        assert_eq!(outcome, Outcome::Complete, "{body}");
        assert_eq!(t.status(), Some(204), "{body}");
        assert_eq!(t.ops, [Op::Head, Op::Finish], "{body}");
        assert_eq!(t.known_length, Some(0), "{body}");
    }
}

#[test]
fn a_list_or_tuple_of_bytes_gives_the_transport_its_length() {
    for (body, length) in [
        ("[b'ab', b'cde']", Some(5)),
        ("(b'ab', b'', b'cde')", Some(5)),
        ("[b'x' * 100000]", Some(100_000)),
        // Exact types only: a subclass may iterate differently.
        ("ListSub([b'ab', b'cde'])", None),
        ("iter([b'ab', b'cde'])", None),
        ("Body([b'ab', b'cde'])", None),
    ] {
        let app = app(&format!(
            r#"
            class ListSub(list):
                pass

            def app(environ, start_response):
                start_response("200 OK", [])
                return {body}
            "#
        ));
        let (outcome, t) = app.get("/");
        assert_eq!(outcome, Outcome::Complete, "{body}");
        assert_eq!(t.known_length, length, "{body}");
        assert_eq!(t.body.len() as u64, length.unwrap_or(5), "{body}");
    }
}

#[test]
fn chunks_must_be_bytes() {
    for (body, outcome, sent) in [
        ("['text']", Outcome::FailedBeforeHead, &b""[..]),
        ("[bytearray(b'x')]", Outcome::FailedBeforeHead, b""),
        ("[b'ok', 'text']", Outcome::Aborted, b"ok"),
        ("[b'ok', None]", Outcome::Aborted, b"ok"),
        ("Body([b'ok', memoryview(b'x')])", Outcome::Aborted, b"ok"),
    ] {
        let app = app(&format!(
            r#"
            def app(environ, start_response):
                start_response("200 OK", [])
                return {body}
            "#
        ));
        let (got, t) = app.get("/");
        assert_eq!(got, outcome, "{body}");
        assert_eq!(t.body, sent, "{body}");
        assert!(!t.finished, "{body}");
    }
}

#[test]
fn an_exception_from_the_app_before_the_head_fails_it_and_after_aborts_it() {
    let app = app(r#"
        def app(environ, start_response):
            write = start_response("200 OK", [])
            if environ["QUERY_STRING"] == "after":
                write(b"out")
            raise RuntimeError("app failed")
    "#);
    let (outcome, t) = app.get("/?before");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(t.head, None);
    let (outcome, t) = app.get("/?after");
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(t.body, b"out");
    assert!(!t.finished);
}

/// A list is all in memory, so its chunks may wait in the transport for one write after the
/// call; a generator's may not unless they end the body (the transport decides that), and
/// the end of the response is queued either way.
#[test]
fn what_may_be_queued() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            if environ["QUERY_STRING"] == "list":
                return [b"ab", b"c"]
            return Body([b"ab", b"c"])
    "#);
    let req = TestRequest::get("/?list");
    let (outcome, t) = app.serve(&req, req.transport().queueing());
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(
        t.ops,
        [
            Op::Head,
            Op::Queue(2, true),
            Op::Queue(1, true),
            Op::QueueFinish
        ]
    );
    let req = TestRequest::get("/?generator");
    let (outcome, t) = app.serve(&req, req.transport().queueing());
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(
        t.ops,
        [
            Op::Head,
            Op::Queue(2, false),
            Op::Queue(1, false),
            Op::QueueFinish
        ]
    );
    // A transport that queues nothing gets every chunk and the end sent.
    let (outcome, t) = app.get("/?list");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.ops, [Op::Head, Op::Send(2), Op::Send(1), Op::Finish]);
    assert_eq!(t.body, b"abc");
}

#[test]
fn a_client_gone_while_queueing_aborts() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            return Body([b"abc", b"def"])
    "#);
    let req = TestRequest::get("/");
    let (outcome, t) = app.serve(&req, req.transport().queueing().gone_after(3));
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(strs(&app.events()), ["yield 0", "yield 1", "close"]);
    assert_eq!(t.body, b"abc");
}

#[test]
fn a_file_wrapper_gives_the_transport_the_file_from_its_position() {
    let dir = crate::test_support::TempDir::new("rsgi-wsgi-", "file");
    let path = dir.write("body.txt", "skip:the rest of the file");
    let app = app(&format!(
        r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            f = open({path:?}, "rb")
            f.read(5)
            return environ["wsgi.file_wrapper"](f)
        "#
    ));
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"the rest of the file");
    assert_eq!(t.known_length, Some(20));
    assert_eq!(t.ops, [Op::Head, Op::File(20), Op::Finish]);
}

#[test]
fn a_file_wrapper_without_a_file_is_iterated_in_blocks() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789"), 4)
    "#);
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, b"0123456789");
    assert_eq!(t.known_length, None);
    assert_eq!(
        t.ops,
        [Op::Head, Op::Send(4), Op::Send(4), Op::Send(2), Op::Finish]
    );
}

#[test]
fn a_file_wrapper_before_start_response_fails_before_the_head() {
    let dir = crate::test_support::TempDir::new("rsgi-wsgi-", "early");
    let path = dir.write("body.txt", "data");
    let app = app(&format!(
        r#"
        def app(environ, start_response):
            global f
            f = open({path:?}, "rb")
            return environ["wsgi.file_wrapper"](f)
        "#
    ));
    let (outcome, t) = app.get("/");
    assert_eq!(outcome, Outcome::FailedBeforeHead);
    assert_eq!(t.head, None);
    assert!(app.eval::<bool>("f.closed"));
}
