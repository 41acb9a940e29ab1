//! Declared collections: creation, scoping, migration, refusals, the hand-over of a data dir from before.

use super::*;
use crate::store::{Sealer, Value};
use rusqlite::Connection;

async fn store() -> Store {
    let conn = Connection::open_in_memory().unwrap();
    let s = Store::with_connection(conn, Sealer::from_key(&[7u8; 32]))
        .await
        .unwrap();
    s.ensure_organisation("a").await.unwrap();
    s.ensure_organisation("b").await.unwrap();
    s
}

fn f(name: &str, kind: FieldKind, required: bool) -> FieldDecl {
    FieldDecl {
        name: name.into(),
        kind,
        required,
        unique: false,
        references: None,
    }
}

fn notes(fields: Vec<FieldDecl>) -> Vec<CollectionDecl> {
    vec![CollectionDecl {
        name: "notes".into(),
        fields,
        unique_keys: vec![],
        indexes: vec![vec!["title".into()]],
    }]
}

fn v1() -> Vec<CollectionDecl> {
    notes(vec![
        f("title", FieldKind::Text, true),
        f("token", FieldKind::Secret, false),
    ])
}

#[tokio::test]
async fn declared_collections_hold_rows_per_organisation() {
    let s = store().await;
    let applied = s
        .declare("hello", "1.0.0", &v1(), Mode::Upgrade)
        .await
        .unwrap();
    assert_eq!(applied.created, vec!["hello.notes"]);
    let t = |v: &str| ("title".to_string(), Value::Text(v.into()));
    let row = s
        .insert(
            "a",
            "hello.notes",
            &[t("x"), ("token".into(), Value::Secret("s3".into()))],
        )
        .await
        .unwrap();
    s.insert("b", "hello.notes", &[t("y")]).await.unwrap();
    let page_a = s
        .query("a", "hello.notes", &Default::default())
        .await
        .unwrap();
    assert_eq!(page_a.total, 1);
    assert!(page_a.rows[0]
        .fields
        .contains(&("token".into(), Value::Redacted)));
    assert_eq!(
        s.reveal("a", "hello.notes", &row.id, "token")
            .await
            .unwrap()
            .as_deref(),
        Some("s3")
    );
    assert!(s.get("b", "hello.notes", &row.id).await.unwrap().is_none());
    let e = s.insert("a", "hello.notes", &[]).await.unwrap_err();
    assert_eq!(e.to_string(), "field `title` is required");
}

#[tokio::test]
async fn additions_migrate_and_destruction_is_refused() {
    let s = store().await;
    s.declare("hello", "1.0.0", &v1(), Mode::Upgrade)
        .await
        .unwrap();
    s.insert(
        "a",
        "hello.notes",
        &[("title".into(), Value::Text("x".into()))],
    )
    .await
    .unwrap();
    let mut v2 = v1();
    v2[0].fields.push(f("tag", FieldKind::Text, false));
    let applied = s
        .declare("hello", "2.0.0", &v2, Mode::Upgrade)
        .await
        .unwrap();
    assert_eq!(applied.added_fields, vec!["hello.notes.tag"]);
    let page = s
        .query("a", "hello.notes", &Default::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1, "rows are kept");
    assert!(page.rows[0].fields.contains(&("tag".into(), Value::Null)));

    let dropped = notes(vec![
        f("title", FieldKind::Text, true),
        f("tag", FieldKind::Text, false),
    ]);
    let e = s
        .declare("hello", "3.0.0", &dropped, Mode::Upgrade)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "version 3.0.0 of plugin `hello` drops field `notes.token`; that would lose or break stored rows, so it is refused"
    );
    let mut retyped = v2.clone();
    retyped[0].fields[0].kind = FieldKind::Integer;
    assert!(s
        .declare("hello", "3.0.0", &retyped, Mode::Upgrade)
        .await
        .unwrap_err()
        .to_string()
        .contains("changes field `notes.title` from text to integer"));
    let mut required = v2.clone();
    required[0].fields.push(f("must", FieldKind::Text, true));
    assert!(s
        .declare("hello", "3.0.0", &required, Mode::Upgrade)
        .await
        .unwrap_err()
        .to_string()
        .contains("adds required field `notes.must`"));
    assert!(s
        .declare("hello", "3.0.0", &[], Mode::Upgrade)
        .await
        .unwrap_err()
        .to_string()
        .contains("drops collection `notes`"));
    // Nothing of the refused versions was applied.
    let c = s.schema_get("hello.notes").unwrap();
    assert_eq!(c.fields.len(), 3);
    // The earlier version loads again and keeps the larger schema.
    s.declare("hello", "1.0.0", &v1(), Mode::Keep)
        .await
        .unwrap();
    assert_eq!(s.schema_get("hello.notes").unwrap().fields.len(), 3);
}

#[tokio::test]
async fn malformed_declarations_name_the_field() {
    let s = store().await;
    let bad = notes(vec![f("id", FieldKind::Text, false)]);
    assert!(s
        .declare("hello", "1", &bad, Mode::Upgrade)
        .await
        .unwrap_err()
        .to_string()
        .contains("field `notes.id`"));
    let mut secret_unique = v1();
    secret_unique[0].fields[1].unique = true;
    assert!(s
        .declare("hello", "1", &secret_unique, Mode::Upgrade)
        .await
        .unwrap_err()
        .to_string()
        .contains("secret field `notes.token` cannot be unique"));
    assert!(s.schema_get("hello.notes").is_none());
}

