//! A log destination whose descriptor number never changes.
//!
//! Reopening (SIGUSR1) opens the path anew and `dup3`s the new file onto the old number, so
//! a writer on any thread either writes to the old file or to the new one, never to a closed
//! or reused descriptor, and no lock is needed to write. Files are opened `O_APPEND`: each
//! line is one `write(2)`, which the kernel appends whole, so the master and the workers
//! (which inherit the descriptor) share a file without interleaving lines.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An open log destination.
#[derive(Debug)]
pub struct Sink {
    file: File,
    /// The file's path; `None` for a standard stream, which is never reopened.
    path: Option<PathBuf>,
}

impl Sink {
    /// Opens `path` for appending (created `0644` less the umask if missing).
    pub fn open(path: &Path) -> io::Result<Sink> {
        Ok(Sink {
            file: open_append(path)?,
            path: Some(path.to_owned()),
        })
    }

    /// A descriptor of our own for standard output.
    pub fn stdout() -> Sink {
        Sink::stream(io::stdout().as_fd())
    }

    /// A descriptor of our own for standard error.
    pub fn stderr() -> Sink {
        Sink::stream(io::stderr().as_fd())
    }

    /// A private duplicate of a standard stream: `--capture-output` may later point fd 1
    /// and 2 elsewhere, and the log must keep going where it went at startup.
    fn stream(fd: BorrowedFd<'_>) -> Sink {
        let file = match fd.try_clone_to_owned() {
            Ok(owned) => File::from(owned),
            // No descriptor left at startup: /dev/null keeps the server running silently.
            Err(_) => File::options()
                .write(true)
                .open("/dev/null")
                .expect("/dev/null opens"),
        };
        Sink { file, path: None }
    }

    /// Writes one line (or a block of whole lines), in one `write(2)` unless the kernel
    /// takes less. Errors are dropped: a log that cannot be written has nowhere to report to.
    pub fn write(&self, bytes: &[u8]) {
        let _ = (&self.file).write_all(bytes);
    }

    /// Whether it is a regular file (where one `write(2)` of any size is appended whole);
    /// otherwise a pipe or terminal, where only writes up to `PIPE_BUF` are atomic.
    pub fn is_regular_file(&self) -> bool {
        self.file.metadata().is_ok_and(|m| m.is_file())
    }

    /// The descriptor, for redirecting standard streams onto it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Gives the file (not a standard stream) to `uid`/`gid`, so processes that dropped
    /// privileges can reopen it after a rotation (`None` leaves that id unchanged).
    pub fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        if self.path.is_none() {
            return Ok(());
        }
        nix::unistd::fchown(
            &self.file,
            uid.map(nix::unistd::Uid::from_raw),
            gid.map(nix::unistd::Gid::from_raw),
        )
        .map_err(io::Error::from)
    }

    /// A standard stream is pointed at `/dev/null` (the server went into the background:
    /// `--daemon`), as gunicorn's daemon points its standard streams there: a terminal may
    /// go away, and a pipe or socket would keep whoever started the command (`$(...)`,
    /// ssh, a deploy tool reading its output to the end) waiting until the server stops.
    /// With `inherit` (`-R`) only a terminal is let go of.
    pub fn leave_terminal(&self, inherit: bool) -> io::Result<()> {
        if self.path.is_some() || (inherit && !nix::unistd::isatty(&self.file).unwrap_or(false)) {
            return Ok(());
        }
        let null = File::options().write(true).open("/dev/null")?;
        // SAFETY: as in `reopen`: both descriptors are ours, dup3 replaces the file behind
        // our descriptor number atomically, and `null` is closed when dropped.
        let rc = unsafe {
            nix::libc::dup3(
                null.as_raw_fd(),
                self.file.as_raw_fd(),
                nix::libc::O_CLOEXEC,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reopens the file at its path, under the same descriptor number.
    pub fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let fresh = open_append(path)?;
        // SAFETY: both descriptors are open and owned by this process; dup3 atomically
        // replaces the file behind our own descriptor number (which stays owned by
        // `self.file`), and `fresh` is closed when dropped below.
        let rc = unsafe {
            nix::libc::dup3(
                fresh.as_raw_fd(),
                self.file.as_raw_fd(),
                nix::libc::O_CLOEXEC,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn reopen_writes_to_the_new_file_under_the_same_descriptor() {
        let dir = TempDir::new("rsgi-sink-", "reopen");
        let path = dir.path().join("log");
        let sink = Sink::open(&path).unwrap();
        let fd = sink.fd().as_raw_fd();
        sink.write(b"one\n");
        std::fs::rename(&path, dir.path().join("log.1")).unwrap();
        sink.write(b"two\n");
        sink.reopen().unwrap();
        assert_eq!(sink.fd().as_raw_fd(), fd);
        sink.write(b"three\n");
        let old = std::fs::read_to_string(dir.path().join("log.1")).unwrap();
        assert_eq!(old, "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
    }

    #[test]
    fn chown_to_ourselves_works_and_streams_are_left_alone() {
        let dir = TempDir::new("rsgi-sink-", "chown");
        let sink = Sink::open(&dir.path().join("log")).unwrap();
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        sink.chown(Some(uid.as_raw()), Some(gid.as_raw())).unwrap();
        Sink::stderr().chown(Some(0), Some(0)).unwrap();
    }

    #[test]
    fn opening_a_directory_fails() {
        let dir = TempDir::new("rsgi-sink-", "dir");
        assert!(Sink::open(dir.path()).is_err());
    }
}
