//! Store behaviour plugins rely on: scoping, sealing, uniqueness, atomicity.

use super::*;

fn store() -> Store {
    let conn = Connection::open_in_memory().unwrap();
    let s = Store::with_connection(conn, Sealer::from_key(&[1u8; 32])).unwrap();
    s.ensure_organisation("a").unwrap();
    s.ensure_organisation("b").unwrap();
    s
}

fn device(name: &str) -> Vec<(String, Value)> {
    vec![
        ("name".into(), Value::Text(name.into())),
        ("ip".into(), Value::Text("127.0.0.1".into())),
        ("password".into(), Value::Secret("s3cret-pw".into())),
    ]
}

#[test]
fn rows_are_invisible_and_untouchable_across_organisations() {
    let s = store();
    let row = s.insert("a", "devices", &device("n1")).unwrap();
    assert!(s.get("b", "devices", &row.id).unwrap().is_none());
    assert_eq!(s.query("b", "devices", &Query::default()).unwrap().total, 0);
    assert!(matches!(
        s.update(
            "b",
            "devices",
            &row.id,
            &[("ip".into(), Value::Text("x".into()))]
        ),
        Err(StoreError::NotFound(_))
    ));
    assert!(!s.delete("b", "devices", &row.id).unwrap());
    assert!(s.get("a", "devices", &row.id).unwrap().is_some());
    // the same name is fine in another organisation
    s.insert("b", "devices", &device("n1")).unwrap();
}

#[test]
fn secrets_are_sealed_at_rest_and_redacted_on_read() {
    let s = store();
    let row = s.insert("a", "devices", &device("n1")).unwrap();
    let pw = row.fields.iter().find(|(n, _)| n == "password").unwrap();
    assert_eq!(pw.1, Value::Redacted);
    let raw: Vec<u8> = s
        .conn()
        .query_row(
            "SELECT password FROM devices WHERE id = ?1",
            [&row.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!raw.windows(9).any(|w| w == b"s3cret-pw"));
    assert_eq!(
        s.reveal("a", "devices", &row.id, "password")
            .unwrap()
            .as_deref(),
        Some("s3cret-pw")
    );
    assert!(s.reveal("b", "devices", &row.id, "password").is_err());
    assert!(matches!(
        s.query(
            "a",
            "devices",
            &Query {
                conditions: vec![Condition {
                    field: "password".into(),
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
    s.insert("a", "devices", &device("n1")).unwrap();
    let err = s.insert("a", "devices", &device("n1")).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("name")),
        "{err:?}"
    );
}

#[test]
fn bad_fields_are_refused_by_name() {
    let s = store();
    let e = s
        .insert("a", "devices", &[("name".into(), Value::Text("x".into()))])
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
    let mut d = device("x");
    d.push(("port".into(), Value::Text("22".into())));
    let e = s.insert("a", "devices", &d).unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("`port`")),
        "{e:?}"
    );
    assert_eq!(s.query("a", "devices", &Query::default()).unwrap().total, 0);
}

#[test]
fn transactions_are_all_or_nothing() {
    let s = store();
    let row = s.insert("a", "devices", &device("n1")).unwrap();
    let writes = [
        Write::Insert("devices".into(), device("n2")),
        Write::Add(
            "devices".into(),
            row.id.clone(),
            "port".into(),
            Value::Integer(-1),
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
                    "port".into(),
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
        s.insert("a", "devices", &device(n)).unwrap();
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
    assert_eq!(page.rows[0].fields[0].1, Value::Text("a".into()));
}
