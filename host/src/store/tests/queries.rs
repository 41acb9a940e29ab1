//! Conditions, order, pages, and totals that follow every write.

use super::*;

both!(
    queries_filter_order_and_page,
    totals_are_right_whether_or_not_the_page_is_short,
    counted_totals_follow_every_write,
    composite_uniqueness_of_widgets,
    rows_written_within_a_millisecond_list_in_the_order_written,
);

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

/// The default order is creation order even for rows written faster than
/// the clock's millisecond: their ids are random, so a tie on `created_at`
/// listed them in any order.
async fn rows_written_within_a_millisecond_list_in_the_order_written(s: Store) {
    let cpcid = c1(&s, "a").await;
    let names: Vec<String> = (0..40).map(|i| format!("burst-{i:02}")).collect();
    let writes: Vec<Write> = names
        .iter()
        .map(|n| Write::Insert("devices".into(), device_in(&cpcid, n)))
        .collect();
    s.transact("a", &writes).await.unwrap();
    let page = s.query("a", "devices", &Query::default()).await.unwrap();
    let listed: Vec<&str> = page
        .rows
        .iter()
        .map(|r| match r.fields.iter().find(|(n, _)| n == "name") {
            Some((_, Value::Text(t))) => t.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(listed, names);
    let stamps: Vec<&str> = page.rows.iter().map(|r| r.created_at.as_str()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}
