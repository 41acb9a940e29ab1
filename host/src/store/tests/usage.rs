//! What each organisation stores (`store::usage`): kept by every write on
//! both backends, equal to what counting the rows finds, and the two bounds
//! it serves (a record's size, an organisation's quota), whose refusals
//! change nothing.

use super::*;
use crate::store::usage::{self, MAX_RECORD_BYTES, ROW_OVERHEAD};

both!(
    stored_bytes_follow_every_write_and_match_a_count_of_the_rows,
    every_kind_of_field_counts_alike_in_rust_and_in_sql,
    a_record_past_its_bound_is_refused_and_changes_nothing,
    an_organisation_past_its_quota_is_refused_and_may_still_free_space,
);

/// `org`'s bytes in `collection`, as `stored_bytes` keeps them.
async fn kept(s: &Store, org: &str, collection: &str) -> u64 {
    s.stored_bytes(Some(org))
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.collection == collection)
        .map_or(0, |u| u.bytes)
}

/// Every organisation's figures, counted again from the rows, the way a
/// store from before the count is counted on its first open.
async fn recounted(s: &Store) -> Vec<usage::Usage> {
    s.db()
        .execute("DELETE FROM stored_bytes_ready", db::params![])
        .await
        .unwrap();
    s.db()
        .execute("UPDATE stored_bytes SET bytes = 1", db::params![])
        .await
        .unwrap();
    let all = s.schema_all();
    let n = usage::count_missing(s.db(), all.iter().map(|c| &**c))
        .await
        .unwrap();
    assert_eq!(n, all.len());
    s.stored_bytes(None).await.unwrap()
}

/// The figures follow inserts, updates, atomic adds and deletes, by
/// organisation, and are exactly what counting the rows in SQL finds (the
/// measure in Rust and in each dialect's SQL agree).
async fn stored_bytes_follow_every_write_and_match_a_count_of_the_rows(s: Store) {
    let centers = kept(&s, "a", "compute_centers").await;
    assert!(centers > ROW_OVERHEAD, "{centers}");
    let d = device(&s, "a", "n1").await;
    let row = s.insert("a", "devices", &d).await.unwrap();
    let one = kept(&s, "a", "devices").await;
    // The text values, the port (8) and the sealed password's bytes.
    assert!(one > ROW_OVERHEAD + 8 + 40, "{one}");
    assert_eq!(kept(&s, "b", "devices").await, 0);
    s.update(
        "a",
        "devices",
        &row.id,
        &[("ip".into(), text("127.0.0.100"))],
    )
    .await
    .unwrap();
    assert_eq!(kept(&s, "a", "devices").await, one + 2);
    let w = s
        .insert(
            "a",
            "widgets",
            &widget_in(&c1(&s, "a").await, "A100", "1.5", 1),
        )
        .await
        .unwrap();
    // The store's name of the collection kboss took over.
    let widgets = kept(&s, "a", "kboss.widgets").await;
    s.transact(
        "a",
        &[Write::Add(
            "widgets".into(),
            w.id.clone(),
            "unit_price".into(),
            Value::Decimal("10".into()),
        )],
    )
    .await
    .unwrap();
    // 1.5 + 10 = 11.5: one character more.
    assert_eq!(kept(&s, "a", "kboss.widgets").await, widgets + 1);
    let before = s.stored_bytes(None).await.unwrap();
    assert_eq!(recounted(&s).await, before);
    assert!(s.delete("a", "devices", &row.id).await.unwrap());
    assert_eq!(kept(&s, "a", "devices").await, 0);
    assert_eq!(kept(&s, "a", "compute_centers").await, centers);
}

/// A plugin's collection with a field of every kind, set and null: what
/// the writes counted is what counting its rows in SQL finds.
async fn every_kind_of_field_counts_alike_in_rust_and_in_sql(s: Store) {
    let field = |name: &str, kind| FieldDecl {
        name: name.into(),
        kind,
        required: false,
        unique: false,
        references: None,
    };
    let decl = CollectionDecl {
        name: "things".into(),
        fields: vec![
            field("t", FieldKind::Text),
            field("i", FieldKind::Integer),
            field("d", FieldKind::Decimal),
            field("b", FieldKind::Boolean),
            field("s", FieldKind::Secret),
            field("at", FieldKind::Timestamp),
        ],
        unique_keys: vec![],
        indexes: vec![],
    };
    s.declare("kinds", "1.0.0", &[decl], SchemaMode::Upgrade)
        .await
        .unwrap();
    let full = [
        ("t", text("héllo, 世界")),
        ("i", Value::Integer(-7)),
        ("d", Value::Decimal("12.50".into())),
        ("b", Value::Boolean(true)),
        ("s", Value::Secret("s3cret".into())),
        ("at", text("2026-12-08T03:00:00Z")),
    ];
    let full: Vec<(String, Value)> = full.into_iter().map(|(k, v)| (k.into(), v)).collect();
    s.insert("a", "kinds.things", &full).await.unwrap();
    s.insert("a", "kinds.things", &[]).await.unwrap();
    s.insert("b", "kinds.things", &full[..3]).await.unwrap();
    let sealed = s
        .db()
        .query_opt(
            "SELECT s FROM \"kinds.things\" WHERE s IS NOT NULL",
            db::params![],
        )
        .await
        .unwrap()
        .unwrap()
        .0[0]
        .payload_len() as u64;
    assert!(sealed > 6, "{sealed}");
    // Two rows; the text's 14 bytes, two numbers (8 each), "12.5", the
    // timestamp's 20 and the sealed secret; the second row all null.
    assert_eq!(
        kept(&s, "a", "kinds.things").await,
        2 * ROW_OVERHEAD + 14 + 8 + 4 + 8 + 20 + sealed
    );
    let before = s.stored_bytes(None).await.unwrap();
    assert_eq!(recounted(&s).await, before);
}

