//! Every validation rule of the IEF create-deployment tables, one failing
//! request each: the status, the `IEF.xxxxxx` code of docs/ief-error-codes.md
//! and the field named in `error_msg`, and nothing created anywhere. Then a
//! request using every feature at once succeeds and is mapped field by field
//! into the cluster and back into the pod list.

use serde_json::{json, Value};

use crate::ief::{env, Env, G1, N1, N2, NS};

const C: &str = "/deployment/template/containers/0";
const CFG: &str = "/deployment/template/configs";
const AFF: &str = "/deployment/template/affinity";

struct Case {
    ops: Vec<(String, Option<Value>)>,
    platinum: bool,
    status: u16,
    code: &'static str,
    needle: String,
}

fn case(code: &'static str, needle: &str) -> Case {
    Case {
        ops: Vec::new(),
        platinum: false,
        status: 400,
        code,
        needle: needle.to_string(),
    }
}

impl Case {
    fn set(mut self, ptr: &str, v: Value) -> Self {
        self.ops.push((ptr.to_string(), Some(v)));
        self
    }
    fn del(mut self, ptr: &str) -> Self {
        self.ops.push((ptr.to_string(), None));
        self
    }
    fn platinum(mut self) -> Self {
        self.platinum = true;
        self
    }
}

/// Set (creating objects on the way) or remove the member at `ptr`.
fn apply(v: &mut Value, ptr: &str, new: Option<Value>) {
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    let (last, parents) = parts.split_last().unwrap();
    let mut cur = v;
    for p in parents {
        cur = match cur {
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            Value::Object(o) => o.entry(p.to_string()).or_insert_with(|| json!({})),
            _ => panic!("{ptr}"),
        };
    }
    match (cur, new) {
        (Value::Object(o), Some(n)) => {
            o.insert(last.to_string(), n);
        }
        (Value::Object(o), None) => {
            o.remove(*last);
        }
        (Value::Array(a), Some(n)) => {
            let i = last.parse::<usize>().unwrap();
            if i == a.len() {
                a.push(n);
            } else {
                a[i] = n;
            }
        }
        (Value::Array(a), None) => {
            a.remove(last.parse::<usize>().unwrap());
        }
        _ => panic!("{ptr}"),
    }
}

fn base() -> Value {
    json!({
        "name": "app",
        "node_ids": [N1],
        "deployment": {"replicas": 1, "template": {
            "configs": {},
            "containers": [{"name": "c0", "image_url": "nginx:alpine"}]
        }}
    })
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn node_affinity(expr: Value) -> Value {
    json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [expr]}]}}})
}

