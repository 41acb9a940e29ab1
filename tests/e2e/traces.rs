//! Traces: an incoming W3C `traceparent` is joined (its trace id on the
//! request's JSON log lines and in the response's `traceparent`), an invalid
//! one starts a new trace, the kube client's requests to an API server carry
//! the trace on, and with `--otlp-endpoint` the spans (the request's and a
//! child per capability call) reach an OTLP/HTTP receiver on loopback.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-{PARENT}-01")
}

/// (trace id, span id) of a response's `traceparent`.
fn ids(r: &reqwest::Response) -> (String, String) {
    let v = r.headers()["traceparent"].to_str().unwrap();
    let parts: Vec<&str> = v.split('-').collect();
    assert_eq!(parts.len(), 4, "{v}");
    assert_eq!(parts[0], "00", "{v}");
    assert_eq!(parts[1].len(), 32, "{v}");
    assert_eq!(parts[2].len(), 16, "{v}");
    (parts[1].to_string(), parts[2].to_string())
}

/// The JSON `served` line of the request with this id.
fn served(s: &Server, request_id: &str) -> Value {
    let log = s.log_text();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "served" && v["span"]["id"] == request_id)
        .unwrap_or_else(|| panic!("no JSON `served` line for {request_id}: {log}"))
}

/// A simulated cluster, and pcapi's node board of it asked for with a trace.
async fn nodes_board(s: &Server, sim: &SimCluster, trace: &str) -> reqwest::Response {
    let basic = s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let kc = sim.kubeconfig_yaml();
    let r = s
        .http
        .get(s.url("/pcapi/api/v1/cluster/common/get_cluster_nodes"))
        .query(&[("kubeconfig", kc.as_str())])
        .basic_auth(user, Some(pass))
        .header("traceparent", traceparent(trace))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r
}

fn sim() -> SimCluster {
    SimCluster::start(ClusterSpec::new("tr").node(NodeSpec::new("worker-1"))).unwrap()
}