/// A record past `MAX_RECORD_BYTES` is refused, inserted or grown by an
/// update, as the caller's to fix; nothing is written or counted.
async fn a_record_past_its_bound_is_refused_and_changes_nothing(s: Store) {
    let big = "x".repeat(MAX_RECORD_BYTES as usize);
    let before = s.stored_bytes(None).await.unwrap();
    let mut fields = vec![
        ("name".into(), text("big")),
        ("pcapi_url".into(), text("https://pcapi.example")),
        ("api_user".into(), text("u")),
        ("api_pwd".into(), Value::Secret("pw".into())),
        ("contactname".into(), text(&big)),
        ("contactphone".into(), text("")),
    ];
    let e = s.insert("a", "compute_centers", &fields).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("more than a record may")),
        "{e:?}"
    );
    let page = s
        .query("a", "compute_centers", &Query::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(s.stored_bytes(None).await.unwrap(), before);
    // Half of it fits; an update making it whole again does not.
    fields[4].1 = text(&big[..big.len() / 2]);
    let row = s.insert("a", "compute_centers", &fields).await.unwrap();
    let after = kept(&s, "a", "compute_centers").await;
    let e = s
        .update(
            "a",
            "compute_centers",
            &row.id,
            &[("contactname".into(), text(&big))],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let kept_row = s
        .get("a", "compute_centers", &row.id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept_row
        .fields
        .contains(&("contactname".into(), text(&big[..big.len() / 2]))));
    assert_eq!(kept(&s, "a", "compute_centers").await, after);

    // A record stored past the bound before it existed (written here by
    // hand) may shrink, and may not grow.
    let over = "y".repeat(MAX_RECORD_BYTES as usize + 1000);
    s.db()
        .execute(
            "UPDATE compute_centers SET contactname = ?1 WHERE id = ?2",
            db::params![over.clone(), row.id.clone()],
        )
        .await
        .unwrap();
    let shorter = text(&over[..over.len() - 10]);
    s.update(
        "a",
        "compute_centers",
        &row.id,
        &[("contactname".into(), shorter)],
    )
    .await
    .unwrap();
    let e = s
        .update(
            "a",
            "compute_centers",
            &row.id,
            &[("contactname".into(), text(&over))],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
}

/// Past its quota an organisation's writes that add bytes are refused and
/// change nothing (a transaction's other writes included); a quota the
/// operator sets for the organisation holds instead of the default; another
/// organisation still writes; deleting and shrinking are taken even above
/// the quota, and free room for more.
async fn an_organisation_past_its_quota_is_refused_and_may_still_free_space(s: Store) {
    s.set_storage_quota_mib(1);
    let cpcid = c1(&s, "a").await;
    let note = "n".repeat(300 << 10);
    let mut ids = Vec::new();
    let refusal = loop {
        let mut d = device_in(&cpcid, &format!("d{}", ids.len()));
        d.push(("cpu_model".into(), text(&note)));
        match s.insert("a", "devices", &d).await {
            Ok(row) => ids.push(row.id),
            Err(e) => break e,
        }
        assert!(ids.len() < 10, "never refused");
    };
    assert_eq!(ids.len(), 3, "three of 300 KiB fit in 1 MiB");
    assert!(
        matches!(refusal, StoreError::Invalid(ref m) if m.contains("quota of 1 MiB")),
        "{refusal:?}"
    );
    let full = s.stored_bytes(Some("a")).await.unwrap();
    // A transaction whose second write goes past it leaves nothing.
    let small = device_in(&cpcid, "small");
    let mut big = device_in(&cpcid, "big");
    big.push(("cpu_model".into(), text(&note)));
    let e = s
        .transact(
            "a",
            &[
                Write::Insert("devices".into(), small),
                Write::Insert("devices".into(), big),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert_eq!(
        s.query("a", "devices", &Query::default())
            .await
            .unwrap()
            .total,
        3
    );
    assert_eq!(s.stored_bytes(Some("a")).await.unwrap(), full);
    // A quota of `a`'s own takes it; without it, the default again.
    s.set_org_storage_quota_mib("a", Some(2)).await.unwrap();
    let mut d = device_in(&cpcid, "own");
    d.push(("cpu_model".into(), text(&note)));
    let own = s.insert("a", "devices", &d).await.unwrap();
    assert_eq!(s.storage_quotas().await.unwrap().get("a"), Some(&(2 << 20)));
    s.set_org_storage_quota_mib("a", None).await.unwrap();
    assert!(s.storage_quotas().await.unwrap().is_empty());
    let e = s
        .update(
            "a",
            "devices",
            &own.id,
            &[("cpu_model".into(), text(&format!("{note}+")))],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert!(s.delete("a", "devices", &own.id).await.unwrap());
    // Another organisation is not held by `a`'s quota.
    let mut d = device(&s, "b", "d0").await;
    d.push(("cpu_model".into(), text(&note)));
    s.insert("b", "devices", &d).await.unwrap();
    // Above a lowered quota, shrinking and deleting are still taken.
    s.set_storage_quota_mib(0);
    s.update(
        "a",
        "devices",
        &ids[0],
        &[("cpu_model".into(), text("short"))],
    )
    .await
    .unwrap();
    assert!(s.delete("a", "devices", &ids[1]).await.unwrap());
    // With room again, a record of the same size goes in.
    s.set_storage_quota_mib(1);
    let mut d = device_in(&cpcid, "again");
    d.push(("cpu_model".into(), text(&note)));
    s.insert("a", "devices", &d).await.unwrap();
}
