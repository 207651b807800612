//! The error log: gunicorn's text lines in a file, JSON objects, startup errors for files
//! that cannot be opened, SIGUSR1 reopening after logrotate, and `--capture-output`.

use crate::support::logs::*;
use crate::support::*;
use nix::sys::signal::Signal;

/// `[2026-11-21 10:00:00 +0000] [pid] [LEVEL] message` → (pid, level, message).
fn parse_text_line(line: &str) -> (i32, &str, &str) {
    let b = line.as_bytes();
    assert!(
        b.len() > 30 && b[0] == b'[' && b[11] == b' ' && b[20] == b' ' && b[26] == b']',
        "not a gunicorn error line: {line:?}"
    );
    assert!(line[1..5].bytes().all(|c| c.is_ascii_digit()), "{line}");
    let rest = line[27..].strip_prefix(" [").expect(line);
    let (pid, rest) = rest.split_once("] [").expect(line);
    let (level, message) = rest.split_once("] ").expect(line);
    (pid.parse().expect(line), level, message)
}

#[test]
fn error_log_file_has_gunicorn_lines_from_master_and_workers() {
    let dir = TempDir::new();
    let log = dir.join("error.log");
    let mut server = FileServer::start(
        &dir,
        "hello",
        &["--error-logfile", log.to_str().unwrap()],
        2,
        Some(&log),
    );
    let master = server.pid();
    assert_eq!(server.terminate().code(), Some(0));
    let lines = lines(&log);
    let parsed: Vec<(i32, &str, &str)> = lines.iter().map(|l| parse_text_line(l)).collect();
    let has = |pid: i32, text: &str| {
        parsed
            .iter()
            .any(|(p, level, m)| *p == pid && *level == "INFO" && m.contains(text))
    };
    assert!(has(master, "Listening at: http://127.0.0.1:"), "{lines:#?}");
    assert!(has(master, "Booting worker with pid"), "{lines:#?}");
    for worker in &server.workers {
        assert!(has(*worker, "Worker ready"), "{lines:#?}");
        assert!(has(*worker, "Worker exiting"), "{lines:#?}");
    }
    // Nothing went to the terminal's streams.
    assert_eq!(std::fs::read_to_string(&server.stderr).unwrap(), "");
    assert_eq!(std::fs::read_to_string(&server.stdout).unwrap(), "");
}

#[test]
fn json_error_log_field_by_field() {
    let dir = TempDir::new();
    let log = dir.join("error.log");
    let mut server = FileServer::start(
        &dir,
        "raises",
        &["--log-format", "json", "--log-file", log.to_str().unwrap()],
        1,
        Some(&log),
    );
    // An app error: a traceback, many lines, in one record.
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/before")).status(), 500);
    server.wait_for_line("Traceback");
    // An idle keep-alive connection would hold the graceful stop for its grace period.
    drop(c);
    server.terminate();
    let lines = lines(&log);
    let records: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str::<Json>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for r in &records {
        let time = r.get("time").and_then(Json::as_str).expect("time");
        assert_eq!(time.len(), 32, "{time}");
        let level = r.get("level").and_then(Json::as_str).expect("level");
        assert!(
            ["debug", "info", "warning", "error"].contains(&level),
            "{level}"
        );
        assert!(r.get("pid").and_then(Json::as_i64).is_some());
        assert!(r.get("message").and_then(Json::as_str).is_some());
    }
    let find = |text: &str| {
        records
            .iter()
            .find(|r| {
                r.get("message")
                    .and_then(Json::as_str)
                    .is_some_and(|m| m.contains(text))
            })
            .unwrap_or_else(|| panic!("no record with {text:?} in {lines:#?}"))
    };
    let listening = find("Listening at: ");
    assert_eq!(listening.get("level").and_then(Json::as_str), Some("info"));
    assert_eq!(
        listening.get("pid").and_then(Json::as_i64),
        Some(i64::from(server.pid()))
    );
    let ready = find("Worker ready");
    assert_eq!(
        ready.get("pid").and_then(Json::as_i64),
        Some(i64::from(server.workers[0]))
    );
    let traceback = find("Traceback (most recent call last)");
    assert_eq!(traceback.get("level").and_then(Json::as_str), Some("error"));
    assert!(
        traceback
            .get("message")
            .and_then(Json::as_str)
            .is_some_and(|m| m.lines().count() > 2),
        "the traceback is one record"
    );
}

