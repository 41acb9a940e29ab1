//! How unplaceable products are explained within bounds: the explanation
//! of a verdict, the byte budget shared by the products, and the batches of
//! engine calls that keep every copy bounded.

use super::*;

/// A verdict as the explanation endpoints show it: the product, the node it
/// fits on (or `null`) and every node's shortfall, each with whether no
/// amount of freeing up that node would help (`unresolvable`).
pub fn explanation(v: &Verdict) -> Value {
    let shortfalls: Vec<Value> = v
        .shortfalls
        .iter()
        .map(|s| {
            serde_json::json!({
                "node": s.node, "reason": s.reason, "requested": s.requested,
                "available": s.available, "unresolvable": s.unresolvable,
            })
        })
        .collect();
    serde_json::json!({"id": v.product_id, "node": v.node, "shortfalls": shortfalls})
}

/// Most bytes of explanation (shortfalls as JSON) one answer holds, shared
/// evenly by the unplaceable products: 838 bytes each for 10,000 (about
/// eight shortfalls), all of every node's for a few hundred. Whole nodes
/// are kept first, then the shortfalls of the next node that still fit;
/// `shortfalls_omitted` counts the rest.
pub const MAX_EXPLAIN_BYTES: usize = 8 << 20;
/// Product bytes (ids, models, labels) one engine call carries: about
/// 4,000 ordinary products a call; products made heavy by labels in
/// smaller batches. The batch is copied (labels merged), lowered for the
/// call and answered, so this bounds three copies at once.
const PRODUCT_BYTES_PER_CALL: usize = 512 << 10;
/// Shortfalls (an upper bound from the nodes and the products' labels) one
/// explaining engine call may produce: neither the engine nor the caller
/// ever holds more than this many at once.
const SHORTFALLS_PER_CALL: usize = 10_000;

/// One product's verdict as the capacity endpoints show it, borrowed:
/// `{"id", "node", "shortfalls"}`, plus `shortfalls_omitted` when the
/// explanation was cut to its share of [`MAX_EXPLAIN_BYTES`].
#[derive(serde::Serialize)]
pub struct Fit<'a> {
    /// The product's id.
    pub id: &'a str,
    /// The node it fits on, or `None`.
    pub node: Option<&'a str>,
    /// Why it fits nowhere (explained unplaceable products only).
    pub shortfalls: Shortfalls<'a>,
    /// Shortfalls left out of `shortfalls`.
    #[serde(skip_serializing_if = "is_zero")]
    pub shortfalls_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Shortfalls serialised as `[{"node", "reason", "requested", "available",
/// "unresolvable"}]`.
pub struct Shortfalls<'a>(pub &'a [Shortfall]);

impl serde::Serialize for Shortfalls<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        struct One<'a>(&'a Shortfall);
        impl serde::Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_struct("shortfall", 5)?;
                m.serialize_field("node", &self.0.node)?;
                m.serialize_field("reason", &self.0.reason)?;
                m.serialize_field("requested", &self.0.requested)?;
                m.serialize_field("available", &self.0.available)?;
                m.serialize_field("unresolvable", &self.0.unresolvable)?;
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            seq.serialize_element(&One(x))?;
        }
        seq.end()
    }
}

/// About what one shortfall takes as JSON.
pub(super) fn shortfall_bytes(s: &Shortfall) -> usize {
    75 + s.node.len() + s.reason.len() + s.requested.len() + s.available.len()
}

/// The shortfalls of an explanation within `budget` bytes: whole nodes
/// while they fit (a node's shortfalls are consecutive), then as many of
/// the next node's as fit (at least one shortfall); and how many were left
/// out.
pub(super) fn within(all: &[Shortfall], budget: usize) -> (&[Shortfall], usize) {
    let mut used = 0;
    let mut end = 0;
    while end < all.len() {
        let node = &all[end].node;
        let group = all[end..].iter().take_while(|s| s.node == *node).count();
        let bytes: usize = all[end..end + group].iter().map(shortfall_bytes).sum();
        if used + bytes <= budget {
            used += bytes;
            end += group;
            continue;
        }
        // Part of this node, then stop.
        for s in &all[end..end + group] {
            let b = shortfall_bytes(s);
            if end > 0 && used + b > budget {
                break;
            }
            used += b;
            end += 1;
        }
        break;
    }
    (&all[..end], all.len() - end)
}

