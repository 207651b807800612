//! Process inspection and signals: `/proc` fields, open files, children, pid files, and
//! [`Reap`] for processes that are not the test's children.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::Server;

/// A field of /proc/PID/status in KiB (VmRSS, VmHWM, ...).
pub fn proc_status_kib(pid: i32, field: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            return rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .expect("kB value");
        }
    }
    panic!("{field} not in /proc/{pid}/status");
}

/// Sends `sig` to `pid`; panics if it cannot.
pub fn kill(pid: i32, sig: Signal) {
    signal::kill(Pid::from_raw(pid), sig).expect("kill");
}

/// Where the file descriptors of process `pid` point (`/proc/PID/fd/*` link targets). A
/// file that was unlinked while open ends in ` (deleted)`.
pub fn fd_links(pid: i32) -> Vec<String> {
    let dir = format!("/proc/{pid}/fd");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir}: {e}"));
    entries
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

/// Open files of `pid` that live in `dir` and were unlinked.
pub fn deleted_files_in(pid: i32, dir: &Path) -> Vec<String> {
    let dir = fs::canonicalize(dir).expect("canonicalize");
    let prefix = format!("{}/", dir.display());
    fd_links(pid)
        .into_iter()
        .filter(|l| l.starts_with(&prefix) && l.ends_with(" (deleted)"))
        .collect()
}

/// Kills a process the test did not stop itself (a daemon or a new master is not our child,
/// and a failed assertion would leave it running) when dropped, with its process group
/// (a daemon leads its own, workers included).
pub struct Reap(pub i32);

impl Drop for Reap {
    fn drop(&mut self) {
        if Server::is_alive(self.0) {
            use nix::sys::signal::{Signal, kill};
            use nix::unistd::Pid;
            let _ = kill(Pid::from_raw(-self.0), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(self.0), Signal::SIGKILL);
        }
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

/// The master's live children, by pid (from `/proc`), with their state letter.
pub fn children(master: i32) -> BTreeMap<i32, char> {
    let path = format!("/proc/{master}/task/{master}/children");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter_map(|pid: i32| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
            let state = state.chars().next()?;
            (state != 'Z').then_some((pid, state))
        })
        .collect()
}

/// The pid a pid file holds, if it exists and holds one.
pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Runs `cmd` to its end and returns its output; a failure fails the test with both streams.
pub fn run_ok(mut cmd: std::process::Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
