//! `determine_accommodat`: which of the given products cannot be deployed on
//! the cluster because no single node has every requested resource free.
//! Documented answer: the bare array of those product ids. With
//! `explain=true`: the envelope with, per product, the node it fits on or
//! every node's shortfalls ([`capacity::explain_each`]: asked in batches and
//! written out one product at a time, so 10,000 products fit in the
//! plugin's memory).

use computehub_sdk::capacity;
use computehub_sdk::params::Params;
use computehub_sdk::response::{self, JsonWriter};
use computehub_sdk::{kubernetes, ApiError, Response};

use crate::cluster;

pub fn determine(p: &Params) -> Result<Response, ApiError> {
    let products = capacity::products_param(p, "resources")?;
    let explain = p.optional_bool("explain")?.unwrap_or(false);
    let c = cluster::resolve(p)?;
    let nodes = capacity::nodes(&kubernetes::capacity(&c)?);
    let placed = capacity::place(&products, &[], &nodes)?;
    let unplaceable: Vec<&str> = products
        .iter()
        .zip(&placed)
        .filter(|(_, node)| node.is_none())
        .map(|(p, _)| p.id.as_str())
        .collect();
    if !explain {
        return Ok(response::json(200, &unplaceable));
    }
    // `{"status": true, "info": "operate success", "data": {"unplaceable":
    // [ids], "products": [explanations]}}`, the pcapi envelope, each
    // explanation written as it comes.
    // Reserved at once: a body that grows while the engine's answers are
    // allocated around it moves, holding two copies for a moment.
    let ids: usize = unplaceable
        .iter()
        .map(|id| capacity::json_len(id) + 1)
        .sum();
    let mut w = JsonWriter::with_capacity(
        128 + ids + capacity::explained_bytes(&products, &[], &nodes, &placed),
    );
    w.begin_object(None);
    w.value(Some("status"), &true);
    w.value(Some("info"), "operate success");
    w.begin_object(Some("data"));
    w.value(Some("unplaceable"), &unplaceable);
    w.begin_array(Some("products"));
    capacity::explain_each(&products, &[], &nodes, &placed, |_, fit| {
        w.value(None, &fit);
    })?;
    w.end_array();
    w.end_object();
    w.end_object();
    Ok(w.into_response(200))
}