#[test]
fn log_files_that_cannot_be_opened_stop_the_start_before_binding() {
    let dir = TempDir::new();
    let socket = dir.join("s.sock");
    let bind = format!("unix:{}", socket.display());
    for option in ["--error-logfile", "--access-logfile"] {
        let missing = dir.join("no-such-dir/x.log");
        let out = bare()
            .args(["--chdir", pyapps().to_str().unwrap()])
            .args(["-b", &bind, option, missing.to_str().unwrap(), "hello"])
            .run();
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains(option), "{out:?}");
        assert!(out.stderr.contains(missing.to_str().unwrap()), "{out:?}");
        assert!(!socket.exists(), "bound before the logs were opened");
    }
    for (args, option) in [
        (
            ["--access-log-format", "%(h)s %(nope)s"],
            "--access-log-format",
        ),
        (["--log-format", "xml"], "--log-format"),
        (["--error-logfile", "/"], "--error-logfile"),
    ] {
        let out = bare()
            .args(["--chdir", pyapps().to_str().unwrap(), "-b", &bind])
            .args(args)
            .arg("hello")
            .run();
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains(option), "{out:?}");
        assert!(!socket.exists());
    }
}

#[test]
fn usr1_reopens_every_log_in_master_and_workers() {
    let dir = TempDir::new();
    let log = dir.join("error.log");
    let access = dir.join("access.log");
    let server = FileServer::start(
        &dir,
        "hello",
        &[
            "--error-logfile",
            log.to_str().unwrap(),
            "--access-logfile",
            access.to_str().unwrap(),
            "--access-log-format",
            "%(r)s %(p)s",
        ],
        2,
        Some(&log),
    );
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/before")).status(), 200);
    wait_for_count(&access, 1);
    // logrotate: move the files, then signal.
    std::fs::rename(&log, dir.join("error.log.1")).unwrap();
    std::fs::rename(&access, dir.join("access.log.1")).unwrap();
    server.signal(Signal::SIGUSR1);
    // Each process says so after reopening: in the new file, from the master and from
    // every worker (which also proves the workers survived the signal).
    let reopened = wait_for_lines(&log, "Reopened the log files", 3);
    let mut pids: Vec<i32> = reopened
        .iter()
        .map(|l| {
            l[28..]
                .split(']')
                .next()
                .unwrap()
                .trim_start_matches('[')
                .parse()
                .unwrap()
        })
        .collect();
    pids.sort();
    let mut expected = vec![server.pid(), server.workers[0], server.workers[1]];
    expected.sort();
    assert_eq!(pids, expected);
    // The kept-alive connection's worker and a new connection both log to the new file.
    assert_eq!(c.roundtrip(&get_req("/after")).status(), 200);
    let mut c2 = Conn::tcp(server.addr);
    assert_eq!(c2.roundtrip(&get_req("/after")).status(), 200);
    let after = wait_for_count(&access, 2);
    assert!(
        after.iter().all(|l| l.starts_with("GET /after HTTP/1.1 <")),
        "{after:?}"
    );
    let old_access = lines(&dir.join("access.log.1"));
    assert_eq!(old_access.len(), 1, "{old_access:?}");
    assert!(old_access[0].starts_with("GET /before "), "{old_access:?}");
    let old_errors = lines(&dir.join("error.log.1"));
    assert!(old_errors.iter().any(|l| l.contains("Worker ready")));
    assert!(
        !old_errors.iter().any(|l| l.contains("Reopened")),
        "{old_errors:#?}"
    );
}

#[test]
fn capture_output_sends_print_to_the_error_log() {
    let dir = TempDir::new();
    let log = dir.join("error.log");
    let server = FileServer::start(
        &dir,
        "cases.logged",
        &["--capture-output", "--error-logfile", log.to_str().unwrap()],
        1,
        Some(&log),
    );
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/text")).status(), 200);
    for line in [
        "app stdout /text",
        "app stderr /text",
        "app wsgi.errors /text",
    ] {
        let found = server.wait_for_line(line);
        assert_eq!(found, line, "written as the app wrote it");
    }
    assert_eq!(std::fs::read_to_string(&server.stdout).unwrap(), "");
}

#[test]
fn capture_output_with_json_keeps_every_line_json() {
    let dir = TempDir::new();
    let log = dir.join("error.log");
    let server = FileServer::start(
        &dir,
        "cases.logged",
        &[
            "--capture-output",
            "--log-format=json",
            "--error-logfile",
            log.to_str().unwrap(),
        ],
        1,
        Some(&log),
    );
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/json")).status(), 200);
    for (text, stream, level) in [
        ("app stdout /json", "stdout", "info"),
        ("app stderr /json", "stderr", "error"),
        ("app wsgi.errors /json", "wsgi.errors", "error"),
    ] {
        let line = server.wait_for_line(text);
        let record = serde_json::from_str::<Json>(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(record.get("message").and_then(Json::as_str), Some(text));
        assert_eq!(record.get("stream").and_then(Json::as_str), Some(stream));
        assert_eq!(record.get("level").and_then(Json::as_str), Some(level));
        assert_eq!(
            record.get("pid").and_then(Json::as_i64),
            Some(i64::from(server.workers[0]))
        );
    }
    for line in lines(&log) {
        serde_json::from_str::<Json>(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}
