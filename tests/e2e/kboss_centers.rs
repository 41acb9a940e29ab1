//! kboss compute centers (`cpclist`), session authentication and the
//! debug-only `orgid`.

use crate::common::*;
use crate::kb::*;

const PASSWORD: &str = "Kyy@123456";

#[tokio::test(flavor = "multi_thread")]
async fn centers_add_list_update_delete_with_the_documented_bodies() {
    let k = Kb::start();
    let id = k.center("首都算力中心1").await;
    assert_eq!(id.len(), 21);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // Centers list in creation order, which the store knows to the
    // millisecond (`created_at`, then the random id): the second is created
    // in a later millisecond than the first.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    // The add answer, keys in the documented order, password redacted.
    let add = [
        ("name", "测试pcapi"),
        ("pcapi_url", "https://trial.kaiyuancloud.cn"),
        ("api_user", "ysh"),
        ("api_pwd", PASSWORD),
        ("contactname", "kyy"),
        ("contactphone", ""),
    ];
    let text = k.post_text("cpclist/add_cpclist", &add).await;
    assert_key_order(
        &text,
        &[
            "status",
            "msg",
            "data",
            "api_pwd",
            "api_user",
            "contactname",
            "contactphone",
            "enable_date",
            "expire_date",
            "name",
            "orgid",
            "pcapi_url",
            "id",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], true);
    assert_eq!(body["msg"], "新建算力中心成功");
    assert_eq!(body["data"]["api_pwd"], "******");
    assert_eq!(body["data"]["orgid"], ORG);
    assert_eq!(body["data"]["contactphone"], "");
    // Dates not sent are echoed as "" (never null).
    assert_eq!(body["data"]["enable_date"], "");
    assert_eq!(body["data"]["expire_date"], "");
    let second = body["data"]["id"].as_str().unwrap().to_string();

    let (status, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["msg"], "算力中心数据查询成功");
    assert_eq!(body["data"]["total"], 2);
    let row = &body["data"]["rows"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["name"], "首都算力中心1");
    assert_eq!(row["orgid"], ORG);
    assert_eq!(row["orgid_text"], ORG);
    assert_eq!(row["pcapi_url"], "https://opencomputing.ai");
    assert_eq!(row["api_pwd"], "******");
    assert_eq!(row["enable_date"], "2025-05-16");
    assert_eq!(row["expire_date"], "2026-06-17");
    assert_eq!(row["contactphone"], "13141005621");
    assert_eq!(row["row_num_"], 1);
    assert_eq!(body["data"]["rows"][1]["row_num_"], 2);
    assert!(!body.to_string().contains(PASSWORD));

    // Update: every field sent again; `******` keeps the stored password.
    let update = |name: &'static str, pwd: &'static str| {
        let id = second.clone();
        let k = &k;
        async move {
            k.post(
                "cpclist/update_cpclist",
                &[
                    ("id", id.as_str()),
                    ("name", name),
                    ("pcapi_url", "https://trial.kaiyuancloud.cn"),
                    ("api_user", "修改后数据1"),
                    ("api_pwd", pwd),
                    ("contactname", "kyy"),
                    ("contactphone", "13141005621"),
                    ("expire_date", "2027-01-31"),
                ],
            )
            .await
        }
    };
    let (status, body) = update("首都算力中心3", "******").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "更新算力中心成功");
    assert_eq!(body["data"]["id"], second.as_str());
    assert_eq!(body["data"]["name"], "首都算力中心3");
    assert_eq!(body["data"]["api_user"], "修改后数据1");
    assert_eq!(body["data"]["api_pwd"], "******");
    let store = k.s.store().await;
    let sealed = || {
        let (store, second) = (&store, second.clone());
        async move {
            store
                .reveal(ORG, "compute_centers", &second, "api_pwd")
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(sealed().await, PASSWORD);
    let (status, _) = update("首都算力中心3", "New-pw-9911").await;
    assert_eq!(status, 200);
    assert_eq!(sealed().await, "New-pw-9911");
    let (_, body) = k.get("cpclist/get_cpclist", &[("sort", "-name")]).await;
    assert_eq!(body["data"]["rows"][0]["name"], "首都算力中心3");
    assert_eq!(body["data"]["rows"][0]["expire_date"], "2027-01-31");
    // A date never set is "", as the examples show "none", never null.
    assert_eq!(body["data"]["rows"][0]["enable_date"], "");

    // Delete answers the id and the organisation.
    let (status, body) = k
        .post("cpclist/delete_cpclist", &[("id", second.as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "删除算力中心成功");
    assert_eq!(body["data"]["id"], second.as_str());
    assert_eq!(body["data"]["orgid"], ORG);
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 1);

    // Sealed at rest: the database files hold no password, nor does the log.
    let bytes = k.database_bytes().await;
    assert!(!bytes.is_empty());
    for secret in [PASSWORD, "New-pw-9911"] {
        assert!(!contains(&bytes, secret), "{secret} in the database");
        assert!(!k.s.log_text().contains(secret), "{secret} in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_center_parameters_are_refused_by_name_and_change_nothing() {
    let k = Kb::start();
    let base = [
        ("name", "c"),
        ("pcapi_url", "https://pcapi.example"),
        ("api_user", "u"),
        ("api_pwd", "p"),
        ("contactname", "n"),
        ("contactphone", "123"),
    ];
    // The base parameters without `drop`, with `set` replacing its name.
    let case = |drop: &str, set: Option<(&'static str, &'static str)>| {
        let mut p: Vec<(&'static str, &'static str)> =
            base.iter().copied().filter(|(k, _)| *k != drop).collect();
        if let Some(kv) = set {
            p.retain(|(k, _)| *k != kv.0);
            p.push(kv);
        }
        p
    };
    let cases = [
        (case("name", None), "`name`"),
        (case("", Some(("name", "  "))), "`name`"),
        (case("", Some(("pcapi_url", "ftp://x"))), "`pcapi_url`"),
        (case("api_pwd", None), "`api_pwd`"),
        (case("", Some(("api_pwd", "******"))), "`api_pwd`"),
        (case("contactphone", None), "`contactphone`"),
        (
            case("", Some(("contactphone", "call me"))),
            "`contactphone`",
        ),
        (
            case("", Some(("enable_date", "2025-13-01"))),
            "`enable_date`",
        ),
    ];
    for (params, needle) in cases {
        let (status, body) = k.post("cpclist/add_cpclist", &params).await;
        refused_as(status, &body, INVALID, needle);
    }
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 0, "a refused add changed something");

    // The same name twice: refused (HTTP 200, as every documented failure),
    // one center.
    let id = k.center("c").await;
    let (status, body) = k.post("cpclist/add_cpclist", &base).await;
    refused_as(status, &body, "算力中心名称已存在", "name");

    // Update and delete need the id: the document's body exactly, and the
    // parameter in `detail`.
    let (status, body) = k.post("cpclist/update_cpclist", &base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": false, "msg": "无算力中心ID", "detail": "parameter `id` is required"})
    );
    let (status, body) = k.post("cpclist/delete_cpclist", &[]).await;
    refused_as(status, &body, "无算力中心ID", "`id`");
    let mut unknown = base.to_vec();
    unknown.push(("id", "AROU9udKtPNyh0AZtO_WY"));
    let (status, body) = k.post("cpclist/update_cpclist", &unknown).await;
    refused_as(status, &body, "算力中心不存在", "AROU9udKtPNyh0AZtO_WY");

    // A center in use is not deleted.
    let (status, body) = k.device(&id, "d1", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = k
        .post("cpclist/delete_cpclist", &[("id", id.as_str())])
        .await;
    refused_as(status, &body, "算力中心仍有算力设备,请先移除", "1 devices");
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn centers_page_and_sort() {
    let k = Kb::start();
    for name in ["c3", "c1", "c5", "c2", "c4"] {
        k.center(name).await;
    }
    let (status, body) = k
        .get(
            "cpclist/get_cpclist",
            &[("page", "2"), ("rows", "2"), ("sort", "name desc")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 5);
    let rows = body["data"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c3", "c2"]);
    assert_eq!(rows[0]["row_num_"], 3);
    assert_eq!(rows[1]["row_num_"], 4);
    // Default order is creation order.
    let (_, body) = k.get("cpclist/get_cpclist", &[("rows", "1")]).await;
    assert_eq!(body["data"]["rows"][0]["name"], "c3");
    for (param, value, needle) in [
        ("sort", "api_pwd", "`sort`"),
        ("sort", "name sideways", "`sort`"),
        ("page", "0", "`page`"),
        ("rows", "abc", "`rows`"),
        ("rows", "10001", "`rows`"),
    ] {
        let (status, body) = k.get("cpclist/get_cpclist", &[(param, value)]).await;
        refused_as(status, &body, INVALID, needle);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_organisation_sees_and_changes_nothing() {
    let k = Kb::start();
    let id = k.center("acme-center").await;
    let as_other = |short: &'static str, params: Vec<(&'static str, String)>| {
        let k = &k;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(a, b)| (*a, b.as_str())).collect();
            k.call(reqwest::Method::POST, short, Some(&k.other), &params)
                .await
        }
    };
    let (_, body) = k
        .call(
            reqwest::Method::GET,
            "cpclist/get_cpclist",
            Some(&k.other),
            &[],
        )
        .await;
    assert_eq!(body["data"]["total"], 0);
    let (status, body) = as_other(
        "cpclist/update_cpclist",
        vec![
            ("id", id.clone()),
            ("name", "stolen".into()),
            ("pcapi_url", "https://evil.example".into()),
            ("api_user", "x".into()),
            ("api_pwd", "x".into()),
            ("contactname", "x".into()),
            ("contactphone", "".into()),
        ],
    )
    .await;
    refused_as(status, &body, "算力中心不存在", &id);
    let (status, body) = as_other("cpclist/delete_cpclist", vec![("id", id.clone())]).await;
    refused_as(status, &body, "算力中心不存在", &id);
    let (status, body) = k
        .call(
            reqwest::Method::GET,
            "cpcnode/get_cpcnode",
            Some(&k.other),
            &[("cpcid", id.as_str())],
        )
        .await;
    refused_as(status, &body, "算力中心不存在", &id);
    let (status, body) = k.device(&id, "x", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["rows"][0]["name"], "acme-center");
    assert_eq!(
        body["data"]["rows"][0]["pcapi_url"],
        "https://opencomputing.ai"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_401_and_orgid_is_ignored_unless_debug() {
    let k = Kb::start();
    let (status, body) = k
        .call(reqwest::Method::GET, "cpclist/get_cpclist", None, &[])
        .await;
    assert!(failure(status, &body, 401).contains("Bearer"));
    let add = [
        ("name", "c"),
        ("pcapi_url", "https://pcapi.example"),
        ("api_user", "u"),
        ("api_pwd", "p"),
        ("contactname", "n"),
        ("contactphone", ""),
        ("orgid", ORG),
    ];
    let (status, body) = k
        .call(reqwest::Method::POST, "cpclist/add_cpclist", None, &add)
        .await;
    failure(status, &body, 401);
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 0);
    // With a key, `orgid` does not switch organisations.
    let (status, _) = k
        .call(
            reqwest::Method::POST,
            "cpclist/add_cpclist",
            Some(&k.other),
            &add,
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_orgid_acts_as_that_organisation_only_with_the_flag() {
    let k = Kb::with(Options {
        args: vec!["--debug-orgid"],
        ..Options::default()
    });
    let org = "mIWUHBeeDM8mwAFPIQ8pS";
    let add = |org: &'static str| {
        [
            ("name", "首都算力中心1"),
            ("pcapi_url", "https://opencomputing.ai"),
            ("api_user", "ysh"),
            ("api_pwd", "p"),
            ("contactname", "Ahexl"),
            ("contactphone", ""),
            ("orgid", org),
        ]
    };
    let (status, body) = k
        .call(
            reqwest::Method::POST,
            "cpclist/add_cpclist",
            None,
            &add(org),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["orgid"], org);
    // The organisation's own key sees it; acme's does not.
    let key = k.s.key(org, "bearer");
    let (_, body) = k
        .call(reqwest::Method::GET, "cpclist/get_cpclist", Some(&key), &[])
        .await;
    assert_eq!(body["data"]["total"], 1);
    let (_, body) = k.get("cpclist/get_cpclist", &[]).await;
    assert_eq!(body["data"]["total"], 0);
    // orgid in a JSON body works too.
    let r =
        k.s.http
            .get(k.s.url(&path("cpclist/get_cpclist")))
            .json(&serde_json::json!({ "orgid": org }))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["rows"][0]["orgid"], org);
    // Still 401 with neither, 400 for an invalid orgid.
    let (status, body) = k
        .call(reqwest::Method::GET, "cpclist/get_cpclist", None, &[])
        .await;
    assert!(failure(status, &body, 401).contains("orgid"));
    let (status, body) = k
        .call(
            reqwest::Method::GET,
            "cpclist/get_cpclist",
            None,
            &[("orgid", "no such org!")],
        )
        .await;
    assert!(failure(status, &body, 400).contains("`orgid`"));
    // A wrong key is not rescued by orgid.
    let (status, body) = k
        .call(
            reqwest::Method::GET,
            "cpclist/get_cpclist",
            Some("chk.nokey.nosecret"),
            &[("orgid", org)],
        )
        .await;
    failure(status, &body, 401);
}

/// `/openapi.json` says it: kboss and pcapi answer their documented failures
/// with 200 (`status: false`), and list the statuses the host keeps, each in
/// the area's envelope.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_lists_documented_failures_under_200_and_the_hosts_statuses() {
    let k = Kb::start();
    let (status, doc) = k.s.get("/openapi.json").await;
    assert_eq!(status, 200);
    let kboss = &doc["paths"]["/dev/cpcc/cpcnode/get_cpcnode.dspy"]["get"]["responses"];
    let ok = kboss["200"]["description"].as_str().unwrap();
    assert!(
        ok.contains("also answers HTTP 200") && ok.contains("无算力中心ID"),
        "{ok}"
    );
    assert_eq!(
        kboss["200"]["content"]["application/json"]["schema"]["oneOf"][1]["properties"]["status"],
        serde_json::json!({"const": false})
    );
    let pcapi = &doc["paths"]["/pcapi/api/v1/cluster/common/new_cluster"]["post"]["responses"];
    assert!(
        pcapi["200"]["description"]
            .as_str()
            .unwrap()
            .contains("`operate failed`"),
        "{pcapi}"
    );
    for (responses, envelope, keep) in [
        (
            kboss,
            "`{status: false, msg}`",
            &["401", "403", "408", "413", "429", "500", "503"][..],
        ),
        (
            pcapi,
            "`{status: false, info, data: \"\"}`",
            &["401", "403", "413", "429", "500", "503"][..],
        ),
    ] {
        let mut listed: Vec<&str> = responses
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        listed.sort_unstable();
        let mut want = vec!["200"];
        want.extend(keep);
        want.sort_unstable();
        assert_eq!(listed, want, "{responses}");
        for s in keep {
            let d = responses[*s]["description"].as_str().unwrap();
            assert!(d.starts_with(envelope) && d.contains("host"), "{s}: {d}");
        }
    }
}
