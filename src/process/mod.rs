//! The master's process housekeeping, each a small piece of Unix lore: running in the
//! background ([`daemon`]), the pid file ([`pidfile`]), dropping root ([`privileges`]),
//! what `ps` shows ([`proctitle`]), telling systemd how things stand ([`systemd`]), and
//! replacing the running binary without dropping a connection ([`upgrade`]).
//!
//! None of it knows HTTP, workers or Python; the arbiter and `main` decide when each runs.

pub mod daemon;
pub mod pidfile;
pub mod privileges;
pub mod proctitle;
pub mod systemd;
pub mod upgrade;
