//! Service-account tokens: the `TokenRequest` API
//! (`POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`, what
//! `kubectl create token` calls) and reading a bearer token back as the
//! service account it was issued to.
//!
//! A token is good until it expires (`spec.expirationSeconds`, 3600 by
//! default, at least 600), and only while its service account (and the pod
//! or secret it is bound to, if any) still exists with the uid it had: a
//! deleted and re-created account is a new identity, as with kube-apiserver's
//! bound tokens. The cluster keeps at most [`MAX_TOKENS`]; past that the one
//! nearest its expiry goes first. Tokens are opaque random strings (real ones
//! are signed JWTs; clients do not read them).

use std::collections::HashMap;

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use super::User;
use crate::error::{ApiError, ApiResult};
use crate::state::State;

/// Most tokens the cluster remembers at once.
pub const MAX_TOKENS: usize = 10_000;
/// Lifetime when the request names none (kube-apiserver's default).
const DEFAULT_SECONDS: i64 = 3600;
/// Shortest lifetime a request may ask for.
const MIN_SECONDS: i64 = 600;
/// Longest lifetime a request may ask for (2^32 seconds).
const MAX_SECONDS: i64 = 1 << 32;
/// The audience of a token that names none.
const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
const GROUP: &str = "authentication.k8s.io";

/// An object a token stands or falls with: (store key, namespace, name, uid).
type Binding = (String, String, String, String);

/// What one token was issued to.
#[derive(Debug, Clone)]
struct Issued {
    namespace: String,
    name: String,
    uid: String,
    bound: Option<Binding>,
    expires: i64,
}

/// The tokens issued so far.
#[derive(Debug, Default)]
pub struct Tokens {
    by_token: HashMap<String, Issued>,
    /// Token secrets' tokens: (namespace, secret name) by token
    /// ([`super::secrets`]).
    pub(crate) secrets: HashMap<String, (String, String)>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn uid_of(st: &State, key: &str, ns: &str, name: &str) -> Option<String> {
    st.store
        .get(key, ns, name)
        .and_then(|o| o["metadata"]["uid"].as_str().map(String::from))
}

impl Tokens {
    /// Number of tokens remembered.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    fn remember(&mut self, token: String, issued: Issued) {
        if self.by_token.len() >= MAX_TOKENS {
            let t = now();
            self.by_token.retain(|_, i| i.expires > t);
        }
        if self.by_token.len() >= MAX_TOKENS {
            let first = self
                .by_token
                .iter()
                .min_by_key(|(_, i)| i.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = first {
                self.by_token.remove(&k);
            }
        }
        self.by_token.insert(token, issued);
    }
}

/// The service account `token` was issued to, while it is still good
/// (by the `TokenRequest` API or in a token secret).
pub fn user(st: &State, token: &str) -> Option<User> {
    let Some(i) = st.tokens.by_token.get(token) else {
        return super::secrets::user(st, token);
    };
    if i.expires <= now() {
        return None;
    }
    if uid_of(st, "serviceaccounts", &i.namespace, &i.name).as_deref() != Some(i.uid.as_str()) {
        return None;
    }
    if let Some((key, ns, name, uid)) = &i.bound {
        if uid_of(st, key, ns, name).as_deref() != Some(uid.as_str()) {
            return None;
        }
    }
    Some(User::service_account(&i.namespace, &i.name, &i.uid))
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid("TokenRequest", GROUP, name, &[(field.to_string(), message)])
}

/// `POST serviceaccounts/<name>/token`: issues a token for the account and
/// answers the `TokenRequest` with it.
pub fn request(st: &mut State, ns: &str, name: &str, body: &Value) -> ApiResult<Value> {
    let uid = uid_of(st, "serviceaccounts", ns, name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    let spec = &body["spec"];
    let seconds = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_SECONDS,
        v => v.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: spec.expirationSeconds: {v} is not an integer"
            ))
        })?,
    };
    if seconds < MIN_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!("Invalid value: {seconds}: may not specify a duration less than 10 minutes"),
        ));
    }
    if seconds > MAX_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let bound = match spec["boundObjectRef"].as_object() {
        None => None,
        Some(r) => {
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            let (key, resource) = match text("kind") {
                "Pod" => ("pods", "pods"),
                "Secret" => ("secrets", "secrets"),
                other => {
                    return Err(invalid(
                        name,
                        "spec.boundObjectRef.kind",
                        format!(
                            "Unsupported value: \"{other}\": supported values: \"Pod\", \"Secret\""
                        ),
                    ))
                }
            };
            let object = text("name");
            let found = uid_of(st, key, ns, object)
                .ok_or_else(|| ApiError::not_found("", resource, object))?;
            let wanted = text("uid");
            if !wanted.is_empty() && wanted != found {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {resource} \"{object}\": the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
            Some((key.to_string(), ns.to_string(), object.to_string(), found))
        }
    };
    let audiences = match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!([API_AUDIENCE]),
    };
    let token = format!(
        "simsa-{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 48)
    );
    let expires = now() + seconds;
    st.tokens.remember(
        token.clone(),
        Issued {
            namespace: ns.to_string(),
            name: name.to_string(),
            uid,
            bound,
            expires,
        },
    );
    let expiration = chrono::DateTime::from_timestamp(expires, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
        "spec": {
            "audiences": audiences,
            "expirationSeconds": seconds,
            "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
        },
        "status": {"token": token, "expirationTimestamp": expiration},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use crate::spec::ClusterSpec;

    /// A token bound to a pod: refused for another uid of the pod, good
    /// while the pod lives, dead once it is gone.
    #[test]
    fn a_bound_token_lives_with_its_pod() {
        let mut st = State::new(ClusterSpec::new("tokens"));
        st.store.insert(
            &resources::SERVICE_ACCOUNTS,
            json!({"metadata": {"name": "ci", "namespace": "default"}}),
        );
        let pod = st.store.insert(
            &resources::PODS,
            json!({"metadata": {"name": "runner", "namespace": "default"}, "spec": {}}),
        );
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let bound = |uid: &str| json!({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "runner", "uid": uid}}});
        let e = request(&mut st, "default", "ci", &bound("other")).unwrap_err();
        assert_eq!(e.code, 409);
        assert!(e
            .message
            .contains("the UID in the bound object reference (other) does not match"));
        assert!(st.tokens.is_empty());

        let answer = request(&mut st, "default", "ci", &bound(&uid)).unwrap();
        let token = answer["status"]["token"].as_str().unwrap_or("").to_string();
        assert_eq!(answer["spec"]["expirationSeconds"], 3600);
        let who = user(&st, &token).map(|u| u.name);
        assert_eq!(who.as_deref(), Some("system:serviceaccount:default:ci"));
        st.store.remove("pods", "default", "runner");
        assert!(user(&st, &token).is_none());
    }

    #[test]
    fn the_oldest_token_goes_when_the_cluster_holds_its_most() {
        let mut t = Tokens::default();
        let issued = |expires| Issued {
            namespace: "a".into(),
            name: "b".into(),
            uid: "u".into(),
            bound: None,
            expires,
        };
        let far = now() + 10_000;
        for i in 0..MAX_TOKENS {
            t.remember(format!("t{i}"), issued(far + i as i64));
        }
        t.remember("new".into(), issued(far + 1_000_000));
        assert_eq!(t.len(), MAX_TOKENS);
        assert!(!t.by_token.contains_key("t0") && t.by_token.contains_key("t1"));
        assert!(t.by_token.contains_key("new"));
    }
}
