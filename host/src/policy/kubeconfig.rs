//! The kubeconfig policy: one check for every kubeconfig from every source
//! (inline from a caller, written through `inventory`, `clusters import`,
//! provisioning results), applied when it is stored and again when it is used.
//!
//! kube-rs's own loader runs `users[].user.exec` and `auth-provider`
//! commands and reads every file a kubeconfig names, so it is never used on
//! text that came from outside the operator's hand. This module parses the
//! document into its own types, refuses what could run a program, read a
//! file or reach a proxy, and returns the checked values from which the
//! client is built ([`Checked::client_config`]). Credentials and CAs are
//! accepted only as inline data: `token`, `client-certificate-data` with
//! `client-key-data`, `username`/`password`, `certificate-authority-data`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_yaml::Value;

/// Largest kubeconfig accepted.
pub const MAX_KUBECONFIG: usize = 256 * 1024;

/// Why a kubeconfig was refused: one sentence naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kubeconfig: {0}")]
pub struct KubeconfigError(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, KubeconfigError> {
    Err(KubeconfigError(msg.into()))
}

/// The document's shape; every entry keeps its raw mapping so unknown fields
/// are seen and named.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Document {
    #[serde(default)]
    clusters: Vec<Named>,
    #[serde(default)]
    users: Vec<Named>,
    #[serde(default)]
    contexts: Vec<Named>,
    #[serde(default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
    #[serde(alias = "user", alias = "context")]
    cluster: Option<Value>,
}

/// User fields that name credentials inline.
const USER_FIELDS: [&str; 6] = [
    "token",
    "client-certificate-data",
    "client-key-data",
    "username",
    "password",
    "extensions",
];
/// Cluster fields that cannot run, read or proxy anything.
const CLUSTER_FIELDS: [&str; 5] = [
    "server",
    "certificate-authority-data",
    "tls-server-name",
    "insecure-skip-tls-verify",
    "extensions",
];
const CONTEXT_FIELDS: [&str; 4] = ["cluster", "user", "namespace", "extensions"];

/// Why a refused field is refused, for the message.
fn why(field: &str) -> &'static str {
    match field {
        "exec" | "auth-provider" => "it runs a program on the server",
        "tokenFile" | "client-certificate" | "client-key" | "certificate-authority" => {
            "it names a file on the server; give the content inline (`*-data`, `token`)"
        }
        "proxy-url" => "connections go to the API server directly, not through a proxy",
        _ => "it is not a field this server accepts",
    }
}

/// The checked values of the context a client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The API server URL (`https://host:port[/path]`).
    pub server: url::Url,
    /// DER certificates of `certificate-authority-data`.
    pub ca: Vec<Vec<u8>>,
    pub tls_server_name: Option<String>,
    pub insecure: bool,
    pub token: Option<String>,
    /// PEM client certificate and key (both or neither).
    pub client_cert: Option<(String, String)>,
    pub basic: Option<(String, String)>,
    pub namespace: Option<String>,
}

fn text_field(
    map: &serde_yaml::Mapping,
    key: &str,
    at: &str,
) -> Result<Option<String>, KubeconfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => refuse(format!("{at}.{key} must be a string")),
    }
}

/// The entry's fields as a mapping, every key among `allowed`.
fn fields<'a>(
    v: Option<&'a Value>,
    at: &str,
    allowed: &[&str],
) -> Result<Option<&'a serde_yaml::Mapping>, KubeconfigError> {
    let map = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Mapping(m)) => m,
        Some(_) => return refuse(format!("{at} must be a mapping")),
    };
    for k in map.keys() {
        let Value::String(k) = k else {
            return refuse(format!("{at} has a key that is not a string"));
        };
        if !allowed.contains(&k.as_str()) {
            return refuse(format!("{at}.{k} is not accepted: {}", why(k)));
        }
    }
    Ok(Some(map))
}

