//! Sending a batch's held responses ([`super::hold`]) with one system call.
//!
//! Sent one `send(2)` at a time, the first response wakes the client or proxy (which slept
//! while the worker ran the batch's apps), and where that peer shares the worker's CPU it
//! preempts the worker as the call returns, reads its one response, writes its next request
//! and sleeps again, to be woken by the next send: two context switches per response,
//! charged to the worker. One `io_uring_enter(2)` submits every send of the batch, so the
//! peer runs once, after all of them, and finds all its responses waiting.
//!
//! Measured with the hello app, one worker and `wrk -t1 -c32` (interleaved runs, CPU per
//! request of the server's processes): 3.2 → 2.5 µs with the client on the worker's CPU
//! (nginx `return 200`: 2.5), 4.9 → 5.0 with it on the other CPU, where the peer is not
//! preempting the worker anyway.
//!
//! Each send is non-blocking (`MSG_DONTWAIT`), so it completes during the submission with
//! what the socket took; the rest of a response, or a send that failed, goes through the
//! ordinary send path afterwards, which finds the state a `send(2)` would have left. Where
//! io_uring is unavailable (before Linux 5.6, `kernel.io_uring_disabled`, a seccomp filter
//! such as Docker's default profile) or `--io-uring=false`, responses go out one `send(2)`
//! at a time.

use io_uring::{IoUring, Probe, opcode, types};
use std::io;
use std::os::fd::RawFd;

/// Sends per submission: larger batches take several. Small, because before Linux 5.12 a
/// ring's memory counts against the user's `RLIMIT_MEMLOCK` (64 KiB by default) across
/// all its processes: a 64-entry ring is two pages, so every worker of a server gets one.
const ENTRIES: usize = 64;

/// Submissions tried again after a passing failure (`EINTR`, or `EAGAIN`/`EBUSY`: the
/// kernel is short of request memory, or completions are backed up) before giving up.
const TRIES: usize = 8;

/// The worker's ring for held responses.
pub(super) struct Burst {
    ring: IoUring,
}

/// One response to send: its socket and unsent bytes.
pub(super) struct Outgoing {
    pub(super) fd: RawFd,
    pub(super) ptr: *const u8,
    pub(super) len: usize,
}

