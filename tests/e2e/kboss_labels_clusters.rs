//! kboss labels (`cpclabel`) and clusters (`cpccluster`).

use crate::kb::*;

#[tokio::test(flavor = "multi_thread")]
async fn labels_add_list_delete_with_symbols_by_type() {
    let k = Kb::start();
    let add = |name: &'static str, t: &'static str, key: &'static str, value: &'static str| {
        let k = &k;
        async move {
            k.post_text(
                "cpclabel/add_cpclabel",
                &[
                    ("name", name),
                    ("labeltype", t),
                    ("label_key", key),
                    ("label_value", value),
                ],
            )
            .await
        }
    };
    let text = add("mysql8资源实例", "0", "kyy-app", "mysql8").await;
    assert_key_order(
        &text,
        &[
            "label_key",
            "label_value",
            "labeltype",
            "name",
            "orgid",
            "id",
            "update_time",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], true, "{body}");
    assert_eq!(body["msg"], "新增资源标签成功");
    assert_eq!(body["data"]["orgid"], ORG);
    assert_eq!(body["data"]["symbol"], ":");
    let time = body["data"]["update_time"].as_str().unwrap();
    assert_eq!(time.len(), 19, "{time}");
    assert_eq!(&time[10..11], " ");
    let first = body["data"]["id"].as_str().unwrap().to_string();
    let body: serde_json::Value =
        serde_json::from_str(&add("GPU设备", "1", "kyy-gpu", "true").await).unwrap();
    assert_eq!(body["data"]["symbol"], "=");

    let text = k.get_text("cpclabel/get_cpclabel", &[]).await;
    assert_key_order(
        &text,
        &[
            "id",
            "name",
            "orgid",
            "labeltype",
            "label_key",
            "symbol",
            "label_value",
            "update_time",
            "row_num_",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["msg"], "获取资源标签成功");
    assert_eq!(body["data"]["total"], 2);
    assert_eq!(body["data"]["rows"][1]["label_key"], "kyy-gpu");
    assert_eq!(body["data"]["rows"][1]["labeltype"], "1");
    let (_, body) = k
        .get(
            "cpclabel/get_cpclabel",
            &[("sort", "label_key"), ("rows", "1")],
        )
        .await;
    assert_eq!(body["data"]["rows"][0]["label_key"], "kyy-app");

    // Refused: bad type, key and value syntax, missing fields. Nothing added.
    for (params, needle) in [
        (vec![("labeltype", "2")], "`labeltype`"),
        (vec![("label_key", "kyy gpu")], "`label_key`"),
        (vec![("label_key", "-kyy")], "`label_key`"),
        (vec![("label_value", "a=b")], "`label_value`"),
        (vec![("label_value", "")], "`label_value`"),
        (vec![("name", "")], "`name`"),
    ] {
        let mut p = vec![
            ("name", "n"),
            ("labeltype", "1"),
            ("label_key", "k"),
            ("label_value", "v"),
        ];
        for (key, value) in params {
            p.retain(|(k, _)| *k != key);
            p.push((key, value));
        }
        let (status, body) = k.post("cpclabel/add_cpclabel", &p).await;
        refused_as(status, &body, INVALID, needle);
    }
    let (_, body) = k.get("cpclabel/get_cpclabel", &[]).await;
    assert_eq!(body["data"]["total"], 2);

    // Another organisation neither sees nor deletes them.
    let (_, body) = k
        .call(
            reqwest::Method::GET,
            "cpclabel/get_cpclabel",
            Some(&k.other),
            &[],
        )
        .await;
    assert_eq!(body["data"]["total"], 0);
    let (status, body) = k
        .call(
            reqwest::Method::POST,
            "cpclabel/delete_cpclabel",
            Some(&k.other),
            &[("id", first.as_str())],
        )
        .await;
    refused_as(status, &body, "资源标签不存在", &first);

    let (status, body) = k
        .post("cpclabel/delete_cpclabel", &[("id", first.as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "删除资源标签成功");
    assert_eq!(body["data"]["id"], first.as_str());
    let (status, body) = k.post("cpclabel/delete_cpclabel", &[]).await;
    refused_as(status, &body, "无资源标签ID", "`id`");
    let (_, body) = k.get("cpclabel/get_cpclabel", &[]).await;
    assert_eq!(body["data"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn clusters_list_with_secrets_redacted_and_update_only_name_and_dates() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let (_, body) = k
        .device(
            &cpcid,
            "master",
            &[("ip", "192.168.0.3"), ("role", "master")],
        )
        .await;
    let master = body["data"]["id"].as_str().unwrap().to_string();
    let id = k
        .cluster(ORG, &cpcid, "测试离线安装控制节点", Some(&master))
        .await;

    let text = k
        .get_text("cpccluster/get_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    assert_key_order(
        &text,
        &[
            "id",
            "name",
            "cpcid",
            "clustertype",
            "controllerid",
            "enable_date",
            "export_date",
            "clusterjoin",
            "kubeconfig",
            "clustertype_text",
            "controllerid_text",
            "row_num_",
        ],
    );
    for secret in [JOIN_TOKEN, "S3CR3T-KEY-DATA", "apiVersion"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["msg"], "获取算力集群成功");
    assert_eq!(body["data"]["total"], 1);
    let row = &body["data"]["rows"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["kubeconfig"], "******");
    assert_eq!(row["clusterjoin"], "******");
    assert_eq!(row["clustertype"], "0");
    assert_eq!(row["clustertype_text"], "kubernetes");
    assert_eq!(row["controllerid"], master.as_str());
    assert_eq!(row["controllerid_text"], "192.168.0.3");
    assert_eq!(row["ready"], 1);
    let bytes = k.database_bytes().await;
    for secret in [JOIN_TOKEN, "S3CR3T-KEY-DATA"] {
        assert!(!contains(&bytes, secret), "{secret} in the database");
    }

    // Name and dates change; the other documented fields may only come back
    // unchanged.
    let base = [("cpcid", cpcid.as_str()), ("id", id.as_str())];
    let mut update = base.to_vec();
    update.extend_from_slice(&[
        ("name", "朝阳区"),
        ("export_date", "2026-05-10"),
        ("cluster_type", "0"),
        ("clusterjoin", "******"),
    ]);
    let (status, body) = k.post("cpccluster/update_cpccluster", &update).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], true);
    assert_eq!(body["data"]["name"], "朝阳区");
    assert_eq!(body["data"]["export_date"], "2026-05-10");
    assert_eq!(body["data"]["enable_date"], "2025-04-03");
    let long = "x".repeat(300);
    let stick = ("name", "should not stick");
    let only = "只能修改集群名称和两个时间参数";
    for (extra, msg, needle) in [
        (
            vec![stick, ("controllerid", "RJZ2GMHSWGVG7iRk_AJYm")],
            only,
            "`controllerid`",
        ),
        (vec![stick, ("cluster_type", "1")], only, "`cluster_type`"),
        (
            vec![stick, ("clusterjoin", "kubeadm join 10.0.0.1:6443")],
            only,
            "`clusterjoin`",
        ),
        (
            vec![stick, ("enable_date", "tomorrow")],
            INVALID,
            "`enable_date`",
        ),
        (vec![("name", long.as_str())], INVALID, "`name`"),
    ] {
        let mut p = base.to_vec();
        p.extend(extra);
        let (status, body) = k.post("cpccluster/update_cpccluster", &p).await;
        refused_as(status, &body, msg, needle);
    }
    let (status, body) = k
        .post("cpccluster/update_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    refused_as(status, &body, "无算力集群ID", "`id`");
    let (_, body) = k
        .get("cpccluster/get_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    let row = &body["data"]["rows"][0];
    assert_eq!(row["name"], "朝阳区");
    assert_eq!(row["controllerid"], master.as_str());
    assert_eq!(row["clustertype"], "0");
    assert_eq!(row["export_date"], "2026-05-10");

    // A cluster belongs to its center, and to its organisation.
    let second = k.center("c2").await;
    let (status, body) = k
        .post(
            "cpccluster/update_cpccluster",
            &[
                ("cpcid", second.as_str()),
                ("id", id.as_str()),
                ("name", "moved"),
            ],
        )
        .await;
    refused_as(status, &body, "算力集群不属于该算力中心", "does not belong");
    let (status, body) = k
        .call(
            reqwest::Method::GET,
            "cpccluster/get_cpccluster",
            Some(&k.other),
            &[("cpcid", cpcid.as_str())],
        )
        .await;
    refused_as(status, &body, "算力中心不存在", &cpcid);
    let (status, body) = k
        .call(
            reqwest::Method::POST,
            "cpccluster/update_cpccluster",
            Some(&k.other),
            &[
                ("cpcid", cpcid.as_str()),
                ("id", id.as_str()),
                ("name", "stolen"),
            ],
        )
        .await;
    refused_as(status, &body, "算力中心不存在", &cpcid);
    let (_, body) = k
        .get("cpccluster/get_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["rows"][0]["name"], "朝阳区");
    let (status, body) = k.get("cpccluster/get_cpccluster", &[]).await;
    refused_as(status, &body, "无算力中心ID", "`cpcid`");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_without_join_command_controller_or_dates_shows_empty_strings() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    // As an import or an install in progress leaves it: no join command,
    // kubeconfig, controller or dates.
    let t = |s: &str| computehub::store::Value::Text(s.to_string());
    let id =
        k.s.store()
            .await
            .insert(
                ORG,
                "clusters",
                &[
                    ("cpcid".to_string(), t(&cpcid)),
                    ("name".to_string(), t("bare")),
                    ("clustertype".to_string(), t("0")),
                    ("ready".to_string(), computehub::store::Value::Integer(0)),
                ],
            )
            .await
            .unwrap()
            .id;
    let text = k
        .get_text("cpccluster/get_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    assert!(!text.contains("null"), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let row = &body["data"]["rows"][0];
    assert_eq!(row["id"], id.as_str());
    for field in [
        "clusterjoin",
        "kubeconfig",
        "controllerid",
        "controllerid_text",
        "enable_date",
        "export_date",
    ] {
        assert_eq!(row[field], "", "{field}: {row}");
    }
    assert_eq!(row["ready"], 0, "not installed");
    // Its update answer echoes the same way.
    let (status, body) = k
        .post(
            "cpccluster/update_cpccluster",
            &[
                ("cpcid", cpcid.as_str()),
                ("id", id.as_str()),
                ("name", "b2"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["enable_date"], "");
    assert_eq!(body["data"]["export_date"], "");
}
