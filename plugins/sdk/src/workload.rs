//! Resource instances: the Kubernetes objects the platform renders from the
//! documented `source_*` parameters (pcapi `yaml_apply_delete`, kboss
//! `cpcpodyaml`): a namespace, a service account, the workload named by
//! `source_podengine`, its credentials as a Secret, a storage claim, and a
//! Service by `source_portmode`. Every object carries the label
//! [`INSTANCE_LABEL`] so what was made can be found again.

use serde_json::{json, Map, Value};

use crate::params::{ParamError, Params};

/// Label on every object rendered for an instance.
pub const INSTANCE_LABEL: &str = "computehub.io/instance";

/// The workload kinds `source_podengine` may name.
pub const ENGINES: &[&str] = &[
    "StatefulSet",
    "Deployment",
    "DaemonSet",
    "CronJob",
    "Job",
    "Standalone",
];
/// `source_portmode` values.
pub const PORT_MODES: &[&str] = &["NodePort", "LoadBalancer", "Ingress", "ClusterIP"];
/// `source_restartpolicy` values.
pub const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];

/// A validated resource instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Namespace (`namespace_name`).
    pub namespace: String,
    /// Service account (`serviceaccount_name`).
    pub service_account: Option<String>,
    /// Workload name (`podcd_name`); also the instance label's value.
    pub name: String,
    /// Service name (`service_name`).
    pub service: Option<String>,
    /// One of [`ENGINES`] (`source_podengine`).
    pub engine: String,
    /// Container image (`pod_imagepath`).
    pub image: String,
    /// Replicas (`source_replicasetnum`).
    pub replicas: u32,
    /// CPU limit and request (`source_cpurate`).
    pub cpu: Option<String>,
    /// Memory limit and request (`source_memrate`).
    pub memory: Option<String>,
    /// GPUs (`source_gpu`), as `nvidia.com/gpu`.
    pub gpu: u32,
    /// Pod labels (`source_selflabel`, `key:value`).
    pub labels: Vec<(String, String)>,
    /// Node selector (`source_nodeselector`, `key=value`).
    pub node_selector: Vec<(String, String)>,
    /// One of [`PORT_MODES`] (`source_portmode`).
    pub port_mode: Option<String>,
    /// One of [`RESTART_POLICIES`] (`source_restartpolicy`).
    pub restart_policy: String,
    /// Service port (`source_apiport`).
    pub api_port: Option<u16>,
    /// Container port (`source_insideport`).
    pub inside_port: Option<u16>,
    /// NodePort (`source_outsideport`, 30000-32767).
    pub outside_port: Option<u16>,
    /// Mount path of the data volume (`source_mountpath`).
    pub mount_path: Option<String>,
    /// Size of the data claim (`source_storagelimits`).
    pub storage: Option<String>,
    /// Initial user (`source_authuser`), kept in a Secret.
    pub auth_user: Option<String>,
    /// Initial password (`source_authpasswd`), kept in a Secret.
    pub auth_password: Option<String>,
    /// `LinuxOS` or `RelationalDB` (`instance_type`).
    pub instance_type: Option<String>,
}

