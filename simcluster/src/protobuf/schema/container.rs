//! `api/core/v1`: containers and what they hold (ports, environment, resources, probes, security).

use super::core::LOCAL_OBJECT_REFERENCE;
use super::Ty::*;
use super::{f, list, ptr, Field, Msg};

pub static CONTAINER: Msg = Msg::new("Container", &CONTAINER_FIELDS);

/// The fields of a `Container`, which an `EphemeralContainerCommon` repeats.
static CONTAINER_FIELDS: [Field; 25] = [
    f(1, "name", Str),
    f(2, "image", Str),
    list(3, "command", Str),
    list(4, "args", Str),
    f(5, "workingDir", Str),
    list(6, "ports", Msg(&CONTAINER_PORT)),
    list(7, "env", Msg(&ENV_VAR)),
    f(8, "resources", Msg(&RESOURCE_REQUIREMENTS)),
    list(9, "volumeMounts", Msg(&VOLUME_MOUNT)),
    f(10, "livenessProbe", Msg(&PROBE)),
    f(11, "readinessProbe", Msg(&PROBE)),
    f(12, "lifecycle", Msg(&LIFECYCLE)),
    f(13, "terminationMessagePath", Str),
    f(14, "imagePullPolicy", Str),
    f(15, "securityContext", Msg(&SECURITY_CONTEXT)),
    f(16, "stdin", Bool),
    f(17, "stdinOnce", Bool),
    f(18, "tty", Bool),
    list(19, "envFrom", Msg(&ENV_FROM_SOURCE)),
    f(20, "terminationMessagePolicy", Str),
    list(21, "volumeDevices", Msg(&VOLUME_DEVICE)),
    f(22, "startupProbe", Msg(&PROBE)),
    list(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY)),
    ptr(24, "restartPolicy", Str),
    list(25, "restartPolicyRules", Msg(&CONTAINER_RESTART_RULE)),
];

pub static EPHEMERAL_CONTAINER: Msg = Msg::new(
    "EphemeralContainer",
    &[
        f(
            1,
            "ephemeralContainerCommon",
            Inline(&EPHEMERAL_CONTAINER_COMMON),
        ),
        f(2, "targetContainerName", Str),
    ],
);

pub static EPHEMERAL_CONTAINER_COMMON: Msg =
    Msg::new("EphemeralContainerCommon", &CONTAINER_FIELDS);

pub static CONTAINER_PORT: Msg = Msg::new(
    "ContainerPort",
    &[
        f(1, "name", Str),
        f(2, "hostPort", I32),
        f(3, "containerPort", I32),
        f(4, "protocol", Str),
        f(5, "hostIP", Str),
    ],
);

pub static ENV_VAR: Msg = Msg::new(
    "EnvVar",
    &[
        f(1, "name", Str),
        f(2, "value", Str),
        f(3, "valueFrom", Msg(&ENV_VAR_SOURCE)),
    ],
);

pub static ENV_VAR_SOURCE: Msg = Msg::new(
    "EnvVarSource",
    &[
        f(1, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR)),
        f(2, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR)),
        f(3, "configMapKeyRef", Msg(&CONFIG_MAP_KEY_SELECTOR)),
        f(4, "secretKeyRef", Msg(&SECRET_KEY_SELECTOR)),
        f(5, "fileKeyRef", Msg(&FILE_KEY_SELECTOR)),
    ],
);

pub static OBJECT_FIELD_SELECTOR: Msg = Msg::new(
    "ObjectFieldSelector",
    &[f(1, "apiVersion", Str), f(2, "fieldPath", Str)],
);

pub static RESOURCE_FIELD_SELECTOR: Msg = Msg::new(
    "ResourceFieldSelector",
    &[
        f(1, "containerName", Str),
        f(2, "resource", Str),
        f(3, "divisor", Quantity),
    ],
);

pub static CONFIG_MAP_KEY_SELECTOR: Msg = Msg::new(
    "ConfigMapKeySelector",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        f(2, "key", Str),
        ptr(3, "optional", Bool),
    ],
);

pub static SECRET_KEY_SELECTOR: Msg = Msg::new(
    "SecretKeySelector",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        f(2, "key", Str),
        ptr(3, "optional", Bool),
    ],
);

pub static FILE_KEY_SELECTOR: Msg = Msg::new(
    "FileKeySelector",
    &[
        f(1, "volumeName", Str),
        f(2, "path", Str),
        f(3, "key", Str),
        ptr(4, "optional", Bool),
    ],
);

pub static ENV_FROM_SOURCE: Msg = Msg::new(
    "EnvFromSource",
    &[
        f(1, "prefix", Str),
        f(2, "configMapRef", Msg(&CONFIG_MAP_ENV_SOURCE)),
        f(3, "secretRef", Msg(&SECRET_ENV_SOURCE)),
    ],
);

pub static CONFIG_MAP_ENV_SOURCE: Msg = Msg::new(
    "ConfigMapEnvSource",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        ptr(2, "optional", Bool),
    ],
);

pub static SECRET_ENV_SOURCE: Msg = Msg::new(
    "SecretEnvSource",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        ptr(2, "optional", Bool),
    ],
);

pub static RESOURCE_REQUIREMENTS: Msg = Msg::new(
    "ResourceRequirements",
    &[
        f(1, "limits", MapQuantity),
        f(2, "requests", MapQuantity),
        list(3, "claims", Msg(&RESOURCE_CLAIM)),
    ],
);

pub static RESOURCE_CLAIM: Msg =
    Msg::new("ResourceClaim", &[f(1, "name", Str), f(2, "request", Str)]);

