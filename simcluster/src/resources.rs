//! The resource catalogue and API discovery documents.
//!
//! [`RESOURCES`] lists every served resource with its group, version, kind,
//! plural/singular names, short names, scope, verbs and subresources. The
//! discovery endpoints (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`)
//! are rendered from it in the legacy (non-aggregated) format; clients that ask
//! for aggregated discovery get the legacy documents and fall back, as they do
//! against older servers.

mod discovery;

pub use discovery::{core_versions, group, group_list, resource_list, version_doc};

/// One served resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Version (`v1`, `v1beta1`).
    pub version: &'static str,
    /// Kind (`Pod`).
    pub kind: &'static str,
    /// Plural resource name (`pods`).
    pub plural: &'static str,
    /// Singular name (`pod`).
    pub singular: &'static str,
    /// Short names (`po`).
    pub short_names: &'static [&'static str],
    /// Namespaced or cluster scoped.
    pub namespaced: bool,
    /// Subresources served (`status`, `eviction`, `scale`).
    pub subresources: &'static [&'static str],
    /// Whether `metadata.generation` is maintained.
    pub generation: bool,
    /// Whether the object is stored (metrics are computed, read only).
    pub stored: bool,
    /// Categories (`all`).
    pub categories: &'static [&'static str],
}

impl ResourceDef {
    /// `apiVersion` string (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Store key: `pods`, `deployments.apps`.
    pub fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `List` kind (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// A review: created and answered at once, never stored or read
    /// (`SelfSubjectAccessReview`, `SelfSubjectReview`).
    pub fn is_review(&self) -> bool {
        !self.stored && matches!(self.group, "authorization.k8s.io" | "authentication.k8s.io")
    }

    fn verbs(&self) -> Vec<&'static str> {
        if self.is_review() {
            return vec!["create"];
        }
        if !self.stored {
            return vec!["get", "list"];
        }
        STORED_VERBS.to_vec()
    }
}

/// The verbs of a stored kind, in discovery's order.
pub const STORED_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

macro_rules! res {
    ($g:expr, $v:expr, $kind:expr, $plural:expr, $singular:expr, $short:expr, $ns:expr, $sub:expr, $gen:expr, $cat:expr) => {
        ResourceDef {
            group: $g,
            version: $v,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: $short,
            namespaced: $ns,
            subresources: $sub,
            generation: $gen,
            stored: true,
            categories: $cat,
        }
    };
}

/// A kind that is answered, not stored: metrics (computed from the
/// cluster) and reviews ([`ResourceDef::is_review`]).
const fn computed(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        kind,
        plural,
        singular: "",
        short_names: NONE,
        namespaced,
        subresources: NONE,
        generation: false,
        stored: false,
        categories: NONE,
    }
}

/// `namespaces`: the simulation creates these itself.
pub const NAMESPACES: ResourceDef = res!(
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    &["ns"],
    false,
    &["status", "finalize"],
    false,
    NONE
);

/// `nodes`: the simulation creates these itself.
pub const NODES: ResourceDef = res!(
    "",
    "v1",
    "Node",
    "nodes",
    "node",
    &["no"],
    false,
    &["status"],
    false,
    NONE
);

/// `pods`: the simulation creates these itself.
pub const PODS: ResourceDef = res!(
    "",
    "v1",
    "Pod",
    "pods",
    "pod",
    &["po"],
    true,
    &["status", "eviction", "log"],
    false,
    ALL
);

/// `resourcequotas`: bounds on what a namespace holds (`controllers::quota`).
pub const RESOURCE_QUOTAS: ResourceDef = res!(
    "",
    "v1",
    "ResourceQuota",
    "resourcequotas",
    "resourcequota",
    &["quota"],
    true,
    &["status"],
    false,
    NONE
);

/// `limitranges`: a namespace's default and bounding container resources
/// (`admission::limitranger`).
pub const LIMIT_RANGES: ResourceDef = res!(
    "",
    "v1",
    "LimitRange",
    "limitranges",
    "limitrange",
    &["limits"],
    true,
    &[],
    false,
    NONE
);

/// `services`: the simulation creates these itself.
pub const SERVICES: ResourceDef = res!(
    "",
    "v1",
    "Service",
    "services",
    "service",
    &["svc"],
    true,
    &["status"],
    false,
    ALL
);

/// `serviceaccounts`: the simulation creates these itself.
pub const SERVICE_ACCOUNTS: ResourceDef = res!(
    "",
    "v1",
    "ServiceAccount",
    "serviceaccounts",
    "serviceaccount",
    &["sa"],
    true,
    &["token"],
    false,
    NONE
);

/// `persistentvolumeclaims`: the simulation creates these itself.
pub const PERSISTENT_VOLUME_CLAIMS: ResourceDef = res!(
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    &["pvc"],
    true,
    &["status"],
    false,
    NONE
);

/// `replicasets`.apps: the simulation creates these itself.
pub const REPLICA_SETS: ResourceDef = res!(
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    "replicaset",
    &["rs"],
    true,
    &["status", "scale"],
    true,
    ALL
);

/// Every resource this server knows.
pub static RESOURCES: &[ResourceDef] = &[
    NAMESPACES,
    NODES,
    PODS,
    SERVICES,
    SERVICE_ACCOUNTS,
    PERSISTENT_VOLUME_CLAIMS,
    res!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        &["cm"],
        true,
        &[],
        false,
        NONE
    ),
    RESOURCE_QUOTAS,
    LIMIT_RANGES,
    res!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        &[],
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        &["ev"],
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        &["ep"],
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        NONE,
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        &["deploy"],
        true,
        &["status", "scale"],
        true,
        ALL
    ),
    REPLICA_SETS,
    res!(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        &["sts"],
        true,
        &["status", "scale"],
        true,
        ALL
    ),
    res!(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        &["ds"],
        true,
        &["status"],
        true,
        ALL
    ),
    res!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        &[],
        true,
        &["status"],
        true,
        ALL
    ),
    res!(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        &["cj"],
        true,
        &["status"],
        true,
        ALL
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        &[],
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        &[],
        true,
        &[],
        false,
        NONE
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        &[],
        false,
        &[],
        false,
        NONE
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        &[],
        false,
        &[],
        false,
        NONE
    ),
    res!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        &["pdb"],
        true,
        &["status"],
        true,
        NONE
    ),
    res!(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        &["pc"],
        false,
        &[],
        false,
        NONE
    ),
    res!(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        &["sc"],
        false,
        &[],
        false,
        NONE
    ),
    computed("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", false),
    computed("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", true),
    computed(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
    ),
    computed(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
    ),
    computed(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
    ),
];

/// Groups (other than core) in discovery order.
pub const GROUPS: &[(&str, &str)] = &[
    ("apps", "v1"),
    ("batch", "v1"),
    ("discovery.k8s.io", "v1"),
    ("policy", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
    ("scheduling.k8s.io", "v1"),
    ("authentication.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("metrics.k8s.io", "v1beta1"),
];

/// Finds a resource by group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a stored resource by apiVersion and kind (`apps/v1`, `Deployment`).
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.stored && r.kind == kind && r.api_version() == api_version)
}

/// Finds a stored resource by its store key (`deployments.apps`).
pub fn by_key(key: &str) -> Option<&'static ResourceDef> {
    RESOURCES.iter().find(|r| r.stored && r.key() == key)
}
