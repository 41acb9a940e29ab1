//! A validated IEF deployment rendered as a Kubernetes `apps/v1`
//! Deployment in the project's namespace, pinned by node selector to the
//! edge node ([`NODE_LABEL`]) or node group ([`GROUP_LABEL`]) it names.
//!
//! The mapping: containers keep their names, `image_url[:version]`, args,
//! command, envs (`value`, `secretKeyRef`/`configMapKeyRef`,
//! `fieldRef`), ports (`hostPort`/`hostIP`; a `host_port_range` takes the
//! port [`crate::validate::pod::host_ports`] gave it), probes (`exec` runs
//! `/bin/sh -c <command>`), privileged and `run_as_user`; cpu in cores,
//! memory in Mi, NPUs as the extended resource `huawei.com/ascend-310` (or
//! `-310b`), each amount exactly as requested (nothing is added or changed:
//! what the deployment shows is what the cluster runs); volumes and mounts
//! by type. What Kubernetes has no field for (GPU memory, the NPU type,
//! migration, the requested restart policy, the description, the image as
//! `image_url` and `version`) travels in the pod annotation [`EXTRAS`] so
//! the pod list reports it back. A Deployment's pods always restart (Kubernetes
//! allows only `Always` there); a group deployment with `migration`
//! tolerates an unreachable node for `toleration_seconds` before its pod is
//! evicted and rescheduled in the group, otherwise forever.

use serde_json::{json, Map, Value};

use crate::validate::container::resource_name;
use crate::validate::pod::{self, HostPorts};
use crate::validate::volume::file_mode;
use crate::validate::{Obj, Plan, Target};

pub const DEPLOYMENT_LABEL: &str = "ief.computehub.io/deployment-id";
pub const NODE_LABEL: &str = "ief.computehub.io/node-id";
pub const GROUP_LABEL: &str = "ief.computehub.io/group-id";
pub const EXTRAS: &str = "ief.computehub.io/extras";
pub const NPU_310: &str = "huawei.com/ascend-310";
pub const NPU_310B: &str = "huawei.com/ascend-310b";

fn s<'a>(o: &'a Obj, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

fn objs<'a>(o: &'a Obj, k: &str) -> impl Iterator<Item = &'a Obj> {
    o.get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The image reference: `image_url`, with `:version` when a version is given.
pub fn image(c: &Obj) -> String {
    let url = s(c, "image_url").unwrap_or("");
    match s(c, "version").filter(|v| !v.is_empty()) {
        Some(v) => format!("{url}:{v}"),
        None => url.to_string(),
    }
}

fn env(e: &Obj) -> Value {
    let name = s(e, "name").unwrap_or("");
    if let Some(f) = s(e, "field_path") {
        return json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": f}}});
    }
    if let Some(vf) = e.get("value_from").and_then(Value::as_object) {
        let (kind, r) = match vf.get("secret").and_then(Value::as_object) {
            Some(r) => ("secretKeyRef", r),
            None => match vf.get("configmap").and_then(Value::as_object) {
                Some(r) => ("configMapKeyRef", r),
                None => return json!({"name": name}),
            },
        };
        return json!({"name": name, "valueFrom": {kind: {"name": s(r, "name"), "key": s(r, "key")}}});
    }
    json!({"name": name, "value": s(e, "value").unwrap_or("")})
}

fn probe(p: &Obj) -> Value {
    let mut out = Map::new();
    if let Some(e) = p.get("exec").and_then(Value::as_object) {
        out.insert(
            "exec".into(),
            json!({"command": ["/bin/sh", "-c", s(e, "command").unwrap_or("")]}),
        );
    } else if let Some(h) = p.get("http_get").and_then(Value::as_object) {
        let mut g = json!({
            "path": s(h, "path").unwrap_or("/"),
            "port": h.get("port").cloned().unwrap_or(json!(80)),
            "scheme": s(h, "scheme").unwrap_or("HTTP").to_ascii_uppercase(),
        });
        if let Some(host) = s(h, "host") {
            g["host"] = json!(host);
        }
        out.insert("httpGet".into(), g);
    }
    out.insert(
        "initialDelaySeconds".into(),
        p.get("initial_delay_seconds").cloned().unwrap_or(json!(10)),
    );
    out.insert(
        "timeoutSeconds".into(),
        p.get("timeout_seconds").cloned().unwrap_or(json!(1)),
    );
    Value::Object(out)
}

/// Kubernetes resource name and quantity of an IEF resource entry (`gpu`,
/// GPU memory, has none).
fn quantity(key: &str, value: &str, npu_type: &str) -> Option<(String, String)> {
    match resource_name(key, npu_type) {
        "gpu" => None,
        "memory" => Some(("memory".into(), format!("{value}Mi"))),
        name => Some((name.into(), value.to_string())),
    }
}

