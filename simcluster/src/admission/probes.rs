//! Probes as the API server defaults and validates them
//! (`SetDefaults_Probe`, `SetDefaults_HTTPGetAction`, `validateProbe`,
//! `validateLivenessProbe`, `validateReadinessProbe`, `validateStartupProbe`,
//! `validateHandler`): exactly one handler (`exec`, `httpGet`, `tcpSocket`,
//! `grpc`); an `httpGet` path, an HTTP or HTTPS scheme; ports as numbers
//! 1-65535 or IANA port names; non-negative timings; a liveness or startup
//! probe's `successThreshold` exactly 1; no `terminationGracePeriodSeconds`
//! on a readiness probe, and a positive one elsewhere.

use serde_json::{json, Value};

use super::field::{self, text};
use super::{names, Causes};

/// The probes a container may carry, in the order the API server checks them.
pub(crate) const PROBES: &[&str] = &["livenessProbe", "readinessProbe", "startupProbe"];
const HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];
const SCHEMES: &[&str] = &["HTTP", "HTTPS"];
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const NEGATIVE: &str = "must be greater than or equal to 0";

fn set(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

/// Defaults every probe of every container and init container of a pod spec:
/// timeout 1 s, period 10 s, thresholds 1 and 3, an `httpGet` path `/` and
/// scheme `HTTP`.
pub(crate) fn defaults(spec: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            for p in PROBES {
                let Some(probe) = c.get_mut(*p).filter(|v| v.is_object()) else {
                    continue;
                };
                for (k, d) in [
                    ("timeoutSeconds", 1),
                    ("periodSeconds", 10),
                    ("successThreshold", 1),
                    ("failureThreshold", 3),
                ] {
                    if probe.get(k).and_then(Value::as_i64).unwrap_or(0) == 0 {
                        probe[k] = json!(d);
                    }
                }
                if let Some(get) = probe.get_mut("httpGet").filter(|v| v.is_object()) {
                    for (k, d) in [("path", "/"), ("scheme", "HTTP")] {
                        if text(get, k).is_empty() {
                            get[k] = json!(d);
                        }
                    }
                }
            }
        }
    }
}

/// `ValidatePortNumOrName`: a number in 1-65535 or an IANA port name.
pub(crate) fn port_num_or_name(port: Option<&Value>, path: &str, causes: &mut Causes) {
    match port {
        Some(Value::String(name)) => names::each(causes, path, name, names::port_name(name)),
        Some(v @ Value::Number(_)) => {
            if !v.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
                field::invalid(causes, path, v, PORT_RANGE);
            }
        }
        // An absent port is the integer 0.
        _ => field::invalid(causes, path, &json!(0), PORT_RANGE),
    }
}

/// `validateHandler`: exactly one handler, each checked.
fn handler(probe: &Value, path: &str, causes: &mut Causes) {
    let mut count = 0;
    for h in HANDLERS {
        if !set(probe, h) {
            continue;
        }
        let hpath = format!("{path}.{h}");
        if count > 0 {
            field::forbidden(causes, hpath, "may not specify more than 1 handler type");
            continue;
        }
        count += 1;
        let action = &probe[*h];
        match *h {
            "exec" => {
                if field::items(action, "command").is_empty() {
                    field::required(causes, format!("{hpath}.command"), "");
                }
            }
            "httpGet" => {
                if text(action, "path").is_empty() {
                    field::required(causes, format!("{hpath}.path"), "");
                }
                port_num_or_name(action.get("port"), &format!("{hpath}.port"), causes);
                let scheme = action.get("scheme").cloned().unwrap_or(json!(""));
                if !scheme.as_str().is_some_and(|s| SCHEMES.contains(&s)) {
                    field::not_supported(causes, format!("{hpath}.scheme"), &scheme, SCHEMES);
                }
            }
            "tcpSocket" => port_num_or_name(action.get("port"), &format!("{hpath}.port"), causes),
            _ => {
                let port = action.get("port").cloned().unwrap_or(json!(0));
                if !port.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
                    field::invalid(causes, format!("{hpath}.port"), &port, PORT_RANGE);
                }
            }
        }
    }
    if count == 0 {
        field::required(causes, path, "must specify a handler type");
    }
}

