//! Validation of `POST /v3/{project_id}/edgemgr/deployments`, one module per
//! group of the document's tables:
//!
//! - here: the body (表3), tags (表4), `deployment` (表5), the template
//!   (表6), annotations (表34) and the `ief-instance-id` header (表2);
//! - [`configs`]: PodConfigs (表7);
//! - [`affinity`]: Affinity and its terms (表8-21);
//! - [`container`]: ContainerDef (表22), resources (表23), port mappings
//!   (表28-29);
//! - [`env`]: Env and ValueFrom (表24-27);
//! - [`probe`]: Probe, Exec, HttpGetDetail (表30-32);
//! - [`volume`]: Volumes (表33);
//! - [`pod`]: what Kubernetes checks across the pod (host ports taken once,
//!   annotation size), so that no 201 answers a deployment whose pods the
//!   cluster would refuse.
//!
//! Empty strings and empty arrays count as absent in the exactly-one-of
//! rules ([`given`]): the document's create example answers
//! `"group_id": ""` beside `node_ids`, and clients send it back.
//!
//! Every failure names the field by its path in the body
//! (`deployment.template.containers[0].envs[1].name`) with an `IEF.1000xx`
//! code from [`crate::error`]. Validation is pure: what needs the cluster
//! (whether a node or group exists) is checked by the caller afterwards.

pub mod affinity;
pub mod configs;
pub mod container;
pub mod env;
pub mod pod;
pub mod probe;
pub mod volume;

use serde_json::{Map, Value};

use crate::error::{IefError, IefResult, EDITION, EXCLUSIVE, NOT_ALLOWED};

/// A JSON object.
pub type Obj = Map<String, Value>;

/// `parent.key` (or `key` at the top).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// A member, with `null` meaning absent.
pub fn get<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// `v` as an object.
pub fn as_obj<'a>(v: &'a Value, path: &str) -> IefResult<&'a Obj> {
    v.as_object()
        .ok_or_else(|| IefError::wrong_type(path, "an object"))
}

/// An optional object member.
pub fn opt_obj<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<Option<&'a Obj>> {
    get(o, key).map(|v| as_obj(v, &join(path, key))).transpose()
}

/// A required object member.
pub fn req_obj<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<&'a Obj> {
    opt_obj(o, key, path)?.ok_or_else(|| IefError::missing(&join(path, key)))
}

/// An optional array member.
pub fn opt_arr<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<Option<&'a Vec<Value>>> {
    get(o, key)
        .map(|v| {
            v.as_array()
                .ok_or_else(|| IefError::wrong_type(&join(path, key), "an array"))
        })
        .transpose()
}

/// An optional string member.
pub fn opt_str<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<Option<&'a str>> {
    get(o, key)
        .map(|v| {
            v.as_str()
                .ok_or_else(|| IefError::wrong_type(&join(path, key), "a string"))
        })
        .transpose()
}

/// A required, non-empty string member.
pub fn req_str<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<&'a str> {
    opt_str(o, key, path)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| IefError::missing(&join(path, key)))
}

/// An optional boolean member.
pub fn opt_bool(o: &Obj, key: &str, path: &str) -> IefResult<Option<bool>> {
    get(o, key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| IefError::wrong_type(&join(path, key), "a boolean"))
        })
        .transpose()
}

/// An optional integer member.
pub fn opt_int(o: &Obj, key: &str, path: &str) -> IefResult<Option<i64>> {
    get(o, key)
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| IefError::wrong_type(&join(path, key), "an integer"))
        })
        .transpose()
}

/// An optional integer member within `lo..=hi`.
pub fn int_in(o: &Obj, key: &str, path: &str, lo: i64, hi: i64) -> IefResult<Option<i64>> {
    match opt_int(o, key, path)? {
        Some(n) if !(lo..=hi).contains(&n) => Err(IefError::range(
            &join(path, key),
            &format!("must be an integer from {lo} to {hi}, got {n}"),
        )),
        other => Ok(other),
    }
}

