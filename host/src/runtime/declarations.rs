//! An endpoint plugin's optional `declarations` export: the collections it
//! owns and its error envelope. Looked up by name, so plugins built before
//! the export load unchanged (no collections, the envelope their
//! `error-format` names).

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::InstancePre;

use super::call::{new_store, with_deadline};
use super::{CallContext, HostServices, PluginState};
use crate::bindings::declarations::{self as wit, EndpointDeclarationsPre};
use crate::envelope::{Envelope, StatusStyle};
use crate::store::collections::FieldKind;
use crate::store::{CollectionDecl, FieldDecl};

/// What the export answered.
#[derive(Debug, Default)]
pub struct Declared {
    pub collections: Vec<CollectionDecl>,
    pub envelope: Option<Envelope>,
}

/// Why a declaration was not usable.
#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    #[error("its `declarations` export failed: {0}")]
    Call(String),
}

fn kind(k: wit::Kind) -> FieldKind {
    match k {
        wit::Kind::Text => FieldKind::Text,
        wit::Kind::Integer => FieldKind::Integer,
        wit::Kind::Decimal => FieldKind::Decimal,
        wit::Kind::Boolean => FieldKind::Boolean,
        wit::Kind::Secret => FieldKind::Secret,
        wit::Kind::Timestamp => FieldKind::Timestamp,
    }
}

impl From<wit::CollectionDecl> for CollectionDecl {
    fn from(c: wit::CollectionDecl) -> Self {
        CollectionDecl {
            name: c.name,
            fields: c
                .fields
                .into_iter()
                .map(|f| FieldDecl {
                    name: f.name,
                    kind: kind(f.kind),
                    required: f.required,
                    unique: f.unique,
                    references: f.references,
                })
                .collect(),
            unique_keys: c.unique_keys,
            indexes: c.indexes,
        }
    }
}

impl From<wit::Envelope> for Envelope {
    fn from(e: wit::Envelope) -> Self {
        Envelope {
            status_field: e.status_field,
            status: match e.status {
                wit::StatusStyle::Absent => StatusStyle::Absent,
                wit::StatusStyle::FalseFlag => StatusStyle::FalseFlag,
                wit::StatusStyle::HttpStatus => StatusStyle::HttpStatus,
            },
            message_field: e.message_field,
            data_field: e.data_field,
            extra: e.extra,
            code_field: e.code_field,
            codes: e.codes,
            default_code: e.default_code,
        }
    }
}

/// The declarations of the endpoint `pre`: empty when it does not export
/// `declarations`.
pub async fn declarations(
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
) -> Result<Declared, DeclarationError> {
    let Ok(decl) = EndpointDeclarationsPre::new(pre.clone()) else {
        return Ok(Declared::default());
    };
    let ctx = CallContext {
        plugin: plugin.into(),
        request_id: "declarations".into(),
        organisation: None,
        operation: None,
    };
    let deadline = Duration::from_secs(5);
    let mut store = new_store(pre.engine(), ctx, services, deadline);
    let answer = with_deadline(deadline, async {
        let bindings = decl.instantiate_async(&mut store).await?;
        let d = bindings.computehub_platform_declarations();
        let collections = d.call_collections(&mut store).await?;
        let envelope = d.call_error_envelope(&mut store).await?;
        Ok((collections, envelope))
    })
    .await;
    store.data().flush_output();
    let (collections, envelope) = answer.map_err(|e| DeclarationError::Call(e.to_string()))?;
    Ok(Declared {
        collections: collections.into_iter().map(Into::into).collect(),
        envelope: envelope.map(Into::into),
    })
}
