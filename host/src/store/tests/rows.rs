//! Rows are scoped to their organisation, secrets sealed, unique fields
//! and transactions kept.

use super::*;

both!(
    rows_are_invisible_and_untouchable_across_organisations,
    secrets_are_sealed_at_rest_and_redacted_on_read,
    unique_fields_conflict_within_an_organisation,
    bad_fields_are_refused_by_name,
    transactions_are_all_or_nothing,
);

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
