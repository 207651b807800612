//! Health probes: the answers to `/livez` and `/readyz`, computed from what the master
//! published in the scoreboard's server header ([`crate::scoreboard::server`]), so every
//! process that answers them (the master's metrics listener, a worker serving
//! `--health-path-prefix` on the main listeners) tells the same truth.
//!
//! * `/livez`: 200 while the master runs (its heartbeat is fresh) and at least one worker
//!   answers (ready or busy, not stalled beyond `--timeout`). A platform restarts what fails
//!   this, so draining or booting more workers never fails it.
//! * `/readyz`: 200 only when every worker of the current generation is ready and the
//!   server is neither draining (TERM received) nor shedding load (a worker refused a request
//!   for `--max-queue-time` within the last second); 503 otherwise. A load balancer sends
//!   traffic only to what passes this.
//!
//! Both answer with a short text saying why and `Cache-Control: no-store`.

mod settings;

pub use settings::{HealthPaths, HealthSettings};

use crate::scoreboard::{Readiness, ServerPhase, ServerState, now_ms};

/// How long the master may go without publishing a pass before it counts as dead. Its loop
/// passes at least once a second; a reload reading a Python config file, or a hook, may
/// hold it a few seconds.
pub const MASTER_STALE_MS: u64 = 10_000;

/// How long after a worker refused a request for load the server still counts as
/// shedding.
pub const SHED_WINDOW_MS: u64 = 1_000;

/// The headers every probe answer carries besides its length.
pub const HEADERS: [(&str, &str); 2] = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Cache-Control", "no-store"),
];

/// Which probe a path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `/livez`.
    Live,
    /// `/readyz`.
    Ready,
}

/// What a process sees of the server when it answers a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// What the master last published.
    pub readiness: Readiness,
    /// The time now ([`now_ms`] time).
    pub now_ms: u64,
}

impl View {
    /// Reads the server header now.
    pub fn of(state: &ServerState) -> View {
        View {
            readiness: state.read(),
            now_ms: now_ms(),
        }
    }
}

/// A probe's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// 200 or 503.
    pub status: u16,
    /// One line saying why, ending in a newline.
    pub body: String,
}

impl Probe {
    /// The status's reason phrase.
    pub fn reason(&self) -> &'static str {
        if self.status == 200 {
            "OK"
        } else {
            "Service Unavailable"
        }
    }

    fn up(body: String) -> Probe {
        Probe { status: 200, body }
    }

    fn down(body: String) -> Probe {
        Probe { status: 503, body }
    }
}

/// The probe `path` (`/livez` or `/readyz`, a query string ignored) names, if any.
pub fn which(path: &[u8]) -> Option<Which> {
    let path = path.split(|&b| b == b'?').next().unwrap_or(path);
    match path {
        b"/livez" => Some(Which::Live),
        b"/readyz" => Some(Which::Ready),
        _ => None,
    }
}

/// The answer to `path` if it is a probe (`/livez`, `/readyz`); `None` for any other path.
/// For the master's listeners, which route by the whole path.
pub fn answer(path: &str, view: &View) -> Option<Probe> {
    which(path.as_bytes()).map(|w| probe(w, view))
}

/// The answer to probe `which` given `view`.
pub fn probe(which: Which, view: &View) -> Probe {
    let r = &view.readiness;
    if let Some(why) = master_down(view) {
        return Probe::down(why);
    }
    match which {
        Which::Live if r.answering == 0 => Probe::down(format!(
            "not live: no worker answers ({}/{} workers of generation {} ready)\n",
            r.ready, r.target, r.generation
        )),
        Which::Live => Probe::up(format!(
            "live: master running, {} worker{} answering\n",
            r.answering,
            if r.answering == 1 { "" } else { "s" }
        )),
        Which::Ready => readiness(view),
    }
}

