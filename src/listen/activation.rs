//! Socket activation: listening sockets handed over by systemd (`LISTEN_FDS`,
//! `LISTEN_PID`, `LISTEN_FDNAMES`; descriptors from 3, sd_listen_fds(3)) or by the previous
//! master during a USR2 upgrade (the same variables, so one path serves both).
//!
//! The variables are read and removed at startup, while the master is single-threaded,
//! so neither workers nor anything the application spawns see them.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
pub const FIRST_FD: RawFd = 3;

/// The name a master gives, in `LISTEN_FDNAMES`, to a Unix socket whose file it created:
/// the next master takes over removing it at exit.
pub const OWNED_NAME: &str = "rsgi-owned";

/// One inherited descriptor, not yet checked.
#[derive(Debug)]
pub struct Inherited {
    /// The descriptor (3, 4, ...).
    pub fd: OwnedFd,
    /// Its `LISTEN_FDNAMES` entry, if any.
    pub name: Option<String>,
}

/// Why the inherited descriptors cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationError(pub String);

impl std::fmt::Display for ActivationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "socket activation: {}", self.0)
    }
}

impl std::error::Error for ActivationError {}

/// Takes the descriptors meant for this process and removes the variables. None when the
/// variables are absent or name another process (`LISTEN_PID`): they were inherited from
/// a parent that did not consume them.
///
/// # Safety
///
/// Must be called once, while single-threaded, before anything else claims descriptors
/// 3 and up: the returned values become their owners.
pub unsafe fn take_from_env() -> Result<Vec<Inherited>, ActivationError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: single-threaded (the caller's contract): nothing reads the environment
        // concurrently.
        unsafe { std::env::remove_var(var) };
    }
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(Vec::new());
    };
    if pid.trim().parse::<i32>().ok() != Some(std::process::id() as i32) {
        return Ok(Vec::new());
    }
    let count: RawFd = fds
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=1024).contains(n))
        .ok_or_else(|| ActivationError(format!("LISTEN_FDS={fds:?} is not a count")))?;
    let names: Vec<String> = names
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut taken = Vec::with_capacity(count as usize);
    for (i, fd) in (FIRST_FD..FIRST_FD + count).enumerate() {
        // SAFETY: F_GETFD only reads the descriptor's flags, EBADF if it is not open.
        if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1 {
            return Err(ActivationError(format!(
                "LISTEN_FDS={count} but descriptor {fd} is not open"
            )));
        }
        // SAFETY: fd is open (checked above) and was passed to this process for it to own
        // (LISTEN_PID names us); nothing else in the process knows the number.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // sd_listen_fds sets close-on-exec too: workers' children must not inherit them.
        nix::fcntl::fcntl(
            &owned,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|e| ActivationError(format!("descriptor {fd}: {e}")))?;
        taken.push(Inherited {
            fd: owned,
            name: names.get(i).filter(|n| !n.is_empty()).cloned(),
        });
    }
    Ok(taken)
}