fn invalid(field: &str, why: &str, value: &str) -> ParamError {
    ParamError::Json {
        name: field.to_string(),
        reason: format!("{why}, got `{value}`"),
    }
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, at most 63
/// ([`crate::names::dns_label_ok`]).
pub fn check_dns_label(field: &str, v: &str) -> Result<(), ParamError> {
    crate::names::dns_label_ok(v)
        .then_some(())
        .ok_or_else(|| invalid(field, "must be a DNS label (a-z, 0-9, `-`, at most 63)", v))
}

pub use crate::names::{label_key_ok, label_value_ok};

/// Most labels one `k=v` list parameter (`source_selflabel`,
/// `source_nodeselector`) may hold.
pub const MAX_LABELS: usize = 32;

/// Parse `k=v` (or `k:v` with `sep` ':') lists separated by commas.
pub fn parse_labels(
    field: &str,
    text: &str,
    sep: char,
) -> Result<Vec<(String, String)>, ParamError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if out.len() == MAX_LABELS {
            return Err(ParamError::too_many(field, MAX_LABELS, "labels"));
        }
        let (k, v) = part
            .split_once(sep)
            .ok_or_else(|| invalid(field, &format!("must be `key{sep}value`"), part))?;
        if !label_key_ok(k) || !label_value_ok(v) {
            return Err(invalid(field, "is not a valid Kubernetes label", part));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// A resource quantity such as `500m`, `2`, `512Mi`, `49Gi`: one that
/// [`crate::quantity::Quantity`] parses as written (no white space around it),
/// not negative.
pub fn check_quantity(field: &str, v: &str) -> Result<(), ParamError> {
    let ok =
        v == v.trim() && crate::quantity::Quantity::parse(v).is_ok_and(|q| q.nano_value() >= 0);
    ok.then_some(()).ok_or_else(|| {
        invalid(
            field,
            "must be a Kubernetes quantity such as 500m, 2, 512Mi",
            v,
        )
    })
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<String, ParamError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v))
        .map(|a| a.to_string())
        .ok_or_else(|| invalid(field, &format!("must be one of {}", allowed.join(", ")), v))
}

fn port(p: &Params, field: &str) -> Result<Option<u16>, ParamError> {
    match p.optional_u32(field)? {
        None => Ok(None),
        Some(n) if (1..=65535).contains(&n) => Ok(Some(n as u16)),
        Some(n) => Err(invalid(field, "must be a port 1-65535", &n.to_string())),
    }
}

impl Workload {
    /// Read and validate the documented parameters. `names` gives the
    /// namespace, service account, workload and service names (the caller
    /// either passes or derives them).
    pub fn from_params(p: &Params, names: [Option<String>; 4]) -> Result<Workload, ParamError> {
        let [namespace, service_account, name, service] = names;
        let namespace = namespace.ok_or_else(|| ParamError::Missing {
            name: "namespace_name".into(),
        })?;
        check_dns_label("namespace_name", &namespace)?;
        let name = name.ok_or_else(|| ParamError::Missing {
            name: "podcd_name".into(),
        })?;
        check_dns_label("podcd_name", &name)?;
        if let Some(sa) = &service_account {
            check_dns_label("serviceaccount_name", sa)?;
        }
        if let Some(s) = &service {
            check_dns_label("service_name", s)?;
        }
        let engine = one_of(
            "source_podengine",
            p.optional_str("source_podengine")?.unwrap_or("StatefulSet"),
            ENGINES,
        )?;
        let image = p
            .optional_str("pod_imagepath")?
            .unwrap_or("docker.io/library/ubuntu:22.04")
            .to_string();
        if image.chars().any(|c| c.is_whitespace() || c.is_control()) || image.len() > 512 {
            return Err(invalid(
                "pod_imagepath",
                "must be an image reference",
                &image,
            ));
        }
        let replicas = p.optional_u32("source_replicasetnum")?.unwrap_or(1);
        if replicas > 1000 {
            return Err(invalid(
                "source_replicasetnum",
                "must be at most 1000",
                &replicas.to_string(),
            ));
        }
        let quantity = |f: &str| -> Result<Option<String>, ParamError> {
            match p.optional_str(f)? {
                Some(v) => check_quantity(f, v).map(|_| Some(v.to_string())),
                None => Ok(None),
            }
        };
        let restart_policy = one_of(
            "source_restartpolicy",
            p.optional_str("source_restartpolicy")?
                .unwrap_or(match engine.as_str() {
                    "Job" | "CronJob" => "OnFailure",
                    _ => "Always",
                }),
            RESTART_POLICIES,
        )?;
        if matches!(engine.as_str(), "Job" | "CronJob") && restart_policy == "Always" {
            return Err(invalid(
                "source_restartpolicy",
                "must be OnFailure or Never for a Job or CronJob",
                "Always",
            ));
        }
        if !matches!(engine.as_str(), "Job" | "CronJob" | "Standalone")
            && restart_policy != "Always"
        {
            return Err(invalid(
                "source_restartpolicy",
                &format!("must be Always for a {engine}"),
                &restart_policy,
            ));
        }
        let outside_port = port(p, "source_outsideport")?;
        if let Some(op) = outside_port {
            if !(30000..=32767).contains(&op) {
                return Err(invalid(
                    "source_outsideport",
                    "must be a NodePort 30000-32767",
                    &op.to_string(),
                ));
            }
        }
        let mount_path = p.optional_str("source_mountpath")?.map(str::to_string);
        if let Some(m) = &mount_path {
            if !m.starts_with('/') || m.contains("..") || m.chars().any(char::is_control) {
                return Err(invalid("source_mountpath", "must be an absolute path", m));
            }
        }
        Ok(Workload {
            namespace,
            service_account,
            name,
            service,
            engine,
            image,
            replicas,
            cpu: quantity("source_cpurate")?,
            memory: quantity("source_memrate")?,
            gpu: p.optional_u32("source_gpu")?.unwrap_or(0),
            labels: match p.optional_str("source_selflabel")? {
                Some(t) => parse_labels("source_selflabel", t, ':')?,
                None => Vec::new(),
            },
            node_selector: match p.optional_str("source_nodeselector")? {
                Some(t) => parse_labels("source_nodeselector", t, '=')?,
                None => Vec::new(),
            },
            port_mode: p
                .optional_str("source_portmode")?
                .map(|m| one_of("source_portmode", m, PORT_MODES))
                .transpose()?,
            restart_policy,
            api_port: port(p, "source_apiport")?,
            inside_port: port(p, "source_insideport")?,
            outside_port,
            storage: quantity("source_storagelimits")?,
            mount_path,
            auth_user: p.optional_str("source_authuser")?.map(str::to_string),
            auth_password: p.optional_str("source_authpasswd")?.map(str::to_string),
            instance_type: p.optional_str("instance_type")?.map(str::to_string),
        })
    }

