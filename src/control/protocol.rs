//! The control socket's wire protocol: gunicorn's, so that `gunicornc` works unchanged.
//! Each message is a 4-byte big-endian length and that many bytes of JSON. A request is
//! `{"id": 1, "command": "scale", "args": [3]}` (the command may also carry its arguments:
//! `"command": "scale 3"`); a reply is `{"id": 1, "status": "ok", "data": {...}}` or
//! `{"id": 1, "status": "error", "error": "..."}`. A connection may carry several requests,
//! one after the other.
//!
//! Versioned by a `"version"` member: replies carry [`VERSION`]; a request naming a higher
//! one is refused (gunicornc sends none, which means 1).

use serde_json::{Value, json};

/// The protocol version this server speaks.
pub const VERSION: u64 = 1;

/// Largest request accepted (a command and a few arguments need far less).
pub const MAX_REQUEST: usize = 64 * 1024;

/// Largest reply a client accepts (gunicornc's limit; stack dumps can be long).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// What the server is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The server at a glance.
    Status,
    /// One line per worker.
    Workers,
    /// A reload (as HUP); `wait`: reply once the new generation is ready or gave up.
    Reload {
        /// Wait for the outcome.
        wait: bool,
    },
    /// A new target worker count (as TTIN/TTOU).
    Scale(i64),
    /// Stop: graceful (as TERM) or quick (as INT).
    Stop {
        /// Workers exit now rather than finishing their requests.
        quick: bool,
    },
    /// Every worker's Python stacks.
    DumpStacks,
    /// Reopen the log files (as USR1).
    ReopenLogs,
    /// gunicornc's `show ...`.
    Show(Show),
    /// gunicornc's `worker add N`: N more workers.
    WorkerAdd(i64),
    /// gunicornc's `worker remove N`: N fewer workers.
    WorkerRemove(i64),
    /// gunicornc's `worker kill PID`: stop one worker gracefully (it is replaced).
    WorkerKill(i32),
    /// The commands there are.
    Help,
}

/// What gunicornc's `show` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// The master and every worker.
    All,
    /// The workers.
    Workers,
    /// Counters.
    Stats,
    /// The listening sockets.
    Listeners,
    /// A few settings.
    Config,
    /// gunicorn's dirty workers (none here).
    Dirty,
}

/// Every command with a one-line description, for `help` and the client's usage.
pub const COMMANDS: &[(&str, &str)] = &[
    ("status", "the server at a glance"),
    (
        "workers",
        "every worker: state, requests, memory, request in progress",
    ),
    (
        "reload [--wait]",
        "reload as HUP does (--wait: until ready or failed)",
    ),
    ("scale N", "run N workers"),
    (
        "stop [--quick]",
        "stop gracefully as TERM does (--quick: as INT)",
    ),
    ("dump-stacks", "every worker's Python stacks, all threads"),
    ("reopen-logs", "reopen the log files as USR1 does"),
    (
        "show all|workers|stats|listeners|config|dirty",
        "gunicornc's views",
    ),
    ("worker add [N]", "N more workers (gunicornc)"),
    ("worker remove [N]", "N fewer workers (gunicornc)"),
    ("worker kill PID", "stop one worker gracefully (gunicornc)"),
    ("reopen", "as reopen-logs (gunicornc)"),
    ("shutdown [graceful|quick]", "as stop (gunicornc)"),
    ("help", "this list"),
];

impl Command {
    /// Parses a command's words (`["scale", "3"]`).
    pub fn parse(words: &[String]) -> Result<Command, String> {
        let word = |i: usize| words.get(i).map(|w| w.to_ascii_lowercase());
        let Some(name) = word(0) else {
            return Err("empty command".to_owned());
        };
        let count = |i: usize| -> Result<i64, String> {
            match words.get(i) {
                None => Ok(1),
                Some(n) => n
                    .parse()
                    .map_err(|_| format!("{name}: expected a number, got {n:?}")),
            }
        };
        let extra = |n: usize| -> Result<(), String> {
            match words.get(n) {
                None => Ok(()),
                Some(w) => Err(format!("{name}: unexpected argument {w:?}")),
            }
        };
        let command = match name.as_str() {
            "status" => Command::Status,
            "workers" => Command::Workers,
            "reload" => match word(1).as_deref() {
                None => Command::Reload { wait: false },
                Some("--wait" | "wait") => Command::Reload { wait: true },
                Some(w) => return Err(format!("reload: unexpected argument {w:?}")),
            },
            "scale" => match words.get(1) {
                Some(n) => Command::Scale(
                    n.parse()
                        .map_err(|_| format!("scale: expected a number of workers, got {n:?}"))?,
                ),
                None => return Err("scale: how many workers? (scale N)".to_owned()),
            },
            "stop" | "shutdown" => match word(1).as_deref() {
                None | Some("graceful" | "--graceful") => Command::Stop { quick: false },
                Some("quick" | "--quick") => Command::Stop { quick: true },
                Some(w) => return Err(format!("{name}: expected graceful or quick, got {w:?}")),
            },
            "dump-stacks" => Command::DumpStacks,
            "reopen-logs" | "reopen" => Command::ReopenLogs,
            "help" => Command::Help,
            "show" => Command::Show(match word(1).as_deref() {
                Some("all") => Show::All,
                Some("workers") => Show::Workers,
                Some("stats") => Show::Stats,
                Some("listeners") => Show::Listeners,
                Some("config") => Show::Config,
                Some("dirty") => Show::Dirty,
                _ => {
                    return Err(
                        "show: expected all, workers, stats, listeners, config or dirty".to_owned(),
                    );
                }
            }),
            "worker" => match word(1).as_deref() {
                Some("add") => Command::WorkerAdd(count(2)?),
                Some("remove") => Command::WorkerRemove(count(2)?),
                Some("kill") => match words.get(2).map(|p| p.parse::<i32>()) {
                    Some(Ok(pid)) if pid > 0 => Command::WorkerKill(pid),
                    _ => return Err("worker kill: expected a worker's pid".to_owned()),
                },
                _ => return Err("worker: expected add, remove or kill".to_owned()),
            },
            _ => return Err(format!("unknown command {name:?} (try help)")),
        };
        let arity = match &command {
            Command::Show(_) | Command::Scale(_) => 2,
            Command::Reload { wait } => 1 + usize::from(*wait),
            Command::Stop { .. } => words.len().min(2),
            Command::WorkerAdd(_) | Command::WorkerRemove(_) => words.len().min(3),
            Command::WorkerKill(_) => 3,
            _ => 1,
        };
        extra(arity)?;
        Ok(command)
    }
}

