//! How a value may be written: the command line's parsers (numbers, booleans) and the
//! config file's more forgiving forms (a TOML boolean or `"on"`, a string or a list, a
//! table of headers), which all read into the same raw types.

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// Parses a whole number; ranges are checked later, so the error can name the range.
pub(super) fn whole_number(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number".to_owned())
}

/// The spellings [`boolean`] accepts, in the order error messages list them.
pub(super) const BOOLEAN_WORDS: &str = "true/false, on/off, yes/no or 1/0";

/// Parses a boolean: true/false, on/off, yes/no or 1/0, in any case.
pub(super) fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("expected {BOOLEAN_WORDS}")),
    }
}

/// Reads a TOML boolean, or a string [`boolean`] accepts (`"on"`, `"no"`...), as the
/// environment spells it.
pub(super) fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolVisitor).map(Some)
}

/// Visitor for [`flexible_bool`].
struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a boolean ({BOOLEAN_WORDS})")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        boolean(v).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
}

/// Reads a string, or a number as the string it is written as: `cert_reqs = 2` (gunicorn's
/// `ssl.CERT_REQUIRED`), `tls_min_version = 1.3`.
pub(super) fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor).map(Some)
}

/// Visitor for [`text_or_number`].
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Reads a string or an array of strings (gunicorn accepts `bind = "x"` as well as a list).
pub(super) fn one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    d.deserialize_any(StringsVisitor(false, PhantomData))
        .map(Some)
}

/// Like [`one_or_many`], but a single string is a comma-separated list, as on the CLI.
pub(super) fn comma_separated<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    d.deserialize_any(StringsVisitor(true, PhantomData))
        .map(Some)
}

/// Visitor for [`one_or_many`] and [`comma_separated`]; the flag says whether to split a
/// single string on commas.
struct StringsVisitor<T>(bool, PhantomData<T>);

impl<'de, T: From<String>> Visitor<'de> for StringsVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if self.0 {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| T::from(s.to_owned()))
                .collect()
        } else {
            vec![T::from(v.to_owned())]
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<String>()? {
            out.push(T::from(s));
        }
        Ok(out)
    }
}

/// Reads `--secure-scheme-headers` from a file: a table (`{ "X-FORWARDED-PROTO" = "https" }`,
/// gunicorn's dict), or the command line's `NAME=VALUE` strings (one string, comma-separated,
/// or an array: what `--print-config` writes).
pub(super) fn header_table<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct TableVisitor;
    impl<'de> Visitor<'de> for TableVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of header names and values, or NAME=VALUE strings")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                out.push(format!("{name}={value}"));
            }
            Ok(out)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            StringsVisitor(true, PhantomData).visit_str(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            StringsVisitor(false, PhantomData).visit_seq(seq)
        }
    }
    d.deserialize_any(TableVisitor).map(Some)
}

/// Reads `proxy_protocol` from a file: a mode string, or gunicorn's boolean (true: `auto`).
pub(super) fn mode_or_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct ModeVisitor;
    impl Visitor<'_> for ModeVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("off, v1, v2, auto, or a boolean")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(if v { "auto" } else { "off" }.to_owned())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
    }
    d.deserialize_any(ModeVisitor).map(Some)
}

/// Reads a JSON document kept as its text: a string as it is, or a table (TOML), turned
/// into JSON (`logconfig_dict`).
pub(super) fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => Ok(Some(text)),
        other => Ok(Some(other.to_string())),
    }
}
