//! `api/scheduling/v1`: priority classes.

use super::meta::OBJECT_META;
use super::Ty::*;
use super::{f, ptr, Msg};

pub static PRIORITY_CLASS: Msg = Msg::new(
    "PriorityClass",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "value", I32),
        f(3, "globalDefault", Bool),
        f(4, "description", Str),
        ptr(5, "preemptionPolicy", Str),
    ],
);