/// A request as received.
#[derive(Debug, PartialEq)]
pub struct Request {
    /// The client's request id, echoed in the reply.
    pub id: Value,
    /// What it asks.
    pub command: Command,
}

/// Parses one request's JSON; on failure, the id (if it could be read) and why.
pub fn parse_request(payload: &[u8]) -> Result<Request, (Value, String)> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| (Value::from(0), format!("the request is not JSON: {e}")))?;
    let id = value.get("id").cloned().unwrap_or(Value::from(0));
    let fail = |why: String| (id.clone(), why);
    let Some(object) = value.as_object() else {
        return Err(fail("the request is not a JSON object".to_owned()));
    };
    if let Some(version) = object.get("version") {
        match version.as_u64() {
            Some(v) if (1..=VERSION).contains(&v) => {}
            _ => {
                return Err(fail(format!(
                    "protocol version {version} is not supported (this server speaks {VERSION})"
                )));
            }
        }
    }
    let Some(command) = object.get("command").and_then(Value::as_str) else {
        return Err(fail("the request has no \"command\" string".to_owned()));
    };
    let mut words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    match object.get("args") {
        None | Some(Value::Null) => {}
        Some(Value::Array(args)) => {
            for arg in args {
                words.push(match arg {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
        }
        Some(_) => return Err(fail("\"args\" must be a list".to_owned())),
    }
    let command = Command::parse(&words).map_err(fail)?;
    Ok(Request { id, command })
}

/// A success reply.
pub fn ok(id: &Value, data: Value) -> Value {
    json!({"id": id, "status": "ok", "data": data, "version": VERSION})
}

/// A failure reply.
pub fn error(id: &Value, why: &str) -> Value {
    json!({"id": id, "status": "error", "error": why, "version": VERSION})
}

/// A message on the wire: length, then JSON.
pub fn encode(message: &Value) -> Vec<u8> {
    let payload = message.to_string().into_bytes();
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// How much of a message `buf` holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not all of it yet.
    Partial,
    /// A whole message: its payload is `buf[4..end]`.
    Whole {
        /// Where the message ends in `buf`.
        end: usize,
    },
    /// Its length exceeds `max`.
    TooLarge(u64),
}

/// Finds the first message in `buf`, refusing one longer than `max`.
pub fn frame(buf: &[u8], max: usize) -> Frame {
    let Some(prefix) = buf.get(..4) else {
        return Frame::Partial;
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > max {
        return Frame::TooLarge(len as u64);
    }
    if buf.len() >= 4 + len {
        Frame::Whole { end: 4 + len }
    } else {
        Frame::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn commands_parse_ours_and_gunicorns() {
        let parse = |s: &str| Command::parse(&words(s));
        assert_eq!(parse("status"), Ok(Command::Status));
        assert_eq!(parse("scale 3"), Ok(Command::Scale(3)));
        assert_eq!(parse("reload --wait"), Ok(Command::Reload { wait: true }));
        assert_eq!(parse("shutdown quick"), Ok(Command::Stop { quick: true }));
        assert_eq!(parse("show workers"), Ok(Command::Show(Show::Workers)));
        assert_eq!(parse("worker add"), Ok(Command::WorkerAdd(1)));
        assert_eq!(parse("worker remove 2"), Ok(Command::WorkerRemove(2)));
        assert_eq!(parse("reopen"), Ok(Command::ReopenLogs));
        for bad in [
            "",
            "scale",
            "scale x",
            "status now",
            "show",
            "frobnicate",
            "worker kill",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_take_arguments_from_either_place() {
        let req = parse_request(br#"{"id": 7, "command": "scale", "args": [3]}"#).unwrap();
        assert_eq!((req.id, req.command), (Value::from(7), Command::Scale(3)));
        let req = parse_request(br#"{"id": 8, "command": "worker add 2"}"#).unwrap();
        assert_eq!(req.command, Command::WorkerAdd(2));
        let (id, why) = parse_request(br#"{"id": 9, "command": "status", "version": 2}"#)
            .expect_err("future version");
        assert_eq!(id, Value::from(9));
        assert!(why.contains("version"), "{why}");
        assert!(parse_request(b"\xff\x00garbage").is_err());
        assert!(parse_request(b"[1, 2]").is_err());
    }

    #[test]
    fn frames_are_length_prefixed_and_bounded() {
        let msg = encode(&json!({"a": 1}));
        assert_eq!(frame(&msg[..3], 100), Frame::Partial);
        assert_eq!(frame(&msg[..msg.len() - 1], 100), Frame::Partial);
        assert_eq!(frame(&msg, 100), Frame::Whole { end: msg.len() });
        assert_eq!(
            frame(b"GET / HTTP/1.1\r\n", 100),
            Frame::TooLarge(0x4745_5420)
        );
    }
}
