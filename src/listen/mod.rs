//! Listening sockets: bound by the master before any fork, inherited by every worker (and,
//! with `--reuse-port`, twinned by each worker into a TCP listener of its own).
//!
//! Knows addresses, socket options and accept(2); not signals, workers or HTTP. Sockets are
//! made with nix (not std's `bind`) so every option is set before bind(2)/listen(2) and
//! every descriptor is close-on-exec and non-blocking from its first moment.

pub mod activation;
pub mod backlog;

use crate::config::{BindAddr, Config};
use crate::peer::Peer;
use crate::settings::Protocol;
use activation::Inherited;
use nix::sys::socket::{
    self, AddressFamily, Backlog, SockFlag, SockType, SockaddrLike, SockaddrStorage, UnixAddr,
    sockopt,
};
use std::fmt;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A bound, listening socket (non-blocking, close-on-exec).
#[derive(Debug)]
pub enum Listener {
    /// TCP over IPv4 or IPv6.
    Tcp {
        /// The socket.
        listener: TcpListener,
        /// Whether we bound it with SO_REUSEPORT, so that more sockets may join its port
        /// ([`Listener::reuse_port_twin`]); never for an inherited (`fd://`) socket.
        reuse_port: bool,
    },
    /// A Unix domain socket.
    Unix {
        /// The socket.
        listener: UnixListener,
        /// Its path, removed by the master on exit when we created it.
        path: Option<PathBuf>,
        /// (device, inode) of the socket file when we created it: the file is only removed
        /// while the path still names it, never a successor's socket or a user's file.
        file_id: Option<(u64, u64)>,
    },
}

/// An accepted client connection (non-blocking, close-on-exec, TCP_NODELAY on TCP).
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    Unix(UnixStream),
}

/// A listen address that could not be bound; the server exits before forking.
#[derive(Debug)]
pub struct BindError {
    /// The address as the user wrote it.
    pub addr: String,
    /// Why.
    pub source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.addr, self.source)
    }
}

impl std::error::Error for BindError {}

/// How [`bind_all`] makes listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindOptions {
    /// listen(2) backlog, clamped to what listen(2) accepts (the kernel caps it further at
    /// `net.core.somaxconn`).
    pub backlog: i32,
    /// Permission bits applied to Unix socket files we create; `None` leaves the umask's.
    pub unix_mode: Option<u32>,
    /// Set SO_REUSEPORT on TCP listeners, so that workers can open their own listeners on
    /// the same ports ([`Listener::reuse_port_twin`]).
    pub reuse_port: bool,
    /// With `reuse_port`, the user (`--user`) the workers will run as: the kernel admits a
    /// socket into a port's SO_REUSEPORT group only if the same user created it, so the
    /// master creates these sockets as that user (and binds them as itself).
    pub reuse_port_owner: Option<u32>,
}

impl From<&Config> for BindOptions {
    fn from(config: &Config) -> BindOptions {
        BindOptions {
            backlog: config.sockets.backlog,
            unix_mode: config.sockets.unix_socket_mode,
            reuse_port: config.sockets.reuse_port,
            reuse_port_owner: config
                .process
                .owner
                .user
                .filter(|_| config.sockets.reuse_port),
        }
    }
}

/// Binds every address in order; on the first failure nothing stays bound (and socket
/// files already created are removed).
pub fn bind_all(binds: &[BindAddr], options: &BindOptions) -> Result<Vec<Listener>, BindError> {
    let backlog = clamp_backlog(options.backlog);
    let mut bound: Vec<Listener> = Vec::with_capacity(binds.len());
    for (i, addr) in binds.iter().enumerate() {
        let result = match addr {
            BindAddr::Tcp { host, port } => bind_tcp(host, *port, backlog, options),
            BindAddr::Unix(path) => bind_unix(path, backlog, options.unix_mode),
            // Two owners of one descriptor would close it twice; refuse the repeat.
            BindAddr::Fd(_) if binds[..i].contains(addr) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the same descriptor is listed twice",
            )),
            BindAddr::Fd(fd) => adopt_fd(*fd),
        };
        match result {
            Ok(listener) => bound.push(listener),
            Err(source) => {
                for listener in &bound {
                    listener.remove_socket_file();
                }
                return Err(BindError {
                    addr: addr.to_string(),
                    source,
                });
            }
        }
    }
    Ok(bound)
}

