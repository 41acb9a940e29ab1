//! Replicas benchmark (not a test, issue #20): in one run, kboss quotes/s
//! (`accrual_price`: endpoint -> inventory -> pricing engine) and device
//! pages/s (`get_cpcnode`, 80 of a center's 1,000 devices), each with p50
//! and p99 latency and the CPU time per request, for
//!
//! - SQLite, one process, with its read cache and with every read run;
//! - PostgreSQL (a throwaway local server, crates/pgtest) with one replica
//!   with its read cache and with every read run, and two and three
//!   replicas with it: in-process apps over one database, each with its own
//!   data dir (the first one's `seal.key` copied into the others) and its
//!   own loopback listener;
//!
//! and the ratios PostgreSQL / SQLite like for like (target: one replica
//! >= 0.7x).
//!
//! Load: [`CONNECTIONS`] concurrent keep-alive clients; each holds one
//! connection to every replica and sends its requests to them round-robin.
//! Each phase warms up for [`WARMUP`] and measures for `MEASURE` seconds
//! (`COMPUTEHUB_BENCH_SECONDS`, default 3).
//!
//! CPU per request: the process's user+system time (`/proc/self/stat`)
//! over the phase divided by its requests, so it includes the load clients,
//! and replicas in one process share the figure; for PostgreSQL, the
//! server's (postmaster and its backends, `/proc/<pid>/stat`) beside it.
//! With 2 cores more replicas cannot add throughput here; the CPU per
//! request shows what each replica would cost on machines of its own.
//!
//! Run: `cargo bench --bench replicas` (release build).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use computehub::config::Config;

mod common;
use common::{
    center, connect, devices, key, open, percentile, query, quote_uri, serve, widgets, CONNECTIONS,
    ORG, QUOTE_NEEDLE,
};

const WARMUP: Duration = Duration::from_millis(500);
const DEVICES: usize = 1_000;
/// The kernel's `USER_HZ`: the unit of `/proc/<pid>/stat` times.
const TICKS: f64 = 100.0;

