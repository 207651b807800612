//! Where the server listens, and how its listening sockets are made.

use crate::settings::{BindAddr, group};

group! {
    /// The listening sockets. `binds_explicit`: the addresses were configured (command
    /// line, environment, file or `PORT`) rather than the built-in default.
    #[derive(Clone, Debug, PartialEq)]
    pub struct SocketSettings from (s, v, binds_explicit: bool) {
        /// Where to listen, in order.
        pub binds: Vec<BindAddr> = {
            if s.bind.as_ref().is_none_or(Vec::is_empty) {
                return Err(v.invalid("bind", &"[]", "at least one address"));
            }
            v.each(s.bind(), |b| b.parse())?
        },
        /// Whether `binds` was configured rather than the default: decides what systemd's
        /// inherited sockets serve.
        pub binds_explicit: bool = binds_explicit,
        /// listen(2) backlog.
        pub backlog: i32 = v.number(s.backlog(), 1..=65535)?,
        /// SO_REUSEPORT on TCP listeners, plus a listener of its own per worker and address.
        pub reuse_port: bool = v.flag(s.reuse_port()),
        /// Permission bits applied to Unix sockets we create; `None` leaves the umask's
        /// choice.
        pub unix_socket_mode: Option<u32> = v.octal_mode(s.unix_socket_mode(), "660")?,
    }
}