/// The `traceparent`s the simulated API server received.
fn sent_to_cluster(sim: &SimCluster) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter_map(|r| r.traceparent)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn traceparent_is_joined_logged_answered_and_sent_on() {
    let s = Server::with(Options {
        args: vec!["--log-format", "json"],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&key)
        .header("x-request-id", "traced-1")
        .header("traceparent", traceparent(TRACE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (trace, span) = ids(&r);
    assert_eq!(trace, TRACE, "the caller's trace is joined");
    assert_ne!(span, PARENT, "the server span has an id of its own");
    assert!(r.headers()["traceparent"]
        .to_str()
        .unwrap()
        .ends_with("-01"));

    // Invalid (upper-case hex): ignored, a new trace begun.
    let r = s
        .http
        .get(s.url("/healthz"))
        .header("x-request-id", "traced-2")
        .header("traceparent", traceparent(&TRACE.to_uppercase()))
        .send()
        .await
        .unwrap();
    let (fresh, _) = ids(&r);
    assert_ne!(fresh.to_lowercase(), TRACE);
    assert!(fresh
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    // The kube client's requests carry the trace on.
    let sim = sim();
    nodes_board(&s, &sim, "0af7651916cd43dd8448eb211c80319c").await;
    let sent = sent_to_cluster(&sim);
    assert!(!sent.is_empty(), "no traceparent reached the API server");
    for tp in &sent {
        assert!(
            tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{tp}"
        );
        assert!(!tp.contains(PARENT), "{tp}");
    }

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(served(&s, "traced-1")["span"]["trace_id"], TRACE);
    assert_eq!(served(&s, "traced-2")["span"]["trace_id"], fresh);
    // Without export no OpenTelemetry fields reach the log lines.
    assert!(!s.log_text().contains("otel."));
}

/// A loopback OTLP/HTTP receiver: the decoded body of every POST to
/// `/v1/traces`.
async fn receiver() -> (String, Arc<Mutex<Vec<ExportTraceServiceRequest>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<ExportTraceServiceRequest>>> = Arc::default();
    let keep = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let keep = Arc::clone(&keep);
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let keep = Arc::clone(&keep);
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        if let (Ok(body), "/v1/traces") = (body, path.as_str()) {
                            if let Ok(m) = ExportTraceServiceRequest::decode(body) {
                                keep.lock().unwrap().push(m);
                            }
                        }
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .header("content-type", "application/x-protobuf")
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, got)
}

fn spans(got: &Mutex<Vec<ExportTraceServiceRequest>>) -> Vec<Span> {
    got.lock()
        .unwrap()
        .iter()
        .flat_map(|m| &m.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_over_otlp_with_capability_children() {
    let (url, got) = receiver().await;
    let endpoint: &'static str = Box::leak(url.into_boxed_str());
    let mut s = Server::with(Options {
        args: vec!["--log-format", "json", "--otlp-endpoint", endpoint],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let center = json!({"name": "c1", "pcapi_url": "", "api_user": "", "api_pwd": {"secret": "x"}, "contactname": "o", "contactphone": ""});
    let r = s
        .http
        .post(s.url("/fixtures/records/compute_centers"))
        .bearer_auth(&key)
        .header("x-request-id", "exported-1")
        .header("traceparent", traceparent(TRACE))
        .json(&center)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (trace, server_span) = ids(&r);
    assert_eq!(trace, TRACE);
    let sim = sim();
    let kube_trace = "0af7651916cd43dd8448eb211c80319c";
    nodes_board(&s, &sim, kube_trace).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let line = served(&s, "exported-1");
    // The log line is the request's (its fields; the span's OpenTelemetry
    // metadata stays on the exported span).
    assert_eq!(line["span"]["trace_id"], TRACE);
    assert_eq!(line["span"]["org"], "acme");
    assert!(line["span"].get("otel.kind").is_none(), "{line}");

    // Stopping flushes what is batched.
    let status = tokio::task::block_in_place(|| s.stop());
    assert!(status.success(), "{status:?}");
    let all = spans(&got);
    let hex = |b: &[u8]| hex::encode(b);
    let of_trace: Vec<&Span> = all.iter().filter(|s| hex(&s.trace_id) == TRACE).collect();
    let server = of_trace
        .iter()
        .find(|s| hex(&s.span_id) == server_span)
        .unwrap_or_else(|| panic!("no server span {server_span}: {all:#?}"));
    assert_eq!(hex(&server.parent_span_id), PARENT, "joined to the caller");
    assert_eq!(server.name, "POST /fixtures/records/{collection}");
    assert_eq!(server.kind, 2, "SPAN_KIND_SERVER");
    let attr = |k: &str| {
        server
            .attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.value.clone())
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    assert_eq!(attr("http.response.status_code"), Some(Any::IntValue(201)));
    assert_eq!(attr("org"), Some(Any::StringValue("acme".into())));
    let insert = of_trace
        .iter()
        .find(|s| s.name == "inventory.insert")
        .unwrap_or_else(|| panic!("no inventory.insert span: {of_trace:#?}"));
    assert_eq!(hex(&insert.parent_span_id), server_span);
    // No argument of a capability call is recorded (the secret above).
    assert!(insert.attributes.is_empty(), "{:?}", insert.attributes);

    // The kube requests name a kubernetes capability span as their parent.
    let kube_spans: Vec<String> = all
        .iter()
        .filter(|s| hex(&s.trace_id) == kube_trace && s.name.starts_with("kubernetes."))
        .map(|s| hex(&s.span_id))
        .collect();
    assert!(!kube_spans.is_empty(), "no kubernetes span: {all:#?}");
    let sent = sent_to_cluster(&sim);
    assert!(!sent.is_empty());
    for tp in sent {
        let parent = tp.split('-').nth(2).unwrap().to_string();
        assert!(
            kube_spans.contains(&parent),
            "{tp} not under {kube_spans:?}"
        );
    }
}
