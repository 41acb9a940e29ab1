//! `api/core/v1`: namespaces, config maps, secrets, service accounts, services,
//! resource quotas, references.

use super::meta::OBJECT_META;
use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static NAMESPACE: Msg = Msg::new(
    "Namespace",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&NAMESPACE_SPEC)),
        f(3, "status", Msg(&NAMESPACE_STATUS)),
    ],
);

pub static NAMESPACE_SPEC: Msg = Msg::new("NamespaceSpec", &[list(1, "finalizers", Str)]);

pub static NAMESPACE_STATUS: Msg = Msg::status("NamespaceStatus");

pub static CONFIG_MAP: Msg = Msg::new(
    "ConfigMap",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "data", MapStr),
        f(3, "binaryData", MapBytes),
        ptr(4, "immutable", Bool),
    ],
);

pub static SECRET: Msg = Msg::new(
    "Secret",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "data", MapBytes),
        f(3, "type", Str),
        f(4, "stringData", MapStr),
        ptr(5, "immutable", Bool),
    ],
);

pub static SERVICE_ACCOUNT: Msg = Msg::new(
    "ServiceAccount",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        list(2, "secrets", Msg(&OBJECT_REFERENCE)),
        list(3, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
        ptr(4, "automountServiceAccountToken", Bool),
    ],
);

pub static SERVICE: Msg = Msg::new(
    "Service",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&SERVICE_SPEC)),
        f(3, "status", Msg(&SERVICE_STATUS)),
    ],
);

pub static SERVICE_SPEC: Msg = Msg::new(
    "ServiceSpec",
    &[
        list(1, "ports", Msg(&SERVICE_PORT)),
        f(2, "selector", MapStr),
        f(3, "clusterIP", Str),
        f(4, "type", Str),
        list(5, "externalIPs", Str),
        f(7, "sessionAffinity", Str),
        f(8, "loadBalancerIP", Str),
        list(9, "loadBalancerSourceRanges", Str),
        f(10, "externalName", Str),
        f(11, "externalTrafficPolicy", Str),
        f(12, "healthCheckNodePort", I32),
        f(13, "publishNotReadyAddresses", Bool),
        f(14, "sessionAffinityConfig", Msg(&SESSION_AFFINITY_CONFIG)),
        ptr(17, "ipFamilyPolicy", Str),
        list(18, "clusterIPs", Str),
        list(19, "ipFamilies", Str),
        ptr(20, "allocateLoadBalancerNodePorts", Bool),
        ptr(21, "loadBalancerClass", Str),
        ptr(22, "internalTrafficPolicy", Str),
        ptr(23, "trafficDistribution", Str),
    ],
);

pub static SERVICE_PORT: Msg = Msg::new(
    "ServicePort",
    &[
        f(1, "name", Str),
        f(2, "protocol", Str),
        f(3, "port", I32),
        f(4, "targetPort", IntOrString),
        f(5, "nodePort", I32),
        ptr(6, "appProtocol", Str),
    ],
);

pub static SESSION_AFFINITY_CONFIG: Msg = Msg::new(
    "SessionAffinityConfig",
    &[f(1, "clientIP", Msg(&CLIENT_IP_CONFIG))],
);

pub static CLIENT_IP_CONFIG: Msg = Msg::new("ClientIPConfig", &[ptr(1, "timeoutSeconds", I32)]);

pub static SERVICE_STATUS: Msg = Msg::status("ServiceStatus");

pub static OBJECT_REFERENCE: Msg = Msg::new(
    "ObjectReference",
    &[
        f(1, "kind", Str),
        f(2, "namespace", Str),
        f(3, "name", Str),
        f(4, "uid", Str),
        f(5, "apiVersion", Str),
        f(6, "resourceVersion", Str),
        f(7, "fieldPath", Str),
    ],
);

pub static LOCAL_OBJECT_REFERENCE: Msg = Msg::new("LocalObjectReference", &[f(1, "name", Str)]);

/// `kubectl create quota`: `hard`, `scopes` and a `scopeSelector`.
pub static RESOURCE_QUOTA: Msg = Msg::new(
    "ResourceQuota",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&RESOURCE_QUOTA_SPEC)),
        f(3, "status", Msg(&RESOURCE_QUOTA_STATUS)),
    ],
);

pub static RESOURCE_QUOTA_SPEC: Msg = Msg::new(
    "ResourceQuotaSpec",
    &[
        f(1, "hard", MapQuantity),
        list(2, "scopes", Str),
        f(3, "scopeSelector", Msg(&SCOPE_SELECTOR)),
    ],
);

pub static RESOURCE_QUOTA_STATUS: Msg = Msg::status("ResourceQuotaStatus");

pub static SCOPE_SELECTOR: Msg = Msg::new(
    "ScopeSelector",
    &[list(
        1,
        "matchExpressions",
        Msg(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
);

pub static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Msg = Msg::new(
    "ScopedResourceSelectorRequirement",
    &[
        f(1, "scopeName", Str),
        f(2, "operator", Str),
        list(3, "values", Str),
    ],
);
