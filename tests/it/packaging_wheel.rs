//! `pip install rsgi-server`: the wheels (built by `scripts/build-wheels --test` before the
//! suite runs) link no libpython; installed into a fresh virtualenv of every CPython of
//! this machine, static or shared, the venv's `rsgi-server` and `python -m rsgi_server`
//! serve from that venv (its `sys.prefix`, its packages) with no `--virtualenv`, no
//! `VIRTUAL_ENV` and no `LD_LIBRARY_PATH`; pip refuses a wheel for another Python; an
//! sdist builds where Rust is and says so where it is not. (scripts/test also runs the
//! rest of the end-to-end suite against a venv's `rsgi-server`.)

use crate::support::process::run_ok;
use crate::support::wheel::{
    DEBIAN_PYTHON, Venv, built, clean_command, files_ending, output_text, pyenv_python, wheel_for,
    wheels_dir,
};
use crate::support::*;
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};

/// An app reporting where its Python comes from, as JSON.
const WHOAMI: &str = r#"
import json, os, sys
import rsgi_venv_only

def application(environ, start_response):
    body = json.dumps({
        "prefix": os.path.realpath(sys.prefix),
        "version": "%d.%d" % sys.version_info[:2],
        "venv_only": rsgi_venv_only.WHERE,
        "virtual_env": os.environ.get("VIRTUAL_ENV"),
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
        "master": os.getppid(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"#;

/// A fresh venv of `python` with its wheel and a module only that venv has, and a
/// directory holding the [`WHOAMI`] app (`whoami`), which imports that module.
fn whoami_venv(python: &Path) -> (Venv, TempDir) {
    let venv = Venv::with_wheel(python);
    std::fs::write(
        venv.site_packages().join("rsgi_venv_only.py"),
        "WHERE = 'venv-only'\n",
    )
    .expect("write the venv-only module");
    let app = TempDir::new();
    app.write("whoami.py", WHOAMI);
    (venv, app)
}

/// Installs the wheel into a fresh venv of `python`, with a module only that venv has,
/// and checks the venv's command serves an app importing it, from the venv.
fn serves_from_its_own_venv(python: &Path) {
    let (venv, app) = whoami_venv(python);
    let venv_dir = std::fs::canonicalize(venv.path()).expect("venv path");

    for command in [
        vec![venv.bin("rsgi-server")],
        vec![venv.bin("python"), "-m".into(), "rsgi_server".into()],
    ] {
        let mut version = clean_command(&command[0]);
        version.args(&command[1..]).arg("--version");
        let text = String::from_utf8_lossy(&run_ok(version).stdout).into_owned();
        assert!(text.starts_with("rsgi-server "), "{text}");
        assert!(
            text.contains(&format!(" at {}/bin/python", venv.path().display())),
            "--version names the venv's interpreter: {text}"
        );
    }

    // Forks at startup, on a reload and with the app imported by the master: any
    // fork-with-threads warning (CPython 3.12+) would show.
    for preload in [None, Some("--preload")] {
        let mut server = server("whoami")
            .program(venv.bin("rsgi-server"))
            .no_chdir()
            .arg("--chdir")
            .arg(app.path())
            .args(preload)
            .env_remove("LD_LIBRARY_PATH")
            .env("PYTHONWARNINGS", "always")
            .workers(2)
            .start();
        let seen = json_of(&server.get("/").text());
        assert_eq!(
            seen["prefix"].as_str(),
            Some(venv_dir.to_str().expect("utf-8"))
        );
        assert_eq!(seen["venv_only"].as_str(), Some("venv-only"));
        assert!(seen["virtual_env"].is_null(), "{seen:?}");
        assert!(seen["ld_library_path"].is_null(), "{seen:?}");
        assert_eq!(seen["master"].as_i64(), Some(i64::from(server.pid())));
        server.signal(Signal::SIGHUP);
        server.wait_for_line("All 2 workers ready (generation 2)");
        assert_eq!(server.get("/").status(), 200);
        assert_eq!(server.terminate().code(), Some(0));
        let stderr = server.stderr_text();
        assert!(!stderr.contains("Warning"), "{stderr}");
        assert!(!stderr.contains("WARNING"), "{stderr}");
    }
}

#[test]
fn cpython_3_9_serves_from_its_venv() {
    serves_from_its_own_venv(&pyenv_python("3.9"));
}

#[test]
fn cpython_3_10_serves_from_its_venv() {
    serves_from_its_own_venv(&pyenv_python("3.10"));
}

#[test]
fn cpython_3_11_serves_from_its_venv() {
    serves_from_its_own_venv(&pyenv_python("3.11"));
}

#[test]
fn cpython_3_12_serves_from_its_venv() {
    serves_from_its_own_venv(&pyenv_python("3.12"));
}

#[test]
fn cpython_3_13_serves_from_its_venv() {
    serves_from_its_own_venv(&pyenv_python("3.13"));
}

/// Debian's interpreter is linked statically and its libpython is not installed: a binary
/// that links libpython could not even start with it.
#[test]
fn debians_static_cpython_serves_from_its_venv() {
    serves_from_its_own_venv(Path::new(DEBIAN_PYTHON));
}

/// Every wheel's extension module takes the C API from the interpreter that imports it.
#[test]
fn no_wheel_links_libpython() {
    let wheels = files_ending(&wheels_dir(), ".whl");
    assert!(
        wheels.len() >= 5,
        "one wheel per CPython 3.9-3.13: {wheels:?}"
    );
    for wheel in wheels {
        let unpacked = TempDir::new();
        let mut unzip = clean_command(test_python());
        unzip
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(unpacked.path());
        run_ok(unzip);
        let module = files_ending(&unpacked.join("rsgi_server"), ".so")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no extension module in {}", wheel.display()));
        let mut readelf = clean_command("readelf");
        readelf.arg("-d").arg(&module);
        let dynamic = String::from_utf8_lossy(&run_ok(readelf).stdout).into_owned();
        let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
        assert!(!needed.is_empty(), "{}: {dynamic}", module.display());
        assert!(
            needed.iter().all(|l| !l.contains("libpython")),
            "{}: {needed:?}",
            wheel.display()
        );
    }
}

/// pip's own refusal, at install time, for a wheel built for another CPython.
#[test]
fn pip_refuses_the_wheel_of_another_python() {
    let venv = Venv::new(&pyenv_python("3.12"));
    let other = wheel_for(&pyenv_python("3.11"));
    let out = venv.pip_install(&other);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a supported wheel on this platform"),
        "{}",
        output_text(&out)
    );
    assert!(!venv.bin("rsgi-server").exists());
}

/// The sdist, where no wheel fits: without Rust, the build says that Rust is what is
/// missing and where to get it (maturin alone would try to download a toolchain).
#[test]
fn the_sdist_without_rust_names_what_is_missing() {
    let out_dir = TempDir::new();
    // Only the system's directories: no ~/.cargo/bin.
    let mut pip = clean_command(test_python());
    pip.env("PATH", "/usr/bin:/bin").env_remove("CARGO");
    let out = pip_wheel_of_the_sdist(pip, out_dir.path());
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(
        text.contains("building from source needs Rust, and cargo was not found on PATH"),
        "{text}"
    );
    assert!(text.contains("https://rustup.rs"), "{text}");
}

/// The sdist builds into a working wheel where Rust is (unoptimised here, to keep the
/// suite quick: `pip install` builds an optimised one).
#[test]
fn the_sdist_builds_where_rust_is() {
    let out_dir = TempDir::new();
    let mut pip = clean_command(test_python());
    pip.env("MATURIN_PEP517_ARGS", "--profile dev")
        .env("CARGO_TARGET_DIR", repo_root().join("target"));
    let out = pip_wheel_of_the_sdist(pip, out_dir.path());
    assert!(out.status.success(), "{}", output_text(&out));
    let wheel = files_ending(out_dir.path(), ".whl")
        .into_iter()
        .next()
        .expect("a wheel built from the sdist");
    let venv = Venv::new(&test_python_base());
    let installed = venv.pip_install(&wheel);
    assert!(installed.status.success(), "{}", output_text(&installed));
    let mut version = clean_command(venv.bin("rsgi-server"));
    version.arg("--version");
    let text = String::from_utf8_lossy(&run_ok(version).stdout).into_owned();
    assert!(text.starts_with("rsgi-server "), "{text}");
}

/// USR2 re-executes what runs the master: the venv's interpreter with the console script,
/// so the new master's workers serve from the same venv.
#[test]
fn usr2_starts_the_new_master_from_the_same_venv() {
    usr2_stays_in_the_venv(|venv| vec![venv.bin("rsgi-server").into_os_string()]);
}

/// The same started as `python -m rsgi_server`: the new master is that command again.
#[test]
fn usr2_of_python_dash_m_starts_the_same_command() {
    usr2_stays_in_the_venv(|venv| {
        vec![
            venv.bin("python").into_os_string(),
            "-m".into(),
            "rsgi_server".into(),
        ]
    });
}

fn usr2_stays_in_the_venv(command: impl Fn(&Venv) -> Vec<std::ffi::OsString>) {
    let (venv, app) = whoami_venv(&pyenv_python("3.11"));
    let command = command(&venv);
    let mut server = server("whoami")
        .program_with(&command[0], &command[1..])
        .no_chdir()
        .arg("--chdir")
        .arg(app.path())
        .start();
    let old = server.pid();
    server.signal(Signal::SIGUSR2);
    let line = server.wait_for_line("started a new master (pid: ");
    let new: i32 = line
        .rsplit("(pid: ")
        .next()
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("new master's pid in {line:?}"));
    // The interpreter, not a binary (the process title hides the arguments).
    let exe = std::fs::read_link(format!("/proc/{new}/exe")).expect("the new master's exe");
    assert_eq!(
        exe,
        std::fs::canonicalize(venv.bin("python")).expect("the venv's python")
    );
    // The old master stops; the new one carries on alone.
    server.signal(Signal::SIGTERM);
    wait_until("the new master's workers to serve alone", || {
        json_of(&server.get("/").text())["master"].as_i64() == Some(i64::from(new))
    });
    let seen = json_of(&server.get("/").text());
    let venv_dir = std::fs::canonicalize(venv.path()).expect("venv path");
    assert_eq!(seen["prefix"].as_str(), venv_dir.to_str());
    assert_eq!(seen["venv_only"].as_str(), Some("venv-only"));
    assert_ne!(new, old);
    crate::support::process::kill(new, Signal::SIGTERM);
    wait_until("the new master to exit", || {
        !crate::support::process::exists(new)
    });
}

/// A JSON body, or a panic showing it.
fn json_of(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Runs `pip` (a python command) as `pip wheel` of the test sdist into `out_dir`, offline
/// and with this environment's maturin.
fn pip_wheel_of_the_sdist(mut pip: std::process::Command, out_dir: &Path) -> std::process::Output {
    pip.args([
        "-m",
        "pip",
        "wheel",
        "--no-build-isolation",
        "--no-deps",
        "--no-index",
    ])
    .args(["--disable-pip-version-check", "-w"])
    .arg(out_dir)
    .arg(built("", ".tar.gz"))
    .output()
    .expect("run pip wheel")
}

/// The CPython the project venv was made with (the one `test_python` runs).
fn test_python_base() -> PathBuf {
    let mut cmd = clean_command(test_python());
    cmd.args(["-c", "import sys; print(sys._base_executable)"]);
    PathBuf::from(String::from_utf8_lossy(&run_ok(cmd).stdout).trim())
}

/// A Python older than the package supports: pip refuses it from the index, as it would
/// from PyPI, because the metadata declares `Requires-Python`. (This machine has no CPython
/// older than 3.9, so pip is asked to install for 3.8, from a PEP 503 index of the test
/// wheels that shows each file's `Requires-Python` the way PyPI does.)
#[test]
fn pip_refuses_a_python_older_than_the_package_supports() {
    let index = TempDir::new();
    let mut make_index = clean_command(test_python());
    make_index
        .args(["-c", MAKE_INDEX])
        .arg(wheels_dir())
        .arg(index.path());
    run_ok(make_index);
    let pip_download = |python_version: &str| {
        let out_dir = TempDir::new();
        clean_command(test_python())
            .args(["-m", "pip", "download", "--no-cache-dir", "--no-deps"])
            .args([
                "--disable-pip-version-check",
                "--python-version",
                python_version,
            ])
            .arg("--index-url")
            .arg(format!("file://{}/simple/", index.path().display()))
            .arg("-d")
            .arg(out_dir.path())
            .arg("rsgi-server")
            .output()
            .expect("run pip download")
    };
    let supported = pip_download("3.13");
    assert!(supported.status.success(), "{}", output_text(&supported));
    let too_old = pip_download("3.8");
    assert!(!too_old.status.success(), "{}", output_text(&too_old));
    assert!(
        String::from_utf8_lossy(&too_old.stderr).contains("Requires-Python >=3.9"),
        "{}",
        output_text(&too_old)
    );
}

/// Writes `simple/rsgi-server/index.html` under argv[2] for the wheels and the sdist in
/// argv[1], with each file's `Requires-Python` as `data-requires-python`. (pip drops a
/// wheel for another Python by its tags before it looks at `Requires-Python`; the sdist is
/// what it would otherwise try to build.)
const MAKE_INDEX: &str = r#"
import html, pathlib, sys, tarfile, zipfile
from email.parser import Parser
dist, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]) / "simple" / "rsgi-server"
out.mkdir(parents=True)
links = []
for file in sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz")):
    if file.suffix == ".whl":
        with zipfile.ZipFile(file) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(name).decode()
    else:
        with tarfile.open(file) as t:
            name = next(n for n in t.getnames() if n.count("/") == 1 and n.endswith("/PKG-INFO"))
            text = t.extractfile(name).read().decode()
    requires = Parser().parsestr(text)["Requires-Python"]
    assert requires, f"{file.name} declares no Requires-Python"
    links.append('<a href="%s" data-requires-python="%s">%s</a>'
                 % (file.resolve().as_uri(), html.escape(requires), file.name))
(out / "index.html").write_text("<!DOCTYPE html><html><body>%s</body></html>" % "\n".join(links))
"#;
