//! StatsD/DogStatsD metrics as gunicorn 27 sends them: packets received on a local UDP
//! socket are checked name by name and type by type, and against what gunicorn itself sends
//! for the same requests with the same settings.

use crate::support::hygiene::free_port;
use crate::support::*;
use std::collections::BTreeSet;
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A StatsD server: a UDP socket on 127.0.0.1 and the lines received so far.
struct Statsd {
    socket: UdpSocket,
    lines: Vec<String>,
}

impl Statsd {
    fn new() -> Statsd {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Statsd {
            socket,
            lines: Vec::new(),
        }
    }

    fn addr(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    /// Receives until a line of each metric in `names` arrived (the safety deadline aside).
    fn wait_for<S: AsRef<str>>(&mut self, names: &[S]) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 65536];
        let arrived = |lines: &[String], name: &str| lines.iter().any(|l| named(l, name));
        while !names.iter().all(|n| arrived(&self.lines, n.as_ref())) {
            assert!(
                Instant::now() < until,
                "StatsD lines never arrived; got {:#?}",
                self.lines
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.lines.extend(text.lines().map(str::to_owned));
            }
        }
        self.lines.clone()
    }
}

/// A line without its value: `name|type...` (values differ from run to run).
fn shape(line: &str) -> String {
    let (name, rest) = line.split_once(':').expect("name:value");
    let rest = rest.split_once('|').map_or("", |(_, r)| r);
    format!("{name}|{rest}")
}

/// Whether `line` is of the metric `name`.
fn named(line: &str, name: &str) -> bool {
    line.split_once(':').is_some_and(|(n, _)| n == name)
}

/// The requests both servers get: two statuses and an application error.
fn send_requests(get: impl Fn(&str) -> u16) {
    assert_eq!(get("/status/200"), 200);
    assert_eq!(get("/status/404"), 404);
    assert_eq!(get("/raise"), 500);
}

const TAGS: &str = "env:test,team:web";

/// What each server must have sent before the comparison.
fn wanted(prefix: &str) -> Vec<String> {
    [
        "gunicorn.request.status.404",
        "gunicorn.request.status.500",
        "gunicorn.workers",
        "gunicorn.backlog",
        "gunicorn.log.exception",
        "gunicorn.requests",
    ]
    .iter()
    .map(|n| format!("{prefix}{n}"))
    .collect()
}

fn ours(prefix_arg: &str, tags: &str, backlog: bool) -> (Server, Statsd) {
    let statsd = Statsd::new();
    let mut args = vec![
        "--statsd-host".to_owned(),
        statsd.addr(),
        "--statsd-prefix".to_owned(),
        prefix_arg.to_owned(),
        "--dogstatsd-tags".to_owned(),
        tags.to_owned(),
    ];
    if backlog {
        args.push("--enable-backlog-metric".into());
    }
    let server = server("cases.statuses").args(args).start();
    (server, statsd)
}

#[test]
fn requests_workers_backlog_and_errors_are_sent_as_gunicorn_names_them() {
    let (server, mut statsd) = ours("app", TAGS, true);
    send_requests(|p| server.get(p).status());
    let lines = statsd.wait_for(&wanted("app."));
    let shapes: BTreeSet<String> = lines.iter().map(|l| shape(l)).collect();
    for expected in [
        "app.gunicorn.requests|c|@1.0|#env:test,team:web",
        "app.gunicorn.request.duration|ms|#env:test,team:web",
        "app.gunicorn.request.status.200|c|@1.0|#env:test,team:web",
        "app.gunicorn.request.status.404|c|@1.0|#env:test,team:web",
        "app.gunicorn.workers|g|#env:test,team:web",
        "app.gunicorn.backlog|h|#env:test,team:web",
        "app.gunicorn.log.exception|c|@1.0|#env:test,team:web",
        "app.gunicorn.request.status.500|c|@1.0|#env:test,team:web",
    ] {
        assert!(
            shapes.contains(expected),
            "{expected} missing from {lines:#?}"
        );
    }
    let requests = lines.iter().filter(|l| named(l, "app.gunicorn.requests"));
    assert!(
        requests
            .clone()
            .all(|l| l.starts_with("app.gunicorn.requests:1|"))
    );
    assert!(lines.contains(&"app.gunicorn.workers:1|g|#env:test,team:web".to_owned()));
    let duration = lines
        .iter()
        .find(|l| named(l, "app.gunicorn.request.duration"))
        .unwrap();
    let ms = duration.split([':', '|']).nth(1).unwrap();
    assert!(ms.parse::<f64>().is_ok() && ms.contains('.'), "{duration}");
}

