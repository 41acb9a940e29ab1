//! What the Alaya plugin declares besides its routes: the collections it
//! owns (training tasks and the ports opened on their pods; the host names
//! them `alaya.<name>`) and its failure envelope
//! `{status: <http status>, message, data: {}}`. Clusters are the host's.

use computehub_sdk::declarations::Guest;
use computehub_sdk::declare::{collection, envelopes, CollectionDecl, Envelope, Kind};

use crate::Alaya;

impl Guest for Alaya {
    fn collections() -> Vec<CollectionDecl> {
        vec![
            // A training task (`task_id` is its public id) runs in a namespace
            // of a cluster; `gateway`, when set, is the external host of its
            // opened ports instead of the node's address.
            collection("training_instances")
                .unique("task_id", Kind::Text)
                .required("name", Kind::Text)
                .parent("clusterid", "clusters")
                .required("namespace", Kind::Text)
                .field("created_by", Kind::Text)
                .field("gateway", Kind::Text)
                .into(),
            // A port opened on a training pod: `source` is `system` or
            // `custom`; a NodePort service exposes it.
            collection("training_ports")
                .parent("instance_id", "training_instances")
                .required("pod_name", Kind::Text)
                .required("source", Kind::Text)
                .field("protocol", Kind::Text)
                .required("port", Kind::Integer)
                .required("service_name", Kind::Text)
                .into(),
        ]
    }

    fn error_envelope() -> Option<Envelope> {
        Some(envelopes::alaya())
    }
}
