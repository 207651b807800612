//! gunicorn settings whose features have not arrived yet: StatsD metrics (the
//! observability issue). They are
//! declared and parsed now, so their defaults are accepted wherever gunicorn's
//! configuration writes them; any other value is refused until the feature exists, rather
//! than silently doing nothing.

use crate::settings::{Check, ConfigError, Settings};

const METRICS: &str = "metrics (StatsD)";

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
    for (raw, what) in [
        (s.statsd_host(), "sending metrics to a StatsD server"),
        (s.statsd_prefix(), "a StatsD metric prefix"),
        (s.dogstatsd_tags(), "DogStatsD tags"),
    ] {
        if let Some(text) = raw.value.filter(|t| !t.trim().is_empty()) {
            return Err(not_yet(v, raw.name, text, what, METRICS));
        }
    }
    if v.flag(s.enable_backlog_metric()) {
        return Err(not_yet(
            v,
            "enable_backlog_metric",
            &true,
            "the backlog metric",
            METRICS,
        ));
    }
    Ok(())
}
