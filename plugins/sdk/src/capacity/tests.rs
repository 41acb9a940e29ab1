use super::*;

fn form(field: &str, text: &str) -> Params {
    let body = format!("{field}={}", text.replace('+', "%2B"));
    Params::from_parts(
        &[],
        "",
        Some("application/x-www-form-urlencoded"),
        body.as_bytes(),
    )
    .unwrap()
}

fn short(node: &str, reason: &str) -> Shortfall {
    Shortfall {
        node: node.into(),
        reason: reason.into(),
        requested: "20000".into(),
        available: "8000".into(),
        unresolvable: false,
    }
}

#[test]
fn explanations_keep_whole_nodes_within_their_share() {
    let all = vec![
        short("a", "cpu"),
        short("a", "memory"),
        short("b", "cpu"),
        short("c", "cpu"),
        short("c", "gpu"),
    ];
    let one = shortfall_bytes(&all[0]);
    let cut = |budget| {
        let (kept, left) = within(&all, budget);
        (kept.len(), left)
    };
    assert_eq!(cut(usize::MAX), (5, 0));
    // Node a (two) and b (one) whole; nothing of c fits.
    let ab: usize = all[..3].iter().map(shortfall_bytes).sum();
    assert_eq!(cut(ab), (3, 2));
    assert_eq!(cut(ab + one - 1), (3, 2));
    // One of c's fits: whole nodes, then part of the next.
    assert_eq!(cut(ab + one), (4, 1));
    // Less than one shortfall: still the first.
    assert_eq!(cut(1), (1, 4));
    // Node a does not fit whole: as much of it as fits.
    assert_eq!(cut(one + 1), (1, 4));
    assert_eq!(within(&[], 10).1, 0);
}

/// The built-in rules over the import-side types (the engine's are
/// distinct types of the same shape).
fn engine_fit(products: &[Product], nodes: &[Node]) -> Vec<Verdict> {
    use crate::scheduling_engine as e;
    let res = |r: &Resources| e::Resources {
        cpu_milli: r.cpu_milli,
        memory_bytes: r.memory_bytes,
        gpu: r.gpu,
        disk_bytes: r.disk_bytes,
        pods: r.pods,
    };
    let products: Vec<e::Product> = products
        .iter()
        .map(|p| e::Product {
            id: p.id.clone(),
            requests: res(&p.requests),
            gpu_model: p.gpu_model.clone(),
            labels: p.labels.clone(),
        })
        .collect();
    let nodes: Vec<e::Node> = nodes
        .iter()
        .map(|n| e::Node {
            name: n.name.clone(),
            allocatable: res(&n.allocatable),
            requested: res(&n.requested),
            labels: n.labels.clone(),
            gpu_model: n.gpu_model.clone(),
            unschedulable: n.unschedulable,
            taints: n
                .taints
                .iter()
                .map(|t| e::Taint {
                    key: t.key.clone(),
                    value: t.value.clone(),
                    effect: t.effect.clone(),
                })
                .collect(),
        })
        .collect();
    crate::placement::fit(&products, &nodes, true, crate::placement::Policy::STANDARD)
        .into_iter()
        .map(|v| Verdict {
            product_id: v.product_id,
            node: v.node,
            shortfalls: v
                .shortfalls
                .into_iter()
                .map(|s| Shortfall {
                    node: s.node,
                    reason: s.reason,
                    requested: s.requested,
                    available: s.available,
                    unresolvable: s.unresolvable,
                })
                .collect(),
        })
        .collect()
}

#[test]
fn the_reserved_body_bounds_what_is_written() {
    let node = |name: &str| Node {
        name: name.into(),
        allocatable: Resources {
            cpu_milli: 8000,
            memory_bytes: 1 << 34,
            gpu: 0,
            disk_bytes: 0,
            pods: 110,
        },
        requested: Resources {
            cpu_milli: 0,
            memory_bytes: 0,
            gpu: 0,
            disk_bytes: 0,
            pods: 0,
        },
        labels: vec![("kubernetes.io/hostname".into(), name.into())],
        gpu_model: None,
        unschedulable: false,
        taints: vec![Taint {
            key: "node-role.kubernetes.io/control-plane".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        }],
    };
    let nodes = vec![node("master-1"), node("worker-1"), node("worker-2")];
    let product = |id: &str| Product {
        id: id.into(),
        requests: Resources {
            cpu_milli: 100_000,
            memory_bytes: 1 << 40,
            gpu: 9,
            disk_bytes: 0,
            pods: 1,
        },
        gpu_model: Some("RTX5090-32G".into()),
        labels: vec![("kyy-gpu".into(), "true".into())],
    };
    for n in [1usize, 100, 10_000] {
        let products: Vec<Product> = (0..n).map(|i| product(&format!("p-{i}"))).collect();
        let placed: Vec<Option<String>> = vec![None; n];
        let extra = vec![("zone".to_string(), "a".to_string())];
        let verdicts = engine_fit(
            &products
                .iter()
                .map(|p| with_extra(p, &extra))
                .collect::<Vec<_>>(),
            &nodes,
        );
        let share = MAX_EXPLAIN_BYTES / n;
        let mut written = 0;
        for (p, v) in products.iter().zip(&verdicts) {
            let (kept, omitted) = within(&v.shortfalls, share);
            let fit = Fit {
                id: &p.id,
                node: None,
                shortfalls: Shortfalls(kept),
                shortfalls_omitted: omitted,
            };
            written += serde_json::to_vec(&fit).unwrap().len() + 1;
        }
        let bound = explained_bytes(&products, &extra, &nodes, &placed);
        assert!(written <= bound, "{n}: {written} > {bound}");
        // Loose (every possible shortfall at its widest), but not wildly.
        assert!(bound <= written * 4 + 4096, "{n}: {bound} for {written}");
    }
}

