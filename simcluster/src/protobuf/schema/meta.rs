//! `apimachinery/pkg/apis/meta/v1`: object metadata and label selectors.

use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static OBJECT_META: Msg = Msg::new(
    "ObjectMeta",
    &[
        f(1, "name", Str),
        f(2, "generateName", Str),
        f(3, "namespace", Str),
        f(4, "selfLink", Str),
        f(5, "uid", Str),
        f(6, "resourceVersion", Str),
        f(7, "generation", I64),
        f(8, "creationTimestamp", Time),
        f(9, "deletionTimestamp", Time),
        ptr(10, "deletionGracePeriodSeconds", I64),
        f(11, "labels", MapStr),
        f(12, "annotations", MapStr),
        list(13, "ownerReferences", Msg(&OWNER_REFERENCE)),
        list(14, "finalizers", Str),
    ],
);

pub static OWNER_REFERENCE: Msg = Msg::new(
    "OwnerReference",
    &[
        f(1, "kind", Str),
        f(3, "name", Str),
        f(4, "uid", Str),
        f(5, "apiVersion", Str),
        ptr(6, "controller", Bool),
        ptr(7, "blockOwnerDeletion", Bool),
    ],
);

pub static LABEL_SELECTOR: Msg = Msg::new(
    "LabelSelector",
    &[
        f(1, "matchLabels", MapStr),
        list(2, "matchExpressions", Msg(&LABEL_SELECTOR_REQUIREMENT)),
    ],
);

pub static LABEL_SELECTOR_REQUIREMENT: Msg = Msg::new(
    "LabelSelectorRequirement",
    &[
        f(1, "key", Str),
        f(2, "operator", Str),
        list(3, "values", Str),
    ],
);
