//! Declaring routes for `describe()`.
//!
//! A route is a method, a path template in the host router's syntax
//! (`/v1/training/instance/{id}/{podName}/basic`; `{*rest}` for the rest of
//! the path), the auth scheme the host enforces before the plugin runs, an
//! optional deadline, and an OpenAPI 3.1 Operation Object that the host
//! merges into `GET /openapi.json`.
//!
//! ```
//! use computehub_sdk::{route, AuthScheme};
//! let r = route::get("/v1/training/instance/{id}/{podName}/basic", AuthScheme::Bearer)
//!     .summary("A pod's basic information")
//!     .tag("alaya")
//!     .deadline_ms(10_000)
//!     .response(200, "The pod", None)
//!     .build();
//! let op: serde_json::Value = serde_json::from_str(&r.openapi).unwrap();
//! assert_eq!(op["parameters"][0]["name"], "id");
//! assert_eq!(op["parameters"][1]["in"], "path");
//! ```
//!
//! Path parameters are documented automatically. Security requirements are
//! not written here: the host knows each route's scheme and adds them.

use serde_json::{json, Map, Value};

use crate::{AuthScheme, Method, Route};

/// A JSON Schema describing `example`: its types, object members and array
/// items (the members of every element), nothing required. The documents'
/// example bodies are the contract, so a route's schema can be read from them.
pub fn schema_of(example: &Value) -> Value {
    match example {
        Value::Null => json!({}),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "type": "integer" }),
        Value::Number(_) => json!({ "type": "number" }),
        Value::String(_) => json!({ "type": "string" }),
        Value::Array(items) => {
            let mut merged = Value::Null;
            for item in items {
                merged = merge_examples(merged, item);
            }
            if items.is_empty() {
                json!({ "type": "array" })
            } else {
                json!({ "type": "array", "items": schema_of(&merged) })
            }
        }
        Value::Object(members) => {
            let properties: Map<String, Value> = members
                .iter()
                .map(|(k, v)| (k.clone(), schema_of(v)))
                .collect();
            json!({ "type": "object", "properties": properties })
        }
    }
}

/// One example holding the members of both (for array items).
fn merge_examples(a: Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let merged = merge_examples(a.remove(k).unwrap_or(Value::Null), v);
                a.insert(k.clone(), merged);
            }
            Value::Object(a)
        }
        (Value::Null, b) => b.clone(),
        (a, _) => a,
    }
}

/// The documentation of an area's routes, keyed by `"METHOD /path"`, as
/// JSON text (a plugin embeds its file with `include_str!`). Each entry may
/// give `parameters` (name to JSON Schema: retypes a declared parameter, or
/// adds an optional query parameter), `requestBody` (an OpenAPI Request Body
/// Object), `example` (the document's 200 body) and `responses` (status to
/// `{schema, example}`).
pub fn docs(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// `GET`, `POST`, ... as the docs' keys spell them.
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

/// Builds one [`Route`]; finish with [`RouteBuilder::build`] or `.into()`.
#[derive(Debug, Clone)]
#[must_use]
pub struct RouteBuilder {
    method: Method,
    path: String,
    auth: AuthScheme,
    deadline_ms: Option<u32>,
    operation: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
}

/// A `GET` route.
pub fn get(path: &str, auth: AuthScheme) -> RouteBuilder {
    RouteBuilder::new(Method::Get, path, auth)
}

/// A `POST` route.
pub fn post(path: &str, auth: AuthScheme) -> RouteBuilder {
    RouteBuilder::new(Method::Post, path, auth)
}

/// A `PUT` route.
pub fn put(path: &str, auth: AuthScheme) -> RouteBuilder {
    RouteBuilder::new(Method::Put, path, auth)
}

/// A `PATCH` route.
pub fn patch(path: &str, auth: AuthScheme) -> RouteBuilder {
    RouteBuilder::new(Method::Patch, path, auth)
}

/// A `DELETE` route.
pub fn delete(path: &str, auth: AuthScheme) -> RouteBuilder {
    RouteBuilder::new(Method::Delete, path, auth)
}

/// The names of a template's parameters: `{id}` and `{*rest}` give `id`, `rest`.
pub fn template_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.strip_prefix('*').unwrap_or(name))
        .collect()
}

impl RouteBuilder {
    /// A route with any method. The auth scheme is always explicit.
    pub fn new(method: Method, path: &str, auth: AuthScheme) -> Self {
        RouteBuilder {
            method,
            path: path.to_owned(),
            auth,
            deadline_ms: None,
            operation: Map::new(),
            parameters: Vec::new(),
            responses: Map::new(),
        }
    }

    /// Wall-clock budget for one call, in milliseconds (otherwise the
    /// host's default).
    pub fn deadline_ms(mut self, ms: u32) -> Self {
        self.deadline_ms = Some(ms);
        self
    }

