//! kboss devices (`cpcnode`): add, list, idle, update, delete.

use crate::kb::*;

const PASSWORD: &str = "Yuanshenhong.1";

#[tokio::test(flavor = "multi_thread")]
async fn devices_add_list_idle_update_delete_with_the_documented_bodies() {
    let k = Kb::start();
    let cpcid = k.center("c").await;

    // add: the documented keys (sorted, id last), sshport as the string sent.
    let text = k
        .post_text(
            "cpcnode/add_cpcnode",
            &[
                ("cpcid", cpcid.as_str()),
                ("ip", "192.168.0.2"),
                ("name", "2-虚拟机ubuntu2204"),
                ("devicetype", "0"),
                ("sshport", "22"),
                ("adminuser", "root"),
                ("adminpwd", PASSWORD),
                ("node_status", "1"),
                ("external_ip", ""),
                ("cpu_model", "STANDARD"),
                ("cpu_stock", "0"),
                ("memory_model", "STANDARD"),
                ("memory_stock", "0"),
                ("sysdisk_stock", "0"),
                ("datadisk_stock", "0"),
                ("gpu_model", "STANDARD"),
                ("gpu_stock", "0"),
                ("role", "worker"),
                ("enable_date", "2025-03-31"),
                ("export_date", "2029-10-30"),
            ],
        )
        .await;
    assert_key_order(
        &text,
        &[
            "adminpwd",
            "adminuser",
            "cpcid",
            "devicetype",
            "enable_date",
            "export_date",
            "ip",
            "name",
            "node_status",
            "sshport",
            "id",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], true, "{body}");
    assert_eq!(body["msg"], "新增算力设备成功");
    assert_eq!(body["data"]["adminpwd"], "******");
    assert_eq!(body["data"]["sshport"], "22");
    let busy = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(busy.len(), 21);
    assert!(!text.contains(PASSWORD));

    let (status, body) = k
        .device(&cpcid, "假算力设备", &[("ip", "192.168.110.120")])
        .await;
    assert_eq!(status, 200, "{body}");
    // No external IP and no role: echoed as "" (the examples' "none"), never null.
    assert_eq!(body["data"]["external_ip"], "", "{body}");
    assert_eq!(body["data"]["role"], "", "{body}");
    assert!(!body.to_string().contains("null"), "{body}");
    let idle = body["data"]["id"].as_str().unwrap().to_string();

    // get_cpcnode: the example's fields and types, with the two texts.
    let text = k
        .get_text("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_key_order(
        &text,
        &[
            "id",
            "cpcid",
            "name",
            "clusterid",
            "node_status",
            "ip",
            "devicetype",
            "sshport",
            "adminuser",
            "adminpwd",
            "enable_date",
            "export_date",
            "external_ip",
            "cpu_model",
            "cpu_stock",
            "memory_model",
            "memory_stock",
            "sysdisk_stock",
            "datadisk_stock",
            "gpu_model",
            "gpu_stock",
            "role",
            "node_status_text",
            "devicetype_text",
            "row_num_",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["msg"], "获取算力设备成功");
    assert_eq!(body["data"]["total"], 2);
    let row = &body["data"]["rows"][0];
    assert_eq!(row["id"], busy.as_str());
    assert_eq!(row["node_status"], "1");
    assert_eq!(row["devicetype"], "0");
    assert_eq!(row["sshport"], 22);
    assert_eq!(row["adminpwd"], "******");
    assert_eq!(row["external_ip"], "未设置");
    assert_eq!(row["cpu_stock"], 0);
    assert_eq!(row["role"], "worker");
    assert_eq!(row["clusterid"], "", "no cluster: \"\", never null");
    assert_eq!(row["node_status_text"], "占用");
    assert_eq!(row["devicetype_text"], "虚拟机");
    assert_eq!(row["row_num_"], 1);
    let row = &body["data"]["rows"][1];
    assert_eq!(row["node_status_text"], "空闲");
    assert_eq!(row["devicetype_text"], "物理机");
    assert_eq!(row["gpu_stock"], 8);
    assert_eq!(row["role"], "", "an unassigned device's role is \"\"");
    assert_eq!(row["cluster_name"], "");
    assert!(!text.contains("null"), "{text}");
    assert!(!text.contains(PASSWORD) && !text.contains("Kyy@123456"));

    // get_cpcidle_device: only the idle one, as a plain list.
    let text = k
        .get_text("cpcnode/get_cpcidle_device", &[("cpcid", cpcid.as_str())])
        .await;
    assert_key_order(
        &text,
        &[
            "id",
            "name",
            "clusterid",
            "node_status",
            "ip",
            "devicetype",
            "sshport",
            "adminuser",
            "adminpwd",
            "cpcid",
            "enable_date",
            "export_date",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["msg"], "获取空闲设备成功");
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], idle.as_str());
    assert_eq!(list[0]["sshport"], 22);
    // The idle list's example shows a device without a cluster as `null`.
    assert_eq!(list[0]["clusterid"], serde_json::Value::Null);

    // update: all fields again; `******` keeps the stored password.
    let update = [
        ("id", idle.as_str()),
        ("cpcid", cpcid.as_str()),
        ("ip", "192.168.0.8"),
        ("name", "gpu设备122cccc"),
        ("devicetype", "1"),
        ("sshport", "2222"),
        ("adminuser", "ysh"),
        ("adminpwd", "******"),
        ("node_status", "1"),
        ("external_ip", "203.0.113.7"),
        ("cpu_model", "STANDARD"),
        ("cpu_stock", "32"),
        ("memory_model", "STANDARD"),
        ("memory_stock", "128"),
        ("sysdisk_stock", "100"),
        ("datadisk_stock", "1000"),
        ("gpu_model", "A100-80G"),
        ("gpu_stock", "4"),
        ("role", "master"),
    ];
    let (status, body) = k.post("cpcnode/update_cpcnode", &update).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "更新算力中心成功");
    assert_eq!(body["data"]["id"], idle.as_str());
    assert_eq!(body["data"]["name"], "gpu设备122cccc");
    assert_eq!(body["data"]["sshport"], "2222");
    assert_eq!(body["data"]["adminpwd"], "******");
    assert_eq!(
        body["data"]["enable_date"], "",
        "not sent: \"\", never null"
    );
    assert_eq!(body["data"]["export_date"], "");
    let store = k.s.store().await;
    let pwd = store
        .reveal(ORG, "devices", &idle, "adminpwd")
        .await
        .unwrap();
    assert_eq!(pwd.as_deref(), Some("Kyy@123456"));
    let (_, body) = k
        .get(
            "cpcnode/get_cpcnode",
            &[("cpcid", cpcid.as_str()), ("sort", "-name")],
        )
        .await;
    let row = &body["data"]["rows"][0];
    assert_eq!(row["name"], "gpu设备122cccc");
    assert_eq!(row["sshport"], 2222);
    assert_eq!(row["external_ip"], "203.0.113.7");
    assert_eq!(row["gpu_model"], "A100-80G");
    assert_eq!(
        row["enable_date"], "",
        "a date never set is \"\", never null"
    );
    let (_, body) = k
        .get("cpcnode/get_cpcidle_device", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);

    // delete, then it is gone.
    let (status, body) = k
        .post("cpcnode/delete_cpcnode", &[("id", idle.as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "删除算力设备成功");
    assert_eq!(body["data"]["id"], idle.as_str());
    let (status, body) = k
        .post("cpcnode/delete_cpcnode", &[("id", idle.as_str())])
        .await;
    refused_as(status, &body, "算力设备不存在", &idle);
    let (_, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 1);

    let bytes = k.database_bytes().await;
    for secret in [PASSWORD, "Kyy@123456"] {
        assert!(!contains(&bytes, secret), "{secret} in the database");
        assert!(!k.s.log_text().contains(secret), "{secret} in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_device_parameters_are_refused_by_name_and_change_nothing() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let cases: Vec<Case> = vec![
        (vec![("cpcid", "")], "无算力中心ID", "`cpcid`"),
        (vec![("ip", "192.168.0.300")], INVALID, "`ip`"),
        (vec![("name", "")], INVALID, "`name`"),
        (vec![("devicetype", "2")], INVALID, "`devicetype`"),
        (vec![("sshport", "70000")], INVALID, "`sshport`"),
        (vec![("sshport", "ssh")], INVALID, "`sshport`"),
        (vec![("adminpwd", "")], INVALID, "`adminpwd`"),
        (vec![("node_status", "busy")], INVALID, "`node_status`"),
        (vec![("external_ip", "somewhere")], INVALID, "`external_ip`"),
        (vec![("cpu_stock", "-1")], INVALID, "`cpu_stock`"),
        (vec![("gpu_stock", "1.5")], INVALID, "`gpu_stock`"),
        (vec![("role", "boss")], INVALID, "`role`"),
        (
            vec![("export_date", "2025-02-30")],
            INVALID,
            "`export_date`",
        ),
        (
            vec![("cpcid", "AROU9udKtPNyh0AZtO_WY")],
            "算力中心不存在",
            "`cpcid`",
        ),
    ];
    for (extra, msg, needle) in cases {
        let (got, body) = k.device(&cpcid, "d", &extra).await;
        refused_as(got, &body, msg, needle);
    }
    let (status, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["total"], 0, "a refused add changed something");

    // The same name twice in the organisation: refused.
    assert_eq!(k.device(&cpcid, "d", &[]).await.0, 200);
    let (status, body) = k.device(&cpcid, "d", &[]).await;
    refused_as(status, &body, "算力设备名称已存在", "name");
    // get_cpcnode without a center: the document's body exactly (HTTP 200),
    // the parameter in `detail`.
    let (status, body) = k.get("cpcnode/get_cpcnode", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": false, "msg": "无算力中心ID",
            "detail": "parameter `cpcid` is required"})
    );
    let (status, body) = k.get("cpcnode/get_cpcidle_device", &[]).await;
    refused_as(status, &body, "无算力中心ID", "`cpcid`");
    let (status, body) = k
        .post("cpcnode/update_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    refused_as(status, &body, "无算力设备ID", "`id`");
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_page_sort_and_stay_in_their_organisation() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let other_center = k.center("c2").await;
    for (i, name) in ["n3", "n1", "n6", "n2", "n5", "n4", "n7"]
        .iter()
        .enumerate()
    {
        let ip = format!("10.0.0.{}", 10 - i);
        let (status, body) = k.device(&cpcid, name, &[("ip", ip.as_str())]).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(k.device(&other_center, "elsewhere", &[]).await.0, 200);
    let page = |params: Vec<(&'static str, &'static str)>| {
        let k = &k;
        let cpcid = cpcid.clone();
        async move {
            let mut p: Vec<(&str, &str)> = vec![("cpcid", cpcid.as_str())];
            p.extend(params);
            k.get("cpcnode/get_cpcnode", &p).await
        }
    };
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["data"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, body) = page(vec![("page", "2"), ("rows", "3"), ("sort", "name")]).await;
    assert_eq!(body["data"]["total"], 7);
    assert_eq!(names(&body), ["n4", "n5", "n6"]);
    assert_eq!(body["data"]["rows"][0]["row_num_"], 4);
    // IPs sort as text: 10.0.0.9, 10.0.0.8, ... 10.0.0.10.
    let (_, body) = page(vec![("rows", "2"), ("sort", "-ip")]).await;
    assert_eq!(names(&body), ["n1", "n6"]);
    let (_, body) = page(vec![("page", "3"), ("rows", "3")]).await;
    assert_eq!(names(&body), ["n7"], "default order is creation order");
    let (_, body) = page(vec![("page", "9"), ("rows", "3")]).await;
    assert_eq!(body["data"]["total"], 7);
    assert_eq!(body["data"]["rows"].as_array().unwrap().len(), 0);
    let (status, body) = page(vec![("sort", "adminpwd")]).await;
    refused_as(status, &body, INVALID, "`sort`");

    // Another organisation: invisible and untouchable.
    let (_, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    let victim = body["data"]["rows"][0]["id"].as_str().unwrap().to_string();
    let other = |short: &'static str, params: Vec<(&'static str, &str)>| {
        let k = &k;
        let params: Vec<(&'static str, String)> = params
            .into_iter()
            .map(|(a, b)| (a, b.to_string()))
            .collect();
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(a, b)| (*a, b.as_str())).collect();
            let method = if short.starts_with("cpcnode/get") {
                reqwest::Method::GET
            } else {
                reqwest::Method::POST
            };
            k.call(method, short, Some(&k.other), &p).await
        }
    };
    let (status, body) = other("cpcnode/get_cpcnode", vec![("cpcid", &cpcid)]).await;
    refused_as(status, &body, "算力中心不存在", &cpcid);
    let (status, body) = other("cpcnode/get_cpcidle_device", vec![("cpcid", &cpcid)]).await;
    refused_as(status, &body, "算力中心不存在", &cpcid);
    let (status, body) = other("cpcnode/delete_cpcnode", vec![("id", &victim)]).await;
    refused_as(status, &body, "算力设备不存在", &victim);
    let other_center_of_globex = {
        let (status, body) = k
            .call(
                reqwest::Method::POST,
                "cpclist/add_cpclist",
                Some(&k.other),
                &[
                    ("name", "g"),
                    ("pcapi_url", "https://g.example"),
                    ("api_user", "g"),
                    ("api_pwd", "g"),
                    ("contactname", "g"),
                    ("contactphone", ""),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["id"].as_str().unwrap().to_string()
    };
    // Moving acme's device into globex's center is as impossible as editing it.
    let mut update: Vec<(&str, &str)> = vec![
        ("id", victim.as_str()),
        ("cpcid", other_center_of_globex.as_str()),
        ("ip", "10.9.9.9"),
        ("name", "stolen"),
        ("devicetype", "1"),
        ("sshport", "22"),
        ("adminuser", "x"),
        ("adminpwd", "x"),
        ("node_status", "0"),
        ("external_ip", ""),
        ("cpu_model", "x"),
        ("cpu_stock", "1"),
        ("memory_model", "x"),
        ("memory_stock", "1"),
        ("sysdisk_stock", "1"),
        ("datadisk_stock", "1"),
        ("gpu_model", "x"),
        ("gpu_stock", "1"),
        ("role", ""),
    ];
    let (status, body) = other("cpcnode/update_cpcnode", update.clone()).await;
    refused_as(status, &body, "算力设备不存在", &victim);
    update[1] = ("cpcid", other_center_of_globex.as_str());
    let (status, body) = k.post("cpcnode/update_cpcnode", &update).await;
    refused_as(status, &body, "算力中心不存在", &other_center_of_globex);
    let (_, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 7);
    assert_eq!(body["data"]["rows"][0]["id"], victim.as_str());
    assert_ne!(body["data"]["rows"][0]["name"], "stolen");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_controller_is_not_removed() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let (_, body) = k.device(&cpcid, "master", &[]).await;
    let master = body["data"]["id"].as_str().unwrap().to_string();
    let cluster = k
        .cluster(ORG, &cpcid, "测试离线安装控制节点", Some(&master))
        .await;
    let (status, body) = k
        .post("cpcnode/delete_cpcnode", &[("id", master.as_str())])
        .await;
    refused_as(
        status,
        &body,
        "算力设备是算力集群的控制节点,无法移除",
        &cluster,
    );
    let (_, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 1);
}