/// Like [`bind_all`], but first takes over the listening sockets systemd (or the previous
/// master, after USR2) passed in. With `explicit` binds, an inherited socket serves the
/// bind it matches (same address, or `fd://N` naming it) and the rest are bound as usual;
/// inherited sockets that match no bind are closed with a warning. Without explicit binds
/// the inherited sockets are served as they are. Every inherited descriptor must be a
/// listening TCP or Unix stream socket, or nothing is served.
pub fn bind_all_inheriting(
    binds: &[BindAddr],
    explicit: bool,
    inherited: Vec<Inherited>,
    options: &BindOptions,
) -> Result<Vec<Listener>, BindError> {
    if inherited.is_empty() {
        return bind_all(binds, options);
    }
    let mut adopted: Vec<(RawFd, Option<String>, Listener)> = Vec::with_capacity(inherited.len());
    for Inherited { fd, name } in inherited {
        let raw = fd.as_raw_fd();
        let describe = || match &name {
            Some(name) => format!("LISTEN_FDS descriptor {raw} ({name})"),
            None => format!("LISTEN_FDS descriptor {raw}"),
        };
        let listener = check_listening(fd.as_fd())
            .and_then(|family| adopt(fd, family))
            .and_then(|listener| listener.claim(name.as_deref(), options.reuse_port))
            .map_err(|source| BindError {
                addr: describe(),
                source,
            })?;
        adopted.push((raw, name, listener));
    }
    if !explicit {
        SERVING_INHERITED.store(true, std::sync::atomic::Ordering::Relaxed);
        return Ok(adopted.into_iter().map(|(_, _, l)| l).collect());
    }
    let mut bound: Vec<Listener> = Vec::with_capacity(binds.len());
    for addr in binds {
        let found = adopted
            .iter()
            .position(|(raw, _, listener)| listener.serves(addr, *raw));
        match found {
            Some(i) => bound.push(adopted.remove(i).2),
            None => match bind_all(std::slice::from_ref(addr), options) {
                Ok(mut one) => bound.append(&mut one),
                Err(e) => {
                    for listener in &bound {
                        listener.remove_socket_file();
                    }
                    return Err(e);
                }
            },
        }
    }
    for (raw, name, listener) in adopted {
        tracing::warn!(
            "inherited socket {} (descriptor {raw}{}) matches no --bind; closing it",
            listener.url(),
            name.map(|n| format!(", {n}")).unwrap_or_default()
        );
    }
    Ok(bound)
}

/// Set when the server serves inherited sockets as they are (no explicit binds).
static SERVING_INHERITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the listeners are inherited sockets served as they are (socket activation
/// without explicit binds): the configuration's `binds` (the default) do not describe
/// them, so a reload that still sets no binds must keep them as they are.
pub fn serving_inherited_as_is() -> bool {
    SERVING_INHERITED.load(std::sync::atomic::Ordering::Relaxed)
}

/// `backlog` as listen(2) accepts it: at least 1, at most `SOMAXCONN`.
fn clamp_backlog(backlog: i32) -> Backlog {
    Backlog::new(backlog.clamp(1, i32::from(Backlog::MAXCONN))).unwrap_or(Backlog::MAXCONN)
}

/// A new stream socket that is close-on-exec and non-blocking from the start, so no fork
/// or exec can leak it half-configured.
fn new_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    Ok(socket::socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?)
}

/// Binds a TCP address: the first address the host resolves to.
fn bind_tcp(
    host: &str,
    port: u16,
    backlog: Backlog,
    options: &BindOptions,
) -> io::Result<Listener> {
    let addr = (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the host resolves to no address")
    })?;
    let owner = options.reuse_port_owner.filter(|_| options.reuse_port);
    if owner.is_some() && addr.port() != 0 && addr.port() < unprivileged_port_start() {
        // Workers, running as --user, could not bind their own socket on this port.
        tracing::warn!(
            "--reuse-port: workers run as --user and cannot bind port {}; they share one \
             listening socket on it",
            addr.port()
        );
        return listen_tcp(addr, backlog, false, None);
    }
    listen_tcp(addr, backlog, options.reuse_port, owner)
}

