//! What the pcapi plugin declares besides its routes: no collections of its
//! own (it reads the host's devices and clusters) and its failure envelope
//! `{status: false, info, data: ""}`.

use computehub_sdk::declarations::Guest;
use computehub_sdk::declare::{envelopes, CollectionDecl, Envelope};

use crate::Pcapi;

impl Guest for Pcapi {
    fn collections() -> Vec<CollectionDecl> {
        Vec::new()
    }

    fn error_envelope() -> Option<Envelope> {
        Some(envelopes::pcapi())
    }
}
