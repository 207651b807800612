//! The embedded interpreter inside a virtualenv: --virtualenv DIR and $VIRTUAL_ENV must
//! make the venv's site-packages importable and sys.prefix the venv.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Creates a venv without pip (fast, offline) and drops `rsgi_venv_probe.py` into its
/// site-packages. Returns (venv dir, site-packages dir).
fn make_venv(dir: &TempDir) -> (PathBuf, PathBuf) {
    let venv = dir.join("venv");
    let out = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .expect("python3 -m venv");
    assert!(out.status.success(), "{out:?}");
    let site = find_site_packages(&venv);
    std::fs::write(
        site.join("rsgi_venv_probe.py"),
        "VALUE = 'imported from the venv'\n",
    )
    .unwrap();
    (venv, site)
}

fn find_site_packages(venv: &Path) -> PathBuf {
    for entry in std::fs::read_dir(venv.join("lib")).unwrap() {
        let p = entry.unwrap().path().join("site-packages");
        if p.is_dir() {
            return p;
        }
    }
    panic!("no site-packages under {}", venv.display());
}

fn same_dir(a: &str, b: &Path) -> bool {
    std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
}

fn check_venv_report(report: &Json, venv: &Path) {
    assert_eq!(
        report["values"]["rsgi_venv_probe"].as_str(),
        Some("imported from the venv"),
        "{report:?}"
    );
    let prefix = report["prefix"].as_str().unwrap();
    assert!(
        same_dir(prefix, venv),
        "sys.prefix {prefix} is not the venv"
    );
    // base_prefix is the real installation, not the venv.
    let base = report["base_prefix"].as_str().unwrap();
    assert!(
        !same_dir(base, venv),
        "sys.base_prefix {base} should not be the venv"
    );
}

#[test]
fn virtualenv_option_makes_venv_packages_importable() {
    let dir = TempDir::new();
    let (venv, _) = make_venv(&dir);
    let server = server("cases.introspect")
        .arg("--virtualenv")
        .arg(&venv)
        .start();
    let report = server.get("/?import=rsgi_venv_probe").json();
    check_venv_report(&report, &venv);
}

#[test]
fn virtual_env_variable_is_honoured() {
    let dir = TempDir::new();
    let (venv, _) = make_venv(&dir);
    let server = server("cases.introspect").env("VIRTUAL_ENV", &venv).start();
    let report = server.get("/?import=rsgi_venv_probe").json();
    check_venv_report(&report, &venv);
}

#[test]
fn without_a_venv_its_packages_are_not_importable() {
    // The control for the two tests above: the probe module is only in the venv.
    let server = server("cases.introspect").start();
    let report = server.get("/?import=rsgi_venv_probe").json();
    assert!(
        report["import_errors"]["rsgi_venv_probe"]
            .as_str()
            .is_some_and(|e| e.contains("ModuleNotFoundError")),
        "{report:?}"
    );
}

#[test]
fn virtualenv_is_checked_by_check_config() {
    let dir = TempDir::new();
    let (venv, site) = make_venv(&dir);
    // An app that only exists inside the venv can be checked and served.
    std::fs::write(
        site.join("rsgi_venv_app.py"),
        "def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'venv app']\n",
    )
    .unwrap();
    let run = server("rsgi_venv_app")
        .arg("--virtualenv")
        .arg(&venv)
        .arg("--check-config")
        .run();
    assert_eq!(run.code(), Some(0), "{run:?}");
    let server = server("rsgi_venv_app")
        .arg("--virtualenv")
        .arg(&venv)
        .start();
    assert_eq!(server.get("/").text(), "venv app");
}

#[test]
fn directory_without_pyvenv_cfg_is_not_a_virtualenv() {
    let dir = TempDir::new();
    let run = server("hello").arg("--virtualenv").arg(dir.path()).run();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert!(run.all_output().contains("virtualenv"), "{run:?}");
}

#[test]
fn stdlib_and_sys_prefix_without_a_venv() {
    // The embedded interpreter finds its own standard library (json, zlib are imported by
    // the app) and reports a real prefix, not the server binary's directory.
    let server = server("cases.introspect").start();
    let report = server.get("/?import=json").json();
    let prefix = report["prefix"].as_str().unwrap();
    assert!(
        Path::new(prefix).join("lib").is_dir(),
        "sys.prefix {prefix}"
    );
    assert!(report["imported"]["json"].as_str().is_some(), "{report:?}");
}
