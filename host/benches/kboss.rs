//! kboss benchmark (not a test): prints
//!
//! 1. `get_cpcnode` page latency (p50, p99) for a center of 1,000 devices
//!    and one of 100,000 (target: the same within noise, under 2 ms), for
//!    the default order and sorted by name. Sequential calls on one
//!    keep-alive connection, so the figure is server time plus one loopback
//!    round trip;
//! 2. quotes/s of `accrual_price` (the document's four-item example) through
//!    the kboss endpoint, the inventory and the pricing engine plugin, with
//!    16 keep-alive clients (target >= 20,000/s with `organisation`
//!    isolation), and their p50/p99, for `organisation` isolation (warm
//!    instances) and for `request` isolation (fresh instances), measured in
//!    alternating rounds on two servers.
//!
//! 3. the same two calls in process, straight into the kboss plugin (no
//!    HTTP, no client): the server-side time of the plugin, the inventory
//!    and the pricing engine;
//! 4. a page of 20 rows of a plugin collection, filtered on a reference
//!    field, among 100,000 rows under one parent, straight into the store:
//!    with the indexes in page order and the counts a table gets since stop
//!    27, and on a table without them, as an earlier host made it (each
//!    read after a commit, so SQLite's read cache does not answer it).
//!
//! Run: `cargo bench --bench kboss` (release build);
//! `COMPUTEHUB_BENCH_DATABASE=postgres` runs it with the store in a local
//! PostgreSQL started for the run. The server and the load
//! generator share this process and the machine's cores.
//!
//! For profiling, `COMPUTEHUB_BENCH_QUOTES_ONLY=1` seeds only the small
//! center and runs only the quote load; `measuring` goes to stderr when the
//! measured part starts, so `perf record -p` can attach then;
//! `COMPUTEHUB_BENCH_QUOTES_ONLY=organisation` loads only the warm server.
//! `COMPUTEHUB_BENCH_PLUGINS_DIR=DIR` loads the plugins in `DIR` (`kboss.wasm`,
//! `pricing.wasm`, ...) instead of the built-in ones: another build of them
//! measured against this binary's, in one session. The server logs as the
//! real one does (`common::log`: `COMPUTEHUB_BENCH_LOG=warn` turns the
//! access log off; before stop 42 it logged nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::time::{Duration, Instant};

use computehub::bindings::wit_types::{AuthScheme, Method, Principal, Request};
use computehub::config::Config;
use computehub::runtime::{call, CallContext};

mod common;
use common::{
    bench_app, center, connect, devices, percentile, query, quote_uri, serve, text, widgets,
    CONNECTIONS, ORG, QUOTE_NEEDLE, RESOURCES,
};

const PAGE_CALLS: usize = 2_000;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

/// Sequential `call::handle` into the kboss plugin: p50/p99 in ms.
async fn plugin_time(
    app: &computehub::server::App,
    org: &str,
    route: &str,
    query: String,
) -> (f64, f64) {
    let table = app.registry.table();
    let kboss = table.plugins.get("kboss").expect("kboss plugin");
    let services = app.registry.runtime.services.clone();
    let mut lat = Vec::with_capacity(PAGE_CALLS);
    for i in 0..PAGE_CALLS + 50 {
        let req = Request {
            request_id: "bench".into(),
            method: Method::Get,
            path: route.into(),
            route: route.into(),
            params: vec![],
            query: query.clone(),
            headers: vec![],
            body: vec![],
            principal: Some(Principal {
                organisation: org.into(),
                key_id: "bench".into(),
                scheme: AuthScheme::Session,
            }),
        };
        let ctx = CallContext {
            plugin: "kboss".into(),
            request_id: "bench".into(),
            organisation: Some(org.into()),
            operation: None,
        };
        let t = Instant::now();
        let resp = call::handle(
            app.registry.runtime.engine(),
            &kboss.pre,
            &kboss.permits,
            services.clone(),
            ctx,
            Duration::from_secs(5),
            req,
        )
        .await
        .expect("call");
        let took = t.elapsed();
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        if i >= 50 {
            lat.push(took);
        }
    }
    lat.sort_unstable();
    (percentile(&lat, 50), percentile(&lat, 99))
}

