//! A rolling restart of three instances behind a real HAProxy (`examples/haproxy.cfg`) that
//! health-checks `/_rsgi/readyz`, under continuous load through HAProxy: each instance in
//! turn gets TERM with `--drain-delay`, HAProxy takes it out of rotation while it still
//! serves, it drains and exits, a replacement starts on the same address, and HAProxy puts
//! it back once it is ready. No request may fail.

use crate::support::haproxy::{self, Haproxy};
use crate::support::load::Load;
use crate::support::*;
use nix::sys::signal::Signal;
use std::net::SocketAddr;

/// An instance as the example runs it. The drain delay (3 s) is many times what HAProxy
/// needs to see readiness down with the test's check interval (200 ms x fall 2).
fn instance(bind: &str) -> Server {
    server("hello")
        .bind(bind)
        .workers(2)
        .args(["--health-path-prefix", "/_rsgi", "--drain-delay", "3"])
        .start()
}

#[test]
fn a_rolling_restart_behind_haproxy_fails_no_request() {
    if !haproxy::available() {
        return;
    }
    let mut fleet: Vec<Server> = (0..3).map(|_| instance("127.0.0.1:0")).collect();
    let addrs: Vec<SocketAddr> = fleet.iter().map(Server::addr).collect();
    let lb = Haproxy::start(&addrs, "200ms");
    let names = ["app1", "app2", "app3"];
    for name in names {
        lb.wait_status(name, "UP");
    }
    let load = Load::start(lb.addr, 6, "/");
    load.wait_for_more(300);

    for (i, name) in names.iter().enumerate() {
        let old = &mut fleet[i];
        old.signal(Signal::SIGTERM);
        old.wait_for_line("Draining: readiness is down");
        lb.wait_status(name, "DOWN");
        assert_eq!(old.wait_exit().code(), Some(0));
        let log = old.stderr_text();
        assert!(log.contains("Shutting down (graceful)"), "{log}");
        fleet[i] = instance(&addrs[i].to_string());
        lb.wait_status(name, "UP");
        // The others carried the load meanwhile, and the replacement takes its share.
        load.wait_for_more(300);
    }

    let tally = load.finish();
    eprintln!(
        "{} requests through HAProxy during the rolling restart",
        tally.ok
    );
    tally.assert_no_failures();
}