pub static VOLUME_MOUNT: Msg = Msg::new(
    "VolumeMount",
    &[
        f(1, "name", Str),
        f(2, "readOnly", Bool),
        f(3, "mountPath", Str),
        f(4, "subPath", Str),
        ptr(5, "mountPropagation", Str),
        f(6, "subPathExpr", Str),
        ptr(7, "recursiveReadOnly", Str),
    ],
);

pub static VOLUME_DEVICE: Msg = Msg::new(
    "VolumeDevice",
    &[f(1, "name", Str), f(2, "devicePath", Str)],
);

pub static CONTAINER_RESIZE_POLICY: Msg = Msg::new(
    "ContainerResizePolicy",
    &[f(1, "resourceName", Str), f(2, "restartPolicy", Str)],
);

pub static CONTAINER_RESTART_RULE: Msg = Msg::new(
    "ContainerRestartRule",
    &[
        f(1, "action", Str),
        f(2, "exitCodes", Msg(&CONTAINER_RESTART_RULE_ON_EXIT_CODES)),
    ],
);

pub static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Msg = Msg::new(
    "ContainerRestartRuleOnExitCodes",
    &[f(1, "operator", Str), list(2, "values", I32)],
);

pub static PROBE: Msg = Msg::new(
    "Probe",
    &[
        f(1, "handler", Inline(&PROBE_HANDLER)),
        f(2, "initialDelaySeconds", I32),
        f(3, "timeoutSeconds", I32),
        f(4, "periodSeconds", I32),
        f(5, "successThreshold", I32),
        f(6, "failureThreshold", I32),
        ptr(7, "terminationGracePeriodSeconds", I64),
    ],
);

pub static PROBE_HANDLER: Msg = Msg::new(
    "ProbeHandler",
    &[
        f(1, "exec", Msg(&EXEC_ACTION)),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION)),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION)),
        f(4, "grpc", Msg(&GRPC_ACTION)),
    ],
);

pub static EXEC_ACTION: Msg = Msg::new("ExecAction", &[list(1, "command", Str)]);

pub static HTTP_GET_ACTION: Msg = Msg::new(
    "HTTPGetAction",
    &[
        f(1, "path", Str),
        f(2, "port", IntOrString),
        f(3, "host", Str),
        f(4, "scheme", Str),
        list(5, "httpHeaders", Msg(&HTTP_HEADER)),
    ],
);

pub static HTTP_HEADER: Msg = Msg::new("HTTPHeader", &[f(1, "name", Str), f(2, "value", Str)]);

pub static TCP_SOCKET_ACTION: Msg = Msg::new(
    "TCPSocketAction",
    &[f(1, "port", IntOrString), f(2, "host", Str)],
);

pub static GRPC_ACTION: Msg = Msg::new("GRPCAction", &[f(1, "port", I32), ptr(2, "service", Str)]);

pub static LIFECYCLE: Msg = Msg::new(
    "Lifecycle",
    &[
        f(1, "postStart", Msg(&LIFECYCLE_HANDLER)),
        f(2, "preStop", Msg(&LIFECYCLE_HANDLER)),
        ptr(3, "stopSignal", Str),
    ],
);

pub static LIFECYCLE_HANDLER: Msg = Msg::new(
    "LifecycleHandler",
    &[
        f(1, "exec", Msg(&EXEC_ACTION)),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION)),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION)),
        f(4, "sleep", Msg(&SLEEP_ACTION)),
    ],
);

pub static SLEEP_ACTION: Msg = Msg::new("SleepAction", &[f(1, "seconds", I64)]);

pub static SECURITY_CONTEXT: Msg = Msg::new(
    "SecurityContext",
    &[
        f(1, "capabilities", Msg(&CAPABILITIES)),
        ptr(2, "privileged", Bool),
        f(3, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS)),
        ptr(4, "runAsUser", I64),
        ptr(5, "runAsNonRoot", Bool),
        ptr(6, "readOnlyRootFilesystem", Bool),
        ptr(7, "allowPrivilegeEscalation", Bool),
        ptr(8, "runAsGroup", I64),
        ptr(9, "procMount", Str),
        f(10, "windowsOptions", Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        f(11, "seccompProfile", Msg(&SECCOMP_PROFILE)),
        f(12, "appArmorProfile", Msg(&APP_ARMOR_PROFILE)),
    ],
);

pub static CAPABILITIES: Msg =
    Msg::new("Capabilities", &[list(1, "add", Str), list(2, "drop", Str)]);

pub static SE_LINUX_OPTIONS: Msg = Msg::new(
    "SELinuxOptions",
    &[
        f(1, "user", Str),
        f(2, "role", Str),
        f(3, "type", Str),
        f(4, "level", Str),
    ],
);

pub static SECCOMP_PROFILE: Msg = Msg::new(
    "SeccompProfile",
    &[f(1, "type", Str), ptr(2, "localhostProfile", Str)],
);

pub static APP_ARMOR_PROFILE: Msg = Msg::new(
    "AppArmorProfile",
    &[f(1, "type", Str), ptr(2, "localhostProfile", Str)],
);

pub static WINDOWS_SECURITY_CONTEXT_OPTIONS: Msg = Msg::new(
    "WindowsSecurityContextOptions",
    &[
        ptr(1, "gmsaCredentialSpecName", Str),
        ptr(2, "gmsaCredentialSpec", Str),
        ptr(3, "runAsUserName", Str),
        ptr(4, "hostProcess", Bool),
    ],
);
