//! Prometheus metrics: per-route request counts by status and a latency
//! histogram, plus plugin traps, deadline kills and overload rejections, and
//! the requests the host throttled (429) by reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl RouteStats {
    /// Add another shard's counts of the same route.
    fn merge(&mut self, other: &RouteStats) {
        for (status, n) in &other.by_status {
            *self.by_status.entry(*status).or_default() += n;
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    fn add(&mut self, status: u16, secs: f64) {
        *self.by_status.entry(status).or_default() += 1;
        self.count += 1;
        self.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i] += 1;
            }
        }
    }
}

/// Stats by plugin, method and route (nested, so counting a request of a
/// route seen before allocates nothing).
type Routes = BTreeMap<String, BTreeMap<String, BTreeMap<String, RouteStats>>>;

#[derive(Default)]
pub struct Metrics {
    /// One shard per thread that answers requests, merged when rendered:
    /// counting a request locks only its own thread's shard, so the counts
    /// do not move between cores with every request.
    routes: thread_local::ThreadLocal<Mutex<Routes>>,
    plugin_events: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Requests being answered now.
    pub in_flight: std::sync::atomic::AtomicI64,
    /// Requests answered 429 by the host, by reason.
    throttled: Mutex<BTreeMap<&'static str, u64>>,
    /// When set, `/metrics` answers only with this bearer token.
    pub token: std::sync::OnceLock<super::metrics_token::MetricsToken>,
}

/// Why the host answered 429 (`computehub_throttled_requests_total`).
pub const THROTTLE_REASONS: [&str; 2] = ["auth_failures", "org_rate"];

/// A plugin-level event counted in `computehub_plugin_events_total`.
#[derive(Debug, Clone, Copy)]
pub enum PluginEvent {
    Trap,
    DeadlineKill,
    Busy,
    MemoryLimit,
}

impl PluginEvent {
    fn as_str(self) -> &'static str {
        match self {
            PluginEvent::Trap => "trap",
            PluginEvent::DeadlineKill => "deadline_kill",
            PluginEvent::Busy => "busy",
            PluginEvent::MemoryLimit => "memory_limit",
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A method as a label: the standard ones by name, any extension method (a
/// token of the client's choosing, so without bound) as `other`.
fn method_label(method: &str) -> &str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    if STANDARD.contains(&method) {
        method
    } else {
        "other"
    }
}

impl Metrics {
    pub fn record(&self, plugin: &str, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let secs = elapsed.as_secs_f64();
        let shard = self.routes.get_or_default();
        let mut routes = shard.lock().unwrap_or_else(|p| p.into_inner());
        let seen = routes
            .get_mut(plugin)
            .and_then(|m| m.get_mut(method))
            .and_then(|m| m.get_mut(route));
        match seen {
            Some(s) => s.add(status, secs),
            None => routes
                .entry(plugin.to_string())
                .or_default()
                .entry(method.to_string())
                .or_default()
                .entry(route.to_string())
                .or_default()
                .add(status, secs),
        }
    }

    /// Every thread's shard, added up.
    fn merged(&self) -> Routes {
        let mut all = Routes::new();
        for shard in self.routes.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (plugin, method, route, s) in Self::each_route(&shard) {
                all.entry(plugin.to_string())
                    .or_default()
                    .entry(method.to_string())
                    .or_default()
                    .entry(route.to_string())
                    .or_default()
                    .merge(s);
            }
        }
        all
    }

    /// Every route's stats in (plugin, method, route) order.
    fn each_route(routes: &Routes) -> impl Iterator<Item = (&str, &str, &str, &RouteStats)> {
        routes.iter().flat_map(|(plugin, methods)| {
            methods.iter().flat_map(move |(method, paths)| {
                paths
                    .iter()
                    .map(move |(route, s)| (plugin.as_str(), method.as_str(), route.as_str(), s))
            })
        })
    }

    /// A request the host answered 429 (`reason` one of [`THROTTLE_REASONS`]).
    pub fn throttled(&self, reason: &'static str) {
        let mut t = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
        *t.entry(reason).or_default() += 1;
    }

    /// `computehub_throttled_requests_total`, every reason shown (0 too).
    fn render_throttled(&self, out: &mut String) {
        let t = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP computehub_throttled_requests_total Requests the host answered 429: failed authentication throttled (auth_failures), an organisation over its request rate (org_rate).\n");
        out.push_str("# TYPE computehub_throttled_requests_total counter\n");
        for reason in THROTTLE_REASONS {
            let n = t.get(reason).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "computehub_throttled_requests_total{{reason=\"{reason}\"}} {n}"
            );
        }
    }

