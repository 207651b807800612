//! Scraping the server's `--metrics-bind` listener and reading the text format back.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{Builder, Conn, Response, Server, request};

/// A server started with `--metrics-bind 127.0.0.1:0`, and where its metrics are.
pub fn start_with_metrics(builder: Builder) -> (Server, SocketAddr) {
    let mut server = builder.args(["--metrics-bind", "127.0.0.1:0"]).start();
    let addr = metrics_addr(&mut server);
    (server, addr)
}

/// The address of the `Serving metrics at: http://HOST:PORT/metrics` line.
pub fn metrics_addr(server: &mut Server) -> SocketAddr {
    let line = server.wait_for_line("Serving metrics at: http://");
    let url = line.split("Serving metrics at: http://").nth(1).unwrap();
    url.trim_end()
        .trim_end_matches("/metrics")
        .parse()
        .unwrap_or_else(|e| panic!("metrics address in {line:?}: {e}"))
}

/// One request to the metrics listener; the whole response.
pub fn scrape_with(addr: SocketAddr, method: &str, path: &str, accept: Option<&str>) -> Response {
    let mut c = Conn::tcp(addr);
    let mut headers = vec![("Host", "metrics")];
    if let Some(accept) = accept {
        headers.push(("Accept", accept));
    }
    c.send(&request(method, path, &headers, b""));
    if method == "HEAD" {
        c.read_head_response()
    } else {
        c.read_response()
    }
}

/// `GET /metrics` in the Prometheus text format, parsed (and checked: see [`parse`]).
pub fn scrape(addr: SocketAddr) -> Metrics {
    let resp = scrape_with(addr, "GET", "/metrics", None);
    assert_eq!(resp.status(), 200, "{}", resp.text());
    parse(&resp.text())
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed page: its samples, and each family's declared type.
#[derive(Debug, Default)]
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
}

impl Metrics {
    /// The value of the sample named `name` whose labels include `labels`; panics unless
    /// exactly one matches.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    /// The value, or 0 when no sample matches (counters with no event yet are not shown).
    pub fn get_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// The samples named `name` whose labels include `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// A histogram's `(le, cumulative count)` buckets in page order, its `_count` and its
    /// `_sum`; checks that the buckets never decrease and that `+Inf` equals `_count`.
    pub fn histogram(&self, name: &str) -> (Vec<(String, f64)>, f64, f64) {
        let bucket = format!("{name}_bucket");
        let buckets: Vec<(String, f64)> = self
            .samples
            .iter()
            .filter(|s| s.name == bucket)
            .map(|s| (s.labels["le"].clone(), s.value))
            .collect();
        assert!(!buckets.is_empty(), "no buckets for {name}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name} buckets are not cumulative: {buckets:?}"
        );
        let count = self.get(&format!("{name}_count"), &[]);
        let sum = self.get(&format!("{name}_sum"), &[]);
        assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), count));
        (buckets, count, sum)
    }
}

/// Parses the Prometheus text format (or OpenMetrics), checking as it goes that every
/// sample belongs to a family declared by a `# TYPE` line before it, with a `# HELP`.
pub fn parse(text: &str) -> Metrics {
    let mut metrics = Metrics::default();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(helped.iter().any(|h| h == name), "no HELP before {line:?}");
            metrics.types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|e| panic!("value in {line:?}: {e}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let family_declared = metrics.types.keys().any(|family| {
            name == *family
                || ["_total", "_bucket", "_count", "_sum", "_info"]
                    .iter()
                    .any(|suffix| name == format!("{family}{suffix}"))
        });
        assert!(family_declared, "sample before its TYPE: {line:?}");
        metrics.samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    metrics
}