/// One probe (`kind` is its field name) of a regular container at `path`.
fn probe(probe: &Value, kind: &str, path: &str, causes: &mut Causes) {
    handler(probe, path, causes);
    for k in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(v) = probe.get(k).filter(|v| v.as_i64().is_some_and(|n| n < 0)) {
            field::invalid(causes, format!("{path}.{k}"), v, NEGATIVE);
        }
    }
    let grace = probe
        .get("terminationGracePeriodSeconds")
        .filter(|v| !v.is_null());
    if let Some(g) = grace {
        if kind == "readinessProbe" {
            field::invalid(
                causes,
                format!("{path}.terminationGracePeriodSeconds"),
                g,
                "must not be set for readinessProbes",
            );
        } else if g.as_i64().is_none_or(|n| n <= 0) {
            field::invalid(
                causes,
                format!("{path}.terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            );
        }
    }
    if kind != "readinessProbe" {
        let st = probe.get("successThreshold").cloned().unwrap_or(json!(1));
        if st != json!(1) {
            field::invalid(causes, format!("{path}.successThreshold"), &st, "must be 1");
        }
    }
}

/// The probes of a regular container (or a sidecar) at `path`.
pub(crate) fn validate(container: &Value, path: &str, causes: &mut Causes) {
    for kind in PROBES {
        if let Some(p) = container.get(*kind).filter(|v| !v.is_null()) {
            probe(p, kind, &format!("{path}.{kind}"), causes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mut c: Value) -> Vec<(String, String)> {
        let mut spec = json!({"containers": [c.take()]});
        defaults(&mut spec);
        let mut causes = Causes::new();
        validate(&spec["containers"][0], "c", &mut causes);
        causes
    }

    #[test]
    fn defaults_fill_what_the_api_server_fills() {
        let mut spec =
            json!({"containers": [{"name": "a", "readinessProbe": {"httpGet": {"port": "http"}}}]});
        defaults(&mut spec);
        assert_eq!(
            spec["containers"][0]["readinessProbe"],
            json!({"httpGet": {"port": "http", "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
    }

    #[test]
    fn one_handler_valid_ports_and_thresholds() {
        assert!(check(
            json!({"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "readinessProbe": {"tcpSocket": {"port": "http"}, "successThreshold": 3},
            "startupProbe": {"exec": {"command": ["true"]}}})
        )
        .is_empty());
        let got = check(json!({
            "livenessProbe": {"successThreshold": 2, "periodSeconds": -1},
            "readinessProbe": {"httpGet": {"port": 70000, "scheme": "FTP"}, "tcpSocket": {"port": "Http"},
                "terminationGracePeriodSeconds": 5},
            "startupProbe": {"exec": {}, "terminationGracePeriodSeconds": 0}}));
        let want = [
            (
                "c.livenessProbe",
                "Required value: must specify a handler type",
            ),
            (
                "c.livenessProbe.periodSeconds",
                "Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "c.livenessProbe.successThreshold",
                "Invalid value: 2: must be 1",
            ),
            (
                "c.readinessProbe.httpGet.port",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            ),
            (
                "c.readinessProbe.httpGet.scheme",
                "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
            ),
            (
                "c.readinessProbe.tcpSocket",
                "Forbidden: may not specify more than 1 handler type",
            ),
            (
                "c.readinessProbe.terminationGracePeriodSeconds",
                "Invalid value: 5: must not be set for readinessProbes",
            ),
            ("c.startupProbe.exec.command", "Required value"),
            (
                "c.startupProbe.terminationGracePeriodSeconds",
                "Invalid value: 0: must be greater than 0",
            ),
        ];
        let got: Vec<(&str, &str)> = got.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, want);
    }
}
