//! `api/rbac/v1`: roles, cluster roles and their bindings, as
//! `kubectl create role|clusterrole|rolebinding|clusterrolebinding` send them.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::Ty::*;
use super::{f, list, Msg};

pub static ROLE: Msg = Msg::new(
    "Role",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        list(2, "rules", Msg(&POLICY_RULE)),
    ],
);

pub static CLUSTER_ROLE: Msg = Msg::new(
    "ClusterRole",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        list(2, "rules", Msg(&POLICY_RULE)),
        f(3, "aggregationRule", Msg(&AGGREGATION_RULE)),
    ],
);

pub static ROLE_BINDING: Msg = Msg::new(
    "RoleBinding",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        list(2, "subjects", Msg(&SUBJECT)),
        f(3, "roleRef", Msg(&ROLE_REF)),
    ],
);

pub static CLUSTER_ROLE_BINDING: Msg = Msg::new(
    "ClusterRoleBinding",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        list(2, "subjects", Msg(&SUBJECT)),
        f(3, "roleRef", Msg(&ROLE_REF)),
    ],
);

pub static POLICY_RULE: Msg = Msg::new(
    "PolicyRule",
    &[
        list(1, "verbs", Str),
        list(2, "apiGroups", Str),
        list(3, "resources", Str),
        list(4, "resourceNames", Str),
        list(5, "nonResourceURLs", Str),
    ],
);

pub static AGGREGATION_RULE: Msg = Msg::new(
    "AggregationRule",
    &[list(1, "clusterRoleSelectors", Msg(&LABEL_SELECTOR))],
);

pub static SUBJECT: Msg = Msg::new(
    "Subject",
    &[
        f(1, "kind", Str),
        f(2, "apiGroup", Str),
        f(3, "name", Str),
        f(4, "namespace", Str),
    ],
);

pub static ROLE_REF: Msg = Msg::new(
    "RoleRef",
    &[f(1, "apiGroup", Str), f(2, "kind", Str), f(3, "name", Str)],
);
