//! The route table: method + path templates (`/v1/training/instance/{id}/{podName}/basic`)
//! matched by `matchit`, one tree per method, built from every active
//! endpoint plugin. Two plugins claiming the same route are refused.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::PluginEntry;
use crate::bindings::wit_types::Method;
use crate::envelope::Envelope;

/// Path prefixes the host serves itself; plugins may not claim them.
pub const RESERVED: &[&str] = &[
    "/admin",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/operations",
    "/readyz",
];

/// A matched route: the plugin and the index of the route in its table.
#[derive(Clone)]
pub struct Target {
    pub plugin: Arc<PluginEntry>,
    pub route: usize,
}

pub enum Miss {
    NotFound,
    /// The path exists for these other methods.
    MethodNotAllowed(Vec<&'static str>),
}

#[derive(Default)]
pub struct Router {
    trees: HashMap<&'static str, matchit::Router<Target>>,
    /// Each route's literal leading segments and its plugin's error format:
    /// an unmatched path answers in the format of the area it falls under.
    areas: Vec<(Vec<String>, Arc<Envelope>)>,
}

/// `path` with runs of `/` collapsed (`//v3/x` is `/v3/x`, as the IEF
/// document's own curl line writes it).
pub fn normalize(path: &str) -> Cow<'_, str> {
    if !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// The literal segments a template starts with (up to its first parameter).
fn literal_prefix(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .take_while(|s| !s.contains('{'))
        .map(str::to_string)
        .collect()
}

pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
    }
}

pub fn parse_method(m: &http::Method) -> Option<Method> {
    Some(match *m {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::PATCH => Method::Patch,
        http::Method::DELETE => Method::Delete,
        http::Method::HEAD => Method::Head,
        http::Method::OPTIONS => Method::Options,
        _ => return None,
    })
}

/// Is `path` a template this router accepts for a plugin?
pub fn check_template(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("route `{path}` must start with `/`"));
    }
    if RESERVED
        .iter()
        .any(|r| path == *r || path.starts_with(&format!("{r}/")))
    {
        return Err(format!("route `{path}` is reserved for the host"));
    }
    matchit::Router::<()>::new()
        .insert(path, ())
        .map_err(|e| format!("route `{path}` is not a valid template: {e}"))
}

impl Router {
    /// Build the table from the plugins; the error names both claimants.
    pub fn build<'a>(
        plugins: impl IntoIterator<Item = &'a Arc<PluginEntry>>,
    ) -> Result<Router, String> {
        let mut trees: HashMap<&'static str, matchit::Router<Target>> = HashMap::new();
        let mut areas = Vec::new();
        let mut owners: HashMap<(&'static str, String), String> = HashMap::new();
        for plugin in plugins {
            for (i, r) in plugin.routes.iter().enumerate() {
                let m = method_name(r.method);
                let tree = trees.entry(m).or_default();
                let target = Target {
                    plugin: Arc::clone(plugin),
                    route: i,
                };
                if let Err(e) = tree.insert(r.path.as_str(), target) {
                    let other = match &e {
                        matchit::InsertError::Conflict { with } => owners
                            .get(&(m, with.clone()))
                            .map(|o| format!("plugin `{o}`'s route `{m} {with}`"))
                            .unwrap_or_else(|| format!("`{m} {with}`")),
                        _ => e.to_string(),
                    };
                    return Err(format!(
                        "plugin `{}` claims `{m} {}`, which collides with {other}",
                        plugin.id, r.path
                    ));
                }
                owners.insert((m, r.path.clone()), plugin.id.clone());
                areas.push((literal_prefix(&r.path), Arc::clone(&plugin.envelope)));
            }
        }
        Ok(Router { trees, areas })
    }

    /// The envelope of the area `path` falls under: the plugin whose
    /// routes share the most leading segments with it (at least one), when
    /// that is one envelope; none otherwise.
    pub fn area_format(&self, path: &str) -> Option<&Envelope> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best = 0;
        let mut format = None;
        for (prefix, f) in &self.areas {
            let shared = prefix
                .iter()
                .zip(&segments)
                .take_while(|(a, b)| a.as_str() == **b)
                .count();
            if shared == 0 || shared < best {
                continue;
            }
            if shared > best {
                best = shared;
                format = Some(&**f);
            } else if format != Some(&**f) {
                format = None;
            }
        }
        format.filter(|_| best > 0)
    }

    pub fn lookup(
        &self,
        method: &http::Method,
        path: &str,
    ) -> Result<(Target, Vec<(String, String)>), Miss> {
        let found = self
            .trees
            .get(method.as_str())
            .and_then(|t| t.at(path).ok());
        if let Some(m) = found {
            let params = m
                .params
                .iter()
                .map(|(k, v)| {
                    let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                    (k.to_string(), v.into_owned())
                })
                .collect();
            return Ok((m.value.clone(), params));
        }
        let mut allowed: Vec<&'static str> = self
            .trees
            .iter()
            .filter(|(_, t)| t.at(path).is_ok())
            .map(|(m, _)| *m)
            .collect();
        if allowed.is_empty() {
            return Err(Miss::NotFound);
        }
        allowed.sort_unstable();
        Err(Miss::MethodNotAllowed(allowed))
    }
}

#[cfg(test)]
mod area_tests {
    use super::*;

    #[test]
    fn doubled_slashes_collapse() {
        assert_eq!(normalize("//v3/p//edgemgr/pods"), "/v3/p/edgemgr/pods");
        assert!(matches!(normalize("/v3/p"), Cow::Borrowed(_)));
    }

    #[test]
    fn an_unmatched_path_belongs_to_the_area_sharing_most_segments() {
        use crate::bindings::wit_types::ErrorFormat;
        let e = |f: ErrorFormat| Arc::new(Envelope::from(f));
        let router = Router {
            trees: HashMap::new(),
            areas: vec![
                (
                    literal_prefix("/dev/cpcc/cpclist/get_cpclist.dspy"),
                    e(ErrorFormat::Kboss),
                ),
                (
                    literal_prefix("/v3/{project_id}/edgemgr/pods"),
                    e(ErrorFormat::Ief),
                ),
                (
                    literal_prefix("/pcapi/api/v1/cluster/common/x"),
                    e(ErrorFormat::Pcapi),
                ),
                (
                    literal_prefix("/v1/training/instance/{id}"),
                    e(ErrorFormat::Alaya),
                ),
                (literal_prefix("/v1/other"), e(ErrorFormat::Plain)),
            ],
        };
        assert_eq!(
            router.area_format("/dev/cpcc/nope"),
            Some(&*e(ErrorFormat::Kboss))
        );
        assert_eq!(
            router.area_format("/v3/x/edgemgr/nope"),
            Some(&*e(ErrorFormat::Ief))
        );
        assert_eq!(
            router.area_format("/pcapi/nope"),
            Some(&*e(ErrorFormat::Pcapi))
        );
        assert_eq!(
            router.area_format("/v1/training/x"),
            Some(&*e(ErrorFormat::Alaya))
        );
        // `/v1` alone is shared by two formats: no area.
        assert_eq!(router.area_format("/v1/nope"), None);
        assert_eq!(router.area_format("/elsewhere"), None);
    }
}
