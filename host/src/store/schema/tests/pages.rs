//! Pages of plugin collections at scale: indexes in page order, counted
//! reference fields, and tables from before them.

use super::*;

/// A plugin with a parent collection, and children that refer to it and
/// declare an index on `kind`.
fn family() -> Vec<CollectionDecl> {
    vec![
        CollectionDecl {
            name: "parents".into(),
            fields: vec![f("name", FieldKind::Text, true)],
            unique_keys: vec![],
            indexes: vec![],
        },
        CollectionDecl {
            name: "children".into(),
            fields: vec![
                FieldDecl {
                    references: Some("parents".into()),
                    ..f("parent", FieldKind::Text, true)
                },
                f("kind", FieldKind::Text, true),
                f("model", FieldKind::Text, true),
            ],
            unique_keys: vec![vec!["parent".into(), "model".into()]],
            indexes: vec![vec!["kind".into()]],
        },
    ]
}

/// SQLite's plan for the page the store reads for `q`.
async fn plan(s: &Store, q: &records::Query) -> String {
    let c = s.collection("hello.children").unwrap();
    let page = crate::store::query::page_sql(&c, s.db().dialect(), "a", q).unwrap();
    let rows = s
        .db()
        .query(&format!("EXPLAIN QUERY PLAN {}", page.select), page.values)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| r.get::<String>(3).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn filtered(field: &str, value: &str) -> records::Query {
    records::Query {
        conditions: vec![crate::store::Condition {
            field: field.into(),
            op: records::Comparison::Eq,
            value: Value::Text(value.into()),
        }],
        limit: Some(20),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_page_filtered_on_a_parent_or_an_index_is_read_in_order_without_a_sort() {
    let s = store().await;
    s.declare("hello", "1.0.0", &family(), Mode::Upgrade)
        .await
        .unwrap();
    // Both read an index in page order and need no sort of every match
    // (SQLite says `USE TEMP B-TREE FOR ORDER BY` when it sorts).
    for (field, index) in [
        ("parent", "hello.children.o.parent"),
        ("kind", "hello.children.o.kind"),
    ] {
        let plan = plan(&s, &filtered(field, "x")).await;
        assert!(plan.contains(index), "{field}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{field}: {plan}");
    }
    // A page ordered on another field still sorts: the order asked for
    // comes first.
    let mut by_model = filtered("parent", "x");
    by_model.order_by = vec![crate::store::Order {
        field: "model".into(),
        descending: true,
    }];
    assert!(plan(&s, &by_model).await.contains("TEMP B-TREE"));
    // And the rows come in page order: created_at, then id.
    let p = s
        .insert(
            "a",
            "hello.parents",
            &[("name".into(), Value::Text("p".into()))],
        )
        .await
        .unwrap();
    let mut made = Vec::new();
    for i in 0..30 {
        let row = s
            .insert(
                "a",
                "hello.children",
                &[
                    ("parent".into(), Value::Text(p.id.clone())),
                    ("kind".into(), Value::Text("gpu".into())),
                    ("model".into(), Value::Text(format!("m{i:02}"))),
                ],
            )
            .await
            .unwrap();
        made.push((row.created_at, row.id));
    }
    let page = s
        .query("a", "hello.children", &filtered("parent", &p.id))
        .await
        .unwrap();
    assert_eq!(page.total, 30);
    // Page order is `created_at`, then `id` (rows made in one millisecond
    // share a `created_at`).
    made.sort();
    let ids: Vec<&str> = page.rows.iter().map(|r| r.id.as_str()).collect();
    let first: Vec<&str> = made.iter().take(20).map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, first);
}

/// The index names of `table` in the SQLite file.
fn indexes(conn: &Connection, table: &str) -> Vec<String> {
    let mut st = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 ORDER BY name",
        )
        .unwrap();
    st.query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_table_made_before_ordered_indexes_gets_them_on_its_next_load() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).await.unwrap();
        s.declare("hello", "1.0.0", &family(), Mode::Upgrade)
            .await
            .unwrap();
    }
    // As an earlier host left it: the declared index on `kind` alone, no
    // index in page order.
    let conn = Connection::open(dir.path().join("computehub.db")).unwrap();
    conn.execute_batch(
        r#"DROP INDEX "hello.children.o.kind"; DROP INDEX "hello.children.o.parent";
           CREATE INDEX "hello.children.i.kind" ON "hello.children" (org_id, "kind");"#,
    )
    .unwrap();
    assert!(indexes(&conn, "hello.children").contains(&"hello.children.i.kind".to_string()));
    {
        let s = Store::open(dir.path()).await.unwrap();
        s.declare("hello", "1.0.0", &family(), Mode::Keep)
            .await
            .unwrap();
    }
    let now = indexes(&conn, "hello.children");
    assert!(
        now.contains(&"hello.children.o.kind".to_string()),
        "{now:?}"
    );
    assert!(
        now.contains(&"hello.children.o.parent".to_string()),
        "{now:?}"
    );
    assert!(
        !now.contains(&"hello.children.i.kind".to_string()),
        "{now:?}"
    );
}

