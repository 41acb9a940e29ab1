//! The REST protocol and the simulation, without kubectl: raw HTTPS requests
//! (rustls/webpki verifying the cluster's CA, as kube-rs does) and the direct
//! accessors of `SimCluster`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

mod deletes;
mod protocol;
mod refusals;
mod validation;
mod workloads;

fn cluster() -> SimCluster {
    let mut spec = ClusterSpec::new("api")
        .node(NodeSpec::control_plane("master-1"))
        .node(NodeSpec::new("worker-1").cpu("8").memory("32Gi"))
        .node(
            NodeSpec::new("gpu-1")
                .cpu("32")
                .memory("128Gi")
                .gpus(4, "NVIDIA-H100-80GB-HBM3"),
        );
    spec.job_pod_duration = Some(Duration::from_millis(200));
    spec.namespace_finalize_delay = Duration::from_millis(100);
    SimCluster::start(spec).unwrap()
}

fn tls_stream(c: &SimCluster) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(c.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let tcp = TcpStream::connect(c.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn write_request(
    s: &mut impl Write,
    c: &SimCluster,
    method: &str,
    path: &str,
    token: bool,
    ct: &str,
    body: &str,
) {
    let auth = if token {
        format!("Authorization: Bearer {}\r\n", c.token())
    } else {
        String::new()
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
}

/// One HTTPS request; returns (status, JSON body).
fn call(c: &SimCluster, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
    call_as(c, method, path, true, ct, body)
}

fn call_as(
    c: &SimCluster,
    method: &str,
    path: &str,
    token: bool,
    ct: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = tls_stream(c);
    write_request(&mut s, c, method, path, token, ct, body);
    read_response(&mut s)
}

/// The status and JSON body of the response on `s` (its connection closed).
fn read_response(s: &mut impl Read) -> (u16, Value) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}
