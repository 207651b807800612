//! `--user`, `--group`, `--initgroups`, `--umask`: what the server runs as.
//!
//! The master drops privileges once everything that needs them exists (listening sockets,
//! the pid file, log files) and before it forks a worker or runs Python, so a server
//! started as root can listen on port 80 and yet no application code ever runs as root,
//! not even a preloaded app. The ids were resolved when the configuration was validated.

use crate::config::ProcessSettings;
use crate::listen::Listener;
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid, User, chown, getegid, geteuid, setgroups, setresgid, setresuid};
use std::ffi::CString;
use std::fmt;
use std::path::Path;

/// Why privileges could not be dropped; the server must not go on as root.
#[derive(Debug)]
pub struct DropError(String);

impl fmt::Display for DropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DropError {}

/// Applies `--umask`, if set; before anything the server creates.
pub fn apply_umask(config: &ProcessSettings) {
    if let Some(mask) = config.umask {
        umask(Mode::from_bits_truncate(mask));
    }
}

/// Gives the Unix socket files we created to `--user`/`--group`, so the server can still
/// remove them at exit and the socket mode means what the operator expects.
pub fn chown_sockets(config: &ProcessSettings, listeners: &[Listener]) -> Result<(), DropError> {
    if config.owner.user.is_none() && config.owner.group.is_none() {
        return Ok(());
    }
    for listener in listeners {
        if let Listener::Unix {
            path: Some(path), ..
        } = listener
        {
            chown(
                path.as_path(),
                config.owner.user.map(Uid::from_raw),
                config.owner.group.map(Gid::from_raw),
            )
            .map_err(|e| DropError(format!("cannot chown {} for --user: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// Gives the socket file at `path` (the control socket) to `--user`/`--group`, as
/// [`chown_sockets`] does for the listeners'.
pub fn chown_socket_files(config: &ProcessSettings, path: Option<&Path>) -> Result<(), DropError> {
    let Some(path) = path else {
        return Ok(());
    };
    if config.owner.user.is_none() && config.owner.group.is_none() {
        return Ok(());
    }
    chown(
        path,
        config.owner.user.map(Uid::from_raw),
        config.owner.group.map(Gid::from_raw),
    )
    .map_err(|e| DropError(format!("cannot chown {} for --user: {e}", path.display())))
}

/// Switches to `--group` and `--user` for good (real, effective and saved ids), and sets
/// the supplementary groups: the user's with `--initgroups`, otherwise only `--group`, so
/// no group of root's survives. Does nothing when neither is set, or when we already run
/// as them (a re-executed master after USR2, or a server started as that user).
pub fn drop_privileges(config: &ProcessSettings) -> Result<(), DropError> {
    let (uid, gid) = (
        config.owner.user.map(Uid::from_raw),
        config.owner.group.map(Gid::from_raw),
    );
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    let same_uid = uid.is_none_or(|u| u == geteuid());
    let same_gid = gid.is_none_or(|g| g == getegid());
    if same_uid && same_gid {
        return Ok(());
    }
    if !geteuid().is_root() {
        return Err(DropError(format!(
            "cannot switch to {}: only root can change user or group (running as uid {})",
            describe(config),
            geteuid()
        )));
    }
    if let Some(gid) = gid {
        let groups = if let (true, Some(uid)) = (config.initgroups, uid) {
            let user = User::from_uid(uid)
                .ok()
                .flatten()
                .ok_or_else(|| DropError(format!("--initgroups: uid {uid} has no passwd entry")))?;
            let name = CString::new(user.name.clone())
                .map_err(|_| DropError("--initgroups: the user name has a NUL byte".into()))?;
            nix::unistd::initgroups(&name, gid)
                .map_err(|e| DropError(format!("--initgroups for {}: {e}", user.name)))?;
            None
        } else {
            Some([gid])
        };
        if let Some(only) = groups {
            setgroups(&only).map_err(|e| DropError(format!("setgroups([{gid}]): {e}")))?;
        }
        // The group first: once the user is dropped, changing the group is no longer allowed.
        setresgid(gid, gid, gid).map_err(|e| DropError(format!("--group {gid}: {e}")))?;
    }
    if let Some(uid) = uid {
        setresuid(uid, uid, uid).map_err(|e| DropError(format!("--user {uid}: {e}")))?;
        // A drop that could be undone is no drop: refuse to go on if root can be regained.
        if !uid.is_root() && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok()
        {
            return Err(DropError(
                "privileges could be regained after --user".into(),
            ));
        }
    }
    tracing::info!("Running as {}", describe(config));
    Ok(())
}

/// After a drop: warns if the pid file's directory is not writable by the user we now
/// are, since the file could then be neither removed at exit nor renamed on USR2.
pub fn check_pidfile_dir(config: &ProcessSettings) {
    let (Some(path), true) = (
        &config.pid,
        config.owner.user.is_some() || config.owner.group.is_some(),
    ) else {
        return;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let flags = nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK;
    if nix::unistd::access(dir, flags).is_err() {
        tracing::warn!(
            "{} is not writable by {}: the pid file {} will be left behind at exit (and \
             cannot be renamed on USR2); give the directory to that user",
            dir.display(),
            describe(config),
            path.display()
        );
    }
}

fn describe(config: &ProcessSettings) -> String {
    match (config.owner.user, config.owner.group) {
        (Some(u), Some(g)) => format!("uid {u}, gid {g}"),
        (Some(u), None) => format!("uid {u}"),
        (None, Some(g)) => format!("gid {g}"),
        (None, None) => "the current user".to_owned(),
    }
}
