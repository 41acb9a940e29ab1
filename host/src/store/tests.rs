//! Store behaviour plugins rely on: scoping, sealing, uniqueness, atomicity.

use super::*;

fn store() -> Store {
    let conn = Connection::open_in_memory().unwrap();
    let s = Store::with_connection(conn, Sealer::from_key(&[1u8; 32])).unwrap();
    for org in ["a", "b"] {
        s.ensure_organisation(org).unwrap();
        center(&s, org, "c1");
    }
    s
}

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

/// A compute center named `name` in `org`; answers its id.
fn center(s: &Store, org: &str, name: &str) -> String {
    let fields = [
        ("name", text(name)),
        ("pcapi_url", text("https://pcapi.example")),
        ("api_user", text("u")),
        ("api_pwd", Value::Secret("api-s3cret".into())),
        ("contactname", text("c")),
        ("contactphone", text("")),
    ];
    let fields: Vec<(String, Value)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    s.insert(org, "compute_centers", &fields).unwrap().id
}

/// The id of the center `c1` of `org`.
fn c1(s: &Store, org: &str) -> String {
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text("c1"),
        }],
        ..Default::default()
    };
    s.query(org, "compute_centers", &q).unwrap().rows[0]
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

fn device(s: &Store, org: &str, name: &str) -> Vec<(String, Value)> {
    device_in(&c1(s, org), name)
}

#[test]
fn rows_are_invisible_and_untouchable_across_organisations() {
    let s = store();
    let row = s.insert("a", "devices", &device(&s, "a", "n1")).unwrap();
    assert!(s.get("b", "devices", &row.id).unwrap().is_none());
    assert_eq!(s.query("b", "devices", &Query::default()).unwrap().total, 0);
    assert!(matches!(
        s.update("b", "devices", &row.id, &[("ip".into(), text("x"))]),
        Err(StoreError::NotFound(_))
    ));
    assert!(!s.delete("b", "devices", &row.id).unwrap());
    assert!(s.get("a", "devices", &row.id).unwrap().is_some());
    // the same name is fine in another organisation
    s.insert("b", "devices", &device(&s, "b", "n1")).unwrap();
}

#[test]
fn secrets_are_sealed_at_rest_and_redacted_on_read() {
    let s = store();
    let row = s.insert("a", "devices", &device(&s, "a", "n1")).unwrap();
    let pw = row.fields.iter().find(|(n, _)| n == "adminpwd").unwrap();
    assert_eq!(pw.1, Value::Redacted);
    let raw: Vec<u8> = s
        .conn()
        .query_row(
            "SELECT adminpwd FROM devices WHERE id = ?1",
            [&row.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!raw.windows(9).any(|w| w == b"s3cret-pw"));
    assert_eq!(
        s.reveal("a", "devices", &row.id, "adminpwd")
            .unwrap()
            .as_deref(),
        Some("s3cret-pw")
    );
    assert!(s.reveal("b", "devices", &row.id, "adminpwd").is_err());
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
        ),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn unique_fields_conflict_within_an_organisation() {
    let s = store();
    s.insert("a", "devices", &device(&s, "a", "n1")).unwrap();
    let err = s
        .insert("a", "devices", &device(&s, "a", "n1"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("name")),
        "{err:?}"
    );
}

#[test]
fn bad_fields_are_refused_by_name() {
    let s = store();
    let cpcid = c1(&s, "a");
    let e = s
        .insert(
            "a",
            "devices",
            &[("cpcid".into(), text(&cpcid)), ("name".into(), text("x"))],
        )
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`ip`")),
        "{e:?}"
    );
    let e = s
        .insert("a", "devices", &[("nope".into(), Value::Text("x".into()))])
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`nope`")),
        "{e:?}"
    );
    let mut d = device(&s, "a", "x");
    d[4] = ("sshport".into(), text("22"));
    let e = s.insert("a", "devices", &d).unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`sshport`")),
        "{e:?}"
    );
    assert_eq!(s.query("a", "devices", &Query::default()).unwrap().total, 0);
}

