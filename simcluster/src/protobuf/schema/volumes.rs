//! `api/core/v1`: pod volumes and the volume sources a pod spec may use here.

use super::container::{OBJECT_FIELD_SELECTOR, RESOURCE_FIELD_SELECTOR};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static VOLUME: Msg = Msg::new(
    "Volume",
    &[
        f(1, "name", Str),
        f(2, "volumeSource", Inline(&VOLUME_SOURCE)),
    ],
);

/// The sources listed; the others (cloud disks, iSCSI, Ceph, ...) are refused.
pub static VOLUME_SOURCE: Msg = Msg::new(
    "VolumeSource",
    &[
        f(1, "hostPath", Msg(&HOST_PATH_VOLUME_SOURCE)),
        f(2, "emptyDir", Msg(&EMPTY_DIR_VOLUME_SOURCE)),
        f(6, "secret", Msg(&SECRET_VOLUME_SOURCE)),
        f(7, "nfs", Msg(&NFS_VOLUME_SOURCE)),
        f(
            10,
            "persistentVolumeClaim",
            Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
        ),
        f(16, "downwardAPI", Msg(&DOWNWARD_API_VOLUME_SOURCE)),
        f(19, "configMap", Msg(&CONFIG_MAP_VOLUME_SOURCE)),
        f(26, "projected", Msg(&PROJECTED_VOLUME_SOURCE)),
        f(28, "csi", Msg(&CSI_VOLUME_SOURCE)),
        f(29, "ephemeral", Msg(&EPHEMERAL_VOLUME_SOURCE)),
        f(30, "image", Msg(&IMAGE_VOLUME_SOURCE)),
    ],
);

pub static HOST_PATH_VOLUME_SOURCE: Msg = Msg::new(
    "HostPathVolumeSource",
    &[f(1, "path", Str), ptr(2, "type", Str)],
);

pub static EMPTY_DIR_VOLUME_SOURCE: Msg = Msg::new(
    "EmptyDirVolumeSource",
    &[f(1, "medium", Str), ptr(2, "sizeLimit", Quantity)],
);

pub static SECRET_VOLUME_SOURCE: Msg = Msg::new(
    "SecretVolumeSource",
    &[
        f(1, "secretName", Str),
        list(2, "items", Msg(&KEY_TO_PATH)),
        ptr(3, "defaultMode", I32),
        ptr(4, "optional", Bool),
    ],
);

pub static NFS_VOLUME_SOURCE: Msg = Msg::new(
    "NFSVolumeSource",
    &[
        f(1, "server", Str),
        f(2, "path", Str),
        f(3, "readOnly", Bool),
    ],
);

pub static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Msg = Msg::new(
    "PersistentVolumeClaimVolumeSource",
    &[f(1, "claimName", Str), f(2, "readOnly", Bool)],
);

pub static DOWNWARD_API_VOLUME_SOURCE: Msg = Msg::new(
    "DownwardAPIVolumeSource",
    &[
        list(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE)),
        ptr(2, "defaultMode", I32),
    ],
);

pub static DOWNWARD_API_VOLUME_FILE: Msg = Msg::new(
    "DownwardAPIVolumeFile",
    &[
        f(1, "path", Str),
        f(2, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR)),
        f(3, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR)),
        ptr(4, "mode", I32),
    ],
);

pub static CONFIG_MAP_VOLUME_SOURCE: Msg = Msg::new(
    "ConfigMapVolumeSource",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        list(2, "items", Msg(&KEY_TO_PATH)),
        ptr(3, "defaultMode", I32),
        ptr(4, "optional", Bool),
    ],
);

pub static KEY_TO_PATH: Msg = Msg::new(
    "KeyToPath",
    &[f(1, "key", Str), f(2, "path", Str), ptr(3, "mode", I32)],
);

pub static PROJECTED_VOLUME_SOURCE: Msg = Msg::new(
    "ProjectedVolumeSource",
    &[
        list(1, "sources", Msg(&VOLUME_PROJECTION)),
        ptr(2, "defaultMode", I32),
    ],
);

pub static VOLUME_PROJECTION: Msg = Msg::new(
    "VolumeProjection",
    &[
        f(1, "secret", Msg(&SECRET_PROJECTION)),
        f(2, "downwardAPI", Msg(&DOWNWARD_API_PROJECTION)),
        f(3, "configMap", Msg(&CONFIG_MAP_PROJECTION)),
        f(
            4,
            "serviceAccountToken",
            Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
        ),
        f(
            5,
            "clusterTrustBundle",
            Msg(&CLUSTER_TRUST_BUNDLE_PROJECTION),
        ),
        f(6, "podCertificate", Msg(&POD_CERTIFICATE_PROJECTION)),
    ],
);

