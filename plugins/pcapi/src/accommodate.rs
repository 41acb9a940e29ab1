//! `determine_accommodat`: which of the given products cannot be deployed on
//! the cluster because no single node has every requested resource free.
//! Documented answer: the bare array of those product ids. With
//! `explain=true`: the envelope with, per product, the node it fits on or
//! every node's shortfalls.

use computehub_sdk::capacity;
use computehub_sdk::envelope::pcapi;
use computehub_sdk::params::Params;
use computehub_sdk::{kubernetes, response, scheduling, ApiError, Response};
use serde_json::{json, Value};

use crate::cluster;

pub fn determine(p: &Params) -> Result<Response, ApiError> {
    let raw: Value = p.json("resources")?;
    let products = capacity::products("resources", &raw)?;
    let explain = p.optional_bool("explain")?.unwrap_or(false);
    let c = cluster::resolve(p)?;
    let nodes = capacity::nodes(&kubernetes::capacity(&c)?);
    let verdicts = scheduling::fit(&products, &nodes, explain)?;
    let unplaceable: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.node.is_none())
        .map(|v| v.product_id.as_str())
        .collect();
    if !explain {
        return Ok(response::json(200, &unplaceable));
    }
    let products: Vec<Value> = verdicts.iter().map(capacity::explanation).collect();
    Ok(pcapi::ok(
        "operate success",
        &json!({"unplaceable": unplaceable, "products": products}),
    ))
}
