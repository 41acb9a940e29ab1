//! [`ApiError`]: one typed error for everything a handler can fail on.
//!
//! Handlers written as `fn serve(req: &Request) -> Result<Response, ApiError>`
//! use `?` on parameters and capability calls alike; the area's envelope
//! module then renders the error (`kboss::from_error(&e)`, ...). Alaya, IEF
//! and plain routes answer with [`ApiError::status`] as the HTTP status;
//! pcapi and kboss, whose documents answer every failure with 200 and
//! `status: false`, choose the HTTP status in their envelope module
//! ([`crate::envelope::failure_status`]).
//!
//! Where an API document gives the caller-facing text of a case (kboss
//! `无算力中心ID`, pcapi `delete node failed`), [`ApiError::documented`]
//! keeps that text apart from the error that says which field and why, so
//! the envelope can answer the text exactly and the reason in `detail`:
//!
//! ```
//! # use computehub_sdk::{ApiError, ParamError};
//! let e = ApiError::documented("无算力中心ID", ParamError::Missing { name: "cpcid".into() }.into());
//! assert_eq!(e.text(), Some("无算力中心ID"));
//! assert_eq!(e.detail(), "parameter `cpcid` is required");
//! assert_eq!(e.status(), 400);
//! assert_eq!(e.to_string(), "无算力中心ID: parameter `cpcid` is required");
//! ```

use crate::bindings::computehub::platform::{
    inventory, kubernetes, operations, pricing, scheduling, ssh,
};
use crate::params::ParamError;

/// Why a request failed, with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A parameter or the body was refused (400).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The request is malformed or asks for something impossible (400).
    #[error("{0}")]
    BadRequest(String),
    /// The caller is not authenticated (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// A remote machine or service answered badly or not at all (502).
    #[error("{0}")]
    BadGateway(String),
    /// A dependency is unavailable for now (503).
    #[error("{0}")]
    Unavailable(String),
    /// A dependency did not answer in time (504).
    #[error("{0}")]
    Timeout(String),
    /// Something failed inside the platform (500).
    #[error("{0}")]
    Internal(String),
    /// Any other status with its message.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The message for the caller.
        message: String,
    },
    /// A failure whose caller-facing text is fixed (the `msg`/`info` an API
    /// document gives for the case); `cause` says which field and why, and
    /// gives the status.
    #[error("{text}: {cause}")]
    Documented {
        /// The documented text, answered exactly.
        text: String,
        /// What went wrong, for people (the envelope's `detail`).
        cause: Box<ApiError>,
    },
}

impl ApiError {
    /// An error with an explicit HTTP status.
    pub fn status_message(status: u16, message: impl Into<String>) -> Self {
        ApiError::Status {
            status,
            message: message.into(),
        }
    }

    /// `cause` answered with the documented `text` (see the module docs).
    /// A cause that already has a text keeps its own cause, under `text`.
    pub fn documented(text: impl Into<String>, cause: ApiError) -> Self {
        let cause = match cause {
            ApiError::Documented { cause, .. } => cause,
            other => Box::new(other),
        };
        ApiError::Documented {
            text: text.into(),
            cause,
        }
    }

    /// The documented text of the case, if it has one.
    pub fn text(&self) -> Option<&str> {
        match self {
            ApiError::Documented { text, .. } => Some(text),
            _ => None,
        }
    }

    /// What went wrong, for people: the cause of a documented failure,
    /// otherwise the whole message.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Documented { cause, .. } => cause.to_string(),
            other => other.to_string(),
        }
    }

    /// The error beneath a documented text (itself otherwise): what kind of
    /// failure it is.
    pub fn cause(&self) -> &ApiError {
        match self {
            ApiError::Documented { cause, .. } => cause,
            other => other,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Param(_) | ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::BadGateway(_) => 502,
            ApiError::Unavailable(_) => 503,
            ApiError::Timeout(_) => 504,
            ApiError::Internal(_) => 500,
            ApiError::Status { status, .. } => *status,
            ApiError::Documented { cause, .. } => cause.status(),
        }
    }
}

