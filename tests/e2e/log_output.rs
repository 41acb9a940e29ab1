//! The server's log output: a log reader that stops reading (a stderr pipe
//! nobody drains: a stuck journald, a paused `| less`) does not stop the
//! server. Requests go on being answered; the lines past the log buffer are
//! dropped and counted (`computehub_log_lines_dropped_total`), and once the
//! output moves again the log says how many it lost. And what a plugin
//! logs stays on its own line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Requests with a 4 KiB path: each `served` line carries the path, so
/// these log about 12 MiB, well past the 4 MiB buffer and the pipe's 64 KiB.
const REQUESTS: usize = 3_000;

/// A server whose stderr is a pipe this test holds and does not read, and
/// its address.
fn server_with_unread_stderr(dir: &std::path::Path) -> (std::process::Child, String) {
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cache");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--cache-dir")
        .arg(&cache)
        .env("COMPUTEHUB_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdout is drained (it says where the server listens).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    (child, base)
}

/// `n` requests with a 4 KiB path, 8 at a time; each must be answered.
async fn flood(base: &str, n: usize) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let path = format!("/no-such-area/{}", "x".repeat(4096));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{base}{path}"));
            tokio::spawn(async move {
                for _ in 0..n / 8 {
                    let r = http.get(&url).send().await.expect("answered");
                    assert_eq!(r.status(), 404);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_reader_that_stops_reading_does_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = server_with_unread_stderr(dir.path());
    let stderr = child.stderr.take().unwrap();
    let t = Instant::now();
    flood(&base, REQUESTS).await;
    let took = t.elapsed();
    let http = reqwest::Client::new();
    // Nothing was read from stderr, yet every request was answered; the
    // server counts the lines it could not keep.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("computehub_log_lines_dropped_total "))
        .expect("the dropped-lines counter in /metrics")
        .parse()
        .unwrap();
    assert!(dropped > 0, "no line dropped in {took:?}:\n{metrics}");
    assert!(dropped < REQUESTS as u64, "{dropped} of {REQUESTS} dropped");

    // Read again, the log says how many lines it lost.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut r = BufReader::new(stderr);
        let mut chunk = [0u8; 65536];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&chunk[..n]));
            if text.contains("log lines were dropped: the log output did not keep up") {
                let _ = tx.send(());
                return;
            }
        }
    });
    let said = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.is_ok(), "the log never said it dropped lines");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_log_reader_stopped_still_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = server_with_unread_stderr(dir.path());
    // Enough to fill the pipe: the log's thread is blocked in a write.
    flood(&base, 200).await;
    let _held = child.stderr.take().unwrap();
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    // Shutdown waits a bounded time for the last lines, then exits.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the server did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// A plugin cannot start a line of its own in the host's log: what it logs
/// (through `log`, and on stderr) stays on its line, its control
/// characters escaped, so a forged line (a `plugin swapped` of another
/// plugin, say) cannot appear and no terminal escape reaches a reader.
#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_cannot_write_a_line_of_its_own_into_the_log() {
    let s = Server::start();
    let key = s.key("acme", "bearer");
    let forged = "2026-12-07T10:00:00.000000Z  INFO computehub::registry: plugin swapped plugin=kboss version=6.6.6";
    let message = format!("hello\n{forged}\r\u{1b}[2K");
    let r = s
        .http
        .get(s.url("/fixtures/log"))
        .query(&[("message", &message)])
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let log = s.log_text();
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-07T10:00:00")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "a terminal escape reached the log");
    // Through `log`: the message whole, on one line.
    let escaped = format!("hello\\n{forged}\\r\\u{{1b}}[2K");
    let logged: Vec<&str> = log.lines().filter(|l| l.contains(&escaped)).collect();
    assert_eq!(logged.len(), 1, "{log}");
    assert!(logged[0].contains("plugin=\"fixtures\""), "{logged:?}");
    // On stderr: each line of it a line of the host's, after the host's
    // own prefix and tagged with the plugin.
    let tail = format!(": {forged}\\r\\u{{1b}}[2K plugin=fixtures stream=\"stderr\"");
    assert_eq!(
        log.lines().filter(|l| l.ends_with(&tail)).count(),
        1,
        "{log}"
    );
}
