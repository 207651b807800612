//! Loading and validating configurations from every source, as users write them.

mod groups;
mod sources;
mod values;

use super::*;
use crate::logging::{LogFormat, LogLevel, LogTarget};
use crate::settings::Layer;
use crate::test_support::TempDir;
use crate::tls::{CertReqs, TlsVersion};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn args(list: &[&str]) -> Vec<OsString> {
    std::iter::once("rsgi-server")
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect()
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(list: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Config {
    match load(args(list), &env(vars), cwd) {
        Ok(Invocation::Run(config)) => config,
        other => panic!("expected Run for {list:?}, got {other:?}"),
    }
}

/// Asserts the load fails with `Invalid` naming `option` and `value`.
fn assert_invalid(list: &[&str], vars: &[(&str, &str)], cwd: &Path, option: &str, value: &str) {
    match load(args(list), &env(vars), cwd) {
        Err(ConfigError::Invalid {
            option: o,
            value: v,
            allowed,
        }) => {
            assert!(
                o.contains(option),
                "{list:?} {vars:?}: option {o:?}, want {option:?}"
            );
            assert!(
                v.contains(value),
                "{list:?} {vars:?}: value {v:?}, want {value:?}"
            );
            assert!(!allowed.is_empty());
        }
        other => panic!("{list:?} {vars:?}: expected Invalid, got {other:?}"),
    }
}
