//! What kube-apiserver's decoder refuses before any validation runs: a field
//! of the wrong JSON type (`"spec": []`, `"containers": "x"`, a label value
//! that is a number, `"replicas": "3"`). The server answers `400 BadRequest`:
//! `Deployment in version "v1" cannot be handled as a Deployment: json:
//! cannot unmarshal string into Go struct field Deployment.spec.replicas of
//! type int32`.
//!
//! Only the fields the simulation reads (and their neighbours clients send)
//! are described; anything else passes as it is. `null` is accepted
//! everywhere, as Go's decoder leaves the zero value for it.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceDef;

/// The JSON type a field must have.
#[derive(Clone, Copy)]
enum Shape {
    Str,
    /// Go's `int32`: a JSON integer within its range.
    Int,
    /// Go's `int64`.
    Int64,
    Bool,
    /// A quantity or an int-or-string (`"500m"`, `2`, `"50%"`).
    IntOrStr,
    /// An object whose fields are not described further.
    AnyObj,
    /// An object: the fields described are checked, others pass.
    Obj(&'static [(&'static str, Shape)]),
    /// An object whose every value has one shape (labels, nodeSelector).
    MapOf(&'static Shape),
    ListOf(&'static Shape),
}

use Shape::*;

const STRINGS: Shape = MapOf(&Str);
const STRING_LIST: Shape = ListOf(&Str);
const QUANTITIES: Shape = MapOf(&IntOrStr);

const OWNER_REF: Shape = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("name", Str),
    ("uid", Str),
    ("controller", Bool),
    ("blockOwnerDeletion", Bool),
]);

const META: Shape = Obj(&[
    ("name", Str),
    ("generateName", Str),
    ("namespace", Str),
    ("uid", Str),
    ("resourceVersion", Str),
    ("labels", STRINGS),
    ("annotations", STRINGS),
    ("finalizers", STRING_LIST),
    ("ownerReferences", ListOf(&OWNER_REF)),
    ("managedFields", ListOf(&AnyObj)),
]);

const RESOURCES: Shape = Obj(&[("limits", QUANTITIES), ("requests", QUANTITIES)]);

const CONTAINER: Shape = Obj(&[
    ("name", Str),
    ("image", Str),
    ("command", STRING_LIST),
    ("args", STRING_LIST),
    ("workingDir", Str),
    ("imagePullPolicy", Str),
    (
        "ports",
        ListOf(&Obj(&[
            ("name", Str),
            ("containerPort", Int),
            ("hostPort", Int),
            ("hostIP", Str),
            ("protocol", Str),
        ])),
    ),
    (
        "env",
        ListOf(&Obj(&[
            ("name", Str),
            ("value", Str),
            ("valueFrom", AnyObj),
        ])),
    ),
    ("envFrom", ListOf(&AnyObj)),
    ("resources", RESOURCES),
    (
        "volumeMounts",
        ListOf(&Obj(&[
            ("name", Str),
            ("mountPath", Str),
            ("subPath", Str),
            ("readOnly", Bool),
        ])),
    ),
    ("livenessProbe", AnyObj),
    ("readinessProbe", AnyObj),
    ("startupProbe", AnyObj),
    ("lifecycle", AnyObj),
    ("securityContext", AnyObj),
]);

const POD_SPEC: Shape = Obj(&[
    ("containers", ListOf(&CONTAINER)),
    ("initContainers", ListOf(&CONTAINER)),
    ("ephemeralContainers", ListOf(&CONTAINER)),
    ("volumes", ListOf(&Obj(&[("name", Str)]))),
    ("nodeName", Str),
    ("nodeSelector", STRINGS),
    (
        "tolerations",
        ListOf(&Obj(&[
            ("key", Str),
            ("operator", Str),
            ("value", Str),
            ("effect", Str),
            ("tolerationSeconds", Int64),
        ])),
    ),
    ("affinity", AnyObj),
    ("restartPolicy", Str),
    ("serviceAccountName", Str),
    ("schedulerName", Str),
    ("priorityClassName", Str),
    ("priority", Int),
    ("hostNetwork", Bool),
    ("terminationGracePeriodSeconds", Int64),
    ("activeDeadlineSeconds", Int64),
    ("securityContext", AnyObj),
    ("imagePullSecrets", ListOf(&Obj(&[("name", Str)]))),
    ("hostAliases", ListOf(&AnyObj)),
    ("topologySpreadConstraints", ListOf(&AnyObj)),
]);

