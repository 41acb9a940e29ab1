//! `api/authentication/v1`: the token request `kubectl create token` sends
//! and the review `kubectl auth whoami` sends.

use super::meta::OBJECT_META;
use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static TOKEN_REQUEST: Msg = Msg::new(
    "TokenRequest",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&TOKEN_REQUEST_SPEC)),
        f(3, "status", Msg(&TOKEN_REQUEST_STATUS)),
    ],
);

pub static TOKEN_REQUEST_SPEC: Msg = Msg::new(
    "TokenRequestSpec",
    &[
        list(1, "audiences", Str),
        f(3, "boundObjectRef", Msg(&BOUND_OBJECT_REFERENCE)),
        ptr(4, "expirationSeconds", I64),
    ],
);

pub static BOUND_OBJECT_REFERENCE: Msg = Msg::new(
    "BoundObjectReference",
    &[
        f(1, "kind", Str),
        f(2, "apiVersion", Str),
        f(3, "name", Str),
        f(4, "uid", Str),
    ],
);

pub static TOKEN_REQUEST_STATUS: Msg = Msg::status("TokenRequestStatus");

pub static SELF_SUBJECT_REVIEW: Msg = Msg::new(
    "SelfSubjectReview",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "status", Msg(&SELF_SUBJECT_REVIEW_STATUS)),
    ],
);

pub static SELF_SUBJECT_REVIEW_STATUS: Msg = Msg::status("SelfSubjectReviewStatus");
