//! The HTTP face: a hyper 1 server speaking the Kubernetes REST protocol.
//!
//! Routes: `/version`, `/healthz`/`/livez`/`/readyz` (no auth), discovery
//! (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`), and resource
//! paths `/api/v1/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]` and the same
//! under `/apis/<g>/<v>`. Every other request needs
//! `Authorization: Bearer <token>`. Errors are `Status` objects. Lists and
//! single objects are rendered as `Table`s when the `Accept` header asks for
//! `as=Table`, and as `PartialObjectMetadata[List]` when asked for those.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::api::{self, DeleteOptions, PatchType, WriteOptions};
use crate::auth::{self, User};
use crate::controllers::disruption;
use crate::error::{ApiError, ApiResult};
use crate::resources::{self, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::table::{self, IncludeObject};

mod gate;
mod list;
mod path;
mod record;
mod unstored;

pub use gate::MAX_BODY;
use gate::{admit, read_body};
use list::{list_response, watch_route};
use path::RequestPath;
pub use record::RequestRecord;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// Shared server state.
pub struct Inner {
    /// The cluster.
    pub state: Mutex<State>,
    /// Required bearer token.
    pub token: String,
    /// Request log (bounded).
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Echo requests to stderr (`SIMCLUSTER_LOG=1`).
    pub log: bool,
    /// Serving TLS (plain HTTP admits requests without a token).
    pub tls: bool,
}

fn json_response(status: u16, v: &Value) -> Response<Body> {
    bytes_response(status, serde_json::to_vec(v).unwrap_or_default())
}

fn bytes_response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut resp = response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        "application/json",
        Full::new(Bytes::from(body)).boxed(),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}

/// A response of `status` with `content_type` (built infallibly: every part
/// is a known-valid value).
fn response(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

fn parse_query(q: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Handles one request: its path is decoded once, and who it is and
/// whether it may do what it asks are decided on that path before its body
/// is read, so a caller without a token or a grant makes the cluster hold
/// nothing of what it sends.
pub async fn handle(
    inner: Arc<Inner>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let method = parts.method;
    let uri = parts.uri;
    let headers = parts.headers;
    let query = parse_query(uri.query().unwrap_or(""));
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (resp, authenticated) = match admit(&inner, &method, uri.path(), &query, &headers) {
        Err(refusal) => (error_response(&refusal.error), refusal.authenticated),
        Ok((user, path)) => match read_body(body, declared).await {
            Err(e) => (error_response(&e), true),
            Ok(body) => {
                let ctx = Ctx {
                    method: &method,
                    path: &path,
                    query: &query,
                    accept: header("accept"),
                    content_type: header("content-type"),
                    user_agent: header("user-agent"),
                    body: &body,
                    user: &user,
                };
                let resp = route(&inner, &ctx).unwrap_or_else(|e| error_response(&e));
                (resp, true)
            }
        },
    };
    let status = resp.status().as_u16();
    let full_uri = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    if inner.log {
        let shown = record::cut(full_uri, record::MAX_URI);
        eprintln!("simcluster: {method} {shown} -> {status}");
    }
    if authenticated {
        let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
        let rec = RequestRecord::new(&method, full_uri, status, traceparent);
        record::push(&mut crate::lock(&inner.requests), rec);
    }
    Ok(resp)
}

struct Ctx<'a> {
    method: &'a Method,
    /// The decoded path, the one authorization read.
    path: &'a RequestPath,
    query: &'a HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
    body: &'a Bytes,
    user: &'a User,
}

impl Ctx<'_> {
    fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true") | Some("1"))
    }

    fn write_options(&self) -> WriteOptions {
        let ua_manager = self
            .user_agent
            .split('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(String::from);
        WriteOptions {
            dry_run: self.q("dryRun").is_some_and(|v| !v.is_empty()),
            field_manager: self.q("fieldManager").map(String::from).or(ua_manager),
            force: self.flag("force"),
        }
    }

    /// A delete's options, as kube-apiserver reads them (a single delete
    /// and a collection's alike): from the `DeleteOptions` body when there is
    /// one, else from the query (`propagationPolicy`, `dryRun`); an unknown
    /// propagation policy is a `422` before anything is deleted.
    fn delete_options(&self, opts: &WriteOptions) -> ApiResult<DeleteOptions> {
        let mut d = DeleteOptions::from_body(&self.json_body()?)?;
        if self.body.is_empty() {
            d.propagation = self.q("propagationPolicy").map(String::from);
            d.dry_run = opts.dry_run;
        }
        d.validate()?;
        Ok(d)
    }

    fn selectors(&self) -> ApiResult<(LabelSelector, FieldSelector)> {
        Ok((
            LabelSelector::parse(self.q("labelSelector").unwrap_or(""))?,
            FieldSelector::parse(self.q("fieldSelector").unwrap_or(""))?,
        ))
    }

    fn table(&self) -> Option<IncludeObject> {
        if !self.accept.contains("as=Table") {
            return None;
        }
        Some(match self.q("includeObject") {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        })
    }

    fn json_body(&self) -> ApiResult<Value> {
        if self.content_type.contains("protobuf") {
            return crate::protobuf::to_json(self.body).map_err(|e| {
                let status = if e.unsupported() { 415 } else { 400 };
                let reason = if e.unsupported() {
                    "UnsupportedMediaType"
                } else {
                    "BadRequest"
                };
                ApiError::new(status, reason, e.to_string())
            });
        }
        api::parse_body(self.body, self.content_type.contains("yaml"))
    }
}

