//! Deployments run where they are placed: on a node, in a group, with the
//! resources and host ports they show.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_runs_on_its_node_until_deleted() {
    let e = env();
    let (status, d) = e.call("POST", "deployments", Some(&example())).await;
    assert_eq!(status, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(d["name"], "app");
    assert_eq!(d["replicas"], 1);
    assert_eq!(d["ready_replicas"], 0);
    assert_eq!(d["description"], "this is a test app");
    assert_eq!(d["group_id"], "");
    assert_eq!(d["node_ids"], json!([N1]));
    assert_eq!(d["source"], "");
    assert_eq!(d["state"], "");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["api_version"], "v3");
    assert_eq!(d["source_id"], "");
    assert_eq!(d["tags"], json!([{"key": "app", "value": "test"}]));
    assert!(
        go_time(d["created_at"].as_str().unwrap()),
        "{}",
        d["created_at"]
    );
    assert_eq!(d["updated_at"], d["created_at"]);
    assert_eq!(
        d["template"]["configs"],
        json!({"host_network": true, "host_pid": true, "restart_policy": "Always", "migration": false, "toleration_seconds": 300})
    );
    assert_eq!(d["template"]["init_containers"], json!([]));
    let c = &d["template"]["containers"][0];
    assert_eq!(c["name"], "container-0");
    assert_eq!(c["image_url"], "nginx:alpine");
    assert_eq!(c["npu_type"], "");
    assert_eq!(c["privileged"], false);
    assert_eq!(c["version"], "");
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "0.25", "memory": "500"}, "requests": {"cpu": "0.25", "memory": "500"}})
    );

    // The cluster has the Deployment, pinned to edge node N1.
    let deps = e.deployments();
    assert_eq!(deps.len(), 1);
    let k = &deps[0];
    assert_eq!(k["metadata"]["name"], "app");
    assert_eq!(k["metadata"]["labels"][DEPLOYMENT_LABEL], id.as_str());
    let spec = &k["spec"]["template"]["spec"];
    assert_eq!(spec["nodeSelector"][NODE_LABEL], N1);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["containers"][0]["image"], "nginx:alpine");
    e.wait_running(1);
    assert_eq!(e.running_on(), ["edge-1"]);

    // The pod list, by deployment and by node.
    let (status, body) = e
        .call("GET", &format!("pods?deployment_id={id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1);
    let pod = &body["pods"][0];
    let live = &e.pods()[0];
    assert_eq!(pod["id"], live["metadata"]["uid"]);
    assert_eq!(pod["name"], live["metadata"]["name"]);
    assert!(pod["name"].as_str().unwrap().starts_with("app-"));
    assert_eq!(pod["node_id"], N1);
    assert_eq!(pod["deployment_id"], id.as_str());
    assert_eq!(pod["project_id"], PROJECT);
    assert_eq!(pod["state"], "RUNNING");
    assert!(pod["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pod["configs"]["host_network"], true);
    assert_eq!(pod["configs"]["restart_policy"], "Always");
    // The PodResponse example carries the deployment's description.
    assert_eq!(pod["description"], "this is a test app");
    let pc = &pod["containers"][0];
    assert_eq!(pc["name"], "container-0");
    // `image_url` and `version` read as in the create answer (the document's
    // example puts the tag in `image_url` and leaves `version` empty).
    assert_eq!(pc["image_url"], d["template"]["containers"][0]["image_url"]);
    assert_eq!(pc["image_url"], "nginx:alpine");
    assert_eq!(pc["version"], "");
    assert_eq!(
        pc["resources"]["limits"],
        json!({"cpu": 0.25, "memory": 500})
    );
    assert_eq!(
        pc["resources"]["requests"],
        json!({"cpu": 0.25, "memory": 500})
    );
    assert_eq!(pc["restarts"], 0);
    assert_eq!(pc["is_ready"], "true");
    assert_eq!(pc["state"], "running");
    assert_eq!(pc["privileged"], false);
    assert!(!pc["container_id"].as_str().unwrap().is_empty());
    let (_, by_node) = e.call("GET", &format!("pods?node_id={N1}"), None).await;
    assert_eq!(by_node["count"], 1);
    let (_, other_node) = e.call("GET", &format!("pods?node_id={N2}"), None).await;
    assert_eq!(other_node, json!({"count": 0, "pods": []}));

    // Show and list, with the live ready count.
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| {
        c.get("apps/v1", "Deployment", Some(NS), "app")
            .is_some_and(|d| d["status"]["readyReplicas"] == 1)
    }));
    let (status, shown) = e.call("GET", &format!("deployments/{id}"), None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["ready_replicas"], 1);
    assert_eq!(shown["template"], d["template"]);
    let (status, listed) = e.call("GET", "deployments", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["deployments"][0]["id"], id.as_str());

    // The same name again conflicts; nothing new in the cluster.
    let (status, body) = e.call("POST", "deployments", Some(&example())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error_code"], "IEF.100013");
    assert_eq!(e.deployments().len(), 1);

    // Delete: 204, the Deployment and its pods go.
    let r =
        e.s.http
            .delete(e.s.url(&e.path(&format!("deployments/{id}"))))
            .header("x-auth-token", &e.token)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(e.deployments().is_empty());
    assert!(
        e.sim
            .wait_until(Duration::from_secs(15), |_| e.pods().is_empty()),
        "{:?}",
        e.pods()
    );
    let (status, body) = e.call("GET", &format!("deployments/{id}"), None).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("IEF.100014"))
    );
    let (status, body) = e.call("DELETE", &format!("deployments/{id}"), None).await;
    assert_eq!(status, 404, "{body}");
    let (_, body) = e
        .call("GET", &format!("pods?deployment_id={id}"), None)
        .await;
    assert_eq!(body, json!({"count": 0, "pods": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_deployment_stays_in_its_group() {
    let e = env();
    let mut body = example();
    body["name"] = json!("grouped");
    body.as_object_mut().unwrap().remove("node_ids");
    body["group_id"] = json!(G1);
    body["deployment"]["replicas"] = json!(4);
    body["deployment"]["template"]["configs"] =
        json!({"migration": true, "toleration_seconds": 60});
    let (status, d) = e.call("POST", "deployments", Some(&body)).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["group_id"], G1);
    assert_eq!(d["node_ids"], json!([]));
    e.wait_running(4);
    for node in e.running_on() {
        assert!(node == "edge-1" || node == "edge-2", "{node}");
    }
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(k["nodeSelector"][GROUP_LABEL], G1);
    assert!(k["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["tolerationSeconds"] == 60));

    // A second deployment on the lone node.
    let mut lone = example();
    lone["name"] = json!("lone");
    lone["node_ids"] = json!([N3]);
    lone["deployment"]["template"]["configs"] = json!({});
    let (status, l) = e.call("POST", "deployments", Some(&lone)).await;
    assert_eq!(status, 201, "{l}");
    e.wait_running(5);

    let (_, by_group) = e.call("GET", &format!("pods?group_id={G1}"), None).await;
    assert_eq!(by_group["count"], 4);
    for p in by_group["pods"].as_array().unwrap() {
        assert!(p["node_id"] == N1 || p["node_id"] == N2, "{p}");
        assert_eq!(p["deployment_id"], d["id"]);
    }
    let ids = format!(
        "{},{}",
        d["id"].as_str().unwrap(),
        l["id"].as_str().unwrap()
    );
    let (_, both) = e
        .call("GET", &format!("pods?deployment_ids={ids}"), None)
        .await;
    assert_eq!(both["count"], 5);
    // Paging: count is the total, pods the page.
    let (_, page) = e
        .call(
            "GET",
            &format!("pods?deployment_ids={ids}&limit=2&offset=1"),
            None,
        )
        .await;
    assert_eq!(page["count"], 5);
    assert_eq!(page["pods"].as_array().unwrap().len(), 2);
    assert_eq!(page["pods"][0]["name"], both["pods"][1]["name"]);
    let (_, listed) = e
        .call("GET", &format!("deployments?group_id={G1}"), None)
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["deployments"][0]["name"], "grouped");
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_host_ports_run_as_the_deployment_shows_them() {
    let sim = SimCluster::start(
        ClusterSpec::new("edge").node(
            NodeSpec::new("edge-1")
                .label(NODE_LABEL, N1)
                .extended("huawei.com/ascend-310", 4)
                .extended("huawei.com/ascend-310b", 4),
        ),
    )
    .unwrap();
    let e = env_on(Server::start(), sim);
    let body = json!({
        "name": "npu",
        "node_ids": [N1],
        "deployment": {"replicas": 1, "template": {
            "configs": {},
            "containers": [
                {"name": "infer", "image_url": "ascend/infer", "version": "1.0", "npu_type": "D310B",
                 "resources": {"limits": {"cpu": "1", "memory": "1024", "npu": "2"},
                               "requests": {"cpu": "0.5", "memory": "512", "npu": "2"}},
                 "ports": [{"container_port": 8080, "host_port": 8000},
                           {"container_port": 9090, "host_port_range": {"min_port": 8000, "max_port": 8100}}]},
                {"name": "side", "image_url": "busybox", "resources": {"limits": {"D310": "1"}}}
            ]}}
    });
    let (status, d) = e
        .call_with(
            "POST",
            &e.path("deployments"),
            Some(&body),
            &[
                ("x-auth-token", &e.token),
                ("ief-instance-id", "ief-platinum-0001"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{d}");
    // The cluster runs exactly what was asked: no request added or changed.
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(
        k["containers"][0]["resources"],
        json!({"limits": {"cpu": "1", "memory": "1024Mi", "huawei.com/ascend-310b": "2"},
               "requests": {"cpu": "0.5", "memory": "512Mi", "huawei.com/ascend-310b": "2"}})
    );
    assert_eq!(
        k["containers"][1]["resources"],
        json!({"limits": {"huawei.com/ascend-310": "1"}})
    );
    // The range got the lowest port the pod's other port does not hold.
    let ports: Vec<&Value> = k["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["hostPort"])
        .collect();
    assert_eq!(ports, [&json!(8000), &json!(8001)]);
    let (_, shown) = e
        .call(
            "GET",
            &format!("deployments/{}", d["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        shown["template"]["containers"][0]["resources"],
        body["deployment"]["template"]["containers"][0]["resources"]
    );
    assert_eq!(
        shown["template"]["containers"][1]["resources"],
        json!({"limits": {"D310": "1"}})
    );
    e.wait_running(1);
    let (status, list) = e.call("GET", &format!("pods?node_id={N1}"), None).await;
    assert_eq!(status, 200, "{list}");
    let pod = &list["pods"][0];
    let infer = &pod["containers"][0];
    assert_eq!(
        (infer["image_url"].as_str(), infer["version"].as_str()),
        (Some("ascend/infer"), Some("1.0"))
    );
    assert_eq!(
        infer["resources"],
        json!({"limits": {"cpu": 1, "memory": 1024, "npu": 2}, "requests": {"cpu": 0.5, "memory": 512, "npu": 2}})
    );
    assert_eq!(
        infer["ports"],
        json!([{"container_port": 8080, "host_port": 8000}, {"container_port": 9090, "host_port": 8001}])
    );
    // A limit alone: the cluster defaults the request to it, as Kubernetes
    // does for every resource.
    assert_eq!(
        pod["containers"][1]["resources"],
        json!({"limits": {"npu": 1}, "requests": {"npu": 1}})
    );
}
