//! `--metrics-bind`: the master's scrape listener, read with a plain HTTP client and parsed
//! here: counters equal what was sent, byte counters equal the bytes on the wire,
//! histograms add up, the master answers while every worker is stuck in the app, counters
//! survive a worker's death, and a bad address is refused before anything is bound.

use crate::support::metrics::{metrics_addr, parse, scrape, scrape_with, start_with_metrics};
use crate::support::*;
use nix::sys::signal::Signal;

/// Sends `req` on a fresh connection and reads until the server closes it; returns the
/// bytes received.
fn exchange(server: &Server, req: &[u8]) -> Vec<u8> {
    let mut c = server.conn();
    c.send(req);
    until_closed(&mut c)
}

#[test]
fn requests_are_counted_by_method_and_status_and_bytes_match_the_wire() {
    let (server, metrics) = start_with_metrics(server("hello"));
    let mut sent = 0;
    let mut received = 0;
    let close = [("Connection", "close")];
    let requests = (0..5)
        .map(|_| request("GET", "/", &close, b""))
        .chain((0..2).map(|_| request("POST", "/", &close, b"a body")))
        .chain(std::iter::once(b"NOT HTTP AT ALL\r\n\r\n".to_vec()));
    for req in requests {
        let answer = exchange(&server, &req);
        assert!(!answer.is_empty());
        sent += req.len();
        received += answer.len();
    }
    let m = scrape(metrics);
    assert_eq!(m.types["rsgi_requests_total"], "counter");
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        5.0
    );
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "POST"), ("status", "2xx")]
        ),
        2.0
    );
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "other"), ("status", "4xx")]
        ),
        1.0
    );
    // The app ran seven of them; the server answered the eighth itself.
    let (_, count, sum) = m.histogram("rsgi_request_duration_seconds");
    assert_eq!(count, 7.0);
    assert!(sum > 0.0);
    let (_, count, _) = m.histogram("rsgi_request_queue_wait_seconds");
    assert_eq!(count, 7.0);
    assert_eq!(m.get("rsgi_received_bytes_total", &[]), sent as f64);
    assert_eq!(m.get("rsgi_sent_bytes_total", &[]), received as f64);
    assert_eq!(m.get("rsgi_requests_in_flight", &[]), 0.0);
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 1.0);
    assert!(m.get("rsgi_worker_resident_memory_bytes", &[("slot", "0")]) > 1e6);
    let listener = format!("http://{}", server.addr());
    assert_eq!(
        m.get("rsgi_listen_backlog", &[("listener", &listener)]),
        0.0
    );
    assert!(m.get("rsgi_listen_backlog_limit", &[("listener", &listener)]) > 0.0);
    assert_eq!(m.types["rsgi_build_info"], "gauge");
    assert!(m.get("process_start_time_seconds", &[]) > 1.6e9);
}

#[test]
fn openmetrics_is_served_when_asked_and_other_paths_and_methods_are_refused() {
    let (server, metrics) = start_with_metrics(server("hello"));
    assert_eq!(server.get("/").status(), 200);
    wait_until("the request recorded", || {
        scrape(metrics).get_or_zero("rsgi_requests_total", &[]) == 1.0
    });
    let plain = scrape_with(metrics, "GET", "/metrics", None);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let om = scrape_with(metrics, "GET", "/metrics", Some(accept));
    assert_eq!(om.status(), 200);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = om.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
    let m = parse(&text);
    // Counter families are named without `_total`; their samples keep it.
    assert_eq!(m.types["rsgi_requests"], "counter");
    assert_eq!(m.types["rsgi_build"], "info");
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        1.0
    );
    assert!(!m.types.contains_key("rsgi_requests_total"));

    let head = scrape_with(metrics, "HEAD", "/metrics", None);
    assert_eq!(head.status(), 200);
    assert!(head.body.is_empty());
    assert_eq!(scrape_with(metrics, "GET", "/nope", None).status(), 404);
    assert_eq!(scrape_with(metrics, "POST", "/metrics", None).status(), 405);
}

