//! Each API area's wire envelope (see DESIGN.md, "Wire compatibility").
//!
//! | area  | success                          | failure                                  |
//! |-------|----------------------------------|------------------------------------------|
//! | Alaya | `{status: 200, message, data}`   | `{status: <http>, message, data: {}}`    |
//! | IEF   | plain JSON body                  | `{error_code: "IEF.xxxxxx", error_msg}`  |
//! | pcapi | `{status: true, info, data}`     | `200 {status: false, info, data, detail}`|
//! | kboss | `{status: true, msg, data}`      | `200 {status: false, msg, detail}`       |
//!
//! kboss lists answer `data: {total, rows}` where each row carries
//! `row_num_`, its 1-based position across pages ([`kboss::page`]).
//!
//! pcapi and kboss document every failure (validation, not found, conflict,
//! a failed operation) as HTTP 200 with `status: false` and a fixed text
//! (`operate failed`, `无算力中心ID`, ...), so their `from_error` answers
//! 200 ([`failure_status`]) with the documented text exactly and what went
//! wrong in `detail`. What the documents do not cover keeps its status:
//! authentication, and what the host writes itself (an oversized body, a
//! plugin trap or deadline).

use crate::error::ApiError;

pub mod alaya;
pub mod ief;
pub mod kboss;
pub mod pcapi;

/// The HTTP status of a failure in an area whose documents answer every
/// failure with 200 and `status: false` (pcapi, kboss): 200, except an
/// authentication failure (401) and an explicit status the documents do not
/// cover (401, 403, 408, 413, 429), which keep it.
///
/// A capability's refusal (`Forbidden`: an SSH or cluster target outside
/// the plugin's grant) is a failed operation, not the caller's
/// authentication: 200.
///
/// ```
/// # use computehub_sdk::{envelope::failure_status, ApiError};
/// assert_eq!(failure_status(&ApiError::NotFound("x".into())), 200);
/// assert_eq!(failure_status(&ApiError::Forbidden("x".into())), 200);
/// assert_eq!(failure_status(&ApiError::Unauthorized("x".into())), 401);
/// assert_eq!(failure_status(&ApiError::status_message(413, "x")), 413);
/// assert_eq!(failure_status(&ApiError::status_message(422, "x")), 200);
/// ```
pub fn failure_status(err: &ApiError) -> u16 {
    match err.cause() {
        ApiError::Unauthorized(_) => 401,
        ApiError::Status {
            status: status @ (401 | 403 | 408 | 413 | 429),
            ..
        } => *status,
        _ => 200,
    }
}
