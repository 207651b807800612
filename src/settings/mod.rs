//! How settings are spelled and where they come from, not what they mean.
//!
//! * `options`: the one declaration of every option, from which come the command-line
//!   flag, the TOML key, the `RSGI_<NAME>` variable, the default and the docs
//!   ([`markdown_table`]). Values are still raw there: strings, whole numbers and booleans
//!   as the user wrote them, merged from each source into one [`Layer`] each.
//! * [`group!`]: how the module that consumes a group of settings declares the value it
//!   takes and validates it from the raw [`Settings`], with the [`Check`] kit, whose errors
//!   name the option as the user wrote it. The groups are assembled into the configuration
//!   by [`crate::config`].
//!
//! Nothing here depends on another module of the server, so every layer above may declare
//! and validate its own settings.

mod bind;
mod check;
mod docs;
mod error;
pub mod frontends;
mod macros;
mod options;
pub mod paths;
pub(crate) mod sources;
mod spelling;
mod values;

pub use bind::{BindAddr, Protocol, UWSGI_PREFIX};
pub use check::{Check, Label, Raw, Shown};
pub use docs::markdown_table;
pub use error::ConfigError;
pub(crate) use macros::group;
pub use options::{
    CONFIG_ENV, Cli, DEFAULT_ACCESS_LOG_FORMAT, DEFAULT_SECURE_SCHEME_HEADERS, ENV_PREFIX,
    Fallback, Layer, Meta, SETTINGS, Settings, VERSION,
};
pub use paths::is_file_spec;
pub use sources::{assignments_layer, clap_error, env_layer, fallback_layer};
pub use spelling::closest;

#[cfg(test)]
mod tests;
