//! `accrual_price` through the pricing engine: the document's example
//! (exactly 64.08), its failure bodies, and a live engine swap under load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::common::*;
use crate::kb::*;

/// The document's request: 4 cores, 8 GiB as 8192 Mi, 512 Gi, 2 GPUs.
fn example(gpu_model: &str) -> String {
    json!([
        {"type": "cpu", "model": "INTEL(R) XEON(R) PLATINUM 8582C", "amount": 4},
        {"type": "memory", "model": "Samsung DDR4 DIMMs", "amount": 8192},
        {"type": "disk", "model": "DATA", "amount": 512},
        {"type": "gpu", "model": gpu_model, "amount": 2}
    ])
    .to_string()
}

/// A center with the document's components; memory has 1280 Mi in the
/// cluster, the rest plenty.
async fn seeded(k: &Kb) -> (String, String) {
    let cpcid = k.center("c").await;
    let cluster = k.cluster(ORG, &cpcid, "朝阳区", None).await;
    k.document_widgets(&cpcid, &cluster, &["64", "1280", "2000", "8"])
        .await;
    (cpcid, cluster)
}

/// The `msg` of one of the document's accrual_price failure bodies: HTTP
/// 200 and exactly `{status: false, msg, data}` (the document's shape).
fn documented_failure(status: u16, body: &serde_json::Value) -> String {
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["data", "msg", "status"], "{body}");
    assert_eq!(body["status"], false);
    body["msg"].as_str().unwrap().to_string()
}

async fn quote(k: &Kb, params: &[(&str, &str)]) -> (u16, String) {
    quote_as(k, &k.key, params).await
}

