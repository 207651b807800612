//! `--static-map URL_PREFIX=DIR`: which directory a request path is served from. The
//! longest matching prefix wins, and a prefix matches whole segments only (`/static` maps
//! `/static/x` and `/static`, never `/staticky`).

use std::path::PathBuf;

/// One URL prefix and the directory under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The prefix without its trailing `/` (empty for `/`).
    pub prefix: String,
    /// The directory, absolute.
    pub dir: PathBuf,
}

/// What `URL_PREFIX=DIR` must look like, for error messages.
pub const MAP_FORM: &str = "URL_PREFIX=DIR, the prefix starting with / (letters, digits and \
                            -._~/ only) and DIR an existing directory";

/// Reads one `URL_PREFIX=DIR` (DIR relative to the current directory); the error says
/// what is allowed.
pub fn parse(entry: &str) -> Result<Mount, String> {
    let Some((prefix, dir)) = entry.split_once('=') else {
        return Err(MAP_FORM.to_owned());
    };
    let prefix = prefix.trim();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~/".contains(&b);
    let dotted = prefix.split('/').any(|s| s.starts_with('.'));
    if !prefix.starts_with('/') || !prefix.bytes().all(plain) || dotted {
        return Err(MAP_FORM.to_owned());
    }
    let dir = PathBuf::from(dir.trim());
    if !dir.is_dir() {
        return Err(MAP_FORM.to_owned());
    }
    let dir = std::path::absolute(&dir).map_err(|_| MAP_FORM.to_owned())?;
    Ok(Mount {
        prefix: prefix.trim_end_matches('/').to_owned(),
        dir,
    })
}

/// Mounts, longest prefix first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Mounts(Vec<Mount>);

impl Mounts {
    /// Orders `mounts` for lookup.
    pub fn new(mut mounts: Vec<Mount>) -> Mounts {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        Mounts(mounts)
    }

    /// The mount `path` (still percent-encoded) falls under, and the rest of the path
    /// after its prefix.
    pub fn find<'p>(&self, path: &'p [u8]) -> Option<(&Mount, &'p [u8])> {
        self.0.iter().find_map(|m| {
            let rest = path.strip_prefix(m.prefix.as_bytes())?;
            (rest.is_empty() || rest[0] == b'/').then_some((m, rest))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_whole_segment_prefix_wins() {
        let dir = std::env::temp_dir();
        let at = |p: &str| Mount {
            prefix: p.to_owned(),
            dir: dir.join(p.trim_start_matches('/')),
        };
        let mounts = Mounts::new(vec![at(""), at("/static"), at("/static/img")]);
        let find = |p: &'static str| {
            mounts
                .find(p.as_bytes())
                .map(|(m, r)| (m.prefix.clone(), r))
        };
        assert_eq!(
            find("/static/img/a.png"),
            Some(("/static/img".into(), &b"/a.png"[..]))
        );
        assert_eq!(
            find("/static/a.css"),
            Some(("/static".into(), &b"/a.css"[..]))
        );
        assert_eq!(find("/staticky"), Some(("".into(), &b"/staticky"[..])));
        assert_eq!(find("/static"), Some(("/static".into(), &b""[..])));
    }

    #[test]
    fn a_map_names_a_prefix_and_an_existing_directory() {
        let dir = std::env::temp_dir();
        let ok = parse(&format!("/static/={}", dir.display())).expect("valid");
        assert_eq!(ok.prefix, "/static");
        assert!(parse(&format!("/={}", dir.display())).is_ok());
        for bad in [
            "static=/tmp",
            "/st%61tic=/tmp",
            "/a/../b=/tmp",
            "/x",
            "/x=/no/such/dir",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
