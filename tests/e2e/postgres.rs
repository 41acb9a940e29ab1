//! A server whose store is in PostgreSQL (`--database`, here through
//! `COMPUTEHUB_DATABASE_URL`): keys issued and revoked by the CLI beside
//! it, secrets sealed in PostgreSQL's rows, readiness that asks the
//! database, and no SQLite file made in the data dir. (The whole e2e suite
//! also runs on PostgreSQL in CI: `COMPUTEHUB_TEST_DATABASE=postgres`.)

use computehub::store::{Query, Value};

use crate::common::*;

async fn whoami(s: &Server, key: &str) -> u16 {
    s.http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_on_postgres_keeps_keys_revocations_and_sealed_rows_there() {
    let s = Server::with(Options {
        postgres: true,
        ..Options::default()
    });
    let url = s.database.clone().unwrap();
    let db = url.rsplit('/').next().unwrap().to_string();
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["store"], "ok");
    assert!(
        !s.data().join("computehub.db").exists(),
        "no SQLite file beside a PostgreSQL store"
    );

    // A key made by the CLI (same store) works at once; revoked, it fails at once.
    let key = s.key("acme", "bearer");
    assert_eq!(whoami(&s, &key).await, 200);
    let pg = pgtest::server();
    let key_id = pg.psql(&db, "SELECT id FROM api_keys WHERE org_id = 'acme'");
    assert_eq!(key_id.lines().count(), 1, "{key_id}");
    let out = s
        .command()
        .args(["keys", "revoke", &key_id, "--data-dir"])
        .arg(s.data())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(whoami(&s, &key).await, 401);

    // A secret field is sealed in PostgreSQL's row and opens for the host.
    let store = s.store().await;
    let center = store
        .insert(
            "acme",
            "compute_centers",
            &[
                ("name".into(), Value::Text("c1".into())),
                (
                    "pcapi_url".into(),
                    Value::Text("https://pcapi.example".into()),
                ),
                ("api_user".into(), Value::Text("u".into())),
                ("api_pwd".into(), Value::Secret("pg-s3cret-pw".into())),
                ("contactname".into(), Value::Text("c".into())),
                ("contactphone".into(), Value::Text("".into())),
            ],
        )
        .await
        .unwrap();
    let raw = pg.psql(
        &db,
        &format!(
            "SELECT encode(api_pwd, 'escape') FROM compute_centers WHERE id = '{}'",
            center.id
        ),
    );
    assert!(!raw.is_empty());
    assert!(!raw.contains("pg-s3cret-pw"), "{raw}");
    assert_eq!(
        store
            .reveal("acme", "compute_centers", &center.id, "api_pwd")
            .await
            .unwrap()
            .as_deref(),
        Some("pg-s3cret-pw")
    );
    // Another organisation sees none of it.
    let other = store
        .query("globex", "compute_centers", &Query::default())
        .await
        .unwrap();
    assert_eq!(other.total, 0);
    // The plugins' collections were declared in PostgreSQL as `<plugin>.<name>`.
    let tables = pg.psql(
        &db,
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'kboss.%' ORDER BY 1",
    );
    assert!(tables.contains("kboss.widgets"), "{tables}");
}
