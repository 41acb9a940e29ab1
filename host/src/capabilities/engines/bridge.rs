//! Field-by-field moves between the import-side and export-side bindings of
//! `pricing` and `scheduling`: the same WIT records, generated twice as
//! distinct Rust types. Moving (not copying through serde) keeps a
//! 10,000-node `fit` from spending its time re-encoding every string.

use crate::bindings::endpoint::computehub::platform::{pricing as ip, scheduling as is};
use crate::bindings::pricing_engine::exports::computehub::platform::pricing as ep;
use crate::bindings::scheduling_engine::exports::computehub::platform::scheduling as es;

/// A move from one side's type to the other's.
pub trait Bridge<T> {
    fn bridge(self) -> T;
}

impl<A: Bridge<B>, B> Bridge<Vec<B>> for Vec<A> {
    fn bridge(self) -> Vec<B> {
        self.into_iter().map(Bridge::bridge).collect()
    }
}

/// Records whose fields are all plain values (strings, numbers, options,
/// tuples) or other bridged records.
macro_rules! record {
    ($from:path => $to:path { $($plain:ident),* $(; $($nested:ident),*)? }) => {
        impl Bridge<$to> for $from {
            fn bridge(self) -> $to {
                $to {
                    $($plain: self.$plain,)*
                    $($($nested: self.$nested.bridge(),)*)?
                }
            }
        }
    };
}

/// The `invalid`/`unavailable` error variant both interfaces share.
macro_rules! error {
    ($from:path => $to:path) => {
        impl Bridge<$to> for $from {
            fn bridge(self) -> $to {
                use $from as F;
                use $to as T;
                match self {
                    F::Invalid(m) => T::Invalid(m),
                    F::Unavailable(m) => T::Unavailable(m),
                }
            }
        }
    };
}

record!(ip::QuoteRequest => ep::QuoteRequest { duration, duration_unit, account_unit; items, offers });
record!(ip::Item => ep::Item { kind, model, amount, unit });
record!(ip::Offer => ep::Offer {
    id, kind, model, unit_price, resource_unit, charge_unit, account_unit, stock
});
record!(ep::PriceQuote => ip::PriceQuote { total, account_unit; lines });
record!(ep::Line => ip::Line { kind, model, offer_id, amount, unit_price, price, error });
error!(ep::Error => ip::Error);

record!(is::Resources => es::Resources { cpu_milli, memory_bytes, gpu, disk_bytes, pods });
record!(is::Taint => es::Taint { key, value, effect });
record!(is::Node => es::Node {
    name, labels, gpu_model, unschedulable; allocatable, requested, taints
});
record!(is::Product => es::Product { id, gpu_model, labels; requests });
record!(es::Shortfall => is::Shortfall { node, reason, requested, available, unresolvable });
record!(es::Verdict => is::Verdict { product_id, node; shortfalls });
error!(es::Error => is::Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_crosses_unchanged() {
        let r = |n| is::Resources {
            cpu_milli: n,
            memory_bytes: n + 1,
            gpu: n + 2,
            disk_bytes: n + 3,
            pods: n + 4,
        };
        let node = is::Node {
            name: "gpu-a".into(),
            allocatable: r(10),
            requested: r(20),
            labels: vec![("kyy-gpu".into(), "true".into())],
            gpu_model: Some("RTX4090-24G".into()),
            unschedulable: true,
            taints: vec![is::Taint {
                key: "k".into(),
                value: "v".into(),
                effect: "NoSchedule".into(),
            }],
        };
        let out: es::Node = node.bridge();
        assert_eq!(out.name, "gpu-a");
        assert_eq!((out.allocatable.cpu_milli, out.allocatable.pods), (10, 14));
        assert_eq!(
            (out.requested.memory_bytes, out.requested.disk_bytes),
            (21, 23)
        );
        assert_eq!(
            out.labels,
            vec![("kyy-gpu".to_string(), "true".to_string())]
        );
        assert_eq!(out.gpu_model.as_deref(), Some("RTX4090-24G"));
        assert!(out.unschedulable);
        assert_eq!(out.taints[0].effect, "NoSchedule");
    }

    #[test]
    fn a_quote_crosses_back_unchanged() {
        let q = ep::PriceQuote {
            total: "64.08".into(),
            account_unit: "元".into(),
            lines: vec![ep::Line {
                kind: "gpu".into(),
                model: "RTX5090-32G".into(),
                offer_id: None,
                amount: "2".into(),
                unit_price: "6".into(),
                price: "12".into(),
                error: Some("库存不足".into()),
            }],
        };
        let out: ip::PriceQuote = q.bridge();
        assert_eq!(
            (out.total.as_str(), out.account_unit.as_str()),
            ("64.08", "元")
        );
        assert_eq!(out.lines[0].error.as_deref(), Some("库存不足"));
        assert_eq!(out.lines[0].offer_id, None);
        let e: ip::Error = ep::Error::Invalid("x".into()).bridge();
        assert!(matches!(e, ip::Error::Invalid(m) if m == "x"));
    }
}
