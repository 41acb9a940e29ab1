//! PostgreSQL over TLS, against pgtest's server with TLS on: the URL's
//! `sslmode` decides, the server's certificate is verified against the CA
//! file given (or the Mozilla roots, which do not know the test CA), and a
//! failure is one sentence.

use std::time::Duration;

use super::postgres::{ConnectError, Postgres, TlsOptions};
use super::*;
use crate::store::{Sealer, Store};

const SSL: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

fn ca() -> TlsOptions {
    TlsOptions {
        ca_file: Some(tls_files().ca_file.clone()),
    }
}

fn tls_files() -> &'static pgtest::Tls {
    pgtest::tls_server().tls.as_ref().expect("TLS files")
}

/// A new database on the TLS server, with `query` (`sslmode=..`) appended.
fn url(query: &str) -> String {
    let base = pgtest::tls_database();
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

async fn ssl(db: &dyn Database) -> bool {
    db.query_opt(SSL, params![])
        .await
        .unwrap()
        .expect("a pg_stat_ssl row")
        .get::<bool>(0)
        .unwrap()
}

async fn refused(url: &str, tls: &TlsOptions) -> String {
    match Postgres::connect_with(url, 2, tls).await {
        Ok(_) => panic!("{url} connected with {tls:?}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_with_the_ca_opens_a_store_over_tls() {
    let store = Store::open_postgres_tls(
        &url("sslmode=require"),
        2,
        &ca(),
        Sealer::from_key(&[5u8; 32]),
        "test",
    )
    .await
    .unwrap();
    let db = store.db();
    assert!(ssl(db).await, "the server sees a TLS connection");
    db.batch("CREATE TABLE tls_t (n BIGINT)").await.unwrap();
    let n = db
        .execute(
            "INSERT INTO tls_t (n) VALUES (?1), (?2)",
            params![1i64, 2i64],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let sum = db
        .query_opt("SELECT SUM(n)::BIGINT FROM tls_t", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sum.get::<i64>(0).unwrap(), 3);
    let mut tx = db.begin().await.unwrap();
    tx.execute("INSERT INTO tls_t (n) VALUES (?1)", params![4i64])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sslmode_tls_is_used_and_verified() {
    // tokio-postgres' default is `prefer`: TLS since the server offers it.
    let db = Postgres::connect_with(&url(""), 2, &ca()).await.unwrap();
    assert!(ssl(&db).await);
    // ... and verified: the Mozilla roots do not know the test CA.
    let e = refused(&url(""), &TlsOptions::default()).await;
    assert!(e.contains("certificate is not trusted"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_works_over_tls() {
    let db = Postgres::connect_with(&url("sslmode=require"), 2, &ca())
        .await
        .unwrap();
    let mut notices = db.listen(&["tls_test"]).await.unwrap().expect("notices");
    db.notify("tls_test", "over tls").await.unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("a notice within 10 s")
        .expect("the LISTEN connection is open");
    assert_eq!(
        notice,
        Notice {
            channel: "tls_test".into(),
            payload: "over tls".into(),
        }
    );
    // Every connection to this database, the LISTEN one included, is TLS.
    let row = db
        .query_opt(
            "SELECT COUNT(*), bool_and(s.ssl) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database()",
            params![],
        )
        .await
        .unwrap()
        .unwrap();
    assert!(row.get::<i64>(0).unwrap() >= 2, "the pool's and LISTEN's");
    assert!(row.get::<bool>(1).unwrap(), "all of them TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_in_one_sentence() {
    let other = TlsOptions {
        ca_file: Some(tls_files().other_ca_file.clone()),
    };
    for mode in ["sslmode=require", "sslmode=prefer"] {
        let u = url(mode);
        let e = refused(&u, &TlsOptions::default()).await;
        assert!(
            e.starts_with("PostgreSQL at 127.0.0.1:")
                && e.ends_with(
                    "the server's certificate is not trusted \
                     (set COMPUTEHUB_DATABASE_CA_FILE to its CA)"
                ),
            "{e}"
        );
        assert!(!e.contains("UnknownIssuer") && !e.contains('\n'), "{e}");
        let e = refused(&u, &other).await;
        assert!(e.contains("the server's certificate is not trusted"), "{e}");
        assert!(
            e.contains(&*other.ca_file.as_ref().unwrap().to_string_lossy()),
            "names the CA file: {e}"
        );
    }
    // The store says the same.
    let e = Store::open_postgres_tls(
        &url("sslmode=require"),
        2,
        &TlsOptions::default(),
        Sealer::from_key(&[5u8; 32]),
        "test",
    )
    .await
    .err()
    .expect("no store over an untrusted certificate");
    assert!(
        format!("{e:#}").contains("COMPUTEHUB_DATABASE_CA_FILE"),
        "{e:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused() {
    // The name the certificate is checked against is `db.invalid`; the
    // connection still goes to the loopback server.
    let s = pgtest::tls_server();
    let base = pgtest::tls_database();
    let name = base.rsplit('/').next().unwrap();
    let u = format!(
        "postgres://postgres@db.invalid:{}/{name}?hostaddr=127.0.0.1&sslmode=require",
        s.port
    );
    let e = refused(&u, &ca()).await;
    assert!(e.contains("not issued for the host name"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_connects_in_plain_text() {
    // No CA needed: nothing is verified because nothing is encrypted.
    let db = Postgres::connect_with(&url("sslmode=disable"), 2, &TlsOptions::default())
        .await
        .unwrap();
    assert!(!ssl(&db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_fails_on_a_server_without_tls() {
    let u = format!("{}?sslmode=require", pgtest::database());
    match Postgres::connect_with(&u, 2, &ca()).await {
        Err(ConnectError::Tls(_, why)) => assert!(why.contains("does not accept TLS"), "{why}"),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("connected without TLS under sslmode=require"),
    }
    // `prefer` falls back to plain text there, as libpq does.
    let u = format!("{}?sslmode=prefer", pgtest::database());
    let db = Postgres::connect_with(&u, 2, &ca()).await.unwrap();
    assert!(!ssl(&db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_that_cannot_be_used_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for (file, why) in [
        (missing, "cannot be read"),
        (empty, "holds no PEM certificate"),
    ] {
        let tls = TlsOptions {
            ca_file: Some(file.clone()),
        };
        let e = refused(&url("sslmode=require"), &tls).await;
        assert!(
            e.contains(&*file.to_string_lossy())
                && e.contains("COMPUTEHUB_DATABASE_CA_FILE")
                && e.contains(why),
            "{e}"
        );
    }
}