fn decode(b64: &str, at: &str) -> Result<Vec<u8>, KubeconfigError> {
    let compact: String = b64.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .or_else(|_| refuse(format!("{at} is not valid base64")))
}

fn pem_text(b64: &str, at: &str) -> Result<String, KubeconfigError> {
    let bytes = decode(b64, at)?;
    let text = String::from_utf8(bytes).or_else(|_| refuse(format!("{at} is not PEM")))?;
    if pem::parse_many(text.as_bytes()).map_or(true, |p| p.is_empty()) {
        return refuse(format!("{at} is not PEM"));
    }
    Ok(text)
}

/// Check a kubeconfig and return the values of its current context.
pub fn check(yaml: &str) -> Result<Checked, KubeconfigError> {
    if yaml.len() > MAX_KUBECONFIG {
        return refuse("larger than 256 KiB");
    }
    let doc: Document = serde_yaml::from_str(yaml)
        .or_else(|_| refuse("not a kubeconfig (YAML with clusters, users and contexts)"))?;
    // Every entry is checked, used or not: a stored kubeconfig may later be
    // used under another context.
    let mut clusters = BTreeMap::new();
    for (i, c) in doc.clusters.iter().enumerate() {
        let at = format!("clusters[{i}].cluster");
        let map = fields(c.cluster.as_ref(), &at, &CLUSTER_FIELDS)?;
        clusters.insert(c.name.clone().unwrap_or_default(), (at, map));
    }
    let mut users = BTreeMap::new();
    for (i, u) in doc.users.iter().enumerate() {
        let at = format!("users[{i}].user");
        let map = fields(u.cluster.as_ref(), &at, &USER_FIELDS)?;
        users.insert(u.name.clone().unwrap_or_default(), (at, map));
    }
    let mut contexts = BTreeMap::new();
    for (i, c) in doc.contexts.iter().enumerate() {
        let at = format!("contexts[{i}].context");
        let map = fields(c.cluster.as_ref(), &at, &CONTEXT_FIELDS)?;
        contexts.insert(c.name.clone().unwrap_or_default(), (at, map));
    }
    let (ctx_at, ctx) = match doc.current_context.as_deref().filter(|c| !c.is_empty()) {
        Some(name) => contexts.get(name).ok_or_else(|| {
            KubeconfigError(format!("current-context `{name}` is not among contexts"))
        })?,
        None => contexts
            .values()
            .next()
            .ok_or_else(|| KubeconfigError("it names no context".into()))?,
    };
    let empty = serde_yaml::Mapping::new();
    let ctx = ctx.unwrap_or(&empty);
    let cluster_name = text_field(ctx, "cluster", ctx_at)?.unwrap_or_default();
    let user_name = text_field(ctx, "user", ctx_at)?;
    let namespace = text_field(ctx, "namespace", ctx_at)?;
    let (c_at, cluster) = clusters.get(&cluster_name).ok_or_else(|| {
        KubeconfigError(format!(
            "{ctx_at}.cluster `{cluster_name}` is not among clusters"
        ))
    })?;
    let cluster = cluster.unwrap_or(&empty);

    let server = text_field(cluster, "server", c_at)?
        .ok_or_else(|| KubeconfigError(format!("{c_at}.server is missing")))?;
    let server = url::Url::parse(&server)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .filter(|u| u.username().is_empty() && u.password().is_none())
        .filter(|u| u.query().is_none() && u.fragment().is_none())
        .ok_or_else(|| {
            KubeconfigError(format!("{c_at}.server must be an http(s) URL with a host"))
        })?;
    let ca = match text_field(cluster, "certificate-authority-data", c_at)? {
        None => Vec::new(),
        Some(b64) => {
            let at = format!("{c_at}.certificate-authority-data");
            let pem = pem_text(&b64, &at)?;
            let ders: Vec<Vec<u8>> = pem::parse_many(pem.as_bytes())
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.tag() == "CERTIFICATE")
                .map(|p| p.into_contents())
                .collect();
            if ders.is_empty() {
                return refuse(format!("{at} holds no certificate"));
            }
            ders
        }
    };
    let insecure = match cluster.get("insecure-skip-tls-verify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return refuse(format!(
                "{c_at}.insecure-skip-tls-verify must be true or false"
            ))
        }
    };
    let tls_server_name = text_field(cluster, "tls-server-name", c_at)?;

    let mut checked = Checked {
        server,
        ca,
        tls_server_name,
        insecure,
        token: None,
        client_cert: None,
        basic: None,
        namespace,
    };
    if let Some(user_name) = user_name {
        let (u_at, user) = users.get(&user_name).ok_or_else(|| {
            KubeconfigError(format!("{ctx_at}.user `{user_name}` is not among users"))
        })?;
        let user = user.unwrap_or(&empty);
        checked.token = text_field(user, "token", u_at)?;
        let cert = text_field(user, "client-certificate-data", u_at)?;
        let key = text_field(user, "client-key-data", u_at)?;
        checked.client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((
                pem_text(&c, &format!("{u_at}.client-certificate-data"))?,
                pem_text(&k, &format!("{u_at}.client-key-data"))?,
            )),
            (None, None) => None,
            _ => {
                return refuse(format!(
                    "{u_at} needs both client-certificate-data and client-key-data, or neither"
                ))
            }
        };
        let username = text_field(user, "username", u_at)?;
        let password = text_field(user, "password", u_at)?;
        checked.basic = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return refuse(format!(
                    "{u_at} needs both username and password, or neither"
                ))
            }
        };
    }
    Ok(checked)
}