impl Burst {
    /// A ring that can send, or `None` where this process may not have one.
    pub(super) fn new() -> Option<Burst> {
        let made = IoUring::new(ENTRIES as u32).and_then(|ring| {
            let mut probe = Probe::new();
            ring.submitter().register_probe(&mut probe)?;
            match probe.is_supported(opcode::Send::CODE) {
                true => Ok(ring),
                false => Err(io::Error::from_raw_os_error(nix::libc::EOPNOTSUPP)),
            }
        });
        match made {
            Ok(ring) => Some(Burst { ring }),
            // Refused outright (a seccomp filter, io_uring_disabled, an old kernel): as
            // expected as it is common, so not worth a line per worker.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EPERM | nix::libc::ENOSYS | nix::libc::EOPNOTSUPP)
                ) =>
            {
                tracing::debug!("io_uring unavailable ({e}): responses go out one send(2) each");
                None
            }
            Err(e) => {
                tracing::info!("io_uring ring not set up ({e}): responses go out one send(2) each");
                None
            }
        }
    }

    /// Sends each of `out`, storing in `sent` how many bytes its socket took (0 where it
    /// took none or the send failed: the ordinary path tries again and meets the same
    /// condition). An error means the ring is unusable; `sent` still holds what went out.
    ///
    /// # Safety
    /// Every `ptr`/`len` must stay valid and unchanged until this returns.
    pub(super) unsafe fn send_all(
        &mut self,
        out: &[Outgoing],
        sent: &mut Vec<usize>,
    ) -> io::Result<()> {
        sent.clear();
        sent.resize(out.len(), 0);
        let flags = nix::libc::MSG_NOSIGNAL | nix::libc::MSG_DONTWAIT;
        for (first, chunk) in (0..).step_by(ENTRIES).zip(out.chunks(ENTRIES)) {
            {
                let mut sq = self.ring.submission();
                for (i, o) in (first..).zip(chunk) {
                    let len = u32::try_from(o.len).unwrap_or(u32::MAX);
                    let sqe = opcode::Send::new(types::Fd(o.fd), o.ptr, len)
                        .flags(flags)
                        .build()
                        .user_data(i as u64);
                    // SAFETY: the caller keeps the buffer valid until this returns, and
                    // every send is reaped below before it does; the queue holds ENTRIES.
                    unsafe { sq.push(&sqe) }
                        .map_err(|_| io::Error::other("submission queue full"))?;
                }
            }
            let mut left = chunk.len();
            let mut tries = 0;
            while left > 0 {
                let waited = self.ring.submit_and_wait(left);
                left -= self.reap(sent);
                match waited {
                    Ok(_) => {}
                    Err(e)
                        if tries < TRIES
                            && matches!(
                                e.raw_os_error(),
                                Some(nix::libc::EINTR | nix::libc::EAGAIN | nix::libc::EBUSY)
                            ) =>
                    {
                        tries += 1;
                    }
                    // Sends still in the queue never run: the caller drops the ring. Those
                    // the kernel took have completed: MSG_DONTWAIT makes io_uring finish a
                    // send that would block with EAGAIN rather than wait for the socket
                    // (REQ_F_NOWAIT), so none is left running against a buffer.
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Stores the completed sends' byte counts in `sent`; returns how many completed.
    fn reap(&mut self, sent: &mut [usize]) -> usize {
        let mut done = 0;
        for cqe in self.ring.completion() {
            done += 1;
            if let (Ok(n), Some(slot)) = (
                usize::try_from(cqe.result()),
                sent.get_mut(cqe.user_data() as usize),
            ) {
                *slot = n;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn outgoing(sock: &UnixStream, bytes: &[u8]) -> Outgoing {
        Outgoing {
            fd: sock.as_raw_fd(),
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    #[test]
    fn each_send_reports_what_its_socket_took_and_a_refused_one_took_nothing() {
        let Some(mut burst) = Burst::new() else {
            eprintln!("skipped: io_uring is not available here");
            return;
        };
        let (whole, mut whole_peer) = UnixStream::pair().unwrap();
        let (partial, mut partial_peer) = UnixStream::pair().unwrap();
        let (full, _full_peer) = UnixStream::pair().unwrap();
        let (closed, closed_peer) = UnixStream::pair().unwrap();
        for s in [&whole, &partial, &full, &closed] {
            s.set_nonblocking(true).unwrap();
        }
        drop(closed_peer);
        // Fill `full`'s buffer, so that it takes nothing more.
        let block = vec![7u8; 64 * 1024];
        while (&full).write(&block).is_ok() {}
        let small = b"HTTP/1.1 200 OK\r\n\r\nhello".to_vec();
        let large: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
        let out = [
            outgoing(&whole, &small),
            outgoing(&partial, &large),
            outgoing(&full, &small),
            outgoing(&closed, &small),
        ];
        let mut sent = Vec::new();
        // SAFETY: the buffers outlive the call.
        unsafe { burst.send_all(&out, &mut sent) }.unwrap();
        assert_eq!(sent[0], small.len());
        assert!(sent[1] > 0 && sent[1] < large.len(), "took {}", sent[1]);
        assert_eq!(sent[2], 0, "a full socket takes nothing (EAGAIN)");
        assert_eq!(
            sent[3], 0,
            "a socket whose peer is gone takes nothing (EPIPE)"
        );
        let mut got = vec![0u8; small.len()];
        whole_peer.read_exact(&mut got).unwrap();
        assert_eq!(got, small);
        let mut got = vec![0u8; sent[1]];
        partial_peer.read_exact(&mut got).unwrap();
        assert_eq!(got, large[..sent[1]]);
    }

    #[test]
    fn more_sends_than_the_ring_holds_go_out_in_several_submissions() {
        let Some(mut burst) = Burst::new() else {
            eprintln!("skipped: io_uring is not available here");
            return;
        };
        let pairs: Vec<_> = (0..ENTRIES + 10)
            .map(|_| UnixStream::pair().unwrap())
            .collect();
        let bodies: Vec<Vec<u8>> = (0..pairs.len())
            .map(|i| format!("response {i}").into_bytes())
            .collect();
        let out: Vec<_> = pairs
            .iter()
            .zip(&bodies)
            .map(|((s, _), b)| outgoing(s, b))
            .collect();
        let mut sent = Vec::new();
        // SAFETY: the buffers outlive the call.
        unsafe { burst.send_all(&out, &mut sent) }.unwrap();
        for (i, ((_, mut peer), body)) in pairs.into_iter().zip(&bodies).enumerate() {
            assert_eq!(sent[i], body.len(), "send {i}");
            let mut got = vec![0u8; body.len()];
            peer.read_exact(&mut got).unwrap();
            assert_eq!(&got, body);
        }
    }
}
