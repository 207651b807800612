//! Signal intake: handlers only record, the owning loop acts.
//!
//! Each handled signal sets its own flag and writes a byte to a self-pipe, both async-signal-safe
//! (signal-hook's `flag` and `pipe`). A loop polls the pipe's read end alongside its other file
//! descriptors, drains it, then takes the flags. Repeated signals collapse into one flag, so
//! SIGCHLD means "reap until waitpid says nothing is left", not "one child exited".
//!
//! Knows which signals exist, not what they mean: that is the arbiter's and the worker's job.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
use signal_hook::SigId;
use signal_hook::consts::signal as sig;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The signals the master and workers react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Graceful stop.
    Term,
    /// Interrupt (Ctrl-C).
    Int,
    /// Quick stop.
    Quit,
    /// Reload.
    Hup,
    /// A child changed state.
    Chld,
    /// One more worker.
    Ttin,
    /// One worker fewer.
    Ttou,
    /// Reopen log files.
    Usr1,
    /// Binary upgrade.
    Usr2,
    /// Stop workers, keep the master (after a binary upgrade).
    Winch,
}

impl Signal {
    /// The raw signal number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Term => sig::SIGTERM,
            Signal::Int => sig::SIGINT,
            Signal::Quit => sig::SIGQUIT,
            Signal::Hup => sig::SIGHUP,
            Signal::Chld => sig::SIGCHLD,
            Signal::Ttin => sig::SIGTTIN,
            Signal::Ttou => sig::SIGTTOU,
            Signal::Usr1 => sig::SIGUSR1,
            Signal::Usr2 => sig::SIGUSR2,
            Signal::Winch => sig::SIGWINCH,
        }
    }
}

/// Installed handlers for a set of signals, plus the self-pipe that wakes the owning loop.
pub struct SignalIntake {
    flags: Vec<(Signal, Arc<AtomicBool>)>,
    ids: Vec<SigId>,
    wake: UnixStream,
}

impl SignalIntake {
    /// Installs handlers for `signals`; each replaces the default disposition.
    pub fn install(signals: &[Signal]) -> io::Result<SignalIntake> {
        let (wake, write_end) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        write_end.set_nonblocking(true)?;
        let mut intake = SignalIntake {
            flags: Vec::with_capacity(signals.len()),
            ids: Vec::with_capacity(signals.len() * 2),
            wake,
        };
        for &signal in signals {
            let flag = Arc::new(AtomicBool::new(false));
            // The flag is registered before the pipe so that a loop woken by the byte always
            // finds the flag already set.
            intake
                .ids
                .push(signal_hook::flag::register(signal.number(), flag.clone())?);
            let pipe: OwnedFd = write_end.try_clone()?.into();
            intake.ids.push(signal_hook::low_level::pipe::register(
                signal.number(),
                pipe,
            )?);
            intake.flags.push((signal, flag));
        }
        // A just-forked worker: its handlers are in place, so signals held back since the
        // fork can be delivered to them now.
        unblock_after_fork();
        Ok(intake)
    }

    /// The read end to include in a poll set; readable when a signal arrived.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Waits up to `timeout` for a signal, then returns every signal recorded since the last
    /// call (possibly none). Drains the pipe before reading the flags, so a signal arriving
    /// in between is seen now or wakes the next wait; none is lost.
    pub fn wait(&self, timeout: Duration) -> Vec<Signal> {
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(self.wake.as_fd(), PollFlags::POLLIN)];
        // EINTR is expected here: the signal we wait for interrupts poll.
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
        );
        self.take()
    }

    /// Like [`SignalIntake::wait`], but also wakes when one of `others` is ready for what it
    /// asks (the caller then serves it without blocking).
    pub fn wait_with(
        &self,
        others: &[(BorrowedFd<'_>, PollFlags)],
        timeout: Duration,
    ) -> Vec<Signal> {
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = Vec::with_capacity(others.len() + 1);
        fds.push(PollFd::new(self.wake.as_fd(), PollFlags::POLLIN));
        fds.extend(others.iter().map(|(fd, flags)| PollFd::new(*fd, *flags)));
        // EINTR is expected here: the signal we wait for interrupts poll.
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
        );
        self.take()
    }

    /// Drains the pipe and returns the recorded signals without waiting.
    pub fn take(&self) -> Vec<Signal> {
        let mut sink = [0u8; 64];
        while let Ok(n) = (&self.wake).read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        self.flags
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::SeqCst))
            .map(|(signal, _)| *signal)
            .collect()
    }

    /// Removes the handlers (a forked worker drops the master's before installing its own).
    pub fn uninstall(self) {
        for id in self.ids {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// The signal mask from before [`block_for_fork`], until it is restored.
static MASK_BEFORE_FORK: Mutex<Option<SigSet>> = Mutex::new(None);

/// Blocks `signals` around a fork. Without it, a signal that reaches a new child before it
/// has replaced the parent's handlers with its own would be recorded in the child's copy of
/// the parent's flags and lost: a worker told to stop just after it was forked would not
/// stop. The parent calls [`unblock_after_fork`]; in the child, the next
/// [`SignalIntake::install`] does, and pending signals reach the child's own handlers.
pub fn block_for_fork(signals: &[Signal]) {
    let mut set = SigSet::empty();
    for signal in signals {
        if let Ok(sig) = nix::sys::signal::Signal::try_from(signal.number()) {
            set.add(sig);
        }
    }
    let mut old = SigSet::empty();
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_ok() {
        *MASK_BEFORE_FORK
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(old);
    }
}

/// Holds `signals` back from process start until the master's [`SignalIntake`] exists
/// (its `install` lets them through to its handlers). Before that, HUP, USR1 and USR2 would
/// end the process and TTIN/TTOU stop it: a reload or a log rotation during a slow startup
/// (a `--preload` import) must wait, not kill the server.
pub fn hold_until_installed(signals: &[Signal]) {
    block_for_fork(signals);
}

/// Restores the signal mask saved by [`block_for_fork`], if any.
pub fn unblock_after_fork() {
    let saved = MASK_BEFORE_FORK
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(old) = saved {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}
