//! Huawei IEF: plain JSON bodies; errors `{"error_code": "IEF.xxxxxx",
//! "error_msg": "..."}` with the HTTP status given.

use serde::Serialize;

use crate::error::ApiError;
use crate::{response, Response};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    error_msg: &'a str,
}

/// A plain JSON body with the given status (IEF has no success envelope).
pub fn ok<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
    response::json(status, body)
}

/// `{"error_code": code, "error_msg": message}` with HTTP `status`.
pub fn error(status: u16, code: &str, message: &str) -> Response {
    response::json(
        status,
        &ErrorBody {
            error_code: code,
            error_msg: message,
        },
    )
}

/// Renders an [`ApiError`] with its status, its message and the IEF `code`
/// the caller chose for it.
pub fn from_error(err: &ApiError, code: &str) -> Response {
    error(err.status(), code, &err.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_shape() {
        let r = error(400, "IEF.100001", "PROJECT_ID not found");
        assert_eq!(r.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error_code": "IEF.100001", "error_msg": "PROJECT_ID not found"})
        );
    }
}
