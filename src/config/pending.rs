//! gunicorn settings whose features have not arrived yet: the control socket (the
//! observability issue). They are
//! declared and parsed now, so their defaults are accepted wherever gunicorn's
//! configuration writes them; any other value is refused until the feature exists, rather
//! than silently doing nothing.

use crate::settings::{Check, ConfigError, Settings};

const CONTROL: &str = "the control socket";

/// The error for a setting given a value its feature would act on.
fn not_yet(
    v: &Check<'_>,
    name: &str,
    value: &dyn std::fmt::Display,
    what: &str,
    with: &str,
) -> ConfigError {
    v.invalid(
        name,
        value,
        &format!("not yet supported: {what} arrives with {with}"),
    )
}

/// Refuses every value of these settings but their defaults.
pub fn check(s: &Settings, v: &Check<'_>) -> Result<(), ConfigError> {
    if !v.flag(s.control_socket_disable()) {
        if let Some(path) = s.control_socket().value {
            return Err(not_yet(
                v,
                "control_socket",
                &path.display(),
                "a control socket",
                CONTROL,
            ));
        }
        let mode = v.octal_mode(s.control_socket_mode(), "600")?;
        if mode.is_some_and(|m| m != 0o600) {
            let text = s.control_socket_mode.clone().unwrap_or_default();
            return Err(not_yet(
                v,
                "control_socket_mode",
                &text,
                "a control socket mode",
                CONTROL,
            ));
        }
    }
    Ok(())
}
