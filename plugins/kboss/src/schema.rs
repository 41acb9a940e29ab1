//! What kboss declares besides its routes: the collections it owns (labels,
//! priced components and their per-cluster stock, resource-instance configs;
//! the host names them `kboss.<name>`) and its failure envelope
//! `{status: false, msg}`. Centers, clusters and devices are the host's
//! (its `ssh` and `kubernetes` capabilities use them), granted in the config.

use computehub_sdk::declarations::Guest;
use computehub_sdk::declare::{collection, envelopes, CollectionDecl, Envelope, Kind};

use crate::common::{CENTERS, CLUSTERS, LABELS, STOCK, WIDGETS};
use crate::Kboss;

/// The resource-instance configs of `cpcpodyaml`.
pub const POD_CONFIGS: &str = "pod_configs";

impl Guest for Kboss {
    fn collections() -> Vec<CollectionDecl> {
        vec![
            collection(LABELS)
                .required("name", Kind::Text)
                .required("labeltype", Kind::Text)
                .required("label_key", Kind::Text)
                .required("symbol", Kind::Text)
                .required("label_value", Kind::Text)
                .into(),
            collection(WIDGETS)
                .parent("cpcid", CENTERS)
                .required("type", Kind::Text)
                .required("model", Kind::Text)
                .required("unit_price", Kind::Decimal)
                .required("resource_unit", Kind::Text)
                .required("charge_unit", Kind::Text)
                .required("account_unit", Kind::Text)
                .required("stock", Kind::Integer)
                .required("consumed", Kind::Integer)
                .into(),
            collection(STOCK)
                .parent("widgetid", WIDGETS)
                .parent("cpcid", CENTERS)
                .parent("clusterid", CLUSTERS)
                .required("stock", Kind::Integer)
                .required("consumed", Kind::Integer)
                .into(),
            collection(POD_CONFIGS)
                .parent("cpcid", CENTERS)
                .parent("clusterid", CLUSTERS)
                .required("source_name", Kind::Text)
                .required("params", Kind::Text)
                .field("source_authpasswd", Kind::Secret)
                .field("username", Kind::Text)
                .into(),
        ]
    }

    fn error_envelope() -> Option<Envelope> {
        Some(envelopes::kboss())
    }
}
