//! TLS: `--tls-cert`/`--tls-key` serve HTTPS (HTTP/2 by ALPN, HTTP/1.1 too),
//! with a certificate the client verifies; plain HTTP is not answered; a
//! renewed certificate is served after SIGHUP without a restart; a pair that
//! does not load stops the start with one sentence. The client is the
//! machine's curl.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use crate::common::*;

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../simcluster/certs");

/// The simulated cluster's server certificate (127.0.0.1, localhost) and its
/// key as PEM files in `dir`; returns (cert, key, ca).
fn pem_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let der = std::fs::read(Path::new(CERTS).join("server.key.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let key = dir.join("key.pem");
    std::fs::write(
        &key,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    let cert = dir.join("cert.pem");
    std::fs::copy(Path::new(CERTS).join("server.pem"), &cert).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::copy(Path::new(CERTS).join("ca.pem"), &ca).unwrap();
    (cert, key, ca)
}

fn leak(p: &Path) -> &'static str {
    Box::leak(p.to_string_lossy().into_owned().into_boxed_str())
}

/// curl `url` with `args`: (exit success, stdout).
fn curl(args: &[&str], url: &str) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn https_with_http2_and_a_reloaded_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = pem_files(dir.path());
    let s = Server::with(Options {
        args: vec!["--tls-cert", leak(&cert), "--tls-key", leak(&key)],
        ..Options::default()
    });
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let health = s.url("/healthz");
    let ca = leak(&ca);
    // Verified against the CA; HTTP/2 negotiated by ALPN, HTTP/1.1 too.
    let (ok, out) = curl(&["--cacert", ca, "-w", " %{http_version}"], &health);
    assert!(ok, "{out}");
    assert_eq!(out, r#"{"status":"ok"} 2"#);
    let (ok, out) = curl(
        &["--cacert", ca, "--http1.1", "-w", " %{http_version}"],
        &health,
    );
    assert!(ok && out.ends_with(" 1.1"), "{out}");
    // An untrusted client refuses it; plain HTTP gets no answer.
    assert!(!curl(&[], &health).0);
    assert!(!curl(&[], &health.replace("https://", "http://")).0);

    // A renewed certificate (here: a pair that no longer loads, then the
    // good one again) is read on SIGHUP; the server keeps serving meanwhile.
    std::fs::write(&cert, "not a certificate").unwrap();
    Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        curl(&["--cacert", ca], &health).0,
        "the certificate in use was dropped"
    );
    std::fs::copy(Path::new(CERTS).join("server.pem"), &cert).unwrap();
    Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(curl(&["--cacert", ca], &health).0);
    let log = s.log_text();
    assert!(
        log.contains("TLS certificate not reloaded; keeping the one in use"),
        "{log}"
    );
    assert!(log.contains("TLS certificate loaded"), "{log}");
}

#[test]
fn a_certificate_that_does_not_load_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = pem_files(dir.path());
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a key rustls can sign with")
            || stderr.contains("cannot read a private key"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
}
