//! Input the two backends would treat apart is refused alike, as bad input
//! naming the field, and changes nothing.

use super::*;

both!(
    text_with_nul_is_refused_and_ids_with_nul_find_nothing,
    indexed_text_is_bounded_alike_on_both_backends,
    contains_takes_text_alike_on_both_backends,
    conditions_on_numbers_take_numbers_alike_on_both_backends,
    adding_past_the_largest_number_is_refused_and_changes_nothing,
);

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