/// The total of the page of `parent`'s children, two rows a page (so the
/// total is not told by a short page).
async fn children_of(s: &Store, parent: &str) -> u64 {
    let mut q = filtered("parent", parent);
    q.limit = Some(2);
    s.query("a", "hello.children", &q).await.unwrap().total
}

async fn child(s: &Store, org: &str, parent: &str, model: &str) -> String {
    s.insert(
        org,
        "hello.children",
        &[
            ("parent".into(), Value::Text(parent.into())),
            ("kind".into(), Value::Text("gpu".into())),
            ("model".into(), Value::Text(model.into())),
        ],
    )
    .await
    .unwrap()
    .id
}

async fn parent(s: &Store, org: &str) -> String {
    s.insert(
        org,
        "hello.parents",
        &[("name".into(), Value::Text("p".into()))],
    )
    .await
    .unwrap()
    .id
}

/// Inserts, a move to another parent and a delete, then the totals; then
/// `record_counts` is set wrong by hand, and the total follows it: the
/// total is read from the counts, not counted.
async fn counted_totals(s: &Store) {
    let (p1, p2) = (parent(s, "a").await, parent(s, "a").await);
    let pb = parent(s, "b").await;
    for i in 0..5 {
        child(s, "a", &p1, &format!("m{i}")).await;
    }
    let moved = child(s, "a", &p2, "x").await;
    let gone = child(s, "a", &p2, "y").await;
    child(s, "b", &pb, "m0").await;
    s.update(
        "a",
        "hello.children",
        &moved,
        &[("parent".into(), Value::Text(p1.clone()))],
    )
    .await
    .unwrap();
    assert!(s.delete("a", "hello.children", &gone).await.unwrap());
    assert_eq!(children_of(s, &p1).await, 6);
    assert_eq!(children_of(s, &p2).await, 0);
    s.db()
        .execute(
            "UPDATE record_counts SET n = 1000 WHERE collection = 'hello.children' AND field = 'parent' AND value = ?1",
            crate::store::db::params![p1.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(children_of(s, &p1).await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_filtered_on_a_parent_takes_its_total_from_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path()).await.unwrap();
    let pg = Store::open_postgres(&pgtest::database(), 2, Sealer::from_key(&[7u8; 32]), "test")
        .await
        .unwrap();
    for s in [sqlite, pg] {
        s.ensure_organisation("a").await.unwrap();
        s.ensure_organisation("b").await.unwrap();
        s.declare("hello", "1.0.0", &family(), Mode::Upgrade)
            .await
            .unwrap();
        counted_totals(&s).await;
    }
}

#[tokio::test]
async fn a_table_made_before_counts_is_counted_from_its_next_load() {
    let dir = tempfile::tempdir().unwrap();
    let p1;
    {
        let s = Store::open(dir.path()).await.unwrap();
        s.ensure_organisation("a").await.unwrap();
        s.declare("hello", "1.0.0", &family(), Mode::Upgrade)
            .await
            .unwrap();
        p1 = parent(&s, "a").await;
    }
    // As an earlier host left it: no triggers, no counts, rows in.
    let conn = Connection::open(dir.path().join("computehub.db")).unwrap();
    conn.execute_batch(
        r#"DROP TRIGGER "hello.children.c.parent.insert";
           DROP TRIGGER "hello.children.c.parent.delete";
           DROP TRIGGER "hello.children.c.parent.update";
           DELETE FROM record_counts;"#,
    )
    .unwrap();
    {
        let s = Store::open(dir.path()).await.unwrap();
        for i in 0..3 {
            child(&s, "a", &p1, &format!("m{i}")).await;
        }
        // Not counted yet: the rows are counted each time, and right.
        assert_eq!(children_of(&s, &p1).await, 3);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM record_counts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
    let s = Store::open(dir.path()).await.unwrap();
    s.declare("hello", "1.0.0", &family(), Mode::Keep)
        .await
        .unwrap();
    // The load made the triggers and counted the rows already there.
    let n: i64 = conn
        .query_row(
            "SELECT n FROM record_counts WHERE collection = 'hello.children' AND field = 'parent' AND value = ?1",
            [&p1],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 3);
    child(&s, "a", &p1, "m3").await;
    assert_eq!(children_of(&s, &p1).await, 4);
}

#[tokio::test]
async fn an_index_a_new_version_declares_is_made_in_page_order() {
    let s = store().await;
    let mut v1 = family();
    v1[1].indexes.clear();
    s.declare("hello", "1.0.0", &v1, Mode::Upgrade)
        .await
        .unwrap();
    // No index on `kind` yet.
    let before = plan(&s, &filtered("kind", "x")).await;
    assert!(!before.contains("hello.children.o.kind"), "{before}");
    s.declare("hello", "2.0.0", &family(), Mode::Upgrade)
        .await
        .unwrap();
    let plan = plan(&s, &filtered("kind", "x")).await;
    assert!(plan.contains("hello.children.o.kind"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}