/// The lowest port an unprivileged process may bind (`net.ipv4.ip_unprivileged_port_start`).
fn unprivileged_port_start() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// A TCP listener on `addr`, every option set before bind(2); created as user `owner`
/// if given (see [`BindOptions::reuse_port_owner`]).
fn listen_tcp(
    addr: SocketAddr,
    backlog: Backlog,
    reuse_port: bool,
    owner: Option<u32>,
) -> io::Result<Listener> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = match owner {
        // A socket's owner is the filesystem uid of its creator. Changing only that keeps
        // every capability but file access, so bind(2) below may still take port 80; the
        // master is single-threaded, so nothing else runs under the borrowed fsuid.
        Some(uid) => {
            let previous = nix::unistd::setfsuid(nix::unistd::Uid::from_raw(uid));
            let fd = new_socket(family);
            nix::unistd::setfsuid(previous);
            fd?
        }
        None => new_socket(family)?,
    };
    // Lets a restarted server bind while old connections linger in TIME_WAIT.
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if reuse_port {
        // Every socket on a port must set it before bind(2) for the kernel to let them
        // share the port and spread new connections across their accept queues.
        socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    if addr.is_ipv6() {
        // "[::]:80" means IPv6 only; IPv4 is bound explicitly, never as a side effect
        // that would collide with a separate "0.0.0.0:80".
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    tune_tcp_listener(fd.as_fd())?;
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    socket::listen(&fd, backlog)?;
    Ok(Listener::Tcp {
        listener: TcpListener::from(fd),
        reuse_port,
    })
}

/// How long the kernel holds a new TCP connection whose client has sent nothing before
/// handing it to accept(2) anyway (TCP_DEFER_ACCEPT). One second, as nginx's `deferred`: the
/// kernel counts it in SYN-ACK retransmissions (the first is after 1 s), and a longer hold
/// would add to `--header-timeout` for a silent client, whose deadline starts at accept.
const DEFER_ACCEPT_SECS: nix::libc::c_int = 1;

/// Options every TCP listener gets, which accepted connections inherit or benefit from:
///
/// * TCP_NODELAY: responses are written whole, so Nagle would only delay their last
///   segment. Linux copies it to each accepted socket, which saves a setsockopt(2) per
///   connection.
/// * TCP_DEFER_ACCEPT: a connection is queued for accept(2) once its first bytes (the
///   request) have arrived, so the worker reads and answers it at once, without waiting
///   for it in epoll. A client that sends nothing is queued after [`DEFER_ACCEPT_SECS`];
///   the worker then waits for it like for any other (`--header-timeout`).
fn tune_tcp_listener(fd: BorrowedFd<'_>) -> io::Result<()> {
    socket::setsockopt(&fd, sockopt::TcpNoDelay, &true)?;
    let secs = DEFER_ACCEPT_SECS;
    // SAFETY: the option value is a c_int that lives across the call and its size is
    // passed; the descriptor is borrowed, so it is open for the call.
    let rc = unsafe {
        nix::libc::setsockopt(
            fd.as_raw_fd(),
            nix::libc::IPPROTO_TCP,
            nix::libc::TCP_DEFER_ACCEPT,
            (&raw const secs).cast(),
            std::mem::size_of_val(&secs) as nix::libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds a Unix socket at `path`, replacing a stale socket but never a live one or a file
/// that is not a socket.
fn bind_unix(path: &Path, backlog: Backlog, mode: Option<u32>) -> io::Result<Listener> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is accepting connections on this socket",
                ));
            }
            // Nobody listens: a server that exited without cleaning up. Safe to replace.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => fs::remove_file(path)?,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("a socket exists and cannot be checked for use: {e}"),
                ));
            }
        },
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket; refusing to replace it",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let addr = UnixAddr::new(path).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket path is too long (at most 107 bytes)",
        )
    })?;
    let fd = new_socket(AddressFamily::Unix)?;
    socket::bind(fd.as_raw_fd(), &addr)?;
    // The file now exists and is ours: remove it if anything below fails. The mode is set
    // before listen(2) so no client can connect while the umask's permissions apply.
    let finish = || -> io::Result<(u64, u64)> {
        if let Some(mode) = mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
        let meta = fs::symlink_metadata(path)?;
        socket::listen(&fd, backlog)?;
        Ok((meta.dev(), meta.ino()))
    };
    match finish() {
        Ok(file_id) => Ok(Listener::Unix {
            listener: UnixListener::from(fd),
            path: Some(path.to_owned()),
            file_id: Some(file_id),
        }),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Adopts an inherited listening socket (`fd://N`). Nothing is taken over (or closed) until
/// the descriptor is known to be a listening stream socket.
fn adopt_fd(fd: RawFd) -> io::Result<Listener> {
    // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags; on a number that is not an
    // open descriptor it fails with EBADF and touches nothing.
    if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("not an open file descriptor: {e}"),
        ));
    }
    // SAFETY: the descriptor is open (checked just above) and nothing closes it while this
    // borrow lives: it is only used for the checks below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let family = check_listening(borrowed)?;
    // SAFETY: the user handed us this descriptor with fd://N, it is an open listening socket
    // (checked above), and bind_all refuses the same N twice, so this is its only owner.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    adopt(owned, family)
}

/// Checks that `fd` is a listening stream socket of a family we serve (TCP over IPv4 or
/// IPv6, Unix) and returns its family.
fn check_listening(borrowed: BorrowedFd<'_>) -> io::Result<AddressFamily> {
    let not_listening = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_owned());
    match socket::getsockopt(&borrowed, sockopt::SockType) {
        Ok(SockType::Stream) => {}
        Ok(_) => return Err(not_listening("not a stream socket")),
        Err(nix::errno::Errno::ENOTSOCK) => return Err(not_listening("not a socket")),
        Err(e) => return Err(e.into()),
    }
    if !socket::getsockopt(&borrowed, sockopt::AcceptConn)? {
        return Err(not_listening(
            "a socket, but not listening (listen(2) was not called)",
        ));
    }
    match socket::getsockname::<SockaddrStorage>(borrowed.as_raw_fd())?.family() {
        Some(family @ (AddressFamily::Inet | AddressFamily::Inet6 | AddressFamily::Unix)) => {
            Ok(family)
        }
        _ => Err(not_listening("neither a TCP nor a Unix socket")),
    }
}

/// Takes ownership of a checked listening socket (see [`check_listening`]).
fn adopt(owned: OwnedFd, family: AddressFamily) -> io::Result<Listener> {
    // Inherited descriptors usually lack both flags; workers must not leak it into exec'd
    // children, and the accept loop relies on WouldBlock.
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok(if family == AddressFamily::Unix {
        let listener = UnixListener::from(owned);
        listener.set_nonblocking(true)?;
        // We did not create the file, so we never remove it.
        Listener::Unix {
            listener,
            path: None,
            file_id: None,
        }
    } else {
        let listener = TcpListener::from(owned);
        listener.set_nonblocking(true)?;
        tune_tcp_listener(listener.as_fd())?;
        // Whoever bound it decided its options; we cannot vouch that a twin could join.
        Listener::Tcp {
            listener,
            reuse_port: false,
        }
    })
}

