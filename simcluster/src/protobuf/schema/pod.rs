//! `api/core/v1`: pods, pod templates and the pod spec's scheduling and security settings.

use super::container::{
    APP_ARMOR_PROFILE, CONTAINER, EPHEMERAL_CONTAINER, RESOURCE_REQUIREMENTS, SECCOMP_PROFILE,
    SE_LINUX_OPTIONS, WINDOWS_SECURITY_CONTEXT_OPTIONS,
};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::volumes::VOLUME;
use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static POD: Msg = Msg::new(
    "Pod",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&POD_SPEC)),
        f(3, "status", Msg(&POD_STATUS)),
    ],
);

pub static POD_STATUS: Msg = Msg::status("PodStatus");

pub static POD_TEMPLATE_SPEC: Msg = Msg::new(
    "PodTemplateSpec",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&POD_SPEC)),
    ],
);

pub static POD_SPEC: Msg = Msg::new(
    "PodSpec",
    &[
        list(1, "volumes", Msg(&VOLUME)),
        list(2, "containers", Msg(&CONTAINER)),
        f(3, "restartPolicy", Str),
        ptr(4, "terminationGracePeriodSeconds", I64),
        ptr(5, "activeDeadlineSeconds", I64),
        f(6, "dnsPolicy", Str),
        f(7, "nodeSelector", MapStr),
        f(8, "serviceAccountName", Str),
        f(9, "serviceAccount", Str),
        f(10, "nodeName", Str),
        f(11, "hostNetwork", Bool),
        f(12, "hostPID", Bool),
        f(13, "hostIPC", Bool),
        f(14, "securityContext", Msg(&POD_SECURITY_CONTEXT)),
        list(15, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
        f(16, "hostname", Str),
        f(17, "subdomain", Str),
        f(18, "affinity", Msg(&AFFINITY)),
        f(19, "schedulerName", Str),
        list(20, "initContainers", Msg(&CONTAINER)),
        ptr(21, "automountServiceAccountToken", Bool),
        list(22, "tolerations", Msg(&TOLERATION)),
        list(23, "hostAliases", Msg(&HOST_ALIAS)),
        f(24, "priorityClassName", Str),
        ptr(25, "priority", I32),
        f(26, "dnsConfig", Msg(&POD_DNS_CONFIG)),
        ptr(27, "shareProcessNamespace", Bool),
        list(28, "readinessGates", Msg(&POD_READINESS_GATE)),
        ptr(29, "runtimeClassName", Str),
        ptr(30, "enableServiceLinks", Bool),
        ptr(31, "preemptionPolicy", Str),
        f(32, "overhead", MapQuantity),
        list(
            33,
            "topologySpreadConstraints",
            Msg(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        list(34, "ephemeralContainers", Msg(&EPHEMERAL_CONTAINER)),
        ptr(35, "setHostnameAsFQDN", Bool),
        f(36, "os", Msg(&POD_OS)),
        ptr(37, "hostUsers", Bool),
        list(38, "schedulingGates", Msg(&POD_SCHEDULING_GATE)),
        list(39, "resourceClaims", Msg(&POD_RESOURCE_CLAIM)),
        f(40, "resources", Msg(&RESOURCE_REQUIREMENTS)),
        ptr(41, "hostnameOverride", Str),
        f(43, "schedulingGroup", Msg(&POD_SCHEDULING_GROUP)),
    ],
);

pub static POD_SECURITY_CONTEXT: Msg = Msg::new(
    "PodSecurityContext",
    &[
        f(1, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS)),
        ptr(2, "runAsUser", I64),
        ptr(3, "runAsNonRoot", Bool),
        list(4, "supplementalGroups", I64),
        ptr(5, "fsGroup", I64),
        ptr(6, "runAsGroup", I64),
        list(7, "sysctls", Msg(&SYSCTL)),
        f(8, "windowsOptions", Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        ptr(9, "fsGroupChangePolicy", Str),
        f(10, "seccompProfile", Msg(&SECCOMP_PROFILE)),
        f(11, "appArmorProfile", Msg(&APP_ARMOR_PROFILE)),
        ptr(12, "supplementalGroupsPolicy", Str),
        ptr(13, "seLinuxChangePolicy", Str),
    ],
);

pub static SYSCTL: Msg = Msg::new("Sysctl", &[f(1, "name", Str), f(2, "value", Str)]);

pub static TOLERATION: Msg = Msg::new(
    "Toleration",
    &[
        f(1, "key", Str),
        f(2, "operator", Str),
        f(3, "value", Str),
        f(4, "effect", Str),
        ptr(5, "tolerationSeconds", I64),
    ],
);

pub static HOST_ALIAS: Msg = Msg::new("HostAlias", &[f(1, "ip", Str), list(2, "hostnames", Str)]);

pub static POD_DNS_CONFIG: Msg = Msg::new(
    "PodDNSConfig",
    &[
        list(1, "nameservers", Str),
        list(2, "searches", Str),
        list(3, "options", Msg(&POD_DNS_CONFIG_OPTION)),
    ],
);

pub static POD_DNS_CONFIG_OPTION: Msg = Msg::new(
    "PodDNSConfigOption",
    &[f(1, "name", Str), ptr(2, "value", Str)],
);

pub static POD_READINESS_GATE: Msg = Msg::new("PodReadinessGate", &[f(1, "conditionType", Str)]);

pub static TOPOLOGY_SPREAD_CONSTRAINT: Msg = Msg::new(
    "TopologySpreadConstraint",
    &[
        f(1, "maxSkew", I32),
        f(2, "topologyKey", Str),
        f(3, "whenUnsatisfiable", Str),
        f(4, "labelSelector", Msg(&LABEL_SELECTOR)),
        ptr(5, "minDomains", I32),
        ptr(6, "nodeAffinityPolicy", Str),
        ptr(7, "nodeTaintsPolicy", Str),
        list(8, "matchLabelKeys", Str),
    ],
);

pub static POD_OS: Msg = Msg::new("PodOS", &[f(1, "name", Str)]);

pub static POD_SCHEDULING_GATE: Msg = Msg::new("PodSchedulingGate", &[f(1, "name", Str)]);

pub static POD_SCHEDULING_GROUP: Msg =
    Msg::new("PodSchedulingGroup", &[ptr(1, "podGroupName", Str)]);

pub static POD_RESOURCE_CLAIM: Msg = Msg::new(
    "PodResourceClaim",
    &[
        f(1, "name", Str),
        ptr(3, "resourceClaimName", Str),
        ptr(4, "resourceClaimTemplateName", Str),
    ],
);

pub static AFFINITY: Msg = Msg::new(
    "Affinity",
    &[
        f(1, "nodeAffinity", Msg(&NODE_AFFINITY)),
        f(2, "podAffinity", Msg(&POD_AFFINITY)),
        f(3, "podAntiAffinity", Msg(&POD_ANTI_AFFINITY)),
    ],
);

pub static NODE_AFFINITY: Msg = Msg::new(
    "NodeAffinity",
    &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&NODE_SELECTOR),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&PREFERRED_SCHEDULING_TERM),
        ),
    ],
);

