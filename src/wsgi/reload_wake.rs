//! What wakes `--reload`'s watcher ([`super::reloader`]) for its next look at the files:
//! the end of a one-second sleep (`--reload-engine poll`), or inotify events on the
//! watched files' directories, with the same second as an upper bound so modules imported
//! later get watched too (`inotify`, and `auto` where inotify can be used).

use crate::config::ReloadEngine;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::collections::HashSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest wait between two looks at the files.
pub(super) const POLL: Duration = Duration::from_secs(1);

/// Waits for a reason to look at the files again.
pub(super) enum Wake {
    /// Every [`POLL`].
    Poll,
    /// When a watched directory changes, or after [`POLL`].
    Inotify {
        inotify: Inotify,
        watched: HashSet<PathBuf>,
    },
}

impl Wake {
    /// The waker `engine` asks for; `auto` falls back to polling where inotify cannot be
    /// initialised, `inotify` fails then.
    pub(super) fn new(engine: ReloadEngine) -> std::io::Result<Wake> {
        if engine == ReloadEngine::Poll {
            return Ok(Wake::Poll);
        }
        match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(inotify) => Ok(Wake::Inotify {
                inotify,
                watched: HashSet::new(),
            }),
            Err(err) if engine == ReloadEngine::Auto => {
                tracing::debug!("reloader: inotify unavailable ({err}), polling");
                Ok(Wake::Poll)
            }
            Err(err) => Err(std::io::Error::other(format!(
                "--reload-engine inotify: {err}"
            ))),
        }
    }

    /// The engine in use, for the log.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Wake::Poll => "polling",
            Wake::Inotify { .. } => "inotify",
        }
    }

    /// Watches the directories holding `files` (a directory watches itself), so an edit,
    /// an editor's save by rename, or a new file there wakes [`Wake::wait`].
    pub(super) fn watch<'a>(&mut self, files: impl Iterator<Item = &'a PathBuf>) {
        let Wake::Inotify { inotify, watched } = self else {
            return;
        };
        let events = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB;
        for file in files {
            let dir: &Path = if file.is_dir() {
                file
            } else {
                file.parent().unwrap_or(file)
            };
            if !watched.contains(dir) && inotify.add_watch(dir, events).is_ok() {
                watched.insert(dir.to_owned());
            }
        }
    }

    /// Returns once there may be something new to look at.
    pub(super) fn wait(&self) {
        let Wake::Inotify { inotify, .. } = self else {
            std::thread::sleep(POLL);
            return;
        };
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(POLL).unwrap_or(PollTimeout::MAX);
        if matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            // Drained: one look covers every event so far.
            while matches!(inotify.read_events(), Ok(events) if !events.is_empty()) {}
        }
    }
}
