//! kboss's documented `orgid` parameter ("线下调试/非登录态可指定组织ID进行操作":
//! offline debugging, act as an organisation without logging in).
//!
//! Honoured only on `session` routes, only when the server runs with
//! `--debug-orgid` (config `debug-orgid = true`), and only when the caller
//! sent no API key: a key always wins. Without the flag the parameter is
//! ignored and the route needs a key like any other. The parameter is read
//! from the query string, or from a form or JSON body of the same name.

use super::{AuthError, Principal, Scheme};
use crate::store::{ids, Store};

/// The key id a debug principal carries, so plugins and logs can tell.
pub const DEBUG_KEY_ID: &str = "debug-orgid";

/// The `orgid` a request names, if any: query string first, then the body.
pub fn orgid_param(query: &str, content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let from_pairs = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "orgid")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(org) = from_pairs(query.as_bytes()) {
        return Some(org);
    }
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if essence == "application/json" || (essence.is_empty() && first == Some(&b'{')) {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        return value
            .get("orgid")
            .and_then(|v| v.as_str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
    }
    if essence == "application/x-www-form-urlencoded" || essence.is_empty() {
        return from_pairs(body);
    }
    None
}

/// The principal for a debug `orgid` (creating the organisation if new).
pub async fn principal(store: &Store, orgid: &str) -> Result<Principal, AuthError> {
    ids::validate_org(orgid).map_err(AuthError::BadOrgid)?;
    store.ensure_organisation(orgid).await.map_err(|e| {
        tracing::error!(error = %e, "cannot record the debug organisation");
        AuthError::Store
    })?;
    Ok(Principal {
        organisation: orgid.to_string(),
        key_id: DEBUG_KEY_ID.to_string(),
        scheme: Scheme::Session,
        project: None,
    })
}

#[cfg(test)]
mod tests {
    use super::orgid_param;

    #[test]
    fn query_then_form_then_json() {
        assert_eq!(
            orgid_param("page=1&orgid=mIWUHBeeDM8mwAFPIQ8pS", None, b""),
            Some("mIWUHBeeDM8mwAFPIQ8pS".into())
        );
        assert_eq!(
            orgid_param("orgid=q", Some("application/json"), br#"{"orgid":"b"}"#),
            Some("q".into())
        );
        assert_eq!(
            orgid_param(
                "",
                Some("application/x-www-form-urlencoded"),
                b"a=1&orgid=f"
            ),
            Some("f".into())
        );
        assert_eq!(
            orgid_param(
                "",
                Some("application/json; charset=utf-8"),
                br#"{"orgid":"j"}"#
            ),
            Some("j".into())
        );
        assert_eq!(
            orgid_param("", None, br#" {"orgid":"s"}"#),
            Some("s".into())
        );
        assert_eq!(orgid_param("orgid=", None, b""), None);
        assert_eq!(orgid_param("", Some("application/json"), b"{nope"), None);
        assert_eq!(orgid_param("", Some("text/yaml"), b"orgid=x"), None);
    }
}