/// An optional array of strings.
pub fn opt_strings<'a>(o: &'a Obj, key: &str, path: &str) -> IefResult<Option<Vec<&'a str>>> {
    let Some(items) = opt_arr(o, key, path)? else {
        return Ok(None);
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .ok_or_else(|| IefError::wrong_type(&index(&join(path, key), i), "a string"))
        })
        .collect::<IefResult<Vec<_>>>()
        .map(Some)
}

/// A member that counts as given in an exactly-one-of rule: not `null`, not
/// an empty string and not an empty array (the document's own example
/// sends `"group_id": ""` beside `node_ids`).
pub fn given<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    get(o, key).filter(|v| match v {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    })
}

/// The error of an exactly-one-of rule over `keys` (`none`: none was given).
pub fn exclusive(keys: &[&str], path: &str, none: bool) -> IefError {
    let names = keys
        .iter()
        .map(|k| format!("`{}`", join(path, k)))
        .collect::<Vec<_>>()
        .join(", ");
    if none {
        IefError::bad(
            EXCLUSIVE,
            format!("exactly one of {names} is required, got none"),
        )
    } else {
        IefError::bad(EXCLUSIVE, format!("only one of {names} may be given"))
    }
}

/// Exactly one of `keys` is [`given`] (`at_most_one`: none is fine too).
pub fn one_of(o: &Obj, keys: &[&str], path: &str, at_most_one: bool) -> IefResult<Option<usize>> {
    let present: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| given(o, k).is_some())
        .map(|(i, _)| i)
        .collect();
    match present.len() {
        1 => Ok(present.first().copied()),
        0 if at_most_one => Ok(None),
        0 => Err(exclusive(keys, path, true)),
        _ => Err(exclusive(keys, path, false)),
    }
}

/// Every member of `o` is one of `allowed` (what the document's table lists,
/// and all Kubernetes knows of that object: an unknown member would be
/// refused by the cluster's server-side apply).
pub fn only(o: &Obj, allowed: &[&str], path: &str) -> IefResult<()> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => {
            let list = allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(IefError::bad(
                NOT_ALLOWED,
                format!(
                    "`{}` is not a field of `{path}` (its fields: {list})",
                    join(path, k)
                ),
            ))
        }
    }
}

/// The deployment and container name rule: lower-case letters, digits and
/// `-`, at most 32, a letter or digit at both ends.
pub fn check_name(value: &str, path: &str) -> IefResult<()> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 32
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be 1-32 lower-case letters, digits or `-`, starting and ending with a letter or digit, got `{value}`"),
        )
    })
}

/// An id used in a label selector (node, group): a Kubernetes label value.
pub fn check_id(value: &str, path: &str) -> IefResult<()> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric();
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be an id of at most 63 letters, digits, `-`, `_` or `.`, got `{value}`"),
        )
    })
}

/// The name part of a Kubernetes qualified name (an annotation's key after
/// its prefix): 1-63 of letters, digits, `-`, `_`, `.`, alphanumeric ends.
pub fn annotation_key_ok(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Where the deployment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Node(String),
    Group(String),
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub source: String,
    pub target: Target,
    pub tags: Vec<(String, String)>,
    pub replicas: i64,
    /// The template object, validated.
    pub template: Obj,
    /// The annotations object, validated.
    pub annotations: Option<Obj>,
    /// A group named by `annotations.autonomy_edge_selector`.
    pub autonomy_group: Option<String>,
}

/// `ief-instance-id` (表2): empty for the professional edition, a platinum
/// instance's id otherwise. Answers whether the request is platinum.
pub fn instance_header(value: Option<&str>) -> IefResult<bool> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    let ok = v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(IefError::bad(
            EDITION,
            format!(
                "header `ief-instance-id` must be at most 64 letters, digits or `-`, got `{v}`"
            ),
        ));
    }
    Ok(true)
}

/// A feature only the platinum edition has.
pub fn platinum_only(platinum: bool, path: &str) -> IefResult<()> {
    if platinum {
        return Ok(());
    }
    Err(IefError::bad(
        EDITION,
        format!(
            "`{path}` is available in the platinum edition only: send header `ief-instance-id`"
        ),
    ))
}

const DESCRIPTION_FORBIDDEN: &str = "^~#$%&*<>()[]{}'\"\\";

