//! Kubernetes quantities (`500m`, `4`, `8Gi`, `1e3`) in base units, exactly
//! (integer arithmetic), for endpoint plugins reading products and node
//! capacities: [`kubefmt::quantity`], the parser the host and the simulated
//! cluster use too.

pub use kubefmt::quantity::{format_binary, millicores, units, Quantity, QuantityError};