fn route(inner: &Arc<Inner>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let s = ctx.path.segs();
    let get = ctx.method == Method::GET;
    match s.as_slice() {
        ["version"] => {
            let v = crate::lock(&inner.state).spec.git_version.clone();
            Ok(json_response(200, &resources::version_doc(&v)))
        }
        ["healthz"] | ["livez"] | ["readyz"] => Ok(response(
            StatusCode::OK,
            "text/plain",
            Full::new(Bytes::from_static(b"ok")).boxed(),
        )),
        ["api"] if get => Ok(json_response(200, &resources::core_versions())),
        ["apis"] if get => Ok(json_response(200, &resources::group_list())),
        ["api", "v1"] if get => resources::resource_list("", "v1")
            .map(|d| json_response(200, &d))
            .ok_or_else(|| not_found_path(&ctx.path.decoded)),
        ["apis", g] if get => resources::group(g)
            .map(|v| json_response(200, &v))
            .ok_or_else(|| not_found_path(&ctx.path.decoded)),
        ["apis", g, v] if get => resources::resource_list(g, v)
            .map(|d| json_response(200, &d))
            .ok_or_else(|| not_found_path(&ctx.path.decoded)),
        ["openapi", "v2"] if get => {
            if ctx.accept.contains("protobuf") {
                Ok(response(
                    StatusCode::OK,
                    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                    Full::new(Bytes::from(crate::openapi::v2_protobuf())).boxed(),
                ))
            } else {
                Ok(json_response(200, &crate::openapi::v2_json()))
            }
        }
        ["openapi", "v3"] if get => Ok(json_response(200, &crate::openapi::root())),
        ["openapi", "v3", rest @ ..] if get => crate::openapi::group_version(&rest.join("/"))
            .map(|d| json_response(200, &d))
            .ok_or_else(|| not_found_path(&ctx.path.decoded)),
        ["api", "v1", rest @ ..] => resource(inner, ctx, "", "v1", rest),
        ["apis", g, v, rest @ ..] => resource(inner, ctx, g, v, rest),
        _ => Err(not_found_path(&ctx.path.decoded)),
    }
}

/// A path the server does not serve. kube-apiserver's Status carries empty
/// `details`, and clients read it: kubectl tells "ephemeral containers are
/// disabled" from a missing subresource by its empty name, and dereferences
/// `details` to do so.
fn not_found_path(path: &str) -> ApiError {
    let mut e = ApiError::new(
        404,
        "NotFound",
        format!("the server could not find the requested resource ({path})"),
    );
    e.details = Some(serde_json::json!({}));
    e
}

struct Target {
    def: &'static ResourceDef,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let (ns, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let def = resources::find(group, version, rest.first()?)?;
    if ns.is_some() && !def.namespaced {
        return None;
    }
    let name = rest.get(1).map(|s| s.to_string());
    let sub = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return None;
    }
    if let Some(sub) = &sub {
        if !def.subresources.contains(&sub.as_str()) {
            return None;
        }
    }
    Some(Target { def, ns, name, sub })
}

