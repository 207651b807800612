//! The metrics as text: the Prometheus exposition format 0.0.4, or OpenMetrics 1.0.0 when
//! the scraper asks for it (`Accept: application/openmetrics-text`).
//!
//! The two differ in little: OpenMetrics names a counter family without its `_total`
//! suffix (the samples keep it), calls an info metric `info`, and ends with `# EOF`.

use super::histogram::{BOUNDS_LABEL, HistogramCounts};
use super::shared::{CLASSES, Counts, METHODS};
use std::fmt::{Display, Write};

/// Why a worker was replaced (`rsgi_worker_restarts_total{cause}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartCause {
    /// It exited on its own (a crash with an exit code).
    Exit,
    /// A signal nobody in the server sent killed it (the OOM killer, an operator).
    Signal,
    /// `--timeout`: the master aborted it.
    Timeout,
    /// `--max-worker-memory`.
    Memory,
    /// `--max-requests`.
    MaxRequests,
    /// `--max-worker-lifetime`.
    Lifetime,
    /// A reload (HUP) replaced it with a worker of the new generation.
    Reload,
}

impl RestartCause {
    /// Every cause, in the order of [`RestartCause::index`].
    pub const ALL: [RestartCause; 7] = [
        RestartCause::Exit,
        RestartCause::Signal,
        RestartCause::Timeout,
        RestartCause::Memory,
        RestartCause::MaxRequests,
        RestartCause::Lifetime,
        RestartCause::Reload,
    ];

    /// The `cause` label.
    pub fn label(self) -> &'static str {
        match self {
            RestartCause::Exit => "exit",
            RestartCause::Signal => "signal",
            RestartCause::Timeout => "timeout",
            RestartCause::Memory => "memory",
            RestartCause::MaxRequests => "max-requests",
            RestartCause::Lifetime => "lifetime",
            RestartCause::Reload => "reload",
        }
    }

    /// Its position in [`RestartCause::ALL`] (and in [`Snapshot::restarts`]).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a reload ended (`rsgi_reloads_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new generation replaced the old one.
    Succeeded,
    /// It never started: the configuration was invalid, an address could not be bound.
    Failed,
    /// The new generation could not boot; the previous one carries on.
    Abandoned,
}

impl ReloadOutcome {
    /// Every outcome, in the order of [`ReloadOutcome::index`].
    pub const ALL: [ReloadOutcome; 3] = [
        ReloadOutcome::Succeeded,
        ReloadOutcome::Failed,
        ReloadOutcome::Abandoned,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            ReloadOutcome::Succeeded => "succeeded",
            ReloadOutcome::Failed => "failed",
            ReloadOutcome::Abandoned => "abandoned",
        }
    }

    /// Its position in [`ReloadOutcome::ALL`] (and in [`Snapshot::reloads`]).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Worker states, the `state` label of `rsgi_workers`.
pub const WORKER_STATES: [&str; 4] = ["booting", "ready", "busy", "draining"];

/// One listener's accept queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backlog {
    /// The listener as the logs name it (`http://127.0.0.1:8000`).
    pub listener: String,
    /// Connections waiting to be accepted.
    pub queued: u64,
    /// The queue's limit.
    pub limit: u64,
}

/// Everything a scrape shows, gathered by the master.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Request counters of every worker, living and gone.
    pub counts: Counts,
    /// Requests in the application now.
    pub in_flight: u64,
    /// Client connections open now.
    pub connections: u64,
    /// Workers by state ([`WORKER_STATES`]).
    pub workers: [u64; WORKER_STATES.len()],
    /// Worker restarts by cause ([`RestartCause::ALL`]).
    pub restarts: [u64; RestartCause::ALL.len()],
    /// Reloads by outcome ([`ReloadOutcome::ALL`]).
    pub reloads: [u64; ReloadOutcome::ALL.len()],
    /// Accept queues of the TCP listeners.
    pub backlog: Vec<Backlog>,
    /// Resident memory of each worker, by scoreboard slot.
    pub rss: Vec<(usize, u64)>,
    /// When the master started, in seconds since the Unix epoch.
    pub start_time: f64,
}

