//! Jobs: up to `parallelism` pods at a time until `completions` of them have
//! succeeded; a suspended Job starts none.

use super::*;

pub(super) fn jobs(st: &mut State, dirty: &Dirty) -> bool {
    let mut changed = false;
    for job in queued(st, "jobs.batch", dirty, false) {
        let owned = controlled(st, &job, "pods");
        let succeeded = owned
            .iter()
            .filter(|p| pods::phase(p) == "Succeeded")
            .count() as i64;
        let failed = owned.iter().filter(|p| pods::phase(p) == "Failed").count() as i64;
        let active: Vec<&Obj> = owned.iter().filter(|p| !pods::is_terminal(p)).collect();
        let completions = job
            .pointer("/spec/completions")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let parallelism = job
            .pointer("/spec/parallelism")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let suspended = job.pointer("/spec/suspend") == Some(&json!(true));
        let complete = succeeded >= completions;
        let mut active_n = active.len() as i64;
        if !complete && !suspended {
            let want = parallelism.min(completions.saturating_sub(succeeded));
            let template = job["spec"]["template"].clone();
            let missing = usize::try_from(want.saturating_sub(active_n)).unwrap_or(0);
            for _ in 0..pods_to_create(st, &job, missing) {
                if create_pod(
                    st,
                    &job,
                    &template,
                    &format!("{}-", name(&job)),
                    labels_with(&template, &[]),
                    |_| {},
                )
                .is_err()
                {
                    break;
                }
                changed = true;
                active_n += 1;
            }
        }
        let ready = active.iter().filter(|p| pods::is_ready(p)).count();
        let now = crate::store::now_rfc3339();
        let old = job.get("status").cloned().unwrap_or(json!({}));
        let mut status = json!({
            "startTime": old.get("startTime").cloned().unwrap_or(json!(now)),
            "active": active_n, "succeeded": succeeded, "failed": failed, "ready": ready,
            "terminating": 0, "uncountedTerminatedPods": {}
        });
        if complete {
            let conds = job.pointer("/status/conditions");
            status["conditions"] = json!([
                condition(
                    conds,
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
                condition(
                    conds,
                    "Complete",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
            ]);
            status["completionTime"] = old.get("completionTime").cloned().unwrap_or(json!(now));
        }
        clean_zero(&mut status, &["active", "succeeded", "failed"]);
        changed |= put_status(st, "jobs.batch", &job, status);
    }
    changed
}