fn resource(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    group: &str,
    version: &str,
    rest: &[&str],
) -> ApiResult<Response<Body>> {
    let t = parse_target(group, version, rest).ok_or_else(|| not_found_path(&ctx.path.decoded))?;
    // Every write's options are checked first (reviews are creates too);
    // a delete with a body takes its options from the body alone.
    if let Some(v) = ctx.q("dryRun") {
        let kind = match *ctx.method {
            Method::POST => Some("CreateOptions"),
            Method::PUT => Some("UpdateOptions"),
            Method::PATCH => Some("PatchOptions"),
            Method::DELETE if ctx.body.is_empty() => Some("DeleteOptions"),
            _ => None,
        };
        if let Some(kind) = kind {
            api::check_dry_run(kind, &[v])?;
        }
    }
    if t.def.is_review() {
        return unstored::review(inner, ctx, &t);
    }
    if !t.def.stored {
        return unstored::metrics_route(inner, ctx, &t);
    }
    let ns = t.ns.as_deref();
    let opts = ctx.write_options();
    let method = ctx.method.clone();
    if method == Method::GET && t.name.is_none() {
        return match ctx.flag("watch") {
            true => watch_route(inner, ctx, &t),
            false => list_response(inner, ctx, &t),
        };
    }
    let mut st = crate::lock(&inner.state);
    let st = &mut *st;
    let (code, v) = match (method, t.name.as_deref(), t.sub.as_deref()) {
        (Method::GET, Some(name), None | Some("status")) => {
            let o = api::get(st, t.def, ns, name)?;
            let rv = o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string();
            match ctx.table() {
                Some(inc) => (200, table::table(t.def, &[o], &rv, inc)),
                None if ctx.accept.contains("as=PartialObjectMetadata") => (200, partial(&o)),
                None => (200, (*o).clone()),
            }
        }
        (Method::GET, Some(name), Some("scale")) => (200, api::get_scale(st, t.def, ns, name)?),
        (Method::GET, Some(name), Some("log")) => {
            api::get(st, t.def, ns, name)?;
            let text = format!("simulated log of pod {name}\n");
            return Ok(response(
                StatusCode::OK,
                "text/plain",
                Full::new(Bytes::from(text)).boxed(),
            ));
        }
        (Method::POST, None, None) => (201, api::create(st, t.def, ns, ctx.json_body()?, &opts)?),
        (Method::POST, Some(name), Some("token")) => (
            201,
            auth::tokens::request(st, ns.unwrap_or("default"), name, &ctx.json_body()?)?,
        ),
        (Method::POST, Some(name), Some("eviction")) => (
            201,
            disruption::evict(st, ns.unwrap_or("default"), name, &ctx.json_body()?)?,
        ),
        (Method::PUT, Some(name), None | Some("status")) => (
            200,
            api::update(
                st,
                t.def,
                ns,
                name,
                ctx.json_body()?,
                t.sub.as_deref(),
                &opts,
            )?,
        ),
        (Method::PUT, Some(name), Some("finalize")) => (
            200,
            api::finalize(st, t.def, name, ctx.json_body()?, &opts)?,
        ),
        (Method::PUT, Some(name), Some("scale")) => (
            200,
            api::set_scale(st, t.def, ns, name, &ctx.json_body()?, &opts)?,
        ),
        // The subresources that take a patch; `log`, `eviction`, `token`
        // and `finalize` do not (a 405, as kube-apiserver answers).
        (Method::PATCH, Some(name), sub @ (None | Some("status" | "scale"))) => {
            let ptype = PatchType::from_content_type(&ctx.content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(&ctx.content_type))?;
            if sub == Some("scale") {
                let mut scale = api::get_scale(st, t.def, ns, name)?;
                let p = api::parse_body(ctx.body, false)?;
                match ptype {
                    PatchType::Json => crate::patch::json_patch(&mut scale, &p)
                        .map_err(|e| ApiError::new(422, "Invalid", e))?,
                    _ => crate::patch::merge_patch(&mut scale, &p),
                }
                (200, api::set_scale(st, t.def, ns, name, &scale, &opts)?)
            } else {
                let existed = st
                    .store
                    .get(&t.def.key(), &ns_key(t.def, ns), name)
                    .is_some();
                let v = api::patch(st, t.def, ns, name, ptype, ctx.body, sub, &opts)?;
                (if existed { 200 } else { 201 }, v)
            }
        }
        (Method::DELETE, Some(name), None) => {
            let d = ctx.delete_options(&opts)?;
            (200, api::delete(st, t.def, ns, name, &d)?)
        }
        (Method::DELETE, None, None) => {
            let (ls, fs) = ctx.selectors()?;
            let d = ctx.delete_options(&opts)?;
            let mut items = Vec::new();
            for o in api::list(st, t.def, ns, &ls, &fs) {
                let n = o["metadata"]["name"].as_str().unwrap_or("").to_string();
                let ons = o["metadata"]["namespace"].as_str().map(String::from);
                if api::delete(st, t.def, ons.as_deref(), &n, &d).is_ok() {
                    items.push((*o).clone());
                }
            }
            (
                200,
                api::list_value(&t.def.list_kind(), &t.def.api_version(), json!({}), items),
            )
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(json_response(code, &v))
}

fn ns_key(def: &ResourceDef, ns: Option<&str>) -> String {
    if def.namespaced {
        ns.unwrap_or("default").to_string()
    } else {
        String::new()
    }
}

fn partial(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
}

#[cfg(test)]
mod tests;
