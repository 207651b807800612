//! A uWSGI ini file: the `[uwsgi]` section (or another, `--ini FILE:SECTION`) translated
//! into our settings, as uWSGI would read it.

use super::FileLayer;
use crate::settings::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads `section` of the ini file at `path`; `env` is the process environment (for
/// `$(VAR)` placeholders); with `ignore_unsupported`, settings we cannot honour are warned
/// about instead of refused.
pub fn read(
    path: &Path,
    section: &str,
    env: &BTreeMap<String, String>,
    ignore_unsupported: bool,
) -> Result<FileLayer, ConfigError> {
    let _ = (section, env, ignore_unsupported);
    Err(ConfigError::File {
        path: path.to_owned(),
        message: "uwsgi.ini files are not read yet".to_owned(),
    })
}