/// Which text format to answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names it (with a
    /// quality above 0), Prometheus text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut params = range.split(';');
                let kind = params.next().unwrap_or("").trim();
                let refused = params.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                kind.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Info,
}

/// Writes families and samples in one format.
struct Out {
    text: String,
    format: Format,
}

impl Out {
    /// A family's `# HELP` and `# TYPE` lines. `name` is the family's base name: without
    /// `_total` for a counter, without `_info` for an info metric.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let (suffix, kind_name) = match (self.format, kind) {
            (Format::Prometheus, Kind::Counter) => ("_total", "counter"),
            (Format::Prometheus, Kind::Info) => ("_info", "gauge"),
            (Format::OpenMetrics, Kind::Counter) => ("", "counter"),
            (Format::OpenMetrics, Kind::Info) => ("", "info"),
            (_, Kind::Gauge) => ("", "gauge"),
            (_, Kind::Histogram) => ("", "histogram"),
        };
        let _ = writeln!(self.text, "# HELP {name}{suffix} {help}");
        let _ = writeln!(self.text, "# TYPE {name}{suffix} {kind_name}");
    }

    /// One sample line.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(key);
                self.text.push_str("=\"");
                escape_into(&mut self.text, value);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A histogram's samples: cumulative buckets, `_sum` (seconds) and `_count`.
    fn histogram(&mut self, name: &str, counts: &HistogramCounts) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, n) in counts.buckets.iter().enumerate() {
            cumulative = cumulative.wrapping_add(*n);
            let le = BOUNDS_LABEL.get(i).copied().unwrap_or("+Inf");
            self.sample(&bucket, &[("le", le)], cumulative);
        }
        self.sample(&format!("{name}_sum"), &[], seconds(counts.sum_ns));
        self.sample(&format!("{name}_count"), &[], cumulative);
    }
}

/// Nanoseconds as seconds, for a `_sum`.
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A label value with `\`, `"` and newlines escaped, as both formats require.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The metrics page.
pub fn render(s: &Snapshot, format: Format) -> String {
    let mut out = Out {
        text: String::with_capacity(8192),
        format,
    };
    requests(&mut out, s);
    out.family(
        "rsgi_requests_in_flight",
        Kind::Gauge,
        "Requests in the application now.",
    );
    out.sample("rsgi_requests_in_flight", &[], s.in_flight);
    out.family(
        "rsgi_connections",
        Kind::Gauge,
        "Client connections the workers hold open.",
    );
    out.sample("rsgi_connections", &[], s.connections);
    out.family(
        "rsgi_received_bytes",
        Kind::Counter,
        "Bytes read from clients (HTTP, after TLS decryption).",
    );
    out.sample("rsgi_received_bytes_total", &[], s.counts.received);
    out.family(
        "rsgi_sent_bytes",
        Kind::Counter,
        "Bytes written to clients (HTTP, before TLS encryption).",
    );
    out.sample("rsgi_sent_bytes_total", &[], s.counts.sent);
    out.family(
        "rsgi_requests_shed",
        Kind::Counter,
        "Requests answered 503 without the application for having waited longer than \
         --max-queue-time (also counted in rsgi_requests).",
    );
    out.sample("rsgi_requests_shed_total", &[], s.counts.shed);
    workers(&mut out, s);
    process(&mut out, s);
    if format == Format::OpenMetrics {
        out.text.push_str("# EOF\n");
    }
    out.text
}

/// Request counters and latency histograms.
fn requests(out: &mut Out, s: &Snapshot) {
    out.family(
        "rsgi_requests",
        Kind::Counter,
        "Requests answered, by method and status class (none: no response was sent).",
    );
    for (m, row) in s.counts.requests.iter().enumerate() {
        for (c, n) in row.iter().enumerate() {
            if *n != 0 {
                out.sample(
                    "rsgi_requests_total",
                    &[("method", METHODS[m]), ("status", CLASSES[c])],
                    n,
                );
            }
        }
    }
    out.family(
        "rsgi_request_duration_seconds",
        Kind::Histogram,
        "Time in the application, from its call until its response was handed to the \
         socket (requests the server answered itself are not included).",
    );
    out.histogram("rsgi_request_duration_seconds", &s.counts.duration);
    out.family(
        "rsgi_request_queue_wait_seconds",
        Kind::Histogram,
        "Time from a request being ready (its head, or its buffered body, received) until \
         the application was called.",
    );
    out.histogram("rsgi_request_queue_wait_seconds", &s.counts.queue_wait);
}