const SELECTOR: Shape = Obj(&[
    ("matchLabels", STRINGS),
    (
        "matchExpressions",
        ListOf(&Obj(&[
            ("key", Str),
            ("operator", Str),
            ("values", STRING_LIST),
        ])),
    ),
]);

const TEMPLATE: Shape = Obj(&[("metadata", META), ("spec", POD_SPEC)]);

const WORKLOAD_SPEC: Shape = Obj(&[
    ("replicas", Int),
    ("selector", SELECTOR),
    ("template", TEMPLATE),
    ("minReadySeconds", Int),
    ("revisionHistoryLimit", Int),
    ("progressDeadlineSeconds", Int),
    ("paused", Bool),
    ("strategy", AnyObj),
    ("updateStrategy", AnyObj),
    ("serviceName", Str),
    ("podManagementPolicy", Str),
    (
        "volumeClaimTemplates",
        ListOf(&Obj(&[("metadata", META), ("spec", AnyObj)])),
    ),
]);

const JOB_SPEC: Shape = Obj(&[
    ("parallelism", Int),
    ("completions", Int),
    ("backoffLimit", Int),
    ("activeDeadlineSeconds", Int64),
    ("ttlSecondsAfterFinished", Int),
    ("suspend", Bool),
    ("selector", SELECTOR),
    ("template", TEMPLATE),
]);

const SERVICE_SPEC: Shape = Obj(&[
    ("type", Str),
    ("selector", STRINGS),
    (
        "ports",
        ListOf(&Obj(&[
            ("name", Str),
            ("protocol", Str),
            ("port", Int),
            ("targetPort", IntOrStr),
            ("nodePort", Int),
        ])),
    ),
    ("clusterIP", Str),
    ("clusterIPs", STRING_LIST),
    ("externalIPs", STRING_LIST),
    ("sessionAffinity", Str),
    ("externalTrafficPolicy", Str),
]);

const NODE_SPEC: Shape = Obj(&[
    ("podCIDR", Str),
    ("podCIDRs", STRING_LIST),
    ("providerID", Str),
    ("unschedulable", Bool),
    (
        "taints",
        ListOf(&Obj(&[("key", Str), ("value", Str), ("effect", Str)])),
    ),
]);

const NODE_STATUS: Shape = Obj(&[
    ("capacity", QUANTITIES),
    ("allocatable", QUANTITIES),
    ("conditions", ListOf(&AnyObj)),
    (
        "addresses",
        ListOf(&Obj(&[("type", Str), ("address", Str)])),
    ),
    ("nodeInfo", AnyObj),
]);

const POD_STATUS: Shape = Obj(&[
    ("phase", Str),
    ("conditions", ListOf(&AnyObj)),
    ("containerStatuses", ListOf(&AnyObj)),
    ("initContainerStatuses", ListOf(&AnyObj)),
    ("hostIP", Str),
    ("podIP", Str),
]);

const PDB_SPEC: Shape = Obj(&[
    ("minAvailable", IntOrStr),
    ("maxUnavailable", IntOrStr),
    ("selector", SELECTOR),
]);

const PVC_SPEC: Shape = Obj(&[
    ("accessModes", STRING_LIST),
    ("resources", RESOURCES),
    ("storageClassName", Str),
    ("volumeName", Str),
    ("volumeMode", Str),
]);

const QUOTA_SPEC: Shape = Obj(&[
    ("hard", QUANTITIES),
    ("scopes", STRING_LIST),
    (
        "scopeSelector",
        Obj(&[(
            "matchExpressions",
            ListOf(&Obj(&[
                ("scopeName", Str),
                ("operator", Str),
                ("values", STRING_LIST),
            ])),
        )]),
    ),
]);

const LIMIT_RANGE_SPEC: Shape = Obj(&[(
    "limits",
    ListOf(&Obj(&[
        ("type", Str),
        ("max", QUANTITIES),
        ("min", QUANTITIES),
        ("default", QUANTITIES),
        ("defaultRequest", QUANTITIES),
        ("maxLimitRequestRatio", QUANTITIES),
    ])),
)]);

const POLICY_RULES: Shape = ListOf(&Obj(&[
    ("verbs", STRING_LIST),
    ("apiGroups", STRING_LIST),
    ("resources", STRING_LIST),
    ("resourceNames", STRING_LIST),
    ("nonResourceURLs", STRING_LIST),
]));

const SUBJECTS: Shape = ListOf(&Obj(&[
    ("kind", Str),
    ("apiGroup", Str),
    ("name", Str),
    ("namespace", Str),
]));