pub static NODE_SELECTOR: Msg = Msg::new(
    "NodeSelector",
    &[list(1, "nodeSelectorTerms", Msg(&NODE_SELECTOR_TERM))],
);

pub static NODE_SELECTOR_TERM: Msg = Msg::new(
    "NodeSelectorTerm",
    &[
        list(1, "matchExpressions", Msg(&NODE_SELECTOR_REQUIREMENT)),
        list(2, "matchFields", Msg(&NODE_SELECTOR_REQUIREMENT)),
    ],
);

pub static NODE_SELECTOR_REQUIREMENT: Msg = Msg::new(
    "NodeSelectorRequirement",
    &[
        f(1, "key", Str),
        f(2, "operator", Str),
        list(3, "values", Str),
    ],
);

pub static PREFERRED_SCHEDULING_TERM: Msg = Msg::new(
    "PreferredSchedulingTerm",
    &[
        f(1, "weight", I32),
        f(2, "preference", Msg(&NODE_SELECTOR_TERM)),
    ],
);

pub static POD_AFFINITY: Msg = Msg::new(
    "PodAffinity",
    &[
        list(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
);

pub static POD_ANTI_AFFINITY: Msg = Msg::new(
    "PodAntiAffinity",
    &[
        list(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
);

pub static POD_AFFINITY_TERM: Msg = Msg::new(
    "PodAffinityTerm",
    &[
        f(1, "labelSelector", Msg(&LABEL_SELECTOR)),
        list(2, "namespaces", Str),
        f(3, "topologyKey", Str),
        f(4, "namespaceSelector", Msg(&LABEL_SELECTOR)),
        list(5, "matchLabelKeys", Str),
        list(6, "mismatchLabelKeys", Str),
    ],
);

pub static WEIGHTED_POD_AFFINITY_TERM: Msg = Msg::new(
    "WeightedPodAffinityTerm",
    &[
        f(1, "weight", I32),
        f(2, "podAffinityTerm", Msg(&POD_AFFINITY_TERM)),
    ],
);
