//! `--threads N` > 1: a pool of Python threads in the worker.
//!
//! The event loop still owns every connection while it is idle, sending its head or its
//! body; only a request that is ready to run is handed over ([`Job`]), with its connection,
//! to the first free thread. The thread runs the app and writes the response itself, waiting
//! for the client with the GIL released, so a slow reader holds at most its own thread. When
//! done it hands the connection back ([`Finished`]) and wakes the loop through an eventfd;
//! a connection that simply waits for its next request is instead watched again by the
//! thread itself, and the loop takes it back when that request comes ([`Pool::rearm`]).

use super::abort::InFlight;
use super::exchange::Exchange;
use super::heartbeat::Beat;
use crate::http::request::RequestHead;
use crate::request_id::IdHeader;
use crate::wsgi::{App, Outcome, Request, Step};
use nix::sys::epoll::{Epoll, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

/// A request ready for the app, with its connection.
pub struct Job {
    /// The connection's key in the loop.
    pub key: usize,
    /// Whether the socket is in the loop's epoll set (disarmed while away).
    pub registered: bool,
    /// The parsed request.
    pub head: RequestHead,
    /// The received body's size when buffered.
    pub body_length: Option<u64>,
    /// The connection, set up for this request.
    pub exchange: Box<Exchange>,
    /// Past this moment the request is not started but handed back to be shed
    /// (`--max-queue-time`).
    pub shed_at: Option<Instant>,
}

/// A request the app has answered, handed back to the loop.
pub struct Finished {
    /// The connection's key in the loop.
    pub key: usize,
    /// The request that was served.
    pub head: RequestHead,
    /// How it ended.
    pub outcome: Outcome,
    /// The connection.
    pub exchange: Box<Exchange>,
    /// Whether the socket was in the loop's epoll set when it was lent out.
    pub registered: bool,
    /// The thread has re-armed the socket for the next request ([`Pool::rearm`]) and did
    /// not wake the loop for it.
    pub rearmed: bool,
    /// The request waited past `--max-queue-time` in the queue and was not started: the
    /// loop answers it (503).
    pub shed: bool,
}

/// Work waiting for a thread, and results waiting for the loop.
#[derive(Default)]
struct Queues {
    jobs: VecDeque<Job>,
    finished: Vec<Finished>,
    stopping: bool,
    /// Threads waiting for a job: only then does a submission need to wake one.
    idle: usize,
    /// The loop has been woken for results it has not taken yet: finishing more requests
    /// meanwhile needs no further wake-up.
    wake_pending: bool,
    /// The loop stopped accepting because jobs were waiting: the thread that empties the
    /// queue wakes it.
    loop_awaits_backlog: bool,
    /// The loop has a request for a connection whose result is not here yet: the next
    /// result, even a re-armed one, wakes it.
    loop_awaits_result: bool,
}

/// The shared half of the pool: queues and the loop's wake-up.
pub struct Pool {
    queues: Mutex<Queues>,
    work: Condvar,
    wake: EventFd,
    /// The loop's epoll set (a duplicate descriptor), where a thread re-arms a connection
    /// that is ready for its next request.
    epoll: Epoll,
    /// The header of request IDs (`--request-id-header`), for the environ.
    request_id: Option<Arc<IdHeader>>,
}

impl Pool {
    /// An empty pool serving the loop whose epoll set is `epoll` (a descriptor of its
    /// own), naming request IDs' environ key after `request_id`; threads are started by
    /// [`Pool::serve`].
    pub fn new(epoll: Epoll, request_id: Option<Arc<IdHeader>>) -> io::Result<Pool> {
        Ok(Pool {
            queues: Mutex::new(Queues::default()),
            work: Condvar::new(),
            wake: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
            epoll,
            request_id,
        })
    }

    /// The descriptor that signals finished requests. It is to be watched edge-triggered
    /// and never read: each wake-up is one write, and edge-triggered epoll reports each
    /// write, so the loop spends no read(2) on it.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a request for the next free thread.
    pub fn submit(&self, job: Job) {
        let mut queues = self.queues();
        queues.jobs.push_back(job);
        // With every thread busy, the next one to finish takes the job: waking nobody
        // spares a futex call per request on a saturated worker.
        if queues.idle > 0 {
            drop(queues);
            self.work.notify_one();
        }
    }

    /// Whether requests are waiting for a free thread (the worker is saturated).
    pub fn backlogged(&self) -> bool {
        !self.queues().jobs.is_empty()
    }

    /// The loop stops accepting until the backlog is gone: be woken then.
    pub fn wake_when_unbacklogged(&self) {
        self.queues().loop_awaits_backlog = true;
    }

    /// Moves the requests that have finished into `into` (empty; its allocation is reused
    /// by the next batch) and rearms the wake-up.
    pub fn take_finished(&self, into: &mut Vec<Finished>) {
        let mut queues = self.queues();
        std::mem::swap(&mut queues.finished, into);
        queues.wake_pending = false;
    }

    /// The loop has an event for a connection still away: a thread re-armed it and is
    /// about to hand its result back. Returns true if results are already waiting (take
    /// them again); otherwise the next result wakes the loop.
    pub fn await_result(&self) -> bool {
        let mut queues = self.queues();
        if !queues.finished.is_empty() {
            return true;
        }
        queues.loop_awaits_result = true;
        false
    }

    /// Wakes the loop for finished requests (at most one write until it takes them).
    fn wake_loop(&self) {
        loop {
            match self.wake.write(1) {
                Err(nix::errno::Errno::EINTR) => continue,
                // The counter is never read, so after 2^64 - 2 wake-ups it is full: reset.
                Err(nix::errno::Errno::EAGAIN) => {
                    let _ = self.wake.read();
                }
                _ => return,
            }
        }
    }

    /// Tells the threads to exit once the queue is empty.
    pub fn stop(&self) {
        self.queues().stopping = true;
        self.work.notify_all();
    }

    /// A pool thread's life: run jobs until stopped. `beat` is this thread's watchdog cell,
    /// `inflight` its entry in the timeout-abort registry.
    pub fn serve(&self, app: &App, beat: Beat, inflight: Option<Arc<InFlight>>) {
        crate::wsgi::interp::with_thread_state(|| {
            self.serve_attached(app, &beat, inflight.as_ref())
        });
    }

    fn serve_attached(&self, app: &App, beat: &Beat, inflight: Option<&Arc<InFlight>>) {
        let mut done: Option<Finished> = None;
        loop {
            let mut wake = false;
            // Re-armed before the result is handed back: until then the loop holds the
            // connection as away and cannot close it (so the descriptor is still this
            // socket's); an event that comes first makes the loop wait for the result.
            if let Some(finished) = done.as_mut() {
                finished.rearmed = self.rearm(finished);
            }
            let job = {
                // One lock both hands back the last result and takes the next job.
                let mut queues = self.queues();
                if let Some(finished) = done.take() {
                    if !finished.rearmed || queues.loop_awaits_result {
                        queues.loop_awaits_result = false;
                        wake = !queues.wake_pending;
                        queues.wake_pending = true;
                    }
                    queues.finished.push(finished);
                }
                loop {
                    // Stopping is checked first: once the worker stops, queued requests are
                    // not started (the process is about to exit under them).
                    if queues.stopping {
                        break None;
                    }
                    if let Some(job) = queues.jobs.pop_front() {
                        if queues.jobs.is_empty() && queues.loop_awaits_backlog {
                            queues.loop_awaits_backlog = false;
                            if !queues.wake_pending {
                                queues.wake_pending = true;
                                wake = true;
                            }
                        }
                        break Some(job);
                    }
                    if wake {
                        // Tell the loop before sleeping, not after the next request.
                        break None;
                    }
                    queues.idle += 1;
                    queues = self
                        .work
                        .wait(queues)
                        .unwrap_or_else(PoisonError::into_inner);
                    queues.idle -= 1;
                }
            };
            if wake {
                self.wake_loop();
            }
            match job {
                Some(job) if job.shed_at.is_some_and(|t| Instant::now() > t) => {
                    done = Some(Finished {
                        key: job.key,
                        registered: job.registered,
                        head: job.head,
                        outcome: Outcome::Aborted,
                        exchange: job.exchange,
                        rearmed: false,
                        shed: true,
                    });
                }
                Some(job) => done = Some(run(app, job, beat, inflight, self.request_id.as_deref())),
                None if wake => continue,
                None => return,
            }
        }
    }
}

impl Pool {
    /// A finished request whose connection simply waits for the next one (kept alive,
    /// response out, request and its body fully read, nothing pipelined behind it) needs
    /// nothing from the loop until that request comes: the thread watches the socket for it
    /// again itself (as the loop would: one event, [`EpollFlags::EPOLLONESHOT`]) and does not
    /// wake the loop. The loop takes the result back when the next request arrives, or at
    /// its next sweep (which starts the keep-alive deadline). Returns whether it did.
    fn rearm(&self, finished: &Finished) -> bool {
        let ex = &finished.exchange;
        if finished.outcome != Outcome::Complete || !ex.waits_for_next_request() {
            return false;
        }
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT;
        let mut event = EpollEvent::new(flags, finished.key as u64);
        let armed = if finished.registered {
            self.epoll.modify(ex.fd(), &mut event)
        } else {
            self.epoll.add(ex.fd(), event)
        };
        armed.is_ok()
    }
}

/// Runs one request to the end on this thread, waiting for the client as needed.
fn run(
    app: &App,
    job: Job,
    beat: &Beat,
    inflight: Option<&Arc<InFlight>>,
    id_header: Option<&IdHeader>,
) -> Finished {
    let Job {
        key,
        registered,
        head,
        body_length,
        mut exchange,
        ..
    } = job;
    exchange.blocking = true;
    exchange.beat = Some(beat.clone());
    if let Some(slot) = inflight {
        slot.begin(
            exchange.fd().as_raw_fd(),
            &head,
            exchange.unsent() == 0,
            exchange.is_tls(),
            &exchange.view,
        );
        exchange.inflight = Some(slot.clone());
    }
    beat.start(head.method_bytes(), head.path());
    // With metrics on, the loop noted when the request was ready; the call starts now.
    if exchange.ready.is_some() {
        exchange.called = Some(Instant::now());
    }
    let view = exchange.view.clone();
    let id = exchange.request_id.clone();
    let request = Request {
        head: &head,
        conn: &view,
        body_length,
        request_id: super::respond::environ_id(id_header, id.as_ref()),
    };
    let (mut call, mut step) = app.start(request, exchange);
    // A blocking transport never fills up, but a file left pending would pause: finish it.
    while step == Step::Paused {
        let flushed = call
            .with_transport(|ex| ex.flush_blocking())
            .unwrap_or_else(|| Err(io::ErrorKind::NotConnected.into()));
        if flushed.is_err() {
            call.abort();
            break;
        }
        step = call.resume();
    }
    let outcome = match step {
        Step::Done(outcome) => outcome,
        Step::Paused => Outcome::Aborted,
    };
    beat.idle();
    let mut exchange = app.end(call);
    exchange.ended = Some(Instant::now());
    if let Some(slot) = inflight {
        slot.end();
    }
    exchange.beat = None;
    exchange.inflight = None;
    exchange.drain_unread_body(outcome);
    // Back on the loop, the connection must never wait for its client.
    exchange.blocking = false;
    Finished {
        key,
        registered,
        head,
        outcome,
        exchange,
        rearmed: false,
        shed: false,
    }
}
