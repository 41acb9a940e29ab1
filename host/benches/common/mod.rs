//! What the kboss benchmarks share: seeding a center, its devices and its
//! priced components, an app over a data dir, serving it on loopback, and a
//! keep-alive HTTP/1 client.
//!
//! Each bench uses part of it.
#![allow(dead_code)]

pub mod log;
pub mod wrk;

use std::time::{Duration, Instant};

use bytes::Bytes;
use computehub::auth::{create_key, Scheme};
use computehub::config::Config;
use computehub::store::{Store, Value, Write};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// Concurrent keep-alive clients of the load phases.
pub const CONNECTIONS: usize = 16;

/// The document's four-item quote.
pub const RESOURCES: &str = r#"[{"type":"cpu","model":"INTEL(R) XEON(R) PLATINUM 8582C","amount":4},{"type":"memory","model":"Samsung DDR4 DIMMs","amount":8192},{"type":"disk","model":"DATA","amount":512},{"type":"gpu","model":"RTX5090-32G","amount":2}]"#;

/// What the quote of [`RESOURCES`] for one hour answers.
pub const QUOTE_NEEDLE: &str = "\"total_price\":64.08,";

/// The organisation every benchmark call belongs to.
pub const ORG: &str = "bench";

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn fields(pairs: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub async fn center(store: &Store, org: &str, name: &str) -> String {
    store
        .insert(
            org,
            "compute_centers",
            &fields(vec![
                ("name", text(name)),
                ("pcapi_url", text("https://pcapi.example")),
                ("api_user", text("u")),
                ("api_pwd", Value::Secret("bench-password".into())),
                ("contactname", text("c")),
                ("contactphone", text("")),
            ]),
        )
        .await
        .expect("center")
        .id
}

/// `n` devices in `cpcid`, inserted 1,000 to a transaction.
pub async fn devices(store: &Store, org: &str, cpcid: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let writes: Vec<Write> = chunk
            .iter()
            .map(|i| {
                Write::Insert(
                    "devices".into(),
                    fields(vec![
                        ("cpcid", text(cpcid)),
                        ("name", text(&format!("{cpcid}-node-{i:06}"))),
                        (
                            "ip",
                            text(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)),
                        ),
                        ("devicetype", text("1")),
                        ("sshport", Value::Integer(22)),
                        ("adminuser", text("root")),
                        ("adminpwd", Value::Secret("bench-password".into())),
                        ("node_status", text(if i % 3 == 0 { "0" } else { "1" })),
                        ("cpu_model", text("STANDARD")),
                        ("cpu_stock", Value::Integer(64)),
                        ("memory_model", text("STANDARD")),
                        ("memory_stock", Value::Integer(512)),
                        ("sysdisk_stock", Value::Integer(100)),
                        ("datadisk_stock", Value::Integer(2000)),
                        ("gpu_model", text("RTX5090-32G")),
                        ("gpu_stock", Value::Integer(8)),
                        ("role", text("worker")),
                    ]),
                )
            })
            .collect();
        store.transact(org, &writes).await.expect("devices");
    }
}

pub async fn widgets(store: &Store, org: &str, cpcid: &str) {
    for (kind, model, price, unit) in [
        ("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "1.5", "核"),
        ("memory", "Samsung DDR4 DIMMs", "0.005", "Mi"),
        ("disk", "DATA", "0.01", "Gi"),
        ("gpu", "RTX5090-32G", "6", "卡"),
        ("cpu", "STANDARD", "2.2", "核"),
        ("gpu", "A100-80G", "18", "卡"),
    ] {
        store
            .insert(
                org,
                "widgets",
                &fields(vec![
                    ("cpcid", text(cpcid)),
                    ("type", text(kind)),
                    ("model", text(model)),
                    ("unit_price", Value::Decimal(price.into())),
                    ("resource_unit", text(unit)),
                    ("charge_unit", text("小时")),
                    ("account_unit", text("元")),
                    ("stock", Value::Integer(0)),
                    ("consumed", Value::Integer(0)),
                ]),
            )
            .await
            .expect("widget");
    }
}

pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// The quote of [`RESOURCES`] for one hour in center `cpcid`.
pub fn quote_uri(cpcid: &str) -> String {
    format!(
        "/dev/cpcc/cpcwidget/accrual_price.dspy?{}",
        query(&[
            ("cpcid", cpcid),
            ("resources", RESOURCES),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ])
    )
}

pub type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

pub async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

/// One GET; answers its latency, checking the body holds `needle`.
pub async fn call(send: &mut Sender, uri: &str, key: &str, needle: &str) -> Duration {
    let req = http::Request::get(uri)
        .header("host", "bench")
        .header("authorization", format!("Bearer {key}"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let t = Instant::now();
    send.ready().await.expect("connection ready");
    let resp = send.send_request(req).await.expect("send");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&body);
    assert!(status == 200 && text.contains(needle), "{status} {text}");
    took
}

/// Percentile `p` of sorted latencies, in ms.
pub fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// An app over `dir` with `config`, its store in `database` (a PostgreSQL
/// URL) or else SQLite in the data dir. `cache` is where compiled plugins
/// are kept.
pub async fn open(
    dir: &std::path::Path,
    cache: std::path::PathBuf,
    mut config: Config,
    database: Option<String>,
) -> std::sync::Arc<computehub::server::App> {
    config.database = database;
    // `COMPUTEHUB_BENCH_PLUGINS_DIR=DIR`: plugins (`<id>.wasm`) loaded
    // instead of the built-in ones of the same id, to measure another
    // build of them (an SDK change) against this binary's.
    let plugins_dir =
        std::env::var_os("COMPUTEHUB_BENCH_PLUGINS_DIR").map(std::path::PathBuf::from);
    let (app, _) = computehub::cli::open_app(
        &dir.join("data"),
        cache,
        config,
        plugins_dir.as_deref(),
        Some("bench".into()),
    )
    .await
    .expect("app");
    app
}

/// A new bearer key of [`ORG`].
pub async fn key(app: &computehub::server::App) -> String {
    create_key(&app.store, ORG, Scheme::Bearer)
        .await
        .expect("key")
        .credential
}

/// An app over `dir` with `config`, and a bearer key of [`ORG`].
/// `COMPUTEHUB_BENCH_DATABASE=postgres`: the store in a fresh database of a
/// throwaway local PostgreSQL (crates/pgtest), else SQLite.
pub async fn bench_app(
    dir: &std::path::Path,
    config: Config,
) -> (std::sync::Arc<computehub::server::App>, String) {
    let database = (std::env::var("COMPUTEHUB_BENCH_DATABASE").as_deref() == Ok("postgres"))
        .then(pgtest::database);
    let app = open(dir, dir.join("cache"), config, database).await;
    let key = key(&app).await;
    (app, key)
}

/// Serve `app` on a loopback port.
pub async fn serve(app: std::sync::Arc<computehub::server::App>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(computehub::server::serve(
        listener,
        app,
        std::future::pending(),
    ));
    addr
}
