//! The event-loop engine (issue 3): one worker holds many connections, and stalled, idle
//! or slow clients never keep it from serving the others; keep-alive and pipelining;
//! `--worker-connections`; the `--threads` pool; backpressure; `close()` on disconnect.
//!
//! Most tests run a single worker (`-w 1`): with one request at a time and blocking I/O,
//! they hang until the harness's safety deadline and fail. Concurrency is proven with
//! barriers and gate files, never with sleeps or timings.

use crate::support::*;
use std::collections::HashSet;

/// `GET target` with a Host header, split so that only `cut` bytes are sent first.
fn split_request(target: &str, cut: usize) -> (Vec<u8>, Vec<u8>) {
    let full = get_req(target);
    let cut = cut.clamp(1, full.len() - 1);
    (full[..cut].to_vec(), full[cut..].to_vec())
}

/// 100 idle keep-alive connections and 100 half-sent heads are open on the only worker;
/// 20 normal requests on fresh connections still succeed. Afterwards every stalled
/// connection is still open and is served once it completes its request.
fn stalled_connections_while_others_are_served(connect: &dyn Fn() -> Conn) {
    let hello = b"Hello, World!\n".as_slice();
    let mut idle = Vec::new();
    for i in 0..100 {
        let mut c = connect();
        let resp = c.roundtrip(&get_req(&format!("/idle/{i}")));
        assert_eq!(resp.status(), 200, "idle connection {i}");
        assert!(
            resp.head.keeps_alive(),
            "idle connection {i}: {}",
            resp.head.raw
        );
        idle.push(c);
    }
    let mut partial = Vec::new();
    for i in 0..100 {
        let mut c = connect();
        // Every connection stops at a different point of its head (never complete).
        let (first, rest) = split_request(&format!("/partial/{i}"), 1 + i * 7 % 40);
        c.send(&first);
        partial.push((c, rest));
    }
    for i in 0..20 {
        let mut c = connect();
        let resp = c.roundtrip(&request(
            "GET",
            &format!("/normal/{i}"),
            &[("Connection", "close")],
            b"",
        ));
        assert_eq!(resp.status(), 200, "normal request {i}");
        assert_eq!(resp.body, hello, "normal request {i}");
    }
    // Nothing was sent to (or closed on) the stalled connections meanwhile.
    for (i, c) in idle.iter_mut().enumerate() {
        assert!(
            !c.readable_now(),
            "idle connection {i} was answered or closed"
        );
    }
    for (i, (c, _)) in partial.iter_mut().enumerate() {
        assert!(
            !c.readable_now(),
            "half-sent head {i} was answered or closed"
        );
    }
    // And they are all still served.
    for (i, (c, rest)) in partial.iter_mut().enumerate() {
        c.send(rest);
        let resp = c.read_response();
        assert_eq!(resp.status(), 200, "completed head {i}");
        assert_eq!(resp.body, hello, "completed head {i}");
    }
    for (i, c) in idle.iter_mut().enumerate() {
        let resp = c.roundtrip(&get_req(&format!("/idle/{i}/again")));
        assert_eq!(resp.status(), 200, "idle connection {i}, second request");
        assert_eq!(resp.body, hello);
    }
}

/// Generous idle and head timeouts, so nothing the test holds open is timed out.
const PATIENT: [&str; 4] = ["--keep-alive", "300", "--header-timeout", "300"];

#[test]
fn stalled_connections_do_not_hold_the_worker_tcp() {
    let server = server("hello").workers(1).args(PATIENT).start();
    let addr = server.addr();
    stalled_connections_while_others_are_served(&|| Conn::tcp(addr));
}

#[test]
fn stalled_connections_do_not_hold_the_worker_unix() {
    let dir = TempDir::new();
    let server = server("hello")
        .bind(format!("unix:{}", dir.join("s.sock").display()))
        .workers(1)
        .args(PATIENT)
        .start();
    let path = server.unix_path();
    stalled_connections_while_others_are_served(&|| Conn::unix(&path));
}

