//! `--pid FILE`: the master's pid file, renamed `FILE.oldbin` during a binary upgrade.
//!
//! STUB (issue 4 contract): does nothing until the pid file work lands.

use std::io;
use std::path::Path;

/// A pid file this process wrote; removed on drop if it still names us.
#[derive(Debug)]
pub struct PidFile {
    _private: (),
}

impl PidFile {
    /// Writes our pid to `path` (atomically: a temp file renamed into place).
    pub fn create(_path: &Path) -> io::Result<PidFile> {
        Ok(PidFile { _private: () })
    }

    /// USR2: moves the file to `FILE.oldbin` so the new master can write `FILE`.
    pub fn rename_to_oldbin(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The new master died: moves `FILE.oldbin` back to `FILE`.
    pub fn restore(&mut self) -> io::Result<()> {
        Ok(())
    }
}
