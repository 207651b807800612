//! Health probes on the main listeners (`--health-path-prefix`) and `--drain-delay`:
//! readiness through boot, a HUP reload and a TERM, answered by the workers without Python.

use crate::support::*;
use nix::sys::signal::Signal;

const PREFIX: &str = "/_rsgi";

fn probe(server: &Server, which: &str) -> Response {
    server.get(&format!("{PREFIX}/{which}"))
}

/// Polls until `/readyz` answers `status`; returns that answer. The master publishes
/// readiness on the pass after a worker rang, a moment after the worker logged.
fn await_readyz(server: &Server, status: u16) -> Response {
    await_probe(server, "readyz", status)
}

/// Polls until probe `which` answers `status`; returns that answer (see [`await_readyz`]).
fn await_probe(server: &Server, which: &str, status: u16) -> Response {
    let mut last = None;
    wait_until(&format!("/{which} {status}"), || {
        let r = probe(server, which);
        let done = r.status() == status;
        last = Some(r);
        done
    });
    last.unwrap()
}

fn gated(dir: &TempDir, workers: usize) -> Builder {
    server("cases.gated_import")
        .workers(workers)
        .env("GATE_DIR", dir.path())
        .args(["--health-path-prefix", PREFIX])
}

#[test]
fn readiness_waits_for_every_worker_of_the_first_generation() {
    let gate = TempDir::new();
    // One worker is let through, the other waits for the gate.
    let mut server = gated(&gate, 2).expect_workers(1).start();
    server.wait_for_line("gated import waiting");
    let ready = probe(&server, "readyz");
    assert_eq!(ready.status(), 503, "{}", ready.text());
    assert!(
        ready.text().starts_with("booting: ")
            && ready.text().contains("/2 workers of generation 1"),
        "{}",
        ready.text()
    );
    assert_eq!(ready.header("Cache-Control"), Some("no-store"));
    // A booting server is alive: the master runs and a worker answers (once the master's
    // pass after the ready worker rang has published it).
    let live = await_probe(&server, "livez", 200);
    assert!(live.text().starts_with("live: "), "{}", live.text());
    // The app is never asked: the probe path is the engine's.
    assert_eq!(server.get("/anything").text(), "Hello, World!\n");

    gate.write("open", "");
    server.wait_for_lines("Worker ready (pid: ", 2);
    let ready = await_readyz(&server, 200);
    assert_eq!(ready.text(), "ready: 2/2 workers of generation 1\n");
    assert_eq!(
        ready.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn readiness_is_down_while_a_reload_boots_the_new_generation() {
    let gate = TempDir::new();
    gate.write("open", "");
    let mut server = gated(&gate, 2).start();
    await_readyz(&server, 200);
    // The next generation: one worker through, the other held.
    std::fs::remove_file(gate.join("open")).unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line("Reloading: starting generation 2");
    server.wait_for_line("gated import waiting");
    let down = await_readyz(&server, 503);
    assert!(
        down.text().starts_with("booting: ") && down.text().contains("of generation 2"),
        "{}",
        down.text()
    );
    // The old generation still serves meanwhile.
    assert_eq!(server.get("/").status(), 200);
    gate.write("open", "");
    server.wait_for_line("Reload complete (generation 2)");
    let up = await_readyz(&server, 200);
    assert_eq!(up.text(), "ready: 2/2 workers of generation 2\n");
}

#[test]
fn term_with_a_drain_delay_takes_readiness_down_and_keeps_serving() {
    // Longer than the harness's safety deadline: the server only exits within the test
    // because the second TERM ends the delay.
    let mut server = server("hello")
        .workers(2)
        .args(["--health-path-prefix", PREFIX, "--drain-delay", "120"])
        .start();
    await_readyz(&server, 200);
    let mut kept = server.conn();
    assert_eq!(kept.roundtrip(&get_req("/")).status(), 200);

    server.signal(Signal::SIGTERM);
    server.wait_for_line("Draining: readiness is down");
    let ready = probe(&server, "readyz");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text(), "draining: stopping, taking no new work\n");
    assert_eq!(probe(&server, "livez").status(), 200, "draining is alive");
    // New connections are accepted and served, and so are kept-alive ones.
    for _ in 0..20 {
        assert_eq!(server.get("/").status(), 200);
    }
    let again = kept.roundtrip(&get_req("/"));
    assert_eq!(again.status(), 200);
    assert!(again.head.keeps_alive(), "no worker drains yet");
    assert!(!server.stderr_text().contains("Worker draining"));

    server.signal(Signal::SIGTERM);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    let log = server.stderr_text();
    assert!(log.contains("Shutting down (graceful)"), "{log}");
}

#[test]
fn the_drain_delay_ends_in_a_graceful_stop_on_its_own() {
    let mut server = server("hello")
        .args(["--health-path-prefix", PREFIX, "--drain-delay", "1"])
        .start();
    server.signal(Signal::SIGTERM);
    server.wait_for_line("Draining: readiness is down");
    assert_eq!(probe(&server, "readyz").status(), 503);
    assert_eq!(server.wait_exit().code(), Some(0));
    let log = server.stderr_text();
    let draining = log.find("Draining: readiness is down").unwrap();
    let stopping = log
        .find("Shutting down (graceful)")
        .expect("a graceful stop");
    assert!(draining < stopping, "{log}");
}

#[test]
fn int_during_the_drain_delay_stops_quickly() {
    let mut server = server("hello").args(["--drain-delay", "120"]).start();
    server.signal(Signal::SIGTERM);
    server.wait_for_line("Draining: readiness is down");
    server.signal(Signal::SIGINT);
    server.wait_exit();
    assert!(server.stderr_text().contains("Shutting down (quick)"));
}

#[test]
fn probes_are_get_and_head_only_and_stay_out_of_the_access_log() {
    let mut server = server("hello")
        .args(["--health-path-prefix", "/", "--access-logfile", "-"])
        .start();
    await_readyz_at_root(&server);
    let mut c = server.conn();
    c.send(&request("HEAD", "/readyz", &[], b""));
    let head = c.read_head_response();
    assert_eq!(head.status(), 200);
    assert_eq!(head.body.len(), 0);
    let post = server.post("/livez", b"x");
    assert_eq!(post.status(), 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    // Not the probe: the app's.
    assert_eq!(server.get("/readyz/").text(), "Hello, World!\n");
    assert_eq!(server.get("/livez?verbose=1").status(), 200);
    server.get("/marker");
    wait_until("the marker's access line", || {
        server.stdout.text().contains("/marker")
    });
    let access = server.stdout.text();
    assert!(
        !access.contains("livez") && !access.contains("GET /readyz "),
        "{access}"
    );
    assert!(access.contains("GET /readyz/"), "{access}");
}

fn await_readyz_at_root(server: &Server) {
    wait_until("/readyz 200", || server.get("/readyz").status() == 200);
}

#[test]
fn bad_health_values_are_refused_before_binding() {
    for (flag, value) in [
        ("--health-path-prefix", "rsgi"),
        ("--health-path-prefix", "/a b"),
        ("--health-path-prefix", "/x?y"),
        ("--drain-delay", "-1"),
        ("--drain-delay", "3601"),
    ] {
        let run = server("hello").args([flag, value]).run();
        assert_eq!(run.code(), Some(2), "{flag} {value}: {run:?}");
        assert!(
            run.stderr.contains(flag) && run.stderr.contains(value),
            "{run:?}"
        );
    }
}

/// The master's own answer on `--metrics-bind`, for load balancers that probe a separate
/// port: it is there before any worker is ready, and follows boot and drain.
#[test]
fn the_metrics_listener_answers_probes_through_boot_and_drain() {
    use crate::support::metrics::{metrics_addr, scrape_with};
    let gate = TempDir::new();
    let mut server = gated(&gate, 2)
        .expect_workers(1)
        .args(["--metrics-bind", "127.0.0.1:0", "--drain-delay", "120"])
        .start();
    let metrics = metrics_addr(&mut server);
    server.wait_for_line("gated import waiting");
    let ready = scrape_with(metrics, "GET", "/readyz", None);
    assert_eq!(ready.status(), 503, "{}", ready.text());
    assert!(ready.text().starts_with("booting: "), "{}", ready.text());
    assert_eq!(ready.header("Cache-Control"), Some("no-store"));
    assert_eq!(scrape_with(metrics, "GET", "/livez", None).status(), 200);
    let post = scrape_with(metrics, "POST", "/readyz", None);
    assert_eq!(post.status(), 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));

    gate.write("open", "");
    server.wait_for_lines("Worker ready (pid: ", 2);
    wait_until("/readyz 200 on the metrics listener", || {
        scrape_with(metrics, "GET", "/readyz", None).status() == 200
    });
    let head = scrape_with(metrics, "HEAD", "/readyz", None);
    assert_eq!(head.status(), 200);

    server.signal(Signal::SIGTERM);
    server.wait_for_line("Draining: readiness is down");
    let ready = scrape_with(metrics, "GET", "/readyz", None);
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text(), "draining: stopping, taking no new work\n");
    assert_eq!(
        server.get("/").status(),
        200,
        "still serving during the delay"
    );
    server.signal(Signal::SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));
}
