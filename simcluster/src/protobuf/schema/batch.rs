//! `api/batch/v1`: jobs and cron jobs.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::Ty::*;
use super::{f, list, ptr, Msg};

pub static JOB: Msg = Msg::new(
    "Job",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&JOB_SPEC)),
        f(3, "status", Msg(&JOB_STATUS)),
    ],
);

pub static JOB_SPEC: Msg = Msg::new(
    "JobSpec",
    &[
        ptr(1, "parallelism", I32),
        ptr(2, "completions", I32),
        ptr(3, "activeDeadlineSeconds", I64),
        f(4, "selector", Msg(&LABEL_SELECTOR)),
        ptr(5, "manualSelector", Bool),
        f(6, "template", Msg(&POD_TEMPLATE_SPEC)),
        ptr(7, "backoffLimit", I32),
        ptr(8, "ttlSecondsAfterFinished", I32),
        ptr(9, "completionMode", Str),
        ptr(10, "suspend", Bool),
        f(11, "podFailurePolicy", Msg(&POD_FAILURE_POLICY)),
        ptr(12, "backoffLimitPerIndex", I32),
        ptr(13, "maxFailedIndexes", I32),
        ptr(14, "podReplacementPolicy", Str),
        ptr(15, "managedBy", Str),
        f(16, "successPolicy", Msg(&SUCCESS_POLICY)),
    ],
);

pub static POD_FAILURE_POLICY: Msg = Msg::new(
    "PodFailurePolicy",
    &[list(1, "rules", Msg(&POD_FAILURE_POLICY_RULE))],
);

pub static POD_FAILURE_POLICY_RULE: Msg = Msg::new(
    "PodFailurePolicyRule",
    &[
        f(1, "action", Str),
        f(
            2,
            "onExitCodes",
            Msg(&POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
        ),
        list(
            3,
            "onPodConditions",
            Msg(&POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
        ),
    ],
);

pub static POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: Msg = Msg::new(
    "PodFailurePolicyOnExitCodesRequirement",
    &[
        ptr(1, "containerName", Str),
        f(2, "operator", Str),
        list(3, "values", I32),
    ],
);

pub static POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: Msg = Msg::new(
    "PodFailurePolicyOnPodConditionsPattern",
    &[f(1, "type", Str), f(2, "status", Str)],
);

pub static SUCCESS_POLICY: Msg = Msg::new(
    "SuccessPolicy",
    &[list(1, "rules", Msg(&SUCCESS_POLICY_RULE))],
);

pub static SUCCESS_POLICY_RULE: Msg = Msg::new(
    "SuccessPolicyRule",
    &[
        ptr(1, "succeededIndexes", Str),
        ptr(2, "succeededCount", I32),
    ],
);

pub static JOB_STATUS: Msg = Msg::status("JobStatus");

pub static CRON_JOB: Msg = Msg::new(
    "CronJob",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&CRON_JOB_SPEC)),
        f(3, "status", Msg(&CRON_JOB_STATUS)),
    ],
);

pub static CRON_JOB_SPEC: Msg = Msg::new(
    "CronJobSpec",
    &[
        f(1, "schedule", Str),
        ptr(2, "startingDeadlineSeconds", I64),
        f(3, "concurrencyPolicy", Str),
        ptr(4, "suspend", Bool),
        f(5, "jobTemplate", Msg(&JOB_TEMPLATE_SPEC)),
        ptr(6, "successfulJobsHistoryLimit", I32),
        ptr(7, "failedJobsHistoryLimit", I32),
        ptr(8, "timeZone", Str),
    ],
);

pub static JOB_TEMPLATE_SPEC: Msg = Msg::new(
    "JobTemplateSpec",
    &[
        f(1, "metadata", Msg(&OBJECT_META)),
        f(2, "spec", Msg(&JOB_SPEC)),
    ],
);

pub static CRON_JOB_STATUS: Msg = Msg::status("CronJobStatus");