fn description(o: &Obj) -> IefResult<String> {
    let Some(d) = opt_str(o, "description", "")? else {
        return Ok(String::new());
    };
    if d.chars().count() > 255 {
        return Err(IefError::format(
            "description",
            "must be at most 255 characters",
        ));
    }
    if let Some(c) = d.chars().find(|c| DESCRIPTION_FORBIDDEN.contains(*c)) {
        return Err(IefError::format(
            "description",
            &format!("must not contain `{c}` (none of ^ ~ # $ % & * < > ( ) [ ] {{ }} ' \" \\)"),
        ));
    }
    Ok(d.to_string())
}

/// A tag key or value (表4): `lo..=hi` of letters, digits, `_` and `-`.
fn tag_part(v: &str, path: &str, hi: usize) -> IefResult<()> {
    let ok = !v.is_empty()
        && v.len() <= hi
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be 1-{hi} letters, digits, `_` or `-`, got `{v}`"),
        )
    })
}

fn tags(o: &Obj) -> IefResult<Vec<(String, String)>> {
    let Some(items) = opt_arr(o, "tags", "")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let path = index("tags", i);
        let t = as_obj(t, &path)?;
        let key = req_str(t, "key", &path)?;
        tag_part(key, &join(&path, "key"), 128)?;
        let value = req_str(t, "value", &path)?;
        tag_part(value, &join(&path, "value"), 256)?;
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

fn target(o: &Obj) -> IefResult<Target> {
    match one_of(o, &["group_id", "node_ids"], "", false)? {
        Some(0) => {
            let g = req_str(o, "group_id", "")?;
            check_id(g, "group_id")?;
            Ok(Target::Group(g.to_string()))
        }
        _ => {
            let ids = opt_strings(o, "node_ids", "")?.unwrap_or_default();
            if ids.len() != 1 {
                return Err(IefError::range(
                    "node_ids",
                    &format!("must name exactly one edge node, got {}", ids.len()),
                ));
            }
            let id = ids.first().copied().unwrap_or_default();
            check_id(id, "node_ids[0]")?;
            Ok(Target::Node(id.to_string()))
        }
    }
}

fn annotations(o: &Obj, path: &str) -> IefResult<(Option<Obj>, Option<String>)> {
    let Some(a) = opt_obj(o, "annotations", path)? else {
        return Ok((None, None));
    };
    let path = join(path, "annotations");
    // Each one becomes the Deployment annotation `ief.computehub.io/<key>`:
    // its key must be a Kubernetes qualified name part and its value text.
    for (k, v) in a {
        let kpath = join(&path, k);
        if !annotation_key_ok(k) {
            return Err(IefError::format(
                &kpath,
                "must be 1-63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit (a Kubernetes annotation name)",
            ));
        }
        if !v.is_string() && !v.is_null() {
            return Err(IefError::wrong_type(&kpath, "a string"));
        }
    }
    if let Some(r) = opt_str(a, "ring_controller", &path)? {
        if r != "ascend-1980" {
            return Err(IefError::not_allowed(
                &join(&path, "ring_controller"),
                r,
                &["ascend-1980"],
            ));
        }
    }
    let group = match opt_str(a, "autonomy_edge_selector", &path)? {
        Some(g) => {
            check_id(g, &join(&path, "autonomy_edge_selector"))?;
            Some(g.to_string())
        }
        None => None,
    };
    Ok((Some(a.clone()), group))
}

/// Validate a create body (and the `ief-instance-id` header).
pub fn deployment(body: &Value, instance_id: Option<&str>) -> IefResult<Plan> {
    let platinum = instance_header(instance_id)?;
    let o = body.as_object().ok_or_else(|| {
        IefError::bad(
            crate::error::BAD_BODY,
            "the request body must be a JSON object",
        )
    })?;
    let name = req_str(o, "name", "")?;
    check_name(name, "name")?;
    let description = description(o)?;
    let source = opt_str(o, "source", "")?.unwrap_or("");
    if !["", "iem", "userdefined"].contains(&source) {
        return Err(IefError::not_allowed(
            "source",
            source,
            &["iem", "userdefined", ""],
        ));
    }
    let target = target(o)?;
    let tags = tags(o)?;
    let d = req_obj(o, "deployment", "")?;
    let replicas = int_in(d, "replicas", "deployment", 1, 99)?
        .ok_or_else(|| IefError::missing("deployment.replicas"))?;
    let template = req_obj(d, "template", "deployment")?;
    let tpath = "deployment.template";
    let group_target = matches!(target, Target::Group(_));
    let host_network = configs::validate(template, tpath, group_target)?;
    if get(template, "affinity").is_some() {
        platinum_only(platinum, &join(tpath, "affinity"))?;
        affinity::validate(
            req_obj(template, "affinity", tpath)?,
            &join(tpath, "affinity"),
        )?;
    }
    container::validate_all(template, tpath, host_network, platinum)?;
    pod::host_ports(template, tpath, host_network)?;
    let (annotations, autonomy_group) = annotations(d, "deployment")?;
    Ok(Plan {
        name: name.to_string(),
        description,
        source: source.to_string(),
        target,
        tags,
        replicas,
        template: template.clone(),
        annotations,
        autonomy_group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "name": "app",
            "node_ids": ["9ebd8efb-9fdd-44a1-abda-9cdbc287a867"],
            "deployment": {"replicas": 1, "template": {
                "configs": {"host_network": true, "restart_policy": "Always"},
                "containers": [{"name": "container-0", "image_url": "nginx:alpine",
                    "resources": {"limits": {"cpu": "0.25", "memory": "500"}}}]}}
        })
    }

    #[test]
    fn the_documented_example_is_valid() {
        let p = deployment(&base(), None).unwrap();
        assert_eq!(p.name, "app");
        assert_eq!(
            p.target,
            Target::Node("9ebd8efb-9fdd-44a1-abda-9cdbc287a867".into())
        );
    }

    #[test]
    fn names_paths_and_codes() {
        let mut b = base();
        b["name"] = json!("App");
        let e = deployment(&b, None).unwrap_err();
        assert_eq!(e.code, crate::error::BAD_FORMAT);
        assert!(e.msg.contains("`name`"));
        let mut b = base();
        b["group_id"] = json!("g1");
        let e = deployment(&b, None).unwrap_err();
        assert_eq!(e.code, EXCLUSIVE);
        let mut b = base();
        b["deployment"]["template"]["containers"][0]["envs"] =
            json!([{"name": "1A", "value": "x"}]);
        let e = deployment(&b, None).unwrap_err();
        assert!(
            e.msg
                .contains("deployment.template.containers[0].envs[0].name"),
            "{}",
            e.msg
        );
        assert!(deployment(&json!([1]), None).is_err());
        // Empty strings and arrays count as absent in exactly-one-of rules.
        let mut b = base();
        b["group_id"] = json!("");
        assert!(matches!(
            deployment(&b, None).unwrap().target,
            Target::Node(_)
        ));
        b["node_ids"] = json!([]);
        assert_eq!(deployment(&b, None).unwrap_err().code, EXCLUSIVE);
        b["group_id"] = json!("g1");
        b["deployment"]["template"]["configs"]["migration"] = json!(false);
        assert_eq!(
            deployment(&b, None).unwrap().target,
            Target::Group("g1".into())
        );
        // Annotations become Kubernetes annotations: names and text only.
        let mut b = base();
        b["deployment"]["annotations"] = json!({"a b": "x"});
        assert_eq!(
            deployment(&b, None).unwrap_err().code,
            crate::error::BAD_FORMAT
        );
        b["deployment"]["annotations"] = json!({"extra": 1});
        assert_eq!(
            deployment(&b, None).unwrap_err().code,
            crate::error::WRONG_TYPE
        );
        // An init container has no probes.
        let mut b = base();
        b["deployment"]["template"]["init_containers"] = json!([{"name": "init", "image_url": "busybox",
            "readiness_probe": {"exec": {"command": "true"}}}]);
        let e = deployment(&b, None).unwrap_err();
        assert_eq!(e.code, crate::error::INCONSISTENT);
        assert!(
            e.msg.contains("init_containers[0].readiness_probe"),
            "{}",
            e.msg
        );
        assert_eq!(instance_header(Some("bad id!")).unwrap_err().code, EDITION);
        assert!(instance_header(Some("")).is_ok_and(|p| !p));
    }
}