fn cases() -> Vec<Case> {
    let env0 = format!("{C}/envs");
    let port0 = format!("{C}/ports");
    let probe = format!("{C}/liveness_probe");
    let vols = format!("{C}/volumes");
    let res = format!("{C}/resources");
    let hp = |src: &str| json!([{"name": "v", "type": "hostPath", "source": src, "destination": "/data"}]);
    vec![
        // 表3: the body.
        case("IEF.100002", "JSON object").set("/__array", json!(true)),
        case("IEF.100003", "`name`").del("/name"),
        case("IEF.100005", "`name`").set("/name", json!("App")),
        case("IEF.100005", "`name`").set("/name", json!(long(33))),
        case("IEF.100005", "`name`").set("/name", json!("-app")),
        case("IEF.100005", "`description`").set("/description", json!(long(256))),
        case("IEF.100005", "`description`").set("/description", json!("a<b")),
        case("IEF.100007", "`source`").set("/source", json!("market")),
        case("IEF.100008", "`group_id`").set("/group_id", json!(G1)),
        case("IEF.100008", "`node_ids`").del("/node_ids"),
        case("IEF.100006", "`node_ids`").set("/node_ids", json!([N1, N2])),
        case("IEF.100012", "`node_ids[0]`").set("/node_ids", json!(["no-such-node"])),
        case("IEF.100005", "`node_ids[0]`").set("/node_ids", json!(["bad id!"])),
        case("IEF.100012", "`group_id`").del("/node_ids").set("/group_id", json!("no-such-group")).set(&format!("{CFG}/migration"), json!(false)),
        // 表4: tags.
        case("IEF.100003", "`tags[0].key`").set("/tags", json!([{"key": "", "value": "v"}])),
        case("IEF.100005", "`tags[0].key`").set("/tags", json!([{"key": "a b", "value": "v"}])),
        case("IEF.100005", "`tags[0].key`").set("/tags", json!([{"key": long(129), "value": "v"}])),
        case("IEF.100005", "`tags[0].value`").set("/tags", json!([{"key": "k", "value": long(257)}])),
        case("IEF.100005", "`tags[0].value`").set("/tags", json!([{"key": "k", "value": "a.b"}])),
        case("IEF.100003", "`tags[0].value`").set("/tags", json!([{"key": "k", "value": ""}])),
        // 表5-6: deployment and template.
        case("IEF.100003", "`deployment`").del("/deployment"),
        case("IEF.100003", "`deployment.replicas`").del("/deployment/replicas"),
        case("IEF.100006", "`deployment.replicas`").set("/deployment/replicas", json!(0)),
        case("IEF.100006", "`deployment.replicas`").set("/deployment/replicas", json!(100)),
        case("IEF.100004", "`deployment.replicas`").set("/deployment/replicas", json!("1")),
        case("IEF.100003", "`deployment.template`").del("/deployment/template"),
        case("IEF.100003", "`deployment.template.containers`").set("/deployment/template/containers", json!([])),
        case("IEF.100011", "`deployment.template.affinity`").set(AFF, node_affinity(json!({"key": "zone", "operator": "In", "values": ["a"]}))),
        // 表7: configs.
        case("IEF.100007", "configs.restart_policy").set(&format!("{CFG}/restart_policy"), json!("Sometimes")),
        case("IEF.100007", "configs.dns_policy").set(&format!("{CFG}/dns_policy"), json!("None")),
        case("IEF.100010", "configs.dns_policy").set(&format!("{CFG}/host_network"), json!(true)).set(&format!("{CFG}/dns_policy"), json!("ClusterFirst")),
        case("IEF.100010", "configs.dns_policy").set(&format!("{CFG}/dns_policy"), json!("ClusterFirstWithHostNet")),
        case("IEF.100006", "configs.toleration_seconds").set(&format!("{CFG}/toleration_seconds"), json!(-1)),
        case("IEF.100004", "configs.host_network").set(&format!("{CFG}/host_network"), json!("yes")),
        case("IEF.100004", "configs.host_pid").set(&format!("{CFG}/host_pid"), json!(1)),
        case("IEF.100003", "configs.migration").del("/node_ids").set("/group_id", json!(G1)),
        // 表8-21: affinity (platinum).
        case("IEF.100003", "nodeSelectorTerms").platinum().set(AFF, json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}})),
        case("IEF.100007", "operator").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "Near"}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "In", "values": []}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "NotIn"}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "Exists", "values": ["a"]}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "DoesNotExist", "values": ["a"]}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "cpus", "operator": "Gt", "values": ["a"]}))),
        case("IEF.100010", "values").platinum().set(AFF, node_affinity(json!({"key": "cpus", "operator": "Lt", "values": ["1", "2"]}))),
        case("IEF.100003", "matchExpressions[0].key").platinum().set(AFF, node_affinity(json!({"operator": "Exists"}))),
        case("IEF.100005", "matchExpressions[0].key").platinum().set(AFF, node_affinity(json!({"key": "bad key!", "operator": "Exists"}))),
        case("IEF.100006", "weight").platinum().set(AFF, json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}]}})),
        case("IEF.100006", "weight").platinum().set(AFF, json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 101, "podAffinityTerm": {"topologyKey": "zone"}}]}})),
        case("IEF.100003", "weight").platinum().set(AFF, json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"podAffinityTerm": {"topologyKey": "zone"}}]}})),
        case("IEF.100003", "preference").platinum().set(AFF, json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5}]}})),
        case("IEF.100003", "podAffinityTerm").platinum().set(AFF, json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5}]}})),
        case("IEF.100003", "topologyKey").platinum().set(AFF, json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}}}]}})),
        case("IEF.100004", "matchLabels").platinum().set(AFF, json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": 1}}, "topologyKey": "zone"}]}})),
        // A pod affinity term's label selector has no Gt/Lt (node affinity does).
        case("IEF.100007", "labelSelector.matchExpressions[0].operator").platinum().set(AFF, json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["1"]}]}, "topologyKey": "zone"}]}})),
        case("IEF.100005", "namespaces[0]").platinum().set(AFF, json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"namespaces": ["Bad_NS"], "topologyKey": "zone"}]}})),
        // 表22: containers.
        case("IEF.100005", "containers[0].name").set(&format!("{C}/name"), json!("Bad_Name")),
        case("IEF.100009", "containers[1].name").set("/deployment/template/containers/1", json!({"name": "c0", "image_url": "busybox"})),
        case("IEF.100005", "init_containers[0].name").set("/deployment/template/init_containers", json!([{"name": "Init", "image_url": "busybox"}])),
        case("IEF.100003", "containers[0].image_url").del(&format!("{C}/image_url")),
        case("IEF.100005", "containers[0].image_url").set(&format!("{C}/image_url"), json!("nginx alpine")),
        case("IEF.100005", "containers[0].version").set(&format!("{C}/version"), json!("1 2")),
        case("IEF.100005", "containers[0].args").set(&format!("{C}/args"), json!([long(40000), long(30000)])),
        case("IEF.100005", "containers[0].command").set(&format!("{C}/command"), json!([long(65537)])),
        case("IEF.100006", "containers[0].run_as_user").set(&format!("{C}/run_as_user"), json!(65535)),
        case("IEF.100006", "containers[0].run_as_user").set(&format!("{C}/run_as_user"), json!(-1)),
        case("IEF.100007", "containers[0].npu_type").set(&format!("{C}/npu_type"), json!("D910")),
        case("IEF.100004", "containers[0].privileged").set(&format!("{C}/privileged"), json!("no")),
        // 表23 (ranges of 表9): resources.
        case("IEF.100007", "resources.limits.disk").set(&res, json!({"limits": {"disk": "1"}})),
        case("IEF.100006", "resources.limits.cpu").set(&res, json!({"limits": {"cpu": "0.001"}})),
        case("IEF.100006", "resources.limits.cpu").set(&res, json!({"limits": {"cpu": "1001"}})),
        case("IEF.100006", "resources.limits.memory").set(&res, json!({"limits": {"memory": "3"}})),
        case("IEF.100006", "resources.requests.memory").set(&res, json!({"requests": {"memory": "1024001"}})),
        case("IEF.100006", "resources.limits.gpu").set(&res, json!({"limits": {"gpu": "0"}})),
        case("IEF.100006", "resources.limits.npu").set(&res, json!({"limits": {"npu": "1.5"}})),
        case("IEF.100006", "resources.limits.npu").set(&res, json!({"limits": {"npu": "1001"}})),
        case("IEF.100004", "resources.limits.cpu").set(&res, json!({"limits": {"cpu": 1}})),
        case("IEF.100004", "resources.limits.cpu").set(&res, json!({"limits": {"cpu": "one"}})),
        case("IEF.100010", "resources.requests.cpu").set(&res, json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})),
        // 表24-27: envs.
        case("IEF.100005", "envs[0].name").set(&env0, json!([{"name": "1A", "value": "x"}])),
        case("IEF.100005", "envs[0].name").set(&env0, json!([{"name": "A-B", "value": "x"}])),
        case("IEF.100005", "envs[0].name").set(&env0, json!([{"name": format!("A{}", long(2048)), "value": "x"}])),
        case("IEF.100003", "envs[0].name").set(&env0, json!([{"value": "x"}])),
        case("IEF.100009", "envs[1].name").set(&env0, json!([{"name": "A", "value": "x"}, {"name": "A", "value": "y"}])),
        case("IEF.100008", "envs[0].value").set(&env0, json!([{"name": "A"}])),
        case("IEF.100008", "envs[0].field_path").set(&env0, json!([{"name": "A", "value": "x", "field_path": "status.hostIP"}])),
        case("IEF.100005", "envs[0].value").set(&env0, json!([{"name": "A", "value": long(20481)}])),
        case("IEF.100007", "envs[0].field_path").set(&env0, json!([{"name": "A", "field_path": "status.podIP"}])),
        case("IEF.100008", "value_from.secret").set(&env0, json!([{"name": "A", "value_from": {}}])),
        case("IEF.100008", "value_from.configmap").set(&env0, json!([{"name": "A", "value_from": {"secret": {"name": "s", "key": "k"}, "configmap": {"name": "c", "key": "k"}}}])),
        case("IEF.100003", "value_from.secret.key").set(&env0, json!([{"name": "A", "value_from": {"secret": {"name": "s"}}}])),
        case("IEF.100005", "value_from.configmap.name").set(&env0, json!([{"name": "A", "value_from": {"configmap": {"name": "Bad", "key": "k"}}}])),
        // 表28-29: ports.
        case("IEF.100006", "ports[0].container_port").set(&port0, json!([{"container_port": 0, "host_port": 80}])),
        case("IEF.100003", "ports[0].container_port").set(&port0, json!([{"host_port": 80}])),
        case("IEF.100006", "ports[0].host_port").set(&port0, json!([{"container_port": 80, "host_port": 70000}])),
        case("IEF.100008", "ports[0].host_port_range").set(&port0, json!([{"container_port": 80, "host_port": 80, "host_port_range": {"min_port": 1, "max_port": 2}}])),
        case("IEF.100008", "ports[0].host_port").set(&port0, json!([{"container_port": 80}])),
        case("IEF.100011", "ports[0].host_port_range").set(&port0, json!([{"container_port": 80, "host_port_range": {"min_port": 8000, "max_port": 8100}}])),
        case("IEF.100010", "host_port_range.max_port").platinum().set(&port0, json!([{"container_port": 80, "host_port_range": {"min_port": 8100, "max_port": 8000}}])),
        case("IEF.100006", "host_port_range.max_port").platinum().set(&port0, json!([{"container_port": 80, "host_port_range": {"min_port": 8000, "max_port": 70000}}])),
        case("IEF.100006", "host_port_range.min_port").platinum().set(&port0, json!([{"container_port": 80, "host_port_range": {"min_port": 0, "max_port": 8000}}])),
        case("IEF.100005", "ports[0].host_ip").set(&port0, json!([{"container_port": 80, "host_port": 80, "host_ip": "999.1.1.1"}])),
        case("IEF.100010", "ports[0].host_port").set(&format!("{CFG}/host_network"), json!(true)).set(&port0, json!([{"container_port": 80, "host_port": 8080}])),
        // 表30-32: probes.
        case("IEF.100008", "liveness_probe.http_get").set(&probe, json!({"exec": {"command": "true"}, "http_get": {"path": "/", "port": 80}})),
        case("IEF.100008", "readiness_probe.exec").set(&format!("{C}/readiness_probe"), json!({"initial_delay_seconds": 5})),
        case("IEF.100006", "liveness_probe.initial_delay_seconds").set(&probe, json!({"exec": {"command": "true"}, "initial_delay_seconds": 0})),
        case("IEF.100006", "liveness_probe.timeout_seconds").set(&probe, json!({"exec": {"command": "true"}, "timeout_seconds": 3601})),
        case("IEF.100005", "liveness_probe.exec.command").set(&probe, json!({"exec": {"command": long(10241)}})),
        case("IEF.100003", "liveness_probe.exec.command").set(&probe, json!({"exec": {}})),
        case("IEF.100005", "liveness_probe.http_get.path").set(&probe, json!({"http_get": {"path": "healthz", "port": 80}})),
        case("IEF.100006", "liveness_probe.http_get.port").set(&probe, json!({"http_get": {"path": "/", "port": 0}})),
        case("IEF.100003", "liveness_probe.http_get.port").set(&probe, json!({"http_get": {"path": "/"}})),
        case("IEF.100007", "liveness_probe.http_get.scheme").set(&probe, json!({"http_get": {"path": "/", "port": 80, "scheme": "FTP"}})),
        case("IEF.100005", "liveness_probe.http_get.host").set(&probe, json!({"http_get": {"path": "/", "port": 80, "host": "a b"}})),
        // 表33: volumes.
        case("IEF.100005", "volumes[0].name").set(&vols, json!([{"name": "Log", "type": "hostPath", "source": "/var", "destination": "/data"}])),
        case("IEF.100005", "volumes[0].name").set(&vols, json!([{"name": long(64), "type": "hostPath", "source": "/var", "destination": "/data"}])),
        case("IEF.100007", "volumes[0].type").set(&vols, json!([{"name": "v", "type": "nfs", "source": "/var", "destination": "/data"}])),
        case("IEF.100005", "volumes[0].source").set(&vols, hp("var/log")),
        case("IEF.100005", "volumes[0].source").set(&vols, hp("/var/log file")),
        case("IEF.100007", "volumes[0].source").set(&vols, json!([{"name": "v", "type": "emptyDir", "source": "ssd", "destination": "/data"}])),
        case("IEF.100005", "volumes[0].source").set(&vols, json!([{"name": "v", "type": "configMap", "source": "Bad_Name", "destination": "/data"}])),
        case("IEF.100003", "volumes[0].source").set(&vols, json!([{"name": "v", "type": "secret", "destination": "/data"}])),
        case("IEF.100005", "volumes[0].destination").set(&vols, json!([{"name": "v", "type": "emptyDir", "source": "disk", "destination": "data"}])),
        case("IEF.100010", "volumes[0].read_only").set(&vols, json!([{"name": "v", "type": "secret", "source": "s", "destination": "/data", "read_only": false}])),
        case("IEF.100010", "volumes[0].default_mode").set(&vols, json!([{"name": "v", "type": "hostPath", "source": "/var", "destination": "/data", "default_mode": 420}])),
        case("IEF.100006", "volumes[0].default_mode").set(&vols, json!([{"name": "v", "type": "configMap", "source": "c", "destination": "/data", "default_mode": 999}])),
        case("IEF.100009", "volumes[1].destination").set(&vols, json!([{"name": "a", "type": "emptyDir", "source": "disk", "destination": "/data"}, {"name": "b", "type": "emptyDir", "source": "disk", "destination": "/data"}])),
        case("IEF.100009", "containers[1].volumes[0].name").set(&vols, hp("/var")).set("/deployment/template/containers/1", json!({"name": "c1", "image_url": "busybox", "volumes": hp("/etc")})),
        // What the cluster would refuse (or round), refused here: never a
        // 201 for a deployment whose pods cannot exist.
        case("IEF.100010", "init_containers[0].liveness_probe").set("/deployment/template/init_containers", json!([{"name": "init", "image_url": "busybox", "liveness_probe": {"exec": {"command": "true"}}}])),
        case("IEF.100010", "init_containers[0].readiness_probe").set("/deployment/template/init_containers", json!([{"name": "init", "image_url": "busybox", "readiness_probe": {"http_get": {"path": "/", "port": 80}}}])),
        case("IEF.100009", "containers[1].ports[0].host_port").set(&port0, json!([{"container_port": 80, "host_port": 8080}])).set("/deployment/template/containers/1", json!({"name": "c1", "image_url": "busybox", "ports": [{"container_port": 81, "host_port": 8080}]})),
        case("IEF.100009", "ports[1].host_port").set(&port0, json!([{"container_port": 80, "host_port": 8080}, {"container_port": 81, "host_port": 8080, "host_ip": "10.0.0.1"}])),
        case("IEF.100009", "init_containers[0].ports[1].host_port").set("/deployment/template/init_containers", json!([{"name": "init", "image_url": "busybox", "ports": [{"container_port": 80, "host_port": 9000}, {"container_port": 81, "host_port": 9000}]}])),
        case("IEF.100009", "ports[2].host_port_range").platinum().set(&port0, json!([{"container_port": 80, "host_port": 8000}, {"container_port": 81, "host_port": 8001}, {"container_port": 82, "host_port_range": {"min_port": 8000, "max_port": 8001}}])),
        case("IEF.100010", "ports[0].host_port_range").platinum().set(&format!("{CFG}/host_network"), json!(true)).set(&port0, json!([{"container_port": 80, "host_port_range": {"min_port": 8000, "max_port": 8100}}])),
        case("IEF.100005", "volumes[0].source").set(&vols, hp("/var/../etc")),
        case("IEF.100005", "volumes[0].source").set(&vols, hp("/..")),
        case("IEF.100010", "resources.requests.npu").set(&res, json!({"requests": {"npu": "1"}})),
        case("IEF.100010", "resources.requests.npu").set(&res, json!({"limits": {"npu": "2"}, "requests": {"npu": "1"}})),
        case("IEF.100010", "resources.requests.D310").set(&res, json!({"limits": {"D310B": "1"}, "requests": {"D310": "1"}})),
        case("IEF.100009", "resources.limits.D310").set(&res, json!({"limits": {"npu": "1", "D310": "1"}})),
        case("IEF.100006", "resources.limits.cpu").set(&res, json!({"limits": {"cpu": "0.0155"}})),
        case("IEF.100006", "resources.requests.memory").set(&res, json!({"requests": {"memory": "0.0100001"}, "limits": {"memory": "4"}})),
        case("IEF.100007", "IgnoredDuringExecution.nodeSelectorTerm`").platinum().set(AFF, json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerm": []}}})),
        case("IEF.100007", "matchExpressions[0].value`").platinum().set(AFF, node_affinity(json!({"key": "zone", "operator": "In", "value": ["a"]}))),
        case("IEF.100005", "annotations.bad key").set("/deployment/annotations", json!({"bad key": "x"})),
        case("IEF.100004", "annotations.hint").set("/deployment/annotations", json!({"hint": 2})),
        // 表34: annotations.
        case("IEF.100007", "annotations.ring_controller").set("/deployment/annotations", json!({"ring_controller": "ascend-910"})),
        case("IEF.100012", "annotations.autonomy_edge_selector").set("/deployment/annotations", json!({"autonomy_edge_selector": "no-such-group"})),
        case("IEF.100005", "annotations.autonomy_edge_selector").set("/deployment/annotations", json!({"autonomy_edge_selector": "bad group!"})),
        // 表2: the header.
        case("IEF.100011", "ief-instance-id").set("/__header", json!("bad id!")),
    ]
}

