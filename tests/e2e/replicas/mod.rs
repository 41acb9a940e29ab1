//! Three replicas (`serve` processes, each with its own data dir and port)
//! on one real PostgreSQL database with one shared seal key and one admin
//! token act as one service: keys and revocations, writes that survive a
//! replica's `kill -9`, the per-target operation lock, readiness that
//! follows the database, AK/SK replay protection, plugin swaps, and the
//! operations of a dead replica (#20). Always on PostgreSQL, whatever
//! `COMPUTEHUB_TEST_DATABASE` says (`.ci/run`'s PostgreSQL pass skips them).

mod keys;
mod operations;
mod readiness;
mod swaps;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use crate::machine::{Machine, PASSWORD, USER};
use crate::provision::Answer;

/// Replicas of one service on one database.
struct Replicas {
    s: Vec<Server>,
    /// The shared database's name.
    db: String,
    /// The shared seal key's file.
    _seal: tempfile::TempDir,
    next: AtomicUsize,
}

/// `n` replicas on a fresh database, each started with `opts()` and its
/// database URL from `url_of(i, url)` (a proxy's, for one of them).
fn replicas_with(
    n: usize,
    opts: impl Fn() -> Options,
    url_of: impl Fn(usize, &str) -> String,
) -> Replicas {
    let url = pgtest::database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let seal = tempfile::tempdir().unwrap();
    let key = seal.path().join("seal.key");
    // 32 bytes that differ between runs; the replicas share them.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bytes: Vec<u8> = (0..32u32)
        .map(|i| (t.wrapping_mul(6364136223846793005).rotate_left(i * 7) >> 8) as u8 ^ i as u8)
        .collect();
    std::fs::write(&key, bytes).unwrap();
    let env = vec![(
        "COMPUTEHUB_SEAL_KEY_FILE".to_string(),
        key.display().to_string(),
    )];
    let s = (0..n)
        .map(|i| Server::on_database(opts(), &url_of(i, &url), env.clone()))
        .collect();
    Replicas {
        s,
        db,
        _seal: seal,
        next: AtomicUsize::new(0),
    }
}

fn replicas(n: usize) -> Replicas {
    replicas_with(n, Options::default, |_, url| url.to_string())
}

impl Replicas {
    /// The next replica, round-robin.
    fn pick(&self) -> &Server {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.s[i % self.s.len()]
    }

    fn psql(&self, sql: &str) -> String {
        r_psql(&self.db, sql)
    }
}

/// `psql` on database `db` of the tests' PostgreSQL.
fn r_psql(db: &str, sql: &str) -> String {
    pgtest::server().psql(db, sql)
}

async fn whoami(s: &Server, key: &str) -> (u16, Value) {
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
