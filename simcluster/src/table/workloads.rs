//! Table rows for workloads: deployments, replicasets, statefulsets,
//! daemonsets, jobs and cronjobs (with their wide `CONTAINERS IMAGES SELECTOR`).

use chrono::Utc;
use serde_json::{json, Value};

use super::{
    col, containers_images, human_duration, int_at, or_none, parse_time, selector_string, str_at,
    Row,
};

pub(super) fn workload_row(plural: &str, o: &Value, name: Value, age: Value) -> (Vec<Value>, Row) {
    let s = |x: &str| col(x, "string", 0);
    let w = |x: &str| col(x, "string", 1);
    let i = |x: &str| col(x, "integer", 0);
    let tspec = if plural == "cronjobs" {
        o.pointer("/spec/jobTemplate/spec/template/spec")
    } else {
        o.pointer("/spec/template/spec")
    };
    let (containers, images) = containers_images(tspec.unwrap_or(&Value::Null));
    let selector = json!(or_none(selector_string(o.pointer("/spec/selector"))));
    let desired = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let st = |k: &str| int_at(o, &format!("/status/{k}"));
    match plural {
        "deployments" => (
            vec![
                s("Name"),
                s("Ready"),
                i("Up-to-date"),
                i("Available"),
                s("Age"),
                w("Containers"),
                w("Images"),
                w("Selector"),
            ],
            vec![
                name,
                json!(format!("{}/{desired}", st("readyReplicas"))),
                json!(st("updatedReplicas")),
                json!(st("availableReplicas")),
                age,
                json!(containers),
                json!(images),
                selector,
            ],
        ),
        "replicasets" => (
            vec![
                s("Name"),
                i("Desired"),
                i("Current"),
                i("Ready"),
                s("Age"),
                w("Containers"),
                w("Images"),
                w("Selector"),
            ],
            vec![
                name,
                json!(desired),
                json!(st("replicas")),
                json!(st("readyReplicas")),
                age,
                json!(containers),
                json!(images),
                selector,
            ],
        ),
        "statefulsets" => (
            vec![
                s("Name"),
                s("Ready"),
                s("Age"),
                w("Containers"),
                w("Images"),
            ],
            vec![
                name,
                json!(format!("{}/{desired}", st("readyReplicas"))),
                age,
                json!(containers),
                json!(images),
            ],
        ),
        "daemonsets" => {
            let ns: Vec<String> = o
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            (
                vec![
                    s("Name"),
                    i("Desired"),
                    i("Current"),
                    i("Ready"),
                    i("Up-to-date"),
                    i("Available"),
                    s("Node Selector"),
                    s("Age"),
                    w("Containers"),
                    w("Images"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(st("desiredNumberScheduled")),
                    json!(st("currentNumberScheduled")),
                    json!(st("numberReady")),
                    json!(st("updatedNumberScheduled")),
                    json!(st("numberAvailable")),
                    json!(or_none(ns.join(","))),
                    age,
                    json!(containers),
                    json!(images),
                    selector,
                ],
            )
        }
        "jobs" => {
            let completions = o.pointer("/spec/completions").and_then(Value::as_i64);
            let comp = match completions {
                Some(c) => format!("{}/{c}", st("succeeded")),
                None => format!(
                    "{}/1 of {}",
                    st("succeeded"),
                    int_at(o, "/spec/parallelism")
                ),
            };
            let conds = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let has = |t: &str| {
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else if o.pointer("/spec/suspend") == Some(&json!(true)) {
                "Suspended"
            } else {
                "Running"
            };
            let duration = match (
                parse_time(&o["status"]["startTime"]),
                parse_time(&o["status"]["completionTime"]),
            ) {
                (Some(s), Some(e)) => human_duration((e - s).num_seconds()),
                (Some(s), None) => human_duration((Utc::now() - s).num_seconds()),
                _ => String::new(),
            };
            (
                vec![
                    s("Name"),
                    s("Status"),
                    s("Completions"),
                    s("Duration"),
                    s("Age"),
                    w("Containers"),
                    w("Images"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(status),
                    json!(comp),
                    json!(duration),
                    age,
                    json!(containers),
                    json!(images),
                    selector,
                ],
            )
        }
        _ => {
            let last = match parse_time(&o["status"]["lastScheduleTime"]) {
                Some(t) => human_duration((Utc::now() - t).num_seconds()),
                None => "<none>".into(),
            };
            let active = o
                .pointer("/status/active")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            (
                vec![
                    s("Name"),
                    s("Schedule"),
                    s("Timezone"),
                    s("Suspend"),
                    i("Active"),
                    s("Last Schedule"),
                    s("Age"),
                    w("Containers"),
                    w("Images"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(str_at(o, "/spec/schedule")),
                    json!(or_none(str_at(o, "/spec/timeZone").into())),
                    json!(if o.pointer("/spec/suspend") == Some(&json!(true)) {
                        "True"
                    } else {
                        "False"
                    }),
                    json!(active),
                    json!(last),
                    age,
                    json!(containers),
                    json!(images),
                    json!("<none>"),
                ],
            )
        }
    }
}
