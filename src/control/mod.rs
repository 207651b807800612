//! The control socket (`--control-socket`): a Unix socket where the master takes commands
//! from `rsgi-server ctl` and from gunicorn's `gunicornc`, which speak the same protocol.
//!
//! * [`protocol`]: the wire format (length-prefixed JSON, gunicorn's) and the commands;
//! * [`socket`]: the socket file (mode, stale and live sockets, removal) and who may use it;
//! * [`server`]: the master's non-blocking connection state machine;
//! * [`client`]: the `ctl` command.
//!
//! What each command does is the master's business (`arbiter::control`): this module knows
//! neither workers nor signals.

pub mod client;
mod format;
pub mod protocol;
pub mod server;
pub mod socket;