const ROLE_REF: Shape = Obj(&[("apiGroup", Str), ("kind", Str), ("name", Str)]);

const CRONJOB_SPEC: Shape = Obj(&[
    ("schedule", Str),
    ("suspend", Bool),
    (
        "jobTemplate",
        Obj(&[("metadata", META), ("spec", JOB_SPEC)]),
    ),
]);

/// The top-level fields of a `plural` object beside `metadata`.
fn top_level(plural: &str) -> &'static [(&'static str, Shape)] {
    match plural {
        "pods" => &[("spec", POD_SPEC), ("status", POD_STATUS)],
        "namespaces" => &[
            ("spec", Obj(&[("finalizers", STRING_LIST)])),
            ("status", AnyObj),
        ],
        "podtemplates" => &[("template", TEMPLATE)],
        "deployments" | "statefulsets" | "daemonsets" | "replicasets" => {
            &[("spec", WORKLOAD_SPEC), ("status", AnyObj)]
        }
        "jobs" => &[("spec", JOB_SPEC), ("status", AnyObj)],
        "cronjobs" => &[("spec", CRONJOB_SPEC), ("status", AnyObj)],
        "services" => &[("spec", SERVICE_SPEC), ("status", AnyObj)],
        "nodes" => &[("spec", NODE_SPEC), ("status", NODE_STATUS)],
        "poddisruptionbudgets" => &[("spec", PDB_SPEC), ("status", AnyObj)],
        "persistentvolumeclaims" => &[("spec", PVC_SPEC), ("status", AnyObj)],
        "resourcequotas" => &[("spec", QUOTA_SPEC), ("status", AnyObj)],
        "limitranges" => &[("spec", LIMIT_RANGE_SPEC)],
        "roles" => &[("rules", POLICY_RULES)],
        "clusterroles" => &[("rules", POLICY_RULES), ("aggregationRule", AnyObj)],
        "rolebindings" | "clusterrolebindings" => &[("subjects", SUBJECTS), ("roleRef", ROLE_REF)],
        "configmaps" => &[("data", STRINGS), ("binaryData", STRINGS)],
        "secrets" => &[("data", STRINGS), ("stringData", STRINGS), ("type", Str)],
        "storageclasses" => &[
            ("provisioner", Str),
            ("parameters", STRINGS),
            ("reclaimPolicy", Str),
            ("mountOptions", STRING_LIST),
            ("allowVolumeExpansion", Bool),
            ("volumeBindingMode", Str),
            ("allowedTopologies", ListOf(&AnyObj)),
        ],
        "priorityclasses" => &[
            ("value", Int),
            ("globalDefault", Bool),
            ("description", Str),
            ("preemptionPolicy", Str),
        ],
        _ => &[("spec", AnyObj), ("status", AnyObj)],
    }
}

/// Refuses `obj` as kube-apiserver's decoder would: not an object, or a
/// described field of the wrong type (the first one found).
pub fn check(def: &ResourceDef, obj: &Value) -> ApiResult<()> {
    let refuse = |path: &str, got: &Value, want: &str| {
        cannot_unmarshal(def.kind, def.version, path, got, want)
    };
    let Value::Object(top) = obj else {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {got} into Go value of type {kind}",
            kind = def.kind,
            version = def.version,
            got = json_type(obj),
        )));
    };
    let fields = [("apiVersion", Str), ("kind", Str), ("metadata", META)];
    for (name, shape) in fields.iter().chain(top_level(def.plural)) {
        if let Some(v) = top.get(*name) {
            if let Err((path, got, want)) = conforms(v, *shape) {
                return Err(refuse(&format!(".{name}{path}"), got, want));
            }
        }
    }
    Ok(())
}

/// The decoder's refusal of `got` at `path` (`.spec.replicas`) of a `kind`
/// object, where the field is of Go type `want`.
pub(crate) fn cannot_unmarshal(
    kind: &str,
    version: &str,
    path: &str,
    got: &Value,
    want: &str,
) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {got} into Go struct field {kind}{path} of type {want}",
        got = json_type(got),
    ))
}

