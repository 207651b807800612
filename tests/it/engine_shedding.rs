//! Load shedding (`--max-queue-time`): a request that waited past the limit before it could
//! reach the app is answered 503 with `Retry-After` and `Connection: close`, the app never
//! sees it (the `cases.queued` app counts its calls), and the access log shows the 503. The
//! wait runs from when the worker had the request, or from a trusted proxy's
//! `X-Request-Start` (nginx's and Heroku's formats); an untrusted one changes nothing.

use crate::support::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `X-Request-Start` values for a request a proxy saw `ago` before now: nginx's
/// `t=SECONDS.MILLIS`, Heroku's milliseconds, and microseconds.
fn request_starts(ago: Duration) -> [String; 3] {
    let at = SystemTime::now()
        .checked_sub(ago)
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap();
    [
        format!("t={}.{:03}", at.as_secs(), at.subsec_millis()),
        at.as_millis().to_string(),
        format!("t={}", at.as_micros()),
    ]
}

fn calls(response: &Response) -> i64 {
    response.json()["calls"].as_i64().expect("calls")
}

/// Asserts `response` is a shed request's answer.
fn assert_shed(response: &Response) {
    assert_eq!(response.status(), 503, "{}", response.text());
    assert_eq!(response.header("Retry-After"), Some("1"));
    assert_eq!(response.header("Connection"), Some("close"));
}

#[test]
fn a_request_waiting_behind_a_slow_one_is_shed_without_reaching_the_app() {
    let mut server = server("cases.queued")
        .args(["--max-queue-time", "50", "--threads", "1"])
        .args([
            "--access-logfile",
            "-",
            "--access-log-format",
            "%(s)s %(U)s",
        ])
        .start();
    let mut c = server.conn();
    // Pipelined: the second request is read with the first and waits on the loop thread
    // while the app holds the first for at least 300 ms, six times the limit.
    let mut both = get_req("/hold?min_ms=300");
    both.extend(get_req("/late"));
    c.send(&both);
    let held = c.read_response();
    assert_eq!(held.status(), 200);
    assert_eq!(calls(&held), 1);
    assert_shed(&c.read_response());
    c.expect_closed();
    // The app was not called for /late.
    let after = server.get("/after");
    assert_eq!(calls(&after), 2);
    let lines = server
        .stdout
        .wait_count(3, |l| l.contains(" /"))
        .expect("access lines");
    assert_eq!(lines, ["200 /hold", "503 /late", "200 /after"]);
}

#[test]
fn a_request_waiting_in_its_socket_while_the_app_runs_is_shed() {
    let dir = TempDir::new();
    let gate = dir.join("gate");
    let mut server = server("cases.queued")
        .args(["--max-queue-time", "50", "--threads", "1"])
        .start();
    let mut holder = server.conn();
    holder.send(&get_req(&format!(
        "/hold?until={}&after_ms=300",
        gate.display()
    )));
    server.wait_for_line("queued holding");
    // The loop thread is in the app: this request waits in its socket, unread, from now
    // until at least 300 ms after the gate opens. Only the kernel sees it arrive.
    let mut late = server.conn();
    late.send(&get_req("/late"));
    dir.write("gate", "");
    assert_eq!(holder.read_response().status(), 200);
    assert_shed(&late.read_response());
    assert_eq!(calls(&server.get("/after")), 2, "the app never saw /late");
}

#[test]
fn a_request_queued_for_busy_threads_is_shed_when_a_thread_takes_it() {
    let dir = TempDir::new();
    let gate = dir.join("gate");
    let hold = format!("/hold?until={}", gate.display());
    let mut server = server("cases.queued")
        .args(["--max-queue-time", "10000", "--threads", "2"])
        .start();
    let mut holders: Vec<Conn> = (0..2).map(|_| server.conn()).collect();
    for c in &mut holders {
        c.send(&get_req(&hold));
    }
    server.wait_for_lines("queued holding", 2);
    // Both threads are busy: this request waits in the pool's queue. A trusted proxy says
    // it arrived a minute ago, past the limit whenever a thread takes it.
    let mut late = server.conn();
    let [nginx, ..] = request_starts(Duration::from_secs(60));
    late.send(&request(
        "GET",
        "/late",
        &[("X-Request-Start", &nginx)],
        b"",
    ));
    dir.write("gate", "");
    for c in &mut holders {
        assert_eq!(c.read_response().status(), 200);
    }
    assert_shed(&late.read_response());
    assert_eq!(calls(&server.get("/after")), 3, "the app never saw /late");
}

