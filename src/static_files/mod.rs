//! Files the engine serves without Python: `--static-map` mounts (uWSGI's `static-map`)
//! and files an application hands over with `X-Sendfile` / `X-Accel-Redirect`.
//!
//! The engine calls [`Statics::answer`] once a request head is parsed, before dispatching
//! it, and [`Offload::answer`] when a response head carries the offload header; both
//! return a complete [`Reply`] whose file body the engine sends with sendfile(2) (a TLS
//! record at a time under TLS), so a file costs a descriptor and a socket buffer, never
//! its size in memory and never a Python thread.
//!
//! Nothing here reveals what is outside a mapped directory: every path that is not a
//! readable regular file beneath it (malformed, traversing, a dotfile, a symlink out, a
//! device, a FIFO, a directory without index) is the same 404, its reason logged at debug.
//!
//! Where things live: the mounts (`map`), decoding and checking the request path (`path`),
//! opening beneath a directory (`open`), content types (`mime`), validators, conditional
//! and range requests (`conditional`), precompressed siblings (`encoding`), the response
//! heads (`respond`), the settings (`settings`).

mod conditional;
mod encoding;
mod map;
mod mime;
mod open;
mod path;
mod respond;
mod settings;

#[cfg(test)]
mod robustness;

pub use conditional::Preconditions;
pub use respond::{Body, Reply};
pub use settings::StaticSettings;

use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use conditional::Validators;
use map::Mounts;
use open::{Lookup, Opened, open_beneath};
use std::path::{Path, PathBuf};

/// What the engine does with a request under the static mounts.
#[derive(Debug)]
pub enum Answer {
    /// Not the server's to answer: dispatch it to the application.
    Pass,
    /// Send this.
    Reply(Reply),
}

/// The static mounts and how they answer.
#[derive(Debug, PartialEq)]
pub struct Statics {
    mounts: Mounts,
    /// `--static-max-age`'s `Cache-Control` values.
    cache: CacheControl,
    /// Serve `index.html` for a directory.
    index: bool,
    /// What is not served goes to the application instead of a 404.
    fallthrough: bool,
    /// Follow symlinks wherever they lead.
    follow_symlinks: bool,
}

impl Statics {
    /// Answers `head` if its path is under a mount.
    pub fn answer(&self, head: &RequestHead) -> Answer {
        let path = head.path();
        let Some((mount, rest)) = self.mounts.find(path) else {
            return Answer::Pass;
        };
        let method = head.method_bytes();
        if method != b"GET" && method != b"HEAD" {
            return if self.fallthrough {
                Answer::Pass
            } else {
                Answer::Reply(respond::status(405))
            };
        }
        let rel = match path::decode(rest) {
            Ok(rel) => rel,
            Err(why) => return self.missing(path, &why.to_string()),
        };
        let pre = Preconditions::of(head);
        let (opened, file_rel) = match open_beneath(&mount.dir, &rel.rel, self.follow_symlinks) {
            Lookup::File(_) if rel.trailing_slash => {
                return self.missing(path, "a file named as a directory");
            }
            Lookup::File(file) => (file, rel.rel),
            Lookup::Directory if !self.index => return self.missing(path, "a directory"),
            Lookup::Directory if !path.ends_with(b"/") => {
                // One leading slash only: `//host/dir/` would send browsers to another host.
                let mut to = b"/".to_vec();
                to.extend_from_slice(path.trim_ascii_start().strip_prefix(b"/").unwrap_or(path));
                while to.starts_with(b"//") {
                    to.remove(0);
                }
                to.push(b'/');
                return Answer::Reply(respond::moved(&to));
            }
            Lookup::Directory => {
                let index = if rel.rel.is_empty() {
                    "index.html".to_owned()
                } else {
                    format!("{}/index.html", rel.rel)
                };
                match open_beneath(&mount.dir, &index, self.follow_symlinks) {
                    Lookup::File(file) => (file, index),
                    _ => return self.missing(path, "a directory without index.html"),
                }
            }
            Lookup::Missing(why) => return self.missing(path, why),
        };
        let name = file_rel.rsplit('/').next().unwrap_or("");
        let cache = self.cache_control(name);
        let file = Found {
            dir: &mount.dir,
            rel: &file_rel,
            opened,
        };
        Answer::Reply(serve_file(file, &pre, cache, self.follow_symlinks))
    }

    /// A path not served: 404, or the application's with `--static-fallthrough`.
    fn missing(&self, path: &[u8], why: &str) -> Answer {
        tracing::debug!(
            "static file {:?} not served: {why}",
            String::from_utf8_lossy(path)
        );
        if self.fallthrough {
            Answer::Pass
        } else {
            Answer::Reply(respond::status(404))
        }
    }

    /// `Cache-Control` for a file named `name`.
    fn cache_control(&self, name: &str) -> Option<&str> {
        let (plain, immutable) = self.cache.0.as_ref()?;
        Some(if respond::fingerprinted(name) {
            immutable
        } else {
            plain
        })
    }
}

