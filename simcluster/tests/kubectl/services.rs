//! Services' Endpoints and EndpointSlices, kept by their controllers, and
//! the tables kubectl prints for endpoints, slices and events.

use super::*;

fn endpoints(k: &Kube, name: &str) -> Option<Value> {
    k.cluster.get("v1", "Endpoints", Some("default"), name)
}

fn addresses(ep: &Value) -> Vec<String> {
    let mut ips: Vec<String> = ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
        .map(|a| a["ip"].as_str().unwrap_or("").to_string())
        .collect();
    ips.sort();
    ips
}

/// `kubectl expose` with a named target port: the Endpoints list the
/// Deployment's pods by IP with the container port that name resolves to,
/// follow a scale down to none, come back after a user overwrites them, and
/// go with the Service. A Service without a selector keeps what its user wrote.
#[test]
fn a_service_lists_its_pods_as_endpoints() {
    let k = Kube::standard();
    let mut d = deployment("default", "web", 2);
    d["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"name": "http", "containerPort": 8080}]);
    k.cluster.create(d).unwrap();
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=http",
    ]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web")
            .is_some_and(|e| addresses(&e).len() == 2)));
    let ep = endpoints(&k, "web").unwrap();
    let pods = k.cluster.list("v1", "Pod", Some("default"));
    let mut ips: Vec<String> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    ips.sort();
    assert_eq!(addresses(&ep), ips);
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    let address = &ep["subsets"][0]["addresses"][0];
    assert_eq!(address["targetRef"]["kind"], "Pod");
    assert!(pods
        .iter()
        .any(|p| p["metadata"]["name"] == address["targetRef"]["name"]
            && p["spec"]["nodeName"] == address["nodeName"]));
    assert_eq!(
        ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
        "true"
    );
    // The Service's labels are copied.
    k.ok(&["label", "service", "web", "tier=front"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web")
            .is_some_and(|e| e["metadata"]["labels"]["tier"] == "front")));
    let out = rows(&k.ok(&["get", "endpoints", "web"]));
    assert_eq!(out[0], ["NAME", "ENDPOINTS", "AGE"]);
    let cell = &row(&out, "web")[1];
    for ip in &ips {
        assert!(cell.contains(&format!("{ip}:8080")), "{cell}");
    }

    // A user's change to the controller's object is put back.
    k.ok(&[
        "patch",
        "endpoints",
        "web",
        "--type=merge",
        "-p",
        r#"{"subsets":null}"#,
    ]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web")
            .is_some_and(|e| addresses(&e).len() == 2)));

    k.ok(&["scale", "deployment/web", "--replicas=0"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web")
            .is_some_and(|e| e.get("subsets").is_none())));
    assert_eq!(row(&rows(&k.ok(&["get", "ep", "web"])), "web")[1], "<none>");

    // Without a selector, the Endpoints are the user's.
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "external", "namespace": "default"},
            "spec": {"ports": [{"port": 5432}]}}))
        .unwrap();
    let own = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "external", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "127.0.0.9"}], "ports": [{"port": 5432, "protocol": "TCP"}]}]});
    k.cluster.create(own.clone()).unwrap();
    k.ok(&["scale", "deployment/web", "--replicas=1"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web")
            .is_some_and(|e| addresses(&e).len() == 1)));
    let kept = endpoints(&k, "external").unwrap();
    assert_eq!(kept["subsets"], own["subsets"]);
    assert!(kept["metadata"].get("labels").is_none(), "{kept}");

    k.ok(&["delete", "service", "web"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| endpoints(&k, "web").is_none()));
    assert!(endpoints(&k, "external").is_some());
}

fn slices(k: &Kube, service: &str) -> Vec<Value> {
    k.cluster
        .list_selected(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            Some("default"),
            &format!("kubernetes.io/service-name={service}"),
            "",
        )
        .unwrap()
}