impl Checked {
    /// The host and port the client connects to.
    pub fn host_port(&self) -> (String, u16) {
        let host = match self.server.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => String::new(),
        };
        (host, self.server.port_or_known_default().unwrap_or(443))
    }

    /// A kube-rs client configuration from the checked values only (nothing
    /// here runs a program or reads a file). `connect_to` replaces the
    /// server's host by the address the egress check approved; the original
    /// name still verifies the certificate.
    pub fn client_config(
        &self,
        connect_to: Option<std::net::SocketAddr>,
    ) -> Result<kube::Config, KubeconfigError> {
        let mut url = self.server.clone();
        let mut tls_server_name = self.tls_server_name.clone();
        if let Some(addr) = connect_to {
            if tls_server_name.is_none() {
                if let Some(url::Host::Domain(d)) = self.server.host() {
                    tls_server_name = Some(d.to_string());
                }
            }
            let ip = addr.ip().to_canonical().to_string();
            if url.set_ip_host(addr.ip().to_canonical()).is_err()
                || url.set_port(Some(addr.port())).is_err()
            {
                return refuse(format!("cannot connect to {ip}"));
            }
        }
        let text = url.as_str().trim_end_matches('/');
        let uri: http::Uri = text
            .parse()
            .or_else(|_| refuse("the server URL is not valid"))?;
        let mut config = kube::Config::new(uri);
        config.root_cert = (!self.ca.is_empty()).then(|| self.ca.clone());
        config.accept_invalid_certs = self.insecure;
        config.tls_server_name = tls_server_name;
        if let Some(ns) = &self.namespace {
            config.default_namespace = ns.clone();
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let (cert, key) = match &self.client_cert {
            Some((c, k)) => (Some(b64.encode(c)), Some(b64.encode(k).into())),
            None => (None, None),
        };
        let (username, password) = match &self.basic {
            Some((u, p)) => (Some(u.clone()), Some(p.clone().into())),
            None => (None, None),
        };
        // Only inline values: no exec, auth-provider, token file or paths.
        let auth = kube::config::AuthInfo {
            token: self.token.clone().map(Into::into),
            client_certificate_data: cert,
            client_key_data: key,
            username,
            password,
            ..Default::default()
        };
        config.auth_info = auth;
        // Proxies come from nowhere: not the kubeconfig, not the environment.
        config.proxy_url = None;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