/// The labels a product is asked with: its own, then each of `extra` it
/// does not set itself.
pub(super) fn with_extra(p: &Product, extra: &[(String, String)]) -> Product {
    let mut p = p.clone();
    for (k, v) in extra {
        if !p.labels.iter().any(|(pk, _)| pk == k) {
            p.labels.push((k.clone(), v.clone()));
        }
    }
    p
}

fn product_bytes(p: &Product, extra: &[(String, String)]) -> usize {
    let labels: usize = p
        .labels
        .iter()
        .chain(extra)
        .map(|(k, v)| 24 + k.len() + v.len())
        .sum();
    96 + p.id.len() + p.gpu_model.as_ref().map_or(0, String::len) + labels
}

/// An upper bound of the shortfalls the built-in rules give `p` over
/// `nodes`: per node a cordon, its hard taints, every label, the GPU model
/// and five resources.
fn shortfalls_bound(p: &Product, extra: usize, nodes: &[Node]) -> usize {
    let labels = p.labels.len() + extra;
    nodes.iter().map(|n| 7 + n.taints.len() + labels).sum()
}

/// Ask the engine about `batch` (indices into `products`), with `extra`
/// labels merged in; the verdicts in the same order.
fn ask(
    products: &[Product],
    batch: &[usize],
    extra: &[(String, String)],
    nodes: &[Node],
    explain: bool,
) -> Result<Vec<Verdict>, ApiError> {
    let asked: Vec<Product> = batch
        .iter()
        .map(|&i| with_extra(&products[i], extra))
        .collect();
    let verdicts = crate::scheduling::fit(&asked, nodes, explain)?;
    if verdicts.len() != asked.len() {
        return Err(ApiError::Internal(format!(
            "the scheduling engine answered {} verdicts for {} products",
            verdicts.len(),
            asked.len()
        )));
    }
    Ok(verdicts)
}

/// Batches of `indices` whose `cost` adds up to at most `limit` (at least
/// one index each).
pub(super) fn batches(
    indices: &[usize],
    limit: usize,
    cost: impl Fn(usize) -> usize,
) -> Vec<&[usize]> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0);
    for (k, &i) in indices.iter().enumerate() {
        let c = cost(i);
        if k > start && sum + c > limit {
            out.push(&indices[start..k]);
            start = k;
            sum = 0;
        }
        sum += c;
    }
    if start < indices.len() {
        out.push(&indices[start..]);
    }
    out
}

/// Where each product fits (the node's name) or `None`, as the active
/// scheduling engine judges it on `nodes`, each product asked with `extra`
/// labels added (those it does not set itself). Asked in batches of about
/// 512 KiB of products (about 4,000 ordinary ones): each product is judged
/// on its own against the nodes' free room, so batches answer what one
/// call would.
pub fn place(
    products: &[Product],
    extra: &[(String, String)],
    nodes: &[Node],
) -> Result<Vec<Option<String>>, ApiError> {
    let all: Vec<usize> = (0..products.len()).collect();
    let mut placed = Vec::with_capacity(products.len());
    for batch in batches(&all, PRODUCT_BYTES_PER_CALL, |i| {
        product_bytes(&products[i], extra)
    }) {
        placed.extend(
            ask(products, batch, extra, nodes, false)?
                .into_iter()
                .map(|v| v.node),
        );
    }
    Ok(placed)
}

/// At least what `s` takes as a JSON string (quotes, escapes counted high),
/// for reserving bodies.
pub fn json_len(s: &str) -> usize {
    2 + s.len()
        + s.bytes()
            .filter(|b| matches!(b, b'"' | b'\\') || *b < 0x20)
            .count()
            * 5
}

