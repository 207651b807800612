//! The Python expressions a `fileConfig` ini holds in a handler's `args` and `kwargs`
//! (`(sys.stdout,)`, `('/var/log/app.log', 'a')`, `(('localhost', 514),
//! handlers.SysLogHandler.LOG_LOCAL0)`), read as literals into JSON values, as
//! `dictConfig` would have them: `sys.stdout` is `"ext://sys.stdout"`, a `LOG_*` facility
//! constant is its number. Anything else (a call, an unknown name) is an error naming it.

use serde_json::{Map, Number, Value};

/// Reads one expression.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    let value = p.value()?;
    p.space();
    if p.at != p.s.len() {
        return Err(format!("cannot read {text:?} past {:?}", &text[p.at..]));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.s.get(self.at).copied()
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'(') => self.sequence(b')'),
            Some(b'[') => self.sequence(b']'),
            Some(b'{') => self.dict(),
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.name(),
            Some(c) => Err(format!("unexpected {:?}", char::from(c))),
            None => Err("an expression ends early".to_owned()),
        }
    }

    /// A tuple or list; a parenthesised single value without a comma is that value.
    fn sequence(&mut self, close: u8) -> Result<Value, String> {
        self.at += 1;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.peek() == Some(close) {
                self.at += 1;
                break;
            }
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    comma = true;
                }
                Some(c) if c == close => {}
                _ => return Err(format!("expected , or {}", char::from(close))),
            }
        }
        if close == b')' && items.len() == 1 && !comma {
            return Ok(items.pop().unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn dict(&mut self) -> Result<Value, String> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            if self.peek() == Some(b'}') {
                self.at += 1;
                return Ok(Value::Object(map));
            }
            let Value::String(key) = self.value()? else {
                return Err("a dictionary key that is not a string".to_owned());
            };
            if self.peek() != Some(b':') {
                return Err("expected : in a dictionary".to_owned());
            }
            self.at += 1;
            map.insert(key, self.value()?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {}
                _ => return Err("expected , or } in a dictionary".to_owned()),
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.at += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.at) {
            self.at += 1;
            match c {
                c if c == quote => {
                    return String::from_utf8(out).map_err(|_| "a string is not UTF-8".to_owned());
                }
                b'\\' => {
                    let e = self.s.get(self.at).copied().unwrap_or(b'\\');
                    self.at += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
        Err("a string is not closed".to_owned())
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        self.at += 1;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.' || *c == b'_')
        {
            self.at += 1;
        }
        let text = String::from_utf8_lossy(&self.s[start..self.at]).replace('_', "");
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Number(n.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{text:?} is not a number"))
    }

    fn name(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
        {
            self.at += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
        if self.peek() == Some(b'(') {
            return Err(format!(
                "the call {name}(...) is not supported: only literals, sys.stdout, \
                 sys.stderr and SysLogHandler constants"
            ));
        }
        let last = name.rsplit('.').next().unwrap_or(&name);
        Ok(match name.as_str() {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::Null,
            "sys.stdout" | "sys.stderr" => Value::String(format!("ext://{name}")),
            _ if last.starts_with("SOCK_") => Value::String(format!("ext://socket.{last}")),
            _ if name.contains("SysLogHandler.LOG_") => {
                let code = facility_constant(last)
                    .ok_or_else(|| format!("{name} is not a SysLogHandler facility"))?;
                Value::Number(code.into())
            }
            _ => return Err(format!("the name {name} is not supported")),
        })
    }
}

/// `LOG_USER` and the other facility constants of `SysLogHandler`.
fn facility_constant(name: &str) -> Option<u8> {
    let facility = name.strip_prefix("LOG_")?.to_ascii_lowercase();
    crate::logging::syslog::address::python_facility(&facility)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handler_args_as_real_configs_write_them() {
        assert_eq!(parse("(sys.stdout, )"), Ok(json!(["ext://sys.stdout"])));
        assert_eq!(
            parse("('/var/log/gunicorn/error.log', 'a')"),
            Ok(json!(["/var/log/gunicorn/error.log", "a"]))
        );
        assert_eq!(
            parse("(('localhost', 514), handlers.SysLogHandler.LOG_LOCAL0)"),
            Ok(json!([["localhost", 514], 16]))
        );
        assert_eq!(parse("('/dev/log',)"), Ok(json!(["/dev/log"])));
        assert_eq!(parse("()"), Ok(json!([])));
        assert_eq!(
            parse("{'filename': \"x.log\", 'delay': True}"),
            Ok(json!({"filename": "x.log", "delay": true}))
        );
        assert!(
            parse("(os.getenv('X'),)")
                .unwrap_err()
                .contains("os.getenv")
        );
        assert!(parse("(foo,)").unwrap_err().contains("foo"));
    }
}
