//! The declarations and the sources' parsers, without a configuration around them.

use super::sources::layer_command;
use super::values::{BOOLEAN_WORDS, boolean};
use super::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[test]
fn every_setting_has_env_var_doc_flag_and_default() {
    let cmd = layer_command();
    for meta in SETTINGS {
        assert_eq!(
            meta.env_var(),
            format!("RSGI_{}", meta.name.to_uppercase()),
            "{}",
            meta.name
        );
        assert!(!meta.doc_paragraph().is_empty(), "{} has no doc", meta.name);
        assert!(!meta.default.is_empty(), "{} has no default doc", meta.name);
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == meta.name)
            .unwrap_or_else(|| panic!("{} is not a clap argument", meta.name));
        // Long flags are the kebab-case of the TOML key, as gunicorn spells them.
        if let Some(long) = arg.get_long() {
            assert_eq!(long, meta.name.replace('_', "-"));
        }
    }
}

#[test]
fn markdown_table_lists_every_setting() {
    let table = markdown_table();
    for meta in SETTINGS {
        assert!(table.contains(&format!("`{}`", meta.name)), "{}", meta.name);
        assert!(table.contains(&meta.env_var()), "{}", meta.name);
    }
    assert!(table.contains("`-w N`, `--workers N`"), "{table}");
    assert!(table.contains("`--config FILE`"), "{table}");
    assert!(table.contains("`--print-config`"), "{table}");
    assert!(table.contains("| `--reuse-port[=BOOL]` |"), "{table}");
    assert!(table.contains("| `--threads N` |"), "{table}");
}

#[test]
fn boolean_words() {
    for word in ["true", "True", "ON", "yes", "1", " on "] {
        assert_eq!(boolean(word), Ok(true), "{word:?}");
    }
    for word in ["false", "FALSE", "off", "No", "0"] {
        assert_eq!(boolean(word), Ok(false), "{word:?}");
    }
    for word in ["", "2", "y", "n", "enable", "truefalse", "-1"] {
        let err = boolean(word).expect_err(word);
        assert!(err.contains(BOOLEAN_WORDS), "{word:?}: {err}");
    }
}

#[test]
fn env_booleans_go_through_the_flag_parser() {
    let env = BTreeMap::from([
        ("RSGI_REUSE_PORT".to_owned(), "false".to_owned()),
        ("RSGI_REQUEST_BUFFERING".to_owned(), "Off".to_owned()),
    ]);
    let (layer, _) = env_layer(&env).expect("env layer");
    assert_eq!(layer.reuse_port, Some(false));
    assert_eq!(layer.request_buffering, Some(false));
    let layer: Layer =
        toml::from_str("reuse_port = true\nrequest_buffering = \"no\"\n").expect("toml");
    assert_eq!(layer.reuse_port, Some(true));
    assert_eq!(layer.request_buffering, Some(false));
}

#[test]
fn layers_merge_and_resolve() {
    let high = Layer {
        workers: Some(3),
        ..Layer::default()
    };
    let low = Layer {
        workers: Some(5),
        timeout: Some(9),
        ..Layer::default()
    };
    let settings = high.or(low).resolve();
    assert_eq!(settings.workers, Some(3));
    assert_eq!(settings.timeout, Some(9));
    assert_eq!(settings.keep_alive, Some(2));
    assert_eq!(settings.app, None);
}

#[test]
fn env_lists_split_on_commas() {
    let env = BTreeMap::from([
        ("RSGI_BIND".to_owned(), "a:1,b:2".to_owned()),
        ("RSGI_APP".to_owned(), "-odd:app".to_owned()),
    ]);
    let (layer, _) = env_layer(&env).expect("env layer");
    assert_eq!(layer.bind, Some(vec!["a:1".to_owned(), "b:2".to_owned()]));
    assert_eq!(layer.app.as_deref(), Some("-odd:app"));
}

#[test]
fn file_lists_accept_a_single_string() {
    let layer: Layer = toml::from_str("bind = \"x:1\"\npythonpath = \"a,b\"\n").expect("toml");
    assert_eq!(layer.bind, Some(vec!["x:1".to_owned()]));
    assert_eq!(
        layer.pythonpath,
        Some(vec![PathBuf::from("a"), PathBuf::from("b")])
    );
}

#[test]
fn octal_modes() {
    let label = |name: &str| name.to_owned();
    let v = Check::new(&label);
    let mode = |text: &str| {
        let value = text.to_owned();
        v.octal_mode(
            Raw {
                name: "umask",
                value: Some(&value),
            },
            "027",
        )
    };
    assert_eq!(mode("660").ok(), Some(Some(0o660)));
    assert_eq!(mode("0660").ok(), Some(Some(0o660)));
    assert_eq!(mode("0o600").ok(), Some(Some(0o600)));
    for bad in ["", "8", "1000", "rw", "-1", "07777"] {
        assert!(mode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_logging_dict_in_a_file_is_a_table_kept_as_json() {
    let text = "[logconfig_dict]\nversion = 1\n\
                [logconfig_dict.loggers.\"gunicorn.error\"]\nhandlers = [\"f\"]\n";
    let layer: Layer = toml::from_str(text).expect("toml");
    let json: serde_json::Value =
        serde_json::from_str(layer.logconfig_dict.as_deref().expect("set")).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({"version": 1, "loggers": {"gunicorn.error": {"handlers": ["f"]}}})
    );
    let layer: Layer = toml::from_str("logconfig_dict = '{\"version\": 1}'\n").expect("toml");
    assert_eq!(layer.logconfig_dict.as_deref(), Some("{\"version\": 1}"));
}
