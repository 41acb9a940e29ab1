//! `api/authorization/v1`: the reviews `kubectl auth can-i` sends (one
//! request's access, or with `--list` the rules of a namespace).

use super::meta::{LABEL_SELECTOR_REQUIREMENT, OBJECT_META};
use super::Ty::*;
use super::{f, list, Msg};

pub static SELF_SUBJECT_ACCESS_REVIEW: Msg = Msg::new(
    "SelfSubjectAccessReview",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)),
        f(3, "status", Msg(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
);

pub static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Msg = Msg::new(
    "SelfSubjectAccessReviewSpec",
    &[
        f(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES)),
        f(2, "nonResourceAttributes", Msg(&NON_RESOURCE_ATTRIBUTES)),
    ],
);

pub static RESOURCE_ATTRIBUTES: Msg = Msg::new(
    "ResourceAttributes",
    &[
        f(1, "namespace", Str),
        f(2, "verb", Str),
        f(3, "group", Str),
        f(4, "version", Str),
        f(5, "resource", Str),
        f(6, "subresource", Str),
        f(7, "name", Str),
        f(8, "fieldSelector", Msg(&FIELD_SELECTOR_ATTRIBUTES)),
        f(9, "labelSelector", Msg(&LABEL_SELECTOR_ATTRIBUTES)),
    ],
);

pub static NON_RESOURCE_ATTRIBUTES: Msg = Msg::new(
    "NonResourceAttributes",
    &[f(1, "path", Str), f(2, "verb", Str)],
);

pub static FIELD_SELECTOR_ATTRIBUTES: Msg = Msg::new(
    "FieldSelectorAttributes",
    &[
        f(1, "rawSelector", Str),
        list(2, "requirements", Msg(&FIELD_SELECTOR_REQUIREMENT)),
    ],
);

pub static FIELD_SELECTOR_REQUIREMENT: Msg = Msg::new(
    "FieldSelectorRequirement",
    &[
        f(1, "key", Str),
        f(2, "operator", Str),
        list(3, "values", Str),
    ],
);

pub static LABEL_SELECTOR_ATTRIBUTES: Msg = Msg::new(
    "LabelSelectorAttributes",
    &[
        f(1, "rawSelector", Str),
        list(2, "requirements", Msg(&LABEL_SELECTOR_REQUIREMENT)),
    ],
);

pub static SUBJECT_ACCESS_REVIEW_STATUS: Msg = Msg::status("SubjectAccessReviewStatus");

pub static SELF_SUBJECT_RULES_REVIEW: Msg = Msg::new(
    "SelfSubjectRulesReview",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
        f(3, "status", Msg(&SUBJECT_RULES_REVIEW_STATUS)),
    ],
);

pub static SELF_SUBJECT_RULES_REVIEW_SPEC: Msg =
    Msg::new("SelfSubjectRulesReviewSpec", &[f(1, "namespace", Str)]);

pub static SUBJECT_RULES_REVIEW_STATUS: Msg = Msg::status("SubjectRulesReviewStatus");
