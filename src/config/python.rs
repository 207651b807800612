//! The application and the interpreter it runs in.

use super::paste::{self, PasteApp};
use crate::settings::{ConfigError, group, is_file_spec};
use std::path::{Path, PathBuf};

group! {
    /// The application, where it is imported from, and how Python runs it. `require_app`:
    /// the application must be named (it need not be for `--print-config`).
    #[derive(Clone, Debug, PartialEq)]
    pub struct PythonSettings from (s, v, require_app: bool) {
        /// `--paste`: the app is a PasteDeploy ini file's, loaded with its global config.
        pub paste: Option<PasteApp> = match s.paste().value {
            Some(file) => {
                let global_conf = v.each(s.paste_global(), paste::global_var)?;
                let mut app =
                    PasteApp::new(file, global_conf).map_err(|why| v.refuse(s.paste(), &why))?;
                // As in gunicorn, the ini's [loggers] are the default log configuration; an
                // explicit one replaces them.
                if s.logconfig.is_some() || s.logconfig_dict.is_some() || s.logconfig_json.is_some()
                {
                    app.file_logging = false;
                }
                Some(app)
            }
            None => None,
        },
        /// The application, `module:expression` (default expression `application`); with
        /// `--paste`, the ini file (what process titles show, as gunicorn's default
        /// `proc_name`); empty only when none was required.
        pub app: String = match (s.app().value, &paste) {
            (Some(_), Some(_)) => {
                return Err(v.refuse(
                    s.app(),
                    "no APP with --paste, which names the application already: give one or \
                     the other",
                ));
            }
            (None, Some(paste)) => paste.file.display().to_string(),
            (Some(app), None) => {
                check_app(app).map_err(|allowed| v.refuse(s.app(), &allowed))?
            }
            (None, None) if require_app => {
                return Err(ConfigError::Missing(
                    "the application to serve (APP, e.g. myproject.wsgi:application, or \
                     --paste FILE.ini)",
                ));
            }
            (None, None) => String::new(),
        },
        /// Directory to change to before loading the app.
        pub chdir: Option<PathBuf> = v.existing_dir(s.chdir())?,
        /// Directories prepended to `sys.path`.
        pub pythonpath: Vec<PathBuf> = s
            .pythonpath
            .iter()
            .flatten()
            .filter(|p| !p.as_os_str().is_empty())
            .cloned()
            .collect(),
        /// Environment variables set in the workers' process environment (not in `environ`).
        pub env: Vec<(String, String)> = v.each(s.env(), check_env)?,
        /// `SCRIPT_NAME` prefix the app is mounted at ("" or "/prefix", no trailing slash).
        pub root_path: String = {
            let root = s.root_path.clone().unwrap_or_default();
            if !(root.is_empty() || (root.starts_with('/') && !root.ends_with('/'))) {
                return Err(v.refuse(
                    s.root_path(),
                    "empty, or a path starting with '/' and not ending with '/' (e.g. /app)",
                ));
            }
            root
        },
        /// Virtual environment whose packages the app imports (from `--virtualenv` or
        /// `$VIRTUAL_ENV`), checked to exist and hold `pyvenv.cfg`.
        pub virtualenv: Option<PathBuf> = match s.virtualenv().value {
            Some(dir) if !dir.is_dir() => {
                return Err(v.refuse(
                    s.virtualenv(),
                    "an existing virtual environment directory (containing pyvenv.cfg)",
                ));
            }
            Some(dir) if !dir.join("pyvenv.cfg").is_file() => {
                return Err(v.refuse(
                    s.virtualenv(),
                    "a virtual environment directory, but it has no pyvenv.cfg",
                ));
            }
            other => other.cloned(),
        },
        /// Import the app in the master before forking (copy-on-write sharing).
        pub preload: bool = v.flag(s.preload()),
        /// Gunicorn-style server hooks: a dotted module name or an absolute `.py` path.
        pub hooks: Option<String> = match s.hooks().value.filter(|h| !h.is_empty()) {
            Some(h) if is_file_spec(h) && !Path::new(h).is_file() => {
                return Err(v.refuse(
                    s.hooks(),
                    "an existing .py file or a dotted module name (e.g. myproj.hooks)",
                ));
            }
            Some(h) if !is_file_spec(h) && !is_dotted_name(h) => {
                return Err(v.refuse(
                    s.hooks(),
                    "a dotted module name (e.g. myproj.hooks) or a path to a .py file",
                ));
            }
            other => other.cloned(),
        },
        /// Restart workers when the app's Python files (or `reload_extra_files`) change.
        pub reload: bool = v.flag(s.reload()),
        /// Further files watched under `reload`.
        pub reload_extra_files: Vec<PathBuf> = s.reload_extra_files.clone().unwrap_or_default(),
        /// How `reload` notices changes.
        pub reload_engine: ReloadEngine = v.choice(
            s.reload_engine(),
            |text| match text.trim() {
                "auto" => Some(ReloadEngine::Auto),
                "poll" => Some(ReloadEngine::Poll),
                "inotify" => Some(ReloadEngine::Inotify),
                _ => None,
            },
            "auto, poll or inotify",
        )?,
        /// Trace every executed line of Python to standard output (`--spew`).
        pub spew: bool = v.flag(s.spew()),
    }
}

/// How `--reload` notices that a file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadEngine {
    /// inotify where it can be used, else polling.
    Auto,
    /// Look at every watched file once a second.
    Poll,
    /// Woken by inotify when a watched file changes.
    Inotify,
}

/// A dotted Python module name: `a`, `a.b_c`.
fn is_dotted_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Checks `module:callable` and fills in the default callable.
fn check_app(app: &str) -> Result<String, String> {
    let (module, callable) = app.split_once(':').unwrap_or((app, "application"));
    if !is_dotted_name(module) {
        return Err(
            "module:callable with a dotted module name, e.g. myproject.wsgi:application".to_owned(),
        );
    }
    if callable.trim().is_empty() {
        return Err("a callable after ':', e.g. myproject.wsgi:application".to_owned());
    }
    Ok(format!("{module}:{callable}"))
}

/// Splits `KEY=VALUE`; the key must be non-empty and neither part may hold a NUL byte
/// (the kernel could not pass it on).
fn check_env(kv: &str) -> Result<(String, String), String> {
    match kv.split_once('=') {
        Some((key, value)) if !key.is_empty() && !kv.contains('\0') => {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err("KEY=VALUE with a non-empty KEY".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_forms() {
        assert_eq!(check_app("a.b:app").as_deref(), Ok("a.b:app"));
        assert_eq!(check_app("a.b").as_deref(), Ok("a.b:application"));
        assert_eq!(check_app("a:create_app()").as_deref(), Ok("a:create_app()"));
        for bad in ["", ":app", "a..b:app", "a b:app", "a:", "1a:app"] {
            assert!(check_app(bad).is_err(), "{bad:?}");
        }
    }
}
