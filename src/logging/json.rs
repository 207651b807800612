//! Writing one JSON object per line, straight into a byte buffer.

use super::escape;

/// A JSON object being written to `out`; [`Object::end`] closes it and ends the line.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object at the end of `out`.
    pub fn begin(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Continues an object already opened (and holding members) at the end of `out`.
    pub fn continuing(out: &'a mut Vec<u8>) -> Object<'a> {
        Object { out, empty: false }
    }

    /// Writes `"key":`, escaping the key (a name from a request or a format).
    pub fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        escape::json(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// Writes `"key":` for one of our own keys (plain ASCII: nothing to escape).
    fn own_key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &str, value: &[u8]) {
        let out = self.own_key(key);
        escape::json(out, value);
    }

    /// A number member.
    pub fn num(&mut self, key: &str, value: u64) {
        let out = self.own_key(key);
        escape::decimal(out, value);
    }

    /// A string member whose value `write` appends and that needs no escaping (a time).
    pub fn quoted(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
        let out = self.own_key(key);
        out.push(b'"');
        write(out);
        out.push(b'"');
    }

    /// Members already formatted, each as `,"key":value`, after at least one member.
    pub fn members(&mut self, formatted: &[u8]) {
        debug_assert!(!self.empty, "formatted members start with a comma");
        self.out.extend_from_slice(formatted);
    }

    /// A nested object member.
    pub fn object(&mut self, key: &str) -> Object<'_> {
        let out = self.own_key(key);
        Object::begin(out)
    }

    /// Closes the object (nested: no newline).
    pub fn close(self) {
        self.out.push(b'}');
    }

    /// Closes the object and ends the line.
    pub fn end(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects() {
        let mut out = Vec::new();
        let mut o = Object::begin(&mut out);
        o.str("a", b"x\"y");
        o.num("n", 42);
        let mut inner = o.object("h");
        inner.str("k", b"1");
        inner.close();
        o.end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":\"x\\\"y\",\"n\":42,\"h\":{\"k\":\"1\"}}\n"
        );
    }
}