#[test]
fn slow_reader_of_a_large_response_does_not_block_other_clients() {
    // --threads 1 (the default): the app runs on the event-loop thread, one worker.
    let mut server = server("cases.tracked").workers(1).start();
    let chunks = 640;
    let size = 16384; // 10 MiB in all
    let mut slow = Conn::tcp_small_rcvbuf(server.addr(), 4096);
    slow.send(&get_req(&format!(
        "/?id=big&chunks={chunks}&size={size}&length=1"
    )));
    // The response has started: the app was called and the head is out.
    let head = slow.read_head().expect("head of the large response");
    assert_eq!(head.status, 200);
    server.wait_for_line("tracked started big");
    // The slow client reads nothing more. Others are served by the same worker.
    for i in 0..5 {
        let resp = server.get(&format!("/?id=small{i}&chunks=2&size=5"));
        assert_eq!(resp.status(), 200, "request {i} next to the slow reader");
        assert_eq!(resp.body, b"aaaaabbbbb");
        server.wait_for_line(&format!("tracked closed small{i} after 2 chunks"));
    }
    // 10 MiB cannot fit in the socket buffers: the large response is still in progress.
    assert_eq!(
        server.log.count(|l| l.contains("tracked closed big")),
        0,
        "the 10 MiB response finished although its client read nothing"
    );
    // Now the slow client reads the whole response, byte-exact.
    let mut body = Vec::with_capacity(chunks * size);
    let info = slow
        .read_body(&Framing::Length((chunks * size) as u64), &mut |b| {
            body.extend_from_slice(b)
        })
        .unwrap();
    assert!(info.complete, "the large response was cut short");
    assert_eq!(body.len(), chunks * size);
    for (i, chunk) in body.chunks(size).enumerate() {
        let want = b'a' + (i % 26) as u8;
        assert!(chunk.iter().all(|&b| b == want), "chunk {i} is corrupt");
    }
    server.wait_for_line(&format!("tracked closed big after {chunks} chunks"));
}

/// The client reads the head and some body of a 1 GiB response, then disconnects; the
/// iterable's `close()` must still be called, and the worker goes on serving.
fn disconnect_mid_response_calls_close(threads: Option<&str>) {
    let b = server("cases.tracked").workers(1);
    let mut server = match threads {
        Some(n) => b.args(["--threads", n]),
        None => b,
    }
    .start();
    let pid = server.worker_pid();
    let mut c = Conn::tcp_small_rcvbuf(server.addr(), 4096);
    c.send(&get_req("/?id=gone"));
    let head = c.read_head().expect("response head");
    assert_eq!(head.status, 200);
    let mut buf = [0u8; 1024];
    let n = c.read_some(&mut buf).unwrap();
    assert!(n > 0, "no body bytes before the disconnect");
    drop(c);
    let line = server.wait_for_line("tracked closed gone after ");
    let sent: u64 = line
        .rsplit("after ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad close line {line:?}"));
    assert!(
        sent < 65536,
        "the whole 1 GiB was produced for a gone client: {line}"
    );
    let resp = server.get("/?id=after&chunks=1&size=3");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body, b"aaa");
    assert_eq!(server.ready_pids(), vec![pid], "the worker was replaced");
}

#[test]
fn client_disconnect_mid_response_calls_close() {
    disconnect_mid_response_calls_close(None);
}

#[test]
fn client_disconnect_mid_response_calls_close_with_threads_4() {
    disconnect_mid_response_calls_close(Some("4"));
}

#[test]
fn client_gone_before_the_response_starts_still_gets_close_called() {
    let dir = TempDir::new();
    let mut server = server("cases.tracked").workers(1).start();
    let mut c = server.conn();
    c.send(&get_req(&format!(
        "/?id=early&chunks=4&size=1024&{}",
        gate_param(&dir, "early")
    )));
    server.wait_for_line("tracked started early");
    c.shutdown_write();
    drop(c);
    open_gate_file(&dir, "early");
    server.wait_for_line("tracked closed early after ");
    let resp = server.get("/?id=next&chunks=1&size=2");
    assert_eq!(resp.body, b"aa");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    pipelined_requests_in_order("1");
}

/// With a pool, each request goes to a thread while the next ones wait in the read buffer
/// or the socket (watched again only once the connection is back).
#[test]
fn pipelined_requests_are_answered_in_order_with_threads() {
    pipelined_requests_in_order("2");
}

