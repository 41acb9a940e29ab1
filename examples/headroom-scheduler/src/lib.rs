//! `headroom-scheduler`: an example third-party scheduling engine.
//!
//! Same rules as the built-in engine (the Kubernetes scheduler's
//! NodeResourcesFit, labels, cordons, taints), but it keeps 10 % of every
//! node's CPU and memory free for system daemons and bursts: a product fits
//! only if it leaves that headroom. Install it over the built-in engine while
//! the server runs:
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2
//! curl -X PUT -H "Authorization: Bearer $ADMIN" \
//!   --data-binary @target/wasm32-wasip2/release/headroom_scheduler.wasm \
//!   'http://127.0.0.1:8080/admin/plugins/scheduling?role=scheduling'
//! ```

use computehub_sdk::placement::{self, Policy};
use computehub_sdk::scheduling_engine::{Error, Guest, Node, Product, Verdict};

/// 100 per mille = 10 % of allocatable kept free.
const HEADROOM: Policy = Policy { headroom_permille: 100 };

struct Headroom;

impl Guest for Headroom {
    fn fit(products: Vec<Product>, nodes: Vec<Node>, explain: bool) -> Result<Vec<Verdict>, Error> {
        Ok(placement::fit(&products, &nodes, explain, HEADROOM))
    }
}

computehub_sdk::export_scheduling_engine!(Headroom);