async fn in_process(app: &computehub::server::App, org: &str, small: &str, large: &str) {
    // The store alone: one page of 80 devices, as the plugin asks for it.
    let q = computehub::store::Query {
        conditions: vec![computehub::store::Condition {
            field: "cpcid".into(),
            op: computehub::store::Comparison::Eq,
            value: text(large),
        }],
        limit: Some(80),
        ..Default::default()
    };
    let mut lat = Vec::with_capacity(PAGE_CALLS);
    for _ in 0..PAGE_CALLS {
        let t = Instant::now();
        let page = app.store.query(org, "devices", &q).await.expect("query");
        lat.push(t.elapsed());
        assert_eq!(page.rows.len(), 80);
    }
    lat.sort_unstable();
    println!(
        "store query, 80 of 100,000 devices: {:.3} ms / {:.3} ms",
        percentile(&lat, 50),
        percentile(&lat, 99)
    );
    let table = app.registry.table();
    for id in ["kboss", "pricing"] {
        let pre = &table.plugins.get(id).expect("plugin").pre;
        let n = 5_000;
        let t = Instant::now();
        for _ in 0..n {
            let ctx = CallContext {
                plugin: id.into(),
                request_id: "bench".into(),
                organisation: Some(org.into()),
                operation: None,
            };
            let mut store = call::new_store(
                app.registry.runtime.engine(),
                ctx,
                app.registry.runtime.services.clone(),
                Duration::from_secs(5),
            );
            let _ = pre
                .instantiate_async(&mut store)
                .await
                .expect("instantiate");
        }
        println!(
            "instantiate {id:<7} alone: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
    println!("in process, straight into the plugin ({PAGE_CALLS} sequential calls, p50 / p99):");
    for (label, cpcid) in [("1,000", small), ("100,000", large)] {
        let (p50, p99) = plugin_time(
            app,
            org,
            "/dev/cpcc/cpcnode/get_cpcnode.dspy",
            query(&[("cpcid", cpcid)]),
        )
        .await;
        println!("  get_cpcnode, {label:>7} devices: {p50:>6.3} ms / {p99:>6.3} ms");
    }
    let (p50, p99) = plugin_time(
        app,
        org,
        "/dev/cpcc/cpclabel/get_cpclabel.dspy",
        String::new(),
    )
    .await;
    println!("  get_cpclabel (empty: baseline): {p50:>6.3} ms / {p99:>6.3} ms");
    let (p50, p99) = plugin_time(
        app,
        org,
        "/dev/cpcc/cpcwidget/accrual_price.dspy",
        query(&[
            ("cpcid", small),
            ("resources", RESOURCES),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ]),
    )
    .await;
    println!("  accrual_price                 : {p50:>6.3} ms / {p99:>6.3} ms");
}

/// Alternating rounds of the quote load on the two servers.
const QUOTE_ROUNDS: usize = 4;

/// A server answering the document's quote, and how to ask it.
#[derive(Clone, Copy)]
struct QuoteTarget {
    addr: std::net::SocketAddr,
    uri: &'static str,
    key: &'static str,
}

impl QuoteTarget {
    fn new(addr: std::net::SocketAddr, small: &str, key: String) -> Self {
        let uri = quote_uri(small);
        QuoteTarget {
            addr,
            uri: Box::leak(uri.into_boxed_str()),
            key: Box::leak(key.into_boxed_str()),
        }
    }
}

/// `CONNECTIONS` keep-alive clients asking for the quote for `dur`.
async fn quote(t: QuoteTarget, dur: Duration) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut send = connect(t.addr).await;
            let mut lat = Vec::with_capacity(100_000);
            let end = Instant::now() + dur;
            while Instant::now() < end {
                lat.push(common::call(&mut send, t.uri, t.key, QUOTE_NEEDLE).await);
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

/// The quote load from `wrk`, a process of its own (as issue #17's figures
/// were measured), in alternating rounds: mean quotes/s, and the worst
/// round's p50 and p99.
async fn quotes_by_wrk(warm: QuoteTarget, fresh: QuoteTarget, warm_only: bool) {
    let round = Duration::from_secs(2);
    let mut figures = [Vec::new(), Vec::new()];
    for _ in 0..QUOTE_ROUNDS {
        for (i, t) in [warm, fresh].into_iter().enumerate() {
            if i == 1 && warm_only {
                continue;
            }
            let w = common::wrk::run(t.addr, t.uri, Some(t.key), CONNECTIONS, round).await;
            figures[i].push(w);
        }
    }
    let mut rates = Vec::new();
    for (label, rounds) in [("organisation", &figures[0]), ("request     ", &figures[1])] {
        if rounds.is_empty() {
            continue;
        }
        let rate = rounds.iter().map(|w| w.rps).sum::<f64>() / rounds.len() as f64;
        let worst = |f: fn(&common::wrk::Wrk) -> f64| rounds.iter().map(f).fold(0.0, f64::max);
        rates.push(rate);
        println!(
            "accrual_price by wrk ({CONNECTIONS} connections, 2 threads, its own process), \
             {label} isolation: {rate:.0} quotes/s, p50 {:.3} ms, p99 {:.3} ms",
            worst(|w| w.p50),
            worst(|w| w.p99)
        );
    }
    if let [warm, fresh] = rates[..] {
        println!(
            "quotes/s by wrk, organisation / request isolation: {:.2}",
            warm / fresh.max(1e-9)
        );
    }
}

/// A second server whose kboss and pricing plugins use `request` isolation
/// (a fresh instance per call), with the small center's priced components.
async fn quote_server(dir: &std::path::Path) -> QuoteTarget {
    let mut config = Config::default();
    for id in ["kboss", "pricing"] {
        if let Some(p) = config.plugins.get_mut(id) {
            p.isolation = computehub::runtime::Isolation::Request;
        }
    }
    let (app, key) = bench_app(dir, config).await;
    let small = center(&app.store, ORG, "small").await;
    widgets(&app.store, ORG, &small).await;
    let addr = serve(app).await;
    QuoteTarget::new(addr, &small, key)
}

/// Part 4: pages of 20 of 100,000 children of one parent, p50 / p99 in ms,
/// for a table as this host makes it and one as an earlier host made it.
async fn collection_pages() {
    use computehub::store::db::params;
    use computehub::store::schema::Mode;
    use computehub::store::{
        collections::FieldKind, CollectionDecl, FieldDecl, Query, Store, Value,
    };
    const ROWS: u32 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let field = |name: &str, references: Option<&str>| FieldDecl {
        name: name.into(),
        kind: FieldKind::Text,
        required: true,
        unique: false,
        references: references.map(Into::into),
    };
    let child = |name: &str| CollectionDecl {
        name: name.into(),
        fields: vec![field("parent", Some("parents")), field("model", None)],
        unique_keys: vec![vec!["parent".into(), "model".into()]],
        indexes: vec![],
    };
    let decls = vec![
        CollectionDecl {
            name: "parents".into(),
            fields: vec![field("name", None)],
            unique_keys: vec![],
            indexes: vec![],
        },
        child("children"),
        child("legacy"),
    ];
    let parent = {
        let s = Store::open(dir.path()).await.expect("store");
        s.ensure_organisation(ORG).await.expect("org");
        s.declare("bench", "1.0.0", &decls, Mode::Upgrade)
            .await
            .expect("declare");
        let p = s
            .insert(ORG, "bench.parents", &[("name".into(), text("p"))])
            .await
            .expect("parent")
            .id;
        // `legacy` as a host before stop 27 left it: no index in page
        // order, no counts.
        s.db()
            .batch(
                r#"DROP INDEX "bench.legacy.o.parent";
                   DROP TRIGGER "bench.legacy.c.parent.insert";
                   DROP TRIGGER "bench.legacy.c.parent.delete";
                   DROP TRIGGER "bench.legacy.c.parent.update";"#,
            )
            .await
            .expect("legacy");
        for table in ["bench.children", "bench.legacy"] {
            s.db()
                .execute(
                    &format!(
                        r#"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
                           INSERT INTO "{table}" (id, org_id, created_at, updated_at, parent, model)
                           SELECT printf('row%07d', i), ?1, printf('2026-12-04T00:00:%09.6fZ', i / 1000000.0),
                                  '2026-12-04T00:00:00Z', ?2, printf('m%07d', i) FROM n"#
                    ),
                    params![ORG, p.as_str()],
                )
                .await
                .expect("rows");
        }
        p
    };
    // Opened again, so the store learns `legacy` is not counted.
    let s = Store::open(dir.path()).await.expect("store");
    let q = Query {
        conditions: vec![computehub::store::Condition {
            field: "parent".into(),
            op: computehub::store::Comparison::Eq,
            value: Value::Text(parent),
        }],
        limit: Some(20),
        ..Query::default()
    };
    println!("a page of 20 of 100,000 rows under one parent, straight into the store (p50 / p99)");
    for (label, table) in [
        ("in page order, counted", "bench.children"),
        ("as before stop 27     ", "bench.legacy"),
    ] {
        let mut lat = Vec::new();
        for i in 0..220 {
            // A commit first (untimed): the page is read from the table,
            // not from what SQLite's read cache kept of the last call.
            s.db()
                .execute(
                    "UPDATE \"bench.parents\" SET name = ?1",
                    params![format!("p{i}")],
                )
                .await
                .expect("commit");
            let t = Instant::now();
            let page = s.query(ORG, table, &q).await.expect("page");
            if i >= 20 {
                lat.push(t.elapsed());
            }
            assert_eq!((page.total, page.rows.len()), (u64::from(ROWS), 20));
        }
        lat.sort_unstable();
        println!(
            "  {label}: {:>7.3} ms / {:>7.3} ms",
            percentile(&lat, 50),
            percentile(&lat, 99)
        );
    }
}

fn main() {
    computehub::memory::configure();
    // Logged as the server logs (since stop 42; the figures before it were
    // of a server writing no log at all).
    let _log = common::log::init();
    let rt = computehub::cli::runtime_tokio().expect("tokio");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (app, key) = bench_app(dir.path(), Config::default()).await;
        let org = ORG;
        let t = Instant::now();
        let small = center(&app.store, org, "small").await;
        devices(&app.store, org, &small, 1_000).await;
        let quotes_only = std::env::var_os("COMPUTEHUB_BENCH_QUOTES_ONLY").is_some();
        let large = center(&app.store, org, "large").await;
        let large_devices = if quotes_only { 0 } else { 100_000 };
        devices(&app.store, org, &large, large_devices).await;
        widgets(&app.store, org, &small).await;
        println!(
            "seeded {} devices in {:.1} s ({})",
            1_000 + large_devices,
            t.elapsed().as_secs_f64(),
            app.store.db().describe()
        );
        if !quotes_only {
            in_process(&app, org, &small, &large).await;
            collection_pages().await;
        }
        let addr = serve(app).await;

        let boards = if quotes_only {
            vec![]
        } else {
            println!("get_cpcnode, {PAGE_CALLS} sequential calls each, 80 rows a page (p50 / p99)");
            vec![("1,000", &small, 1_000), ("100,000", &large, 100_000)]
        };
        let mut send = connect(addr).await;
        for (label, cpcid, total) in boards {
            for (order, extra) in [("default order", None), ("sort=name", Some("name"))] {
                let mut pairs = vec![("cpcid", cpcid.as_str())];
                if let Some(s) = extra {
                    pairs.push(("sort", s));
                }
                let uri = format!("/dev/cpcc/cpcnode/get_cpcnode.dspy?{}", query(&pairs));
                let needle = format!("\"total\":{total},");
                for _ in 0..50 {
                    common::call(&mut send, &uri, &key, &needle).await;
                }
                let mut lat = Vec::with_capacity(PAGE_CALLS);
                for _ in 0..PAGE_CALLS {
                    lat.push(common::call(&mut send, &uri, &key, &needle).await);
                }
                lat.sort_unstable();
                println!(
                    "  {label:>7} devices, {order:<13}: {:>6.3} ms / {:>6.3} ms",
                    percentile(&lat, 50),
                    percentile(&lat, 99)
                );
            }
        }

        let warm = QuoteTarget::new(addr, &small, key);
        let fresh = quote_server(&dir.path().join("request")).await;
        quote(warm, WARMUP).await;
        quote(fresh, WARMUP).await;
        eprintln!("measuring");
        let (mut warm_lat, mut fresh_lat, mut warm_secs, mut fresh_secs) =
            (Vec::new(), Vec::new(), 0.0, 0.0);
        let warm_only = std::env::var("COMPUTEHUB_BENCH_QUOTES_ONLY").is_ok_and(|v| v == "organisation");
        for _ in 0..QUOTE_ROUNDS {
            for (t, lat, secs, skip) in [
                (warm, &mut warm_lat, &mut warm_secs, false),
                (fresh, &mut fresh_lat, &mut fresh_secs, warm_only),
            ] {
                if skip {
                    continue;
                }
                let start = Instant::now();
                lat.extend(quote(t, MEASURE / QUOTE_ROUNDS as u32).await);
                *secs += start.elapsed().as_secs_f64();
            }
        }
        let mut rates = Vec::new();
        for (label, lat, secs) in [
            ("organisation", &mut warm_lat, warm_secs),
            ("request     ", &mut fresh_lat, fresh_secs),
        ] {
            if lat.is_empty() {
                continue;
            }
            lat.sort_unstable();
            let rate = lat.len() as f64 / secs;
            rates.push(rate);
            println!(
                "accrual_price (endpoint -> inventory -> pricing engine), {CONNECTIONS} clients, \
                 {label} isolation: {rate:.0} quotes/s, p50 {:.3} ms, p99 {:.3} ms",
                percentile(lat, 50),
                percentile(lat, 99)
            );
        }
        if let [warm, fresh] = rates[..] {
            println!(
                "quotes/s organisation / request isolation: {:.2} (target >= 20,000 quotes/s with organisation)",
                warm / fresh.max(1e-9)
            );
        }
        if common::wrk::available() {
            quotes_by_wrk(warm, fresh, warm_only).await;
        } else {
            println!("(wrk is not installed: no figures from a load generator of its own)");
        }
    });
}
