//! Helpers for the process-hygiene, systemd and privilege tests: root, free ports, and the
//! wrapper that lets an unprivileged user reach the embedded Python.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use super::{Builder, server_bin};

/// The tests that change users need root (they do run as root here and in CI).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A TCP port nobody listens on right now (the kernel's pick, released for the caller).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A free port below 1024, which only root may bind, from `start` up (tests running in
/// parallel pass different starts so they do not pick the same one).
pub fn free_privileged_port(start: u16) -> u16 {
    (start..1024)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

/// Where the server's Python installation is (its `sys.base_prefix`: for a virtualenv's
/// interpreter, the installation the venv was made from), from the interpreter
/// `rsgi-server --version` names.
fn embedded_python() -> String {
    let out = Command::new(server_bin())
        .arg("--version")
        .output()
        .expect("rsgi-server --version");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = text.rfind(" at ").expect("'at PATH' in --version") + 4;
    let python = text[at..].trim().trim_end_matches(')');
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .expect("the server's python");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A wrapper (`unshare --mount ... sh -c SCRIPT sh`) under which users other than root can
/// reach the embedded Python, or `None` if they already can. Needed where Python lives in
/// a home directory only root may enter (pyenv in `/root`): in a private mount namespace,
/// that directory is covered with an empty world-readable tmpfs into which the Python
/// tree is mounted back. Nothing outside the namespace changes.
pub fn python_for_everyone() -> Option<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let python = embedded_python();
    let mut closed = None;
    for dir in Path::new(&python)
        .ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let mode = fs::metadata(dir)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o755);
        if mode & 0o001 == 0 {
            closed = Some(dir.to_owned());
            break;
        }
    }
    let closed = closed?;
    let inner = Path::new(&python)
        .strip_prefix(&closed)
        .ok()?
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let closed = closed.display().to_string();
    let script = format!(
        "set -e; d=$(mktemp -d); mount --bind '{closed}/{inner}' \"$d\"; \
         mount -t tmpfs -o mode=0755 tmpfs '{closed}'; mkdir '{closed}/{inner}'; \
         mount --move \"$d\" '{closed}/{inner}'; rmdir \"$d\"; exec \"$@\""
    );
    Some(
        [
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
}

/// Adds the `python_for_everyone` wrapper to a builder when one is needed.
pub fn with_python_for_everyone(b: Builder) -> Builder {
    match python_for_everyone() {
        Some(args) => b.wrapper("unshare", args),
        None => b,
    }
}