fn resources(c: &Obj) -> Value {
    let npu_type = s(c, "npu_type").unwrap_or("");
    let mut out = Map::new();
    let Some(r) = c.get("resources").and_then(Value::as_object) else {
        return json!({});
    };
    for kind in ["limits", "requests"] {
        let Some(m) = r.get(kind).and_then(Value::as_object) else {
            continue;
        };
        let mut q = Map::new();
        for (k, v) in m {
            if let Some((name, amount)) = v.as_str().and_then(|v| quantity(k, v, npu_type)) {
                q.insert(name, json!(amount));
            }
        }
        out.insert(kind.into(), Value::Object(q));
    }
    Value::Object(out)
}

/// Container `at` (`containers` or `init_containers`, index) of the template.
fn container(c: &Obj, at: (&'static str, usize), host_ports: &HostPorts) -> Value {
    let mut k = Map::new();
    k.insert("name".into(), json!(s(c, "name")));
    k.insert("image".into(), json!(image(c)));
    for (from, to) in [("args", "args"), ("command", "command")] {
        if let Some(v) = c.get(from).filter(|v| !v.is_null()) {
            k.insert(to.into(), v.clone());
        }
    }
    let envs: Vec<Value> = objs(c, "envs").map(env).collect();
    if !envs.is_empty() {
        k.insert("env".into(), json!(envs));
    }
    let ports: Vec<Value> = objs(c, "ports")
        .enumerate()
        .map(|(i, p)| {
            let cp = p.get("container_port").cloned().unwrap_or(json!(0));
            let mut port = json!({"containerPort": cp, "protocol": "TCP"});
            if let Some(h) = host_ports.get(&(at.0, at.1, i)) {
                port["hostPort"] = json!(h);
            }
            if let Some(ip) = s(p, "host_ip").filter(|ip| !ip.is_empty()) {
                port["hostIP"] = json!(ip);
            }
            port
        })
        .collect();
    if !ports.is_empty() {
        k.insert("ports".into(), json!(ports));
    }
    k.insert("resources".into(), resources(c));
    let mut sc = Map::new();
    sc.insert(
        "privileged".into(),
        json!(c
            .get("privileged")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    if let Some(u) = c.get("run_as_user").filter(|v| !v.is_null()) {
        sc.insert("runAsUser".into(), u.clone());
    }
    k.insert("securityContext".into(), Value::Object(sc));
    for (from, to) in [
        ("liveness_probe", "livenessProbe"),
        ("readiness_probe", "readinessProbe"),
    ] {
        if let Some(p) = c.get(from).and_then(Value::as_object) {
            k.insert(to.into(), probe(p));
        }
    }
    let mounts: Vec<Value> = objs(c, "volumes")
        .map(|v| {
            json!({
                "name": s(v, "name"),
                "mountPath": s(v, "destination"),
                // The document: read-only unless said otherwise.
                "readOnly": v.get("read_only").and_then(Value::as_bool).unwrap_or(true),
            })
        })
        .collect();
    if !mounts.is_empty() {
        k.insert("volumeMounts".into(), json!(mounts));
    }
    Value::Object(k)
}

fn volume(v: &Obj) -> Value {
    let name = s(v, "name").unwrap_or("");
    let src = s(v, "source").unwrap_or("");
    let mode = v
        .get("default_mode")
        .and_then(Value::as_i64)
        .and_then(file_mode);
    match s(v, "type").unwrap_or("") {
        "hostPath" => json!({"name": name, "hostPath": {"path": src}}),
        "emptyDir" if src == "memory" => json!({"name": name, "emptyDir": {"medium": "Memory"}}),
        "emptyDir" => json!({"name": name, "emptyDir": {}}),
        "configMap" => {
            let mut c = json!({"name": src});
            if let Some(m) = mode {
                c["defaultMode"] = json!(m);
            }
            json!({"name": name, "configMap": c})
        }
        _ => {
            let mut sec = json!({"secretName": src});
            if let Some(m) = mode {
                sec["defaultMode"] = json!(m);
            }
            json!({"name": name, "secret": sec})
        }
    }
}

/// The configs as the 201 answer shows them: the documented defaults filled in.
pub fn configs(template: &Obj) -> Value {
    let c = template
        .get("configs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "host_network".into(),
        json!(c
            .get("host_network")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    out.insert(
        "host_pid".into(),
        json!(c.get("host_pid").and_then(Value::as_bool).unwrap_or(false)),
    );
    out.insert(
        "restart_policy".into(),
        json!(s(&c, "restart_policy").unwrap_or("Always")),
    );
    out.insert(
        "migration".into(),
        json!(c.get("migration").and_then(Value::as_bool).unwrap_or(false)),
    );
    for k in ["toleration_seconds", "dns_policy"] {
        if let Some(v) = c.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// What the pod list reports back that Kubernetes has no field for, or
/// holds in another form (the image as one reference).
fn extras(plan: &Plan) -> Value {
    let mut containers = Map::new();
    for field in ["init_containers", "containers"] {
        for c in objs(&plan.template, field) {
            let mut gpu = Map::new();
            if let Some(r) = c.get("resources").and_then(Value::as_object) {
                for kind in ["limits", "requests"] {
                    if let Some(g) = r.get(kind).and_then(|m| m.get("gpu")) {
                        gpu.insert(kind.into(), g.clone());
                    }
                }
            }
            containers.insert(
                s(c, "name").unwrap_or("").to_string(),
                json!({
                    "npu_type": s(c, "npu_type").unwrap_or(""),
                    "gpu": gpu,
                    "image_url": s(c, "image_url").unwrap_or(""),
                    "version": s(c, "version").unwrap_or(""),
                }),
            );
        }
    }
    json!({
        "configs": configs(&plan.template),
        "containers": containers,
        "description": plan.description,
    })
}

fn tolerations(plan: &Plan) -> Value {
    let c = plan.template.get("configs").and_then(Value::as_object);
    let migration = c
        .and_then(|c| c.get("migration"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let seconds = c
        .and_then(|c| c.get("toleration_seconds"))
        .and_then(Value::as_i64)
        .unwrap_or(300);
    let group = matches!(plan.target, Target::Group(_));
    [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    .iter()
    .map(|key| {
        let mut t = json!({"key": key, "operator": "Exists", "effect": "NoExecute"});
        if group && migration {
            t["tolerationSeconds"] = json!(seconds);
        }
        t
    })
    .collect()
}

/// The Deployment realising `plan` as deployment `id` in `namespace`.
pub fn deployment(plan: &Plan, id: &str, namespace: &str) -> Value {
    let cfg = plan.template.get("configs").and_then(Value::as_object);
    let flag = |k: &str| {
        cfg.and_then(|c| c.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let host_network = flag("host_network");
    // Validated already: the host ports are there to be read.
    let host_ports =
        pod::host_ports(&plan.template, "deployment.template", host_network).unwrap_or_default();
    let node_selector = match &plan.target {
        Target::Node(n) => json!({NODE_LABEL: n}),
        Target::Group(g) => json!({GROUP_LABEL: g}),
    };
    let mut volumes = Map::new();
    for field in ["init_containers", "containers"] {
        for c in objs(&plan.template, field) {
            for v in objs(c, "volumes") {
                let name = s(v, "name").unwrap_or("").to_string();
                volumes.entry(name).or_insert_with(|| volume(v));
            }
        }
    }
    let mut spec = json!({
        "nodeSelector": node_selector,
        "hostNetwork": host_network,
        "hostPID": flag("host_pid"),
        "dnsPolicy": cfg.and_then(|c| s(c, "dns_policy")).unwrap_or("Default"),
        "restartPolicy": "Always",
        "tolerations": tolerations(plan),
        "containers": objs(&plan.template, "containers").enumerate().map(|(i, c)| container(c, ("containers", i), &host_ports)).collect::<Vec<_>>(),
    });
    let init: Vec<Value> = objs(&plan.template, "init_containers")
        .enumerate()
        .map(|(i, c)| container(c, ("init_containers", i), &host_ports))
        .collect();
    if !init.is_empty() {
        spec["initContainers"] = json!(init);
    }
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes.into_values().collect::<Vec<_>>());
    }
    if let Some(a) = plan.template.get("affinity").filter(|a| a.is_object()) {
        spec["affinity"] = a.clone();
    }
    let mut annotations = Map::new();
    if let Some(a) = &plan.annotations {
        for (k, v) in a {
            if let Some(v) = v.as_str() {
                annotations.insert(format!("ief.computehub.io/{k}"), json!(v));
            }
        }
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": plan.name,
            "namespace": namespace,
            "labels": {DEPLOYMENT_LABEL: id},
            "annotations": annotations,
        },
        "spec": {
            "replicas": plan.replicas,
            "selector": {"matchLabels": {DEPLOYMENT_LABEL: id}},
            "template": {
                "metadata": {
                    "labels": {DEPLOYMENT_LABEL: id},
                    "annotations": {EXTRAS: extras(plan).to_string()},
                },
                "spec": spec,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    #[test]
    fn the_documented_example_renders() {
        let body = json!({
            "name": "app", "node_ids": ["n1"],
            "deployment": {"replicas": 1, "template": {
                "configs": {"host_network": true, "host_pid": true, "restart_policy": "Always", "toleration_seconds": 300},
                "containers": [{"name": "container-0", "image_url": "nginx:alpine",
                    "resources": {"limits": {"cpu": "0.25", "memory": "500"}, "requests": {"cpu": "0.25", "memory": "500"}},
                    "envs": [{"name": "HOST", "field_path": "status.hostIP"}],
                    "volumes": [{"name": "log", "type": "hostPath", "source": "/var/IEF", "destination": "/var/IEF", "read_only": false}]}]}}
        });
        let plan = validate::deployment(&body, None).unwrap();
        let d = deployment(&plan, "id-1", "ief-p");
        assert_eq!(d["metadata"]["name"], "app");
        assert_eq!(
            d["spec"]["selector"]["matchLabels"][DEPLOYMENT_LABEL],
            "id-1"
        );
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["nodeSelector"][NODE_LABEL], "n1");
        assert_eq!(spec["hostNetwork"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["image"], "nginx:alpine");
        assert_eq!(c["resources"]["limits"]["memory"], "500Mi");
        assert_eq!(
            c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
            "status.hostIP"
        );
        assert_eq!(c["volumeMounts"][0]["readOnly"], false);
        assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/var/IEF");
    }
}
