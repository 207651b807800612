//! Listen addresses as the user writes them: `HOST:PORT`, `[V6]:PORT`, `unix:PATH`, `fd://N`.

use std::path::PathBuf;

/// One address to listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindAddr {
    /// A TCP host (name, IPv4 or IPv6 literal without brackets) and port.
    Tcp {
        /// Host as written, brackets removed.
        host: String,
        /// Port; 0 asks the kernel for a free one.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// An already-open listening socket inherited from the parent (systemd, a supervisor).
    Fd(i32),
}
