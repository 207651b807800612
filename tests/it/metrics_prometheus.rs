//! The metrics scraped by a real Prometheus (Debian's `prometheus`), started by the test on
//! loopback and read back through its HTTP API: counters equal the requests sent, histogram
//! buckets add up, restarts appear after a SIGKILL, and no counter ever resets.

use crate::support::metrics::start_with_metrics;
use crate::support::*;
use nix::sys::signal::Signal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus server scraping one target every second; killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let dir = TempDir::new();
        let config = dir.write(
            "prometheus.yml",
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: rsgi\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        );
        let port = crate::support::hygiene::free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        wait_until("prometheus to be ready", || {
            prometheus
                .get("/-/ready")
                .is_some_and(|r| r.status() == 200)
        });
        prometheus
    }

    fn get(&self, target: &str) -> Option<Response> {
        // Conn::tcp panics when nothing listens: Prometheus may still be starting.
        drop(std::net::TcpStream::connect(self.addr).ok()?);
        let mut c = Conn::tcp(self.addr);
        c.try_send(&request("GET", target, &[("Connection", "close")], b""))
            .ok()?;
        c.try_read_response().ok()
    }

    /// An instant query's result vector: each sample's labels and value.
    fn query(&self, promql: &str) -> Vec<(Json, f64)> {
        let resp = self
            .get(&format!("/api/v1/query?query={}", qs_escape(promql)))
            .expect("prometheus answers");
        let json = resp.json();
        assert_eq!(json["status"], "success", "{promql}: {}", resp.text());
        json["data"]["result"]
            .as_array()
            .expect("a vector")
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap().parse().unwrap();
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// The single value of `promql`, if it has one yet.
    fn value(&self, promql: &str) -> Option<f64> {
        match self.query(promql).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_counters_histograms_and_restarts() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} (apt prometheus)"
    );
    let (mut server, metrics) = start_with_metrics(server("cases.misbehave").workers(2));
    let prometheus = Prometheus::start(metrics);
    wait_until("the first scrape", || {
        prometheus.value("up{job=\"rsgi\"}") == Some(1.0)
    });
    const N: usize = 37;
    for _ in 0..N {
        assert_eq!(server.get("/").status(), 200);
    }
    let requests = "sum(rsgi_requests_total{method=\"GET\",status=\"2xx\"})";
    wait_until("prometheus to count every request", || {
        prometheus.value(requests) == Some(N as f64)
    });
    let count = prometheus.value("rsgi_request_duration_seconds_count");
    assert_eq!(count, Some(N as f64));
    let mut buckets: Vec<(f64, f64)> = prometheus
        .query("rsgi_request_duration_seconds_bucket")
        .into_iter()
        .map(|(labels, v)| {
            let le = labels["le"].as_str().unwrap();
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, v)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(buckets.len(), 16, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, N as f64));
    assert_eq!(
        prometheus.value("rsgi_request_queue_wait_seconds_count"),
        Some(N as f64)
    );

    let victim = server.worker_pid();
    kill(victim, Signal::SIGKILL);
    server.wait_for_line(&format!("Worker (pid: {victim}) was killed by SIGKILL"));
    wait_until("prometheus to see the restart", || {
        prometheus.value("rsgi_worker_restarts_total{cause=\"signal\"}") == Some(1.0)
    });
    assert_eq!(prometheus.value(requests), Some(N as f64));
    // The dead worker's requests were folded into the master's totals: no counter reset.
    assert_eq!(
        prometheus.value("sum(resets(rsgi_requests_total[5m]))"),
        Some(0.0)
    );
    assert_eq!(
        prometheus.value("rsgi_worker_restarts_total{cause=\"exit\"}"),
        Some(0.0)
    );
}
