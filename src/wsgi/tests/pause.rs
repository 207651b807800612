//! Pausing a call while the client is behind ([`Flow::Full`](crate::wsgi::Flow::Full)) and
//! resuming it where it stopped: the app's iterable is not advanced while paused, and no
//! chunk is lost or sent twice.

use super::{app, done, strs};
use crate::wsgi::testing::{MemoryTransport, Op, TestRequest};
use crate::wsgi::{Call, Outcome, Step};

/// Drains and resumes until the call is done; returns the outcome and how often it paused.
/// After each pause, checks the iterable went no further than the chunk that filled the
/// transport.
fn run_to_end(
    app: &super::TestApp,
    mut call: Call<MemoryTransport>,
    mut step: Step,
) -> (Outcome, usize, MemoryTransport) {
    let mut pauses = 0;
    while step == Step::Paused {
        pauses += 1;
        let sent = call
            .with_transport(|t| t.body.len())
            .expect("held while paused");
        let asked = app
            .events()
            .iter()
            .filter(|e| e.starts_with("yield"))
            .count();
        assert_eq!(asked, sent / 100, "the iterable ran ahead of the transport");
        call.with_transport(MemoryTransport::drain);
        step = call.resume();
    }
    let Step::Done(outcome) = step else {
        unreachable!()
    };
    (outcome, pauses, done(call))
}

/// 10 chunks of 100 bytes, each chunk's bytes naming it, so a chunk lost or repeated shows.
const TEN_CHUNKS: &str = r#"
    def app(environ, start_response):
        start_response("200 OK", [])
        return Body([b"%d" % (i % 10) * 100 for i in range(10)])
"#;

fn ten_chunks() -> Vec<u8> {
    (0..10u8).flat_map(|i| [b'0' + i; 100]).collect()
}

#[test]
fn a_full_transport_pauses_the_call_and_resume_continues_it() {
    let app = app(TEN_CHUNKS);
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(250));
    assert_eq!(step, Step::Paused);
    let (outcome, pauses, t) = run_to_end(&app, call, step);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(t.body, ten_chunks());
    // Full after 300 bytes of each 1000: three pauses, the last one before the end.
    assert_eq!(pauses, 3);
    assert_eq!(app.events().last().map(String::as_str), Some("close"));
}

#[test]
fn nothing_is_lost_or_repeated_across_pauses() {
    for full_at in [1, 99, 100, 101, 1000, 5000] {
        let app = app(TEN_CHUNKS);
        let req = TestRequest::get("/");
        let (mut call, mut step) = app.start(&req, req.transport().full_at(full_at));
        while step == Step::Paused {
            call.with_transport(MemoryTransport::drain);
            step = call.resume();
        }
        assert_eq!(step, Step::Done(Outcome::Complete), "full at {full_at}");
        let t = done(call);
        assert_eq!(t.body, ten_chunks(), "full at {full_at}");
        assert_eq!(t.ops.iter().filter(|op| **op == Op::Head).count(), 1);
        assert!(t.finished);
        let events = app.events();
        let yields: Vec<_> = (0..10).map(|i| format!("yield {i}")).collect();
        assert_eq!(events[..10], yields[..], "full at {full_at}");
        assert_eq!(strs(&events[10..]), ["close"], "full at {full_at}");
    }
}

#[test]
fn a_list_body_pauses_too() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"%d" % i * 100 for i in range(10)]
    "#);
    let req = TestRequest::get("/");
    let (mut call, mut step) = app.start(&req, req.transport().full_at(300));
    let mut pauses = 0;
    while step == Step::Paused {
        pauses += 1;
        call.with_transport(MemoryTransport::drain);
        step = call.resume();
    }
    assert_eq!(step, Step::Done(Outcome::Complete));
    assert_eq!(pauses, 3);
    let t = done(call);
    assert_eq!(t.body, ten_chunks());
    assert_eq!(t.known_length, Some(1000));
}

#[test]
fn resuming_a_finished_call_changes_nothing() {
    let app = app(TEN_CHUNKS);
    let req = TestRequest::get("/");
    let (mut call, step) = app.start(&req, req.transport());
    assert_eq!(step, Step::Done(Outcome::Complete));
    assert_eq!(call.resume(), Step::Done(Outcome::Complete));
    let t = done(call);
    assert_eq!(t.body, ten_chunks());
    assert_eq!(app.events().iter().filter(|e| *e == "close").count(), 1);
}

#[test]
fn a_generator_failing_after_a_pause_aborts() {
    let app = app(r#"
        def app(environ, start_response):
            start_response("200 OK", [])
            return Body([b"a" * 100, b"b" * 100, b"c"], fail_at=2)
    "#);
    let req = TestRequest::get("/");
    let (call, step) = app.start(&req, req.transport().full_at(100));
    let (outcome, pauses, t) = run_to_end(&app, call, step);
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(t.body.len(), 200);
    assert_eq!(pauses, 2);
    assert_eq!(
        strs(&app.events()),
        ["yield 0", "yield 1", "raise 2", "close"]
    );
}

#[test]
fn a_file_that_fills_the_transport_pauses_until_it_is_sent() {
    let dir = crate::test_support::TempDir::new("rsgi-wsgi-", "pause");
    let path = dir.write("body.txt", &"x".repeat(1000));
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
    let (mut call, step) = app.start(&req, req.transport().full_at(10));
    assert_eq!(step, Step::Paused);
    assert!(!app.eval::<bool>("f.closed"), "still being sent");
    call.with_transport(MemoryTransport::drain);
    assert_eq!(call.resume(), Step::Done(Outcome::Complete));
    assert!(app.eval::<bool>("f.closed"));
    let t = done(call);
    assert_eq!(t.body.len(), 1000);
    assert_eq!(t.ops, [Op::Head, Op::File(1000), Op::Finish]);
}