fn pipelined_requests_in_order(threads: &str) {
    let server = server("upload")
        .workers(1)
        .args(["--threads", threads])
        .start();
    let mut c = server.conn();
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..30 {
        let body = format!("request {i} ").repeat(i * 37 + 1).into_bytes();
        if i % 3 == 2 {
            batch.extend(request(
                "POST",
                "/?mode=read",
                &[("Transfer-Encoding", "chunked")],
                b"",
            ));
            batch.extend(chunked(&body, 100, ""));
        } else {
            batch.extend(request("POST", "/?mode=read", &[], &body));
        }
        expected.push(body);
    }
    // All 30 requests in one write.
    c.send(&batch);
    for (i, want) in expected.iter().enumerate() {
        let resp = c.read_response();
        assert_eq!(resp.status(), 200, "pipelined request {i}");
        assert_eq!(&resp.body, want, "pipelined request {i}");
    }
    // The connection is still usable afterwards.
    let resp = c.roundtrip(&request("POST", "/?mode=read", &[], b"last"));
    assert_eq!(resp.body, b"last");
}

#[test]
fn concurrent_keep_alive_clients_in_lockstep() {
    keep_alive_clients_in_lockstep("1");
}

#[test]
fn concurrent_keep_alive_clients_in_lockstep_with_threads() {
    keep_alive_clients_in_lockstep("3");
}

fn keep_alive_clients_in_lockstep(threads: &str) {
    // 16 persistent connections on one worker; in every round each connection has a
    // request outstanding before any response is read. A worker that stays with one
    // connection until it goes idle can never answer the second one.
    let server = server("upload")
        .workers(1)
        .args(["--keep-alive", "300", "--threads", threads])
        .start();
    let mut conns: Vec<Conn> = (0..16).map(|_| server.conn()).collect();
    for round in 0..10 {
        for (i, c) in conns.iter_mut().enumerate() {
            let body = format!("client {i} round {round}");
            c.send(&request("POST", "/?mode=read", &[], body.as_bytes()));
        }
        // Read in reverse order of sending.
        for (i, c) in conns.iter_mut().enumerate().rev() {
            let resp = c.read_response();
            assert_eq!(resp.status(), 200, "client {i} round {round}");
            assert_eq!(resp.text(), format!("client {i} round {round}"));
            assert!(resp.head.keeps_alive(), "client {i} round {round}");
        }
    }
}

#[test]
fn pipelined_requests_on_many_connections_at_once() {
    pipelined_on_many_connections("1");
}

#[test]
fn pipelined_requests_on_many_connections_at_once_with_threads() {
    pipelined_on_many_connections("3");
}

fn pipelined_on_many_connections(threads: &str) {
    // Pipelining and concurrency together: 8 connections, each with 5 requests in one
    // write, all sent before anything is read.
    let server = server("upload")
        .workers(1)
        .args(["--keep-alive", "300", "--threads", threads])
        .start();
    let mut conns: Vec<Conn> = (0..8).map(|_| server.conn()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let mut batch = Vec::new();
        for k in 0..5 {
            batch.extend(request(
                "POST",
                "/?mode=read",
                &[],
                format!("{i}/{k}").as_bytes(),
            ));
        }
        c.send(&batch);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        for k in 0..5 {
            assert_eq!(c.read_response().text(), format!("{i}/{k}"));
        }
    }
}

/// Sends `n` barrier requests on `n` connections and returns the responses.
fn barrier_round(server: &Server, n: usize, query: &str) -> Vec<Response> {
    let mut conns: Vec<Conn> = (0..n).map(|_| server.conn()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(&request(
            "GET",
            &format!("/?id=b{i}&{query}"),
            &[("Connection", "close")],
            b"",
        ));
    }
    conns.iter_mut().map(|c| c.read_response()).collect()
}

#[test]
fn threads_4_runs_four_requests_at_once_in_one_worker() {
    // Each request answers only when 4 of them are inside the app together. The app's
    // barrier gives up after 20 s (under the default --timeout of 30 s), so a pool that is
    // too small fails with "barrier broken" rather than a killed worker.
    let server = server("cases.barrier")
        .workers(1)
        .args(["--threads", "4"])
        .start();
    let pid = server.worker_pid();
    for round in 0..3 {
        let resps = barrier_round(&server, 4, &format!("parties=4&key=r{round}&timeout=20"));
        let mut threads = HashSet::new();
        for (i, resp) in resps.iter().enumerate() {
            assert_eq!(
                resp.status(),
                200,
                "round {round} request {i}: {}",
                resp.text()
            );
            let j = resp.json();
            assert_eq!(j["multithread"].as_bool(), Some(true));
            assert_eq!(j["pid"].as_i64(), Some(pid as i64));
            threads.insert(j["thread"].as_i64().unwrap());
        }
        assert_eq!(
            threads.len(),
            4,
            "round {round}: not 4 distinct threads: {threads:?}"
        );
    }
}

