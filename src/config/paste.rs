//! `--paste FILE[#SECTION]` and `--paste-global KEY=VALUE`: an application described by a
//! PasteDeploy ini file, loaded as gunicorn loads it (`gunicorn/app/pasterapp.py`).

use std::path::{Path, PathBuf};

/// A PasteDeploy application, as `loadapp` is called for it.
#[derive(Clone, Debug, PartialEq)]
pub struct PasteApp {
    /// What `loadapp` is given: `config:/abs/file.ini`, with `#section` if one was named.
    pub uri: String,
    /// The ini file.
    pub file: PathBuf,
    /// `global_conf`: the `--paste-global` variables, in order (a later key wins).
    pub global_conf: Vec<(String, String)>,
    /// The file has a `[loggers]` section, which gunicorn applies with
    /// `logging.config.fileConfig` (as its `--log-config`); false when another logging
    /// configuration was given.
    pub file_logging: bool,
}

impl PasteApp {
    /// The app of `value` (an absolute `FILE` or `FILE#SECTION`), checked to exist.
    pub fn new(value: &Path, global_conf: Vec<(String, String)>) -> Result<PasteApp, String> {
        let text = value.to_string_lossy();
        let file = PathBuf::from(text.split('#').next().unwrap_or_default());
        let ini = std::fs::read_to_string(&file).map_err(|err| {
            format!(
                "a PasteDeploy ini file, FILE or FILE#SECTION, but {} cannot be read ({err})",
                file.display()
            )
        })?;
        Ok(PasteApp {
            uri: format!("config:{text}"),
            file_logging: has_section(&ini, "loggers"),
            file,
            global_conf,
        })
    }
}

/// Splits a `--paste-global` value as gunicorn does: at the first `=` not preceded by a
/// backslash, then `\=` becomes `=` on both sides.
pub fn global_var(value: &str) -> Result<(String, String), String> {
    let bytes = value.as_bytes();
    let at = (0..bytes.len())
        .find(|&i| bytes[i] == b'=' && (i == 0 || bytes[i - 1] != b'\\'))
        .ok_or_else(|| "KEY=VALUE (`\\=` for a `=` in the key)".to_owned())?;
    let unescape = |s: &str| s.replace("\\=", "=");
    Ok((unescape(&value[..at]), unescape(&value[at + 1..])))
}

/// Whether an ini text has the section `name` (configparser's header syntax: `[name]` at
/// the start of a line).
fn has_section(ini: &str, name: &str) -> bool {
    ini.lines().any(|line| {
        line.strip_prefix('[')
            .and_then(|rest| rest.split_once(']'))
            .is_some_and(|(section, _)| section == name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_vars_split_like_gunicorn() {
        let split = |v| global_var(v).expect(v);
        assert_eq!(split("a=b"), ("a".into(), "b".into()));
        assert_eq!(split("a=b=c"), ("a".into(), "b=c".into()));
        assert_eq!(split(r"a\=x=y\=z"), ("a=x".into(), "y=z".into()));
        assert_eq!(split("=v"), ("".into(), "v".into()));
        assert!(global_var("novalue").is_err());
        assert!(global_var(r"only\=escaped").is_err());
    }

    #[test]
    fn the_uri_keeps_the_section_and_the_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ini = dir.path().join("app.ini");
        std::fs::write(
            &ini,
            "[app:main]\nuse = call:x:y\n\n[loggers]\nkeys = root\n",
        )
        .unwrap();
        let app = PasteApp::new(&dir.path().join("app.ini#admin"), Vec::new()).expect("reads");
        assert_eq!(app.uri, format!("config:{}#admin", ini.display()));
        assert_eq!(app.file, ini);
        assert!(app.file_logging);
        std::fs::write(&ini, "[app:main]\nuse = call:x:y\n# [loggers]\n").unwrap();
        assert!(!PasteApp::new(&ini, Vec::new()).unwrap().file_logging);
        let missing = PasteApp::new(&dir.path().join("nope.ini"), Vec::new());
        assert!(missing.expect_err("missing").contains("nope.ini"));
    }
}
