//! `--capture-output`: what the application writes to its standard output and standard
//! error (fd 1 and 2: `print()`, tracebacks, C extensions) goes to the error log.
//!
//! * `--log-format text`: fd 1 and 2 become the error log's file itself (`dup2`, gunicorn's
//!   way), set up in the master and inherited by every worker, and redone after a reopen.
//!   The app's bytes land as they are, between the server's lines (whole lines when the app
//!   writes whole lines, which Python does when unbuffered or line-buffered).
//! * `--log-format json`: fd 1 and 2 become pipes, read in each worker by a small thread that
//!   writes each line as an error-log object (`"stream":"stdout"` at level `info`,
//!   `"stream":"stderr"` at level `error`), so the log stays valid JSON lines. Set up after
//!   the fork: the master stays single-threaded. A line longer than [`MAX_LINE`] is split.

use super::error;
use super::sink::Sink;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::{dup2_stderr, dup2_stdout, pipe2};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Longest captured line written as one record.
pub const MAX_LINE: usize = 16 * 1024;

/// How long [`stop`] waits for the reader to write what is still in the pipes.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Points fd 1 and 2 at the error log (text format).
pub(super) fn redirect_to(sink: &Sink) {
    // Failing leaves the streams where they were: output still goes somewhere visible.
    let _ = dup2_stdout(sink.fd());
    let _ = dup2_stderr(sink.fd());
}

/// The reader thread's "all written" signal, while it runs.
static READER: Mutex<Option<Receiver<()>>> = Mutex::new(None);

/// Starts capturing through pipes (JSON format), in a worker.
pub(super) fn start() {
    match spawn() {
        Ok(done) => {
            *READER.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
        }
        Err(err) => tracing::error!("cannot capture the application's output: {err}"),
    }
}

fn spawn() -> std::io::Result<Receiver<()>> {
    let flags = nix::fcntl::OFlag::O_CLOEXEC;
    let (out_read, out_write) = pipe2(flags)?;
    let (err_read, err_write) = pipe2(flags)?;
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("rsgi-capture".to_owned())
        .spawn(move || {
            read_lines([(out_read, "stdout"), (err_read, "stderr")]);
            let _ = done_tx.send(());
        })?;
    // dup2 makes fd 1 and 2 the write ends (without close-on-exec: a subprocess the app
    // starts writes there too); the originals close when dropped.
    dup2_stdout(&out_write)?;
    dup2_stderr(&err_write)?;
    Ok(done_rx)
}

/// Reads both pipes until both are closed, writing each line as it completes.
fn read_lines(pipes: [(OwnedFd, &'static str); 2]) {
    let mut files: Vec<(File, &str, Vec<u8>)> = pipes
        .into_iter()
        .map(|(fd, name)| (File::from(fd), name, Vec::new()))
        .collect();
    let mut chunk = vec![0u8; 8192];
    while !files.is_empty() {
        let mut fds: Vec<PollFd<'_>> = files
            .iter()
            .map(|(f, _, _)| PollFd::new(f.as_fd(), PollFlags::POLLIN))
            .collect();
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue; // EINTR
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut closed = Vec::new();
        for (i, (file, name, partial)) in files.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            match file.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    if !partial.is_empty() {
                        error::app_line(name, partial);
                        partial.clear();
                    }
                    closed.push(i);
                }
                Ok(n) => emit_lines(name, partial, &chunk[..n]),
            }
        }
        for i in closed.into_iter().rev() {
            files.remove(i);
        }
    }
}

/// Appends `data` to the partial line and writes every completed line.
fn emit_lines(stream: &str, partial: &mut Vec<u8>, data: &[u8]) {
    partial.extend_from_slice(data);
    let mut start = 0;
    while let Some(nl) = partial[start..].iter().position(|&b| b == b'\n') {
        error::app_line(stream, &partial[start..start + nl]);
        start += nl + 1;
    }
    while partial.len() - start >= MAX_LINE {
        error::app_line(stream, &partial[start..start + MAX_LINE]);
        start += MAX_LINE;
    }
    partial.drain(..start);
}

/// Ends capturing before the worker exits: closes fd 1 and 2 and lets the reader write what
/// is left in the pipes (bounded, in case a subprocess still holds them open).
pub(super) fn stop() {
    let Some(done) = READER.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = dup2_stdout(&null);
        let _ = dup2_stderr(&null);
    }
    let _ = done.recv_timeout(DRAIN_WAIT);
}
