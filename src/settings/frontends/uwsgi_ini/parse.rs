//! The ini syntax as uWSGI reads it: `[section]` headers, `key = value` lines (a key alone
//! has an empty value), whole-line `;` and `#` comments, no quoting and no inline comments
//! (a value is everything after the first `=`); lines outside the section asked for are
//! skipped. Then what uWSGI does with the section's lines, top to bottom: includes
//! (`ini = FILE[:SECTION]`, `inherit`), the logic blocks (`for`/`for-readline`/`for-times`
//! ... `endfor`, `if-env`/`if-exists`/`if-file`/`if-dir`/`if-opt` and their `if-not-*`
//! ... `endif`), and each value's placeholders expanded as soon as its line is read.

use super::expand::{Scope, expand, include_target};
use crate::settings::ConfigError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The most repetitions a `for-times` block may ask for: a file must not make the server
/// build an unbounded configuration.
const MAX_FOR_TIMES: u32 = 10_000;

/// How deep includes may nest: deeper is taken for an include loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Keys whose values hold `%(name)` variables of their own (uWSGI's log variables), so one
/// that names no option is no surprise there.
const OWN_PERCENT_KEYS: &[&str] = &["log-format", "logformat"];

/// Where a line was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The section read.
    pub section: String,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} [{}]",
            self.file.display(),
            self.line,
            self.section
        )
    }
}

/// One option the section sets, placeholders expanded.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key, normalized ([`normalize_key`]).
    pub key: String,
    /// The value, trimmed and expanded.
    pub value: String,
    /// Where it was written.
    pub at: Place,
}

/// What a section sets, in order, and what reading it found worth a warning.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The options, in the order uWSGI applies them (includes expanded in place).
    pub entries: Vec<Entry>,
    /// Whole sentences (missing environment variables, unknown placeholders).
    pub warnings: Vec<String>,
    /// Keys a `%(key)` placeholder read (custom options are read this way).
    pub used: BTreeSet<String>,
}

/// A key as uWSGI compares keys: `-` and `_` alike (we keep `-`); case matters (`-t` is
/// harakiri, `-T` enable-threads).
pub fn normalize_key(key: &str) -> String {
    key.trim().replace('_', "-")
}

/// Reads `section` of the ini file at `path` (absolute). `env` serves `$(VAR)`; `cwd` is
/// what relative include, `@(FILE)` and `if-exists` paths are relative to, as in uWSGI.
pub fn read(
    path: &Path,
    section: &str,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Parsed, ConfigError> {
    let mut reader = Reader {
        env,
        cwd,
        top: path.to_owned(),
        defined: BTreeMap::new(),
        out: Parsed::default(),
        depth: 0,
    };
    reader.read_file(path, section)?;
    Ok(reader.out)
}

/// A `key = value` line of the section being read.
#[derive(Clone, Debug)]
struct Line {
    number: usize,
    key: String,
    value: String,
}

/// The lines of `section` in `text`, and the sections present (in order, once each).
fn section_lines(text: &str, section: &str) -> (Vec<Line>, Vec<String>, bool) {
    let (mut lines, mut present, mut found) = (Vec::new(), Vec::<String>::new(), false);
    let mut current: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with([';', '#']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header.strip_suffix(']').unwrap_or(header).trim().to_owned();
            found |= name == section;
            if !present.contains(&name) {
                present.push(name.clone());
            }
            current = Some(name);
            continue;
        }
        if current.as_deref() != Some(section) {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        lines.push(Line {
            number: index + 1,
            key: key.trim().to_owned(),
            value: value.trim().to_owned(),
        });
    }
    (lines, present, found)
}

/// A logic block's opening key.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Opener {
    /// `for = a b c`: each word.
    ForWords,
    /// `for-readline = FILE`: each non-empty line of the file.
    ForLines,
    /// `for-times = N`: 1 to N.
    ForTimes,
    /// `if-*` or `if-not-*` (negated) testing what [`Test`] says.
    If(Test, bool),
    /// Another `for-*` or `if-*`, which uWSGI has and we do not.
    Unsupported,
}

