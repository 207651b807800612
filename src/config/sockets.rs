//! Where the server listens, and how its listening sockets are made.

use crate::proxy::allow::AllowList;
use crate::settings::{BindAddr, Protocol, group};

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
            v.each(s.bind(), |b| Protocol::split(b).1.parse())?
        },
        /// What every listener speaks unless its bind names a protocol (`--protocol`).
        pub protocol: Protocol = v.choice(
            s.protocol(),
            |p| match p.trim() {
                "http" => Some(Protocol::Http),
                "uwsgi" => Some(Protocol::Uwsgi),
                _ => None,
            },
            "http or uwsgi",
        )?,
        /// What each bind's listener speaks, in the order of `binds`: its `uwsgi://`
        /// prefix, else `protocol`.
        pub protocols: Vec<Protocol> = s
            .bind
            .iter()
            .flatten()
            .map(|b| Protocol::split(b).0.unwrap_or(protocol))
            .collect(),
        /// Peers allowed to speak the uwsgi protocol (`--uwsgi-allow-from`); clients of
        /// Unix socket listeners always are, as in gunicorn.
        pub uwsgi_allow_ips: AllowList = {
            let raw = s.uwsgi_allow_ips();
            AllowList::parse(raw.value.map_or(&[][..], Vec::as_slice))
                .map_err(|why| v.refuse(raw, &why))?
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
