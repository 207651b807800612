//! The format compiler: gunicorn's `%(atom)s` syntax turned, once, into pieces the
//! per-request writers walk without parsing anything.

use super::DEFAULT_FORMAT;

/// One step of a compiled format: what it writes, then the literal of at most 8 bytes that
/// follows (padded, possibly empty), written as one word (see [`escape::word`]). Small and
/// `Copy`, with names kept in [`Format`]'s tables: the per-request loop makes one dispatch
/// per atom, on one tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    pub(super) what: Source,
    pub(super) tail: [u8; 8],
    pub(super) tail_len: u8,
}

/// What a [`Piece`] writes before its tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// A value of the request.
    Atom(Atom),
    /// Text longer than 8 bytes, as written: `len` bytes of [`Format::text`] from `start`.
    Literal { start: u32, len: u32 },
    /// Only the tail (a short literal at the start of the line).
    Nothing,
}

impl Piece {
    pub(super) fn new(what: Source) -> Piece {
        Piece {
            what,
            tail: [0; 8],
            tail_len: 0,
        }
    }
}

/// gunicorn's atoms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Atom {
    /// `h`: remote address.
    RemoteAddr,
    /// `l`: always `-`.
    Ident,
    /// `u`: the user of HTTP Basic authentication.
    User,
    /// `t`: the time, `[21/Nov/2026:10:00:00 +0000]`.
    Time,
    /// `r`: the request line.
    RequestLine,
    /// `m`: the method.
    Method,
    /// `U`: the path, percent-decoded.
    Path,
    /// `q`: the query string.
    Query,
    /// `H`: the protocol.
    Protocol,
    /// `s`: the status.
    Status,
    /// `B`: body bytes sent.
    Bytes,
    /// `b`: body bytes sent, `-` for none.
    BytesOrDash,
    /// `f`: the Referer header.
    Referer,
    /// `a`: the User-Agent header.
    UserAgent,
    /// `T`: duration in whole seconds.
    Seconds,
    /// `M`: duration in whole milliseconds.
    Millis,
    /// `D`: duration in microseconds.
    Micros,
    /// `L`: duration in decimal seconds, `0.001234`.
    DecimalSeconds,
    /// `p`: `<pid>`.
    Pid,
    /// `request_id`: the request's ID (`--request-id-header`), `-` without one.
    RequestId,
    /// `{name}i`: a request header, by its slot in [`Format::headers`].
    RequestHeader(u16),
    /// `{name}o`: a response header, by its index in [`Format::response_headers`].
    ResponseHeader(u16),
    /// `{name}e`: a WSGI environ key, by its index in [`Format::environ`].
    Environ(u16),
}

/// What a `{name}e` atom reads. The line is written without Python, so keys are computed
/// from the request as the server builds the environ (changes the app makes to its environ
/// are not seen); any other name is read from the process environment at startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Environ {
    RemoteAddr,
    RemotePort,
    ServerName,
    ServerPort,
    ServerProtocol,
    RequestMethod,
    PathInfo,
    QueryString,
    RawUri,
    UrlScheme,
    /// `HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH`: the header in this slot of
    /// [`Format::headers`].
    Header(usize),
    /// Fixed when the format was compiled.
    Fixed(Option<String>),
}

/// A compiled `--access-log-format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// It is [`DEFAULT_FORMAT`], which has a loop-free writer.
    pub(super) default: bool,
    /// It has `{...}i`, `{...}o` or `{...}e` atoms (JSON lines then have extra objects).
    pub(super) extras: bool,
    pub(super) pieces: Vec<Piece>,
    /// The literal text the pieces point into.
    pub(super) text: Vec<u8>,
    /// Names of `{name}o` atoms, lowercased (matched case-insensitively).
    pub(super) response_headers: Vec<String>,
    /// `{name}e` atoms: the name as written and what it reads.
    pub(super) environ: Vec<(String, Environ)>,
    /// Every request header a line may show, lowercased: gathered in one pass over the
    /// request's headers. The first three are always [`AUTHORIZATION`], [`REFERER`] and
    /// [`USER_AGENT`] (the JSON keys need them whatever the format).
    pub(super) headers: Vec<String>,
    /// It shows Authorization, Referer or User-Agent (`%(u)s`, `%(f)s`, `%(a)s`, or one of
    /// them by name): the one pass over the request's headers is needed.
    pub(super) common_headers: bool,
}