/// An upper bound of the JSON the [`Fit`]s of [`explain_each`] take (with
/// their commas), for reserving an answer's body once before it is
/// written: a body that grows while the engine's answers are allocated
/// around it moves, and a move holds the old and the new body at once.
pub fn explained_bytes(
    products: &[Product],
    extra: &[(String, String)],
    nodes: &[Node],
    placed: &[Option<String>],
) -> usize {
    let unplaced =
        placed.iter().filter(|n| n.is_none()).count() + products.len().saturating_sub(placed.len());
    let share = MAX_EXPLAIN_BYTES / unplaced.max(1);
    // The longest text a shortfall of any node can carry (a taint, a node's
    // GPU model or label value, a number).
    let node_text = nodes
        .iter()
        .flat_map(|n| {
            n.taints
                .iter()
                .map(|t| t.key.len() + t.value.len() + t.effect.len() + 2)
                .chain(n.labels.iter().map(|(_, v)| v.len()))
                .chain(n.gpu_model.iter().map(String::len))
        })
        .max()
        .unwrap_or(0)
        .max(20);
    let extra_text = extra
        .iter()
        .map(|(k, v)| k.len() + v.len() + 1)
        .max()
        .unwrap_or(0);
    products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let fixed = 40 + json_len(&p.id);
            match placed.get(i).and_then(Option::as_deref) {
                Some(node) => fixed + json_len(node),
                None => {
                    let own_text = p
                        .labels
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 1)
                        .chain(p.gpu_model.as_deref().map(json_len))
                        .max()
                        .unwrap_or(0);
                    let text = node_text.max(own_text).max(extra_text);
                    let labels = p.labels.len() + extra.len();
                    let widest = nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
                    let one = 90 + widest + 2 * text;
                    let all: usize = nodes
                        .iter()
                        .map(|n| (7 + n.taints.len() + labels) * (90 + n.name.len() + 2 * text))
                        .sum();
                    // `within` keeps at most the share, or one shortfall
                    // when even that is more.
                    fixed + 32 + all.min(share.max(one))
                }
            }
        })
        .sum()
}

/// Every product's [`Fit`] in order, `placed` from [`place`]: the node of
/// those that fit, and why each of the others fits nowhere (every node's
/// shortfalls, within its share of [`MAX_EXPLAIN_BYTES`]).
///
/// `each(i, fit)` is called once per product, in order. The engine is asked
/// about the unplaceable products in batches of at most 10,000 shortfalls,
/// so neither this plugin nor the engine ever holds every explanation at
/// once: write each one out as it comes ([`crate::response::JsonWriter`])
/// and 10,000 products with `explain` stay within a plugin's memory.
pub fn explain_each(
    products: &[Product],
    extra: &[(String, String)],
    nodes: &[Node],
    placed: &[Option<String>],
    mut each: impl FnMut(usize, Fit<'_>),
) -> Result<(), ApiError> {
    let plain = |i: usize, each: &mut dyn FnMut(usize, Fit<'_>)| {
        each(
            i,
            Fit {
                id: &products[i].id,
                node: placed.get(i).and_then(Option::as_deref),
                shortfalls: Shortfalls(&[]),
                shortfalls_omitted: 0,
            },
        )
    };
    let unplaced: Vec<usize> = (0..products.len())
        .filter(|&i| placed.get(i).is_none_or(Option::is_none))
        .collect();
    let mut next = 0;
    if !unplaced.is_empty() {
        let share = MAX_EXPLAIN_BYTES / unplaced.len();
        let bound = |i: usize| {
            let p = &products[i];
            let extra_labels = extra
                .iter()
                .filter(|(k, _)| !p.labels.iter().any(|(pk, _)| pk == k))
                .count();
            shortfalls_bound(p, extra_labels, nodes)
        };
        for batch in batches(&unplaced, SHORTFALLS_PER_CALL, bound) {
            let verdicts = ask(products, batch, extra, nodes, true)?;
            for (&i, v) in batch.iter().zip(&verdicts) {
                while next < i {
                    plain(next, &mut each);
                    next += 1;
                }
                let (kept, omitted) = within(&v.shortfalls, share);
                each(
                    i,
                    Fit {
                        id: &products[i].id,
                        node: None,
                        shortfalls: Shortfalls(kept),
                        shortfalls_omitted: omitted,
                    },
                );
                next = i + 1;
            }
        }
    }
    while next < products.len() {
        plain(next, &mut each);
        next += 1;
    }
    Ok(())
}