/// Workers, restarts, reloads, memory.
fn workers(out: &mut Out, s: &Snapshot) {
    out.family("rsgi_workers", Kind::Gauge, "Workers by state.");
    for (state, n) in WORKER_STATES.iter().zip(s.workers) {
        out.sample("rsgi_workers", &[("state", state)], n);
    }
    out.family(
        "rsgi_worker_restarts",
        Kind::Counter,
        "Workers replaced, by cause.",
    );
    for (cause, n) in RestartCause::ALL.iter().zip(s.restarts) {
        out.sample("rsgi_worker_restarts_total", &[("cause", cause.label())], n);
    }
    out.family("rsgi_reloads", Kind::Counter, "Reloads (HUP), by outcome.");
    for (outcome, n) in ReloadOutcome::ALL.iter().zip(s.reloads) {
        out.sample("rsgi_reloads_total", &[("outcome", outcome.label())], n);
    }
    out.family(
        "rsgi_worker_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of each worker, by scoreboard slot.",
    );
    for (slot, bytes) in &s.rss {
        out.sample(
            "rsgi_worker_resident_memory_bytes",
            &[("slot", &slot.to_string())],
            bytes,
        );
    }
    out.family(
        "rsgi_listen_backlog",
        Kind::Gauge,
        "Connections waiting in a listener's accept queue.",
    );
    for b in &s.backlog {
        out.sample(
            "rsgi_listen_backlog",
            &[("listener", &b.listener)],
            b.queued,
        );
    }
    out.family(
        "rsgi_listen_backlog_limit",
        Kind::Gauge,
        "The most connections a listener's accept queue holds.",
    );
    for b in &s.backlog {
        out.sample(
            "rsgi_listen_backlog_limit",
            &[("listener", &b.listener)],
            b.limit,
        );
    }
}

/// Build information and the master's start time.
fn process(out: &mut Out, s: &Snapshot) {
    out.family("rsgi_build", Kind::Info, "The server's version.");
    out.sample(
        "rsgi_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    out.family(
        "process_start_time_seconds",
        Kind::Gauge,
        "When the master process started, in seconds since the Unix epoch.",
    );
    out.sample("process_start_time_seconds", &[], s.start_time);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_accept() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0")),
            Format::Prometheus
        );
    }

    #[test]
    fn counters_follow_each_formats_naming_rules() {
        let mut s = Snapshot::default();
        s.counts.requests[0][2] = 3;
        s.counts.duration.buckets[1] = 2;
        s.counts.duration.buckets[15] = 1;
        let text = render(&s, Format::Prometheus);
        assert!(text.contains("# TYPE rsgi_requests_total counter\n"));
        assert!(text.contains("rsgi_requests_total{method=\"GET\",status=\"2xx\"} 3\n"));
        assert!(text.contains("rsgi_request_duration_seconds_bucket{le=\"0.0005\"} 0\n"));
        assert!(text.contains("rsgi_request_duration_seconds_bucket{le=\"0.001\"} 2\n"));
        assert!(text.contains("rsgi_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("rsgi_request_duration_seconds_count 3\n"));
        assert!(text.contains("# TYPE rsgi_build_info gauge\n"));
        assert!(!text.contains("# EOF"));
        let om = render(&s, Format::OpenMetrics);
        assert!(om.contains("# TYPE rsgi_requests counter\n"));
        assert!(om.contains("rsgi_requests_total{method=\"GET\",status=\"2xx\"} 3\n"));
        assert!(om.contains("# TYPE rsgi_build info\n"));
        assert!(om.ends_with("# EOF\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut text = String::new();
        escape_into(&mut text, "a\"b\\c\nd");
        assert_eq!(text, "a\\\"b\\\\c\\nd");
    }
}
