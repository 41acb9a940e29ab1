//! Load from `wrk` (a load generator in a process of its own, written in C),
//! the tool issue #17's own figures were measured with. The in-process
//! hyper clients of the benches spend about a quarter of the machine's CPU;
//! `wrk` spends less, so on two cores the server gets more of them. Both
//! are printed; the ratios compare servers under the same tool.
//!
//! Used only when `wrk` is on `PATH` (Debian's package `wrk`); the benches
//! say so and go on without it otherwise.

use std::process::Command;
use std::time::Duration;

/// What one `wrk` run measured.
#[derive(Clone, Copy, Debug)]
pub struct Wrk {
    pub rps: f64,
    /// Latency percentiles, in ms.
    pub p50: f64,
    pub p99: f64,
}

/// Whether `wrk` can be run here.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// `wrk` with 2 threads and `connections` keep-alive connections loading
/// `http://addr{uri}` for `dur`, with `authorization: Bearer key` when
/// given. Run on a blocking thread, so the server in this process keeps its
/// workers. Panics when a response was not 2xx or 3xx or a socket failed:
/// a figure of failed requests is no figure.
pub async fn run(
    addr: std::net::SocketAddr,
    uri: &str,
    key: Option<&str>,
    connections: usize,
    dur: Duration,
) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "--latency", "-H", "host: bench"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", dur.as_secs().max(1)))
        .arg(format!("http://{addr}{uri}"));
    if let Some(key) = key {
        cmd.arg("-H").arg(format!("authorization: Bearer {key}"));
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("wrk thread")
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    parse(&text).unwrap_or_else(|| panic!("wrk's output not understood:\n{text}"))
}

/// Requests/s and the 50th and 99th latency percentiles of `wrk --latency`'s
/// report; None when a request failed or a figure is missing.
fn parse(text: &str) -> Option<Wrk> {
    if text.contains("Non-2xx or 3xx responses") || text.contains("Socket errors") {
        return None;
    }
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse::<f64>().ok(),
            (Some("50%"), Some(v)) => p50 = ms(v),
            (Some("99%"), Some(v)) => p99 = ms(v),
            _ => {}
        }
    }
    Some(Wrk {
        rps: rps?,
        p50: p50?,
        p99: p99?,
    })
}

/// `wrk`'s `812.00us`, `1.23ms`, `1.01s` in ms.
fn ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}
