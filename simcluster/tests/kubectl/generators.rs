//! kubectl's typed generators (`kubectl create <kind> ...`) send their object
//! as protobuf: each creates what it says, and a kind whose protobuf the
//! simulation cannot read is refused with nothing created.

use super::*;

fn get(k: &Kube, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Value {
    k.cluster
        .get(api_version, kind, ns, name)
        .unwrap_or_else(|| panic!("{kind} {name} was not created"))
}

#[test]
fn namespaces_deployments_and_their_pods() {
    let k = Kube::standard();
    assert_eq!(
        k.ok(&["create", "namespace", "team-a"]).trim(),
        "namespace/team-a created"
    );
    assert_eq!(
        get(&k, "v1", "Namespace", None, "team-a")["status"]["phase"],
        "Active"
    );
    let out = k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=3",
        "--port=80",
        "-n",
        "team-a",
    ]);
    assert_eq!(out.trim(), "deployment.apps/web created");
    let d = get(&k, "apps/v1", "Deployment", Some("team-a"), "web");
    assert_eq!(d["spec"]["replicas"], 3, "{d}");
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["name"], "nginx", "{d}");
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["ports"][0]["containerPort"], 80);
    // Defaults the API server fills, as for a JSON body.
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate", "{d}");
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    k.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "team-a",
        "--timeout=20s",
    ]);
    let pods = k.cluster.list("v1", "Pod", Some("team-a"));
    assert_eq!(pods.len(), 3);

    // Zero replicas is a pointer set to 0, not an unset field (1).
    k.ok(&[
        "create",
        "deployment",
        "idle",
        "--image=nginx",
        "--replicas=0",
    ]);
    let d = get(&k, "apps/v1", "Deployment", Some("default"), "idle");
    assert_eq!(d["spec"]["replicas"], 0, "{d}");
}

#[test]
fn configmaps_secrets_services_and_accounts() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=greeting=hello",
    ]);
    let cm = get(&k, "v1", "ConfigMap", Some("default"), "cfg");
    assert_eq!(cm["data"], json!({"greeting": "hello"}), "{cm}");
    k.ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=hunter2",
    ]);
    let s = get(&k, "v1", "Secret", Some("default"), "db");
    assert_eq!(s["data"]["password"], "aHVudGVyMg==", "{s}");
    assert_eq!(s["type"], "Opaque");
    let out = k.ok(&["get", "secret", "db", "-o", "jsonpath={.data.password}"]);
    assert_eq!(out, "aHVudGVyMg==");
    k.ok(&["create", "serviceaccount", "robot"]);
    get(&k, "v1", "ServiceAccount", Some("default"), "robot");
    k.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let svc = get(&k, "v1", "Service", Some("default"), "web");
    let port = &svc["spec"]["ports"][0];
    assert_eq!(
        (port["port"].as_i64(), port["targetPort"].as_i64()),
        (Some(80), Some(8080)),
        "{svc}"
    );
    assert_eq!(svc["spec"]["selector"]["app"], "web");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    k.ok(&["create", "service", "nodeport", "edge", "--tcp=443:https"]);
    let svc = get(&k, "v1", "Service", Some("default"), "edge");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "https", "{svc}");
    assert_eq!(svc["spec"]["type"], "NodePort");
}

#[test]
fn jobs_cronjobs_and_budgets() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "--",
        "echo",
        "hi",
    ]);
    let j = get(&k, "batch/v1", "Job", Some("default"), "once");
    let pod = &j["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["command"],
        json!(["echo", "hi"]),
        "{j}"
    );
    assert_eq!(pod["restartPolicy"], "Never");
    k.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 2 * * *",
    ]);
    let cj = get(&k, "batch/v1", "CronJob", Some("default"), "nightly");
    assert_eq!(cj["spec"]["schedule"], "0 2 * * *", "{cj}");
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    k.ok(&[
        "create",
        "poddisruptionbudget",
        "pdb",
        "--selector=app=web",
        "--min-available=50%",
    ]);
    let pdb = get(
        &k,
        "policy/v1",
        "PodDisruptionBudget",
        Some("default"),
        "pdb",
    );
    assert_eq!(pdb["spec"]["minAvailable"], "50%", "{pdb}");
    assert_eq!(pdb["spec"]["selector"]["matchLabels"]["app"], "web");
}

#[test]
fn what_the_api_server_refuses_in_protobuf_too() {
    let k = Kube::standard();
    // Validation runs on the object a protobuf body carries as on JSON.
    let err = fails(&k, &["create", "deployment", "Bad_Name", "--image=nginx"]);
    assert!(err.contains("Invalid value: \"Bad_Name\""), "{err}");
    assert!(k.cluster.list("apps/v1", "Deployment", None).is_empty());
    // A name taken.
    k.ok(&["create", "configmap", "cfg", "--from-literal=a=1"]);
    let err = fails(&k, &["create", "configmap", "cfg", "--from-literal=a=2"]);
    assert!(err.contains("configmaps \"cfg\" already exists"), "{err}");
    let cm = get(&k, "v1", "ConfigMap", Some("default"), "cfg");
    assert_eq!(cm["data"]["a"], "1");
}