    fn meta(&self, name: &str) -> Value {
        json!({"name": name, "namespace": self.namespace, "labels": {INSTANCE_LABEL: self.name}})
    }

    fn pod_labels(&self) -> Map<String, Value> {
        let mut l = Map::new();
        for (k, v) in &self.labels {
            l.insert(k.clone(), json!(v));
        }
        l.insert(INSTANCE_LABEL.into(), json!(self.name));
        l
    }

    fn container(&self) -> Value {
        let mut limits = Map::new();
        if let Some(c) = &self.cpu {
            limits.insert("cpu".into(), json!(c));
        }
        if let Some(m) = &self.memory {
            limits.insert("memory".into(), json!(m));
        }
        if self.gpu > 0 {
            limits.insert("nvidia.com/gpu".into(), json!(self.gpu.to_string()));
        }
        let mut c = json!({
            "name": "main",
            "image": self.image,
            "resources": {"limits": limits.clone(), "requests": limits},
        });
        if let Some(p) = self.inside_port {
            c["ports"] = json!([{"containerPort": p, "protocol": "TCP"}]);
        }
        if self.auth_user.is_some() || self.auth_password.is_some() {
            c["envFrom"] = json!([{"secretRef": {"name": format!("{}-auth", self.name)}}]);
        }
        if self.instance_type.as_deref() == Some("LinuxOS") || self.image.contains("ubuntu") {
            c["command"] = json!(["sleep", "infinity"]);
        }
        if let Some(m) = &self.mount_path {
            c["volumeMounts"] = json!([{"name": "data", "mountPath": m}]);
        }
        c
    }

