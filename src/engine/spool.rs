//! Request bodies received whole before the app is called (request buffering).
//!
//! A body stays in memory up to `--body-buffer-size` and moves to an unlinked temporary file
//! in `--tmp-upload-dir` beyond it, so a large or slow upload costs a file descriptor and disk
//! space, not worker memory, and never a Python thread while it arrives.

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where spooled bodies go and when.
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    /// Bodies up to this many bytes stay in memory.
    pub memory_limit: u64,
    /// Directory for bodies beyond it.
    pub dir: PathBuf,
}

/// A body being received: in memory, then in a file once it outgrows the limit.
#[derive(Debug)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<File>,
    len: u64,
}

impl Spool {
    /// An empty body.
    pub fn new() -> Spool {
        Spool {
            memory: Vec::new(),
            file: None,
            len: 0,
        }
    }

    /// An empty body with room for `capacity` bytes in memory (the announced length, up to
    /// the memory limit), so it never reallocates while arriving.
    pub fn with_capacity(capacity: usize) -> Spool {
        Spool {
            memory: Vec::with_capacity(capacity),
            file: None,
            len: 0,
        }
    }

    /// Bytes held in memory (0 once the body is in a file).
    pub fn memory_len(&self) -> u64 {
        if self.file.is_some() {
            0
        } else {
            self.memory.capacity() as u64
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the body has moved to a file.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// Appends body bytes, moving to a file when the memory limit would be passed.
    pub fn write(&mut self, data: &[u8], config: &SpoolConfig) -> io::Result<()> {
        if self.file.is_none() && self.len + data.len() as u64 > config.memory_limit {
            self.spill(config)?;
        }
        match self.file.as_mut() {
            Some(file) => file.write_all(data)?,
            None => self.memory.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// Reads body bytes from `fd` straight into the in-memory body, at most `max` and at
    /// most its remaining capacity (the reservation made for an announced length): one
    /// read(2) of up to the whole body, and no copy through the connection's read buffer.
    /// `None` when that is not possible (the body is in a file, or has no room left).
    pub fn read_from(&mut self, fd: BorrowedFd<'_>, max: u64) -> Option<io::Result<usize>> {
        if self.file.is_some() {
            return None;
        }
        let spare = self.memory.spare_capacity_mut();
        let want = usize::try_from(max).map_or(spare.len(), |m| m.min(spare.len()));
        if want == 0 {
            return None;
        }
        // SAFETY: the pointer and length describe part of the vector's spare capacity,
        // memory it owns and nothing else references during the call; read(2) writes at
        // most `want` bytes.
        let n = unsafe { nix::libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
        if n < 0 {
            return Some(Err(io::Error::last_os_error()));
        }
        let n = n as usize;
        // SAFETY: read(2) initialised exactly the `n` bytes after the current length.
        unsafe { self.memory.set_len(self.memory.len() + n) };
        self.len += n as u64;
        Some(Ok(n))
    }

    /// The last `n` bytes received into memory.
    pub fn memory_tail(&self, n: usize) -> &[u8] {
        &self.memory[self.memory.len() - n..]
    }

    /// Moves the body received so far to a file now (a slow upload should not hold memory).
    pub fn spill(&mut self, config: &SpoolConfig) -> io::Result<()> {
        if self.file.is_none() {
            let mut file = temp_file(&config.dir)?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        Ok(())
    }

    /// The received body, for reading from the start.
    pub fn into_reader(self) -> BodyReader {
        match self.file {
            Some(file) => BodyReader::File {
                file,
                pos: 0,
                len: self.len,
            },
            None => BodyReader::Memory {
                data: self.memory,
                pos: 0,
            },
        }
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool::new()
    }
}

/// A received body, read once from the start by `wsgi.input`.
#[derive(Debug)]
pub enum BodyReader {
    /// Kept in memory.
    Memory {
        /// The body.
        data: Vec<u8>,
        /// Bytes already read.
        pos: usize,
    },
    /// Spooled to an unlinked temporary file (gone from disk once this is dropped).
    File {
        /// The file.
        file: File,
        /// Bytes already read.
        pos: u64,
        /// The body's size.
        len: u64,
    },
}

impl BodyReader {
    /// An empty body.
    pub fn empty() -> BodyReader {
        BodyReader::Memory {
            data: Vec::new(),
            pos: 0,
        }
    }

    /// Reads the next bytes into `buf`; `Ok(0)` at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BodyReader::Memory { data, pos } => {
                let n = buf.len().min(data.len() - *pos);
                buf[..n].copy_from_slice(&data[*pos..*pos + n]);
                *pos += n;
                if *pos == data.len() && !data.is_empty() {
                    // Read to the end: the app has its copy, so give the memory back now
                    // rather than when the response is done.
                    *data = Vec::new();
                    *pos = 0;
                }
                Ok(n)
            }
            BodyReader::File { file, pos, len } => {
                let want = buf
                    .len()
                    .min(usize::try_from(*len - *pos).unwrap_or(usize::MAX));
                if want == 0 {
                    return Ok(0);
                }
                let n = file.read_at(&mut buf[..want], *pos)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "spooled request body is shorter than received",
                    ));
                }
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

/// An anonymous file in `dir`: `O_TMPFILE` where the filesystem supports it, else a named
/// file unlinked at once. Either way nothing is left on disk if the worker dies.
fn temp_file(dir: &Path) -> io::Result<File> {
    let flags = OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    match nix::fcntl::open(dir, flags, Mode::from_bits_truncate(0o600)) {
        Ok(fd) => Ok(File::from(fd)),
        Err(nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::EISDIR) => {
            let template = dir.join("rsgi-body-XXXXXX");
            let (fd, path) = nix::unistd::mkstemp(&template)?;
            let _ = std::fs::remove_file(&path);
            Ok(File::from(fd))
        }
        Err(err) => Err(io::Error::new(
            io::Error::from(err).kind(),
            format!("cannot create a temporary file in {}", dir.display()),
        )),
    }
}

/// Reads a whole body (tests and small bodies).
#[cfg(test)]
fn read_all(mut reader: BodyReader) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn config(limit: u64, dir: &Path) -> SpoolConfig {
        SpoolConfig {
            memory_limit: limit,
            dir: dir.to_owned(),
        }
    }

    #[test]
    fn small_bodies_stay_in_memory() {
        let dir = TempDir::new("spool", "mem");
        let config = config(16, dir.path());
        let mut spool = Spool::new();
        spool.write(b"hello ", &config).unwrap();
        spool.write(b"world", &config).unwrap();
        assert!(!spool.on_disk());
        assert_eq!(spool.len(), 11);
        assert_eq!(read_all(spool.into_reader()), b"hello world");
    }

    #[test]
    fn large_bodies_move_to_an_unlinked_file() {
        let dir = TempDir::new("spool", "disk");
        let config = config(10, dir.path());
        let mut spool = Spool::new();
        let mut expected = Vec::new();
        for i in 0..100u8 {
            let piece = [i; 13];
            spool.write(&piece, &config).unwrap();
            expected.extend_from_slice(&piece);
        }
        assert!(spool.on_disk());
        assert_eq!(spool.len(), 1300);
        // Nothing is visible in the directory: the file is anonymous or already unlinked.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(read_all(spool.into_reader()), expected);
    }

    #[test]
    fn spill_moves_what_arrived_and_later_bytes_follow_it() {
        let dir = TempDir::new("spool", "spill");
        let config = config(1 << 20, dir.path());
        let mut spool = Spool::with_capacity(100);
        spool.write(b"early ", &config).unwrap();
        assert_eq!(spool.memory_len(), 100);
        spool.spill(&config).unwrap();
        assert!(spool.on_disk());
        assert_eq!(spool.memory_len(), 0);
        spool.write(b"late", &config).unwrap();
        assert_eq!(read_all(spool.into_reader()), b"early late");
    }

    #[test]
    fn zero_limit_spools_everything_and_empty_reads_nothing() {
        let dir = TempDir::new("spool", "zero");
        let config = config(0, dir.path());
        let mut spool = Spool::new();
        spool.write(b"x", &config).unwrap();
        assert!(spool.on_disk());
        assert_eq!(read_all(spool.into_reader()), b"x");
        assert_eq!(read_all(BodyReader::empty()), b"");
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let dir = TempDir::new("spool", "missing");
        let config = config(0, &dir.path().join("nope"));
        let err = Spool::new().write(b"x", &config).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