#[test]
fn transactions_are_all_or_nothing() {
    let s = store();
    let row = s.insert("a", "devices", &device(&s, "a", "n1")).unwrap();
    let writes = [
        Write::Insert("devices".into(), device(&s, "a", "n2")),
        Write::Add(
            "devices".into(),
            row.id.clone(),
            "sshport".into(),
            Value::Integer(-100),
        ),
    ];
    assert!(matches!(
        s.transact("a", &writes),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.query("a", "devices", &Query::default()).unwrap().total, 1);
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
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(s.query("a", "devices", &Query::default()).unwrap().total, 0);
}

#[test]
fn queries_filter_order_and_page() {
    let s = store();
    for n in ["c", "a", "b"] {
        s.insert("a", "devices", &device(&s, "a", n)).unwrap();
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

#[test]
fn totals_are_right_whether_or_not_the_page_is_short() {
    let s = store();
    for n in ["d1", "d2", "d3", "d4", "d5"] {
        s.insert("a", "devices", &device(&s, "a", n)).unwrap();
    }
    let page = |limit: Option<u32>, offset: u32| {
        let q = Query {
            limit,
            offset,
            ..Query::default()
        };
        let p = s.query("a", "devices", &q).unwrap();
        (p.total, p.rows.len())
    };
    assert_eq!(page(None, 0), (5, 5), "everything");
    assert_eq!(page(Some(2), 0), (5, 2), "a full first page");
    assert_eq!(page(Some(2), 4), (5, 1), "a short last page");
    assert_eq!(page(Some(5), 0), (5, 5), "a page exactly full");
    assert_eq!(page(Some(2), 9), (5, 0), "past the end");
    assert_eq!(page(Some(0), 0).0, 5, "no rows asked for");
}

/// The page total of `devices` where `cpcid = center` (the counted path).
fn counted(s: &Store, org: &str, center: &str) -> u64 {
    let q = Query {
        conditions: vec![Condition {
            field: "cpcid".into(),
            op: Comparison::Eq,
            value: text(center),
        }],
        limit: Some(1),
        ..Default::default()
    };
    s.query(org, "devices", &q).unwrap().total
}

fn counted_rows(s: &Store, org: &str, center: &str) -> u64 {
    s.conn()
        .query_row(
            "SELECT COUNT(*) FROM devices WHERE org_id = ?1 AND cpcid = ?2",
            [org, center],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
}

#[test]
fn counted_totals_follow_every_write() {
    let s = store();
    let (one, two) = (c1(&s, "a"), center(&s, "a", "c2"));
    let check = |n1: u64, n2: u64| {
        assert_eq!(counted(&s, "a", &one), n1);
        assert_eq!(counted_rows(&s, "a", &one), n1);
        assert_eq!(counted(&s, "a", &two), n2);
        assert_eq!(counted_rows(&s, "a", &two), n2);
    };
    check(0, 0);
    let ids: Vec<String> = (0..5)
        .map(|i| {
            s.insert("a", "devices", &device_in(&one, &format!("d{i}")))
                .unwrap()
                .id
        })
        .collect();
    check(5, 0);
    // Moving a device to another center moves its count.
    s.update("a", "devices", &ids[0], &[("cpcid".into(), text(&two))])
        .unwrap();
    check(4, 1);
    // Changing another field leaves counts alone.
    s.update("a", "devices", &ids[1], &[("ip".into(), text("10.0.0.9"))])
        .unwrap();
    check(4, 1);
    assert!(s.delete("a", "devices", &ids[2]).unwrap());
    check(3, 1);
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
    assert!(s.transact("a", &failing).is_err());
    check(3, 1);
    // Another organisation's center and rows are counted apart.
    assert_eq!(counted(&s, "b", &one), 0);
    let b1 = c1(&s, "b");
    s.insert("b", "devices", &device_in(&b1, "d0")).unwrap();
    assert_eq!(counted(&s, "b", &b1), 1);
    check(3, 1);
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
    assert_eq!(s.query("a", "devices", &q).unwrap().total, 1);
}

#[test]
fn composite_uniqueness_of_widgets() {
    let s = store();
    let cpcid = c1(&s, "a");
    let widget = |model: &str| -> Vec<(String, Value)> {
        vec![
            ("cpcid".into(), text(&cpcid)),
            ("type".into(), text("gpu")),
            ("model".into(), text(model)),
            ("unit_price".into(), Value::Decimal("6.00".into())),
            ("resource_unit".into(), text("卡")),
            ("charge_unit".into(), text("小时")),
            ("account_unit".into(), text("元")),
            ("stock".into(), Value::Integer(0)),
            ("consumed".into(), Value::Integer(0)),
        ]
    };
    let row = s.insert("a", "widgets", &widget("RTX5090-32G")).unwrap();
    let price = row.fields.iter().find(|(n, _)| n == "unit_price").unwrap();
    assert_eq!(price.1, Value::Decimal("6".into()));
    assert!(matches!(
        s.insert("a", "widgets", &widget("RTX5090-32G")),
        Err(StoreError::Conflict(_))
    ));
    s.insert("a", "widgets", &widget("A100-80G")).unwrap();
}
