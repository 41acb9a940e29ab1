//! What the IEF plugin declares besides its routes: the collections it owns
//! (projects mapped to a cluster and namespace, deployments; the host names
//! them `ief.<name>`) and its failure envelope
//! `{error_code: "IEF.000<status>", error_msg}`. Clusters are the host's.

use computehub_sdk::declarations::Guest;
use computehub_sdk::declare::{collection, envelopes, CollectionDecl, Envelope, Kind};

use crate::Ief;

impl Guest for Ief {
    fn collections() -> Vec<CollectionDecl> {
        vec![
            collection("ief_projects")
                .unique("project_id", Kind::Text)
                .parent("clusterid", "clusters")
                .required("namespace", Kind::Text)
                .into(),
            collection("ief_deployments")
                .parent("project", "ief_projects")
                .unique("deployment_id", Kind::Text)
                .required("name", Kind::Text)
                .required("body", Kind::Text)
                .into(),
        ]
    }

    fn error_envelope() -> Option<Envelope> {
        Some(envelopes::ief())
    }
}