/// Slots of [`Format::headers`].
pub(super) const AUTHORIZATION: usize = 0;
pub(super) const REFERER: usize = 1;
pub(super) const USER_AGENT: usize = 2;

const ATOMS_HELP: &str = "atoms written %(name)s: h l u t r m U q H s B b f a T M D L p, \
                          request_id, {header}i, {header}o, {variable}e; %% for a literal %";

impl Format {
    /// Compiles a gunicorn format. `env` (the `--env` settings) and the process environment
    /// supply `{NAME}e` atoms that are not request values. The error says what is wrong.
    pub fn compile(format: &str, env: &[(String, String)]) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut tables = FormatNames {
            headers: ["authorization", "referer", "user-agent"]
                .map(str::to_owned)
                .to_vec(),
            response_headers: Vec::new(),
            environ: Vec::new(),
        };
        let mut pieces_atoms: Vec<(usize, Atom)> = Vec::new();
        let mut rest = format;
        while let Some(at) = rest.find('%') {
            literal.extend_from_slice(&rest.as_bytes()[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                literal.push(b'%');
                rest = after;
                continue;
            }
            let Some(inner) = rest.strip_prefix('(') else {
                return Err(format!("a '%' that is not %(name)s or %%; {ATOMS_HELP}"));
            };
            let Some(close) = inner.find(')') else {
                return Err(format!("an unclosed %(; {ATOMS_HELP}"));
            };
            let name = &inner[..close];
            let after = &inner[close + 1..];
            // `s` as gunicorn documents it; `d` also works there for numeric atoms.
            let Some(after) = after.strip_prefix('s').or_else(|| after.strip_prefix('d')) else {
                return Err(format!("%({name}) must be followed by 's'; {ATOMS_HELP}"));
            };
            let atom = tables
                .atom(name, env)
                .ok_or_else(|| format!("unknown atom %({name})s; {ATOMS_HELP}"))?;
            if atom == Atom::Ident {
                // Always `-`: part of the literal around it.
                literal.push(b'-');
                rest = after;
                continue;
            }
            if !literal.is_empty() {
                pieces.push(std::mem::take(&mut literal));
            }
            pieces_atoms.push((pieces.len(), atom));
            pieces.push(Vec::new());
            rest = after;
        }
        literal.extend_from_slice(rest.as_bytes());
        // The line's end is part of the last literal: one piece fewer per line.
        literal.push(b'\n');
        pieces.push(literal);
        if pieces.len() > u16::MAX as usize || format.len() > u32::MAX as usize / 2 {
            return Err("a shorter format".to_owned());
        }
        // Literals become pieces pointing into one text (or words); atoms stay in place.
        let mut text = Vec::new();
        let mut compiled: Vec<Piece> = Vec::with_capacity(pieces.len());
        let mut atoms = pieces_atoms.into_iter().peekable();
        for (i, literal) in pieces.into_iter().enumerate() {
            if let Some((_, atom)) = atoms.next_if(|(at, _)| *at == i) {
                compiled.push(Piece::new(Source::Atom(atom)));
                continue;
            }
            if literal.len() > 8 {
                compiled.push(Piece::new(Source::Literal {
                    start: text.len() as u32,
                    len: literal.len() as u32,
                }));
                text.extend_from_slice(&literal);
                continue;
            }
            // The tail of the atom before (literals never follow literals), or alone.
            if compiled.last().is_none_or(|p| p.tail_len != 0) {
                compiled.push(Piece::new(Source::Nothing));
            }
            let last = compiled.last_mut().expect("pushed");
            last.tail[..literal.len()].copy_from_slice(&literal);
            last.tail_len = literal.len() as u8;
        }
        let extras = compiled.iter().any(|p| {
            matches!(
                p.what,
                Source::Atom(Atom::RequestHeader(_) | Atom::ResponseHeader(_) | Atom::Environ(_))
            )
        });
        let common_headers = compiled.iter().any(|p| match p.what {
            Source::Atom(Atom::User | Atom::Referer | Atom::UserAgent) => true,
            Source::Atom(Atom::RequestHeader(slot)) => usize::from(slot) <= USER_AGENT,
            _ => false,
        }) || tables
            .environ
            .iter()
            .any(|(_, reads)| matches!(reads, Environ::Header(slot) if *slot <= USER_AGENT));
        Ok(Format {
            default: format == DEFAULT_FORMAT,
            common_headers,
            extras,
            pieces: compiled,
            text,
            response_headers: tables.response_headers,
            environ: tables.environ,
            headers: tables.headers,
        })
    }
}

