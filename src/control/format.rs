//! Replies as a person reads them (`rsgi-server ctl` without `--json`).

use super::protocol::{COMMANDS, Command};
use serde_json::Value;
use std::fmt::Write;

/// `data`, the reply to `command`, as text (ending with a newline).
pub fn human(command: &Command, data: &Value) -> String {
    let text = match command {
        Command::Status => status(data),
        Command::Workers => workers(data),
        Command::DumpStacks => stacks(data),
        Command::Reload { .. } => match data["status"].as_str() {
            Some("ready") => format!("reloaded: generation {} is ready", data["generation"]),
            _ => format!("reload started: generation {}", data["generation"]),
        },
        Command::Scale(_) | Command::WorkerAdd(_) | Command::WorkerRemove(_) => {
            format!("target workers: {} -> {}", data["previous"], data["total"])
        }
        Command::Stop { quick } => {
            format!("stopping ({})", if *quick { "quick" } else { "graceful" })
        }
        Command::ReopenLogs => "log files reopened".to_owned(),
        Command::Help => help(),
        Command::WorkerKill(_) | Command::Show(_) => {
            serde_json::to_string_pretty(data).unwrap_or_default()
        }
    };
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The command list.
pub fn help() -> String {
    let width = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut out = String::from("commands:\n");
    for (command, what) in COMMANDS {
        let _ = writeln!(out, "  {command:<width$}  {what}");
    }
    out
}

/// A duration in seconds, as `1h 2m 3s`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, _) if seconds < 10.0 => format!("{seconds:.1}s").replace(".0s", "s"),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec}s"),
        (h, m, sec) => format!("{h}h {m}m {sec}s"),
    }
}

/// Bytes as `12.3 MiB`.
fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

fn status(d: &Value) -> String {
    let w = &d["workers"];
    let mut out = format!(
        "rsgi-server {}, master pid {}, up {}\n",
        d["version"].as_str().unwrap_or("?"),
        d["pid"],
        duration(d["uptime"].as_f64().unwrap_or(0.0)),
    );
    let state = if d["draining"].as_bool() == Some(true) {
        "stopping (draining)"
    } else if d["reloading"].as_bool() == Some(true) {
        "reloading"
    } else {
        "running"
    };
    let _ = writeln!(out, "state:      {state}, generation {}", d["generation"]);
    let _ = writeln!(
        out,
        "workers:    {} target, {} running: {} ready, {} busy, {} booting, {} draining",
        w["target"], w["running"], w["ready"], w["busy"], w["booting"], w["draining"]
    );
    let listeners: Vec<&str> = d["listeners"]
        .as_array()
        .map(|l| l.iter().filter_map(|l| l["address"].as_str()).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "listening:  {}", listeners.join(", "));
    out
}

fn workers(d: &Value) -> String {
    let header = [
        "PID", "SLOT", "GEN", "AGE", "STATE", "REQUESTS", "RSS", "REQUEST",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for w in d["workers"].as_array().into_iter().flatten() {
        let text = |v: &Value| match v {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let request = match &w["request"] {
            Value::Object(r) => format!(
                "{} ({})",
                r.get("line").and_then(Value::as_str).unwrap_or("?"),
                duration(r.get("seconds").and_then(Value::as_f64).unwrap_or(0.0))
            ),
            _ => "-".to_owned(),
        };
        rows.push(vec![
            text(&w["pid"]),
            text(&w["slot"]),
            text(&w["generation"]),
            duration(w["uptime"].as_f64().unwrap_or(0.0)),
            text(&w["state"]),
            text(&w["requests"]),
            w["rss"].as_u64().map_or_else(|| "-".to_owned(), bytes),
            request,
        ]);
    }
    let mut widths = vec![0; header.len()];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = write!(out, "{} workers", d["count"]);
    out
}

fn stacks(d: &Value) -> String {
    let mut out = String::new();
    for w in d["workers"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "--- worker {} (slot {}, generation {}) ---",
            w["pid"], w["slot"], w["generation"]
        );
        match (w["stacks"].as_str(), w["error"].as_str()) {
            (Some(stacks), _) => {
                let _ = writeln!(out, "{}", stacks.trim_end());
            }
            (None, Some(error)) => {
                let _ = writeln!(out, "({error})");
            }
            (None, None) => {}
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn workers_are_an_aligned_table() {
        let data = json!({"count": 2, "workers": [
            {"pid": 101, "slot": 0, "generation": 1, "uptime": 75.0, "state": "busy",
             "requests": 12, "rss": 31_457_280_u64,
             "request": {"line": "GET /slow", "seconds": 3.5}},
            {"pid": 10234, "slot": 1, "generation": 1, "uptime": 2.0, "state": "ready",
             "requests": 0, "rss": null, "request": null},
        ]});
        let text = human(&Command::Workers, &data);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let at = |l: &str| {
            l.find("STATE")
                .or_else(|| l.find("busy"))
                .or_else(|| l.find("ready"))
        };
        assert_eq!(at(lines[0]), at(lines[1]), "{text}");
        assert_eq!(at(lines[1]), at(lines[2]), "{text}");
        assert!(lines[1].contains("GET /slow (3.5s)"), "{text}");
        assert!(lines[1].contains("30.0 MiB"), "{text}");
        assert!(lines[1].contains("1m 15s"), "{text}");
    }
}
