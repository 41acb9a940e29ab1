//! Long-lived service-account tokens in secrets: the token controller of
//! kube-controller-manager. A Secret of type
//! `kubernetes.io/service-account-token` annotated
//! `kubernetes.io/service-account.name: <account>` gets the account's uid
//! as `kubernetes.io/service-account.uid` and `data.token`, `data.ca.crt`
//! and `data.namespace`; its token then authenticates as the account for as
//! long as the secret and the account (with that uid) exist. Such a secret
//! whose account is gone is deleted. This is how a compute center usually
//! makes the kubeconfig it registers for good (a `TokenRequest` token
//! expires).

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use super::User;
use crate::resources;
use crate::state::State;

/// The type of a secret that holds an account's token.
pub const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const NAME: &str = "kubernetes.io/service-account.name";
const UID: &str = "kubernetes.io/service-account.uid";

fn annotation<'a>(o: &'a Value, key: &str) -> &'a str {
    o["metadata"]["annotations"][key].as_str().unwrap_or("")
}

fn ns_name(o: &Value) -> (String, String) {
    (
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

/// The token a secret holds, decoded.
fn token_of(secret: &Value) -> Option<String> {
    let text = secret["data"]["token"].as_str()?;
    let bytes = STANDARD.decode(text).ok()?;
    String::from_utf8(bytes).ok().filter(|t| !t.is_empty())
}

/// Fills the token secrets that lack their token, deletes those whose
/// account is gone, and indexes the tokens; true when a secret changed.
pub(crate) fn sync(st: &mut State) -> bool {
    if !st.inputs_changed("token-secrets", &["secrets", "serviceaccounts"]) {
        return false;
    }
    let secrets: Vec<Value> = st
        .store
        .list("secrets", None)
        .filter(|s| s["type"] == TOKEN_TYPE)
        .map(|s| (**s).clone())
        .collect();
    let mut changed = false;
    let mut index = HashMap::new();
    for secret in secrets {
        let (ns, name) = ns_name(&secret);
        let account = annotation(&secret, NAME);
        let uid = st
            .store
            .get("serviceaccounts", &ns, account)
            .and_then(|a| a["metadata"]["uid"].as_str().map(String::from));
        let named_uid = annotation(&secret, UID);
        let Some(uid) = uid.filter(|u| named_uid.is_empty() || named_uid == u) else {
            // The account it was made for is gone.
            st.store.remove("secrets", &ns, &name);
            changed = true;
            continue;
        };
        if let Some(token) = token_of(&secret) {
            index.insert(token, (ns, name));
            continue;
        }
        let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 64);
        let mut filled = secret.clone();
        filled["metadata"]["annotations"][UID] = json!(uid);
        let data = json!({
            "token": crate::admission::base64(token.as_bytes()),
            "ca.crt": crate::admission::base64(crate::CA_PEM.as_bytes()),
            "namespace": crate::admission::base64(ns.as_bytes()),
        });
        match filled["data"].as_object_mut() {
            Some(d) => d.extend(data.as_object().cloned().unwrap_or_default()),
            None => filled["data"] = data,
        }
        if let Some(def) = resources::by_key("secrets") {
            st.store.replace(def, filled);
            changed = true;
            index.insert(token, (ns, name));
        }
    }
    st.tokens.secrets = index;
    changed
}

/// The account whose token secret holds `token`, while the secret and the
/// account (with the uid the secret names) exist.
pub fn user(st: &State, token: &str) -> Option<User> {
    let (ns, name) = st.tokens.secrets.get(token)?;
    let secret = st.store.get("secrets", ns, name)?;
    if token_of(secret).as_deref() != Some(token) {
        return None;
    }
    let account = annotation(secret, NAME);
    let uid = annotation(secret, UID);
    let stored = st.store.get("serviceaccounts", ns, account)?;
    if uid.is_empty() || stored["metadata"]["uid"].as_str() != Some(uid) {
        return None;
    }
    Some(User::service_account(ns, account, uid))
}
