//! Reading one request head from bytes that arrive in pieces. The parser runs only when the
//! head may be complete (its blank line came, or a line already passed its limit), never per
//! byte received: it parses from the start each time, so a client trickling a large head one
//! byte at a time would otherwise cost O(n²). A head that can no longer be valid is refused
//! as soon as it cannot.

use super::request::{RequestHead, parse_head};
use super::{HttpError, Limits};

/// Where the reading of one request head stands, between arrivals of its bytes.
#[derive(Clone, Debug, Default)]
pub struct HeadReader {
    /// How many buffered bytes have been searched for the end of the head.
    scanned: usize,
    /// Where the line being received starts (after the last LF scanned): a line over its
    /// limit is refused as soon as it is, not once the whole head's worth of bytes is in.
    line_start: usize,
    /// The parser has seen this head's first bytes.
    looked: bool,
}

/// What to do with the bytes of a head so far ([`HeadReader::look`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Look {
    /// Wait for more bytes: parsing now could not tell anything new.
    Wait,
    /// Parse them ([`super::request::parse_head`]).
    Parse,
    /// Refuse the request: the head can no longer be valid.
    Refuse(HttpError),
}

impl HeadReader {
    /// Reads the head from `data`, every byte buffered since it began (this reader keeps
    /// where its previous look stopped). `Ok(None)`: more bytes are needed. On success the
    /// reader is ready for the next head, and the head took `usize` bytes of `data`. The
    /// engine does the same in steps ([`HeadReader::look`], [`HeadReader::incomplete`],
    /// [`HeadReader::done`]), so that the parsed head is not moved through here.
    pub fn read(
        &mut self,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Option<(RequestHead, usize)>, HttpError> {
        match self.look(data, limits) {
            Look::Wait => Ok(None),
            Look::Refuse(err) => Err(err),
            Look::Parse => match parse_head(data, limits)? {
                None => self.incomplete(data, limits).map(|()| None),
                Some(done) => {
                    self.done();
                    Ok(Some(done))
                }
            },
        }
    }

    /// Whether `data`, every byte buffered since the head began, is worth parsing now.
    #[inline]
    pub fn look(&mut self, data: &[u8], limits: &Limits) -> Look {
        if self.may_be_complete(data, limits) {
            return Look::Parse;
        }
        if data.len() >= limits.most_head_bytes() {
            // The head can no longer be valid; say why (a line over its limit, or bad
            // syntax) when the bytes tell, else it is too big.
            return Look::Refuse(
                parse_head(data, limits)
                    .err()
                    .unwrap_or(HttpError::HeadTooLarge),
            );
        }
        Look::Wait
    }

    /// After `data` parsed as an incomplete head: an error when no more bytes may come.
    pub fn incomplete(&self, data: &[u8], limits: &Limits) -> Result<(), HttpError> {
        if data.len() >= limits.most_head_bytes() {
            return Err(HttpError::HeadTooLarge);
        }
        Ok(())
    }

    /// A head was parsed: the reader is ready for the next one.
    #[inline]
    pub fn done(&mut self) {
        *self = HeadReader::default();
    }

    /// Whether parsing `data` can produce an answer: the end of a head (blank line) arrived,
    /// this is the first look at a head (so garbage is refused at once, and a head that came
    /// whole is read once), or the line being received is already longer than its limit.
    #[inline]
    fn may_be_complete(&mut self, data: &[u8], limits: &Limits) -> bool {
        if !self.looked {
            // Straight to the parser: usually the whole head came in one read, and a scan
            // first would only read it twice. The scan starts if the parser wants more.
            self.looked = true;
            return true;
        }
        let from = self.scanned;
        self.scanned = data.len();
        let mut blank_line = false;
        for (i, &b) in data[from..].iter().enumerate() {
            if b == b'\n' {
                // A line of nothing but CRs is (or poses as) the head's end: the parser says
                // which (a stray CR gets its 400 now, not a wait for more bytes).
                blank_line = data[self.line_start..from + i].iter().all(|&b| b == b'\r');
                self.line_start = from + i + 1;
                if blank_line {
                    break;
                }
            }
        }
        let line_limit = if self.line_start == 0 {
            limits.request_line
        } else {
            limits.header_field_size
        };
        // Past its limit (CRLF aside), the line cannot be valid, and the parser says why.
        blank_line || data.len() - self.line_start > line_limit + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` one after another to a reader, as reads would buffer them, and
    /// returns what each look said.
    fn looks(pieces: &[&[u8]], limits: &Limits) -> Vec<Result<bool, u16>> {
        let mut reader = HeadReader::default();
        let mut data = Vec::new();
        pieces
            .iter()
            .map(|piece| {
                data.extend_from_slice(piece);
                reader
                    .read(&data, limits)
                    .map(|done| done.is_some())
                    .map_err(|e| e.status())
            })
            .collect()
    }

    #[test]
    fn a_field_line_over_its_limit_is_refused_when_it_passes_the_limit() {
        let limits = Limits::default();
        let piece = vec![b'a'; 4096];
        let said = looks(
            &[b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ", &piece, &piece],
            &limits,
        );
        // Within the field's limit: more wanted; past it: refused at once, not once the
        // whole head's size is in.
        assert_eq!(said, [Ok(false), Ok(false), Err(431)]);
    }

    #[test]
    fn complete_lines_do_not_count_against_the_line_being_received() {
        let limits = Limits::default();
        let field = format!("X-Field: {}\r\n", "a".repeat(8000));
        let mut pieces: Vec<&[u8]> = vec![b"GET / HTTP/1.1\r\n"];
        pieces.extend([field.as_bytes(); 4]);
        pieces.extend([&b"Host: x\r\n"[..], b"\r\n"]);
        let said = looks(&pieces, &limits);
        assert_eq!(said.last(), Some(&Ok(true)), "{said:?}");
        assert!(said[..said.len() - 1].iter().all(|s| *s == Ok(false)));
        // A request line over its limit, before its LF.
        let said = looks(&[b"GET /", &[b'a'; 4000], &[b'a'; 100]], &limits);
        assert_eq!(said, [Ok(false), Ok(false), Err(414)]);
    }

    #[test]
    fn a_head_at_the_cap_is_refused_without_a_blank_line() {
        let limits = Limits {
            head_size: 64,
            ..Limits::default()
        };
        let said = looks(
            &[
                b"GET / HTTP/1.1\r\n",
                b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n",
            ],
            &limits,
        );
        assert_eq!(said, [Ok(false), Err(431)]);
    }

    #[test]
    fn a_blank_line_with_a_stray_cr_is_refused_when_its_lf_arrives() {
        let limits = Limits::default();
        // Found by the request corpus (bare-cr-final) fed to the reader in two pieces: the
        // reader waited for a blank line that never came, and the client for its 400.
        let said = looks(&[b"G", b"ET / HTTP/1.1\r\nHost: h\r\n\r\r\n"], &limits);
        assert_eq!(said, [Ok(false), Err(400)]);
        let said = looks(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r", b"\r", b"\n"], &limits);
        assert_eq!(said, [Ok(false), Ok(false), Err(400)]);
        // A bare LF ends the head too (and is refused), as does leading empty lines' CRLF.
        let said = looks(&[b"G", b"ET / HTTP/1.1\r\nHost: h\r\n\n"], &limits);
        assert_eq!(said, [Ok(false), Err(400)]);
        let said = looks(
            &[b"\r\n", b"GET / HTTP/1.1\r\n", b"Host: h\r\n\r\n"],
            &limits,
        );
        assert_eq!(said, [Ok(false), Ok(false), Ok(true)]);
    }

    #[test]
    fn a_reader_is_ready_for_the_next_head_after_one() {
        let limits = Limits::default();
        let mut reader = HeadReader::default();
        let two = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let (first, used) = reader.read(two, &limits).expect("valid").expect("complete");
        assert_eq!(first.path(), b"/a");
        let (second, _) = reader
            .read(&two[used..], &limits)
            .expect("valid")
            .expect("complete");
        assert_eq!(second.path(), b"/b");
    }
}