#[test]
fn the_master_answers_while_every_worker_is_stuck_in_the_app() {
    let dir = TempDir::new();
    let (mut server, metrics) = start_with_metrics(server("cases.misbehave"));
    let mut stuck = server.conn();
    stuck.send(&get_req(&format!("/stuck?{}", gate_param(&dir, "a"))));
    server.wait_for_line("misbehave /stuck");
    let m = scrape(metrics);
    assert_eq!(m.get("rsgi_workers", &[("state", "busy")]), 1.0);
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 0.0);
    assert_eq!(m.get("rsgi_requests_in_flight", &[]), 1.0);
    assert_eq!(m.get("rsgi_connections", &[]), 1.0);
    assert_eq!(m.get_or_zero("rsgi_requests_total", &[]), 0.0);
    open_gate_file(&dir, "a");
    assert_eq!(stuck.read_response().status(), 200);
    // Recorded just after the response went out.
    wait_until("the request to leave the app's count", || {
        scrape(metrics).get("rsgi_requests_in_flight", &[]) == 0.0
    });
    let m = scrape(metrics);
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 1.0);
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        1.0
    );
    drop(stuck);
    wait_until("the closed connection to leave the gauge", || {
        scrape(metrics).get("rsgi_connections", &[]) == 0.0
    });
}

