//! kboss's buy-page capacity check, `cpcbuy/determine_accommodat.dspy`,
//! against a simulated cluster: the stock check (`static`) and the live
//! node check (`dynamic`), labels from `kyylabels`, cordons, nodes filling
//! up, the explanation, and bad input that changes nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::kb::*;
use crate::kboss_live::{live, Live};
use computehub::store::Value as V;

const CHECK: &str = "cpcbuy/determine_accommodat";

/// The center sells cores, memory and 4 of its RTX5090-32G in the cluster
/// (worker-3 has 8 of them); no disk and no other GPU model.
async fn stocked() -> Live {
    let l = live().await;
    for (kind, model, price, unit, stock) in [
        ("cpu", "STANDARD", "1.5", "核", "200"),
        ("memory", "DDR5", "0.005", "Gi", "1024"),
        ("gpu", "RTX5090-32G", "6", "卡", "4"),
    ] {
        let (status, body) =
            l.kb.widget(&l.cpcid, &l.cid, kind, model, price, unit, stock, "no")
                .await;
        assert_eq!(status, 200, "{body}");
    }
    l
}

async fn check(l: &Live, products: Value, kyylabels: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let products = products.to_string();
    let mut p = l.at();
    p.push(("resources", products.as_str()));
    p.push(("kyylabels", kyylabels));
    p.extend_from_slice(extra);
    l.kb.get(CHECK, &p).await
}

#[tokio::test(flavor = "multi_thread")]
async fn stock_and_live_nodes_decide_which_products_are_greyed_out() {
    let l = stocked().await;
    let products = json!([
        {"id": "fits", "cpu": "4", "memory": "8Gi"},
        {"id": "too-big-for-one-node", "cpu": "70", "memory": "8Gi"},
        {"id": "model-not-sold", "gpu": 1, "gpu_model": "A100-80G"},
        {"id": "beyond-gpu-stock", "gpu": 6, "gpu_model": "RTX5090-32G"},
        {"id": "no-disk-sold", "cpu": "1", "disk": "100Gi"},
        {"id": "gpu-ok", "cpu": "8", "memory": "32Gi", "gpu": 2, "gpu_model": "RTX5090-32G"}
    ]);
    let (status, body) = check(&l, products.clone(), "", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], true);
    assert_eq!(body["msg"], "获取不可部署产品ID成功");
    // The cluster's 96 cores would hold 70, no single node does (64 at most).
    assert_eq!(
        body["data"],
        json!([
            "too-big-for-one-node",
            "model-not-sold",
            "beyond-gpu-stock",
            "no-disk-sold"
        ])
    );
    assert_eq!(body["reason"], "static");
    assert_eq!(
        body["reasons"],
        json!({"too-big-for-one-node": "dynamic", "model-not-sold": "static",
               "beyond-gpu-stock": "static", "no-disk-sold": "static"})
    );

    // Only the live check excludes: the documented `dynamic`.
    let (_, body) = check(&l, json!([products[0], products[1]]), "", &[]).await;
    assert_eq!(body["data"], json!(["too-big-for-one-node"]));
    assert_eq!(body["reason"], "dynamic");
    let (_, body) = check(&l, json!([products[0]]), "{}", &[]).await;
    assert_eq!(body["data"], json!([]));

    // The explanation: stock shortfalls for static, per-node ones for dynamic.
    let (_, body) = check(&l, products, "", &[("explain", "true")]).await;
    let explain = body["explain"].as_array().unwrap();
    assert_eq!(explain.len(), 6);
    assert_eq!(explain[0]["id"], "fits");
    assert!(explain[0]["node"].is_string(), "{}", explain[0]);
    let stock = &explain[3]["stock_shortfalls"][0];
    assert_eq!(explain[3]["reason"], "static");
    assert_eq!(stock["resource"], "gpu");
    assert_eq!(stock["reason"], "stock");
    assert_eq!(
        (stock["requested"].as_str(), stock["available"].as_str()),
        (Some("6"), Some("4"))
    );
    assert_eq!(explain[2]["stock_shortfalls"][0]["reason"], "no-component");
    assert_eq!(explain[1]["reason"], "dynamic");
    let cpu = explain[1]["shortfalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == "worker-3" && s["reason"] == "cpu")
        .unwrap();
    assert_eq!(cpu["requested"], "70000");
    assert_eq!(cpu["unresolvable"], true);
}

