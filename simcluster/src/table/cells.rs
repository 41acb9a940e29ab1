//! Cells kubectl's printers compute from an object's lists, and the events
//! table: a quota's REQUEST and LIMIT, the ENDPOINTS of endpoints and
//! endpoint slices (three, then how many more), an event's columns.

use kubefmt::kubectl;
use serde_json::{json, Value};

use super::{col, str_at, Row};

/// kubectl's REQUEST and LIMIT cells of a quota (`printResourceQuota`):
/// `name: used/hard` for each resource of its status, by name, the
/// `limits.*` ones in the second.
pub(super) fn quota_cells(o: &Value) -> (String, String) {
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    let mut hard: Vec<(&String, &Value)> = o
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .collect();
    hard.sort_by(|a, b| a.0.cmp(b.0));
    for (name, h) in hard {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "0".into(),
        };
        let used = text(o.pointer("/status/used").and_then(|u| u.get(name)));
        let cell = format!("{name}: {used}/{}", text(Some(h)));
        if name.split('.').next() == Some("limits") && name.contains('.') {
            limit.push(cell);
        } else {
            request.push(cell);
        }
    }
    (request.join(", "), limit.join(", "))
}

/// kubectl's `listWithMoreString`: up to three items, then `+ N more...`;
/// `<unset>` for none.
fn three_and_more(items: Vec<String>) -> String {
    const MAX: usize = 3;
    if items.is_empty() {
        return "<unset>".into();
    }
    let shown = items[..items.len().min(MAX)].join(",");
    if items.len() > MAX {
        format!("{shown} + {} more...", items.len() - MAX)
    } else {
        shown
    }
}

/// An EndpointSlice's PORTS cell (`formatDiscoveryPorts`).
pub(super) fn slice_ports_cell(o: &Value) -> String {
    let ports = o["ports"].as_array().into_iter().flatten();
    three_and_more(
        ports
            .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".into(),
            })
            .collect(),
    )
}

/// An EndpointSlice's ENDPOINTS cell (`formatDiscoveryEndpoints`).
pub(super) fn slice_endpoints_cell(o: &Value) -> String {
    let endpoints = o["endpoints"].as_array().into_iter().flatten();
    three_and_more(
        endpoints
            .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
            .filter_map(|a| a.as_str().map(String::from))
            .collect(),
    )
}

/// kubectl's ENDPOINTS cell (`formatEndpoints`): up to three `ip:port`
/// (bare IPs for a subset without ports), then `+ N more...`.
pub(crate) fn endpoints_cell(o: &Value) -> String {
    const MAX: usize = 3;
    let Some(subsets) = o["subsets"].as_array().filter(|s| !s.is_empty()) else {
        return "<none>".into();
    };
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addrs: Vec<&str> = ss["addresses"]
            .as_array()
            .map(|a| a.iter().filter_map(|a| a["ip"].as_str()).collect())
            .unwrap_or_default();
        let ports: Vec<i64> = ss["ports"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["port"].as_i64()).collect())
            .unwrap_or_default();
        if ports.is_empty() {
            count += addrs.len();
            list.extend(
                addrs
                    .iter()
                    .take(MAX - list.len().min(MAX))
                    .map(|a| a.to_string()),
            );
            continue;
        }
        for port in ports {
            count += addrs.len();
            for a in &addrs {
                if list.len() == MAX {
                    break;
                }
                list.push(if a.contains(':') {
                    format!("[{a}]:{port}")
                } else {
                    format!("{a}:{port}")
                });
            }
        }
    }
    let text = list.join(",");
    if count > MAX {
        format!("{text} + {} more...", count - MAX)
    } else {
        text
    }
}

/// kubectl's event columns (`printEvent`); the wide ones have priority 1.
pub(super) fn events(o: &Value) -> (Vec<Value>, Row) {
    let s = |x: &str| col(x, "string", 0);
    let w = |x: &str| col(x, "string", 1);
    let first = kubectl::since(o, "/firstTimestamp")
        .or_else(|| kubectl::since(o, "/eventTime"))
        .unwrap_or_else(|| "<unknown>".into());
    let mut last = kubectl::since(o, "/lastTimestamp").unwrap_or_else(|| first.clone());
    let mut count = o["count"].as_i64().unwrap_or(0);
    if let Some(series) = o.get("series").filter(|v| v.is_object()) {
        last = kubectl::since(series, "/lastObservedTime").unwrap_or_else(|| "<unknown>".into());
        count = series["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, "/involvedObject/kind").to_lowercase();
    let target = match str_at(o, "/involvedObject/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let first_of = |a: &str, b: &str| {
        let a = str_at(o, a);
        if a.is_empty() { str_at(o, b) } else { a }.to_string()
    };
    let component = first_of("/source/component", "/reportingComponent");
    let instance = first_of("/source/host", "/reportingInstance");
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    let mut name_col = w("Name");
    name_col["format"] = json!("name");
    (
        vec![
            s("Last Seen"),
            s("Type"),
            s("Reason"),
            s("Object"),
            w("Subobject"),
            w("Source"),
            s("Message"),
            w("First Seen"),
            w("Count"),
            name_col,
        ],
        vec![
            json!(last),
            json!(str_at(o, "/type")),
            json!(str_at(o, "/reason")),
            json!(target),
            json!(str_at(o, "/involvedObject/fieldPath")),
            json!(source),
            json!(str_at(o, "/message").trim()),
            json!(first),
            json!(count),
            json!(str_at(o, "/metadata/name")),
        ],
    )
}
