//! `api/apps/v1`: deployments.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::Ty::*;
use super::{f, ptr, Msg};

pub static DEPLOYMENT: Msg = Msg::new(
    "Deployment",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&DEPLOYMENT_SPEC)),
        f(3, "status", Msg(&DEPLOYMENT_STATUS)),
    ],
);

pub static DEPLOYMENT_SPEC: Msg = Msg::new(
    "DeploymentSpec",
    &[
        ptr(1, "replicas", I32),
        f(2, "selector", Msg(&LABEL_SELECTOR)),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC)),
        f(4, "strategy", Msg(&DEPLOYMENT_STRATEGY)),
        f(5, "minReadySeconds", I32),
        ptr(6, "revisionHistoryLimit", I32),
        f(7, "paused", Bool),
        ptr(9, "progressDeadlineSeconds", I32),
    ],
);

pub static DEPLOYMENT_STRATEGY: Msg = Msg::new(
    "DeploymentStrategy",
    &[
        f(1, "type", Str),
        f(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DEPLOYMENT)),
    ],
);

pub static ROLLING_UPDATE_DEPLOYMENT: Msg = Msg::new(
    "RollingUpdateDeployment",
    &[
        ptr(1, "maxUnavailable", IntOrString),
        ptr(2, "maxSurge", IntOrString),
    ],
);

pub static DEPLOYMENT_STATUS: Msg = Msg::status("DeploymentStatus");
