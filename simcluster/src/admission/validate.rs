//! Validation helpers: object names (RFC 1123), label keys and values,
//! pod specs (volumes, containers, host ports, resources: one small module
//! each) and workload selectors vs templates.

use serde_json::{json, Value};

use super::{containers, field, hostports, names, security, volumes, Causes};
use crate::resources::ResourceDef;
use crate::selectors::LabelSelector;

/// `metadata`: the name (an RFC 1123 label for namespaces and services, a
/// subdomain otherwise), labels and annotations.
pub(crate) fn validate_meta(def: &ResourceDef, obj: &Value, causes: &mut Causes) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label_names = matches!(def.plural, "namespaces" | "services");
    if name.is_empty() {
        causes.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    } else if label_names {
        names::each(causes, "metadata.name", name, names::dns_label(name));
    } else {
        names::each(causes, "metadata.name", name, names::dns_subdomain(name));
    }
    names::metadata_maps(&obj["metadata"], "metadata", causes);
}

/// Validates a pod spec at `prefix` (`spec`, `spec.template.spec`) as
/// `ValidatePodSpec` does, in its order: volumes, containers and init
/// containers, host ports, restart and DNS policies. `pod`: a Pod rather
/// than a template (images are checked for whitespace).
pub(crate) fn validate_pod_spec(spec: &Value, prefix: &str, pod: bool, causes: &mut Causes) {
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|cs| cs.is_empty()) {
        causes.push((format!("{prefix}.containers"), "Required value".into()));
    }
    let volumes = volumes::validate(
        field::items(spec, "volumes"),
        &format!("{prefix}.volumes"),
        causes,
    );
    let ctx = containers::Context {
        volumes: &volumes,
        pod,
    };
    containers::validate(spec, prefix, &ctx, causes);
    hostports::validate(spec, prefix, causes);
    if let Some(rp) = spec.get("restartPolicy").filter(|v| !v.is_null()) {
        if !rp.as_str().is_some_and(|r| RESTART_POLICIES.contains(&r)) {
            field::not_supported(
                causes,
                format!("{prefix}.restartPolicy"),
                rp,
                RESTART_POLICIES,
            );
        }
    }
    if let Some(dp) = spec.get("dnsPolicy").filter(|v| !v.is_null()) {
        if !dp.as_str().is_some_and(|d| DNS_POLICIES.contains(&d)) {
            field::not_supported(causes, format!("{prefix}.dnsPolicy"), dp, DNS_POLICIES);
        }
    }
    security::pod(spec, prefix, causes);
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/// A workload's pod template (`spec.template`): its metadata's labels and
/// annotations, its spec, and the restart policy a controller that keeps
/// pods running allows (`Always`; Jobs check theirs themselves).
pub(crate) fn validate_template(obj: &Value, always: bool, causes: &mut Causes) {
    let t = &obj["spec"]["template"];
    names::metadata_maps(&t["metadata"], "spec.template.metadata", causes);
    // A StatefulSet's pods also mount its volume claim templates.
    let claims = field::items(&obj["spec"], "volumeClaimTemplates");
    if claims.is_empty() {
        validate_pod_spec(&t["spec"], "spec.template.spec", false, causes);
    } else {
        let mut spec = t["spec"].clone();
        let mut vols = field::items(&spec, "volumes").to_vec();
        for c in claims {
            let name = c.pointer("/metadata/name").cloned().unwrap_or(json!(""));
            vols.push(json!({"name": name, "persistentVolumeClaim": {"claimName": name}}));
        }
        spec["volumes"] = json!(vols);
        validate_pod_spec(&spec, "spec.template.spec", false, causes);
    }
    if always {
        let rp = t["spec"]
            .get("restartPolicy")
            .cloned()
            .unwrap_or(json!("Always"));
        if rp != "Always" && RESTART_POLICIES.contains(&rp.as_str().unwrap_or("")) {
            field::not_supported(causes, "spec.template.spec.restartPolicy", &rp, &["Always"]);
        }
    }
}

pub(crate) fn check_selector(obj: &Value, causes: &mut Causes) {
    let Some(sel) = obj.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        causes.push(("spec.selector".into(), "Required value".into()));
        return;
    };
    let parsed = match LabelSelector::from_object(Some(sel)) {
        Ok(p) => p,
        Err(e) => {
            causes.push(("spec.selector".into(), format!("Invalid value: {e}")));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push((
            "spec.selector".into(),
            "Invalid value: empty selector is invalid for deployment".into(),
        ));
    }
    let empty = serde_json::Map::new();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !parsed.matches(labels) {
        // Go's `%#v` of the labels (keys sorted, as fmt sorts maps).
        let shown = labels
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}:{}",
                    field::quote(k),
                    field::quote(v.as_str().unwrap_or(""))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        causes.push((
            "spec.template.metadata.labels".into(),
            format!(
                "Invalid value: map[string]string{{{shown}}}: `selector` does not match template `labels`"
            ),
        ));
    }
}
