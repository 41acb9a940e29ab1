//! The protobuf schema of the kinds whose protobuf bodies the simulated API
//! server reads: for each message, its fields' numbers, JSON names and types,
//! as the Kubernetes API's `generated.proto` files define them.
//!
//! Only what a body of a served kind can hold is here; a field number a
//! message does not list is refused by the decoder (naming the message and
//! the number), never dropped, unless the message is a status (`lenient`),
//! which the API server ignores on create and update anyway.

mod apps;
mod authentication;
mod authorization;
mod batch;
mod container;
mod core;
mod meta;
mod pod;
mod policy;
mod rbac;
mod scheduling;
mod volumes;

/// How a field's value is read and written as JSON.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64` (a JSON number, as Kubernetes writes it, not a string).
    I64,
    /// `bytes`: base64 in JSON.
    Bytes,
    /// A nested message.
    Msg(&'static Msg),
    /// A Go struct embedded inline: its fields are written into the parent
    /// object.
    Inline(&'static Msg),
    /// `map<string, string>`.
    MapStr,
    /// `map<string, bytes>` (base64 values).
    MapBytes,
    /// `map<string, Quantity>` (a `ResourceList`).
    MapQuantity,
    /// `meta.v1.Time`: RFC 3339 seconds; the zero time is `null`.
    Time,
    /// `meta.v1.MicroTime`: RFC 3339 with microseconds.
    MicroTime,
    /// `api.resource.Quantity`: its string.
    Quantity,
    /// `util.intstr.IntOrString`: a number or a string.
    IntOrString,
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    pub num: u32,
    /// The JSON name.
    pub name: &'static str,
    pub ty: Ty,
    /// `repeated`.
    pub list: bool,
    /// A Go pointer: a zero value was set on purpose and is kept (a
    /// non-pointer field is always encoded, so its zero value is dropped, as
    /// Go's `omitempty` drops it from JSON).
    pub ptr: bool,
}

/// A message: its name (for errors) and fields.
#[derive(Debug)]
pub struct Msg {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// Unknown fields are skipped instead of refused (statuses).
    pub lenient: bool,
}

impl Msg {
    pub const fn new(name: &'static str, fields: &'static [Field]) -> Msg {
        Msg {
            name,
            fields,
            lenient: false,
        }
    }

    /// A status: what it holds is ignored on create and update.
    pub const fn status(name: &'static str) -> Msg {
        Msg {
            name,
            fields: &[],
            lenient: true,
        }
    }

    pub fn field(&self, num: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.num == num)
    }
}

/// A field.
pub const fn f(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        list: false,
        ptr: false,
    }
}

/// A repeated field.
pub const fn list(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        list: true,
        ptr: false,
    }
}

/// A pointer field: its zero value is kept.
pub const fn ptr(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        list: false,
        ptr: true,
    }
}

/// The kinds whose protobuf bodies are read: `apiVersion`, `kind`, message.
pub static ROOTS: &[(&str, &str, &Msg)] = &[
    ("v1", "Namespace", &core::NAMESPACE),
    ("v1", "ConfigMap", &core::CONFIG_MAP),
    ("v1", "Secret", &core::SECRET),
    ("v1", "ServiceAccount", &core::SERVICE_ACCOUNT),
    ("v1", "Service", &core::SERVICE),
    ("v1", "ResourceQuota", &core::RESOURCE_QUOTA),
    ("v1", "Pod", &pod::POD),
    ("apps/v1", "Deployment", &apps::DEPLOYMENT),
    ("batch/v1", "Job", &batch::JOB),
    ("batch/v1", "CronJob", &batch::CRON_JOB),
    (
        "policy/v1",
        "PodDisruptionBudget",
        &policy::POD_DISRUPTION_BUDGET,
    ),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        &scheduling::PRIORITY_CLASS,
    ),
    ("rbac.authorization.k8s.io/v1", "Role", &rbac::ROLE),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &rbac::CLUSTER_ROLE,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &rbac::ROLE_BINDING,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &rbac::CLUSTER_ROLE_BINDING,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        &authentication::TOKEN_REQUEST,
    ),
    (
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        &authentication::SELF_SUBJECT_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &authorization::SELF_SUBJECT_ACCESS_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        &authorization::SELF_SUBJECT_RULES_REVIEW,
    ),
];

/// The message of a served kind, by `apiVersion` and `kind`.
pub fn root(api_version: &str, kind: &str) -> Option<&'static Msg> {
    ROOTS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, msg)| *msg)
}