/// A data dir as the release before this change left it: every
/// migration, a row in each collection (references filled, secrets
/// sealed under the bare names), and no hand-over yet.
fn store_from_before(dir: &std::path::Path) -> BTreeMap<String, String> {
    use crate::store::collections::{COLLECTIONS, MOVED};
    let sealer = Sealer::load_or_create(&dir.join("seal.key")).unwrap();
    let mut conn = Connection::open(dir.join("computehub.db")).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    crate::store::migrations::migrate(&mut conn).unwrap();
    conn.execute(
        "INSERT INTO organisations (id, created_at) VALUES ('acme', 'now')",
        [],
    )
    .unwrap();
    let order = [
        "compute_centers",
        "clusters",
        "devices",
        "labels",
        "widgets",
        "widget_stock",
        "training_instances",
        "training_ports",
        "ief_projects",
        "ief_deployments",
        "pod_configs",
    ];
    let all: Vec<&Collection> = COLLECTIONS
        .iter()
        .chain(MOVED.iter().map(|m| &m.collection))
        .collect();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for name in order {
        let c = all.iter().find(|c| c.name == name).unwrap();
        let id = format!("{name}-row");
        let mut cols = vec![
            "id".to_string(),
            "org_id".into(),
            "created_at".into(),
            "updated_at".into(),
        ];
        let mut vals: Vec<rusqlite::types::Value> = vec![
            id.clone().into(),
            "acme".to_string().into(),
            "t".to_string().into(),
            "t".to_string().into(),
        ];
        for f in c.fields.iter() {
            let v: rusqlite::types::Value = match (&f.references, f.kind) {
                (Some(t), _) => ids
                    .get(t.as_ref())
                    .map_or(rusqlite::types::Value::Null, |id| id.clone().into()),
                (None, FieldKind::Secret) => sealer
                    .seal(
                        format!("secret of {name}").as_bytes(),
                        &format!("{name}/{}/{id}", f.name),
                    )
                    .unwrap()
                    .into(),
                (None, FieldKind::Integer | FieldKind::Boolean) => 1i64.into(),
                (None, FieldKind::Decimal) => "1.5".to_string().into(),
                (None, _) => format!("{name} {}", f.name).into(),
            };
            cols.push(format!("\"{}\"", f.name));
            vals.push(v);
        }
        let marks: Vec<String> = (1..=vals.len()).map(|i| format!("?{i}")).collect();
        conn.execute(
            &format!(
                "INSERT INTO \"{name}\" ({}) VALUES ({})",
                cols.join(", "),
                marks.join(", ")
            ),
            rusqlite::params_from_iter(vals),
        )
        .unwrap();
        ids.insert(name.to_string(), id);
    }
    ids
}

#[tokio::test]
async fn a_data_dir_from_before_hands_the_area_tables_over_with_every_row() {
    use crate::store::collections::MOVED;
    let dir = tempfile::tempdir().unwrap();
    let ids = store_from_before(dir.path());
    let s = Store::open(dir.path()).await.unwrap();
    for m in MOVED {
        let name = m.collection.name.as_ref();
        let full = qualified(m.owner, name);
        let c = s.schema_get(&full).unwrap();
        assert_eq!(c.owner.as_deref(), Some(m.owner));
        assert_eq!(c.fields.len(), m.collection.fields.len(), "{full}");
        // Every row, by the new name and by the old one.
        let page = s.query("acme", &full, &Default::default()).await.unwrap();
        assert_eq!(page.total, 1, "{full}");
        assert_eq!(page.rows[0].id, ids[name]);
        assert_eq!(
            s.query("acme", name, &Default::default())
                .await
                .unwrap()
                .total,
            1
        );
        for f in m
            .collection
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Secret)
        {
            assert_eq!(
                s.reveal("acme", &full, &ids[name], &f.name)
                    .await
                    .unwrap()
                    .as_deref(),
                Some(format!("secret of {name}").as_str()),
                "{full}.{}",
                f.name
            );
        }
        assert!(s.owns(m.owner, name));
    }
    // The host's own collections are where they were, secrets included.
    let pwd = s.reveal(
        "acme",
        "compute_centers",
        &ids["compute_centers"],
        "api_pwd",
    );
    assert_eq!(
        pwd.await.unwrap().as_deref(),
        Some("secret of compute_centers")
    );
    // Foreign keys follow the renamed tables: a widget with stock rows
    // cannot be deleted, its stock row can, then the widget too.
    let e = s
        .delete("acme", "kboss.widgets", &ids["widgets"])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(s
        .delete("acme", "kboss.widget_stock", &ids["widget_stock"])
        .await
        .unwrap());
    assert!(s
        .delete("acme", "kboss.widgets", &ids["widgets"])
        .await
        .unwrap());
    // The bare tables are gone; opening again changes nothing.
    drop(s);
    let s = Store::open(dir.path()).await.unwrap();
    let bare: i64 = s
        .db()
        .query_opt(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('labels', 'widgets', 'pod_configs', 'ief_projects')",
            crate::store::db::params![],
        )
        .await
        .unwrap()
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(bare, 0);
    assert_eq!(
        s.query("acme", "kboss.labels", &Default::default())
            .await
            .unwrap()
            .total,
        1
    );
}

#[tokio::test]
async fn a_restart_knows_the_declared_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).await.unwrap();
        s.declare("hello", "1.0.0", &v1(), Mode::Upgrade)
            .await
            .unwrap();
    }
    let s = Store::open(dir.path()).await.unwrap();
    assert!(s.owns("hello", "notes"));
    assert!(!s.owns("other", "notes"));
}

mod pages;