/// The Service's pods are in its EndpointSlices too, which is what
/// `kubectl describe service` reads (kubectl 1.31 and later): its
/// `Endpoints:` line lists them; `kubectl get endpointslices` prints
/// kube-apiserver's columns; the slice keeps its name as the pods change
/// and goes with its Service.
#[test]
fn describe_service_lists_the_endpoints_of_its_slices() {
    let k = Kube::standard();
    k.cluster.create(deployment("default", "web", 2)).unwrap();
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
    ]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |_| {
        slices(&k, "web")
            .first()
            .is_some_and(|s| s["endpoints"].as_array().is_some_and(|e| e.len() == 2))
    }));
    let mut ips: Vec<String> = k
        .cluster
        .list("v1", "Pod", Some("default"))
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    ips.sort();
    let described = k.ok(&["describe", "service", "web"]);
    let line = described
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_else(|| panic!("{described}"));
    for ip in &ips {
        assert!(line.contains(&format!("{ip}:8080")), "{line}");
    }

    let slice = slices(&k, "web").remove(0);
    let name = slice["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("web-"), "{name}");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    let endpoint = &slice["endpoints"][0];
    assert_eq!(
        endpoint["conditions"],
        json!({"ready": true, "serving": true, "terminating": false})
    );
    assert_eq!(endpoint["targetRef"]["kind"], "Pod");
    let table = rows(&k.ok(&["get", "endpointslices"]));
    assert_eq!(
        table[0],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    );
    let r = row(&table, &name);
    assert_eq!((r[1].as_str(), r[2].as_str()), ("IPv4", "8080"));
    assert_eq!(r[3], ips.join(","));

    k.ok(&["scale", "deployment/web", "--replicas=0"]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |_| {
        slices(&k, "web")
            .first()
            .is_some_and(|s| s["endpoints"].is_null())
    }));
    let left = slices(&k, "web");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["metadata"]["name"], name.as_str());
    assert_eq!(
        row(&rows(&k.ok(&["get", "endpointslices"])), &name)[3],
        "<unset>"
    );

    k.ok(&["delete", "service", "web"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| slices(&k, "web").is_empty()));
}

/// `kubectl get events` prints kube-apiserver's event columns: what
/// happened to which object and why, and with `-o wide` the source, the
/// count and the event's name.
#[test]
fn get_events_prints_what_happened_to_which_object() {
    let k = Kube::standard();
    let (_, pod) = web_rolled_out(&k, 1);
    let out = k.ok(&["get", "events"]);
    let header = out.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let scheduled = out
        .lines()
        .find(|l| l.contains(&format!("pod/{pod}")) && l.contains("Scheduled"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(scheduled.contains("Normal"), "{scheduled}");
    assert!(
        scheduled.contains(&format!("Successfully assigned default/{pod} to ")),
        "{scheduled}"
    );
    let wide = k.ok(&["get", "events", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    for column in ["SUBOBJECT", "SOURCE", "FIRST", "COUNT", "NAME"] {
        assert!(header.contains(&column), "{header:?}");
    }
    let started = wide
        .lines()
        .find(|l| l.contains(&format!("pod/{pod}")) && l.contains("Started"))
        .unwrap_or_else(|| panic!("{wide}"));
    assert!(started.contains("kubelet, "), "{started}");
    assert!(started.contains(&format!("{pod}.")), "{started}");
}

/// kube-apiserver's own Service has its Endpoints and EndpointSlice from
/// the start: the control plane's address on port 6443, which the
/// controllers leave alone.
#[test]
fn the_apiservers_service_has_its_endpoints() {
    let k = Kube::standard();
    let master = k
        .cluster
        .list("v1", "Node", None)
        .into_iter()
        .find(|n| n["metadata"]["labels"]["node-role.kubernetes.io/control-plane"].is_string())
        .unwrap();
    let ip = master["status"]["addresses"][0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    let out = rows(&k.ok(&["get", "endpoints"]));
    assert_eq!(row(&out, "kubernetes")[1], format!("{ip}:6443"));
    let slices = rows(&k.ok(&["get", "endpointslices"]));
    let slice = row(&slices, "kubernetes");
    assert_eq!(slice[1..4], ["IPv4", "6443", ip.as_str()], "{slices:?}");
    let described = k.ok(&["describe", "service", "kubernetes"]);
    assert!(
        described.contains(&format!("Endpoints:         {ip}:6443")),
        "{described}"
    );
    // A controller pass later it is still there, as it was.
    k.ok(&["create", "service", "clusterip", "other", "--tcp=80:8080"]);
    let ep = endpoints(&k, "kubernetes").unwrap();
    assert_eq!(addresses(&ep), [ip]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 6443);
}
