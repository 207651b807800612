//! A client load for the supervisor and upgrade tests: requests back to back that count
//! every failed, refused or reset one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::DEADLINE;

/// What the load loop saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests answered 200 in full.
    pub ok: u64,
    /// Responses that said `Connection: close` (a draining worker's).
    pub closes: u64,
    /// Everything that went wrong, first few in full.
    pub failures: Vec<String>,
}

impl Tally {
    /// No request failed, and some were served.
    pub fn assert_no_failures(&self) {
        assert!(
            self.failures.is_empty(),
            "{} failed requests, first: {:?}",
            self.failures.len(),
            &self.failures[..self.failures.len().min(5)]
        );
        assert!(self.ok > 0);
    }
}

/// Clients sending requests back to back over keep-alive connections (reconnecting when
/// the server says `Connection: close`), until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// Starts `clients` client threads requesting `target` from `addr`.
    pub fn start(addr: SocketAddr, clients: usize, target: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let clients = (0..clients)
            .map(|_| {
                let (stop, served, target) = (stop.clone(), served.clone(), target.to_owned());
                thread::spawn(move || client(addr, &target, &stop, &served))
            })
            .collect();
        Load {
            stop,
            served,
            clients,
        }
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests than now have been answered: proof that the load
    /// really runs at this point of the test.
    pub fn wait_for_more(&self, n: u64) {
        let goal = self.served() + n;
        let until = Instant::now() + DEADLINE;
        while self.served() < goal {
            assert!(
                Instant::now() < until,
                "the load stalled at {} requests",
                self.served()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the clients and adds up what they saw.
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for client in self.clients {
            let tally = client.join().expect("load client panicked");
            total.ok += tally.ok;
            total.closes += tally.closes;
            total.failures.extend(tally.failures);
        }
        total
    }
}

fn client(addr: SocketAddr, target: &str, stop: &AtomicBool, served: &AtomicU64) -> Tally {
    let mut tally = Tally::default();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    'connections: while !stop.load(Ordering::Relaxed) {
        let stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                tally.failures.push(format!("connect: {e}"));
                continue;
            }
        };
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = writer.write_all(request.as_bytes()) {
                tally.failures.push(format!("send: {e}"));
                continue 'connections;
            }
            match read_response(&mut reader) {
                Ok((200, close)) => {
                    tally.ok += 1;
                    served.fetch_add(1, Ordering::Relaxed);
                    if close {
                        tally.closes += 1;
                        continue 'connections;
                    }
                }
                Ok((status, _)) => {
                    tally.failures.push(format!("status {status}"));
                    continue 'connections;
                }
                Err(e) => {
                    tally.failures.push(format!("response: {e}"));
                    continue 'connections;
                }
            }
        }
    }
    tally
}

/// Reads one response with a Content-Length body; returns its status and whether the
/// server closes the connection after it.
fn read_response(reader: &mut BufReader<TcpStream>) -> Result<(u16, bool), String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => return Err("connection closed before a response (reset)".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("{e} before a response")),
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut length = 0usize;
    let mut close = false;
    loop {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| format!("{e} in the head"))?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().map_err(|_| "bad Content-Length")?;
        }
        if name.eq_ignore_ascii_case("connection") && value.to_ascii_lowercase().contains("close") {
            close = true;
        }
    }
    let mut body = vec![0u8; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("{e} in the body (cut)"))?;
    Ok((status, close))
}
