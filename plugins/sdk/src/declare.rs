//! What an endpoint plugin declares besides its routes: the collections it
//! owns and the envelope of its errors (WIT `declarations`).
//!
//! ```ignore
//! use computehub_sdk::declare::{self, collection, Kind};
//! use computehub_sdk::declarations::{CollectionDecl, Envelope, Guest};
//!
//! impl Guest for Notes {
//!     fn collections() -> Vec<CollectionDecl> {
//!         vec![collection("notes")
//!             .unique("title", Kind::Text)
//!             .field("token", Kind::Secret)
//!             .index(&["title"])
//!             .into()]
//!     }
//!     fn error_envelope() -> Option<Envelope> {
//!         Some(declare::envelopes::flag("ok", "reason"))
//!     }
//! }
//! computehub_sdk::export_declarations!(Notes);
//! ```
//!
//! The host creates each collection as `<plugin id>.<name>`, scoped to the
//! caller's organisation; the plugin reads and writes it by its short name
//! through [`crate::inventory`]. A later version may add collections,
//! optional fields and indexes; dropping or retyping a field is refused at
//! upload, so stored rows are never lost.

pub use crate::declarations::{CollectionDecl, Envelope, FieldDecl, Kind, StatusStyle};

/// A collection being declared: `collection("notes").required("title", Kind::Text)`.
#[derive(Debug, Clone)]
pub struct Collection(CollectionDecl);

/// Starts the declaration of collection `name` (lower-case letters, digits
/// and `_`, starting with a letter).
pub fn collection(name: &str) -> Collection {
    Collection(CollectionDecl {
        name: name.to_owned(),
        fields: Vec::new(),
        unique_keys: Vec::new(),
        indexes: Vec::new(),
    })
}

fn names(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

impl Collection {
    fn push(mut self, name: &str, kind: Kind, required: bool, unique: bool) -> Self {
        self.0.fields.push(FieldDecl {
            name: name.to_owned(),
            kind,
            required,
            unique,
            references: None,
        });
        self
    }

    /// An optional field.
    pub fn field(self, name: &str, kind: Kind) -> Self {
        self.push(name, kind, false, false)
    }

    /// A field every row must have.
    pub fn required(self, name: &str, kind: Kind) -> Self {
        self.push(name, kind, true, false)
    }

    /// A required field no two rows of one organisation share.
    pub fn unique(self, name: &str, kind: Kind) -> Self {
        self.push(name, kind, true, true)
    }

    fn refers(mut self, name: &str, target: &str, required: bool) -> Self {
        self.0.fields.push(FieldDecl {
            name: name.to_owned(),
            kind: Kind::Text,
            required,
            unique: false,
            references: Some(target.to_owned()),
        });
        self
    }

    /// An optional field holding the id of a row of `target`: another
    /// collection of this plugin (short name) or one of the host's
    /// (`clusters`, `compute_centers`, `devices`).
    pub fn reference(self, name: &str, target: &str) -> Self {
        self.refers(name, target, false)
    }

    /// A required field holding the id of a row of `target` (see
    /// [`Collection::reference`]): the row belongs to that one.
    pub fn parent(self, name: &str, target: &str) -> Self {
        self.refers(name, target, true)
    }

    /// A combination of fields unique within an organisation.
    pub fn unique_key(mut self, fields: &[&str]) -> Self {
        self.0.unique_keys.push(names(fields));
        self
    }

    /// An index for the fields the plugin filters or sorts on.
    pub fn index(mut self, fields: &[&str]) -> Self {
        self.0.indexes.push(names(fields));
        self
    }
}

impl From<Collection> for CollectionDecl {
    fn from(c: Collection) -> Self {
        c.0
    }
}

/// Envelopes: the shapes of an area's failures.
pub mod envelopes {
    use super::{Envelope, StatusStyle};

    fn base(message: &str) -> Envelope {
        Envelope {
            status_field: String::new(),
            status: StatusStyle::Absent,
            message_field: message.to_owned(),
            data_field: String::new(),
            extra: Vec::new(),
            code_field: String::new(),
            codes: Vec::new(),
            default_code: String::new(),
        }
    }

    /// `{"<status>": false, "<message>": "..."}`; successes `{"<status>":
    /// true, "<message>": "...", "data": ...}`.
    pub fn flag(status: &str, message: &str) -> Envelope {
        Envelope {
            status_field: status.to_owned(),
            status: StatusStyle::FalseFlag,
            data_field: "data".into(),
            ..base(message)
        }
    }

    /// `{"<status>": <http status>, "<message>": "..."}`.
    pub fn http_status(status: &str, message: &str) -> Envelope {
        Envelope {
            status_field: status.to_owned(),
            status: StatusStyle::HttpStatus,
            data_field: "data".into(),
            ..base(message)
        }
    }

    /// `{"<code>": "<code for the status>", "<message>": "..."}`, successes
    /// being the plain payload.
    pub fn coded(code: &str, message: &str, codes: &[(u16, &str)], default: &str) -> Envelope {
        Envelope {
            code_field: code.to_owned(),
            codes: codes.iter().map(|(s, c)| (*s, (*c).to_owned())).collect(),
            default_code: default.to_owned(),
            ..base(message)
        }
    }

    /// kboss: `{status: false, msg}`.
    pub fn kboss() -> Envelope {
        flag("status", "msg")
    }

    /// pcapi: `{status: false, info, data: ""}`.
    pub fn pcapi() -> Envelope {
        Envelope {
            status_field: "status".into(),
            status: StatusStyle::FalseFlag,
            message_field: "info".into(),
            data_field: "data".into(),
            extra: vec![("data".into(), "\"\"".into())],
            ..base("info")
        }
    }

    /// Alaya NeW: `{status: <http status>, message, data: {}}`.
    pub fn alaya() -> Envelope {
        Envelope {
            extra: vec![("data".into(), "{}".into())],
            ..http_status("status", "message")
        }
    }

    /// Huawei IEF: `{error_code: "IEF.000<status>", error_msg}`.
    pub fn ief() -> Envelope {
        let codes = [
            (400, "IEF.000400"),
            (401, "IEF.000401"),
            (403, "IEF.000403"),
            (404, "IEF.000404"),
            (408, "IEF.000408"),
            (413, "IEF.000413"),
            (503, "IEF.000503"),
        ];
        coded("error_code", "error_msg", &codes, "IEF.000500")
    }
}
