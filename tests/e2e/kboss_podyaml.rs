//! kboss resource-instance configs against a simulated cluster: each
//! endpoint's effect is read back from the simulation (objects made,
//! replicas and limits changed, everything removed), not only the answer.

use serde_json::Value;

use crate::kb::{refused_as, INVALID};
use crate::kboss_live::live;

fn example(clusterid: &str) -> Vec<(&str, &str)> {
    vec![
        ("clusterid", clusterid),
        ("source_name", "kyy-new5090gpu-ubuntu2204"),
        ("source_authuser", "root"),
        ("source_authpasswd", "kyycloud"),
        ("source_podengine", "StatefulSet"),
        ("source_replicasetnum", "1"),
        ("instance_type", "LinuxOS"),
        ("pod_imagepath", "docker.io/library/ubuntu:22.04"),
        ("source_memrate", "512Mi"),
        ("source_cpurate", "1000m"),
        ("source_selflabel", "app:ubuntu3"),
        ("source_gpu", "0"),
        ("source_portmode", "NodePort"),
        ("source_restartpolicy", "Always"),
        ("source_apiport", "6035"),
        ("source_insideport", "3306"),
        ("source_outsideport", "30063"),
        ("source_mountpath", "/mnt/data"),
        ("source_storagelimits", "49Gi"),
        ("source_nodeselector", "kyy-gpu=false"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn configs_cascade_into_the_cluster() {
    let l = live().await;
    l.sim
        .patch_merge(
            "v1",
            "Node",
            None,
            "worker-1",
            &serde_json::json!({"metadata": {"labels": {"kyy-gpu": "false"}}}),
        )
        .unwrap();
    let (status, body) =
        l.kb.post("cpcpodyaml/new_cpcpodyaml", &example(&l.cid))
            .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    let id = d["id"].as_str().unwrap().to_string();
    let ns = d["namespace_name"].as_str().unwrap().to_string();
    // The cluster id as a DNS label (`_` as `-`, no `-` at either end: ids
    // are random, so either end may be one), then the organisation.
    let cluster = l.cid.to_lowercase().replace('_', "-");
    assert_eq!(ns, format!("{}-acme", cluster.trim_matches('-')));
    assert_eq!(d["serviceaccount_name"], format!("{ns}-serviceaccount"));
    let sts = d["podcd_name"].as_str().unwrap().to_string();
    let svc = d["service_name"].as_str().unwrap().to_string();
    assert!(sts.ends_with("-statefulset") && svc.ends_with("-service"));
    assert_eq!(d["action"], "apply");
    assert_eq!(d["cpcid"], l.cpcid.as_str());
    assert_eq!(d["source_authpasswd"], "******");
    assert!(!body.to_string().contains("kyycloud"));

    // The cluster holds what the document names.
    assert!(l.sim.get("v1", "Namespace", None, &ns).is_some());
    assert!(l
        .sim
        .get(
            "v1",
            "ServiceAccount",
            Some(&ns),
            &format!("{ns}-serviceaccount")
        )
        .is_some());
    let set = l
        .sim
        .get("apps/v1", "StatefulSet", Some(&ns), &sts)
        .unwrap();
    assert_eq!(set["spec"]["replicas"], 1);
    let limits = &set["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
    assert_eq!(limits["cpu"], "1000m");
    assert_eq!(limits["memory"], "512Mi");
    let service = l.sim.get("v1", "Service", Some(&ns), &svc).unwrap();
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["nodePort"], 30063);
    assert!(l.sim.wait_until(std::time::Duration::from_secs(10), |s| {
        s.get("v1", "Pod", Some(&ns), &format!("{sts}-0"))
            .is_some_and(|p| p["spec"]["nodeName"] == "worker-1")
    }));

    // The list shows it with the example's types.
    let (status, body) = l.kb.get("cpcpodyaml/get_cpcpodyaml", &l.at()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    let row = &body["data"]["rows"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["source_replicasetnum"], 1);
    assert_eq!(row["source_apiport"], 6035);
    assert_eq!(row["source_authpasswd"], "******");
    assert_eq!(row["podcd_name"], sts.as_str());
    assert_eq!(row["row_num_"], 1);

    // Update: two replicas and a larger limit reach the StatefulSet.
    let mut upd = example(&l.cid);
    upd.retain(|(k, _)| {
        !matches!(
            *k,
            "source_replicasetnum" | "source_cpurate" | "source_authpasswd"
        )
    });
    upd.extend([
        ("cpcid", l.cpcid.as_str()),
        ("id", id.as_str()),
        ("source_replicasetnum", "2"),
        ("source_cpurate", "2"),
    ]);
    let (status, body) = l.kb.post("cpcpodyaml/update_cpcpodyaml", &upd).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["source_replicasetnum"], "2");
    let set = l
        .sim
        .get("apps/v1", "StatefulSet", Some(&ns), &sts)
        .unwrap();
    assert_eq!(set["spec"]["replicas"], 2);
    assert_eq!(
        set["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "2"
    );

    // Bad input names the field and changes nothing.
    for (field, value) in [
        ("source_replicasetnum", "many"),
        ("source_cpurate", "lots"),
        ("source_outsideport", "80"),
        ("source_podengine", "Rocket"),
    ] {
        let mut bad = upd.clone();
        bad.retain(|(k, _)| *k != field);
        bad.push((field, value));
        let (status, body) = l.kb.post("cpcpodyaml/update_cpcpodyaml", &bad).await;
        refused_as(status, &body, INVALID, field);
    }
    let mut missing = example(&l.cid);
    missing.retain(|(k, _)| *k != "source_memrate");
    let (status, body) = l.kb.post("cpcpodyaml/new_cpcpodyaml", &missing).await;
    refused_as(status, &body, INVALID, "`source_memrate`");
    let set = l
        .sim
        .get("apps/v1", "StatefulSet", Some(&ns), &sts)
        .unwrap();
    assert_eq!(set["spec"]["replicas"], 2);
    assert_eq!(
        l.kb.get("cpcpodyaml/get_cpcpodyaml", &l.at()).await.1["data"]["total"],
        1
    );

    // Another organisation can neither see nor delete it.
    let (status, body) =
        l.kb.call(
            reqwest::Method::POST,
            "cpcpodyaml/delete_cpcpodyaml",
            Some(&l.kb.other),
            &[("id", id.as_str())],
        )
        .await;
    refused_as(status, &body, "资源实例配置不存在", &id);
    assert!(l
        .sim
        .get("apps/v1", "StatefulSet", Some(&ns), &sts)
        .is_some());

    // Delete removes everything it made.
    let (status, body) =
        l.kb.post("cpcpodyaml/delete_cpcpodyaml", &[("id", id.as_str())])
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], id.as_str());
    assert!(l
        .sim
        .get("apps/v1", "StatefulSet", Some(&ns), &sts)
        .is_none());
    assert!(l.sim.get("v1", "Service", Some(&ns), &svc).is_none());
    let claims: Vec<Value> = l.sim.list("v1", "PersistentVolumeClaim", Some(&ns));
    assert!(claims.is_empty(), "{claims:?}");
    assert!(l.sim.wait_until(std::time::Duration::from_secs(10), |s| {
        s.get("v1", "Namespace", None, &ns).is_none()
    }));
    assert_eq!(
        l.kb.get("cpcpodyaml/get_cpcpodyaml", &l.at()).await.1["data"]["total"],
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_change_applies_the_new_workload_before_removing_the_old() {
    let l = live().await;
    let mut cfg = example(&l.cid);
    cfg.retain(|(k, _)| *k != "source_nodeselector");
    let (status, body) = l.kb.post("cpcpodyaml/new_cpcpodyaml", &cfg).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let ns = body["data"]["namespace_name"].as_str().unwrap().to_string();
    let sts = body["data"]["podcd_name"].as_str().unwrap().to_string();
    let svc = body["data"]["service_name"].as_str().unwrap().to_string();
    let dep = sts.replace("-statefulset", "-deployment");
    assert_ne!(sts, dep);
    let old_secret = format!("{sts}-auth");
    let new_secret = format!("{dep}-auth");
    assert!(l.sim.get("v1", "Secret", Some(&ns), &old_secret).is_some());
    // The StatefulSet's claims, made from its template (no manifest names
    // them), carry the instance label of its name.
    let sts_claims = |s: &simcluster::SimCluster| {
        s.list_selected(
            "v1",
            "PersistentVolumeClaim",
            Some(&ns),
            &format!("computehub.io/instance={sts}"),
            "",
        )
        .unwrap()
        .len()
    };
    assert!(
        l.sim
            .wait_until(std::time::Duration::from_secs(10), |s| sts_claims(s) > 0),
        "the StatefulSet made its claim"
    );
    let mut upd: Vec<(&str, &str)> = cfg
        .iter()
        .copied()
        .filter(|(k, _)| !matches!(*k, "source_podengine" | "source_authpasswd"))
        .collect();
    upd.extend([
        ("cpcid", l.cpcid.as_str()),
        ("id", id.as_str()),
        ("source_podengine", "Deployment"),
    ]);
    let unchanged = |l: &crate::kboss_live::Live| {
        assert!(l
            .sim
            .get("apps/v1", "StatefulSet", Some(&ns), &sts)
            .is_some());
        assert!(l.sim.get("v1", "Secret", Some(&ns), &old_secret).is_some());
        assert!(l
            .sim
            .get("apps/v1", "Deployment", Some(&ns), &dep)
            .is_none());
    };

    // Without the password (sealed: the plugin cannot copy it into the new
    // workload's secret) the change is refused, naming the field.
    let (status, body) = l.kb.post("cpcpodyaml/update_cpcpodyaml", &upd).await;
    refused_as(status, &body, INVALID, "source_authpasswd");
    unchanged(&l);

    // The cluster refuses the new workload (a quota of no Deployments): the
    // old one and its secret are still there.
    l.sim
        .create(serde_json::json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "no-deployments", "namespace": ns},
            "spec": {"hard": {"count/deployments.apps": "0"}},
        }))
        .unwrap();
    upd.push(("source_authpasswd", "n3w-pass"));
    let (status, body) = l.kb.post("cpcpodyaml/update_cpcpodyaml", &upd).await;
    // kboss answers a cluster's refusal as its document does: HTTP 200,
    // `status: false`, the cluster's reason in `detail`.
    assert_eq!(
        (status, &body["status"]),
        (200, &Value::Bool(false)),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("exceeded quota"),
        "{body}"
    );
    unchanged(&l);
    assert!(
        l.sim.get("v1", "Secret", Some(&ns), &new_secret).is_none(),
        "the refused apply's new secret was undone"
    );
    let row = &l.kb.get("cpcpodyaml/get_cpcpodyaml", &l.at()).await.1["data"]["rows"][0];
    assert_eq!(row["source_podengine"], "StatefulSet", "{row}");

    // Allowed: the Deployment and its secret (with the new password) exist,
    // the StatefulSet and its secret are gone, the service stays.
    l.sim
        .delete("v1", "ResourceQuota", Some(&ns), "no-deployments")
        .unwrap();
    let (status, body) = l.kb.post("cpcpodyaml/update_cpcpodyaml", &upd).await;
    assert_eq!(status, 200, "{body}");
    assert!(l
        .sim
        .get("apps/v1", "Deployment", Some(&ns), &dep)
        .is_some());
    let secret = l.sim.get("v1", "Secret", Some(&ns), &new_secret).unwrap();
    let stored = secret["data"]["AUTH_PASSWORD"].as_str().unwrap_or_default();
    assert_eq!(stored, "bjN3LXBhc3M=", "{secret}");
    assert!(l.sim.wait_until(std::time::Duration::from_secs(10), |s| {
        s.get("apps/v1", "StatefulSet", Some(&ns), &sts).is_none()
    }));
    assert!(l.sim.get("v1", "Secret", Some(&ns), &old_secret).is_none());
    assert_eq!(
        sts_claims(&l.sim),
        0,
        "the old workload's claims went with it"
    );
    let row = &l.kb.get("cpcpodyaml/get_cpcpodyaml", &l.at()).await.1["data"]["rows"][0];
    assert_eq!(row["source_podengine"], "Deployment", "{row}");
    assert!(l.sim.get("v1", "Service", Some(&ns), &svc).is_some());
}
