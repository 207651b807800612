//! Headless Chromium for tests: Debian's `chromium` and `chromedriver`, driven by the Selenium
//! scripts in `tests/browser/` (run with the test Python). Nothing is downloaded: the scripts
//! name the system driver.
//!
//! A script runs in its own process group with its output in files, so at the safety
//! deadline the whole tree (Python, chromedriver, Chromium) is killed, not just Python.

use super::{DEADLINE, Finished, TempDir, repo_root, test_python, without_runner_env};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and chromedriver are installed (`scripts/setup` installs them); a test
/// without them says so and passes vacuously, as the nginx tests do without nginx.
pub fn available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (scripts/setup)",
            missing.join(" and ")
        );
    }
    missing.is_empty()
}

/// A script of `tests/browser/`.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("tests/browser").join(name)
}

/// Where tests leave files for people to look at (screenshots): `target/artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`, wherever the target dir is.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("artifacts");
    fs::create_dir_all(&dir).expect("create target/artifacts");
    dir
}

/// Runs `tests/browser/NAME args...` with the test Python and waits for it (killing its
/// process group at the safety deadline). Panics if Selenium is missing from that Python.
pub fn run_script(name: &str, args: &[&std::ffi::OsStr]) -> Finished {
    let out = TempDir::new();
    let stdout = fs::File::create(out.join("stdout")).expect("stdout file");
    let stderr = fs::File::create(out.join("stderr")).expect("stderr file");
    let mut cmd = Command::new(test_python());
    without_runner_env(&mut cmd)
        .arg(script(name))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn the browser script");
    // Twice the usual deadline: the script's own waits (30 s each) fail first and say why.
    let until = Instant::now() + 2 * DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > until {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "{name} did not finish before the safety deadline:\n{}",
                fs::read_to_string(out.join("stderr")).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let run = Finished {
        status,
        stdout: fs::read_to_string(out.join("stdout")).unwrap_or_default(),
        stderr: fs::read_to_string(out.join("stderr")).unwrap_or_default(),
    };
    assert!(
        !run.stderr.contains("No module named 'selenium'"),
        "Selenium is not installed for {}: scripts/setup (requirements-dev.txt)",
        test_python().display()
    );
    run
}

/// Width and height from a PNG's header, or `None` if `bytes` is not a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((be(16), be(20)))
}