impl From<inventory::Error> for ApiError {
    fn from(e: inventory::Error) -> Self {
        match e {
            inventory::Error::NotFound(m) => ApiError::NotFound(m),
            inventory::Error::Conflict(m) => ApiError::Conflict(m),
            inventory::Error::Invalid(m) => ApiError::BadRequest(m),
            inventory::Error::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<ssh::Error> for ApiError {
    fn from(e: ssh::Error) -> Self {
        match e {
            ssh::Error::Invalid(m) => ApiError::BadRequest(m),
            ssh::Error::Unreachable(m) => ApiError::BadGateway(format!("ssh: unreachable: {m}")),
            ssh::Error::AuthFailed(m) => {
                ApiError::BadGateway(format!("ssh: authentication failed: {m}"))
            }
            ssh::Error::HostKeyChanged(m) => {
                ApiError::BadGateway(format!("ssh: host key changed: {m}"))
            }
            ssh::Error::Timeout(m) => ApiError::Timeout(format!("ssh: timed out: {m}")),
            ssh::Error::Denied(m) => ApiError::Forbidden(m),
            ssh::Error::Remote(m) => ApiError::BadGateway(format!("ssh: {m}")),
        }
    }
}

impl From<operations::Error> for ApiError {
    fn from(e: operations::Error) -> Self {
        match e {
            operations::Error::Invalid(m) => ApiError::Internal(format!("operations: {m}")),
            operations::Error::Conflict(m) => ApiError::Conflict(m),
            operations::Error::Internal(m) => ApiError::Internal(format!("operations: {m}")),
        }
    }
}

impl From<kubernetes::Error> for ApiError {
    fn from(e: kubernetes::Error) -> Self {
        match e {
            kubernetes::Error::NotFound(m) => ApiError::NotFound(m),
            kubernetes::Error::Conflict(m) => ApiError::Conflict(m),
            kubernetes::Error::Invalid(m) => ApiError::BadRequest(m),
            kubernetes::Error::Unavailable(m) => {
                ApiError::Unavailable(format!("kubernetes: unavailable: {m}"))
            }
            kubernetes::Error::Timeout(m) => {
                ApiError::Timeout(format!("kubernetes: timed out: {m}"))
            }
            kubernetes::Error::Denied(m) => ApiError::Forbidden(m),
        }
    }
}

impl From<pricing::Error> for ApiError {
    fn from(e: pricing::Error) -> Self {
        match e {
            pricing::Error::Invalid(m) => ApiError::BadRequest(m),
            pricing::Error::Unavailable(m) => ApiError::Unavailable(format!("pricing: {m}")),
        }
    }
}

impl From<scheduling::Error> for ApiError {
    fn from(e: scheduling::Error) -> Self {
        match e {
            scheduling::Error::Invalid(m) => ApiError::BadRequest(m),
            scheduling::Error::Unavailable(m) => ApiError::Unavailable(format!("scheduling: {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            ApiError::from(inventory::Error::Conflict("x".into())).status(),
            409
        );
        assert_eq!(
            ApiError::from(ssh::Error::Timeout("x".into())).status(),
            504
        );
        let p = ParamError::Missing { name: "id".into() };
        let e = ApiError::from(p);
        assert_eq!(e.status(), 400);
        assert_eq!(e.to_string(), "parameter `id` is required");
        assert_eq!(ApiError::status_message(418, "teapot").status(), 418);
    }

    #[test]
    fn documented_texts_keep_their_cause() {
        let e = ApiError::documented("算力中心不存在", ApiError::NotFound("no `x`".into()));
        assert_eq!(e.status(), 404);
        assert_eq!(
            (e.text(), e.detail().as_str()),
            (Some("算力中心不存在"), "no `x`")
        );
        assert_eq!(e.cause(), &ApiError::NotFound("no `x`".into()));
        // A new text replaces the old one, over the same cause.
        let again = ApiError::documented("算力中心服务操作失败", e);
        assert_eq!(again.text(), Some("算力中心服务操作失败"));
        assert_eq!(again.detail(), "no `x`");
        let plain = ApiError::Conflict("taken".into());
        assert_eq!((plain.text(), plain.detail().as_str()), (None, "taken"));
    }
}
