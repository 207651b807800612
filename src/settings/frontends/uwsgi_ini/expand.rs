//! uWSGI's placeholders in a value, expanded as uWSGI expands them while it reads each line
//! ("top-bottom and expand asap"): `%(key)` (an option set on an earlier line, or `%(_)`
//! inside `for`/`if-*`), `$(VAR)` (the environment), `@(FILE)` (a file's contents) and the
//! magic variables of the file being read (`%d`, `%p`, `%s`, `%n`, `%c`, `%%`...).
//!
//! What uWSGI leaves alone stays as written: a `%(name)` that names no option yet (that is
//! how `log-format = %(method) %(uri)` survives the ini reader) and an unknown `%X`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a value's placeholders are expanded against.
pub struct Scope<'a> {
    /// The file being read (absolute), for the magic variables.
    pub file: &'a Path,
    /// The file named on the command line, for the upper-case magic variables (`%D`...).
    pub top: &'a Path,
    /// The options set so far, by normalized key: their last value.
    pub defined: &'a BTreeMap<String, String>,
    /// The environment, for `$(VAR)`.
    pub env: &'a BTreeMap<String, String>,
    /// The current directory, against which `@(FILE)` is read.
    pub cwd: &'a Path,
    /// `%(_)`: the item of a `for`, or what an `if-*` tested.
    pub underscore: Option<&'a str>,
}

/// An expanded value, and what the expansion found worth noting.
#[derive(Debug, Default, PartialEq)]
pub struct Expanded {
    /// The value.
    pub value: String,
    /// `%(name)`s that named no option and were left as written.
    pub unknown: Vec<String>,
    /// `$(VAR)`s that are not set (expanded to nothing, as uWSGI does).
    pub missing_env: Vec<String>,
    /// Options a `%(name)` read.
    pub used: Vec<String>,
}

/// Expands `value`; `Err` says what is wrong (an unreadable `@(FILE)`, an unclosed
/// placeholder).
pub fn expand(value: &str, scope: &Scope<'_>) -> Result<Expanded, String> {
    let mut out = Expanded::default();
    let mut rest = value;
    while let Some(at) = rest.find(['%', '$', '@']) {
        out.value.push_str(&rest[..at]);
        let sigil = rest.as_bytes()[at];
        let after = &rest[at + 1..];
        if let Some(inner) = after.strip_prefix('(') {
            let close = inner
                .find(')')
                .ok_or_else(|| format!("{}( is not closed by )", sigil as char))?;
            let name = &inner[..close];
            rest = &inner[close + 1..];
            match sigil {
                b'%' => option(name, scope, &mut out),
                b'$' => match scope.env.get(name) {
                    Some(v) => out.value.push_str(v),
                    None => out.missing_env.push(name.to_owned()),
                },
                _ => out.value.push_str(&file_contents(name, scope.cwd)?),
            }
        } else if sigil == b'%' {
            let mut chars = after.chars();
            match chars.next().and_then(|c| magic(c, scope)) {
                Some(text) => {
                    out.value.push_str(&text);
                    rest = chars.as_str();
                }
                None => {
                    out.value.push('%');
                    rest = after;
                }
            }
        } else {
            out.value.push(sigil as char);
            rest = after;
        }
    }
    out.value.push_str(rest);
    Ok(out)
}

/// `%(name)`: the loop's or condition's value, an option set earlier, or left as written.
fn option(name: &str, scope: &Scope<'_>, out: &mut Expanded) {
    let key = super::parse::normalize_key(name);
    if let (Some(underscore), "_") = (scope.underscore, name) {
        out.value.push_str(underscore);
    } else if let Some(value) = scope.defined.get(&key) {
        out.value.push_str(value);
        out.used.push(key);
    } else {
        out.value.push_str(&format!("%({name})"));
        out.unknown.push(name.to_owned());
    }
}

/// `@(FILE)`: the file's contents, surrounding whitespace trimmed.
fn file_contents(name: &str, cwd: &Path) -> Result<String, String> {
    if let Some((scheme, _)) = name.split_once("://") {
        if scheme != "file" {
            return Err(format!(
                "@({name}): only files can be read here (not {scheme}://)"
            ));
        }
    }
    let path = cwd.join(name.strip_prefix("file://").unwrap_or(name));
    std::fs::read_to_string(&path)
        .map(|text| text.trim().to_owned())
        .map_err(|e| format!("@({name}): cannot read {}: {e}", path.display()))
}

/// A magic variable of the file being read (upper case: of the file named on the command
/// line), `None` for one uWSGI does not define here (left as written, as uWSGI leaves it).
fn magic(c: char, scope: &Scope<'_>) -> Option<String> {
    let file = if c.is_ascii_uppercase() {
        scope.top
    } else {
        scope.file
    };
    let dir = file.parent().unwrap_or(Path::new("/"));
    let text = |s: Option<&std::ffi::OsStr>| s.map(|n| n.to_string_lossy().into_owned());
    Some(match c {
        '%' => "%".to_owned(),
        'd' | 'D' => format!("{}/", dir.display()).replace("//", "/"),
        'p' | 'P' | 'o' | 'O' => file.display().to_string(),
        's' | 'S' => text(file.file_name()).unwrap_or_default(),
        'n' | 'N' => text(file.file_stem()).unwrap_or_default(),
        'e' | 'E' => text(file.extension()).unwrap_or_default(),
        'c' | 'C' => text(dir.file_name()).unwrap_or_default(),
        'h' => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()?
            .trim()
            .to_owned(),
        'k' => std::thread::available_parallelism()
            .map_or(1, usize::from)
            .to_string(),
        'u' => nix::unistd::getuid().to_string(),
        'g' => nix::unistd::getgid().to_string(),
        'U' => {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()??
                .name
        }
        'G' => {
            nix::unistd::Group::from_gid(nix::unistd::getgid())
                .ok()??
                .name
        }
        't' => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string(),
        _ => return None,
    })
}

/// The file an `ini = PATH[:SECTION]` include names, and its section (`uwsgi` unless
/// named; an empty path is the file being read, as in uWSGI's `ini = :other`).
pub fn include_target(value: &str, current: &Path, cwd: &Path) -> (PathBuf, String) {
    let (path, section) = match value.rsplit_once(':') {
        Some((path, section)) if !section.is_empty() && !section.contains('/') => (path, section),
        _ => (value, "uwsgi"),
    };
    let path = if path.is_empty() {
        current.to_owned()
    } else {
        cwd.join(path)
    };
    (path, section.to_owned())
}
