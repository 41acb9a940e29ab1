//! Plugin runtime benchmark (not a test): prints, in one run,
//!
//! 1. requests/s and p50/p99 latency of a trivial plugin route (`GET /echo/version`
//!    of the echo test plugin) served by the real computehub server, and of a
//!    native hyper handler answering the same body on the same machine, and
//!    their ratio (target >= 0.7);
//! 2. the µs of one instantiate + call of a plugin with the pooling allocator
//!    (target <= 10 µs), and of instantiation alone.
//!
//! Run: `cargo bench --bench runtime` (release build). Both servers and the
//! load generator share this process and the machine's cores, so the ratio,
//! not the absolute figure, is the comparison.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use computehub::config::Config;
use computehub::runtime::bindings::wit_types::{Method, Request};
use computehub::runtime::{call, CallContext, HostServices, Limits, Runtime};
use computehub::server;
use computehub::store::Store;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

const PLUGINS: &str = env!("COMPUTEHUB_TEST_PLUGINS");
const BODY: &str = r#"{"plugin":"echo","version":"1.0.0"}"#;
const CONNECTIONS: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Keep-alive HTTP/1.1 clients hammering `url` for `MEASURE`.
async fn load(addr: std::net::SocketAddr, path: &'static str) -> Load {
    let run = |dur: Duration| async move {
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
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client"));
        }
        all
    };
    run(WARMUP).await;
    let start = Instant::now();
    let mut lat = run(MEASURE).await;
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Load {
        rps: lat.len() as f64 / secs,
        p50: lat[lat.len() / 2],
        p99: lat[lat.len() * 99 / 100],
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

fn services(store: Arc<Store>) -> Arc<HostServices> {
    HostServices::new(store, Limits::default())
}

async fn plugin_server(dir: &std::path::Path) -> std::net::SocketAddr {
    let plugins = dir.join("plugins-dir");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(format!("{PLUGINS}/echo_v1.wasm"), plugins.join("echo.wasm")).expect("copy echo");
    let (app, _) = computehub::cli::open_app(
        &dir.join("data"),
        dir.join("cache"),
        Config::default(),
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
    let store = Arc::new(Store::open(&dir.join("data2")).expect("store"));
    let services = services(store);
    let runtime =
        Runtime::new(dir.join("cache"), Limits::default(), services.clone()).expect("runtime");
    let wasm = std::fs::read(format!("{PLUGINS}/echo_v1.wasm")).expect("echo");
    let loaded = runtime
        .load("echo", computehub::runtime::Role::Endpoint, &wasm, &[])
        .expect("load");
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
    };
    let n = 20_000;
    let mut best_call = f64::MAX;
    let mut best_inst = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            let r = call::handle(
                runtime.engine(),
                &loaded.pre,
                &permits,
                services.clone(),
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
    // Format every log line as the real server does, into a sink.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,wasmtime=warn,cranelift=warn",
        ))
        .with_writer(std::io::sink)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let plugin_addr = plugin_server(dir.path()).await;
        let native_addr = native_server().await;
        let native = load(native_addr, "/echo/version").await;
        let plugin = load(plugin_addr, "/echo/version").await;
        let (call_us, inst_us) = instantiate_and_call(dir.path()).await;
        println!(
            "connections: {CONNECTIONS}, measured {MEASURE:?} each, cores: {}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        println!(
            "native hyper handler : {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs",
            native.rps,
            native.p50.as_secs_f64() * 1e6,
            native.p99.as_secs_f64() * 1e6
        );
        println!(
            "plugin route (echo)  : {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs",
            plugin.rps,
            plugin.p50.as_secs_f64() * 1e6,
            plugin.p99.as_secs_f64() * 1e6
        );
        println!(
            "ratio plugin/native  : {:.2} (target >= 0.70)",
            plugin.rps / native.rps
        );
        println!("instantiate + call   : {call_us:.1} µs (target <= 10 µs)");
        println!("instantiate alone    : {inst_us:.1} µs");
    });
}