/// What an `if-*` block tests.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Test {
    Env,
    Exists,
    File,
    Dir,
    Opt,
}

fn opener(key: &str) -> Option<Opener> {
    let test = |name: &str| match name {
        "env" => Some(Test::Env),
        "exists" => Some(Test::Exists),
        "file" => Some(Test::File),
        "dir" => Some(Test::Dir),
        "opt" => Some(Test::Opt),
        _ => None,
    };
    Some(match key {
        "for" => Opener::ForWords,
        "for-readline" => Opener::ForLines,
        "for-times" => Opener::ForTimes,
        _ if key.starts_with("for-") => Opener::Unsupported,
        _ => {
            let rest = key.strip_prefix("if-")?;
            match rest.strip_prefix("not-") {
                Some(name) => test(name).map_or(Opener::Unsupported, |t| Opener::If(t, true)),
                None => test(rest).map_or(Opener::Unsupported, |t| Opener::If(t, false)),
            }
        }
    })
}

fn is_closer(key: &str) -> bool {
    matches!(key, "endif" | "endfor" | "end")
}

/// Reads files, keeping the options set so far for `%(key)`.
struct Reader<'a> {
    env: &'a BTreeMap<String, String>,
    cwd: &'a Path,
    top: PathBuf,
    defined: BTreeMap<String, String>,
    out: Parsed,
    depth: usize,
}

