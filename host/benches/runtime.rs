//! Plugin runtime benchmark (not a test): prints, in one run,
//!
//! 1. requests/s and p50/p99 latency of a trivial plugin route (`GET /echo/version`
//!    of the echo test plugin) served by the real computehub server with
//!    `organisation` isolation (warm instances) and with `request` isolation
//!    (a fresh instance per request), and of a native hyper handler answering
//!    the same body on the same machine, and their ratios (target >= 0.7 for
//!    `organisation`, p99 <= 1 ms);
//! 2. the µs of one instantiate + call of a plugin with the pooling allocator
//!    (target <= 10 µs), and of instantiation alone (each the best of ten
//!    runs of 5,000).
//!
//! Run: `cargo bench --bench runtime` (release build). Both servers and the
//! load generator share this process and the machine's cores, so the ratio,
//! not the absolute figure, is the comparison. The servers are loaded in
//! alternating rounds, so a change of the machine's speed during the run
//! hits both; the spread of the rounds' ratios is printed too, as is the
//! process's CPU time per request (server and clients together).
//!
//! For profiling and experiments:
//! - `COMPUTEHUB_BENCH_ECHO=FILE` measures another build of the echo plugin
//!   (a different target, linker flags or toolchain) in both parts;
//! - `COMPUTEHUB_BENCH_CALL_ONLY=1` runs only part 2;
//! - `COMPUTEHUB_BENCH_LOG=FILTER` replaces the log filter (`warn` shows
//!   what the access log costs: since stop 42 within the noise);
//! - `COMPUTEHUB_BENCH_LOG_TO=buffered|file|sink`: where the log lines go
//!   (`common::log`; `buffered`, the server's way, by default);
//! - `COMPUTEHUB_BENCH_ONLY=native|plugin` loads only that server, for 5 s,
//!   and writes `measuring` to stderr when the measured part starts, so
//!   `perf record -p` can attach then (startup compiles every built-in
//!   plugin, which would otherwise fill the profile).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use computehub::bindings::wit_types::{Method, Request};
use computehub::capabilities::Capabilities;
use computehub::config::Config;
use computehub::runtime::{call, CallContext, HostServices, Limits, Runtime};
use computehub::server;
use computehub::store::Store;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

mod common;

const PLUGINS: &str = env!("COMPUTEHUB_TEST_PLUGINS");
const BODY: &str = r#"{"plugin":"echo","version":"1.0.0"}"#;
const CONNECTIONS: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
/// The two servers are measured in alternating rounds, so a change in the
/// machine's speed during the run (other load, a shared host) hits both.
const ROUNDS: usize = 8;
const ROUND: Duration = Duration::from_secs(1);

/// The latencies of one round's requests, its length and the CPU time of
/// this whole process (server and clients) meanwhile.
struct Round {
    lat: Vec<Duration>,
    secs: f64,
    cpu: Duration,
}

impl Round {
    fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.secs
    }
}

struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of this whole process (server and clients) per request.
    cpu_per_req: Duration,
}

impl Load {
    fn of(rounds: Vec<Round>) -> Load {
        let secs: f64 = rounds.iter().map(|r| r.secs).sum();
        let cpu: Duration = rounds.iter().map(|r| r.cpu).sum();
        let mut lat: Vec<Duration> = rounds.into_iter().flat_map(|r| r.lat).collect();
        lat.sort_unstable();
        Load {
            rps: lat.len() as f64 / secs,
            p50: lat[lat.len() / 2],
            p99: lat[lat.len() * 99 / 100],
            cpu_per_req: cpu / lat.len().max(1) as u32,
        }
    }
}

/// CPU time this process has used so far (user + system), from
/// `/proc/self/stat` in clock ticks of 10 ms; zero where that is missing.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // utime and stime are the 12th and 13th fields after the parenthesised
    // command name (the 14th and 15th of the line).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// `CONNECTIONS` keep-alive HTTP/1.1 clients hammering `path` for `dur`.
async fn round(addr: std::net::SocketAddr, path: &'static str, dur: Duration) -> Round {
    let start = Instant::now();
    let cpu = process_cpu();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut lat = Vec::with_capacity(100_000);
            let end = Instant::now() + dur;
            while Instant::now() < end {
                let req = http::Request::get(path)
                    .header("host", "bench")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let t = Instant::now();
                let resp = send.send_request(req).await.expect("send");
                assert_eq!(resp.status(), 200);
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                assert!(body.starts_with(b"{\"plugin\":\"echo\""));
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    Round {
        lat,
        secs: start.elapsed().as_secs_f64(),
        cpu: process_cpu().saturating_sub(cpu),
    }
}

async fn native_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).ok();
            let builder = builder.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let mut r = http::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json;charset=utf-8"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    addr
}