#[test]
fn counters_survive_a_killed_worker_and_restarts_and_reloads_are_counted() {
    let (mut server, metrics) = start_with_metrics(server("cases.misbehave"));
    for _ in 0..3 {
        assert_eq!(server.get("/").status(), 200);
    }
    // A request is recorded just after its response goes out: wait for the third.
    let get_2xx = [("method", "GET"), ("status", "2xx")];
    wait_until("three requests recorded", || {
        scrape(metrics).get_or_zero("rsgi_requests_total", &get_2xx) == 3.0
    });
    let victim = server.worker_pid();
    kill(victim, Signal::SIGKILL);
    server.wait_for_line(&format!("Worker (pid: {victim}) was killed by SIGKILL"));
    server.wait_for_lines("Worker ready (pid: ", 2);
    let m = scrape(metrics);
    assert_eq!(
        m.get("rsgi_worker_restarts_total", &[("cause", "signal")]),
        1.0
    );
    assert_eq!(
        m.get("rsgi_worker_restarts_total", &[("cause", "exit")]),
        0.0
    );
    // The dead worker's requests are still counted, and the new one adds to them.
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        3.0
    );
    assert_eq!(server.get("/").status(), 200);
    wait_until("the fourth request recorded", || {
        scrape(metrics).get_or_zero("rsgi_requests_total", &get_2xx) == 4.0
    });
    let m = scrape(metrics);
    assert_eq!(m.histogram("rsgi_request_duration_seconds").1, 4.0);

    server.signal(Signal::SIGHUP);
    server.wait_for_line("Reload complete");
    let m = scrape(metrics);
    assert_eq!(
        m.get("rsgi_reloads_total", &[("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(
        m.get("rsgi_worker_restarts_total", &[("cause", "reload")]),
        1.0
    );
    assert_eq!(
        m.get(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        4.0
    );
}

#[test]
fn metrics_are_served_on_a_unix_socket() {
    let dir = TempDir::new();
    let path = dir.join("metrics.sock");
    let mut server = server("hello")
        .arg("--metrics-bind")
        .arg(format!("unix:{}", path.display()))
        .start();
    server.wait_for_line(&format!("Serving metrics at: unix:{}", path.display()));
    let mut c = Conn::unix(&path);
    c.send(&get_req("/metrics"));
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    let m = parse(&resp.text());
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 1.0);
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!path.exists(), "the socket file is removed at exit");
}

#[test]
fn a_bad_metrics_bind_names_the_option_and_exits_2_before_binding() {
    for bad in [
        "nonsense",
        "fd://3",
        "uwsgi://127.0.0.1:9100",
        "127.0.0.1:99999",
    ] {
        let port = crate::support::hygiene::free_port();
        let out = server("hello")
            .no_default_bind()
            .bind(format!("127.0.0.1:{port}"))
            .args(["--metrics-bind", bad])
            .run();
        assert_eq!(out.code(), Some(2), "{bad}: {}", out.all_output());
        assert!(
            out.stderr.contains("--metrics-bind") && out.stderr.contains(bad),
            "{bad}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("Listening at"), "{}", out.stderr);
    }
}

#[test]
fn a_metrics_address_in_use_stops_the_server_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = server("hello").args(["--metrics-bind", &addr]).run();
    assert_eq!(out.code(), Some(1), "{}", out.all_output());
    assert!(out.stderr.contains("--metrics-bind"), "{}", out.stderr);
    assert!(!out.stderr.contains("Booting worker"), "{}", out.stderr);
}

#[test]
fn the_metrics_address_is_announced() {
    let mut server = server("hello")
        .args(["--metrics-bind", "127.0.0.1:0"])
        .start();
    let addr = metrics_addr(&mut server);
    assert_eq!(scrape_with(addr, "GET", "/metrics", None).status(), 200);
}

#[test]
fn requests_run_by_pool_threads_are_recorded_by_the_loop() {
    let (server, metrics) = start_with_metrics(server("hello").args(["--threads", "4"]));
    for _ in 0..10 {
        assert_eq!(server.get("/").status(), 200);
    }
    let get_2xx = [("method", "GET"), ("status", "2xx")];
    wait_until("ten requests recorded", || {
        scrape(metrics).get_or_zero("rsgi_requests_total", &get_2xx) == 10.0
    });
    let m = scrape(metrics);
    assert_eq!(m.histogram("rsgi_request_duration_seconds").1, 10.0);
    assert_eq!(m.histogram("rsgi_request_queue_wait_seconds").1, 10.0);
    assert_eq!(m.get("rsgi_requests_in_flight", &[]), 0.0);
}

#[test]
fn a_silent_scraper_does_not_hold_up_the_others_or_the_master() {
    let (mut server, metrics) = start_with_metrics(server("hello"));
    let mut silent = Conn::tcp(metrics);
    silent.send(b"GET /metr");
    let mut oversized = Conn::tcp(metrics);
    oversized.send(&vec![b'a'; 9_000]);
    assert_eq!(scrape_with(metrics, "GET", "/metrics", None).status(), 200);
    assert_eq!(oversized.read_response().status(), 431);
    // Supervision goes on meanwhile: a TTIN is acted on.
    server.signal(Signal::SIGTTIN);
    server.wait_for_lines("Worker ready (pid: ", 2);
    // The silent one is dropped at its deadline rather than held forever.
    assert!(silent.read_until_closed().is_ok_and(|b| b.is_empty()));
}

/// USR2: the new master takes the metrics listener over from the old one (the same socket,
/// passed like the main listeners), so scrapes and probes on its address never stop, and
/// the old master leaves the socket file to it.
#[test]
fn a_binary_upgrade_hands_the_metrics_listener_over() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new();
    let path = dir.join("metrics.sock");
    let mut old = server("hello")
        .arg("--metrics-bind")
        .arg(format!("unix:{}", path.display()))
        .start();
    old.wait_for_line(&format!("Serving metrics at: unix:{}", path.display()));
    let inode = std::fs::metadata(&path).unwrap().ino();
    let scrape_unix = || {
        let mut c = Conn::unix(&path);
        c.send(&get_req("/metrics"));
        let resp = c.read_response();
        assert_eq!(resp.status(), 200);
        parse(&resp.text())
    };
    for _ in 0..3 {
        assert_eq!(old.get("/").status(), 200);
    }
    wait_until("the old master counts 3 requests", || {
        scrape_unix().get_or_zero(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")],
        ) == 3.0
    });

    old.signal(Signal::SIGUSR2);
    let line = old.wait_for_line("started a new master (pid: ");
    let rest = &line[line.find("(pid: ").unwrap() + 6..];
    let new: i32 = rest.split(')').next().unwrap().parse().expect("pid");
    let _reap = Reap(new);
    old.wait_for_lines("Worker ready (pid: ", 2);
    old.signal(Signal::SIGTERM);
    assert!(crate::support::wait_child(&mut old.child).success());

    // The same socket file, now answered by the new master (whose workers served nothing).
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
    let m = scrape_unix();
    assert_eq!(
        m.get_or_zero(
            "rsgi_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        0.0
    );
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 1.0);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new), Signal::SIGTERM).unwrap();
    wait_until("the new master exits", || !Server::is_alive(new));
    assert!(
        !path.exists(),
        "the new master removes the file it was handed"
    );
}
