//! gunicorn's `--log-config` (a `fileConfig` ini), `logconfig_dict` (a `dictConfig`
//! dictionary, here as JSON) and `--log-config-json` (the same in a file), honoured by
//! translation: gunicorn hands them to Python's `logging` for its `gunicorn.error` and
//! `gunicorn.access` loggers; our logs are written in Rust, so the configuration is read
//! here ([`ini`], [`model`]), the handlers those two loggers end up with are found
//! ([`resolve`]), and each becomes an output of our logs ([`Routes`]). What cannot be
//! honoured is an error naming it, before anything is bound.
//!
//! The application's own Python loggers are not configured by it (gunicorn's process
//! would configure them too, as a side effect): configure them in the application.

mod ini;
mod literal;
mod model;
mod resolve;

use super::LogLevel;
use super::route::Routes;
use std::path::Path;

/// Where the configuration comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// `--log-config FILE`: a fileConfig ini.
    Ini(&'a Path),
    /// `--log-config-dict JSON`: a dictConfig dictionary.
    Dict(&'a str),
    /// `--log-config-json FILE`: a dictConfig dictionary in a JSON file.
    JsonFile(&'a Path),
}

/// The routes once the configuration is applied over gunicorn's own (`base`, from its
/// settings, with `level` its `--log-level`); the error says what cannot be honoured.
pub fn translate(source: Source<'_>, base: &Routes, level: LogLevel) -> Result<Routes, String> {
    let config = match source {
        Source::Ini(path) => ini::read(&read(path)?, path)?,
        Source::Dict(text) => model::from_dict_json(text)?,
        Source::JsonFile(path) => model::from_dict_json(&read(path)?)?,
    };
    resolve::resolve(&config, base, level)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))
}

#[cfg(test)]
mod tests;