/// The echo plugin measured: the built one, or `COMPUTEHUB_BENCH_ECHO`.
fn echo_wasm() -> String {
    std::env::var("COMPUTEHUB_BENCH_ECHO").unwrap_or_else(|_| format!("{PLUGINS}/echo_v1.wasm"))
}

fn services(store: Arc<Store>) -> Arc<HostServices> {
    HostServices::new(Capabilities::new(store), Limits::default())
}

/// The server with the echo plugin under `isolation` (its own data dir).
async fn plugin_server(dir: &std::path::Path, isolation: &str) -> std::net::SocketAddr {
    let dir = dir.join(isolation);
    let plugins = dir.join("plugins-dir");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(echo_wasm(), plugins.join("echo.wasm")).expect("copy echo");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[plugins.echo]\nrole = \"endpoint\"\ngrants = [\"log\"]\nisolation = \"{isolation}\"\npublic-routes = [\"/echo/version\", \"/echo/sleep\"]\n"),
    )
    .expect("config");
    let (app, _) = computehub::cli::open_app(
        &dir.join("data"),
        dir.parent().expect("bench dir").join("cache"),
        Config::load(Some(&config)).expect("config"),
        Some(&plugins),
        Some("bench".into()),
    )
    .await
    .expect("app");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, app, std::future::pending()));
    addr
}

async fn instantiate_and_call(dir: &std::path::Path) -> (f64, f64) {
    let store = Arc::new(Store::open(&dir.join("data2")).await.expect("store"));
    let services = services(store);
    let runtime =
        Runtime::new(dir.join("cache"), Limits::default(), services.clone()).expect("runtime");
    let wasm = std::fs::read(echo_wasm()).expect("echo");
    let loaded = runtime
        .load(
            "echo",
            computehub::runtime::Role::Endpoint,
            &wasm,
            &[],
            computehub::runtime::Isolation::Request,
        )
        .await
        .expect("load");
    let endpoint = loaded.endpoint.clone().expect("echo is an endpoint plugin");
    let permits = tokio::sync::Semaphore::new(64);
    let req = || Request {
        request_id: "bench".into(),
        method: Method::Get,
        path: "/echo/version".into(),
        route: "/echo/version".into(),
        params: vec![],
        query: String::new(),
        headers: vec![],
        body: vec![],
        principal: None,
    };
    let ctx = || CallContext {
        plugin: "echo".into(),
        request_id: "bench".into(),
        organisation: None,
        operation: None,
    };
    let n = 5_000;
    let mut best_call = f64::MAX;
    let mut best_inst = f64::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        for _ in 0..n {
            let r = call::handle_endpoint(
                &endpoint,
                &permits,
                &services,
                ctx(),
                Duration::from_secs(5),
                req(),
            )
            .await
            .expect("call");
            assert_eq!(r.status, 200);
        }
        best_call = best_call.min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            let mut store = call::new_store(
                runtime.engine(),
                ctx(),
                services.clone(),
                Duration::from_secs(5),
            );
            let _ = loaded
                .pre
                .instantiate_async(&mut store)
                .await
                .expect("instantiate");
        }
        best_inst = best_inst.min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    (best_call, best_inst)
}

