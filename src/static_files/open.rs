//! Opening a checked path beneath a mount's directory without ever leaving it and without
//! ever blocking: `openat2(RESOLVE_BENEATH)` refuses any step out of the directory
//! (absolute symlinks and symlinks to `..` included) in one system call, so there is no
//! window between a check and the open (TOCTOU); `O_NONBLOCK` makes opening a FIFO or a
//! device return at once, and `fstat` on the opened descriptor then lets only regular files
//! and directories through. With `--static-follow-symlinks` symlinks are followed wherever
//! they lead (the request path itself still cannot climb out: it has no `..`).

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat, openat2};
use nix::sys::stat::{Mode, SFlag, fstat};
use std::os::fd::OwnedFd;
use std::path::Path;

/// What a path names.
#[derive(Debug)]
pub enum Lookup {
    /// A regular file, open for reading.
    File(Opened),
    /// A directory.
    Directory,
    /// Nothing servable: missing, outside the directory, a symlink not followed, a device
    /// or FIFO, unreadable (the reason, for the debug log).
    Missing(&'static str),
}

/// An open regular file and what `fstat` said of it.
#[derive(Debug)]
pub struct Opened {
    /// The descriptor (non-blocking, close-on-exec).
    pub fd: OwnedFd,
    /// Its size when opened.
    pub len: u64,
    /// Its modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
}

/// Opens `rel` (checked by [`super::path::decode`]; empty: `dir` itself) beneath `dir`.
pub fn open_beneath(dir: &Path, rel: &str, follow_symlinks: bool) -> Lookup {
    let root = match open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return Lookup::Missing("the mapped directory cannot be opened"),
    };
    let rel = if rel.is_empty() { "." } else { rel };
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let opened = if follow_symlinks {
        openat(&root, rel, flags, Mode::empty())
    } else {
        let how = OpenHow::new()
            .flags(flags)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        match openat2(&root, rel, how) {
            // ENOSYS: a kernel before 5.6; EPERM: a seccomp profile that refuses system
            // calls it does not know (older container runtimes).
            Err(Errno::ENOSYS | Errno::EPERM) => walk_no_symlinks(&root, rel, flags),
            other => other,
        }
    };
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno::EXDEV | Errno::ELOOP) => return Lookup::Missing("a symlink out of the map"),
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Lookup::Missing("no such file"),
        Err(_) => return Lookup::Missing("the file cannot be opened"),
    };
    let Ok(stat) = fstat(&fd) else {
        return Lookup::Missing("the file cannot be examined");
    };
    let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFDIR {
        return Lookup::Directory;
    }
    if kind != SFlag::S_IFREG {
        return Lookup::Missing("not a regular file (a device, FIFO or socket)");
    }
    Lookup::File(Opened {
        fd,
        len: stat.st_size.max(0) as u64,
        mtime: (stat.st_mtime, stat.st_mtime_nsec),
    })
}

/// Before Linux 5.6 (no openat2): one component at a time, refusing every symlink.
fn walk_no_symlinks(root: &OwnedFd, rel: &str, flags: OFlag) -> nix::Result<OwnedFd> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    let last = parts.pop().unwrap_or(".");
    let mut dir: Option<OwnedFd> = None;
    for part in parts {
        let at = dir.as_ref().unwrap_or(root);
        let next = openat(
            at,
            part,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        dir = Some(next);
    }
    openat(
        dir.as_ref().unwrap_or(root),
        last,
        flags | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_beneath_the_directory_open() {
        let top = tempfile::tempdir().expect("temp dir");
        let dir = top.path().join("map");
        std::fs::create_dir_all(dir.join("sub")).expect("dirs");
        std::fs::write(dir.join("sub/a.txt"), b"hello").expect("file");
        std::fs::write(top.path().join("secret"), b"secret").expect("secret");
        std::os::unix::fs::symlink("../secret", dir.join("out")).expect("symlink");
        std::os::unix::fs::symlink(top.path().join("secret"), dir.join("abs")).expect("link");
        std::os::unix::fs::symlink("sub/a.txt", dir.join("in")).expect("symlink");
        nix::unistd::mkfifo(&dir.join("fifo"), Mode::S_IRWXU).expect("fifo");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).expect("link");
        assert!(matches!(open_beneath(&dir, "sub/a.txt", false), Lookup::File(f) if f.len == 5));
        assert!(matches!(open_beneath(&dir, "in", false), Lookup::File(_)));
        assert!(matches!(
            open_beneath(&dir, "sub", false),
            Lookup::Directory
        ));
        assert!(matches!(open_beneath(&dir, "", false), Lookup::Directory));
        for refused in ["out", "abs", "fifo", "zero", "nope", "sub/a.txt/x"] {
            assert!(
                matches!(open_beneath(&dir, refused, false), Lookup::Missing(_)),
                "{refused}"
            );
        }
        // Followed, a symlink may lead out; a device still never opens as a file.
        assert!(matches!(open_beneath(&dir, "out", true), Lookup::File(_)));
        assert!(matches!(
            open_beneath(&dir, "zero", true),
            Lookup::Missing(_)
        ));
        assert!(matches!(
            open_beneath(&dir, "fifo", true),
            Lookup::Missing(_)
        ));
    }
}
