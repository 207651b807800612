//! Helpers shared by the process-hygiene and systemd tests (`tests/hygiene_*.rs`,
//! `tests/systemd_*.rs`): process inspection, condition polling, free ports, and the
//! wrapper that lets an unprivileged user reach the embedded Python.
#![allow(dead_code)]

use crate::common::{Builder, Conn, DEADLINE, Json, request, server_bin};
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The tests that change users need root (they do run as root here and in CI).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Polls `cond` (a process state, a file) until it holds; panics with `what` at the
/// safety deadline. Used only for conditions that have no event to wait on.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// A field of /proc/PID/status as text ("Uid", "Gid", "Groups", "PPid", "State").
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')
            .map(|v| v.trim().to_owned())
    })
}

/// Whether `pid` exists at all (zombies included).
pub fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// /proc/PID/cmdline with trailing NULs removed and the others shown as spaces.
pub fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw);
    text.trim_end_matches('\0').replace('\0', " ")
}

/// /proc/PID/comm.
pub fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// Every process whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if status_field(child, "PPid").and_then(|p| p.parse().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
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

/// GET `target` over TCP (`Connection: close`) and parse the JSON body.
pub fn get_json(addr: SocketAddr, target: &str) -> Json {
    let mut c = Conn::tcp(addr);
    c.send(&request("GET", target, &[("Connection", "close")], b""));
    let r = c.read_response();
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json()
}

/// GET `target` over a Unix socket and parse the JSON body.
pub fn get_json_unix(path: &Path, target: &str) -> Json {
    let mut c = Conn::unix(path);
    c.send(&request("GET", target, &[("Connection", "close")], b""));
    let r = c.read_response();
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json()
}

/// The embedded Python's installation prefix, from `rsgi-server --version`.
fn embedded_python() -> String {
    let out = Command::new(server_bin())
        .arg("--version")
        .output()
        .expect("rsgi-server --version");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = text.rfind(" at ").expect("'at PATH' in --version") + 4;
    text[at..].trim().trim_end_matches(')').to_owned()
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