    fn pod_spec(&self, with_claim: bool) -> Value {
        let mut spec = json!({
            "containers": [self.container()],
            "restartPolicy": self.restart_policy,
        });
        if let Some(sa) = &self.service_account {
            spec["serviceAccountName"] = json!(sa);
        }
        if !self.node_selector.is_empty() {
            let sel: Map<String, Value> = self
                .node_selector
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            spec["nodeSelector"] = Value::Object(sel);
        }
        if self.mount_path.is_some() && with_claim {
            spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("{}-pvc", self.name)}}]);
        } else if self.mount_path.is_some() && self.storage.is_none() {
            spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        }
        spec
    }

    /// The objects to apply, in order (namespace first).
    pub fn manifests(&self) -> Vec<Value> {
        let mut docs = vec![json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {INSTANCE_LABEL: self.name}},
        })];
        if let Some(sa) = &self.service_account {
            docs.push(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self.meta(sa)}),
            );
        }
        if self.auth_user.is_some() || self.auth_password.is_some() {
            let mut data = Map::new();
            if let Some(u) = &self.auth_user {
                data.insert("AUTH_USER".into(), json!(u));
            }
            if let Some(p) = &self.auth_password {
                data.insert("AUTH_PASSWORD".into(), json!(p));
                if self.image.contains("mysql") {
                    data.insert("MYSQL_ROOT_PASSWORD".into(), json!(p));
                }
            }
            docs.push(json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": self.meta(&format!("{}-auth", self.name)), "stringData": data,
            }));
        }
        let claim = self.mount_path.is_some() && self.storage.is_some();
        let claim_spec = |storage: &str| json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}});
        if claim && self.engine != "StatefulSet" {
            docs.push(json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": self.meta(&format!("{}-pvc", self.name)),
                "spec": claim_spec(self.storage.as_deref().unwrap_or("1Gi")),
            }));
        }
        let selector = json!({"matchLabels": {INSTANCE_LABEL: self.name}});
        let template = |with_claim: bool| json!({"metadata": {"labels": self.pod_labels()}, "spec": self.pod_spec(with_claim)});
        let workload = match self.engine.as_str() {
            "StatefulSet" => {
                let mut spec = json!({
                    "replicas": self.replicas, "serviceName": self.service.clone().unwrap_or_else(|| self.name.clone()),
                    "selector": selector, "template": template(false),
                });
                if claim {
                    let mut claim_t = json!({"metadata": {"name": "data"}, "spec": claim_spec(self.storage.as_deref().unwrap_or("1Gi"))});
                    claim_t["metadata"]["labels"] = json!({INSTANCE_LABEL: self.name});
                    spec["volumeClaimTemplates"] = json!([claim_t]);
                }
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": self.meta(&self.name), "spec": spec})
            }
            "Deployment" => {
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self.meta(&self.name),
                "spec": {"replicas": self.replicas, "selector": selector, "template": template(claim)}})
            }
            "DaemonSet" => {
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": self.meta(&self.name),
                "spec": {"selector": selector, "template": template(claim)}})
            }
            "Job" => {
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": self.meta(&self.name),
                "spec": {"completions": self.replicas.max(1), "template": template(claim)}})
            }
            "CronJob" => {
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": self.meta(&self.name),
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template(claim)}}}})
            }
            _ => {
                let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": self.meta(&self.name), "spec": self.pod_spec(claim)});
                pod["metadata"]["labels"] = Value::Object(self.pod_labels());
                pod
            }
        };
        docs.push(workload);
        if let (Some(svc), Some(mode)) = (&self.service, &self.port_mode) {
            let port = self.api_port.or(self.inside_port).unwrap_or(80);
            let mut p = json!({"name": "api", "port": port, "targetPort": self.inside_port.unwrap_or(port), "protocol": "TCP"});
            let ty = match mode.as_str() {
                "NodePort" => "NodePort",
                "LoadBalancer" => "LoadBalancer",
                _ => "ClusterIP",
            };
            if ty != "ClusterIP" {
                if let Some(np) = self.outside_port {
                    p["nodePort"] = json!(np);
                }
            }
            docs.push(json!({
                "apiVersion": "v1", "kind": "Service", "metadata": self.meta(svc),
                "spec": {"type": ty, "selector": {INSTANCE_LABEL: self.name}, "ports": [p]},
            }));
        }
        docs
    }

    /// The manifests as one multi-document YAML stream (JSON documents).
    pub fn manifest_text(&self) -> String {
        self.manifests()
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

#[cfg(test)]
mod tests {
    use super::check_quantity;

    #[test]
    fn quantities_are_what_kubernetes_accepts() {
        for ok in [
            "500m", "2", "0.5", "512Mi", "49Gi", "1e3", "+1", "100n", "1Pi",
        ] {
            assert!(check_quantity("source_cpurate", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-1", " 2", "2 ", "1.2.3", "1Qi", "Gi", "2 Gi", "abc"] {
            assert!(check_quantity("source_cpurate", bad).is_err(), "{bad:?}");
        }
    }
}
