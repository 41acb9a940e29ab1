//! `api/policy/v1`: pod disruption budgets.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::Ty::*;
use super::{f, ptr, Msg};

pub static POD_DISRUPTION_BUDGET: Msg = Msg::new(
    "PodDisruptionBudget",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&POD_DISRUPTION_BUDGET_SPEC)),
        f(3, "status", Msg(&POD_DISRUPTION_BUDGET_STATUS)),
    ],
);

pub static POD_DISRUPTION_BUDGET_SPEC: Msg = Msg::new(
    "PodDisruptionBudgetSpec",
    &[
        ptr(1, "minAvailable", IntOrString),
        f(2, "selector", Msg(&LABEL_SELECTOR)),
        ptr(3, "maxUnavailable", IntOrString),
        ptr(4, "unhealthyPodEvictionPolicy", Str),
    ],
);

pub static POD_DISRUPTION_BUDGET_STATUS: Msg = Msg::status("PodDisruptionBudgetStatus");