#[test]
fn a_trusted_proxys_request_start_sheds_an_old_request_in_every_format() {
    let server = server("cases.queued")
        .args(["--max-queue-time", "10000"])
        .start();
    for value in request_starts(Duration::from_secs(60)) {
        let mut c = server.conn();
        let response = c.roundtrip(&request("GET", "/", &[("X-Request-Start", &value)], b""));
        assert_shed(&response);
    }
    // A recent start, and one that is no time at all, leave the request alone.
    let [recent, ..] = request_starts(Duration::ZERO);
    for value in [recent.as_str(), "t=soon"] {
        let mut c = server.conn();
        let response = c.roundtrip(&request("GET", "/", &[("X-Request-Start", value)], b""));
        assert_eq!(response.status(), 200, "{value}");
    }
    assert_eq!(
        calls(&server.get("/")),
        3,
        "only the requests served were seen"
    );
}

#[test]
fn an_untrusted_request_start_is_ignored() {
    let server = server("cases.queued")
        .args([
            "--max-queue-time",
            "10000",
            "--forwarded-allow-ips",
            "10.0.0.1",
        ])
        .start();
    for value in request_starts(Duration::from_secs(60)) {
        let mut c = server.conn();
        let response = c.roundtrip(&request("GET", "/", &[("X-Request-Start", &value)], b""));
        assert_eq!(response.status(), 200, "{value}");
    }
}

#[test]
fn bad_queue_times_name_the_option() {
    for bad in ["-1", "soon", "3600001"] {
        let run = server("cases.queued")
            .arg(format!("--max-queue-time={bad}"))
            .run();
        assert_eq!(run.code(), Some(2), "{run:?}");
        let out = run.all_output();
        assert!(
            out.contains("max-queue-time") && out.contains(bad),
            "{run:?}"
        );
    }
}

#[test]
fn a_proxy_on_a_unix_socket_is_believed_when_trusted() {
    // The kernel gives no receive times on Unix sockets: there the wait counts from when
    // the worker read the request, or from the proxy's X-Request-Start.
    let dir = TempDir::new();
    let server = server("cases.queued")
        .bind(format!("unix:{}", dir.join("app.sock").display()))
        .args(["--max-queue-time", "10000", "--forwarded-allow-ips", "unix"])
        .start();
    let [nginx, ..] = request_starts(Duration::from_secs(60));
    let mut c = Conn::unix(&server.unix_path());
    assert_shed(&c.roundtrip(&request("GET", "/", &[("X-Request-Start", &nginx)], b"")));
}

#[test]
fn a_uwsgi_front_ends_request_start_counts() {
    use crate::uwsgi_nginx::uwsgi_addr;
    use rsgi_server::uwsgi::packet::encode;
    let server = server("cases.queued")
        .args(["--max-queue-time", "10000"])
        .bind("uwsgi://127.0.0.1:0")
        .start();
    let [nginx, ..] = request_starts(Duration::from_secs(60));
    let mut c = Conn::tcp(uwsgi_addr(&server));
    c.send(&encode(
        0,
        &[
            (b"PATH_INFO", b"/"),
            (b"HTTP_X_REQUEST_START", nginx.as_bytes()),
        ],
        b"",
    ));
    assert_shed(&c.read_response());
}

/// A shed request takes readiness down (a load balancer sends elsewhere for a moment) and is
/// counted in the metrics; readiness comes back once no request was shed for a second.
#[test]
fn shedding_takes_readiness_down_and_is_counted() {
    use crate::support::metrics::{metrics_addr, scrape, scrape_with};
    let mut server = server("cases.queued")
        .args(["--max-queue-time", "50", "--metrics-bind", "127.0.0.1:0"])
        .start();
    let metrics = metrics_addr(&mut server);
    wait_until("/readyz 200", || {
        scrape_with(metrics, "GET", "/readyz", None).status() == 200
    });
    // A trusted proxy (127.0.0.1) saw this request a minute ago.
    let start = &request_starts(Duration::from_secs(60))[0];
    let mut c = server.conn();
    c.send(&request("GET", "/old", &[("X-Request-Start", start)], b""));
    assert_shed(&c.read_response());
    let ready = scrape_with(metrics, "GET", "/readyz", None);
    assert_eq!(ready.status(), 503, "{}", ready.text());
    assert!(ready.text().starts_with("shedding: "), "{}", ready.text());
    let m = scrape(metrics);
    assert_eq!(m.get("rsgi_requests_shed_total", &[]), 1.0);
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "5xx")]
        ),
        1.0
    );
    wait_until("/readyz 200 again", || {
        scrape_with(metrics, "GET", "/readyz", None).status() == 200
    });
    assert_eq!(calls(&server.get("/after")), 1, "the app never saw /old");
}