#[test]
fn batches_hold_at_least_one_and_respect_the_limit() {
    let idx: Vec<usize> = (0..10).collect();
    let b = batches(&idx, 25, |_| 10);
    assert_eq!(
        b,
        vec![&idx[0..2], &idx[2..4], &idx[4..6], &idx[6..8], &idx[8..10]]
    );
    let b = batches(&idx, 5, |_| 10);
    assert_eq!(b.len(), 10);
    assert!(batches(&[], 5, |_| 10).is_empty());
}

#[test]
fn fits_serialise_in_the_documented_shape() {
    let s = [short("gpu-a", "cpu")];
    let f = Fit {
        id: "big",
        node: None,
        shortfalls: Shortfalls(&s),
        shortfalls_omitted: 0,
    };
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        r#"{"id":"big","node":null,"shortfalls":[{"node":"gpu-a","reason":"cpu","requested":"20000","available":"8000","unresolvable":false}]}"#
    );
    let f = Fit {
        shortfalls_omitted: 3,
        node: Some("n"),
        ..f
    };
    let v: Value = serde_json::to_value(&f).unwrap();
    assert_eq!(v["shortfalls_omitted"], 3);
    assert_eq!(v["node"], "n");
}

#[test]
fn product_lists_are_bounded() {
    let many: Vec<Value> = (0..=MAX_PRODUCTS)
        .map(|i| serde_json::json!({"id": i.to_string()}))
        .collect();
    let e = products("resources", &Value::Array(many)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter `resources` may hold at most 10000 products"
    );
    let text = format!("[{}]", vec![r#"{"id":"p"}"#; MAX_PRODUCTS + 1].join(","));
    assert!(matches!(
        products_param(&form("resources", &text), "resources"),
        Err(ParamError::TooMany { .. })
    ));
    let labels: serde_json::Map<String, Value> = (0..=MAX_PRODUCT_LABELS)
        .map(|i| (format!("k{i}"), Value::String("v".into())))
        .collect();
    let one = serde_json::json!([{"id": "p", "labels": labels}]);
    assert!(products("resources", &one).is_err());
    let bad_label = serde_json::json!([{"id": "p", "labels": {"a;b": "x"}}]);
    assert!(products("resources", &bad_label).is_err());
    let long_id = serde_json::json!([{"id": "x".repeat(MAX_PRODUCT_ID + 1)}]);
    assert!(products("resources", &long_id).is_err());
}

#[test]
fn products_in_every_list_form() {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (a, b) = (r#"{"id":"a","cpu":"1"}"#, r#"{"id":"b","gpu":2}"#);
    let ids = |q: &str| -> Vec<String> {
        let p = Params::from_parts(&[], q, None, b"").unwrap();
        products_param(&p, "resources")
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    let both = ["a", "b"];
    assert_eq!(
        ids(&format!("resources={}", enc(&format!("[{a},{b}]")))),
        both
    );
    assert_eq!(
        ids(&format!("resources={}&resources={}", enc(a), enc(b))),
        both
    );
    assert_eq!(
        ids(&format!(
            "resources%5B%5D={}&resources%5B%5D={}",
            enc(a),
            enc(b)
        )),
        both
    );
    assert_eq!(ids(&format!("resources={}", enc(a))), ["a"]);
    let body = format!(r#"{{"resources":{a}}}"#);
    let p = Params::from_parts(&[], "", Some("application/json"), body.as_bytes()).unwrap();
    assert_eq!(products_param(&p, "resources").unwrap()[0].id, "a");
    // Positions count across occurrences; the bound covers them all.
    let q = format!("resources={}&resources={}", enc(a), enc(r#"{"cpu":"1"}"#));
    let p = Params::from_parts(&[], &q, None, b"").unwrap();
    let e = products_param(&p, "resources").unwrap_err().to_string();
    assert!(e.contains("product 1 needs an `id`"), "{e}");
    let half = format!("[{}]", vec![a; MAX_PRODUCTS / 2 + 1].join(","));
    let q = format!("resources={}&resources={}", enc(&half), enc(&half));
    let p = Params::from_parts(&[], &q, None, b"").unwrap();
    assert!(matches!(
        products_param(&p, "resources"),
        Err(ParamError::TooMany { .. })
    ));
}

#[test]
fn product_text_reads_like_the_tree() {
    let text = r#"[{"id":"p1","cpu":"500m","memory":"1Gi","gpu":1,"gpu_model":"RTX4090-24G","labels":{"kyy-gpu":"true"}},{"id":2}]"#;
    let p = form("resources", text);
    let from_text = products_param(&p, "resources").unwrap();
    let tree: Value = serde_json::from_str(text).unwrap();
    let from_tree = products("resources", &tree).unwrap();
    assert_eq!(from_text.len(), 2);
    assert_eq!(from_text[0].requests.cpu_milli, 500);
    assert_eq!(from_text[1].id, "2");
    for (a, b) in from_text.iter().zip(&from_tree) {
        assert_eq!(
            (&a.id, &a.labels, &a.gpu_model),
            (&b.id, &b.labels, &b.gpu_model)
        );
    }
    for bad in ["[1]", "[{\"cpu\":\"1\"}]", "nope", "1", "{\"cpu\":1}"] {
        let p = form("resources", bad);
        let e = products_param(&p, "resources").unwrap_err();
        assert_eq!(e.field(), Some("resources"), "{bad}: {e}");
    }
}