    pub fn plugin_event(&self, plugin: &str, event: PluginEvent) {
        let mut ev = self.plugin_events.lock().unwrap_or_else(|p| p.into_inner());
        *ev.entry((plugin.to_string(), event.as_str())).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let routes = self.merged();
        out.push_str("# HELP computehub_requests_total Requests by plugin, route and status.\n");
        out.push_str("# TYPE computehub_requests_total counter\n");
        for (plugin, method, route, s) in Self::each_route(&routes) {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "computehub_requests_total{{plugin=\"{}\",method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(plugin),
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP computehub_request_duration_seconds Request latency by plugin and route.\n",
        );
        out.push_str("# TYPE computehub_request_duration_seconds histogram\n");
        for (plugin, method, route, s) in Self::each_route(&routes) {
            let labels = format!(
                "plugin=\"{}\",method=\"{method}\",route=\"{}\"",
                escape(plugin),
                escape(route)
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "computehub_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "computehub_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "computehub_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "computehub_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        drop(routes);
        out.push_str("# HELP computehub_plugin_events_total Plugin traps, deadline kills, memory-limit kills and overload rejections.\n");
        out.push_str("# TYPE computehub_plugin_events_total counter\n");
        let ev = self.plugin_events.lock().unwrap_or_else(|p| p.into_inner());
        for ((plugin, event), n) in ev.iter() {
            let _ = writeln!(
                out,
                "computehub_plugin_events_total{{plugin=\"{}\",event=\"{event}\"}} {n}",
                escape(plugin)
            );
        }
        drop(ev);
        self.render_throttled(&mut out);
        out
    }
}

/// Warm-instance counters of every active plugin version (endpoints and
/// engines): created, reused and discarded by reason, and idle now.
pub fn render_instances(app: &super::App) -> String {
    let mut out = String::new();
    out.push_str("# HELP computehub_plugin_instances_total Plugin instances by event (created, reused, discarded) and reason.\n");
    out.push_str("# TYPE computehub_plugin_instances_total counter\n");
    let mut idle = Vec::new();
    for p in app.registry.table().plugins.values() {
        let figures = super::admin::instances(app, p);
        if figures.is_null() {
            continue;
        }
        let id = escape(&p.id);
        for event in ["created", "reused"] {
            let n = figures[event].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "computehub_plugin_instances_total{{plugin=\"{id}\",event=\"{event}\",reason=\"\"}} {n}"
            );
        }
        if let Some(reasons) = figures["discarded"].as_object() {
            for (why, n) in reasons {
                let _ = writeln!(
                    out,
                    "computehub_plugin_instances_total{{plugin=\"{id}\",event=\"discarded\",reason=\"{why}\"}} {}",
                    n.as_u64().unwrap_or(0)
                );
            }
        }
        idle.push((id, figures["idle"].as_u64().unwrap_or(0)));
    }
    out.push_str("# HELP computehub_plugin_info The active version of each plugin: its own name and version.\n");
    out.push_str("# TYPE computehub_plugin_info gauge\n");
    for p in app.registry.table().plugins.values() {
        let _ = writeln!(
            out,
            "computehub_plugin_info{{plugin=\"{}\",name=\"{}\",version=\"{}\",role=\"{}\"}} 1",
            escape(&p.id),
            escape(&p.name),
            escape(&p.version),
            p.role.as_str()
        );
    }
    out.push_str("# HELP computehub_plugin_instances_idle Warm instances kept idle now.\n");
    out.push_str("# TYPE computehub_plugin_instances_idle gauge\n");
    for (id, n) in idle {
        let _ = writeln!(
            out,
            "computehub_plugin_instances_idle{{plugin=\"{id}\"}} {n}"
        );
    }
    out
}

/// The process (memory, CPU, descriptors), the build, requests in flight and
/// operations by status.
pub async fn render_process(app: &super::App) -> String {
    let mut out = String::new();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime, in clock ticks of 10 ms, after the command name.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory.",
            "gauge",
            (rss_kib * 1024) as f64,
        ),
        (
            "process_cpu_seconds_total",
            "CPU time, user and system.",
            "counter",
            ticks as f64 / 100.0,
        ),
        (
            "process_open_fds",
            "Open file descriptors.",
            "gauge",
            fds as f64,
        ),
        (
            "computehub_requests_in_flight",
            "Requests being answered now.",
            "gauge",
            app.metrics
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
        (
            "computehub_log_lines_dropped_total",
            "Log lines dropped because the log output did not keep up (the buffer was full).",
            "counter",
            crate::telemetry::dropped_lines() as f64,
        ),
    ];
    for (name, help, kind, v) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    out.push_str("# HELP computehub_build_info The build: version and wasmtime.\n# TYPE computehub_build_info gauge\n");
    let _ = writeln!(
        out,
        "computehub_build_info{{version=\"{}\",wasmtime=\"48\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(f) = app.store.db().read_cache() {
        out.push_str("# HELP computehub_store_read_cache_total Reads answered from what the read cache kept since the last commit (hit), or read anew (miss).\n# TYPE computehub_store_read_cache_total counter\n");
        for (result, n) in [("hit", f.hits), ("miss", f.misses)] {
            let _ = writeln!(
                out,
                "computehub_store_read_cache_total{{result=\"{result}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP computehub_operations Long operations by kind and status.\n# TYPE computehub_operations gauge\n");
    let counts: Vec<(String, String, i64)> = app
        .store
        .db()
        .query(
            "SELECT kind, status, COUNT(*) FROM operations GROUP BY kind, status",
            crate::store::db::params![],
        )
        .await
        .and_then(|rows| {
            rows.into_iter()
                .map(|mut r| Ok((r.take(0)?, r.take(1)?, r.take(2)?)))
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .unwrap_or_default();
    for (kind, status, n) in counts {
        let _ = writeln!(
            out,
            "computehub_operations{{kind=\"{}\",status=\"{}\"}} {n}",
            escape(&kind),
            escape(&status)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_share_one_series() {
        let m = Metrics::default();
        for i in 0..100 {
            m.record("-", &format!("X{i}"), "unmatched", 404, Duration::ZERO);
        }
        m.record("-", "PATCH", "unmatched", 404, Duration::ZERO);
        let text = m.render();
        let requests: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("computehub_requests_total{"))
            .collect();
        assert_eq!(requests.len(), 2, "{text}");
        assert!(
            text.contains(r#"computehub_requests_total{plugin="-",method="other",route="unmatched",status="404"} 100"#),
            "{text}"
        );
        assert!(!text.contains("X1"), "{text}");
    }

    #[test]
    fn counts_from_every_thread_are_added_up() {
        let m = Metrics::default();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..5 {
                        m.record(
                            "echo",
                            "GET",
                            "/echo/version",
                            200,
                            Duration::from_micros(300),
                        );
                    }
                    m.record("echo", "GET", "/echo/version", 503, Duration::from_secs(3));
                    m.record("echo", "GET", "/echo/sleep", 200, Duration::from_millis(2));
                });
            }
        });
        let text = m.render();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
                .rsplit_once(' ')
                .map(|(_, n)| n.to_string())
                .unwrap_or_default()
        };
        let labels = r#"plugin="echo",method="GET",route="/echo/version""#;
        assert_eq!(
            line(&format!(
                "computehub_requests_total{{{labels},status=\"200\"}}"
            )),
            "15"
        );
        assert_eq!(
            line(&format!(
                "computehub_requests_total{{{labels},status=\"503\"}}"
            )),
            "3"
        );
        assert_eq!(
            line(&format!(
                "computehub_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}}"
            )),
            "15"
        );
        assert_eq!(
            line(&format!(
                "computehub_request_duration_seconds_count{{{labels}}}"
            )),
            "18"
        );
        let sleep = r#"plugin="echo",method="GET",route="/echo/sleep""#;
        assert_eq!(
            line(&format!(
                "computehub_requests_total{{{sleep},status=\"200\"}}"
            )),
            "3"
        );
        // One series per route, however many threads counted it.
        assert_eq!(
            text.matches(&format!(
                "computehub_request_duration_seconds_count{{{labels}}}"
            ))
            .count(),
            1
        );
    }
}