    /// OpenAPI `summary`.
    pub fn summary(self, text: &str) -> Self {
        self.field("summary", Value::from(text))
    }

    /// OpenAPI `description` (CommonMark).
    pub fn description(self, text: &str) -> Self {
        self.field("description", Value::from(text))
    }

    /// OpenAPI `operationId`.
    pub fn operation_id(self, id: &str) -> Self {
        self.field("operationId", Value::from(id))
    }

    /// Adds an OpenAPI tag.
    pub fn tag(mut self, tag: &str) -> Self {
        let tags = self
            .operation
            .entry("tags")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(tags) = tags {
            tags.push(Value::from(tag));
        }
        self
    }

    /// Marks the operation deprecated.
    pub fn deprecated(self) -> Self {
        self.field("deprecated", Value::Bool(true))
    }

    /// A string query parameter.
    pub fn query_param(self, name: &str, required: bool, description: &str) -> Self {
        self.param(
            "query",
            name,
            required,
            json!({ "type": "string" }),
            description,
        )
    }

    /// Optional string query parameters, each a name and a description.
    pub fn query_params<'a>(
        mut self,
        params: impl IntoIterator<Item = &'a (&'a str, &'a str)>,
    ) -> Self {
        for (name, description) in params {
            self = self.query_param(name, false, description);
        }
        self
    }

    /// A parameter anywhere (`query`, `header`, `path`, `cookie`) with a
    /// JSON Schema.
    pub fn param(
        mut self,
        location: &str,
        name: &str,
        required: bool,
        schema: Value,
        description: &str,
    ) -> Self {
        let mut p = json!({ "name": name, "in": location, "required": required, "schema": schema });
        if !description.is_empty() {
            p["description"] = Value::from(description);
        }
        self.parameters.push(p);
        self
    }

    /// This route's entry of [`docs`] (`"METHOD /path"`), when there is one.
    pub fn documented(self, docs: &Map<String, Value>) -> Self {
        let key = format!("{} {}", method_name(self.method), self.path);
        match docs.get(&key) {
            Some(entry) => self.document(entry),
            None => self,
        }
    }

    /// Applies one documentation entry (see [`docs`]).
    pub fn document(mut self, entry: &Value) -> Self {
        if let Some(Value::Object(params)) = entry.get("parameters") {
            for (name, schema) in params {
                self = self.param_schema(name, schema.clone());
            }
        }
        if let Some(body) = entry.get("requestBody") {
            self = self.field("requestBody", body.clone());
        }
        if let Some(example) = entry.get("request_example") {
            self = self.request_example(example.clone());
        }
        if let Some(example) = entry.get("example") {
            self = self.example(200, example.clone());
        }
        if let Some(Value::Object(responses)) = entry.get("responses") {
            for (status, r) in responses {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if let Some(schema) = r.get("schema") {
                    self = self.response_schema(status, schema.clone());
                }
                if let Some(example) = r.get("example") {
                    self = self.example(status, example.clone());
                }
            }
        }
        self
    }

    /// Gives a declared parameter (any location) this JSON Schema; an
    /// undeclared name becomes an optional query parameter.
    pub fn param_schema(mut self, name: &str, schema: Value) -> Self {
        match self.parameters.iter_mut().find(|p| p["name"] == name) {
            Some(p) => {
                p["schema"] = schema;
                self
            }
            None => self.param("query", name, false, schema, ""),
        }
    }

    /// The JSON Schema of a response's body (the response is added if it
    /// was not declared).
    pub fn response_schema(mut self, status: u16, schema: Value) -> Self {
        let r = self.response_entry(status);
        r["content"]["application/json"]["schema"] = schema;
        self
    }

    /// An example body of a response; without a schema, the schema is read
    /// from the example ([`schema_of`]).
    pub fn example(mut self, status: u16, example: Value) -> Self {
        let r = self.response_entry(status);
        if r["content"]["application/json"]["schema"].is_null() {
            r["content"]["application/json"]["schema"] = schema_of(&example);
        }
        r["content"]["application/json"]["example"] = example;
        self
    }

    /// An example request body: added to every media type of the request
    /// body, whose schema gains the members the example shows when it
    /// names none (a JSON body described by the example when there is none).
    pub fn request_example(mut self, example: Value) -> Self {
        let inferred = schema_of(&example);
        let body = self
            .operation
            .entry("requestBody")
            .or_insert_with(|| json!({ "content": { "application/json": {} } }));
        if let Some(Value::Object(content)) = body.get_mut("content") {
            for media in content.values_mut() {
                let schema = &mut media["schema"];
                if schema.is_null() {
                    *schema = inferred.clone();
                } else if schema.get("properties").is_none() {
                    schema["properties"] = inferred["properties"].clone();
                }
                media["example"] = example.clone();
            }
        }
        self
    }

    /// The query parameters, also accepted as a form or JSON body (an
    /// optional request body with the same names and types; a required
    /// parameter may come in either).
    pub fn query_as_body(self) -> Self {
        let mut properties = Map::new();
        for p in self.parameters.iter().filter(|p| p["in"] == "query") {
            let Some(name) = p["name"].as_str() else {
                continue;
            };
            let mut schema = p["schema"].clone();
            if let Some(d) = p.get("description") {
                schema["description"] = d.clone();
            }
            properties.insert(name.to_owned(), schema);
        }
        let schema = json!({ "type": "object", "properties": properties });
        self.field(
            "requestBody",
            json!({
                "required": false,
                "description": "the parameters as a form or a JSON object instead of the query string",
                "content": {
                    "application/x-www-form-urlencoded": { "schema": schema.clone() },
                    "application/json": { "schema": schema },
                }
            }),
        )
    }

    fn response_entry(&mut self, status: u16) -> &mut Value {
        let r = self
            .responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": "success" }));
        if !r["content"].is_object() {
            r["content"] = json!({ "application/json": {} });
        }
        r
    }

    /// The method and path template.
    pub fn key(&self) -> String {
        format!("{} {}", method_name(self.method), self.path)
    }

    /// A JSON request body with this schema (also accepted as a form, see
    /// [`crate::Params`]).
    pub fn json_body(self, schema: Value) -> Self {
        self.field(
            "requestBody",
            json!({ "content": { "application/json": { "schema": schema } } }),
        )
    }

    /// A response; `schema` describes its JSON body when given.
    pub fn response(mut self, status: u16, description: &str, schema: Option<Value>) -> Self {
        let mut r = json!({ "description": description });
        if let Some(schema) = schema {
            r["content"] = json!({ "application/json": { "schema": schema } });
        }
        self.responses.insert(status.to_string(), r);
        self
    }

    /// Sets any member of the Operation Object (`x-...` extensions, `externalDocs`).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.operation.insert(key.to_owned(), value);
        self
    }

    /// Merges a whole Operation Object written by hand; its members replace
    /// the ones set so far.
    pub fn openapi(mut self, operation: Value) -> Self {
        if let Value::Object(members) = operation {
            for (k, v) in members {
                match (k.as_str(), v) {
                    ("parameters", Value::Array(ps)) => self.parameters = ps,
                    ("responses", Value::Object(rs)) => self.responses = rs,
                    (_, v) => {
                        self.operation.insert(k, v);
                    }
                }
            }
        }
        self
    }

    /// The finished route.
    pub fn build(self) -> Route {
        let RouteBuilder {
            method,
            path,
            auth,
            deadline_ms,
            mut operation,
            mut parameters,
            responses,
        } = self;
        let declared =
            |name: &str, ps: &[Value]| ps.iter().any(|p| p["in"] == "path" && p["name"] == name);
        let mut path_params = Vec::new();
        for name in template_params(&path) {
            if !declared(name, &parameters) {
                path_params.push(json!({
                    "name": name, "in": "path", "required": true, "schema": { "type": "string" }
                }));
            }
        }
        path_params.append(&mut parameters);
        if !path_params.is_empty() {
            operation.insert("parameters".to_owned(), Value::Array(path_params));
        }
        if !responses.is_empty() {
            operation.insert("responses".to_owned(), Value::Object(responses));
        }
        let openapi = if operation.is_empty() {
            String::new()
        } else {
            Value::Object(operation).to_string()
        };
        Route {
            method,
            path,
            auth,
            deadline_ms,
            openapi,
        }
    }
}