pub static SECRET_PROJECTION: Msg = Msg::new(
    "SecretProjection",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        list(2, "items", Msg(&KEY_TO_PATH)),
        ptr(4, "optional", Bool),
    ],
);

pub static DOWNWARD_API_PROJECTION: Msg = Msg::new(
    "DownwardAPIProjection",
    &[list(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE))],
);

pub static CONFIG_MAP_PROJECTION: Msg = Msg::new(
    "ConfigMapProjection",
    &[
        f(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        list(2, "items", Msg(&KEY_TO_PATH)),
        ptr(4, "optional", Bool),
    ],
);

pub static SERVICE_ACCOUNT_TOKEN_PROJECTION: Msg = Msg::new(
    "ServiceAccountTokenProjection",
    &[
        f(1, "audience", Str),
        ptr(2, "expirationSeconds", I64),
        f(3, "path", Str),
    ],
);

pub static CLUSTER_TRUST_BUNDLE_PROJECTION: Msg = Msg::new(
    "ClusterTrustBundleProjection",
    &[
        ptr(1, "name", Str),
        ptr(2, "signerName", Str),
        f(3, "labelSelector", Msg(&LABEL_SELECTOR)),
        f(4, "path", Str),
        ptr(5, "optional", Bool),
    ],
);

pub static POD_CERTIFICATE_PROJECTION: Msg = Msg::new(
    "PodCertificateProjection",
    &[
        f(1, "signerName", Str),
        f(2, "keyType", Str),
        ptr(3, "maxExpirationSeconds", I32),
        f(4, "credentialBundlePath", Str),
        f(5, "keyPath", Str),
        f(6, "certificateChainPath", Str),
        f(7, "userAnnotations", MapStr),
    ],
);

pub static CSI_VOLUME_SOURCE: Msg = Msg::new(
    "CSIVolumeSource",
    &[
        f(1, "driver", Str),
        ptr(2, "readOnly", Bool),
        ptr(3, "fsType", Str),
        f(4, "volumeAttributes", MapStr),
        f(5, "nodePublishSecretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
    ],
);

pub static EPHEMERAL_VOLUME_SOURCE: Msg = Msg::new(
    "EphemeralVolumeSource",
    &[f(
        1,
        "volumeClaimTemplate",
        Msg(&PERSISTENT_VOLUME_CLAIM_TEMPLATE),
    )],
);

pub static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Msg = Msg::new(
    "PersistentVolumeClaimTemplate",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
);

pub static PERSISTENT_VOLUME_CLAIM_SPEC: Msg = Msg::new(
    "PersistentVolumeClaimSpec",
    &[
        list(1, "accessModes", Str),
        f(2, "resources", Msg(&VOLUME_RESOURCE_REQUIREMENTS)),
        f(3, "volumeName", Str),
        f(4, "selector", Msg(&LABEL_SELECTOR)),
        ptr(5, "storageClassName", Str),
        ptr(6, "volumeMode", Str),
        f(7, "dataSource", Msg(&TYPED_LOCAL_OBJECT_REFERENCE)),
        f(8, "dataSourceRef", Msg(&TYPED_OBJECT_REFERENCE)),
        ptr(9, "volumeAttributesClassName", Str),
    ],
);

pub static VOLUME_RESOURCE_REQUIREMENTS: Msg = Msg::new(
    "VolumeResourceRequirements",
    &[f(1, "limits", MapQuantity), f(2, "requests", MapQuantity)],
);

pub static TYPED_LOCAL_OBJECT_REFERENCE: Msg = Msg::new(
    "TypedLocalObjectReference",
    &[
        ptr(1, "apiGroup", Str),
        f(2, "kind", Str),
        f(3, "name", Str),
    ],
);

pub static TYPED_OBJECT_REFERENCE: Msg = Msg::new(
    "TypedObjectReference",
    &[
        ptr(1, "apiGroup", Str),
        f(2, "kind", Str),
        f(3, "name", Str),
        ptr(4, "namespace", Str),
    ],
);

pub static IMAGE_VOLUME_SOURCE: Msg = Msg::new(
    "ImageVolumeSource",
    &[f(1, "reference", Str), f(2, "pullPolicy", Str)],
);