/// The names a format's atoms refer to, while it is compiled.
struct FormatNames {
    headers: Vec<String>,
    response_headers: Vec<String>,
    environ: Vec<(String, Environ)>,
}

impl FormatNames {
    /// The slot of request header `name` (lowercase), added if new.
    fn slot(&mut self, name: &str) -> usize {
        match self.headers.iter().position(|h| h == name) {
            Some(i) => i,
            None => {
                self.headers.push(name.to_owned());
                self.headers.len() - 1
            }
        }
    }

    fn atom(&mut self, name: &str, env: &[(String, String)]) -> Option<Atom> {
        atom(name, env, self)
    }
}

fn atom(name: &str, env: &[(String, String)], tables: &mut FormatNames) -> Option<Atom> {
    Some(match name {
        "h" => Atom::RemoteAddr,
        "l" => Atom::Ident,
        "u" => Atom::User,
        "t" => Atom::Time,
        "r" => Atom::RequestLine,
        "m" => Atom::Method,
        "U" => Atom::Path,
        "q" => Atom::Query,
        "H" => Atom::Protocol,
        "s" => Atom::Status,
        "B" => Atom::Bytes,
        "b" => Atom::BytesOrDash,
        "f" => Atom::Referer,
        "a" => Atom::UserAgent,
        "T" => Atom::Seconds,
        "M" => Atom::Millis,
        "D" => Atom::Micros,
        "L" => Atom::DecimalSeconds,
        "p" => Atom::Pid,
        "request_id" => Atom::RequestId,
        _ => {
            let inner = name.strip_prefix('{')?;
            let (key, kind) = inner.rsplit_once('}')?;
            if key.is_empty() {
                return None;
            }
            match kind {
                "i" => Atom::RequestHeader(tables.slot(&key.to_ascii_lowercase()) as u16),
                "o" => {
                    tables.response_headers.push(key.to_ascii_lowercase());
                    Atom::ResponseHeader((tables.response_headers.len() - 1) as u16)
                }
                "e" => {
                    let reads = environ(key, env, tables);
                    tables.environ.push((key.to_owned(), reads));
                    Atom::Environ((tables.environ.len() - 1) as u16)
                }
                _ => return None,
            }
        }
    })
}

fn environ(key: &str, env: &[(String, String)], tables: &mut FormatNames) -> Environ {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "remote_addr" => Environ::RemoteAddr,
        "remote_port" => Environ::RemotePort,
        "server_name" => Environ::ServerName,
        "server_port" => Environ::ServerPort,
        "server_protocol" => Environ::ServerProtocol,
        "request_method" => Environ::RequestMethod,
        "path_info" => Environ::PathInfo,
        "query_string" => Environ::QueryString,
        "raw_uri" => Environ::RawUri,
        "wsgi.url_scheme" => Environ::UrlScheme,
        "content_type" => Environ::Header(tables.slot("content-type")),
        "content_length" => Environ::Header(tables.slot("content-length")),
        _ => match lower.strip_prefix("http_") {
            Some(header) => Environ::Header(tables.slot(&header.replace('_', "-"))),
            None => Environ::Fixed(
                env.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(key).ok()),
            ),
        },
    }
}
