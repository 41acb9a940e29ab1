//! Store behaviour plugins rely on: scoping, sealing, uniqueness, atomicity.
//! Every test runs twice: on SQLite and on a real PostgreSQL server
//! ([`pgtest`]).

use super::*;
use crate::store::collections::FieldKind;

/// A store with organisations `a` and `b`, each with a center `c1`.
async fn seeded(s: Store) -> Store {
    for org in ["a", "b"] {
        s.ensure_organisation(org).await.unwrap();
        center(&s, org, "c1").await;
    }
    s
}

async fn sqlite() -> Store {
    seeded(
        Store::in_memory(Sealer::from_key(&[1u8; 32]))
            .await
            .unwrap(),
    )
    .await
}

async fn postgres() -> Store {
    let s = Store::open_postgres(&pgtest::database(), 4, Sealer::from_key(&[1u8; 32]), "test")
        .await
        .unwrap();
    seeded(s).await
}

/// `both!(name)`: the async test `name(store)` on SQLite and on PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::sqlite().await).await
            })+
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::postgres().await).await
            })+
        }
    };
}

both!(
    rows_are_invisible_and_untouchable_across_organisations,
    secrets_are_sealed_at_rest_and_redacted_on_read,
    unique_fields_conflict_within_an_organisation,
    bad_fields_are_refused_by_name,
    transactions_are_all_or_nothing,
    queries_filter_order_and_page,
    totals_are_right_whether_or_not_the_page_is_short,
    counted_totals_follow_every_write,
    composite_uniqueness_of_widgets,
    text_with_nul_is_refused_and_ids_with_nul_find_nothing,
    indexed_text_is_bounded_alike_on_both_backends,
    contains_takes_text_alike_on_both_backends,
    conditions_on_numbers_take_numbers_alike_on_both_backends,
    adding_past_the_largest_number_is_refused_and_changes_nothing,
);

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

/// A compute center named `name` in `org`; answers its id.
async fn center(s: &Store, org: &str, name: &str) -> String {
    let fields = [
        ("name", text(name)),
        ("pcapi_url", text("https://pcapi.example")),
        ("api_user", text("u")),
        ("api_pwd", Value::Secret("api-s3cret".into())),
        ("contactname", text("c")),
        ("contactphone", text("")),
    ];
    let fields: Vec<(String, Value)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    s.insert(org, "compute_centers", &fields).await.unwrap().id
}

/// The id of the center `c1` of `org`.
async fn c1(s: &Store, org: &str) -> String {
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text("c1"),
        }],
        ..Default::default()
    };
    s.query(org, "compute_centers", &q).await.unwrap().rows[0]
        .id
        .clone()
}

fn device_in(cpcid: &str, name: &str) -> Vec<(String, Value)> {
    vec![
        ("cpcid".into(), text(cpcid)),
        ("name".into(), text(name)),
        ("ip".into(), text("127.0.0.1")),
        ("devicetype".into(), text("1")),
        ("sshport".into(), Value::Integer(22)),
        ("adminuser".into(), text("root")),
        ("adminpwd".into(), Value::Secret("s3cret-pw".into())),
        ("node_status".into(), text("0")),
    ]
}

async fn device(s: &Store, org: &str, name: &str) -> Vec<(String, Value)> {
    device_in(&c1(s, org).await, name)
}

