//! `--soft-timeout`'s watcher: a thread of the worker, started only when the option is on,
//! that reads the request-running threads' heartbeat cells and raises
//! `rsgi_server.RequestTimeout` in a thread whose request has gone longer than that without
//! progress ([`crate::wsgi::interrupt`]). It takes the GIL only to raise. The request then
//! ends as the app's exception makes it (504 before the head, a closed connection after);
//! an app that swallows the exception and stays stuck is left to `--timeout`.

use super::heartbeat::Heartbeats;
use crate::scoreboard::now_ms;
use std::sync::Arc;
use std::time::Duration;

/// Starts the watcher over `beats` (nothing without a scoreboard seat, where no progress is
/// recorded).
pub fn start(beats: &Arc<Heartbeats>, soft: Duration) -> std::io::Result<()> {
    if beats.seat().is_none() {
        return Ok(());
    }
    beats.watch();
    let beats = beats.clone();
    std::thread::Builder::new()
        .name("rsgi-soft-timeout".into())
        .spawn(move || watch(&beats, soft))
        .map(drop)
}

/// Looks at every cell a few times per `soft` (at most once a second, at least every 50 ms)
/// for the life of the worker.
fn watch(beats: &Heartbeats, soft: Duration) {
    let tick = (soft / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let limit = u64::try_from(soft.as_millis()).unwrap_or(u64::MAX);
    loop {
        std::thread::sleep(tick);
        let now = now_ms();
        for index in 0..beats.threads() {
            let Some((since, thread)) = beats.running(index) else {
                continue;
            };
            let stalled = now.saturating_sub(since);
            if stalled >= limit && thread != 0 {
                interrupt(beats, index, since, thread, stalled, soft);
            }
        }
    }
}

/// Raises the exception in cell `index`'s thread if its request is still the one seen, and
/// logs its stack.
fn interrupt(
    beats: &Heartbeats,
    index: usize,
    since: u64,
    thread: u64,
    stalled: u64,
    soft: Duration,
) {
    let line = beats.line(index);
    let Some(stack) =
        crate::wsgi::interrupt::raise_in(thread, || beats.claim_interrupt(index, since))
    else {
        return;
    };
    tracing::error!(
        "SOFT TIMEOUT (pid: {}): {line} running for {:.1}s without progress \
         (--soft-timeout {}); raising RequestTimeout in its thread, whose stack is:\n{}",
        std::process::id(),
        stalled as f64 / 1000.0,
        soft.as_secs(),
        stack.trim_end()
    );
}
