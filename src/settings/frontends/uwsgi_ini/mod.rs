//! A uWSGI ini file: the `[uwsgi]` section (or another, `--ini FILE:SECTION`) translated
//! into our settings, as uWSGI would read it.
//!
//! * [`parse`]: the ini syntax, includes and logic blocks, in uWSGI's order;
//! * [`expand`]: the placeholders (`%(key)`, `$(ENV)`, `@(FILE)`, `%d`...);
//! * [`keys`]: the table of uWSGI options and what each means here;
//! * [`translate`] and [`log_format`]: the options turned into our settings.
//!
//! Relative paths mean what they mean to uWSGI: relative to the current directory (`%d`
//! is how an ini file says "next to me"), the application's relative to `chdir`.

mod expand;
mod keys;
mod log_format;
mod parse;
mod translate;

use super::FileLayer;
use crate::settings::{ConfigError, assignments_layer};
use parse::Parsed;
use std::collections::BTreeMap;
use std::path::Path;
use translate::Translation;

/// Reads `section` of the ini file at `path`; `env` is the process environment (for
/// `$(VAR)` placeholders); with `ignore_unsupported`, settings we cannot honour are warned
/// about instead of refused. Relative paths are relative to `cwd`, the directory the server
/// was started in (also when a reload reads the file again after the master moved to
/// `chdir`).
pub fn read(
    path: &Path,
    section: &str,
    env: &BTreeMap<String, String>,
    ignore_unsupported: bool,
    cwd: &Path,
) -> Result<FileLayer, ConfigError> {
    let path = cwd.join(path);
    let parsed = parse::read(&path, section, env, cwd)?;
    translated(&path, section, &parsed, ignore_unsupported, cwd)
        .map_err(|e| with_notes(e, &parsed.warnings))
}

/// A bad value may come from an unset `$(VAR)`: the error says so, since the warning
/// would only be logged once the server runs.
fn with_notes(err: ConfigError, warnings: &[String]) -> ConfigError {
    let notes: Vec<&str> = warnings
        .iter()
        .filter(|w| w.contains("is not set in the environment"))
        .map(String::as_str)
        .collect();
    match err {
        ConfigError::Invalid {
            option,
            value,
            allowed,
        } if !notes.is_empty() => ConfigError::Invalid {
            option,
            value,
            allowed: format!("{allowed} (note: {})", notes.join("; ")),
        },
        other => other,
    }
}

/// The layer of a parsed section.
fn translated(
    path: &Path,
    section: &str,
    parsed: &Parsed,
    ignore_unsupported: bool,
    cwd: &Path,
) -> Result<FileLayer, ConfigError> {
    let translation = translate::translate(parsed, cwd)?;
    let source = format!("{} [{section}]", path.display());
    let mut warnings = parsed.warnings.clone();
    check(
        parsed,
        &translation,
        &source,
        ignore_unsupported,
        &mut warnings,
    )?;
    // Each value alone first, so a bad one is named by its uWSGI option and line.
    for a in &translation.assignments {
        assignments_layer(&[(a.name, a.value.as_str())], &a.label)?;
    }
    let pairs: Vec<(&str, &str)> = translation
        .assignments
        .iter()
        .map(|a| (a.name, a.value.as_str()))
        .collect();
    let mut layer = assignments_layer(&pairs, &source)?;
    layer.absolutize(cwd);
    let mut labels = BTreeMap::new();
    for a in &translation.assignments {
        labels
            .entry(a.name.to_owned())
            .or_insert_with(|| a.label.clone());
    }
    Ok(FileLayer {
        layer,
        warnings,
        labels,
        inherited: Default::default(),
    })
}

/// Refuses typos, and what cannot be honoured unless `ignore_unsupported`; warns once
/// about what has no meaning here.
fn check(
    parsed: &Parsed,
    t: &Translation,
    source: &str,
    ignore_unsupported: bool,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let top = parsed.entries.first().map(|e| e.at.file.clone());
    let place = |e: &parse::Entry| match &top {
        Some(file) if *file == e.at.file => format!("line {}", e.at.line),
        _ => format!("{}:{}", e.at.file.display(), e.at.line),
    };
    if !t.unknown.is_empty() {
        let names: Vec<String> = t.unknown.iter().map(|(e, _)| e.key.clone()).collect();
        let hints: Vec<String> = t
            .unknown
            .iter()
            .map(|(e, close)| format!("{} ({}): did you mean {close}?", e.key, place(e)))
            .collect();
        return Err(ConfigError::Invalid {
            option: format!("{} (in {source})", names.join(", ")),
            value: t.unknown[0].0.value.clone(),
            allowed: format!("an option rsgi-server reads; {}", hints.join("; ")),
        });
    }
    if !t.refused.is_empty() {
        // One sentence per reason, naming every option refused for it.
        let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
        for (entry, why) in &t.refused {
            let named = format!("{} ({})", entry.key, place(entry));
            match reasons.iter_mut().find(|(w, _)| w == why) {
                Some((_, names)) => names.push(named),
                None => reasons.push((why, vec![named])),
            }
        }
        let text = reasons
            .iter()
            .map(|(why, names)| format!("{}: {why}", names.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        let mut keys: Vec<&str> = t.refused.iter().map(|(e, _)| e.key.as_str()).collect();
        keys.dedup();
        if !ignore_unsupported {
            return Err(ConfigError::Invalid {
                option: format!("{} (in {source})", keys.join(", ")),
                value: t
                    .refused
                    .iter()
                    .map(|(e, _)| format!("{} = {}", e.key, e.value))
                    .collect::<Vec<_>>()
                    .join("; "),
                allowed: format!(
                    "not supported by rsgi-server: {text}. --ini-ignore-unsupported starts \
                     without them"
                ),
            });
        }
        warnings.push(format!(
            "{source}: ignoring uWSGI options rsgi-server does not support \
             (--ini-ignore-unsupported): {text}"
        ));
    }
    if !t.ignored.is_empty() {
        let list = t
            .ignored
            .iter()
            .map(|(key, why)| format!("{key} ({why})"))
            .collect::<Vec<_>>()
            .join(", ");
        warnings.push(format!(
            "{source}: these uWSGI options have no meaning here and are ignored: {list}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
