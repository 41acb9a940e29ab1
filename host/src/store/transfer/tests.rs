//! Export and import between SQLite and a real PostgreSQL ([`pgtest`]):
//! every row kept, sealed secrets still open, refusals write nothing.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::store::collections::FieldKind;
use crate::store::schema::{FieldDecl, Mode};
use crate::store::{Sealer, Value};

const KEY: [u8; 32] = [7u8; 32];

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

fn fields(f: &[(&str, Value)]) -> Vec<(String, Value)> {
    f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// A SQLite store in a new data dir holding `seal.key` = [`KEY`].
async fn sqlite_in(dir: &Path) -> Store {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("seal.key"), KEY).unwrap();
    Store::open(dir).await.unwrap()
}

async fn postgres(key: [u8; 32]) -> Store {
    Store::open_postgres(&pgtest::database(), 4, Sealer::from_key(&key), "test")
        .await
        .unwrap()
}

fn notes() -> Vec<CollectionDecl> {
    let f = |name: &str, kind, references: Option<&str>| FieldDecl {
        name: name.into(),
        kind,
        required: false,
        unique: false,
        references: references.map(str::to_string),
    };
    vec![CollectionDecl {
        name: "notes".into(),
        fields: vec![
            f("title", FieldKind::Text, None),
            f("secret", FieldKind::Secret, None),
            f("parent", FieldKind::Text, Some("notes")),
            f("cluster", FieldKind::Text, Some("clusters")),
        ],
        unique_keys: vec![],
        indexes: vec![],
    }]
}

/// Rows in the host's tables (a cluster whose controller is one of its
/// devices: a foreign-key cycle) and a declared collection with a secret;
/// answers the ids of the center and of the second note.
async fn populate(s: &Store) -> (String, String) {
    for org in ["a", "b"] {
        s.ensure_organisation(org).await.unwrap();
    }
    let center = s
        .insert(
            "a",
            "compute_centers",
            &fields(&[
                ("name", text("c1")),
                ("pcapi_url", text("https://pcapi.example")),
                ("api_user", text("u")),
                ("api_pwd", Value::Secret("api-s3cret".into())),
                ("contactname", text("c")),
                ("contactphone", text("")),
            ]),
        )
        .await
        .unwrap()
        .id;
    let cluster = s
        .insert(
            "a",
            "clusters",
            &fields(&[
                ("cpcid", text(&center)),
                ("name", text("k1")),
                ("clustertype", text("k8s")),
                ("kubeconfig", Value::Secret("apiVersion: v1".into())),
                ("ready", Value::Integer(1)),
            ]),
        )
        .await
        .unwrap()
        .id;
    let device = s
        .insert(
            "a",
            "devices",
            &fields(&[
                ("cpcid", text(&center)),
                ("clusterid", text(&cluster)),
                ("name", text("d1")),
                ("ip", text("10.0.0.1")),
                ("devicetype", text("1")),
                ("sshport", Value::Integer(22)),
                ("adminuser", text("root")),
                ("adminpwd", Value::Secret("s3cret-pw".into())),
                ("node_status", text("0")),
            ]),
        )
        .await
        .unwrap()
        .id;
    s.update(
        "a",
        "clusters",
        &cluster,
        &fields(&[("controllerid", text(&device))]),
    )
    .await
    .unwrap();
    let db = s.db();
    for (i, sql) in [
        "INSERT INTO api_keys (id, org_id, scheme, secret_sha256, created_at, secret_sealed) VALUES ('k1', 'a', 'aksk', 'abc', 't', X'00ff10')",
        "INSERT INTO plugin_activations (plugin_id, role, sha256, version, activated_at) VALUES ('hello', 'api', 'aa', '1.0.0', 't')",
        "INSERT INTO plugin_activations (plugin_id, role, sha256, version, activated_at) VALUES ('hello', 'api', 'bb', '1.1.0', 't')",
        "INSERT INTO audit_log (at, request_id, org_id, client, method, route, path, plugin, status) VALUES ('t', 'r1', 'a', 'c', 'POST', '/x', '/x', 'host', 200)",
        "INSERT INTO ssh_host_keys (org_id, target, public_key, fingerprint, pinned_at) VALUES ('a', 'ip:1.2.3.4:22', 'ssh-ed25519 AAAA', 'SHA256:x', 't')",
        "INSERT INTO operations (id, org_id, plugin, request_id, kind, target, status, created_at, updated_at) VALUES ('op1', 'a', 'kboss', 'r', 'provision', 'device:x', 'succeeded', 't', 't')",
        "INSERT INTO operation_phases (operation_id, idx, name, status) VALUES ('op1', 0, 'ping', 'succeeded')",
        "INSERT INTO operation_events (operation_id, seq, at, event, data) VALUES ('op1', 1, 't', 'phase', '{}')",
        "INSERT INTO plugin_grants (plugin_id, grant_json, updated_at) VALUES ('hello', '{}', 't')",
        "INSERT INTO console_users (id, org_id, name, password_hash, admin, created_at) VALUES ('u1', 'a', 'ann', '$argon2id$x', 1, 't')",
        "INSERT INTO console_sessions (token_sha256, user_id, csrf, created_at, expires_at) VALUES ('tok', 'u1', 'csrf', 't', 99)",
    ]
    .iter()
    .enumerate()
    {
        db.execute(sql, params![])
            .await
            .unwrap_or_else(|e| panic!("statement {i}: {e}"));
    }
    s.declare("hello", "1.0.0", &notes(), Mode::Upgrade)
        .await
        .unwrap();
    // The second note is inserted first and points at the later one.
    let first = s
        .insert(
            "a",
            "hello.notes",
            &fields(&[
                ("title", text("child")),
                ("secret", Value::Secret("note-s3cret".into())),
                ("cluster", text(&cluster)),
            ]),
        )
        .await
        .unwrap()
        .id;
    let second = s
        .insert(
            "a",
            "hello.notes",
            &fields(&[("title", text("parent")), ("parent", text(&first))]),
        )
        .await
        .unwrap()
        .id;
    s.update(
        "a",
        "hello.notes",
        &first,
        &fields(&[("parent", text(&second))]),
    )
    .await
    .unwrap();
    (center, first)
}