fn main() {
    computehub::memory::configure();
    let _log = common::log::init();
    let rt = computehub::cli::runtime_tokio().expect("tokio");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        if std::env::var_os("COMPUTEHUB_BENCH_CALL_ONLY").is_some() {
            let (call_us, inst_us) = instantiate_and_call(dir.path()).await;
            println!("instantiate + call   : {call_us:.1} µs (target <= 10 µs)");
            println!("instantiate alone    : {inst_us:.1} µs");
            return;
        }
        let plugin_addr = plugin_server(dir.path(), "organisation").await;
        let fresh_addr = plugin_server(dir.path(), "request").await;
        let native_addr = native_server().await;
        if let Ok(which) = std::env::var("COMPUTEHUB_BENCH_ONLY") {
            let addr = match which.as_str() {
                "native" => native_addr,
                "request" => fresh_addr,
                _ => plugin_addr,
            };
            round(addr, "/echo/version", WARMUP).await;
            eprintln!("measuring");
            let r = round(addr, "/echo/version", Duration::from_secs(5)).await;
            println!("{which}: {:.0} req/s", r.rps());
            return;
        }
        round(native_addr, "/echo/version", WARMUP).await;
        round(plugin_addr, "/echo/version", WARMUP).await;
        round(fresh_addr, "/echo/version", WARMUP).await;
        let (mut native, mut plugin, mut fresh, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let n = round(native_addr, "/echo/version", ROUND).await;
            let p = round(plugin_addr, "/echo/version", ROUND).await;
            let f = round(fresh_addr, "/echo/version", ROUND).await;
            ratios.push(p.rps() / n.rps());
            native.push(n);
            plugin.push(p);
            fresh.push(f);
        }
        ratios.sort_by(f64::total_cmp);
        let (native, plugin, fresh) = (Load::of(native), Load::of(plugin), Load::of(fresh));
        let (call_us, inst_us) = instantiate_and_call(dir.path()).await;
        println!(
            "connections: {CONNECTIONS}, {ROUNDS} alternating rounds of {ROUND:?} each, cores: {}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        for (name, l) in [
            ("native hyper handler          ", &native),
            ("plugin route, organisation iso", &plugin),
            ("plugin route, request iso     ", &fresh),
        ] {
            println!(
                "{name} : {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs  cpu {:>5.1} µs/req",
                l.rps,
                l.p50.as_secs_f64() * 1e6,
                l.p99.as_secs_f64() * 1e6,
                l.cpu_per_req.as_secs_f64() * 1e6
            );
        }
        println!(
            "ratio organisation/native : {:.2} (target >= 0.70, p99 <= 1 ms); rounds {:.2}..{:.2}; by CPU per request {:.2}",
            plugin.rps / native.rps,
            ratios[0],
            ratios[ratios.len() - 1],
            native.cpu_per_req.as_secs_f64() / plugin.cpu_per_req.as_secs_f64().max(1e-9)
        );
        println!(
            "ratio request/native      : {:.2}; organisation/request {:.2}",
            fresh.rps / native.rps,
            plugin.rps / fresh.rps
        );
        println!("instantiate + call   : {call_us:.1} µs (target <= 10 µs)");
        println!("instantiate alone    : {inst_us:.1} µs");
        if common::wrk::available() {
            by_wrk([native_addr, plugin_addr, fresh_addr]).await;
        } else {
            println!("(wrk is not installed: no figures from a load generator of its own)");
        }
    });
}

/// The same three servers loaded by `wrk` (a process of its own, the tool
/// issue #17's figures were measured with), in `ROUNDS` alternating rounds
/// of 2 s: mean req/s, the worst round's p50 and p99, and the ratios.
async fn by_wrk(addrs: [std::net::SocketAddr; 3]) {
    let mut figures: [Vec<common::wrk::Wrk>; 3] = Default::default();
    let mut ratios = Vec::new();
    for _ in 0..ROUNDS {
        for (i, addr) in addrs.iter().enumerate() {
            let w = common::wrk::run(
                *addr,
                "/echo/version",
                None,
                CONNECTIONS,
                Duration::from_secs(2),
            )
            .await;
            figures[i].push(w);
        }
        let n = figures[0].len() - 1;
        ratios.push(figures[1][n].rps / figures[0][n].rps);
    }
    ratios.sort_by(f64::total_cmp);
    let mean = |f: &[common::wrk::Wrk]| f.iter().map(|w| w.rps).sum::<f64>() / f.len() as f64;
    println!("by wrk ({CONNECTIONS} connections, 2 threads, its own process), {ROUNDS} alternating rounds of 2 s:");
    for (name, f) in [
        ("native hyper handler          ", &figures[0]),
        ("plugin route, organisation iso", &figures[1]),
        ("plugin route, request iso     ", &figures[2]),
    ] {
        let worst = |g: fn(&common::wrk::Wrk) -> f64| f.iter().map(g).fold(0.0, f64::max);
        println!(
            "{name} : {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs (worst round)",
            mean(f),
            worst(|w| w.p50) * 1e3,
            worst(|w| w.p99) * 1e3
        );
    }
    println!(
        "ratio organisation/native by wrk : {:.2} (target >= 0.70, p99 <= 1 ms); rounds {:.2}..{:.2}",
        mean(&figures[1]) / mean(&figures[0]),
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!(
        "ratio request/native by wrk      : {:.2}",
        mean(&figures[2]) / mean(&figures[0])
    );
}