/// `resources` (and `kyylabels`) repeated, one item each, as form libraries
/// send a list, also as axios's `resources[]`: the same answer as one array.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_resources_and_kyylabels_answer_like_arrays() {
    let l = stocked().await;
    let fits = json!({"id": "fits", "cpu": "4", "memory": "8Gi"}).to_string();
    let big = json!({"id": "too-big-for-one-node", "cpu": "70", "memory": "8Gi"}).to_string();
    for name in ["resources", "resources[]"] {
        let mut p = l.at();
        p.extend([
            (name, fits.as_str()),
            (name, big.as_str()),
            ("kyylabels", ""),
        ]);
        let (status, body) = l.kb.get(CHECK, &p).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], json!(["too-big-for-one-node"]), "{name}");
        assert_eq!(body["reason"], "dynamic");
    }
    // Every repeated label is required: worker-1 carries only the first.
    l.sim
        .patch_merge(
            "v1",
            "Node",
            None,
            "worker-1",
            &json!({"metadata": {"labels": {"kyy-zone": "a"}}}),
        )
        .unwrap();
    let with = |labels: &[&'static str]| {
        let mut p = l.at();
        p.push(("resources", fits.as_str()));
        p.extend(labels.iter().map(|v| ("kyylabels", *v)));
        p
    };
    let (_, body) = l.kb.get(CHECK, &with(&["kyy-zone=a"])).await;
    assert_eq!(body["data"], json!([]), "{body}");
    let (_, body) = l.kb.get(CHECK, &with(&["kyy-zone=a", "kyy-rack=r1"])).await;
    assert_eq!(body["data"], json!(["fits"]), "{body}");
    assert_eq!(body["reason"], "dynamic");
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_cordons_and_filling_nodes_change_the_live_answer() {
    let l = stocked().await;
    let gpu = json!([{"id": "gpu-ok", "cpu": "2", "memory": "4Gi", "gpu": 2, "gpu_model": "RTX5090-32G"}]);
    let small = json!([{"id": "small", "cpu": "1", "memory": "1Gi"}]);

    // A stored node label no node carries blocks everything, until bound.
    let (status, body) =
        l.kb.post(
            "cpclabel/add_cpclabel",
            &[
                ("name", "GPU节点"),
                ("labeltype", "1"),
                ("label_key", "kyy-gpu"),
                ("label_value", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let label_id = body["data"]["id"].as_str().unwrap().to_string();
    for labels in [
        "kyy-gpu=true",
        r#"{"kyy-gpu":"true"}"#,
        r#"["kyy-gpu=true"]"#,
        label_id.as_str(),
    ] {
        let (status, body) = check(&l, small.clone(), labels, &[]).await;
        assert_eq!(status, 200, "{labels}: {body}");
        assert_eq!(body["data"], json!(["small"]), "{labels}");
        assert_eq!(body["reason"], "dynamic");
    }
    let mut bind = l.at();
    bind.extend([
        ("label", "kyy-gpu=true"),
        ("worker_node", "worker-1"),
        ("opt", "label"),
    ]);
    let (status, body) = l.kb.post("cpclabel/setup_cpclabel", &bind).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = check(&l, small.clone(), &label_id, &[]).await;
    assert_eq!(body["data"], json!([]));
    // A product's own label for the same key wins over `kyylabels`.
    let own = json!([{"id": "own", "cpu": "1", "labels": {"kyy-gpu": "false"}}]);
    let (_, body) = check(&l, own, "kyy-gpu=true", &[]).await;
    assert_eq!(body["data"], json!(["own"]));

    // A cordoned node is ignored: cordon the only GPU node.
    let cordon = |on: bool| json!({"spec": {"unschedulable": on}});
    l.sim
        .patch_merge("v1", "Node", None, "worker-3", &cordon(true))
        .unwrap();
    let (_, body) = check(&l, gpu.clone(), "", &[]).await;
    assert_eq!(
        (body["data"].clone(), body["reason"].clone()),
        (json!(["gpu-ok"]), json!("dynamic"))
    );
    l.sim
        .patch_merge("v1", "Node", None, "worker-3", &cordon(false))
        .unwrap();
    let (_, body) = check(&l, gpu.clone(), "", &[]).await;
    assert_eq!(body["data"], json!([]));

    // Pods placed on the GPU node fill it up: 7 of its 8 GPUs taken.
    l.sim
        .create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "trainer", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {
                "requests": {"nvidia.com/gpu": "7"}, "limits": {"nvidia.com/gpu": "7"}}}]}}))
        .unwrap();
    assert!(l.sim.wait_until(Duration::from_secs(10), |c| {
        c.get("v1", "Pod", Some("default"), "trainer")
            .is_some_and(|p| p["spec"]["nodeName"] == "worker-3")
    }));
    let (_, body) = check(&l, gpu, "", &[]).await;
    assert_eq!(body["data"], json!(["gpu-ok"]));
    assert_eq!(body["reason"], "dynamic");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stock_check_needs_no_installed_cluster_and_bad_input_changes_nothing() {
    let l = stocked().await;
    // A cluster record not installed yet (no kubeconfig) with GPU stock.
    let t = |s: &str| V::Text(s.to_string());
    let store = l.kb.s.store().await;
    let bare = store
        .insert(
            ORG,
            "clusters",
            &[
                ("cpcid".to_string(), t(&l.cpcid)),
                ("name".to_string(), t("未安装")),
                ("clustertype".to_string(), t("0")),
                ("ready".to_string(), V::Integer(0)),
            ],
        )
        .await
        .unwrap()
        .id;
    let on_bare = |resources: &'static str| {
        vec![
            ("cpcid", l.cpcid.clone()),
            ("clusterid", bare.clone()),
            ("resources", resources.to_string()),
            ("kyylabels", String::new()),
        ]
    };
    // Nothing in stock there: excluded statically without asking a cluster.
    let p = on_bare(r#"[{"id":"g","gpu":1,"gpu_model":"RTX5090-32G"}]"#);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = l.kb.get(CHECK, &p).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"].clone(), body["reason"].clone()),
        (json!(["g"]), json!("static"))
    );
    // Stock alone cannot clear a product: the live check needs the cluster.
    let p = on_bare(r#"[{"id":"n"}]"#);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = l.kb.get(CHECK, &p).await;
    refused_as(status, &body, "算力集群尚未安装", "`clusterid`");

    let before =
        l.kb.get("cpcwidget/get_cpcwidget", &[("cpcid", l.cpcid.as_str())])
            .await;
    let good = r#"[{"id":"p","cpu":"1"}]"#;
    for (params, msg, needle) in [
        (
            vec![
                ("clusterid", l.cid.as_str()),
                ("resources", good),
                ("kyylabels", ""),
            ],
            "无算力中心ID",
            "cpcid",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("resources", good),
                ("kyylabels", ""),
            ],
            "无算力集群ID",
            "clusterid",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("kyylabels", ""),
            ],
            INVALID,
            "resources",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", good),
            ],
            INVALID,
            "kyylabels",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", "42"),
                ("kyylabels", ""),
            ],
            INVALID,
            "resources",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", r#"[{"cpu":"1"}]"#),
                ("kyylabels", ""),
            ],
            INVALID,
            "id",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", r#"[{"id":"p","memory":"lots"}]"#),
                ("kyylabels", ""),
            ],
            INVALID,
            "memory",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", good),
                ("kyylabels", "a=b;reboot"),
            ],
            INVALID,
            "kyylabels",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", good),
                ("kyylabels", "[1]"),
            ],
            INVALID,
            "kyylabels",
        ),
        (
            vec![
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("resources", good),
                ("kyylabels", "nosuchlabelid"),
            ],
            "资源标签不存在",
            "kyylabels",
        ),
        (
            vec![
                ("cpcid", "nosuchcenter"),
                ("clusterid", l.cid.as_str()),
                ("resources", good),
                ("kyylabels", ""),
            ],
            "算力中心不存在",
            "cpcid",
        ),
    ] {
        let (s, body) = l.kb.get(CHECK, &params).await;
        refused_as(s, &body, msg, needle);
    }
    // Another organisation cannot check acme's cluster, nor learn it exists.
    let mut p = l.at();
    p.extend([("resources", good), ("kyylabels", "")]);
    let (status, body) =
        l.kb.call(reqwest::Method::GET, CHECK, Some(&l.kb.other), &p)
            .await;
    refused_as(status, &body, "算力中心不存在", &l.cpcid);
    let after =
        l.kb.get("cpcwidget/get_cpcwidget", &[("cpcid", l.cpcid.as_str())])
            .await;
    assert_eq!(before, after);
}
