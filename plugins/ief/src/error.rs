//! IEF errors: an HTTP status, an `IEF.xxxxxx` code and a message naming the
//! field. The codes are listed, with their meaning, in
//! `docs/ief-error-codes.md`; keep the two in step.

use computehub_sdk::envelope::ief;
use computehub_sdk::{ApiError, Response};

/// The project id is unknown to the caller's organisation (the documents'
/// example: `PROJECT_ID not found`).
pub const PROJECT_NOT_FOUND: &str = "IEF.100001";
/// The body is not a JSON object.
pub const BAD_BODY: &str = "IEF.100002";
/// A required field or parameter is missing.
pub const MISSING: &str = "IEF.100003";
/// A field has the wrong JSON type.
pub const WRONG_TYPE: &str = "IEF.100004";
/// A name, text or path breaks its format or length rule.
pub const BAD_FORMAT: &str = "IEF.100005";
/// A number (or a count) is out of its range.
pub const OUT_OF_RANGE: &str = "IEF.100006";
/// A value is not one of the allowed values.
pub const NOT_ALLOWED: &str = "IEF.100007";
/// Fields that exclude each other: exactly one (or at most one) of them.
pub const EXCLUSIVE: &str = "IEF.100008";
/// A duplicate: env names, container names, volume names.
pub const DUPLICATE: &str = "IEF.100009";
/// An inconsistent combination of otherwise valid fields.
pub const INCONSISTENT: &str = "IEF.100010";
/// A platinum-edition feature without `ief-instance-id`, or a malformed
/// `ief-instance-id` header.
pub const EDITION: &str = "IEF.100011";
/// The edge node or node group does not exist in the project.
pub const NODE_NOT_FOUND: &str = "IEF.100012";
/// A deployment of that name already exists in the project (409).
pub const NAME_TAKEN: &str = "IEF.100013";
/// No such deployment in the project (404).
pub const DEPLOYMENT_NOT_FOUND: &str = "IEF.100014";
/// The platform failed (cluster or store): 500, details in the log.
pub const INTERNAL: &str = "IEF.100500";

/// An answer in IEF's error format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct IefError {
    pub status: u16,
    pub code: &'static str,
    pub msg: String,
}

impl IefError {
    /// A 400 with `code`.
    pub fn bad(code: &'static str, msg: impl Into<String>) -> Self {
        IefError {
            status: 400,
            code,
            msg: msg.into(),
        }
    }

    /// `field` is required.
    pub fn missing(field: &str) -> Self {
        Self::bad(MISSING, format!("`{field}` is required"))
    }

    /// `field` must be of JSON type `what`.
    pub fn wrong_type(field: &str, what: &str) -> Self {
        Self::bad(WRONG_TYPE, format!("`{field}` must be {what}"))
    }

    /// `field` breaks its format rule.
    pub fn format(field: &str, rule: &str) -> Self {
        Self::bad(BAD_FORMAT, format!("`{field}` {rule}"))
    }

    /// `field` is out of range.
    pub fn range(field: &str, rule: &str) -> Self {
        Self::bad(OUT_OF_RANGE, format!("`{field}` {rule}"))
    }

    /// `field` is not one of `allowed`.
    pub fn not_allowed(field: &str, got: &str, allowed: &[&str]) -> Self {
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Self::bad(
            NOT_ALLOWED,
            format!("`{field}` must be one of {list}, got `{got}`"),
        )
    }

    /// The platform failed.
    pub fn internal(msg: impl Into<String>) -> Self {
        IefError {
            status: 500,
            code: INTERNAL,
            msg: msg.into(),
        }
    }

    /// The response.
    pub fn response(&self) -> Response {
        ief::error(self.status, self.code, &self.msg)
    }
}

impl From<ApiError> for IefError {
    fn from(e: ApiError) -> Self {
        match e.status() {
            400 => IefError::bad(WRONG_TYPE, e.to_string()),
            404 => IefError {
                status: 404,
                code: DEPLOYMENT_NOT_FOUND,
                msg: e.to_string(),
            },
            409 => IefError {
                status: 409,
                code: NAME_TAKEN,
                msg: e.to_string(),
            },
            _ => IefError::internal(e.to_string()),
        }
    }
}

impl From<computehub_sdk::inventory::Error> for IefError {
    fn from(e: computehub_sdk::inventory::Error) -> Self {
        IefError::internal(format!("inventory: {}", ApiError::from(e)))
    }
}

impl From<computehub_sdk::kubernetes::Error> for IefError {
    fn from(e: computehub_sdk::kubernetes::Error) -> Self {
        IefError::internal(format!("kubernetes: {}", ApiError::from(e)))
    }
}

/// What handlers answer.
pub type IefResult<T> = Result<T, IefError>;
