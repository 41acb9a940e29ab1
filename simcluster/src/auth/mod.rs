//! Who a request is and what it may do, as kube-apiserver decides it before
//! it reads a request's body.
//!
//! Authentication: the cluster's own bearer token is its administrator
//! (`kubernetes-admin`, in the group `system:masters`); a token from the
//! `TokenRequest` API ([`tokens`], `kubectl create token`) or in a
//! `kubernetes.io/service-account-token` secret ([`secrets`]) is its service
//! account (`system:serviceaccount:<ns>:<name>`, in `system:serviceaccounts`,
//! `system:serviceaccounts:<ns>` and `system:authenticated`). Any other token
//! is a `401`. Authorization is RBAC ([`rbac`]) over the stored roles and
//! bindings, which a new cluster starts with kube-apiserver's defaults
//! ([`bootstrap`]): a service account may do nothing but discovery and
//! reviewing itself until a binding grants it more, and a refusal is a `403`
//! that changes nothing. `kubectl auth can-i` and `kubectl auth whoami` ask
//! the same authorizer and authenticator; `kubectl --as` acts as another
//! user for a caller allowed to `impersonate` it (`server/gate.rs`).

mod attributes;
pub(crate) mod bootstrap;
pub mod rbac;
pub mod secrets;
pub mod tokens;

pub use attributes::Attributes;
pub use rbac::{authorize, Decision};
pub use tokens::Tokens;

use std::collections::BTreeMap;

use crate::state::State;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `kubernetes-admin`, `system:serviceaccount:team:ci`.
    pub name: String,
    /// The service account's uid; empty for the administrator.
    pub uid: String,
    /// Groups, `system:authenticated` among them.
    pub groups: Vec<String>,
    /// Extras (`Impersonate-Extra-<key>`): shown to the user
    /// (`SelfSubjectReview`); RBAC decides nothing on them.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    /// The holder of the cluster's own token.
    pub fn admin() -> Self {
        User {
            name: "kubernetes-admin".into(),
            uid: String::new(),
            groups: vec![rbac::PRIVILEGED_GROUP.into(), "system:authenticated".into()],
            extra: BTreeMap::new(),
        }
    }

    /// A caller without a token (`system:anonymous`), on the open paths.
    pub fn anonymous() -> Self {
        User {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
            extra: BTreeMap::new(),
        }
    }

    /// A service account's identity.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.into(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            extra: BTreeMap::new(),
        }
    }
}

/// The user a bearer `token` stands for, `None` when it stands for nobody.
pub fn authenticate(st: &State, admin_token: &str, token: &str) -> Option<User> {
    if token == admin_token {
        return Some(User::admin());
    }
    tokens::user(st, token)
}