impl Listener {
    /// Accepts one connection; `WouldBlock` when none is waiting. The stream is
    /// non-blocking and close-on-exec from the start (accept4(2) flags, no extra fcntl).
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        let (fd, peer) = accept_nonblocking(self.as_fd())?;
        match self {
            // TCP_NODELAY comes from the listener ([`tune_tcp_listener`]).
            Listener::Tcp { .. } => Ok((Stream::Tcp(TcpStream::from(fd)), peer)),
            Listener::Unix { .. } => Ok((Stream::Unix(UnixStream::from(fd)), Peer::Unix)),
        }
    }

    /// Where this listener is, for logs: `http://127.0.0.1:8000`, `http://[::1]:8000`,
    /// `unix:/run/app.sock` (an inherited socket without a path shows as `fd://N`).
    pub fn url(&self) -> String {
        match self {
            Listener::Tcp { listener, .. } => match listener.local_addr() {
                Ok(addr) => format!("http://{addr}"),
                Err(_) => format!("fd://{}", listener.as_raw_fd()),
            },
            Listener::Unix {
                path: Some(path), ..
            } => format!("unix:{}", path.display()),
            Listener::Unix { listener, .. } => {
                let addr = listener.local_addr().ok();
                if let Some(path) = addr.as_ref().and_then(|a| a.as_pathname()) {
                    format!("unix:{}", path.display())
                } else if let Some(name) = addr.as_ref().and_then(|a| a.as_abstract_name()) {
                    format!("unix:@{}", String::from_utf8_lossy(name))
                } else {
                    format!("fd://{}", listener.as_raw_fd())
                }
            }
        }
    }

    /// [`Listener::url`] with the protocol it speaks (`uwsgi://127.0.0.1:3031`,
    /// `uwsgi://unix:/run/app.sock`: the form a bind names it by).
    pub fn url_speaking(&self, protocol: Protocol) -> String {
        let url = self.url();
        match protocol {
            Protocol::Http => url,
            Protocol::Uwsgi => {
                let address = url.strip_prefix("http://").unwrap_or(&url);
                format!("{}{address}", crate::settings::UWSGI_PREFIX)
            }
        }
    }

    /// An inherited listener whose Unix socket file (if any) the previous master created,
    /// so it becomes ours to remove at exit (see [`Listener::claim`]).
    pub(crate) fn claim_socket_file(self) -> io::Result<Listener> {
        self.claim(Some(activation::OWNED_NAME), false)
    }

    /// Settles what an inherited listener may do: a Unix socket file the previous master
    /// created (named [`activation::OWNED_NAME`]) becomes ours to remove at exit; a TCP
    /// socket bound with SO_REUSEPORT may get per-worker twins if `--reuse-port` is on.
    fn claim(self, name: Option<&str>, reuse_port: bool) -> io::Result<Listener> {
        match self {
            Listener::Unix { listener, .. } if name == Some(activation::OWNED_NAME) => {
                let path = listener
                    .local_addr()?
                    .as_pathname()
                    .map(Path::to_path_buf)
                    .filter(|p| p.is_absolute());
                let file_id = match &path {
                    Some(p) => fs::symlink_metadata(p)
                        .ok()
                        .filter(|m| m.file_type().is_socket())
                        .map(|m| (m.dev(), m.ino())),
                    None => None,
                };
                let path = path.filter(|_| file_id.is_some());
                Ok(Listener::Unix {
                    listener,
                    path,
                    file_id,
                })
            }
            Listener::Tcp { listener, .. } => {
                let reuse_port = reuse_port && socket::getsockopt(&listener, sockopt::ReusePort)?;
                Ok(Listener::Tcp {
                    listener,
                    reuse_port,
                })
            }
            other => Ok(other),
        }
    }

    /// Whether this (inherited) listener is the one `addr` asks for: the same TCP address
    /// (a name is resolved; port 0 matches any port), the same Unix path, or `fd://N` with
    /// N the descriptor it was inherited as.
    pub(crate) fn serves(&self, addr: &BindAddr, inherited_fd: RawFd) -> bool {
        match (addr, self) {
            (BindAddr::Fd(n), _) => *n == inherited_fd,
            (BindAddr::Tcp { host, port }, Listener::Tcp { listener, .. }) => {
                let Ok(local) = listener.local_addr() else {
                    return false;
                };
                // Port 0 ("any free port") is whichever port the socket got: after a USR2
                // upgrade the new master must keep serving the port clients already use.
                (host.as_str(), *port)
                    .to_socket_addrs()
                    .is_ok_and(|mut addrs| {
                        addrs.any(|a| {
                            a.ip() == local.ip() && (*port == 0 || a.port() == local.port())
                        })
                    })
            }
            (BindAddr::Unix(path), Listener::Unix { listener, .. }) => listener
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p == path.as_path()))
                .unwrap_or(false),
            _ => false,
        }
    }

    /// Whether we created this Unix socket's file (and so remove it at exit).
    pub fn owns_socket_file(&self) -> bool {
        matches!(
            self,
            Listener::Unix {
                path: Some(_),
                file_id: Some(_),
                ..
            }
        )
    }

    /// The local TCP address, if this is a TCP listener.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp { listener, .. } => listener.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    /// A new listener on this one's TCP address, for a worker to open after fork so that it
    /// has an accept queue of its own; `Ok(None)` unless this listener was bound with
    /// SO_REUSEPORT (Unix sockets, `fd://` sockets, TCP without `--reuse-port`). This
    /// listener stays in the port's group and keeps getting its share of connections.
    pub fn reuse_port_twin(&self, backlog: i32) -> io::Result<Option<Listener>> {
        match self {
            Listener::Tcp {
                listener,
                reuse_port: true,
            } => {
                let twin = listen_tcp(listener.local_addr()?, clamp_backlog(backlog), true, None)?;
                Ok(Some(twin))
            }
            Listener::Tcp { .. } | Listener::Unix { .. } => Ok(None),
        }
    }

    /// Removes the socket file of a Unix listener we created (master, on exit), but only
    /// while the path still names that file: a newer server may have replaced it.
    pub fn remove_socket_file(&self) {
        let Listener::Unix {
            path: Some(path),
            file_id: Some((dev, ino)),
            ..
        } = self
        else {
            return;
        };
        match fs::symlink_metadata(path) {
            Ok(meta)
                if meta.file_type().is_socket() && meta.dev() == *dev && meta.ino() == *ino =>
            {
                if let Err(e) = fs::remove_file(path) {
                    tracing::warn!("cannot remove socket {}: {e}", path.display());
                }
            }
            _ => {}
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp { listener, .. } => listener.as_fd(),
            Listener::Unix { listener, .. } => listener.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl io::Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Stream {
    /// Writes `buf` telling the kernel more follows at once (`MSG_MORE`): a response head
    /// whose file body sendfile(2) sends next then leaves in the same TCP segment as the
    /// start of the file, not in a small packet of its own.
    pub fn write_more(&self, buf: &[u8]) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, send};
        let fd = match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        };
        // nix names no MSG_MORE; the bit is Linux's.
        let more = MsgFlags::from_bits_retain(nix::libc::MSG_MORE);
        send(fd, buf, more | MsgFlags::MSG_NOSIGNAL).map_err(io::Error::from)
    }
}