impl From<RouteBuilder> for Route {
    fn from(b: RouteBuilder) -> Route {
        b.build()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn template_names() {
        assert_eq!(template_params("/a/{id}/b/{podName}"), ["id", "podName"]);
        assert_eq!(template_params("/files/{*rest}"), ["rest"]);
        assert!(template_params("/plain").is_empty());
    }

    #[test]
    fn undocumented_route_has_empty_openapi() {
        let r = get("/plain", AuthScheme::None).build();
        assert_eq!(r.openapi, "");
        assert_eq!(r.deadline_ms, None);
    }

    #[test]
    fn operation_json() {
        let r: Route = post("/x/{id}", AuthScheme::Bearer)
            .summary("s")
            .tag("t")
            .query_param("page", false, "")
            .json_body(json!({"type": "object"}))
            .response(201, "created", Some(json!({"type": "object"})))
            .deadline_ms(300)
            .into();
        assert_eq!(r.deadline_ms, Some(300));
        let op: Value = serde_json::from_str(&r.openapi).unwrap();
        assert_eq!(op["summary"], "s");
        assert_eq!(op["tags"], json!(["t"]));
        assert_eq!(op["parameters"][0]["name"], "id");
        assert_eq!(op["parameters"][1]["name"], "page");
        assert_eq!(op["responses"]["201"]["description"], "created");
        assert!(op["requestBody"]["content"]["application/json"].is_object());
    }
}
