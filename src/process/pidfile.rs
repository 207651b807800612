//! `--pid FILE`: the master's pid file, renamed `FILE.oldbin` during a binary upgrade.
//!
//! Written atomically (a temporary file in the same directory, renamed into place), so a
//! reader sees a whole pid or no file. Removed on exit only while it still names us: after
//! a USR2 upgrade the new master owns `FILE`, and removing it would lose its pid.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{Pid, getpid};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A pid file this process wrote; removed on drop if it still names us.
#[derive(Debug)]
pub struct PidFile {
    /// `FILE` as configured.
    path: PathBuf,
    /// Where our pid is now: `FILE`, or `FILE.oldbin` during an upgrade.
    current: PathBuf,
    /// The process that wrote it (a forked child dropping a copy must not remove it).
    owner: Pid,
}

impl PidFile {
    /// Writes our pid to `path` (atomically: a temp file renamed into place). A file that
    /// names another live process is an error; one left by a dead process is replaced.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        check_not_running(path)?;
        let pid = getpid();
        write_atomically(path, format!("{pid}\n").as_bytes())?;
        Ok(PidFile {
            path: path.to_owned(),
            current: path.to_owned(),
            owner: pid,
        })
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// USR2: moves the file to `FILE.oldbin` so the new master can write `FILE`.
    pub fn rename_to_oldbin(&mut self) -> io::Result<()> {
        let oldbin = oldbin_path(&self.path);
        if self.current == oldbin {
            return Ok(());
        }
        fs::rename(&self.path, &oldbin)?;
        self.current = oldbin;
        Ok(())
    }

    /// The new master died: moves `FILE.oldbin` back to `FILE` (replacing whatever the dead
    /// master left there).
    pub fn restore(&mut self) -> io::Result<()> {
        if self.current == self.path {
            return Ok(());
        }
        fs::rename(&self.current, &self.path)?;
        self.current = self.path.clone();
        Ok(())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if getpid() != self.owner {
            return;
        }
        if read_pid(&self.current).ok().flatten() == Some(self.owner) {
            if let Err(e) = fs::remove_file(&self.current) {
                tracing::warn!("cannot remove pid file {}: {e}", self.current.display());
            }
        }
    }
}

/// `FILE.oldbin`.
pub fn oldbin_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".oldbin");
    PathBuf::from(name)
}

/// Fails if `path` names a live process other than us: two servers must not share a pid
/// file. Our own pid counts as stale (a container restarted with the same pid 1).
pub fn check_not_running(path: &Path) -> io::Result<()> {
    match read_pid(path) {
        Ok(Some(pid)) if pid != getpid() && is_alive(pid) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("it names process {pid}, which is running (another server?)"),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The pid in the file; `Ok(None)` for a file that holds no pid (empty, garbage).
pub fn read_pid(path: &Path) -> io::Result<Option<Pid>> {
    let text = fs::read_to_string(path)?;
    Ok(text
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw))
}

fn is_alive(pid: Pid) -> bool {
    // EPERM: it exists, it is just not ours to signal.
    matches!(kill(pid, None), Ok(()) | Err(Errno::EPERM))
}

fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", getpid()));
    let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(contents)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn create_writes_our_pid_and_drop_removes_it() {
        let dir = TempDir::new("rsgi-pid", "create");
        let path = dir.path().join("app.pid");
        let pidfile = PidFile::create(&path).expect("create");
        assert_eq!(read_pid(&path).expect("read"), Some(getpid()));
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            format!("{}\n", getpid())
        );
        drop(pidfile);
        assert!(!path.exists());
    }

    #[test]
    fn stale_file_is_replaced_live_one_refused() {
        let dir = TempDir::new("rsgi-pid", "stale");
        let path = dir.path().join("app.pid");
        // A pid that cannot exist (above pid_max's ceiling).
        fs::write(&path, "99999999\n").expect("write");
        let pidfile = PidFile::create(&path).expect("stale file replaced");
        drop(pidfile);
        fs::write(&path, "garbage").expect("write");
        drop(PidFile::create(&path).expect("garbage replaced"));
        // pid 1 always exists.
        fs::write(&path, "1\n").expect("write");
        let err = PidFile::create(&path).expect_err("live pid refused");
        assert!(err.to_string().contains("process 1"), "{err}");
        assert_eq!(fs::read_to_string(&path).expect("read"), "1\n");
    }

    #[test]
    fn oldbin_rename_restore_and_foreign_file_kept() {
        let dir = TempDir::new("rsgi-pid", "oldbin");
        let path = dir.path().join("app.pid");
        let mut pidfile = PidFile::create(&path).expect("create");
        pidfile.rename_to_oldbin().expect("rename");
        assert!(!path.exists());
        assert_eq!(read_pid(&oldbin_path(&path)).expect("read"), Some(getpid()));
        // The new master writes FILE; then dies; we take FILE back.
        fs::write(&path, "99999999\n").expect("write");
        pidfile.restore().expect("restore");
        assert_eq!(read_pid(&path).expect("read"), Some(getpid()));
        assert!(!oldbin_path(&path).exists());
        // A file that no longer names us is left alone.
        fs::write(&path, "1\n").expect("write");
        drop(pidfile);
        assert!(path.exists());
    }
}
