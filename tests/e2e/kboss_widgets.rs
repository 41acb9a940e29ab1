//! kboss priced components (`cpcwidget`): add (and add stock), list with
//! per-cluster stock, unit-price updates, delete, GPU stock by model.

use crate::kb::*;

const RTX: &str = "RTX5090-32G";

#[tokio::test(flavor = "multi_thread")]
async fn widgets_add_stock_list_update_delete() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let a = k.cluster(ORG, &cpcid, "朝阳区", None).await;
    let b = k.cluster(ORG, &cpcid, "通州区", None).await;

    let text = k
        .post_text(
            "cpcwidget/add_cpcwidget",
            &[
                ("cpcid", cpcid.as_str()),
                ("clusterid", a.as_str()),
                ("type", "gpu"),
                ("resource_unit", "卡"),
                ("unit_price", "6.00"),
                ("model", RTX),
                ("stock", "3"),
                ("charge_unit", "小时"),
                ("account_unit", "元"),
                ("add_opt", "no"),
            ],
        )
        .await;
    assert_key_order(
        &text,
        &[
            "account_unit",
            "charge_unit",
            "cpcid",
            "model",
            "resource_unit",
            "stock",
            "type",
            "unit_price",
            "id",
            "update_time",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], true, "{body}");
    assert_eq!(body["msg"], "新增算力部件成功");
    assert_eq!(body["data"]["stock"], "3");
    assert_eq!(body["data"]["unit_price"], "6");
    let id = body["data"]["id"].as_str().unwrap().to_string();

    // The same type and model again: the documented refusal, nothing added.
    // HTTP 200 and the document's `msg` exactly; `detail` says what exists.
    let (status, body) = k.widget(&cpcid, &b, "gpu", RTX, "9", "卡", "7", "no").await;
    refused_as(status, &body, "该部件已存在,请前往编辑!", RTX);
    assert!(
        body["detail"].as_str().unwrap().contains("add_opt=yes"),
        "{body}"
    );
    // add_opt=yes adds stock to that cluster instead (price unchanged).
    let (status, body) = k
        .widget(&cpcid, &b, "gpu", RTX, "9", "卡", "2", "yes")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["stock"], "5");
    let (status, body) = k
        .widget(&cpcid, &a, "gpu", RTX, "9", "卡", "1", "yes")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["stock"], "6");
    let (status, _) = k
        .widget(
            &cpcid,
            &a,
            "memory",
            "Samsung DDR4 DIMMs",
            "0.005",
            "Mi",
            "1280",
            "no",
        )
        .await;
    assert_eq!(status, 200);

    let text = k
        .get_text("cpcwidget/get_cpcwidget", &[("cpcid", cpcid.as_str())])
        .await;
    assert_key_order(
        &text,
        &[
            "id",
            "cpcid",
            "type",
            "model",
            "unit_price",
            "resource_unit",
            "stock",
            "consumed",
            "charge_unit",
            "account_unit",
            "update_time",
            "import_export",
            "clusterid",
            "clustername",
            "stock",
            "consumed",
        ],
    );
    // Money as exact JSON numbers.
    assert!(text.contains(r#""unit_price":6,"#), "{text}");
    assert!(text.contains(r#""unit_price":0.005,"#), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["msg"], "获取算力部件成功");
    assert_eq!(body["data"]["total"], 2);
    // Default order: by type, then most recently updated.
    let gpu = &body["data"]["rows"][0];
    assert_eq!(gpu["type"], "gpu");
    assert_eq!(gpu["stock"], 6);
    assert_eq!(gpu["consumed"], 0);
    assert_eq!(gpu["resource_unit"], "卡");
    let flows = gpu["import_export"].as_array().unwrap();
    let per: Vec<(String, String, i64)> = flows
        .iter()
        .map(|f| {
            (
                f["clusterid"].as_str().unwrap().to_string(),
                f["clustername"].as_str().unwrap().to_string(),
                f["stock"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            (a.clone(), "朝阳区".to_string(), 4),
            (b.clone(), "通州区".to_string(), 2)
        ]
    );
    assert_eq!(body["data"]["rows"][1]["type"], "memory");
    assert_eq!(body["data"]["rows"][1]["row_num_"], 2);

    // Unit price only: by id, or by type and model.
    let (status, body) = k
        .post(
            "cpcwidget/update_cpcwidget",
            &[
                ("id", id.as_str()),
                ("cpcid", cpcid.as_str()),
                ("unit_price", "0.0009"),
                ("type", "gpu"),
                ("model", RTX),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "更新算力部件成功");
    assert_eq!(
        body["data"],
        serde_json::json!({"cpcid": cpcid, "id": id, "unit_price": "0.0009"})
    );
    let (status, _) = k
        .post(
            "cpcwidget/update_cpcwidget",
            &[
                ("cpcid", cpcid.as_str()),
                ("unit_price", "0.006"),
                ("type", "memory"),
                ("model", "Samsung DDR4 DIMMs"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let text = k
        .get_text("cpcwidget/get_cpcwidget", &[("cpcid", cpcid.as_str())])
        .await;
    assert!(text.contains(r#""unit_price":0.0009,"#), "{text}");
    assert!(text.contains(r#""unit_price":0.006,"#), "{text}");
    let only = "只能更新单位单价";
    for (params, msg, needle) in [
        (vec![("model", "A100-80G")], only, "`model`"),
        (vec![("type", "cpu")], only, "`type`"),
        (vec![("unit_price", "-1")], INVALID, "`unit_price`"),
        (vec![("unit_price", "1e3")], INVALID, "`unit_price`"),
        (
            vec![("id", "AROU9udKtPNyh0AZtO_WY")],
            "算力部件不存在",
            "AROU9udKtPNyh0AZtO_WY",
        ),
    ] {
        let mut p = vec![
            ("id", id.as_str()),
            ("cpcid", cpcid.as_str()),
            ("unit_price", "1"),
            ("type", "gpu"),
            ("model", RTX),
        ];
        for (key, value) in params {
            p.retain(|(k, _)| *k != key);
            p.push((key, value));
        }
        let (got, body) = k.post("cpcwidget/update_cpcwidget", &p).await;
        refused_as(got, &body, msg, needle);
    }
    let (status, body) = k
        .call(
            reqwest::Method::POST,
            "cpcwidget/update_cpcwidget",
            Some(&k.other),
            &[
                ("id", id.as_str()),
                ("cpcid", cpcid.as_str()),
                ("unit_price", "0"),
                ("type", "gpu"),
                ("model", RTX),
            ],
        )
        .await;
    refused_as(status, &body, "算力中心不存在", &cpcid);
    let text = k
        .get_text("cpcwidget/get_cpcwidget", &[("cpcid", cpcid.as_str())])
        .await;
    assert!(
        text.contains(r#""unit_price":0.0009,"#),
        "a refused update changed the price"
    );

    // Delete takes the stock rows with it.
    let (status, body) = k
        .post(
            "cpcwidget/delete_cpcwidget",
            &[("id", id.as_str()), ("cpcid", cpcid.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = k
        .get("cpcwidget/get_cpcwidget", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 1);
    let store = k.s.store().await;
    let q = computehub::store::Query {
        conditions: vec![computehub::store::Condition {
            field: "widgetid".into(),
            op: computehub::store::Comparison::Eq,
            value: computehub::store::Value::Text(id.clone()),
        }],
        ..Default::default()
    };
    assert_eq!(store.query(ORG, "widget_stock", &q).await.unwrap().total, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_widget_parameters_are_refused_by_name_and_change_nothing() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let a = k.cluster(ORG, &cpcid, "a", None).await;
    let elsewhere = k.center("c2").await;
    let foreign = k.cluster(ORG, &elsewhere, "b", None).await;
    let cases: Vec<Case> = vec![
        (vec![("type", "fpga")], INVALID, "`type`"),
        (vec![("resource_unit", "Gi")], INVALID, "`resource_unit`"),
        (vec![("unit_price", "-1")], INVALID, "`unit_price`"),
        (vec![("unit_price", "cheap")], INVALID, "`unit_price`"),
        (vec![("stock", "-1")], INVALID, "`stock`"),
        (vec![("charge_unit", "年")], INVALID, "`charge_unit`"),
        (vec![("account_unit", "美元")], INVALID, "`account_unit`"),
        (vec![("add_opt", "maybe")], INVALID, "`add_opt`"),
        (vec![("clusterid", "")], "无算力集群ID", "`clusterid`"),
        (
            vec![("clusterid", foreign.as_str())],
            "算力集群不属于该算力中心",
            "does not belong",
        ),
        (
            vec![("clusterid", "AROU9udKtPNyh0AZtO_WY")],
            "算力集群不存在",
            "`clusterid`",
        ),
        (
            vec![("cpcid", "AROU9udKtPNyh0AZtO_WY")],
            "算力中心不存在",
            "`cpcid`",
        ),
    ];
    for (extra, msg, needle) in cases {
        let mut p = vec![
            ("cpcid", cpcid.as_str()),
            ("clusterid", a.as_str()),
            ("type", "gpu"),
            ("resource_unit", "卡"),
            ("unit_price", "6"),
            ("model", RTX),
            ("stock", "1"),
            ("charge_unit", "小时"),
            ("account_unit", "元"),
            ("add_opt", "no"),
        ];
        for (key, value) in extra {
            p.retain(|(k, _)| *k != key);
            p.push((key, value));
        }
        let (got, body) = k.post("cpcwidget/add_cpcwidget", &p).await;
        refused_as(got, &body, msg, needle);
    }
    let (_, body) = k
        .get("cpcwidget/get_cpcwidget", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 0, "a refused add changed something");
    let (status, body) = k.get("cpcwidget/get_cpcwidget", &[]).await;
    refused_as(status, &body, "无算力中心ID", "`cpcid`");
}

#[tokio::test(flavor = "multi_thread")]
async fn gpu_stock_by_model_per_cluster_center_and_organisation() {
    let k = Kb::start();
    let one = k.center("c1").await;
    let two = k.center("c2").await;
    let a = k.cluster(ORG, &one, "a", None).await;
    let b = k.cluster(ORG, &one, "b", None).await;
    let c = k.cluster(ORG, &two, "c", None).await;
    for (cpc, cluster, model, stock, opt) in [
        (&one, &a, RTX, "3", "no"),
        (&one, &b, RTX, "2", "yes"),
        (&one, &a, "V100-32G", "8", "no"),
        (&two, &c, RTX, "10", "no"),
        (&two, &c, "A100-80G", "5", "no"),
    ] {
        let (status, body) = k
            .widget(cpc, cluster, "gpu", model, "6", "卡", stock, opt)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Non-GPU components do not count.
    k.widget(&one, &a, "cpu", "STANDARD", "1", "核", "64", "no")
        .await;
    let info = |params: Vec<(&'static str, String)>| {
        let k = &k;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(a, b)| (*a, b.as_str())).collect();
            k.get("cpcwidget/obtaining_gpuinfo", &p).await
        }
    };
    let (status, body) = info(vec![("clusterid", a.clone())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "获取集群GPU库存成功");
    assert_eq!(body["data"], serde_json::json!({RTX: 3, "V100-32G": 8}));
    let (_, body) = info(vec![("cpcid", one.clone()), ("clusterid", b.clone())]).await;
    assert_eq!(body["data"], serde_json::json!({RTX: 2, "V100-32G": 0}));
    let (_, body) = info(vec![("cpcid", one.clone())]).await;
    assert_eq!(body["data"], serde_json::json!({RTX: 5, "V100-32G": 8}));
    let (_, body) = info(vec![]).await;
    assert_eq!(
        body["data"],
        serde_json::json!({RTX: 15, "V100-32G": 8, "A100-80G": 5})
    );
    let (status, body) = info(vec![("cpcid", two.clone()), ("clusterid", a.clone())]).await;
    refused_as(status, &body, "算力集群不属于该算力中心", "does not belong");
    let (_, body) = k
        .call(
            reqwest::Method::GET,
            "cpcwidget/obtaining_gpuinfo",
            Some(&k.other),
            &[],
        )
        .await;
    assert_eq!(body["data"], serde_json::json!({}));
    let (status, body) = k
        .call(
            reqwest::Method::GET,
            "cpcwidget/obtaining_gpuinfo",
            Some(&k.other),
            &[("clusterid", a.as_str())],
        )
        .await;
    refused_as(status, &body, "算力集群不存在", &a);
}
