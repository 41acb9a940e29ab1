//! Placement rules for scheduling engines: does a product fit on a node, in
//! the sense of the Kubernetes scheduler's NodeResourcesFit (free =
//! allocatable - requests of the node's non-terminal pods, one pod slot,
//! `nvidia.com/gpu` of the right model), plus node labels, cordons and
//! NoSchedule/NoExecute taints. The built-in engine uses [`fit`] with no
//! headroom; third-party engines can keep a share of each node free.

use crate::scheduling_engine::{Node, Product, Resources, Shortfall, Verdict};

/// How much of each node's allocatable a product may use.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Per-mille of allocatable kept free on every node (100 = 10 %).
    pub headroom_permille: u64,
}

impl Policy {
    /// The scheduler's own rule: everything allocatable may be used.
    pub const STANDARD: Policy = Policy {
        headroom_permille: 0,
    };
}

/// Free room of a node per resource, after requests and headroom.
#[derive(Clone, Copy)]
struct Room {
    cpu: u64,
    memory: u64,
    gpu: u64,
    disk: u64,
    pods: u64,
}

fn usable(alloc: u64, requested: u64, policy: Policy) -> u64 {
    let keep = (u128::from(alloc) * u128::from(policy.headroom_permille)).div_ceil(1000) as u64;
    alloc.saturating_sub(keep).saturating_sub(requested)
}

fn room(n: &Node, policy: Policy) -> Room {
    let (a, r) = (&n.allocatable, &n.requested);
    Room {
        cpu: usable(a.cpu_milli, r.cpu_milli, policy),
        memory: usable(a.memory_bytes, r.memory_bytes, policy),
        gpu: usable(a.gpu, r.gpu, Policy::STANDARD),
        disk: if a.disk_bytes == 0 {
            u64::MAX
        } else {
            usable(a.disk_bytes, r.disk_bytes, policy)
        },
        pods: usable(a.pods, r.pods, Policy::STANDARD),
    }
}

/// Nodes that can take pods at all (not cordoned, no hard taint).
fn schedulable(n: &Node) -> bool {
    !n.unschedulable
        && !n
            .taints
            .iter()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
}

fn labels_match(p: &Product, n: &Node) -> bool {
    p.labels
        .iter()
        .all(|(k, v)| n.labels.iter().any(|(nk, nv)| nk == k && nv == v))
}

fn gpu_model_ok(p: &Product, n: &Node) -> bool {
    match (&p.gpu_model, p.requests.gpu) {
        (Some(want), g) if g > 0 => n.gpu_model.as_deref() == Some(want.as_str()),
        _ => true,
    }
}

fn fits(req: &Resources, r: &Room) -> bool {
    req.cpu_milli <= r.cpu
        && req.memory_bytes <= r.memory
        && req.gpu <= r.gpu
        && req.disk_bytes <= r.disk
        && r.pods >= 1
}

/// Every reason `p` does not fit on `n`.
fn shortfalls(p: &Product, n: &Node, r: &Room, out: &mut Vec<Shortfall>) {
    let mut push = |reason: &str, requested: String, available: String, unresolvable: bool| {
        out.push(Shortfall {
            node: n.name.clone(),
            reason: reason.into(),
            requested,
            available,
            unresolvable,
        })
    };
    if n.unschedulable {
        push("cordoned", String::new(), String::new(), false);
    }
    for t in n
        .taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
    {
        push(
            "taint",
            String::new(),
            format!("{}={}:{}", t.key, t.value, t.effect),
            false,
        );
    }
    for (k, v) in &p.labels {
        if !n.labels.iter().any(|(nk, nv)| nk == k && nv == v) {
            let have = n
                .labels
                .iter()
                .find(|(nk, _)| nk == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            push("label", format!("{k}={v}"), have, true);
        }
    }
    if !gpu_model_ok(p, n) {
        push(
            "gpu-model",
            p.gpu_model.clone().unwrap_or_default(),
            n.gpu_model.clone().unwrap_or_default(),
            true,
        );
    }
    let a = &n.allocatable;
    let q = &p.requests;
    let dims = [
        ("cpu", q.cpu_milli, r.cpu, a.cpu_milli),
        ("memory", q.memory_bytes, r.memory, a.memory_bytes),
        ("gpu", q.gpu, r.gpu, a.gpu),
        (
            "disk",
            q.disk_bytes,
            r.disk,
            if a.disk_bytes == 0 {
                u64::MAX
            } else {
                a.disk_bytes
            },
        ),
    ];
    for (name, want, free, total) in dims {
        if want > free {
            push(name, want.to_string(), free.to_string(), want > total);
        }
    }
    if r.pods < 1 {
        push("pods", "1".into(), "0".into(), a.pods == 0);
    }
}

/// One verdict per product: the first node it fits on, or (with `explain`)
/// every node's shortfalls.
pub fn fit(products: &[Product], nodes: &[Node], explain: bool, policy: Policy) -> Vec<Verdict> {
    let rooms: Vec<Room> = nodes.iter().map(|n| room(n, policy)).collect();
    let ok: Vec<bool> = nodes.iter().map(schedulable).collect();
    // The largest free amount of each resource over schedulable nodes: a
    // product above it fits nowhere, whatever its labels (fast rejection).
    let mut max = Room {
        cpu: 0,
        memory: 0,
        gpu: 0,
        disk: 0,
        pods: 0,
    };
    for (r, _) in rooms.iter().zip(&ok).filter(|(_, ok)| **ok) {
        max.cpu = max.cpu.max(r.cpu);
        max.memory = max.memory.max(r.memory);
        max.gpu = max.gpu.max(r.gpu);
        max.disk = max.disk.max(r.disk);
        max.pods = max.pods.max(r.pods);
    }
    products
        .iter()
        .map(|p| {
            let mut node = None;
            if fits(&p.requests, &max) {
                node = nodes.iter().zip(&rooms).zip(&ok).find_map(|((n, r), ok)| {
                    (*ok && fits(&p.requests, r) && gpu_model_ok(p, n) && labels_match(p, n))
                        .then(|| n.name.clone())
                });
            }
            let mut why = Vec::new();
            if node.is_none() && explain {
                for (n, r) in nodes.iter().zip(&rooms) {
                    shortfalls(p, n, r, &mut why);
                }
            }
            Verdict {
                product_id: p.id.clone(),
                node,
                shortfalls: why,
            }
        })
        .collect()
}
