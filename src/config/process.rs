//! The master's process: who it runs as, what it is called, where its pid is written,
//! whether it leaves the terminal.

use crate::settings::{Check, ConfigError, Settings, group};
use nix::unistd::{Group, Uid, User};
use std::path::PathBuf;

/// Who the server runs as once its sockets, pid file and logs exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// The user to run as (resolved from a name at validation).
    pub user: Option<u32>,
    /// The group to run as (`--group`, else the user's primary group).
    pub group: Option<u32>,
}

group! {
    /// The master process and the identity the server runs under.
    #[derive(Clone, Debug, PartialEq)]
    pub struct ProcessSettings from (s, v) {
        /// The master's pid file.
        pub pid: Option<PathBuf> = s.pid.clone(),
        /// The user and group to run as once bound.
        pub owner: Owner = resolve_owner(s, v)?,
        /// The file mode creation mask set at startup.
        pub umask: Option<u32> = v.octal_mode(s.umask(), "027")?,
        /// Join the user's supplementary groups when dropping privileges.
        pub initgroups: bool = {
            let initgroups = v.flag(s.initgroups());
            if let (true, Some(uid)) = (initgroups, owner.user) {
                // initgroups(3) needs the user's name; refuse now rather than fail after
                // binding.
                if matches!(User::from_uid(Uid::from_raw(uid)), Ok(None)) {
                    return Err(v.invalid(
                        "initgroups",
                        &"true",
                        "a --user with a passwd entry (initgroups looks the user's groups up \
                         by name)",
                    ));
                }
            }
            initgroups
        },
        /// The name shown in process titles; `None` means the app spec.
        pub proc_name: Option<String> = match s.proc_name().value {
            Some(name) if name.is_empty() || name.contains(['\0', '\n']) => {
                return Err(v.refuse(
                    s.proc_name(),
                    "a non-empty name without NUL bytes or newlines",
                ));
            }
            other => other.cloned(),
        },
        /// Detach into the background.
        pub daemon: bool = v.flag(s.daemon()),
    }
}

/// Resolves `--user` and `--group` (names or numbers) to ids now, so a typo is a
/// configuration error before anything is bound. `--user` alone also means its primary
/// group: keeping root's group after dropping the user would be a trap.
fn resolve_owner(s: &Settings, v: &Check<'_>) -> Result<Owner, ConfigError> {
    let group = match s.group.as_deref() {
        None => None,
        Some(name) => Some(match name.trim().parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => match Group::from_name(name) {
                Ok(Some(group)) => group.gid.as_raw(),
                Ok(None) => {
                    return Err(v.refuse(s.group(), "a group name or number known here"));
                }
                Err(e) => {
                    return Err(v.refuse(
                        s.group(),
                        &format!("a group name or number (the lookup failed: {e})"),
                    ));
                }
            },
        }),
    };
    let Some(name) = s.user.as_deref() else {
        return Ok(Owner { user: None, group });
    };
    let (uid, primary) = match name.trim().parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| (uid, Some(u.gid.as_raw())))
            .unwrap_or((uid, None)),
        Err(_) => match User::from_name(name) {
            Ok(Some(u)) => (u.uid.as_raw(), Some(u.gid.as_raw())),
            Ok(None) => return Err(v.refuse(s.user(), "a user name or number known here")),
            Err(e) => {
                return Err(v.refuse(
                    s.user(),
                    &format!("a user name or number (the lookup failed: {e})"),
                ));
            }
        },
    };
    match group.or(primary) {
        Some(group) => Ok(Owner {
            user: Some(uid),
            group: Some(group),
        }),
        None => Err(v.refuse(
            s.user(),
            "a user with a passwd entry, or set --group too (a bare uid has no known group)",
        )),
    }
}
