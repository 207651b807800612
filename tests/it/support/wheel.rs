//! The pip-installed server: the wheels `scripts/build-wheels --test` leaves under
//! `target/wheels/test` (scripts/test builds them first), the CPythons of this machine, and
//! fresh virtualenvs to install a wheel into.

use super::process::run_ok;
use super::{TempDir, repo_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Debian's CPython 3.11: a statically linked interpreter (its libpython is a separate
/// package, not installed).
pub const DEBIAN_PYTHON: &str = "/usr/bin/python3.11";

/// Where the test wheels are.
pub fn wheels_dir() -> PathBuf {
    repo_root().join("target/wheels/test")
}

/// pyenv's CPython `major.minor` of this machine (built with a shared libpython).
pub fn pyenv_python(version: &str) -> PathBuf {
    let versions = dirs_home().join(".pyenv/versions");
    let found = std::fs::read_dir(&versions)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.strip_prefix(version).is_some_and(|r| r.starts_with('.')))
        });
    match found {
        Some(dir) => dir.join("bin/python"),
        None => panic!("no CPython {version} under {}", versions.display()),
    }
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME"))
}

/// A command for `program` with the test runner's virtualenv, library path and Python
/// settings left out: what a user's shell would not have either.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let ks = k.to_string_lossy();
        if ks.starts_with("RSGI_")
            || ks.starts_with("PYTHON")
            || ks.starts_with("PIP_")
            || ks == "VIRTUAL_ENV"
            || ks == "LD_LIBRARY_PATH"
        {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// The wheel tag of `python`'s ABI, e.g. `cp311`.
pub fn tag(python: &Path) -> String {
    let mut cmd = clean_command(python);
    cmd.args(["-c", "import sys; print('cp%d%d' % sys.version_info[:2])"]);
    let out = run_ok(cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The files in `dir` whose names end with `suffix` (e.g. `.whl`), sorted; none if `dir`
/// cannot be read.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

/// The test file `scripts/build-wheels --test` made whose name ends with `suffix` and
/// contains `part`.
pub fn built(part: &str, suffix: &str) -> PathBuf {
    let dir = wheels_dir();
    files_ending(&dir, suffix)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(part))
        .unwrap_or_else(|| {
            panic!(
                "no *{part}*{suffix} in {}: run scripts/build-wheels --test (scripts/test does)",
                dir.display()
            )
        })
}

/// The test wheel for `python`.
pub fn wheel_for(python: &Path) -> PathBuf {
    let tag = tag(python);
    built(&format!("-{tag}-{tag}-"), ".whl")
}

/// A fresh virtualenv, removed on drop.
pub struct Venv {
    dir: TempDir,
}

impl Venv {
    /// A virtualenv made by `python`, with nothing installed.
    pub fn new(python: &Path) -> Venv {
        let dir = TempDir::new();
        let mut cmd = clean_command(python);
        cmd.args(["-m", "venv"]).arg(dir.path());
        run_ok(cmd);
        Venv { dir }
    }

    /// A virtualenv made by `python` with its wheel installed, as `pip install` would.
    pub fn with_wheel(python: &Path) -> Venv {
        let venv = Venv::new(python);
        let out = venv.pip_install(&wheel_for(python));
        assert!(out.status.success(), "pip install: {}", output_text(&out));
        venv
    }

    /// `pip install FILE` in this virtualenv, offline; returns what pip said.
    pub fn pip_install(&self, file: &Path) -> Output {
        clean_command(self.bin("python"))
            .args(["-m", "pip", "install", "--quiet", "--no-index", "--no-deps"])
            .args(["--disable-pip-version-check"])
            .arg(file)
            .output()
            .expect("run pip")
    }

    /// The virtualenv's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A program of its `bin/`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.path().join("bin").join(name)
    }

    /// Its site-packages.
    pub fn site_packages(&self) -> PathBuf {
        let lib = self.dir.path().join("lib");
        let python = std::fs::read_dir(&lib)
            .expect("lib/")
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .expect("lib/python3.X");
        python.path().join("site-packages")
    }
}

/// Both streams of a finished command, for failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