async fn send(e: &Env, body: &[u8], header: Option<&str>) -> (u16, Value) {
    let mut r =
        e.s.http
            .post(e.s.url(&e.path("deployments")))
            .header("x-auth-token", &e.token)
            .header("content-type", "application/json")
            .body(body.to_vec());
    if let Some(h) = header {
        r = r.header("ief-instance-id", h);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_fails_alone_and_changes_nothing() {
    let e = env();
    let all = cases();
    assert!(all.len() >= 100, "{} cases", all.len());
    let store = e.s.store().await;
    for (i, c) in all.iter().enumerate() {
        let mut body = base();
        let mut header = c.platinum.then_some("ief-platinum-0001".to_string());
        let mut raw_array = false;
        for (ptr, v) in &c.ops {
            match ptr.as_str() {
                "/__header" => header = v.as_ref().and_then(|v| v.as_str()).map(String::from),
                "/__array" => raw_array = true,
                _ => apply(&mut body, ptr, v.clone()),
            }
        }
        let bytes = if raw_array {
            b"[1, 2]".to_vec()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let (status, answer) = send(&e, &bytes, header.as_deref()).await;
        assert_eq!(status, c.status, "case {i} ({}): {answer}", c.needle);
        assert_eq!(
            answer["error_code"], c.code,
            "case {i} ({}): {answer}",
            c.needle
        );
        let msg = answer["error_msg"].as_str().unwrap_or("");
        assert!(
            msg.contains(&c.needle),
            "case {i}: `{}` not in {msg}",
            c.needle
        );
        assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
    }
    // Not valid JSON at all.
    let (status, answer) = send(&e, b"{\"name\": ", None).await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (400, Some("IEF.100002"))
    );
    // Nothing was made: no Deployment, no record.
    assert!(e.deployments().is_empty());
    let page = store
        .query("acme", "ief_deployments", &Default::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_feature_at_once_is_mapped_both_ways() {
    let e = env();
    let body = json!({
        "name": "full",
        "description": "all fields",
        "source": "userdefined",
        "node_ids": [N2],
        "deployment": {
            "replicas": 1,
            "annotations": {"ring_controller": "ascend-1980", "autonomy_edge_selector": G1},
            "template": {
                "configs": {"host_network": false, "dns_policy": "ClusterFirst", "restart_policy": "OnFailure"},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}},
                "init_containers": [{"name": "init", "image_url": "busybox", "version": "1.36", "command": ["sh", "-c"], "args": ["true"]}],
                "containers": [{
                    "name": "web", "image_url": "registry.local:5000/web", "version": "2.1",
                    "privileged": true, "run_as_user": 1000,
                    "resources": {"limits": {"cpu": "1.5", "memory": "1024", "gpu": "2048"}, "requests": {"cpu": "0.5", "memory": "512"}},
                    "envs": [
                        {"name": "MODE", "value": "edge"},
                        {"name": "HOST_IP", "field_path": "status.hostIP"},
                        {"name": "PASSWORD", "value_from": {"secret": {"name": "db", "key": "password"}}},
                        {"name": "LEVEL", "value_from": {"configmap": {"name": "cfg", "key": "level"}}}
                    ],
                    "ports": [{"container_port": 8080, "host_port": 18080, "host_ip": "0.0.0.0"}],
                    "liveness_probe": {"http_get": {"path": "/healthz", "port": 8080, "scheme": "HTTPS"}, "initial_delay_seconds": 5, "timeout_seconds": 2},
                    "readiness_probe": {"exec": {"command": "test -f /ready"}},
                    "volumes": [
                        {"name": "logs", "type": "hostPath", "source": "/var/IEF", "destination": "/var/log/web", "read_only": false},
                        {"name": "scratch", "type": "emptyDir", "source": "memory", "destination": "/tmp/s", "read_only": false},
                        {"name": "conf", "type": "configMap", "source": "cfg", "destination": "/etc/web", "default_mode": 644}
                    ]
                }]
            }
        }
    });
    let (status, d) = send(
        &e,
        &serde_json::to_vec(&body).unwrap(),
        Some("ief-platinum-0001"),
    )
    .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["description"], "all fields");
    assert_eq!(d["source"], "userdefined");
    assert_eq!(d["annotations"]["ring_controller"], "ascend-1980");
    assert_eq!(d["template"]["configs"]["restart_policy"], "OnFailure");
    assert_eq!(d["template"]["init_containers"][0]["name"], "init");
    assert_eq!(
        d["template"]["affinity"],
        body["deployment"]["template"]["affinity"]
    );

    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(k["dnsPolicy"], "ClusterFirst");
    assert_eq!(k["affinity"], body["deployment"]["template"]["affinity"]);
    assert_eq!(k["initContainers"][0]["image"], "busybox:1.36");
    let c = &k["containers"][0];
    assert_eq!(c["image"], "registry.local:5000/web:2.1");
    assert_eq!(
        c["securityContext"],
        json!({"privileged": true, "runAsUser": 1000})
    );
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "1.5", "memory": "1024Mi"})
    );
    assert_eq!(
        c["env"][1]["valueFrom"]["fieldRef"]["fieldPath"],
        "status.hostIP"
    );
    assert_eq!(
        c["env"][2]["valueFrom"]["secretKeyRef"],
        json!({"name": "db", "key": "password"})
    );
    assert_eq!(
        c["env"][3]["valueFrom"]["configMapKeyRef"],
        json!({"name": "cfg", "key": "level"})
    );
    assert_eq!(
        c["ports"][0],
        json!({"containerPort": 8080, "protocol": "TCP", "hostPort": 18080, "hostIP": "0.0.0.0"})
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["scheme"], "HTTPS");
    assert_eq!(
        c["readinessProbe"]["exec"]["command"],
        json!(["/bin/sh", "-c", "test -f /ready"])
    );
    let vols = k["volumes"].as_array().unwrap();
    let vol = |n: &str| vols.iter().find(|v| v["name"] == n).unwrap().clone();
    assert_eq!(vol("logs")["hostPath"]["path"], "/var/IEF");
    assert_eq!(vol("scratch")["emptyDir"]["medium"], "Memory");
    assert_eq!(
        vol("conf")["configMap"],
        json!({"name": "cfg", "defaultMode": 420})
    );

    e.wait_running(1);
    assert_eq!(e.running_on(), ["edge-2"]);
    let (status, list) = e.call("GET", &format!("pods?node_id={N2}"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 1);
    let p = &list["pods"][0];
    assert_eq!(p["description"], "all fields");
    assert_eq!(p["configs"]["restart_policy"], "OnFailure");
    assert_eq!(p["affinity"], body["deployment"]["template"]["affinity"]);
    assert_eq!(p["init_containers"][0]["image_url"], "busybox");
    assert_eq!(p["init_containers"][0]["version"], "1.36");
    let pc = &p["containers"][0];
    assert_eq!(pc["image_url"], "registry.local:5000/web");
    assert_eq!(pc["version"], "2.1");
    assert_eq!(pc["privileged"], true);
    assert_eq!(
        pc["resources"]["limits"],
        json!({"cpu": 1.5, "memory": 1024, "gpu": 2048})
    );
    assert_eq!(
        pc["resources"]["requests"],
        json!({"cpu": 0.5, "memory": 512})
    );
    assert_eq!(pc["envs"][0], json!({"name": "MODE", "value": "edge"}));
    assert_eq!(pc["envs"][1]["field_path"], "status.hostIP");
    assert_eq!(
        pc["envs"][2]["value_from"],
        json!({"secret": {"name": "db", "key": "password"}})
    );
    assert_eq!(
        pc["ports"][0],
        json!({"container_port": 8080, "host_port": 18080, "host_ip": "0.0.0.0"})
    );
    assert_eq!(
        pc["liveness_probe"]["http_get"],
        json!({"path": "/healthz", "port": 8080, "scheme": "https"})
    );
    assert_eq!(pc["liveness_probe"]["initial_delay_seconds"], 5);
    assert_eq!(pc["readiness_probe"]["exec"]["command"], "test -f /ready");
    let pv = pc["volumes"].as_array().unwrap();
    assert!(pv.contains(&json!({"name": "logs", "type": "hostPath", "read_only": false, "source": "/var/IEF", "destination": "/var/log/web"})));
    assert!(pv.contains(&json!({"name": "scratch", "type": "emptyDir", "read_only": false, "source": "memory", "destination": "/tmp/s"})));
    assert!(pv.contains(&json!({"name": "conf", "type": "configMap", "read_only": true, "source": "cfg", "destination": "/etc/web"})));
    assert_eq!(e.pods()[0]["metadata"]["namespace"], NS);
}