#[test]
fn a_pool_thread_keeps_its_threading_local_between_requests() {
    // 10 requests over 2 threads: one of them runs at least 5, and its threading.local
    // counts them (a thread state made afresh per request would say 1 every time).
    let server = server("cases.introspect")
        .workers(1)
        .args(["--threads", "2"])
        .start();
    let mut c = server.conn();
    let most = (0..10)
        .map(|i| {
            let resp = c.roundtrip(&get_req("/"));
            assert_eq!(resp.status(), 200, "request {i}: {}", resp.text());
            resp.json()["thread_requests"].as_i64().expect("a count")
        })
        .max();
    assert!(
        most >= Some(5),
        "most requests seen by one thread: {most:?}"
    );
}

#[test]
fn threads_4_runs_at_most_four_requests_at_once() {
    // A barrier of 5 can never fill with a pool of 4: every wait breaks (after the
    // app's own 2 s barrier timeout) and every request answers 500.
    let server = server("cases.barrier")
        .workers(1)
        .args(["--threads", "4"])
        .start();
    for (i, resp) in barrier_round(&server, 5, "parties=5&key=five&timeout=2")
        .iter()
        .enumerate()
    {
        assert_eq!(
            resp.status(),
            500,
            "request {i} passed a barrier of 5: {}",
            resp.text()
        );
        assert_eq!(resp.text(), "barrier broken\n");
    }
}

#[test]
fn threads_1_runs_one_request_at_a_time() {
    // The default --threads 1 runs the app on the loop thread: two requests can never
    // meet at a barrier of 2.
    let server = server("cases.barrier").workers(1).start();
    for (i, resp) in barrier_round(&server, 2, "parties=2&key=two&timeout=1")
        .iter()
        .enumerate()
    {
        assert_eq!(
            resp.status(),
            500,
            "request {i} met another: {}",
            resp.text()
        );
    }
}

#[test]
fn wsgi_multithread_is_true_with_threads_4() {
    let server = server("environ").args(["--threads", "4"]).start();
    let env = server.get("/").environ();
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(true));
}

#[test]
fn wsgi_multithread_is_false_by_default() {
    let server = server("environ").start();
    let env = server.get("/").environ();
    assert_eq!(env.value("wsgi.multithread"), &Json::Bool(false));
}

#[test]
fn worker_connections_limit_leaves_the_next_connection_in_the_backlog() {
    let server = server("hello")
        .workers(1)
        .args(["--worker-connections", "2", "--keep-alive", "300"])
        .start();
    let mut a = server.conn();
    let mut b = server.conn();
    assert_eq!(a.roundtrip(&get_req("/a")).status(), 200);
    assert_eq!(b.roundtrip(&get_req("/b")).status(), 200);
    // The kernel completes the handshake (backlog); the worker must not take it.
    let mut c = server.conn();
    c.send(&get_req("/c"));
    // Make the worker go around its loop many times after c's request arrived.
    for k in 0..10 {
        assert_eq!(a.roundtrip(&get_req(&format!("/a/{k}"))).status(), 200);
        assert_eq!(b.roundtrip(&get_req(&format!("/b/{k}"))).status(), 200);
    }
    assert!(
        !c.readable_now(),
        "a third connection was served while the worker held --worker-connections 2"
    );
    // One of the two closes: the third is accepted and served.
    drop(a);
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body, b"Hello, World!\n");
    // b is unaffected.
    assert_eq!(b.roundtrip(&get_req("/b/end")).status(), 200);
}

/// Listening TCP sockets on `port` in this network namespace (from /proc/net/tcp{,6}).
fn listening_sockets_on(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
                    fields.len() > 3
                        && fields[3] == "0A"
                        && fields[1]
                            .rsplit(':')
                            .next()
                            .and_then(|p| u16::from_str_radix(p, 16).ok())
                            == Some(port)
                })
                .map(|_| ())
                .collect::<Vec<_>>()
        })
        .count()
}