fn measure_time() -> Duration {
    let secs = std::env::var("COMPUTEHUB_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// `(ppid, utime + stime in seconds)` of process `pid`.
fn proc_stat(pid: &str) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields resume after its `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((ppid, (utime + stime) / TICKS))
}

/// The PostgreSQL server's CPU seconds so far: the postmaster's and its
/// live children's (the pooled backends live through a phase).
fn postgres_cpu(postmaster: u32) -> f64 {
    let mut total = proc_stat(&postmaster.to_string()).map_or(0.0, |s| s.1);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some((ppid, cpu)) = proc_stat(&name) {
            if ppid == postmaster {
                total += cpu;
            }
        }
    }
    total
}

/// The 1-minute load average.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// CPU seconds so far: this process's, and PostgreSQL's when it serves.
fn cpu(postmaster: Option<u32>) -> (f64, f64) {
    let own = proc_stat("self").map_or(0.0, |s| s.1);
    (own, postmaster.map_or(0.0, postgres_cpu))
}

/// What a load phase asks.
struct Load {
    addrs: Vec<SocketAddr>,
    uri: String,
    key: String,
    needle: String,
}

/// [`CONNECTIONS`] clients asking `load` for `dur`, round-robin over the
/// replicas: every latency.
async fn run(load: &Arc<Load>, dur: Duration) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for client in 0..CONNECTIONS {
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::new();
            for addr in &load.addrs {
                conns.push(connect(*addr).await);
            }
            let mut lat = Vec::with_capacity(50_000);
            let mut next = client;
            let end = Instant::now() + dur;
            while Instant::now() < end {
                let send = &mut conns[next % load.addrs.len()];
                next += 1;
                lat.push(common::call(send, &load.uri, &load.key, &load.needle).await);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client"));
    }
    all
}

/// One phase's figures.
#[derive(Clone, Copy, Default)]
struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    /// CPU ms per request: this process, PostgreSQL.
    cpu_own: f64,
    cpu_pg: f64,
}

async fn phase(load: Load, postmaster: Option<u32>) -> Figures {
    let load = Arc::new(load);
    run(&load, WARMUP).await;
    let before = cpu(postmaster);
    let start = Instant::now();
    let mut lat = run(&load, measure_time()).await;
    let secs = start.elapsed().as_secs_f64();
    let after = cpu(postmaster);
    lat.sort_unstable();
    let n = lat.len() as f64;
    Figures {
        rate: n / secs,
        p50: percentile(&lat, 50),
        p99: percentile(&lat, 99),
        cpu_own: (after.0 - before.0) * 1e3 / n,
        cpu_pg: (after.1 - before.1) * 1e3 / n,
    }
}

/// A backend's row: quotes and pages.
struct Row {
    label: String,
    quotes: Figures,
    pages: Figures,
}

/// Both phases against `addrs`.
async fn measure(
    label: &str,
    addrs: &[SocketAddr],
    key: &str,
    cpcid: &str,
    postmaster: Option<u32>,
) -> Row {
    let quotes = phase(
        Load {
            addrs: addrs.to_vec(),
            uri: quote_uri(cpcid),
            key: key.into(),
            needle: QUOTE_NEEDLE.into(),
        },
        postmaster,
    )
    .await;
    let pages = phase(
        Load {
            addrs: addrs.to_vec(),
            uri: format!(
                "/dev/cpcc/cpcnode/get_cpcnode.dspy?{}",
                query(&[("cpcid", cpcid)])
            ),
            key: key.into(),
            needle: format!("\"total\":{DEVICES},"),
        },
        postmaster,
    )
    .await;
    eprintln!("measured {label}");
    Row {
        label: label.into(),
        quotes,
        pages,
    }
}

/// A center with [`DEVICES`] devices and the priced components of the
/// quote: its id.
async fn seed(app: &computehub::server::App) -> String {
    let cpcid = center(&app.store, ORG, "small").await;
    devices(&app.store, ORG, &cpcid, DEVICES).await;
    widgets(&app.store, ORG, &cpcid).await;
    cpcid
}

/// Replica `i` over the PostgreSQL database `url`, sharing replica 0's
/// seal key.
async fn replica(dir: &Path, i: usize, url: &str) -> (Arc<computehub::server::App>, SocketAddr) {
    let data = dir.join(format!("pg{i}"));
    if i > 0 {
        std::fs::create_dir_all(data.join("data")).expect("data dir");
        std::fs::copy(dir.join("pg0/data/seal.key"), data.join("data/seal.key")).expect("seal.key");
    }
    let app = open(
        &data,
        dir.join("cache"),
        Config::default(),
        Some(url.into()),
    )
    .await;
    let addr = serve(app.clone()).await;
    (app, addr)
}

fn cell(f: &Figures, pg: bool) -> String {
    let cpu = if pg {
        format!("{:.3}+{:.3}", f.cpu_own, f.cpu_pg)
    } else {
        format!("{:.3}", f.cpu_own)
    };
    format!("{:>8.0} {:>7.3} {:>7.3} {:>13}", f.rate, f.p50, f.p99, cpu)
}

fn main() {
    computehub::memory::configure();
    let rt = computehub::cli::runtime_tokio().expect("tokio");
    rt.block_on(async {
        let load_before = loadavg();
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path();
        let mut rows = Vec::new();

        let sqlite = open(
            &dir.join("sqlite"),
            dir.join("cache"),
            Config::default(),
            None,
        )
        .await;
        let key_sqlite = key(&sqlite).await;
        let cpcid = seed(&sqlite).await;
        let store = Arc::clone(&sqlite.store);
        let addr = serve(sqlite).await;
        rows.push(measure("SQLite, read cache", &[addr], &key_sqlite, &cpcid, None).await);
        // The same server with every read run (config `read-cache = false`).
        store.db().set_read_cache(false);
        rows.push(measure("SQLite, no read cache", &[addr], &key_sqlite, &cpcid, None).await);

        let url = pgtest::database();
        let server = pgtest::server();
        let postmaster = std::fs::read_to_string(server.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
        let mut apps = Vec::new();
        let mut addrs = Vec::new();
        let (app, addr) = replica(dir, 0, &url).await;
        let key_pg = key(&app).await;
        let cpcid = seed(&app).await;
        apps.push(app);
        addrs.push(addr);
        for n in 1..=3 {
            if n > 1 {
                let (app, addr) = replica(dir, n - 1, &url).await;
                apps.push(app);
                addrs.push(addr);
            }
            let label = format!(
                "PostgreSQL, {n} replica{}",
                if n == 1 { "" } else { "s" }
            );
            rows.push(measure(&label, &addrs, &key_pg, &cpcid, postmaster).await);
            if n == 1 {
                apps[0].store.db().set_read_cache(false);
                let label = "PostgreSQL, 1, no read cache";
                rows.push(measure(label, &addrs, &key_pg, &cpcid, postmaster).await);
                apps[0].store.db().set_read_cache(true);
            }
        }

        println!(
            "kboss on {} cores, {CONNECTIONS} clients round-robin over the replicas, {:.1} s a phase; \
             load average {load_before} before, {} after (other work on the machine skews the figures)",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            measure_time().as_secs_f64(),
            loadavg()
        );
        println!(
            "quotes: accrual_price (endpoint -> inventory -> pricing engine); \
             pages: get_cpcnode, 80 of {DEVICES} devices"
        );
        println!(
            "CPU ms/request: this process (server(s) and load clients; replicas share it) \
             + the PostgreSQL server"
        );
        println!(
            "{:<24} {:>8} {:>7} {:>7} {:>13}   {:>8} {:>7} {:>7} {:>13}   {:>6} {:>6}",
            "",
            "quotes/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/quote",
            "pages/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/page",
            "q/SQL",
            "p/SQL"
        );
        // Each row against SQLite doing the same: with its read cache, or
        // reading every time.
        for (i, row) in rows.iter().enumerate() {
            let pg = i > 1;
            let base = &rows[if row.label.contains("no read cache") { 1 } else { 0 }];
            println!(
                "{:<24} {}   {}   {:>6.2} {:>6.2}",
                row.label,
                cell(&row.quotes, pg),
                cell(&row.pages, pg),
                row.quotes.rate / base.quotes.rate,
                row.pages.rate / base.pages.rate
            );
        }
        println!(
            "target: PostgreSQL with 1 replica >= 0.70x SQLite: with the read caches quotes {:.2}x, pages {:.2}x; \
             reading every time quotes {:.2}x, pages {:.2}x",
            rows[2].quotes.rate / rows[0].quotes.rate,
            rows[2].pages.rate / rows[0].pages.rate,
            rows[3].quotes.rate / rows[1].quotes.rate,
            rows[3].pages.rate / rows[1].pages.rate
        );
    });
}