/// Why the master counts as not running, if it does.
fn master_down(view: &View) -> Option<String> {
    let beat = view.readiness.heartbeat_ms;
    if beat == 0 {
        return Some("starting: the master has not published its state yet\n".to_owned());
    }
    let age = view.now_ms.saturating_sub(beat);
    (age > MASTER_STALE_MS).then(|| {
        format!(
            "master not responding: its last pass was {:.1}s ago\n",
            age as f64 / 1000.0
        )
    })
}

fn readiness(view: &View) -> Probe {
    let r = &view.readiness;
    let shedding =
        r.last_shed_ms != 0 && view.now_ms.saturating_sub(r.last_shed_ms) < SHED_WINDOW_MS;
    match r.phase {
        ServerPhase::Draining => Probe::down("draining: stopping, taking no new work\n".into()),
        _ if shedding => Probe::down(
            "shedding: a worker refused a request for load within the last second\n".into(),
        ),
        ServerPhase::Ready if r.ready > 0 => Probe::up(format!(
            "ready: {}/{} workers of generation {}\n",
            r.ready, r.target, r.generation
        )),
        _ => Probe::down(format!(
            "booting: {}/{} workers of generation {} ready\n",
            r.ready, r.target, r.generation
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(phase: ServerPhase, ready: u32, answering: u32) -> View {
        View {
            readiness: Readiness {
                phase,
                generation: 2,
                ready,
                target: 4,
                answering,
                heartbeat_ms: 100_000,
                last_shed_ms: 0,
            },
            now_ms: 100_500,
        }
    }

    #[test]
    fn readiness_follows_the_phase() {
        let ready = answer("/readyz", &view(ServerPhase::Ready, 4, 4)).unwrap();
        assert_eq!(ready.status, 200);
        assert_eq!(ready.body, "ready: 4/4 workers of generation 2\n");
        let booting = answer("/readyz", &view(ServerPhase::Booting, 1, 1)).unwrap();
        assert_eq!(booting.status, 503);
        assert_eq!(booting.body, "booting: 1/4 workers of generation 2 ready\n");
        let draining = answer("/readyz?x=1", &view(ServerPhase::Draining, 4, 4)).unwrap();
        assert_eq!(
            (draining.status, draining.reason()),
            (503, "Service Unavailable")
        );
        assert!(draining.body.starts_with("draining"));
        assert_eq!(answer("/metrics", &view(ServerPhase::Ready, 4, 4)), None);
        assert_eq!(answer("/readyz/", &view(ServerPhase::Ready, 4, 4)), None);
    }

    #[test]
    fn liveness_needs_a_fresh_master_and_an_answering_worker() {
        assert_eq!(
            probe(Which::Live, &view(ServerPhase::Draining, 0, 2)).status,
            200
        );
        let none = probe(Which::Live, &view(ServerPhase::Booting, 0, 0));
        assert_eq!(none.status, 503);
        assert!(none.body.starts_with("not live"), "{}", none.body);
        let mut stale = view(ServerPhase::Ready, 4, 4);
        stale.now_ms = stale.readiness.heartbeat_ms + MASTER_STALE_MS + 1;
        for which in [Which::Live, Which::Ready] {
            let p = probe(which, &stale);
            assert_eq!(p.status, 503);
            assert!(p.body.starts_with("master not responding"), "{}", p.body);
        }
        let mut unborn = view(ServerPhase::Ready, 4, 4);
        unborn.readiness.heartbeat_ms = 0;
        assert_eq!(probe(Which::Live, &unborn).status, 503);
    }

    #[test]
    fn a_recent_shed_makes_the_server_unready_for_a_second() {
        let mut v = view(ServerPhase::Ready, 4, 4);
        v.readiness.last_shed_ms = v.now_ms - 200;
        let p = probe(Which::Ready, &v);
        assert_eq!(p.status, 503);
        assert!(p.body.starts_with("shedding"));
        assert_eq!(probe(Which::Live, &v).status, 200, "shedding is not death");
        v.readiness.last_shed_ms = v.now_ms - SHED_WINDOW_MS;
        assert_eq!(probe(Which::Ready, &v).status, 200);
    }
}
