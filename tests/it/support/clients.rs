//! Real HTTP clients run as programs.

use std::process::{Command, Output};

/// `curl` with the options every test gives it: quiet but for errors, and bounded by the
/// safety deadline.
pub fn curl_command() -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "60"]);
    cmd
}

/// Runs `curl args...`, which must succeed.
pub fn curl(args: &[&str]) -> Output {
    let out = curl_command().args(args).output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
