//! StatefulSets: pods `<name>-<ordinal>`, replaced at once on a new revision,
//! each with its claims from the volume claim templates (made first, through
//! the quota check).

use super::*;

pub(super) fn statefulsets(st: &mut State, dirty: &Dirty) -> bool {
    let mut changed = false;
    for s in queued(st, "statefulsets.apps", dirty, false) {
        let template = s["spec"]["template"].clone();
        let revision = format!("{}-{}", name(&s), hash_value(&template));
        let want = replicas(&s).max(0) as usize;
        let prefix = format!("{}-", name(&s));
        let ordinal = |p: &Value| {
            name(p)
                .strip_prefix(&prefix)
                .and_then(|x| x.parse::<usize>().ok())
        };
        for p in live_pods(st, &s) {
            let stale = p
                .pointer("/metadata/labels/controller-revision-hash")
                .and_then(Value::as_str)
                != Some(revision.as_str());
            if ordinal(&p).is_none_or(|i| i >= want) || stale {
                remove_pod(st, &p);
                changed = true;
            }
        }
        let claims: Vec<Value> = s
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let existing = live_pods(st, &s).len();
        let mut may_create = pods_to_create(st, &s, want.saturating_sub(existing));
        for i in 0..want {
            let pod_name = format!("{}-{i}", name(&s));
            if st.store.get("pods", ns(&s), &pod_name).is_some() {
                continue;
            }
            if may_create == 0 {
                break;
            }
            may_create -= 1;
            let mut claims_made = true;
            for c in &claims {
                let claim = format!("{}-{pod_name}", name(c));
                if st
                    .store
                    .get("persistentvolumeclaims", ns(&s), &claim)
                    .is_none()
                {
                    let labels = s
                        .pointer("/spec/selector/matchLabels")
                        .cloned()
                        .unwrap_or(json!({}));
                    let mut pvc = json!({"metadata": {"name": claim, "namespace": ns(&s), "labels": labels},
                                     "spec": c.get("spec").cloned().unwrap_or(json!({})), "status": {"phase": "Pending"}});
                    crate::admission::storage::default_claim(st, &mut pvc);
                    // Created through the API server: a quota on claims or
                    // storage refuses it, and then the pod is not made.
                    match quota::check(st, &resources::PERSISTENT_VOLUME_CLAIMS, &pvc) {
                        Ok(charges) => {
                            st.store.insert(&resources::PERSISTENT_VOLUME_CLAIMS, pvc);
                            quota::charge(st, charges);
                        }
                        Err(e) => {
                            let message = format!(
                                "create Claim {claim} for Pod {pod_name} in StatefulSet {} failed error: {}",
                                name(&s),
                                e.message
                            );
                            events::record(
                                st,
                                &s,
                                Kind::Warning,
                                "FailedCreate",
                                &message,
                                "statefulset-controller",
                            );
                            claims_made = false;
                            break;
                        }
                    }
                }
            }
            if !claims_made {
                break;
            }
            let labels = labels_with(
                &template,
                &[
                    ("controller-revision-hash", revision.clone()),
                    ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                    ("apps.kubernetes.io/pod-index", i.to_string()),
                ],
            );
            let service = s.pointer("/spec/serviceName").cloned();
            let pn = pod_name.clone();
            let created = create_pod(st, &s, &template, &pod_name, labels, |pod| {
                pod["spec"]["hostname"] = json!(pn);
                if let Some(svc) = service.filter(|v| v.as_str().is_some_and(|x| !x.is_empty())) {
                    pod["spec"]["subdomain"] = svc;
                }
                for c in &claims {
                    if !pod["spec"]["volumes"].is_array() {
                        pod["spec"]["volumes"] = json!([]);
                    }
                    let vol = json!({"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": format!("{}-{pn}", name(c))}});
                    if let Some(volumes) = pod["spec"]["volumes"].as_array_mut() {
                        volumes.push(vol);
                    }
                }
            });
            if created.is_err() {
                break;
            }
            changed = true;
        }
        let ps = live_pods(st, &s);
        let ready = count_ready(&ps);
        let mut status = json!({
            "observedGeneration": s["metadata"]["generation"], "replicas": ps.len(), "readyReplicas": ready,
            "currentReplicas": ps.len(), "updatedReplicas": ps.len(), "availableReplicas": ready,
            "currentRevision": revision, "updateRevision": revision, "collisionCount": 0
        });
        clean_zero(
            &mut status,
            &[
                "readyReplicas",
                "availableReplicas",
                "currentReplicas",
                "updatedReplicas",
            ],
        );
        changed |= put_status(st, "statefulsets.apps", &s, status);
    }
    changed
}