/// A priced component of center `cpcid`: a GPU `model` at `unit_price`.
fn widget_in(cpcid: &str, model: &str, unit_price: &str, stock: i64) -> Vec<(String, Value)> {
    [
        ("cpcid", text(cpcid)),
        ("type", text("gpu")),
        ("model", text(model)),
        ("unit_price", Value::Decimal(unit_price.into())),
        ("resource_unit", text("卡")),
        ("charge_unit", text("小时")),
        ("account_unit", text("元")),
        ("stock", Value::Integer(stock)),
        ("consumed", Value::Integer(0)),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into()
}

/// A query with one condition.
fn one_condition(field: &str, op: Comparison, value: Value) -> Query {
    Query {
        conditions: vec![Condition {
            field: field.into(),
            op,
            value,
        }],
        ..Default::default()
    }
}

async fn rows_are_invisible_and_untouchable_across_organisations(s: Store) {
    let row = s
        .insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    assert!(s.get("b", "devices", &row.id).await.unwrap().is_none());
    assert_eq!(
        s.query("b", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        s.update("b", "devices", &row.id, &[("ip".into(), text("x"))])
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!s.delete("b", "devices", &row.id).await.unwrap());
    assert!(s.get("a", "devices", &row.id).await.unwrap().is_some());
    // the same name is fine in another organisation
    s.insert("b", "devices", &device(&s, "b", "n1").await)
        .await
        .unwrap();
}

async fn secrets_are_sealed_at_rest_and_redacted_on_read(s: Store) {
    let row = s
        .insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    let pw = row.fields.iter().find(|(n, _)| n == "adminpwd").unwrap();
    assert_eq!(pw.1, Value::Redacted);
    let raw: Vec<u8> = s
        .db()
        .query_opt(
            "SELECT adminpwd FROM devices WHERE id = ?1",
            db::params![&row.id],
        )
        .await
        .unwrap()
        .unwrap()
        .get(0)
        .unwrap();
    assert!(!raw.windows(9).any(|w| w == b"s3cret-pw"));
    assert_eq!(
        s.reveal("a", "devices", &row.id, "adminpwd")
            .await
            .unwrap()
            .as_deref(),
        Some("s3cret-pw")
    );
    assert!(s.reveal("b", "devices", &row.id, "adminpwd").await.is_err());
    assert!(matches!(
        s.query(
            "a",
            "devices",
            &Query {
                conditions: vec![Condition {
                    field: "adminpwd".into(),
                    op: Comparison::Eq,
                    value: Value::Text("s3cret-pw".into())
                }],
                ..Default::default()
            }
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn unique_fields_conflict_within_an_organisation(s: Store) {
    s.insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    let err = s
        .insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("name")),
        "{err:?}"
    );
}

async fn bad_fields_are_refused_by_name(s: Store) {
    let cpcid = c1(&s, "a").await;
    let e = s
        .insert(
            "a",
            "devices",
            &[("cpcid".into(), text(&cpcid)), ("name".into(), text("x"))],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`ip`")),
        "{e:?}"
    );
    let e = s
        .insert("a", "devices", &[("nope".into(), Value::Text("x".into()))])
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`nope`")),
        "{e:?}"
    );
    let mut d = device(&s, "a", "x").await;
    d[4] = ("sshport".into(), text("22"));
    let e = s.insert("a", "devices", &d).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`sshport`")),
        "{e:?}"
    );
    assert_eq!(
        s.query("a", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        0
    );
}

async fn transactions_are_all_or_nothing(s: Store) {
    let row = s
        .insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    let writes = [
        Write::Insert("devices".into(), device(&s, "a", "n2").await),
        Write::Add(
            "devices".into(),
            row.id.clone(),
            "sshport".into(),
            Value::Integer(-100),
        ),
    ];
    assert!(matches!(
        s.transact("a", &writes).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.query("a", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        1
    );
    let rows = s
        .transact(
            "a",
            &[
                Write::Add(
                    "devices".into(),
                    row.id.clone(),
                    "sshport".into(),
                    Value::Integer(22),
                ),
                Write::Delete("devices".into(), row.id.clone()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        s.query("a", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        0
    );
}

async fn queries_filter_order_and_page(s: Store) {
    for n in ["c", "a", "b"] {
        s.insert("a", "devices", &device(&s, "a", n).await)
            .await
            .unwrap();
    }
    let page = s
        .query(
            "a",
            "devices",
            &Query {
                conditions: vec![Condition {
                    field: "name".into(),
                    op: Comparison::Ne,
                    value: Value::Text("b".into()),
                }],
                order_by: vec![Order {
                    field: "name".into(),
                    descending: true,
                }],
                limit: Some(1),
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.rows.len(), 1);
    let name = page.rows[0]
        .fields
        .iter()
        .find(|(n, _)| n == "name")
        .unwrap();
    assert_eq!(name.1, text("a"));
}

async fn totals_are_right_whether_or_not_the_page_is_short(s: Store) {
    for n in ["d1", "d2", "d3", "d4", "d5"] {
        s.insert("a", "devices", &device(&s, "a", n).await)
            .await
            .unwrap();
    }
    let page = |limit: Option<u32>, offset: u32| {
        let s = &s;
        async move {
            let q = Query {
                limit,
                offset,
                ..Query::default()
            };
            let p = s.query("a", "devices", &q).await.unwrap();
            (p.total, p.rows.len())
        }
    };
    assert_eq!(page(None, 0).await, (5, 5), "everything");
    assert_eq!(page(Some(2), 0).await, (5, 2), "a full first page");
    assert_eq!(page(Some(2), 4).await, (5, 1), "a short last page");
    assert_eq!(page(Some(5), 0).await, (5, 5), "a page exactly full");
    assert_eq!(page(Some(2), 9).await, (5, 0), "past the end");
    assert_eq!(page(Some(0), 0).await.0, 5, "no rows asked for");
}

/// The page total of `devices` where `cpcid = center` (the counted path).
async fn counted(s: &Store, org: &str, center: &str) -> u64 {
    let q = Query {
        conditions: vec![Condition {
            field: "cpcid".into(),
            op: Comparison::Eq,
            value: text(center),
        }],
        limit: Some(1),
        ..Default::default()
    };
    s.query(org, "devices", &q).await.unwrap().total
}

async fn counted_rows(s: &Store, org: &str, center: &str) -> u64 {
    s.db()
        .query_opt(
            "SELECT COUNT(*) FROM devices WHERE org_id = ?1 AND cpcid = ?2",
            db::params![org, center],
        )
        .await
        .unwrap()
        .unwrap()
        .get::<i64>(0)
        .unwrap() as u64
}

async fn counted_totals_follow_every_write(s: Store) {
    let (one, two) = (c1(&s, "a").await, center(&s, "a", "c2").await);
    let check = |n1: u64, n2: u64| {
        let (s, one, two) = (&s, &one, &two);
        async move {
            assert_eq!(counted(s, "a", one).await, n1);
            assert_eq!(counted_rows(s, "a", one).await, n1);
            assert_eq!(counted(s, "a", two).await, n2);
            assert_eq!(counted_rows(s, "a", two).await, n2);
        }
    };
    check(0, 0).await;
    let mut ids: Vec<String> = Vec::new();
    for i in 0..5 {
        let row = s
            .insert("a", "devices", &device_in(&one, &format!("d{i}")))
            .await
            .unwrap();
        ids.push(row.id);
    }
    check(5, 0).await;
    // Moving a device to another center moves its count.
    s.update("a", "devices", &ids[0], &[("cpcid".into(), text(&two))])
        .await
        .unwrap();
    check(4, 1).await;
    // Changing another field leaves counts alone.
    s.update("a", "devices", &ids[1], &[("ip".into(), text("10.0.0.9"))])
        .await
        .unwrap();
    check(4, 1).await;
    assert!(s.delete("a", "devices", &ids[2]).await.unwrap());
    check(3, 1).await;
    // A failed transaction leaves the counts as they were.
    let failing = [
        Write::Insert("devices".into(), device_in(&one, "d9")),
        Write::Delete("devices".into(), ids[3].clone()),
        Write::Add(
            "devices".into(),
            ids[4].clone(),
            "sshport".into(),
            Value::Integer(-1000),
        ),
    ];
    assert!(s.transact("a", &failing).await.is_err());
    check(3, 1).await;
    // Another organisation's center and rows are counted apart.
    assert_eq!(counted(&s, "b", &one).await, 0);
    let b1 = c1(&s, "b").await;
    s.insert("b", "devices", &device_in(&b1, "d0"))
        .await
        .unwrap();
    assert_eq!(counted(&s, "b", &b1).await, 1);
    check(3, 1).await;
    // A query with more conditions counts rows.
    let q = Query {
        conditions: vec![
            Condition {
                field: "cpcid".into(),
                op: Comparison::Eq,
                value: text(&one),
            },
            Condition {
                field: "ip".into(),
                op: Comparison::Eq,
                value: text("10.0.0.9"),
            },
        ],
        ..Default::default()
    };
    assert_eq!(s.query("a", "devices", &q).await.unwrap().total, 1);
}

async fn composite_uniqueness_of_widgets(s: Store) {
    let cpcid = c1(&s, "a").await;
    let widget = |model: &str| widget_in(&cpcid, model, "6.00", 0);
    let row = s
        .insert("a", "widgets", &widget("RTX5090-32G"))
        .await
        .unwrap();
    let price = row.fields.iter().find(|(n, _)| n == "unit_price").unwrap();
    assert_eq!(price.1, Value::Decimal("6".into()));
    assert!(matches!(
        s.insert("a", "widgets", &widget("RTX5090-32G")).await,
        Err(StoreError::Conflict(_))
    ));
    s.insert("a", "widgets", &widget("A100-80G")).await.unwrap();
}

/// PostgreSQL's text never holds NUL (U+0000): the store refuses it the same
/// way on both backends, as bad input (never an internal failure), and an id
/// with NUL finds nothing.
async fn text_with_nul_is_refused_and_ids_with_nul_find_nothing(s: Store) {
    let mut d = device(&s, "a", "n\0x").await;
    let e = s.insert("a", "devices", &d).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`name`") && m.contains("NUL")),
        "{e:?}"
    );
    d[1] = ("name".into(), text("n1"));
    let row = s.insert("a", "devices", &d).await.unwrap();
    let e = s
        .update("a", "devices", &row.id, &[("ip".into(), text("1\0"))])
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`ip`")),
        "{e:?}"
    );
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text("n1\0"),
        }],
        ..Default::default()
    };
    let e = s.query("a", "devices", &q).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`name`") && m.contains("NUL")),
        "{e:?}"
    );
    let bad_id = format!("{}\0", row.id);
    assert!(s.get("a", "devices", &bad_id).await.unwrap().is_none());
    assert!(matches!(
        s.update("a", "devices", &bad_id, &[("ip".into(), text("x"))])
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!s.delete("a", "devices", &bad_id).await.unwrap());
    assert!(matches!(
        s.reveal("a", "devices", &bad_id, "adminpwd").await,
        Err(StoreError::NotFound(_))
    ));
    // Nothing changed: the one device, as written.
    let got = s.get("a", "devices", &row.id).await.unwrap().unwrap();
    assert_eq!(got.fields, row.fields);
    assert_eq!(
        s.query("a", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        1
    );
}

/// Text no compression shortens: `n` characters of a fixed pseudo-random
/// sequence over 64 symbols (the same on every run).
fn incompressible(n: usize, seed: u64) -> String {
    const SYMBOLS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(SYMBOLS[(x % 64) as usize])
        })
        .collect()
}

fn names_the_bound(e: &StoreError, field: &str, bytes: u32) -> bool {
    matches!(e, StoreError::Invalid(m)
        if m.contains(&format!("`{field}`")) && m.contains(&format!("at most {bytes} bytes")))
}

/// Text in an index is bounded the same on both backends: PostgreSQL
/// refuses an index entry above about 2.7 KB (which reached callers as an
/// internal failure), so the store refuses longer text first, as bad input
/// naming the field, and writes nothing. The bound is taken up to the byte
/// on both, four fields of one key included; text in no index is not bound.
async fn indexed_text_is_bounded_alike_on_both_backends(s: Store) {
    use crate::store::collections::INDEXED_TEXT_BUDGET as BUDGET;
    let before = s
        .query("a", "devices", &Query::default())
        .await
        .unwrap()
        .total;
    let mut d = device(&s, "a", &incompressible(BUDGET as usize + 1, 1)).await;
    let e = s.insert("a", "devices", &d).await.unwrap_err();
    assert!(names_the_bound(&e, "name", BUDGET), "{e:?}");
    d[1] = ("name".into(), text(&incompressible(BUDGET as usize, 2)));
    d[2] = ("ip".into(), text(&incompressible(BUDGET as usize + 1, 3)));
    let e = s.insert("a", "devices", &d).await.unwrap_err();
    assert!(names_the_bound(&e, "ip", BUDGET), "{e:?}");
    let total = s
        .query("a", "devices", &Query::default())
        .await
        .unwrap()
        .total;
    assert_eq!(total, before, "a refused insert wrote nothing");
    d[2] = ("ip".into(), text(&incompressible(BUDGET as usize, 4)));
    d.push(("cpu_model".into(), text(&incompressible(20_000, 5))));
    let row = s.insert("a", "devices", &d).await.unwrap();
    let long_status = incompressible(BUDGET as usize + 1, 6);
    let e = s
        .update(
            "a",
            "devices",
            &row.id,
            &[("node_status".into(), text(&long_status))],
        )
        .await
        .unwrap_err();
    assert!(names_the_bound(&e, "node_status", BUDGET), "{e:?}");
    let kept = s.get("a", "devices", &row.id).await.unwrap().unwrap();
    assert!(kept.fields.contains(&("node_status".into(), text("0"))));

    // A plugin's key of four text fields and a reference: a quarter each.
    let field = |name: &str| FieldDecl {
        name: name.into(),
        kind: FieldKind::Text,
        required: true,
        unique: false,
        references: None,
    };
    let mut fields: Vec<FieldDecl> = ["k1", "k2", "k3", "k4", "note"].map(field).into();
    fields.push(FieldDecl {
        references: Some("compute_centers".into()),
        ..field("cpcid")
    });
    let decl = CollectionDecl {
        name: "wide".into(),
        fields,
        unique_keys: vec![["k1", "k2", "k3", "cpcid"].map(String::from).into()],
        indexes: vec![["k1", "k2", "k3", "k4"].map(String::from).into()],
    };
    s.declare("probe", "1.0.0", &[decl], SchemaMode::Upgrade)
        .await
        .unwrap();
    let quarter = BUDGET / 4;
    let cpcid = c1(&s, "a").await;
    let row = |k1: usize, note: usize| -> Vec<(String, Value)> {
        vec![
            ("k1".into(), text(&incompressible(k1, 7))),
            ("k2".into(), text(&incompressible(quarter as usize, 8))),
            ("k3".into(), text(&incompressible(quarter as usize, 9))),
            ("k4".into(), text(&incompressible(quarter as usize, 10))),
            ("note".into(), text(&incompressible(note, 11))),
            ("cpcid".into(), text(&cpcid)),
        ]
    };
    let e = s
        .insert("a", "probe.wide", &row(quarter as usize + 1, 1))
        .await
        .unwrap_err();
    assert!(names_the_bound(&e, "k1", quarter), "{e:?}");
    // A reference holds an id: a long one names nothing, and the refusal
    // does not echo it.
    let mut bad_ref = row(quarter as usize, 1);
    bad_ref[5] = ("cpcid".into(), text(&incompressible(10_000, 12)));
    let e = s.insert("a", "probe.wide", &bad_ref).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`cpcid`") && m.len() < 200),
        "{e:?}"
    );
    s.insert("a", "probe.wide", &row(quarter as usize, 50_000))
        .await
        .unwrap();
    assert_eq!(
        s.query("a", "probe.wide", &Query::default())
            .await
            .unwrap()
            .total,
        1
    );
}

/// `contains` matches text: on a number, with a number or with null it is
/// bad input on both backends (PostgreSQL has no `strpos` of a number, and
/// a null condition left its parameter unbound, both internal failures there
/// while SQLite answered).
async fn contains_takes_text_alike_on_both_backends(s: Store) {
    s.insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    let query = |field: &str, value: Value| one_condition(field, Comparison::Contains, value);
    for (field, value) in [
        ("sshport", text("2")),
        ("name", Value::Integer(1)),
        ("name", Value::Null),
        ("adminuser", Value::Boolean(true)),
    ] {
        let e = s.query("a", "devices", &query(field, value.clone())).await;
        assert!(
            matches!(e, Err(StoreError::Invalid(ref m)) if m.contains(&format!("`{field}`")) && m.contains("contains")),
            "{field} {value:?}: {e:?}"
        );
    }
    let found = s
        .query("a", "devices", &query("name", text("1")))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    let found = s
        .query("a", "devices", &query("created_at", text("T")))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
}

/// A condition on a number takes a number, or text that is one, on both
/// backends: PostgreSQL could not bind other text to a number or cast it to
/// a decimal (internal failures), where SQLite compared it as text.
async fn conditions_on_numbers_take_numbers_alike_on_both_backends(s: Store) {
    s.insert("a", "devices", &device(&s, "a", "n1").await)
        .await
        .unwrap();
    let cpcid = c1(&s, "a").await;
    let widget = widget_in(&cpcid, "A100", "12.50", 1);
    s.insert("a", "widgets", &widget).await.unwrap();
    let s = &s;
    let total = |collection: &'static str, field: &'static str, op: Comparison, value: Value| {
        let q = one_condition(field, op, value);
        async move { s.query("a", collection, &q).await.map(|p| p.total) }
    };
    for (collection, field, value) in [
        ("devices", "sshport", "abc"),
        ("devices", "sshport", ""),
        ("devices", "sshport", " 22"),
        ("devices", "sshport", "99999999999999999999"),
        ("widgets", "unit_price", "abc"),
        ("widgets", "unit_price", ""),
        ("widgets", "unit_price", "NaN"),
    ] {
        let e = total(collection, field, Comparison::Lt, text(value)).await;
        assert!(
            matches!(e, Err(StoreError::Invalid(ref m)) if m.contains(&format!("`{field}`"))),
            "{field} < {value:?}: {e:?}"
        );
    }
    let eq = Comparison::Eq;
    assert_eq!(
        total("devices", "sshport", eq, text("22")).await.unwrap(),
        1
    );
    assert_eq!(
        total("devices", "sshport", eq, Value::Integer(22))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        total("widgets", "unit_price", eq, text("12.5"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        total("widgets", "unit_price", eq, text("12.500"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        total("widgets", "unit_price", Comparison::Gt, Value::Integer(12))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        total("widgets", "unit_price", Comparison::Gt, Value::Integer(13))
            .await
            .unwrap(),
        0
    );
}

/// An atomic add that would pass the largest integer or decimal is bad
/// input and leaves the value as it was (the decimal sum panicked before).
async fn adding_past_the_largest_number_is_refused_and_changes_nothing(s: Store) {
    let cpcid = c1(&s, "a").await;
    let largest = rust_decimal::Decimal::MAX.to_string();
    let widget = widget_in(&cpcid, "A100", &largest, i64::MAX);
    let row = s.insert("a", "widgets", &widget).await.unwrap();
    for (field, delta) in [
        ("unit_price", Value::Decimal("1".into())),
        ("stock", Value::Integer(1)),
    ] {
        let add = Write::Add("widgets".into(), row.id.clone(), field.into(), delta);
        let e = s.transact("a", &[add]).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref m) if m.contains(&format!("`{field}`")) && m.contains("overflow")),
            "{field}: {e:?}"
        );
    }
    let kept = s.get("a", "widgets", &row.id).await.unwrap().unwrap();
    assert!(kept
        .fields
        .contains(&("unit_price".into(), Value::Decimal(largest))));
    assert!(kept
        .fields
        .contains(&("stock".into(), Value::Integer(i64::MAX))));
}