impl io::Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// accept4(2) with `SOCK_NONBLOCK | SOCK_CLOEXEC`, returning the peer's address too (nix's
/// `accept4` discards it, and a getpeername(2) per connection would cost a system call).
fn accept_nonblocking(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, Peer)> {
    let mut storage = std::mem::MaybeUninit::<nix::libc::sockaddr_storage>::zeroed();
    let mut len = std::mem::size_of::<nix::libc::sockaddr_storage>() as nix::libc::socklen_t;
    let flags = nix::libc::SOCK_NONBLOCK | nix::libc::SOCK_CLOEXEC;
    // SAFETY: storage is a writable sockaddr_storage of `len` bytes, which is what accept4
    // may fill; the listener descriptor is borrowed, so it is open for the call.
    let fd = unsafe {
        nix::libc::accept4(
            listener.as_raw_fd(),
            storage.as_mut_ptr().cast(),
            &mut len,
            flags,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: accept4 initialised `len` bytes of the storage with the peer's address.
    let addr = unsafe { SockaddrStorage::from_raw(storage.as_ptr().cast(), Some(len)) };
    let peer = if let Some(v4) = addr.as_ref().and_then(|a| a.as_sockaddr_in()) {
        Peer::Tcp(SocketAddr::from((v4.ip(), v4.port())))
    } else if let Some(v6) = addr.as_ref().and_then(|a| a.as_sockaddr_in6()) {
        Peer::Tcp(SocketAddr::V6(std::net::SocketAddrV6::new(
            v6.ip(),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id(),
        )))
    } else {
        Peer::Unix
    };
    Ok((fd, peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    use std::io::{Read, Write};
    use std::os::fd::IntoRawFd;
    use std::time::Duration;

    use crate::test_support::TempDir;

    fn tcp(host: &str, port: u16) -> BindAddr {
        BindAddr::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    fn options(unix_mode: Option<u32>, reuse_port: bool) -> BindOptions {
        BindOptions {
            backlog: 16,
            unix_mode,
            reuse_port,
            reuse_port_owner: None,
        }
    }

    fn bind_one(addr: BindAddr, mode: Option<u32>) -> Result<Listener, BindError> {
        let mut listeners = bind_all(&[addr], &options(mode, false))?;
        assert_eq!(listeners.len(), 1);
        Ok(listeners.remove(0))
    }

    fn is_cloexec(fd: &impl AsFd) -> bool {
        let flags = fcntl(fd, FcntlArg::F_GETFD).expect("F_GETFD");
        FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC)
    }

    fn is_nonblocking(fd: &impl AsFd) -> bool {
        let flags = fcntl(fd, FcntlArg::F_GETFL).expect("F_GETFL");
        OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK)
    }

    /// Accepts the connection a client has just made (the listener is non-blocking, and the
    /// handshake may still be in flight).
    fn accept_soon(listener: &Listener) -> (Stream, Peer) {
        for _ in 0..200 {
            match listener.accept() {
                Ok(accepted) => return accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        panic!("no connection arrived");
    }

    /// Connects a client to `addr` and sends `ping`: a TCP listener defers accept(2) until
    /// a connection's first bytes arrive.
    fn connect(addr: SocketAddr) -> TcpStream {
        let mut client = TcpStream::connect(addr).expect("connect");
        client.write_all(b"ping").expect("client write");
        client
    }

    /// Checks the accepted stream's flags and that bytes flow both ways (the client has
    /// sent `ping`).
    fn exchange(stream: &Stream, mut client: impl Read + Write) {
        assert!(is_cloexec(stream), "accepted stream must be close-on-exec");
        assert!(
            is_nonblocking(stream),
            "accepted stream must be non-blocking"
        );
        // Blocking again for a simple byte exchange.
        let flags = OFlag::from_bits_truncate(fcntl(stream, FcntlArg::F_GETFL).expect("F_GETFL"));
        fcntl(stream, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK)).expect("F_SETFL");
        let mut buf = [0u8; 4];
        (&*stream).read_exact(&mut buf).expect("server read");
        assert_eq!(&buf, b"ping");
        (&*stream).write_all(b"pong").expect("server write");
        client.read_exact(&mut buf).expect("client read");
        assert_eq!(&buf, b"pong");
    }

    #[test]
    fn tcp_v4_binds_and_accepts() {
        let listener = bind_one(tcp("127.0.0.1", 0), None).expect("bind");
        assert!(is_cloexec(&listener) && is_nonblocking(&listener));
        let addr = listener.local_addr().expect("tcp address");
        assert_eq!(listener.url(), format!("http://127.0.0.1:{}", addr.port()));
        assert!(matches!(listener.accept(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
        let client = connect(addr);
        let (stream, peer) = accept_soon(&listener);
        assert_eq!(peer, Peer::Tcp(client.local_addr().expect("client addr")));
        match &stream {
            // Inherited from the listener: accept does not set it.
            Stream::Tcp(s) => assert!(s.nodelay().expect("nodelay")),
            Stream::Unix(_) => panic!("expected a TCP stream"),
        }
        exchange(&stream, client);
        assert!(defer_accept_secs(&listener) >= 1);
    }

    /// The listener's TCP_DEFER_ACCEPT, in seconds (0: off).
    fn defer_accept_secs(listener: &impl AsFd) -> i32 {
        let mut secs: nix::libc::c_int = 0;
        let mut len = std::mem::size_of_val(&secs) as nix::libc::socklen_t;
        // SAFETY: secs and len are valid for writes of the sizes given.
        let rc = unsafe {
            nix::libc::getsockopt(
                listener.as_fd().as_raw_fd(),
                nix::libc::IPPROTO_TCP,
                nix::libc::TCP_DEFER_ACCEPT,
                (&raw mut secs).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
        secs
    }

    #[test]
    fn tcp_v6_binds_and_accepts() {
        let listener = match bind_one(tcp("::1", 0), None) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("skipping: IPv6 loopback unavailable: {e}");
                return;
            }
        };
        let addr = listener.local_addr().expect("tcp address");
        assert_eq!(listener.url(), format!("http://[::1]:{}", addr.port()));
        let v6only = socket::getsockopt(&listener, sockopt::Ipv6V6Only).expect("getsockopt");
        assert!(v6only);
        let client = connect(addr);
        let (stream, peer) = accept_soon(&listener);
        assert!(matches!(peer, Peer::Tcp(SocketAddr::V6(_))));
        exchange(&stream, client);
    }

    /// Accepts `count` connections made one by one to `addr`, each by whichever of
    /// `listeners` the kernel queued it on, and returns how many each accepted. Waits in
    /// poll(2), never by sleeping; a connection not queued within 5 s fails the test.
    fn accept_spread(listeners: &[&Listener], addr: SocketAddr, count: usize) -> Vec<usize> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut accepted = vec![0; listeners.len()];
        for n in 0..count {
            let client = connect(addr);
            let mut taken = false;
            // A readable listener whose accept says WouldBlock is a spurious wakeup; a few
            // rounds allow for those.
            for _ in 0..10 {
                let mut fds: Vec<PollFd<'_>> = listeners
                    .iter()
                    .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
                    .collect();
                let ready = poll(&mut fds, PollTimeout::from(5000u16)).expect("poll");
                assert!(ready > 0, "connection {n} reached no listener within 5 s");
                let readable: Vec<bool> = fds
                    .iter()
                    .map(|fd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
                    .collect();
                for (i, listener) in listeners.iter().enumerate() {
                    if !readable[i] {
                        continue;
                    }
                    match listener.accept() {
                        Ok((stream, Peer::Tcp(peer))) => {
                            assert_eq!(peer, client.local_addr().expect("client addr"));
                            exchange(&stream, &client);
                            accepted[i] += 1;
                            taken = true;
                        }
                        Ok((_, Peer::Unix)) => panic!("a Unix peer on a TCP listener"),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("accept: {e}"),
                    }
                }
                if taken {
                    break;
                }
            }
            assert!(taken, "connection {n} was never accepted");
        }
        accepted
    }

    #[test]
    fn reuse_port_is_set_only_when_asked() {
        let plain = bind_one(tcp("127.0.0.1", 0), None).expect("bind");
        assert!(!socket::getsockopt(&plain, sockopt::ReusePort).expect("getsockopt"));
        assert!(plain.reuse_port_twin(16).expect("twin").is_none());
        let mut shared =
            bind_all(&[tcp("127.0.0.1", 0)], &options(None, true)).expect("bind reuse-port");
        let shared = shared.remove(0);
        assert!(socket::getsockopt(&shared, sockopt::ReusePort).expect("getsockopt"));
        assert!(matches!(
            shared,
            Listener::Tcp {
                reuse_port: true,
                ..
            }
        ));
        // Unix sockets have no SO_REUSEPORT group to join, whatever the option says.
        let dir = TempDir::new("rsgi-l", "reuse-unix");
        let path = dir.path().join("r.sock");
        let mut unix =
            bind_all(&[BindAddr::Unix(path.clone())], &options(None, true)).expect("bind unix");
        let unix = unix.remove(0);
        assert!(unix.reuse_port_twin(16).expect("twin").is_none());
        unix.remove_socket_file();
    }

    #[test]
    fn reuse_port_twin_shares_the_port_and_its_connections() {
        let mut bound =
            bind_all(&[tcp("127.0.0.1", 0)], &options(None, true)).expect("bind reuse-port");
        let original = bound.remove(0);
        let twin = original
            .reuse_port_twin(16)
            .expect("twin")
            .expect("a reuse-port TCP listener has a twin");
        let addr = original.local_addr().expect("tcp address");
        assert_eq!(twin.local_addr(), Some(addr));
        assert_ne!(twin.as_fd().as_raw_fd(), original.as_fd().as_raw_fd());
        assert!(is_cloexec(&twin) && is_nonblocking(&twin));
        assert!(socket::getsockopt(&twin, sockopt::ReusePort).expect("getsockopt"));
        assert!(socket::getsockopt(&twin, sockopt::ReuseAddr).expect("getsockopt"));
        assert!(socket::getsockopt(&twin, sockopt::AcceptConn).expect("getsockopt"));
        assert!(socket::getsockopt(&twin, sockopt::TcpNoDelay).expect("getsockopt"));
        assert!(defer_accept_secs(&twin) >= 1);
        // The kernel hashes each new connection to one socket of the group: with 64
        // connections, both accept some (the odds of all landing on one are 2^-63).
        let accepted = accept_spread(&[&original, &twin], addr, 64);
        assert_eq!(accepted.iter().sum::<usize>(), 64);
        assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
        // A twin's twin joins the same group.
        let third = twin
            .reuse_port_twin(16)
            .expect("twin")
            .expect("twin of a twin");
        assert_eq!(third.local_addr(), Some(addr));
    }

    #[test]
    fn reuse_port_twin_of_ipv6_is_ipv6_only() {
        let original = match bind_all(&[tcp("::1", 0)], &options(None, true)) {
            Ok(mut bound) => bound.remove(0),
            Err(e) => {
                eprintln!("skipping: IPv6 loopback unavailable: {e}");
                return;
            }
        };
        let twin = original.reuse_port_twin(16).expect("twin").expect("twin");
        let addr = original.local_addr().expect("tcp address");
        assert_eq!(twin.local_addr(), Some(addr));
        assert!(socket::getsockopt(&twin, sockopt::Ipv6V6Only).expect("getsockopt"));
        let accepted = accept_spread(&[&original, &twin], addr, 4);
        assert_eq!(accepted.iter().sum::<usize>(), 4);
    }

    #[test]
    fn port_in_use_is_an_error_naming_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let err = bind_one(tcp("127.0.0.1", port), None).expect_err("port is taken");
        assert_eq!(err.addr, format!("127.0.0.1:{port}"));
        assert_eq!(err.source.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    }

    #[test]
    fn unresolvable_host_is_an_error() {
        let err = bind_one(tcp("no-such-host.invalid", 80), None).expect_err("no such host");
        assert_eq!(err.addr, "no-such-host.invalid:80");
    }

    #[test]
    fn unix_socket_binds_accepts_and_is_removed() {
        let dir = TempDir::new("rsgi-l", "unix");
        let path = dir.path().join("app.sock");
        let listener = bind_one(BindAddr::Unix(path.clone()), Some(0o600)).expect("bind");
        assert!(is_cloexec(&listener) && is_nonblocking(&listener));
        assert_eq!(listener.url(), format!("unix:{}", path.display()));
        assert_eq!(listener.local_addr(), None);
        let meta = fs::symlink_metadata(&path).expect("socket file");
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let mut client = UnixStream::connect(&path).expect("connect");
        client.write_all(b"ping").expect("client write");
        let (stream, peer) = accept_soon(&listener);
        assert_eq!(peer, Peer::Unix);
        exchange(&stream, client);
        listener.remove_socket_file();
        assert!(!path.exists());
    }

    #[test]
    fn unix_mode_is_applied() {
        let dir = TempDir::new("rsgi-l", "mode");
        let path = dir.path().join("m.sock");
        let listener = bind_one(BindAddr::Unix(path.clone()), Some(0o660)).expect("bind");
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o660);
        listener.remove_socket_file();
    }

    #[test]
    fn stale_unix_socket_is_replaced() {
        let dir = TempDir::new("rsgi-l", "stale");
        let path = dir.path().join("stale.sock");
        // A listener that went away without removing its file.
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        let listener = bind_one(BindAddr::Unix(path.clone()), None).expect("replace stale");
        let mut client = UnixStream::connect(&path).expect("connect");
        client.write_all(b"ping").expect("client write");
        let (stream, _) = accept_soon(&listener);
        exchange(&stream, client);
        listener.remove_socket_file();
    }

    #[test]
    fn live_unix_socket_is_in_use() {
        let dir = TempDir::new("rsgi-l", "live");
        let path = dir.path().join("live.sock");
        let _live = UnixListener::bind(&path).expect("bind");
        let err = bind_one(BindAddr::Unix(path.clone()), None).expect_err("in use");
        assert_eq!(err.source.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(err.addr, format!("unix:{}", path.display()));
        assert!(path.exists(), "the live socket must be left alone");
    }

    #[test]
    fn regular_file_is_never_replaced() {
        let dir = TempDir::new("rsgi-l", "file");
        let path = dir.path().join("important.txt");
        fs::write(&path, "keep me").expect("write");
        let err = bind_one(BindAddr::Unix(path.clone()), None).expect_err("not a socket");
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).expect("still there"), "keep me");
    }

    #[test]
    fn remove_socket_file_spares_a_replacement() {
        let dir = TempDir::new("rsgi-l", "replaced");
        let path = dir.path().join("r.sock");
        let listener = bind_one(BindAddr::Unix(path.clone()), None).expect("bind");
        // Someone else took the path over since we bound it.
        fs::remove_file(&path).expect("remove");
        fs::write(&path, "new owner").expect("write");
        listener.remove_socket_file();
        assert_eq!(fs::read_to_string(&path).expect("still there"), "new owner");
    }

    #[test]
    fn failure_unbinds_what_was_bound() {
        let dir = TempDir::new("rsgi-l", "rollback");
        let path = dir.path().join("first.sock");
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let binds = [BindAddr::Unix(path.clone()), tcp("127.0.0.1", port)];
        let err = bind_all(&binds, &options(None, false)).expect_err("second address is taken");
        assert_eq!(err.addr, format!("127.0.0.1:{port}"));
        assert!(
            !path.exists(),
            "the socket file created first must be removed"
        );
    }

    #[test]
    fn inherited_tcp_fd_is_adopted() {
        let original = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = original.local_addr().expect("addr");
        // Hand the descriptor over as a supervisor would; the listener now owns it.
        let fd = original.into_raw_fd();
        let listener = bind_one(BindAddr::Fd(fd), None).expect("adopt");
        assert!(matches!(
            listener,
            Listener::Tcp {
                reuse_port: false,
                ..
            }
        ));
        assert!(listener.reuse_port_twin(16).expect("twin").is_none());
        assert!(is_cloexec(&listener) && is_nonblocking(&listener));
        assert_eq!(listener.url(), format!("http://{addr}"));
        let client = connect(addr);
        // A supervisor's socket is tuned like our own.
        assert!(socket::getsockopt(&listener, sockopt::TcpNoDelay).expect("getsockopt"));
        assert!(defer_accept_secs(&listener) >= 1);
        let (stream, _) = accept_soon(&listener);
        match &stream {
            Stream::Tcp(s) => assert!(s.nodelay().expect("nodelay")),
            Stream::Unix(_) => panic!("expected a TCP stream"),
        }
        exchange(&stream, client);
    }

    #[test]
    fn inherited_unix_fd_is_adopted_and_never_removed() {
        let dir = TempDir::new("rsgi-l", "fd-unix");
        let path = dir.path().join("fd.sock");
        let fd = UnixListener::bind(&path).expect("bind").into_raw_fd();
        let listener = bind_one(BindAddr::Fd(fd), None).expect("adopt");
        assert!(matches!(listener, Listener::Unix { path: None, .. }));
        assert!(listener.reuse_port_twin(16).expect("twin").is_none());
        assert_eq!(listener.url(), format!("unix:{}", path.display()));
        let mut client = UnixStream::connect(&path).expect("connect");
        client.write_all(b"ping").expect("client write");
        let (stream, _) = accept_soon(&listener);
        exchange(&stream, client);
        listener.remove_socket_file();
        assert!(
            path.exists(),
            "a socket we did not create is not ours to remove"
        );
    }

    #[test]
    fn unsuitable_fds_are_refused_and_left_open() {
        // A socket that was never listen()ed on.
        let unlistened = new_socket(AddressFamily::Inet).expect("socket");
        let err = bind_one(BindAddr::Fd(unlistened.as_raw_fd()), None).expect_err("not listening");
        assert!(err.to_string().contains("not listening"), "{err}");
        assert!(
            fcntl(&unlistened, FcntlArg::F_GETFD).is_ok(),
            "must not be closed"
        );
        // A regular file.
        let file = fs::File::open("/proc/self/status").expect("open");
        let err = bind_one(BindAddr::Fd(file.as_raw_fd()), None).expect_err("not a socket");
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert!(
            fcntl(&file, FcntlArg::F_GETFD).is_ok(),
            "must not be closed"
        );
        // A number that is no descriptor at all (far above any descriptor limit in use).
        let err = bind_one(BindAddr::Fd(999_999), None).expect_err("not open");
        assert!(
            err.to_string().contains("not an open file descriptor"),
            "{err}"
        );
        assert_eq!(err.addr, "fd://999999");
    }

    #[test]
    fn the_same_fd_twice_is_refused() {
        let original = TcpListener::bind("127.0.0.1:0").expect("bind");
        let fd = original.as_raw_fd();
        let err = bind_all(&[BindAddr::Fd(fd), BindAddr::Fd(fd)], &options(None, false))
            .expect_err("twice");
        assert!(err.to_string().contains("twice"), "{err}");
        // The first adoption took ownership and was dropped on failure, closing the
        // descriptor; `original` must not close it again.
        std::mem::forget(original);
    }
}
