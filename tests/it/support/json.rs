//! The JSON the test apps answer with, and the environ report of `pyapps/environ.py`.

/// A parsed JSON value; a missing key indexes as `Null`.
pub use serde_json::Value as Json;

/// The environ report from `pyapps/environ.py`.
pub struct Environ(pub Json);

impl Environ {
    /// The report in a response body; panics (showing the body) if it is not JSON.
    pub fn parse(body: &str) -> Environ {
        Environ(
            serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("not the environ app's JSON ({e}): {body}")),
        )
    }

    fn entry(&self, key: &str) -> Option<&Json> {
        self.0["environ"].get(key)
    }

    /// Whether the environ holds `key`.
    pub fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The JSON value of a key (missing keys panic with the list of keys).
    pub fn value(&self, key: &str) -> &Json {
        let e = self
            .entry(key)
            .unwrap_or_else(|| panic!("{key} not in environ; keys: {:?}", self.keys()));
        e.get("value")
            .unwrap_or_else(|| panic!("{key} has no JSON value: {:?}", e))
    }

    /// A str-valued key.
    pub fn str(&self, key: &str) -> &str {
        self.value(key)
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a str: {:?}", self.entry(key)))
    }

    /// The Python type name of a key's value.
    pub fn type_of(&self, key: &str) -> &str {
        self.entry(key)
            .and_then(|e| e["type"].as_str())
            .unwrap_or_else(|| panic!("{key} not in environ; keys: {:?}", self.keys()))
    }

    /// Every environ key.
    pub fn keys(&self) -> Vec<&str> {
        self.0["environ"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// How many body bytes the app read from `wsgi.input`.
    pub fn body_length(&self) -> i64 {
        self.0["body_length"].as_i64().unwrap()
    }

    /// The CRC-32 of the body the app read (zlib's).
    pub fn body_crc32(&self) -> u32 {
        self.0["body_crc32"].as_i64().unwrap() as u32
    }

    /// The pid of the worker that answered.
    pub fn pid(&self) -> i32 {
        self.0["pid"].as_i64().unwrap() as i32
    }
}
