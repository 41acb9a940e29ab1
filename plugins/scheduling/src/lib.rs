//! `scheduling`: the built-in scheduling engine (world `scheduling-engine`).
//!
//! The host routes every `scheduling.fit` import to the active engine, this
//! one unless an operator swapped it. It places with the Kubernetes
//! scheduler's NodeResourcesFit rule and no headroom
//! ([`computehub_sdk::placement`]). It imports nothing.

use computehub_sdk::placement::{self, Policy};
use computehub_sdk::scheduling_engine::{Error, Guest, Node, Product, Verdict};

struct Fit;

impl Guest for Fit {
    fn fit(products: Vec<Product>, nodes: Vec<Node>, explain: bool) -> Result<Vec<Verdict>, Error> {
        Ok(placement::fit(&products, &nodes, explain, Policy::STANDARD))
    }
}

computehub_sdk::export_scheduling_engine!(Fit);