impl Reader<'_> {
    fn read_file(&mut self, path: &Path, section: &str) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: format!("cannot read it: {e}"),
        })?;
        let (lines, present, found) = section_lines(&text, section);
        if !found {
            let message = if present.is_empty() {
                format!("no [{section}] section: the file has no sections")
            } else {
                format!(
                    "no [{section}] section; the sections present are {}",
                    present
                        .iter()
                        .map(|s| format!("[{s}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ConfigError::File {
                path: path.to_owned(),
                message,
            });
        }
        self.run(path, section, &lines, None)
    }

    fn run(
        &mut self,
        file: &Path,
        section: &str,
        lines: &[Line],
        underscore: Option<&str>,
    ) -> Result<(), ConfigError> {
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            let key = normalize_key(&line.key);
            if let Some(kind) = opener(&key) {
                let end = block_end(file, lines, i)?;
                self.block((file, section), kind, line, &lines[i + 1..end], underscore)?;
                i = end + 1;
                continue;
            }
            if is_closer(&key) {
                return Err(syntax(file, line, "closes no for or if-* block"));
            }
            let value = self.expand(file, line, &key, underscore)?;
            if key == "ini" || key == "inherit" {
                let (path, section) = include_target(&value, file, self.cwd);
                if self.depth == MAX_INCLUDE_DEPTH {
                    return Err(syntax(
                        file,
                        line,
                        "includes nest too deep (an include loop?)",
                    ));
                }
                self.depth += 1;
                self.read_file(&path, &section)?;
                self.depth -= 1;
            } else {
                self.defined.insert(key.clone(), value.clone());
                self.out.entries.push(Entry {
                    key,
                    value,
                    at: Place {
                        file: file.to_owned(),
                        line: line.number,
                        section: section.to_owned(),
                    },
                });
            }
            i += 1;
        }
        Ok(())
    }

    /// Runs a logic block's `body` as its opening `line` says.
    fn block(
        &mut self,
        (file, section): (&Path, &str),
        kind: Opener,
        line: &Line,
        body: &[Line],
        underscore: Option<&str>,
    ) -> Result<(), ConfigError> {
        let key = normalize_key(&line.key);
        let value = self.expand(file, line, &key, underscore)?;
        let items: Vec<String> = match kind {
            Opener::Unsupported => {
                return Err(syntax(
                    file,
                    line,
                    "is not supported here (the logic blocks read are for, for-readline, \
                     for-times, if-env, if-exists, if-file, if-dir, if-opt and their if-not-*)",
                ));
            }
            Opener::If(test, negated) => match (self.test(test, &value), negated) {
                (Some(found), false) => vec![found],
                (None, true) => vec![value],
                _ => Vec::new(),
            },
            Opener::ForWords => value.split_whitespace().map(str::to_owned).collect(),
            Opener::ForLines => {
                let path = self.cwd.join(&value);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    syntax(file, line, &format!("cannot read {}: {e}", path.display()))
                })?;
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            Opener::ForTimes => {
                let n: u32 = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_FOR_TIMES)
                    .ok_or_else(|| {
                        syntax(
                            file,
                            line,
                            &format!("needs a whole number of times, at most {MAX_FOR_TIMES}"),
                        )
                    })?;
                (1..=n).map(|i| i.to_string()).collect()
            }
        };
        // uWSGI repeats each line of a for block for every item in turn ("applied to each
        // line separately"); a block holding another block is repeated whole.
        let nested = body
            .iter()
            .any(|l| opener(&normalize_key(&l.key)).is_some());
        if nested || matches!(kind, Opener::If(..)) {
            for item in &items {
                self.run(file, section, body, Some(item))?;
            }
        } else {
            for body_line in body {
                for item in &items {
                    self.run(file, section, std::slice::from_ref(body_line), Some(item))?;
                }
            }
        }
        Ok(())
    }

    /// An `if-*` test: `Some(what %(_) becomes)` when it holds.
    fn test(&self, test: Test, value: &str) -> Option<String> {
        let (name, wanted) = match value.split_once('=') {
            Some((name, wanted)) if matches!(test, Test::Env | Test::Opt) => (name, Some(wanted)),
            _ => (value, None),
        };
        let found = match test {
            Test::Env => self.env.get(name).cloned(),
            Test::Opt => self.defined.get(&normalize_key(name)).cloned(),
            Test::Exists => self.cwd.join(name).exists().then(|| name.to_owned()),
            Test::File => self.cwd.join(name).is_file().then(|| name.to_owned()),
            Test::Dir => self.cwd.join(name).is_dir().then(|| name.to_owned()),
        };
        found.filter(|found| wanted.is_none_or(|w| w == found))
    }

    /// `line`'s value with its placeholders expanded; what is odd about them is warned about.
    fn expand(
        &mut self,
        file: &Path,
        line: &Line,
        key: &str,
        underscore: Option<&str>,
    ) -> Result<String, ConfigError> {
        let scope = Scope {
            file,
            top: &self.top,
            defined: &self.defined,
            env: self.env,
            cwd: self.cwd,
            underscore,
        };
        let expanded = expand(&line.value, &scope).map_err(|why| syntax(file, line, &why))?;
        let at = format!("{}:{} ({})", file.display(), line.number, line.key);
        for var in &expanded.missing_env {
            self.out.warnings.push(format!(
                "{at}: $({var}) is not set in the environment; it reads as nothing, as in uWSGI"
            ));
        }
        if !OWN_PERCENT_KEYS.contains(&key) {
            for name in &expanded.unknown {
                self.out.warnings.push(format!(
                    "{at}: %({name}) names no option set before it; it is left as written, \
                     as in uWSGI"
                ));
            }
        }
        self.out.used.extend(expanded.used);
        Ok(expanded.value)
    }
}

/// The index of the line closing the block opened at `start`.
fn block_end(file: &Path, lines: &[Line], start: usize) -> Result<usize, ConfigError> {
    let mut depth = 0usize;
    for (offset, line) in lines[start + 1..].iter().enumerate() {
        let key = normalize_key(&line.key);
        if opener(&key).is_some() {
            depth += 1;
        } else if is_closer(&key) {
            if depth == 0 {
                return Ok(start + 1 + offset);
            }
            depth -= 1;
        }
    }
    let opened = &lines[start];
    let closer = if opened.key.starts_with("for") {
        "endfor"
    } else {
        "endif"
    };
    Err(syntax(
        file,
        opened,
        &format!("is not closed by an {closer}"),
    ))
}

/// A syntax error at `line` of `file`.
fn syntax(file: &Path, line: &Line, why: &str) -> ConfigError {
    ConfigError::File {
        path: file.to_owned(),
        message: format!("line {}: {} {why}", line.number, line.key),
    }
}
