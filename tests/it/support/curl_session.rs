//! A curl session with a cookie jar, as a site's visitor: each request is one `curl` run
//! that reads and writes the jar, and its reply (status, headers, body) is kept whole.

use super::TempDir;
use super::clients::curl_command;
use std::fs;
use std::path::{Path, PathBuf};

/// One visitor: a base URL, a cookie jar and any curl options every request takes
/// (`--interface 127.0.0.2`, `-H Host: ...`).
pub struct CurlSession {
    base: String,
    options: Vec<String>,
    dir: TempDir,
}

/// A reply as curl received it (redirects are not followed).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}\n{}", self.status, self.headers, self.text())
    }
}

impl CurlSession {
    /// A session with an empty jar against `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: impl Into<String>) -> CurlSession {
        CurlSession {
            base: base.into(),
            options: Vec::new(),
            dir: TempDir::new(),
        }
    }

    /// Adds curl options given to every request.
    pub fn option(mut self, options: &[&str]) -> CurlSession {
        self.options.extend(options.iter().map(|o| o.to_string()));
        self
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request(path, &[])
    }

    /// `path` with more curl arguments (`-X`, `-F`, `-d`, `-H` ...).
    pub fn request(&self, path: &str, args: &[&str]) -> Reply {
        let jar = self.jar();
        let head = self.dir.join("head");
        let body = self.dir.join("body");
        // curl creates its output file only when a body arrives: a stale one must go.
        let _ = fs::remove_file(&body);
        let out = curl_command()
            .arg("--cookie")
            .arg(&jar)
            .arg("--cookie-jar")
            .arg(&jar)
            .arg("--dump-header")
            .arg(&head)
            .arg("--output")
            .arg(&body)
            .args(&self.options)
            .args(args)
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl {path} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse(
            &fs::read(&head).expect("curl's headers"),
            fs::read(&body).unwrap_or_default(),
        )
    }

    /// The value of cookie `name` in the jar, if there is one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = fs::read_to_string(self.jar()).ok()?;
        jar.lines()
            .filter(|l| !l.starts_with("# ") && !l.is_empty())
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| f.len() == 7 && f[5] == name)
            .map(|f| f[6].to_owned())
    }

    /// A scratch directory of the session's (files to upload, downloads).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn jar(&self) -> PathBuf {
        self.dir.join("cookies.txt")
    }
}

/// The last response head in `head` (curl writes one per response, 100 Continue included).
fn parse(head: &[u8], body: Vec<u8>) -> Reply {
    let text = String::from_utf8_lossy(head);
    let last = text
        .split("\r\n\r\n")
        .filter(|h| h.starts_with("HTTP/"))
        .last()
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = last.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {last:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body,
    }
}