#[test]
fn reuse_port_gives_each_worker_its_own_listener() {
    let server = server("hello").workers(2).arg("--reuse-port").start();
    let port = server.addr().port();
    // The master's socket plus one per worker, all in one SO_REUSEPORT group; workers
    // report ready only once theirs is open.
    assert_eq!(listening_sockets_on(port), 3);
    for i in 0..40 {
        let mut c = server.conn();
        let resp = c.roundtrip(&request(
            "GET",
            &format!("/{i}"),
            &[("Connection", "close")],
            b"",
        ));
        assert_eq!(resp.status(), 200, "request {i}");
    }
}

#[test]
fn without_reuse_port_workers_share_one_listener() {
    let server = server("hello").workers(2).start();
    assert_eq!(listening_sockets_on(server.addr().port()), 1);
    assert_eq!(server.get("/").status(), 200);
}

// Regression: a draining worker stayed in the --reuse-port group, so reloads reset connections,
// commit 198f371
/// A draining worker gives its own `--reuse-port` socket up at once (after taking in what
/// was queued on it): the kernel would otherwise keep sending it a share of new connections
/// that nobody accepts, all reset when it exits.
#[test]
fn a_draining_worker_leaves_the_reuse_port_group_at_once() {
    let dir = TempDir::new();
    // Two threads, so the loop hears TERM while the app holds the request.
    let mut server = server("cases.slow")
        .args(["--reuse-port", "--threads", "2"])
        .start();
    let port = server.addr().port();
    assert_eq!(
        listening_sockets_on(port),
        2,
        "the master's and the worker's"
    );
    let worker = server.worker_pid();
    let mut c = server.conn();
    c.send(&get_req(&format!("/?id=held&{}", gate_param(&dir, "held"))));
    server.wait_for_line("slow started held");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal the worker");
    server.wait_for_line(&format!("Worker draining (pid: {worker})"));
    // Still draining (its request is held), yet only the master's socket is in the group.
    assert_eq!(listening_sockets_on(port), 1);
    open_gate_file(&dir, "held");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    c.expect_closed();
}

/// `--request-buffering=false`: an app answers without reading a body the client has only
/// half sent. Reading the rest of that body (to keep the connection) must not stall the
/// event loop: another client is served meanwhile, while the first connection is still open;
/// once the rest arrives, the first connection serves its next request.
fn unread_body_of_a_stalled_client_does_not_stall_the_loop(threads: &str) {
    let server = server("upload")
        .workers(1)
        .args([
            "--threads",
            threads,
            "--request-buffering=false",
            "--body-timeout",
            "20",
        ])
        .start();
    let mut a = server.conn();
    a.send(
        b"POST /?mode=ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789",
    );
    let resp = a
        .try_read_response()
        .expect("a response for the ignored body");
    assert_eq!(resp.body, b"ignored");
    // Keep-alive requests on another connection: with a pool a first response can go out
    // before the loop takes the stalled request back, the later ones need the loop.
    let mut b = server.conn();
    for _ in 0..3 {
        let resp = b.roundtrip(&get_req("/?mode=ignore"));
        assert_eq!(resp.body, b"ignored");
    }
    assert!(
        !a.readable_now(),
        "the stalled client's connection was given up before another client was served"
    );
    // The rest of the body, then the next request: the body is not taken for a request.
    a.send(&pattern(990));
    let resp = a.roundtrip(&request("POST", "/?mode=read", &[], b"next"));
    assert_eq!(resp.body, b"next");
}

// Regression: the loop waited for an unread body's rest, stalling other clients,
// commit 25a4735 (issue 3)
#[test]
fn unread_body_of_a_stalled_client_does_not_stall_the_loop_threads_1() {
    unread_body_of_a_stalled_client_does_not_stall_the_loop("1");
}

// Regression: the loop waited for an unread body's rest, stalling other clients,
// commit 25a4735 (issue 3)
#[test]
fn unread_body_of_a_stalled_client_does_not_stall_the_loop_threads_2() {
    unread_body_of_a_stalled_client_does_not_stall_the_loop("2");
}
