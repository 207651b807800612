//! The control socket's file: created with its mode before anyone can connect, a stale one
//! (its server gone) replaced, a live one refused, removed at exit only while it is still
//! ours; and who may talk to it.

use nix::sys::socket::{
    self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr, UnixCredentials, sockopt,
};
use nix::unistd::{Uid, geteuid};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Connections waiting to be accepted; the master accepts them on its next wake-up.
const BACKLOG: i32 = 16;

/// The bound, listening control socket.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the file we created: removed only while the path still names it.
    file_id: (u64, u64),
}

/// Binds the control socket at `path` with permission bits `mode`. A socket nobody accepts
/// on is replaced; a live one is refused, unless `take_over` (a new master started by
/// USR2 takes its predecessor's place: the old one then leaves the new file alone).
pub fn bind(path: &Path, mode: u32, take_over: bool) -> io::Result<ControlSocket> {
    clear_the_way(path, take_over)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let addr = UnixAddr::new(path).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket path is too long (at most 107 bytes)",
        )
    })?;
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::bind(fd.as_raw_fd(), &addr)?;
    // The file exists and is ours: remove it if anything below fails. The mode is set
    // before listen(2), so nobody connects while the umask's bits apply.
    let finish = || -> io::Result<(u64, u64)> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        let meta = fs::symlink_metadata(path)?;
        socket::listen(&fd, Backlog::new(BACKLOG).unwrap_or(Backlog::MAXCONN))?;
        Ok((meta.dev(), meta.ino()))
    };
    match finish() {
        Ok(file_id) => Ok(ControlSocket {
            listener: UnixListener::from(fd),
            path: path.to_owned(),
            file_id,
        }),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Removes a stale socket at `path` (or any socket, with `take_over`); refuses a live one
/// and anything that is not a socket.
fn clear_the_way(path: &Path, take_over: bool) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if take_over {
                return fs::remove_file(path);
            }
            match UnixStream::connect(path) {
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another server is using this control socket (give each server its own \
                     --control-socket path)",
                )),
                // Nobody accepts: a server that died without cleaning up.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => fs::remove_file(path),
                Err(e) => Err(io::Error::new(
                    e.kind(),
                    format!("a socket exists there and cannot be checked for use: {e}"),
                )),
            }
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket; refusing to replace it",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl ControlSocket {
    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection waiting to be accepted (non-blocking), if any.
    pub fn accept(&self) -> io::Result<Option<UnixStream>> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(true)?;
                Ok(Some(stream))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the socket file if the path still names the one we created (a newer server
    /// may have taken the path over).
    pub fn remove_file_if_ours(&self) {
        match fs::symlink_metadata(&self.path) {
            Ok(meta)
                if meta.file_type().is_socket() && (meta.dev(), meta.ino()) == self.file_id =>
            {
                if let Err(e) = fs::remove_file(&self.path) {
                    tracing::warn!(
                        "cannot remove the control socket {}: {e}",
                        self.path.display()
                    );
                }
            }
            _ => {}
        }
    }
}

impl AsFd for ControlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

/// The connected client's credentials, as the kernel recorded them at connect(2).
pub fn peer(stream: &UnixStream) -> io::Result<UnixCredentials> {
    Ok(socket::getsockopt(stream, sockopt::PeerCredentials)?)
}

/// Whether a client running as `uid` may use the socket: the master's own user, or root.
pub fn allowed(uid: u32) -> bool {
    uid == 0 || Uid::from_raw(uid) == geteuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn mode_is_set_stale_replaced_live_refused_and_removal_spares_a_successor() {
        let dir = TempDir::new("rsgi-ctl", "socket");
        let path = dir.path().join("sub").join("ctl.sock");
        let first = bind(&path, 0o640, false).expect("bind");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(
            fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let err = bind(&path, 0o600, false).expect_err("live");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(first);
        // Its listener closed without removing the file: stale now.
        let second = bind(&path, 0o600, false).expect("stale replaced");
        let third = bind(&path, 0o600, true).expect("taken over");
        second.remove_file_if_ours();
        assert!(path.exists(), "a successor's socket is left alone");
        third.remove_file_if_ours();
        assert!(!path.exists());
        fs::write(&path, b"not a socket").unwrap();
        assert!(bind(&path, 0o600, false).is_err());
        assert!(path.exists());
    }
}