/// `--static-max-age` as the two `Cache-Control` values it gives (none for 0), made once.
#[derive(Debug, PartialEq)]
pub(crate) struct CacheControl(Option<(String, String)>);

impl CacheControl {
    /// The values for `max_age` seconds: for any file, and for fingerprinted names, whose
    /// content never changes.
    fn new(max_age: u64) -> CacheControl {
        CacheControl((max_age > 0).then(|| {
            (
                format!("public, max-age={max_age}"),
                format!("public, max-age={max_age}, immutable"),
            )
        }))
    }
}

/// A file found beneath a directory.
struct Found<'a> {
    dir: &'a Path,
    /// Its path beneath `dir`.
    rel: &'a str,
    opened: Opened,
}

/// The answer for a found file, or for one of its precompressed siblings if the client
/// accepts it.
fn serve_file(
    found: Found<'_>,
    pre: &Preconditions,
    cache_control: Option<&str>,
    follow_symlinks: bool,
) -> Reply {
    let Found { dir, rel, opened } = found;
    let name = rel.rsplit('/').next().unwrap_or("");
    let mut chosen = (opened, None);
    for coding in encoding::acceptable(pre.accept_encoding.as_deref()) {
        let sibling = format!("{rel}{}", coding.suffix());
        if let Lookup::File(file) = open_beneath(dir, &sibling, follow_symlinks) {
            chosen = (file, Some(coding.token()));
            break;
        }
    }
    let (file, encoding) = chosen;
    let v = Validators::new(file.len, file.mtime.0, file.mtime.1, encoding.unwrap_or(""));
    let decision = conditional::decide(pre, &v);
    let content_type = mime::content_type(name);
    let described = respond::Described {
        content_type: &content_type,
        encoding,
        cache_control,
    };
    respond::file(file.fd, &v, decision, &described, pre.head)
}

/// `--sendfile-header`: which files an application may hand over, and where they are.
#[derive(Debug, PartialEq)]
pub struct Offload {
    /// The header's name, lower case.
    header: Vec<u8>,
    /// `X-Accel-Redirect`: the value is a URI under a `--sendfile-map` location; else
    /// (`X-Sendfile`) an absolute file path.
    accel: bool,
    /// `--sendfile-map` locations.
    locations: Mounts,
    /// `--sendfile-root`: the only directories files may come from.
    roots: Vec<PathBuf>,
}

impl Offload {
    /// The header's name, lower case.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// The answer for a response whose offload header says `value`, to a request with
    /// `pre`: the file as a static file would be served, 404 when it does not exist, 500
    /// (logged with the reason) when it is not under a `--sendfile-root`.
    pub fn answer(&self, value: &[u8], app: &ResponseHead, pre: &Preconditions) -> Reply {
        let reply = self.reply(value, pre);
        respond::merge(app, reply, &self.header)
    }

    /// [`Offload::answer`] before the application's headers are merged in.
    fn reply(&self, value: &[u8], pre: &Preconditions) -> Reply {
        match self.locate(value) {
            Ok((dir, rel)) => match open_beneath(&dir, &rel, false) {
                Lookup::File(opened) => {
                    let found = Found {
                        dir: &dir,
                        rel: &rel,
                        opened,
                    };
                    serve_file(found, pre, None, false)
                }
                Lookup::Directory | Lookup::Missing(_) => {
                    tracing::debug!(
                        "offloaded file {:?} not served: not a readable file",
                        String::from_utf8_lossy(value)
                    );
                    respond::status(404)
                }
            },
            Err(why) => {
                tracing::error!(
                    "offloaded file {:?} refused: {why}",
                    String::from_utf8_lossy(value)
                );
                respond::status(500)
            }
        }
    }

    /// The directory and the checked relative path `value` names.
    fn locate(&self, value: &[u8]) -> Result<(PathBuf, String), String> {
        if self.accel {
            // As nginx does, arguments after `?` are not part of the file's name.
            let value = value.split(|b| *b == b'?').next().unwrap_or(value);
            let Some((mount, rest)) = self.locations.find(value) else {
                return Err("not under a --sendfile-map location".to_owned());
            };
            let rel = path::decode(rest).map_err(|why| format!("the path has {why}"))?;
            return Ok((mount.dir.clone(), rel.rel));
        }
        let text = std::str::from_utf8(value).map_err(|_| "the path is not UTF-8".to_owned())?;
        let path = Path::new(text);
        let Some(root) = self.roots.iter().find(|r| path.starts_with(r)) else {
            return Err("not under a --sendfile-root directory".to_owned());
        };
        let rest = path
            .strip_prefix(root)
            .map_err(|_| "not under a root".to_owned())?;
        let rest = rest.to_str().unwrap_or("");
        let clean = rest.split('/').all(|s| !s.starts_with('.'))
            && !rest.bytes().any(|b| b < 0x20 || b == 0x7f);
        if !clean || rest.is_empty() {
            return Err("the path has a dot segment or a control byte".to_owned());
        }
        Ok((root.clone(), rest.to_owned()))
    }
}