/// Whether `v` has `shape`; the first mismatch as `(path below v, value,
/// Go type)`. The path is written only for a mismatch, as the error
/// unwinds: an object that conforms costs no allocation.
fn conforms(v: &Value, shape: Shape) -> Result<(), (String, &Value, &'static str)> {
    if v.is_null() {
        return Ok(());
    }
    let ok = match shape {
        Str => v.is_string(),
        Int => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Int64 => v.is_i64(),
        Bool => v.is_boolean(),
        IntOrStr => v.is_string() || v.is_i64() || v.is_u64(),
        AnyObj | Obj(_) | MapOf(_) => v.is_object(),
        ListOf(_) => v.is_array(),
    };
    if !ok {
        return Err((String::new(), v, go_type(shape)));
    }
    match (shape, v) {
        (Obj(fields), Value::Object(m)) => {
            for (name, s) in fields {
                if let Some(x) = m.get(*name) {
                    within(|| format!(".{name}"), conforms(x, *s))?;
                }
            }
        }
        (MapOf(s), Value::Object(m)) => {
            for (k, x) in m {
                within(|| format!("[{k}]"), conforms(x, *s))?;
            }
        }
        (ListOf(s), Value::Array(items)) => {
            for x in items {
                conforms(x, *s)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A mismatch found below a field or key: `segment()` put before its path.
fn within<'v>(
    segment: impl FnOnce() -> String,
    r: Result<(), (String, &'v Value, &'static str)>,
) -> Result<(), (String, &'v Value, &'static str)> {
    r.map_err(|(mut path, got, want)| {
        path.insert_str(0, &segment());
        (path, got, want)
    })
}

/// The JSON type as Go's decoder names it in its message.
fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

fn go_type(shape: Shape) -> &'static str {
    match shape {
        Str => "string",
        Int => "int32",
        Int64 => "int64",
        Bool => "bool",
        IntOrStr => "intstr.IntOrString",
        AnyObj | Obj(_) => "struct",
        MapOf(&Str) => "map[string]string",
        MapOf(_) => "map[string]resource.Quantity",
        ListOf(&Str) => "[]string",
        ListOf(_) => "[]struct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{find, PODS};
    use serde_json::json;

    fn message(def: &ResourceDef, v: Value) -> Option<String> {
        check(def, &v).err().map(|e| e.message)
    }

    /// Go's decoder refuses a number outside an `int32` field's range: a
    /// Deployment of 2^63-1 replicas or a Job of that parallelism never
    /// reaches a controller. `int64` fields take it.
    #[test]
    fn numbers_beyond_int32_are_refused_where_the_field_is_int32() {
        let deployments = find("apps", "v1", "deployments").unwrap();
        let jobs = find("batch", "v1", "jobs").unwrap();
        assert_eq!(
            message(deployments, json!({"spec": {"replicas": i64::MAX}})).as_deref(),
            Some("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number 9223372036854775807 into Go struct field Deployment.spec.replicas of type int32")
        );
        assert!(message(deployments, json!({"spec": {"replicas": i32::MAX}})).is_none());
        assert!(message(deployments, json!({"spec": {"replicas": u64::MAX}})).is_some());
        assert!(message(jobs, json!({"spec": {"parallelism": 2_147_483_648_i64}})).is_some());
        assert!(message(jobs, json!({"spec": {"activeDeadlineSeconds": i64::MAX}})).is_none());
        assert!(message(
            &PODS,
            json!({"spec": {"terminationGracePeriodSeconds": i64::MAX}})
        )
        .is_none());
    }

    #[test]
    fn wrong_types_are_refused_with_the_decoders_words() {
        let deployments = find("apps", "v1", "deployments").unwrap();
        assert_eq!(
            message(deployments, json!({"metadata": {"name": "d"}, "spec": {"replicas": "3"}})).as_deref(),
            Some("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32")
        );
        assert_eq!(
            message(&PODS, json!({"metadata": {"labels": {"a": 5}}})).as_deref(),
            Some("Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number 5 into Go struct field Pod.metadata.labels[a] of type string")
        );
        assert_eq!(
            message(&PODS, json!([])).as_deref(),
            Some("Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal array into Go value of type Pod")
        );
        for bad in [
            json!({"spec": []}),
            json!({"spec": {"containers": "x"}}),
            json!({"spec": {"containers": [5]}}),
            json!({"spec": {"containers": [{"name": "c", "resources": {"limits": []}}]}}),
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1.5}]}]}}),
            json!({"metadata": "x"}),
            json!({"status": {"phase": 1}}),
        ] {
            assert!(message(&PODS, bad.clone()).is_some(), "{bad}");
        }
    }

    #[test]
    fn what_a_client_sends_passes() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": "500m", "memory": 1024, "nvidia.com/gpu": 1}},
                "ports": [{"containerPort": 80}], "env": [{"name": "X", "value": "1"}]}],
                "nodeSelector": {"k": "v"}, "unknownField": [1, 2]},
        });
        assert!(check(&PODS, &pod).is_ok());
    }
}
