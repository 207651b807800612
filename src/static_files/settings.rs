//! The static-file and offload settings, validated into what the engine serves with.

use super::CacheControl;
use super::map::{self, Mount, Mounts};
use super::{Offload, Statics};
use crate::settings::{Check, ConfigError, Settings, group};
use std::path::PathBuf;
use std::sync::Arc;

group! {
    /// Files the engine serves without Python: `--static-map` and the offload of files an
    /// application names (`--sendfile-header`).
    #[derive(Clone, Debug, PartialEq)]
    pub struct StaticSettings from (s, v) {
        /// The static mounts and how they answer; `None` without `--static-map`.
        pub statics: Option<Arc<Statics>> = statics(s, v)?,
        /// The offload rules; `None` without `--sendfile-header`.
        pub offload: Option<Arc<Offload>> = offload(s, v)?,
    }
}

/// Largest `--static-max-age`: ten years, beyond what any cache keeps.
const MAX_AGE_LIMIT: i64 = 315_360_000;

fn statics(s: &Settings, v: &Check<'_>) -> Result<Option<Arc<Statics>>, ConfigError> {
    let mounts = v.each(s.static_map(), map::parse)?;
    let max_age = v.whole(s.static_max_age(), 0..=MAX_AGE_LIMIT)? as u64;
    if mounts.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(Statics {
        mounts: Mounts::new(mounts),
        cache: CacheControl::new(max_age),
        index: v.flag(s.static_index()),
        fallthrough: v.flag(s.static_fallthrough()),
        follow_symlinks: v.flag(s.static_follow_symlinks()),
    })))
}

/// The headers an application may name a file with.
const HEADERS: [&str; 2] = ["X-Sendfile", "X-Accel-Redirect"];

fn offload(s: &Settings, v: &Check<'_>) -> Result<Option<Arc<Offload>>, ConfigError> {
    let header = v.choice(
        s.sendfile_header(),
        |h| {
            let h = h.trim();
            (h.is_empty() || HEADERS.iter().any(|k| k.eq_ignore_ascii_case(h)))
                .then(|| h.to_owned())
        },
        "X-Sendfile, X-Accel-Redirect, or empty for none",
    )?;
    let roots: Vec<PathBuf> = v.each(s.sendfile_root(), |root| {
        let dir = PathBuf::from(root.trim());
        if dir.is_dir() {
            std::path::absolute(&dir)
                .map(|dir| lexical(&dir))
                .map_err(|e| e.to_string())
        } else {
            Err("an existing directory".to_owned())
        }
    })?;
    let under_root = |dir: &PathBuf| roots.iter().any(|r| dir.starts_with(r));
    let locations: Vec<Mount> = v.each(s.sendfile_map(), |entry| {
        let mut mount = map::parse(entry)?;
        // `..` folded first: `/srv/root/../../etc` is not under `/srv/root`.
        mount.dir = lexical(&mount.dir);
        if under_root(&mount.dir) {
            Ok(mount)
        } else {
            Err("LOCATION=DIR with DIR under a --sendfile-root directory".to_owned())
        }
    })?;
    if header.is_empty() {
        return Ok(None);
    }
    if roots.is_empty() {
        return Err(v.invalid(
            "sendfile_header",
            &header,
            "a header only together with --sendfile-root (the directories files may come from)",
        ));
    }
    let accel = header.eq_ignore_ascii_case("X-Accel-Redirect");
    if accel && locations.is_empty() {
        return Err(v.invalid(
            "sendfile_header",
            &header,
            "X-Accel-Redirect only together with --sendfile-map LOCATION=DIR",
        ));
    }
    Ok(Some(Arc::new(Offload {
        header: header.to_ascii_lowercase().into_bytes(),
        accel,
        locations: Mounts::new(locations),
        roots,
    })))
}

/// `path` with `.` and `..` folded away, as text (symlinks are left alone: a deployment's
/// `current -> release-N` link must keep naming the same place in the settings and in the
/// paths applications send).
fn lexical(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
