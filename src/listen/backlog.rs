//! How many connections wait in a listener's accept queue, as the kernel reports it: the
//! depth the metrics (`rsgi_listen_backlog`) and gunicorn's StatsD `backlog` gauge show.

use super::Listener;
use nix::libc;
use std::os::fd::{AsFd, AsRawFd};

/// `TCP_LISTEN` of the kernel's TCP states (include/net/tcp_states.h).
const TCP_LISTEN: u8 = 10;

/// A listener's accept queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backlog {
    /// Connections the kernel completed that no worker has accepted yet.
    pub queued: u32,
    /// The most the queue holds (the `listen()` backlog, capped by `somaxconn`).
    pub limit: u32,
}

/// The accept queue of `listener`; `None` for a Unix socket (the kernel reports its queue
/// only through sock_diag) or if the query fails.
pub fn depth(listener: &Listener) -> Option<Backlog> {
    let Listener::Tcp { .. } = listener else {
        return None;
    };
    // SAFETY: tcp_info is plain old data; the all-zero value is valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the descriptor is a live socket borrowed from `listener`; `info` and `len`
    // describe a writable buffer of exactly `len` bytes, which the kernel fills at most.
    let rc = unsafe {
        libc::getsockopt(
            listener.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &raw mut len,
        )
    };
    // For a socket in LISTEN state Linux reports the accept queue's length in `unacked`
    // and its limit in `sacked` (tcp_get_info).
    (rc == 0 && info.tcpi_state == TCP_LISTEN).then_some(Backlog {
        queued: info.tcpi_unacked,
        limit: info.tcpi_sacked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn counts_connections_nobody_accepted() {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let listener = Listener::Tcp {
            listener: socket,
            reuse_port: false,
        };
        assert_eq!(depth(&listener).map(|b| b.queued), Some(0));
        let _clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let backlog = depth(&listener).unwrap();
        assert_eq!(backlog.queued, 3);
        assert!(backlog.limit >= 3, "{backlog:?}");
    }
}