/// A quote asked with `key`.
async fn quote_as(k: &Kb, key: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r =
        k.s.http
            .get(k.s.url(&path("cpcwidget/accrual_price")))
            .query(params)
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_example_totals_exactly_64_08() {
    let k = Kb::start();
    let (cpcid, _) = seeded(&k).await;
    let resources = example("RTX5090-32G");
    let params = [
        ("cpcid", cpcid.as_str()),
        ("resources", resources.as_str()),
        ("duration", "1"),
        ("duration_unit", "小时"),
    ];
    let (status, text) = quote(&k, &params).await;
    assert_eq!(status, 200, "{text}");
    // Exact decimals, as JSON numbers, in the documented shape and order.
    assert!(text.contains(r#""total_price":64.08,"#), "{text}");
    for subtotal in [
        r#""subtotal":6}"#,
        r#""subtotal":40.96}"#,
        r#""subtotal":5.12}"#,
        r#""subtotal":12}"#,
    ] {
        assert!(text.contains(subtotal), "{subtotal} in {text}");
    }
    assert_key_order(
        &text,
        &[
            "status",
            "msg",
            "data",
            "total_price",
            "currency",
            "price_details",
            "resource_name",
            "resource_type",
            "amount",
            "resource_unit",
            "unit_price",
            "duration",
            "duration_unit",
            "subtotal",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], true);
    assert_eq!(body["msg"], "获取部件组合价格成功");
    let data = &body["data"];
    assert_eq!(data["currency"], "元");
    assert_eq!(data["status"], true);
    assert_eq!(data["message"], "汇算正常");
    assert_eq!(data["duration"], "1");
    assert_eq!(data["duration_unit"], "小时");
    let memory = &data["price_details"][1];
    assert_eq!(memory["resource_name"], "memory Samsung DDR4 DIMMs");
    assert_eq!(memory["resource_type"], "memory");
    assert_eq!(memory["amount"], 8192);
    assert_eq!(memory["resource_unit"], "Mi");
    assert_eq!(memory["duration"], "1");
    assert_eq!(data["price_details"][0]["resource_unit"], "核");
    assert_eq!(data["price_details"][3]["resource_unit"], "卡");
    assert!(text.contains(r#""unit_price":0.005,"#));

    // Two days, in a JSON body this time.
    let r =
        k.s.http
            .get(k.s.url(&path("cpcwidget/accrual_price")))
            .bearer_auth(&k.key)
            .json(&json!({
                "cpcid": cpcid,
                "resources": serde_json::from_str::<serde_json::Value>(&resources).unwrap(),
                "duration": 2,
                "duration_unit": "天"
            }))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#""total_price":3075.84,"#), "{text}");
    assert!(
        text.contains(r#""duration":"2","duration_unit":"天""#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_documented_failure_body() {
    let k = Kb::start();
    let (cpcid, cluster) = seeded(&k).await;

    // An invalid model: the other items priced, that one an error row.
    let bad_model = example("RTXs5090-32G");
    let (status, text) = quote(
        &k,
        &[
            ("cpcid", cpcid.as_str()),
            ("resources", bad_model.as_str()),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ],
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let msg = documented_failure(status, &body);
    assert_eq!(msg, "无效的 gpu 部件型号: RTXs5090-32G");
    assert!(text.contains(r#""total_price":52.08,"#), "{text}");
    assert_eq!(
        body["data"]["price_details"][3],
        json!({"resource_type": "gpu", "error": "无效的 gpu 部件型号: RTXs5090-32G"})
    );
    assert_eq!(body["data"]["status"], false);
    assert_eq!(body["data"]["message"], msg.as_str());
    assert_eq!(body["data"]["price_details"][0]["subtotal"], 6);

    // Not enough stock in the cluster.
    let resources = example("RTX5090-32G");
    let (status, text) = quote(
        &k,
        &[
            ("cpcid", cpcid.as_str()),
            ("clusterid", cluster.as_str()),
            ("resources", resources.as_str()),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ],
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let msg = documented_failure(status, &body);
    assert_eq!(
        msg,
        "memory Samsung DDR4 DIMMs 库存不足 (库存: 1280, 请求: 8192)"
    );
    assert!(text.contains(r#""total_price":23.12,"#), "{text}");
    assert_eq!(
        body["data"]["price_details"][1],
        json!({"resource_type": "memory", "error": msg})
    );
    // Within the stock, the same cluster prices it.
    let small =
        json!([{"type": "memory", "model": "Samsung DDR4 DIMMs", "amount": 1024}]).to_string();
    let (status, text) = quote(
        &k,
        &[
            ("cpcid", cpcid.as_str()),
            ("clusterid", cluster.as_str()),
            ("resources", small.as_str()),
            ("duration", "1"),
            ("duration_unit", "hour"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""total_price":5.12,"#), "{text}");

    // A center without components of those types.
    let empty = k.center("empty").await;
    let (status, text) = quote(
        &k,
        &[
            ("cpcid", empty.as_str()),
            ("resources", resources.as_str()),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ],
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(documented_failure(status, &body), "没有该类型组件");
    assert_eq!(body["data"]["total_price"], 0);
    assert_eq!(
        body["data"]["duration"], 1,
        "a number, as the example shows"
    );
    let details = body["data"]["price_details"].as_array().unwrap();
    assert_eq!(details.len(), 4);
    for (d, kind) in details.iter().zip(["cpu", "memory", "disk", "gpu"]) {
        assert_eq!(
            d,
            &json!({"resource_type": kind, "error": "没有该类型组件"})
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_quote_parameters_are_refused_by_name() {
    let k = Kb::start();
    let (cpcid, _) = seeded(&k).await;
    let other_center = k.center("c2").await;
    let foreign = k.cluster(ORG, &other_center, "x", None).await;
    let good = example("RTX5090-32G");
    let cases: Vec<Case> = vec![
        (vec![("resources", "")], INVALID, "`resources`"),
        (vec![("resources", "not json")], INVALID, "`resources`"),
        (vec![("resources", "[]")], INVALID, "`resources`"),
        (
            vec![("resources", r#"[{"type":"fpga","model":"x","amount":1}]"#)],
            INVALID,
            "`resources[0].type`",
        ),
        (
            vec![("resources", r#"[{"type":"cpu","amount":1}]"#)],
            INVALID,
            "`resources[0].model`",
        ),
        (
            vec![("resources", r#"[{"type":"cpu","model":"x","amount":-4}]"#)],
            INVALID,
            "`resources[0].amount`",
        ),
        (
            vec![("resources", r#"[{"type":"cpu","model":"x","amount":1.5}]"#)],
            INVALID,
            "`resources[0].amount`",
        ),
        (vec![("duration", "0")], INVALID, "`duration`"),
        (vec![("duration", "two")], INVALID, "`duration`"),
        (vec![("duration_unit", "年")], INVALID, "`duration_unit`"),
        (
            vec![("clusterid", foreign.as_str())],
            "算力集群不属于该算力中心",
            "does not belong",
        ),
        (vec![("cpcid", "")], "无算力中心ID", "`cpcid`"),
    ];
    for (extra, msg, needle) in cases {
        let mut p = vec![
            ("cpcid", cpcid.as_str()),
            ("resources", good.as_str()),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ];
        for (key, value) in extra {
            p.retain(|(k, _)| *k != key);
            p.push((key, value));
        }
        let (status, text) = quote(&k, &p).await;
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        refused_as(status, &body, msg, needle);
    }
    let (status, text) = quote(
        &k,
        &[
            ("cpcid", "AROU9udKtPNyh0AZtO_WY"),
            ("resources", good.as_str()),
            ("duration", "1"),
            ("duration_unit", "小时"),
        ],
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    refused_as(status, &body, "算力中心不存在", "AROU9udKtPNyh0AZtO_WY");
}

/// `resources` is typed `array[string]`, each item a JSON object: the
/// parameter repeated once per item (requests, form libraries), axios's
/// `resources[]`, a form body and a JSON body all price like one JSON array.
#[tokio::test(flavor = "multi_thread")]
async fn resources_in_every_array_form_price_the_same() {
    let k = Kb::start();
    let (cpcid, _) = seeded(&k).await;
    let items: Vec<String> =
        serde_json::from_str::<Vec<serde_json::Value>>(&example("RTX5090-32G"))
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
    let base = [
        ("cpcid", cpcid.as_str()),
        ("duration", "1"),
        ("duration_unit", "小时"),
    ];
    let total = |text: &str| -> String {
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["status"], true, "{text}");
        assert_eq!(body["msg"], "获取部件组合价格成功");
        text.split(r#""total_price":"#)
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    for name in ["resources", "resources[]"] {
        let mut p: Vec<(&str, &str)> = base.to_vec();
        p.extend(items.iter().map(|i| (name, i.as_str())));
        let (status, text) = quote(&k, &p).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(total(&text), "64.08", "{name} repeated");
        assert!(
            text.contains(r#""resource_name":"gpu RTX5090-32G""#),
            "{text}"
        );
    }
    // A form body (repeated) and a JSON body (an array).
    let mut form: Vec<(&str, &str)> = base.to_vec();
    form.extend(items.iter().map(|i| ("resources", i.as_str())));
    let r =
        k.s.http
            .get(k.s.url(&path("cpcwidget/accrual_price")))
            .form(&form)
            .bearer_auth(&k.key)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(total(&r.text().await.unwrap()), "64.08", "form body");
    let json_body = json!({"cpcid": cpcid, "duration": 1, "duration_unit": "小时",
        "resources": serde_json::from_str::<serde_json::Value>(&example("RTX5090-32G")).unwrap()});
    let r =
        k.s.http
            .get(k.s.url(&path("cpcwidget/accrual_price")))
            .json(&json_body)
            .bearer_auth(&k.key)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(total(&r.text().await.unwrap()), "64.08", "JSON body");
    // One item repeated alone is a list of one; an item that is not JSON is
    // refused naming the parameter.
    let mut one: Vec<(&str, &str)> = base.to_vec();
    one.push(("resources", items[3].as_str()));
    let (_, text) = quote(&k, &one).await;
    assert_eq!(total(&text), "12");
    let mut bad: Vec<(&str, &str)> = base.to_vec();
    bad.extend([("resources", items[0].as_str()), ("resources", "{nope")]);
    let (status, text) = quote(&k, &bad).await;
    refused_as(
        status,
        &serde_json::from_str(&text).unwrap(),
        INVALID,
        "`resources`",
    );
}

/// One quote a client saw.
struct Seen {
    sent: Instant,
    done: Instant,
    status: u16,
    total: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn swapping_the_pricing_engine_under_sixteen_clients() {
    let k = Arc::new(Kb::start());
    let (cpcid, _) = seeded(&k).await;
    let resources = example("RTX5090-32G");
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (k, stop, seen) = (k.clone(), stop.clone(), seen.clone());
        let (cpcid, resources) = (cpcid.clone(), resources.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let r =
                    k.s.http
                        .get(k.s.url(&path("cpcwidget/accrual_price")))
                        .query(&[
                            ("cpcid", cpcid.as_str()),
                            ("resources", resources.as_str()),
                            ("duration", "1"),
                            ("duration_unit", "小时"),
                        ])
                        .bearer_auth(&k.key)
                        .send()
                        .await;
                let (status, total) = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        // Failures answer 200 too: only the documented
                        // success counts.
                        let priced = text.contains(r#""status":true,"msg":"获取部件组合价格成功""#);
                        let status = if priced { status } else { 0 };
                        let total = text
                            .split(r#""total_price":"#)
                            .nth(1)
                            .and_then(|t| t.split(',').next())
                            .unwrap_or("")
                            .to_string();
                        (status, total)
                    }
                    Err(_) => (0, String::new()),
                };
                seen.lock().unwrap().push(Seen {
                    sent,
                    done: Instant::now(),
                    status,
                    total,
                });
            }
        }));
    }
    let engine = |file: Option<&'static str>| {
        let k = k.clone();
        async move {
            let r = match file {
                Some(f) => {
                    k.s.http
                        .put(k.s.url("/admin/plugins/pricing?role=pricing"))
                        .bearer_auth(ADMIN)
                        .body(wasm(f))
                }
                None => {
                    k.s.http
                        .post(k.s.url("/admin/plugins/pricing/rollback"))
                        .bearer_auth(ADMIN)
                }
            };
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let swap_issued = Instant::now();
    let body = engine(Some("volume_discount.wasm")).await;
    let swapped = Instant::now();
    assert_eq!(body["role"], "pricing");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let rollback_issued = Instant::now();
    engine(None).await;
    let rolled_back = Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.len() > 100, "only {} quotes", seen.len());
    let failed = seen.iter().filter(|q| q.status != 200).count();
    assert_eq!(failed, 0, "{failed} failed quotes");
    let (mut before, mut during, mut after) = (0, 0, 0);
    for q in &seen {
        if q.done < swap_issued {
            assert_eq!(q.total, "64.08");
            before += 1;
        } else if q.sent > swapped && q.done < rollback_issued {
            // 10% off lines of 10 or more: 6 + 36.864 + 5.12 + 10.8.
            assert_eq!(q.total, "58.784", "a quote sent after the swap returned");
            during += 1;
        } else if q.sent > rolled_back {
            assert_eq!(q.total, "64.08", "a quote sent after the rollback returned");
            after += 1;
        } else {
            assert!(q.total == "64.08" || q.total == "58.784", "{}", q.total);
        }
    }
    assert!(
        before > 10 && during > 10 && after > 10,
        "{before}/{during}/{after}"
    );
}

/// The pricing engine keeps a warm instance per calling organisation (issue
/// #17): five quotes from each of two organisations create exactly two
/// engine instances, one each, reused by the other eight calls, and both
/// organisations read the document's total.
#[tokio::test(flavor = "multi_thread")]
async fn the_pricing_engine_is_warm_per_organisation() {
    let mut k = Kb::start();
    let (ours, _) = seeded(&k).await;
    std::mem::swap(&mut k.key, &mut k.other);
    let theirs = k.center("c").await;
    let cluster = k.cluster(OTHER, &theirs, "朝阳区", None).await;
    k.document_widgets(&theirs, &cluster, &["64", "1280", "2000", "8"])
        .await;
    std::mem::swap(&mut k.key, &mut k.other);
    let (_, before) = k.s.get_admin("/admin/plugins/pricing").await;
    assert_eq!(before["instances"]["created"], 0, "{before}");
    let resources = example("RTX5090-32G");
    for _ in 0..5 {
        for (key, cpcid) in [(&k.key, &ours), (&k.other, &theirs)] {
            let (status, text) = quote_as(
                &k,
                key,
                &[
                    ("cpcid", cpcid.as_str()),
                    ("resources", resources.as_str()),
                    ("duration", "1"),
                    ("duration_unit", "小时"),
                ],
            )
            .await;
            assert_eq!(status, 200);
            assert!(text.contains(r#""total_price":64.08,"#), "{text}");
        }
    }
    let (status, after) = k.s.get_admin("/admin/plugins/pricing").await;
    assert_eq!(status, 200, "{after}");
    let i = &after["instances"];
    assert_eq!(i["isolation"], "organisation", "{i}");
    assert_eq!(i["created"], 2, "one instance per organisation: {i}");
    assert_eq!(i["reused"], 8, "{i}");
}