#[test]
fn without_prefix_or_tags_lines_are_bare() {
    let (server, mut statsd) = ours("", "", false);
    assert_eq!(server.get("/status/201").status(), 201);
    let lines = statsd.wait_for(&["gunicorn.request.status.201", "gunicorn.workers"]);
    assert!(
        lines
            .iter()
            .any(|l| l == "gunicorn.request.status.201:1|c|@1.0"),
        "{lines:#?}"
    );
    assert!(lines.iter().all(|l| !l.contains("|#")), "{lines:#?}");
    assert!(
        lines.iter().all(|l| !l.starts_with("gunicorn.backlog")),
        "{lines:#?}"
    );
}

#[test]
fn a_prefix_gets_one_trailing_dot() {
    let (server, mut statsd) = ours("svc...", "", false);
    assert_eq!(server.get("/status/200").status(), 200);
    statsd.wait_for(&["svc.gunicorn.requests"]);
}

#[test]
fn a_bad_statsd_host_exits_2_naming_it() {
    for bad in ["localhost:notaport", "fd://3", "[::1]:99999"] {
        let run = server("cases.statuses").args(["--statsd-host", bad]).run();
        assert_eq!(run.code(), Some(2), "{bad}: {run:?}");
        let text = run.all_output();
        assert!(
            text.contains("--statsd-host") && text.contains(bad),
            "{text}"
        );
        assert!(text.contains("unix://PATH"), "{text}");
    }
}

#[test]
fn nobody_listening_costs_the_requests_nothing() {
    // A port nobody reads: datagrams are refused (ICMP), sends fail, requests do not.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = server("cases.statuses")
        .args(["--statsd-host", &format!("127.0.0.1:{port}")])
        .start();
    for _ in 0..20 {
        assert_eq!(server.get("/status/200").status(), 200);
    }
}

/// gunicorn 27 serving `cases.statuses` with the same StatsD settings, on `port`.
fn gunicorn(port: u16, statsd: &str) -> Child {
    let gunicorn = test_python().with_file_name("gunicorn");
    Command::new(gunicorn)
        .current_dir(pyapps())
        .env_remove("GUNICORN_CMD_ARGS")
        .args(["-c", "/dev/null", "-w", "1", "-b"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--statsd-host", statsd, "--statsd-prefix", "app"])
        .args(["--dogstatsd-tags", TAGS, "--enable-backlog-metric"])
        .arg("cases.statuses:application")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run gunicorn")
}

#[test]
fn the_same_names_types_and_tags_as_gunicorn() {
    let mut theirs = Statsd::new();
    let port = free_port();
    let mut child = gunicorn(port, &theirs.addr());
    wait_until("gunicorn listening", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    send_requests(|p| {
        let mut c = Conn::tcp(addr);
        c.send(&request("GET", p, &[("Connection", "close")], b""));
        c.read_response().status()
    });
    let got_theirs = theirs.wait_for(&wanted("app."));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();

    let (server, mut statsd) = ours("app", TAGS, true);
    send_requests(|p| server.get(p).status());
    let got_ours = statsd.wait_for(&wanted("app."));

    let theirs: BTreeSet<String> = got_theirs.iter().map(|l| shape(l)).collect();
    let ours: BTreeSet<String> = got_ours.iter().map(|l| shape(l)).collect();
    assert_eq!(ours, theirs, "ours {got_ours:#?}\ntheirs {got_theirs:#?}");
}

#[test]
fn a_worker_timeout_counts_as_critical_as_in_gunicorn() {
    let mut statsd = Statsd::new();
    let mut server = server("cases.stuck")
        .args(["--timeout", "1", "--statsd-host", &statsd.addr()])
        .start();
    let mut conn = server.conn();
    conn.send(&request("GET", "/spin", &[], b""));
    server.wait_for_line("WORKER TIMEOUT");
    statsd.wait_for(&["gunicorn.log.critical"]);
    assert!(
        statsd
            .lines
            .contains(&"gunicorn.log.critical:1|c|@1.0".to_owned()),
        "{:#?}",
        statsd.lines
    );
}

#[test]
fn a_unix_datagram_socket_receives_them_too() {
    let dir = TempDir::new();
    let path = dir.join("statsd.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let server = server("cases.statuses")
        .args(["--statsd-host", &format!("unix://{}", path.display())])
        .start();
    assert_eq!(server.get("/status/202").status(), 202);
    let mut buf = [0u8; 65536];
    let mut seen = String::new();
    while !seen.contains("gunicorn.request.status.202:1|c|@1.0") {
        let n = socket
            .recv(&mut buf)
            .expect("a datagram before the deadline");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        seen.push('\n');
    }
}