async fn export_to(s: &Store, path: &Path) -> Summary {
    let mut out = Vec::new();
    let summary = export(s, &mut out).await.unwrap();
    std::fs::write(path, out).unwrap();
    summary
}

/// Every row line of an export but the seal check's, sorted.
fn rows_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| {
            let r: RowLine = serde_json::from_str(l).unwrap();
            r.table != "seal_check"
        })
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

async fn counts(s: &Store) -> BTreeMap<String, u64> {
    row_counts(s.db()).await.unwrap()
}

async fn secrets_open(s: &Store, center: &str, note: &str) {
    assert_eq!(
        s.reveal("a", "hello.notes", note, "secret").await.unwrap(),
        Some("note-s3cret".into())
    );
    assert_eq!(
        s.reveal("a", "compute_centers", center, "api_pwd")
            .await
            .unwrap(),
        Some("api-s3cret".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_goes_to_postgres_and_back_with_every_row_and_its_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let src = sqlite_in(&tmp.path().join("src")).await;
    let (center, note) = populate(&src).await;
    src.set_org_storage_quota_mib("big", Some(5)).await.unwrap();
    let file = tmp.path().join("one.jsonl");
    let summary = export_to(&src, &file).await;
    let before = counts(&src).await;
    assert!(summary.rows() > 20, "{summary:?}");
    assert_eq!(summary.tables.last().map(|t| t.0.as_str()), Some(COUNTS));

    let stored = src.stored_bytes(None).await.unwrap();
    assert!(!stored.is_empty());
    let pg = postgres(KEY).await;
    let imported = import(&pg, &file).await.unwrap();
    assert_eq!(imported, summary);
    assert_eq!(counts(&pg).await, before);
    // What each organisation stores is counted from the rows that went in.
    assert_eq!(pg.stored_bytes(None).await.unwrap(), stored);
    assert_eq!(
        pg.storage_quotas().await.unwrap().get("big"),
        Some(&(5 << 20))
    );
    secrets_open(&pg, &center, &note).await;
    // The identity sequences are past the imported rows.
    let seq = pg
        .db()
        .query_opt(
            "INSERT INTO plugin_activations (plugin_id, role, sha256, version, activated_at) VALUES ('x', 'api', 'cc', '1', 't') RETURNING seq",
            params![],
        )
        .await
        .unwrap()
        .unwrap()
        .get::<i64>(0)
        .unwrap();
    assert_eq!(seq, 3);
    pg.db()
        .execute("DELETE FROM plugin_activations WHERE seq = 3", params![])
        .await
        .unwrap();

    // A second import into the now non-empty store is refused whole.
    let e = import(&pg, &file).await.unwrap_err();
    assert!(matches!(e, TransferError::NotEmpty(_)), "{e}");
    assert!(e.to_string().contains("nothing was written"), "{e}");
    assert_eq!(counts(&pg).await, before);

    // And back into a new SQLite data dir.
    let file2 = tmp.path().join("two.jsonl");
    export_to(&pg, &file2).await;
    assert_eq!(rows_of(&file2), rows_of(&file));
    let back = sqlite_in(&tmp.path().join("back")).await;
    import(&back, &file2).await.unwrap();
    assert_eq!(counts(&back).await, before);
    assert_eq!(back.stored_bytes(None).await.unwrap(), stored);
    secrets_open(&back, &center, &note).await;
    let file3 = tmp.path().join("three.jsonl");
    export_to(&back, &file3).await;
    assert_eq!(rows_of(&file3), rows_of(&file));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_another_seal_key_is_refused_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = sqlite_in(&tmp.path().join("src")).await;
    populate(&src).await;
    let file = tmp.path().join("one.jsonl");
    export_to(&src, &file).await;
    for target in [
        Store::in_memory(Sealer::from_key(&[9u8; 32]))
            .await
            .unwrap(),
        postgres([9u8; 32]).await,
    ] {
        let empty = counts(&target).await;
        let e = import(&target, &file).await.unwrap_err();
        assert!(matches!(e, TransferError::WrongKey), "{e}");
        assert_eq!(counts(&target).await, empty);
        assert!(target.schema_get("hello.notes").is_none());
    }
}

#[tokio::test]
async fn a_bad_file_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = sqlite_in(&tmp.path().join("src")).await;
    populate(&src).await;
    let file = tmp.path().join("one.jsonl");
    export_to(&src, &file).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, text.lines().take(5).collect::<Vec<_>>().join("\n")).unwrap();
    let target = Store::in_memory(Sealer::from_key(&KEY)).await.unwrap();
    let empty = counts(&target).await;
    let e = import(&target, &cut).await.unwrap_err();
    assert!(matches!(e, TransferError::Count { .. }), "{e}");
    let newer = tmp.path().join("newer.jsonl");
    std::fs::write(
        &newer,
        text.replacen("\"schema_version\":", "\"schema_version\":9", 1),
    )
    .unwrap();
    let e = import(&target, &newer).await.unwrap_err();
    assert!(matches!(e, TransferError::SchemaVersion(..)), "{e}");
    assert_eq!(counts(&target).await, empty);
}

/// A new table must be placed in [`HOST_ORDER`] (after the tables it
/// refers to), so imports keep satisfying the foreign keys.
#[tokio::test]
async fn every_table_of_a_new_store_has_its_place_in_the_load_order() {
    let s = Store::in_memory(Sealer::from_key(&KEY)).await.unwrap();
    let mut ex = crate::store::db::Direct(s.db());
    for t in tables(&mut ex).await.unwrap() {
        assert!(
            HOST_ORDER.contains(&t.as_str()) || t == COUNTS || t.contains('.'),
            "table `{t}` is not in store::transfer::HOST_ORDER"
        );
    }
}
