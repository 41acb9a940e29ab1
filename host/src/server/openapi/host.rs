//! The host's own operations in `/openapi.json`: the probes, `/metrics`,
//! this document, `/operations/*` and the admin API, each with its
//! parameters, request body, every answer it gives with a schema and an
//! example taken from a running server, and its security scheme. The
//! shared shapes are in [`schemas()`] (`#/components/schemas/...`).

mod schemas;

use serde_json::{json, Value};

pub use schemas::schemas;

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON answer.
fn answer(description: &str, schema: Value, example: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    })
}

/// A `{error}` answer.
fn error(description: &str, message: &str) -> Value {
    answer(description, schema("Error"), json!({ "error": message }))
}

fn admin_401() -> Value {
    error(
        "no admin token (or console operator session)",
        "the admin API needs `Authorization: Bearer <admin token>`",
    )
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn org_query() -> Value {
    query("org", "Only this organisation's", json!({"type": "string"}))
}

fn storage_example() -> Value {
    json!({"organisation": "demo", "bytes": 2868, "quota_bytes": 1073741824u64, "quota_set": false,
        "collections": [{"collection": "devices", "bytes": 1838}, {"collection": "compute_centers", "bytes": 1030}]})
}

fn plugin_example() -> Value {
    json!({
        "id": "pricing", "role": "pricing", "name": "pricing", "version": "0.1.0",
        "sha256": "8e808437416f9d2a7aa7e5a21ac8a2fd4603e99d86259932fb4cd0447d1073c3",
        "source": "builtin", "active_since": "2026-12-03T13:21:28.722Z",
        "instances": {"isolation": "organisation", "idle": 0, "created": 0, "reused": 0,
            "discarded": {"budget": 0, "failed": 0, "high-water": 0, "idle": 0, "isolation": 0,
                "max-uses": 0, "pool-full": 0, "resources": 0, "retired": 0}},
        "isolation_asked": null,
        "collections": [], "envelope": "`{error}`", "routes": [],
    })
}

fn grant_example(source: &str) -> Value {
    json!({
        "id": "pricing", "source": source,
        "grant": {"role": "pricing", "grants": ["log"], "disabled": false,
            "isolation": "organisation", "kube-targets": [], "ssh-targets": [],
            "read": [], "write": [], "secrets": [], "public-routes": []},
    })
}

fn operation_example() -> Value {
    json!({
        "id": "op-Zk3qD0b7TgW1xYcV9pLm", "kind": "provision", "target": "10.0.0.5:22",
        "plugin": "kboss", "status": "succeeded",
        "created_at": "2026-12-03T13:30:00.000Z", "updated_at": "2026-12-03T13:30:42.125Z",
        "finished_at": "2026-12-03T13:30:42.125Z",
        "phases": [{"name": "connect", "status": "succeeded",
            "started_at": "2026-12-03T13:30:00.010Z", "finished_at": "2026-12-03T13:30:01.200Z",
            "message": "connected", "output": ""}],
        "result": {"node": "worker-4"}, "error": null,
    })
}

/// One operation: (path, method, the OpenAPI operation object).
fn op(
    id: &str,
    summary: &str,
    tag: &str,
    security: Value,
    parameters: Vec<Value>,
    responses: Value,
) -> Value {
    let mut o = json!({
        "operationId": id, "summary": summary, "tags": [tag], "responses": responses,
    });
    if !security.is_null() {
        o["security"] = security;
    }
    if !parameters.is_empty() {
        o["parameters"] = Value::Array(parameters);
    }
    o
}

/// The host's operations: (path, method, operation). Path parameters are
/// added by the caller.
pub fn operations() -> Vec<(&'static str, &'static str, Value)> {
    // The admin token, or an operator's console session.
    let admin = || json!([{ "admin": [] }, { "console": [] }]);
    // Any API key of the operation's organisation.
    let caller = json!([{ "bearer": [] }, { "basic": [] }, { "x-auth-token": [] }]);
    let ready =
        json!({"status": "ready", "checks": {"store": "ok", "plugins": 6, "draining": false}});
    let not_ready =
        json!({"status": "not ready", "checks": {"store": "ok", "plugins": 6, "draining": true}});
    let metrics_text = "# HELP computehub_requests_total Requests by plugin, route and status.\n# TYPE computehub_requests_total counter\ncomputehub_requests_total{plugin=\"host\",method=\"GET\",route=\"/readyz\",status=\"200\"} 1\n";
    let events = "id: 1\nevent: started\ndata: {\"at\":\"2026-12-03T13:30:00.000Z\",\"data\":{\"kind\":\"provision\",\"target\":\"10.0.0.5:22\"}}\n\nid: 2\nevent: phase\ndata: {\"at\":\"2026-12-03T13:30:00.010Z\",\"data\":{\"phase\":\"connect\",\"status\":\"running\"}}\n\n";
    let no_op = || {
        error(
            "no such operation of the caller's organisation",
            "no operation `op-Zk3qD0b7TgW1xYcV9pLm`",
        )
    };
    let no_plugin = || error("no active plugin of this id", "no plugin `kb`");
    let too_many = || {
        error(
            "too many failed keys or sessions from this client (`Retry-After`)",
            "too many failed authentications",
        )
    };
    vec![
        (
            "/healthz",
            "get",
            op(
                "host_healthz",
                "Liveness (GET or HEAD)",
                "host",
                Value::Null,
                vec![],
                json!({
                    "200": answer("the process serves requests", schema("Health"), json!({"status": "ok"})),
                }),
            ),
        ),
        (
            "/readyz",
            "get",
            op(
                "host_readyz",
                "Readiness: store, plugins, not draining (503 otherwise)",
                "host",
                Value::Null,
                vec![],
                json!({
                    "200": answer("ready", schema("Readiness"), ready),
                    "503": answer("not ready: the checks say why", schema("Readiness"), not_ready),
                }),
            ),
        ),
        (
            "/metrics",
            "get",
            op(
                "host_metrics",
                "Prometheus metrics (the metrics token when one is set)",
                "host",
                json!([{}, { "metrics": [] }]),
                vec![],
                json!({
                    "200": {"description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}, "example": metrics_text}}},
                    "401": {"description": "a metrics token is set (`--metrics-token-file`) and the request did not carry it",
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Bearer"}},
                        "content": {"application/json": {"schema": schema("Error"),
                            "example": {"error": "/metrics needs the metrics token: send Authorization: Bearer <token>"}}}},
                    "429": error("too many wrong metrics tokens from this client (`Retry-After`)", "too many failed authentications"),
                }),
            ),
        ),
        (
            "/openapi.json",
            "get",
            op(
                "host_openapi",
                "This document",
                "host",
                Value::Null,
                vec![],
                json!({
                    "200": answer("the OpenAPI 3.1 document of the active plugins and the host",
                        json!({"type": "object", "required": ["openapi", "info", "paths"]}),
                        json!({"openapi": "3.1.0", "info": {"title": "computehub", "version": "0.1.0"}, "paths": {}})),
                }),
            ),
        ),
        (
            "/operations",
            "get",
            op(
                "operations_list",
                "The organisation's operations, a page at a time (newest first unless `sort` says otherwise)",
                "operations",
                caller.clone(),
                vec![
                    query("page", "Page number", json!({"type": "integer", "minimum": 1, "default": 1})),
                    query("rows", "Operations a page", json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 20})),
                    query("sort", "`field`, `field asc`, `field desc` or `-field`; field one of created_at, updated_at, kind, target, status",
                        json!({"type": "string", "default": "created_at desc"})),
                    query("status", "Only operations in this state", json!({"enum": ["running", "succeeded", "failed", "interrupted"]})),
                    query("kind", "Only operations of this kind", json!({"type": "string"})),
                ],
                json!({
                    "200": answer("a page and the count of all that match", schema("OperationPage"),
                        json!({"total": 1, "page": 1, "rows": [{"id": "op-Zk3qD0b7TgW1xYcV9pLm", "kind": "new-cluster",
                            "target": "10.0.0.5:22", "plugin": "pcapi", "status": "running",
                            "created_at": "2026-12-03T13:30:00.000Z", "updated_at": "2026-12-03T13:30:12.400Z",
                            "finished_at": null, "error": null, "phases": 7, "phases_done": 2, "current_phase": "init"}]})),
                    "400": error("a parameter out of range or unknown", "parameter `sort`: `output` is not one of created_at, updated_at, kind, target, status"),
                    "401": error("no valid API key or console session", "invalid credentials"),
                    "429": too_many(),
                }),
            ),
        ),
        (
            "/operations/{id}",
            "get",
            op(
                "operations_get",
                "A long operation: phases, output tails, result (any API key of its organisation)",
                "operations",
                caller.clone(),
                vec![],
                json!({
                    "200": answer("the operation", schema("Operation"), operation_example()),
                    "401": error("no valid API key or console session", "invalid credentials"),
                    "429": too_many(),
                    "404": no_op(),
                }),
            ),
        ),
        (
            "/operations/{id}/events",
            "get",
            op(
                "operations_events",
                "The operation's events as server-sent events (`Last-Event-ID` resumes)",
                "operations",
                caller,
                vec![
                    json!({"name": "Last-Event-ID", "in": "header", "required": false, "description": "Resume after this event", "schema": {"type": "integer", "minimum": 0}}),
                ],
                json!({
                    "200": {"description": "`started`, `phase`, `output` and `finished` events until the operation ends; `data` is `{at, data}`",
                        "content": {"text/event-stream": {"schema": {"type": "string"}, "example": events}}},
                    "401": error("no valid API key or console session", "invalid credentials"),
                    "429": too_many(),
                    "404": no_op(),
                }),
            ),
        ),
        (
            "/admin/plugins",
            "get",
            op(
                "admin_plugins_list",
                "Active plugin versions, routes and instance figures",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("every active plugin version", json!({"type": "object", "required": ["plugins"],
                        "properties": {"plugins": {"type": "array", "items": schema("Plugin")}}}), json!({"plugins": [plugin_example()]})),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/plugins/{id}",
            "get",
            op(
                "admin_plugin_get",
                "One active plugin version",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("the active version", schema("Plugin"), plugin_example()),
                    "401": admin_401(),
                    "404": no_plugin(),
                }),
            ),
        ),
        ("/admin/plugins/{id}", "put", {
            let mut o = op(
                "admin_plugin_put",
                "Install a new version (the wasm component as body)",
                "admin",
                admin(),
                vec![query(
                    "role",
                    "The plugin's role (default: the active version's, the config's, or endpoint)",
                    json!({"type": "string", "enum": ["endpoint", "pricing", "scheduling"]}),
                )],
                json!({
                    "200": answer("installed and active", schema("Plugin"), plugin_example()),
                    "400": error("no body, or an unknown role", "the request body must be the plugin's wasm component"),
                    "401": admin_401(),
                    "409": error("the routes collide with another plugin's, or the config file's grant wins", "plugin `stranger` is granted by the operator's config file, which wins; change it there"),
                    "413": error("the component is larger than 64 MiB", "plugin upload is larger than 64 MiB"),
                    "422": answer("the component does not load: not a component, a failed check, or imports or anonymous routes it is not granted (then `needs` and `grant_at`)",
                        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                            "needs": {"type": "object", "properties": {"grants": {"type": "array", "items": {"type": "string"}}, "public-routes": {"type": "array", "items": {"type": "string"}}}},
                            "grant_at": {"type": "string"}}}),
                        json!({"error": "plugin `stranger` imports `inventory`, which its grant does not include", "needs": {"grants": ["log", "inventory"]}, "grant_at": "/admin/plugins/stranger/grants"})),
                }),
            );
            o["requestBody"] = json!({"required": true, "description": "the plugin as a WebAssembly component (wasm32-wasip2)", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
            o
        }),
        ("/admin/plugins/{id}/check", "post", {
            let mut checked = json!({
                "id": "pricing", "role": "pricing", "stored": false, "plugin": plugin_example(),
                "active": {"name": "pricing", "version": "0.1.0", "sha256": "8e808437416f9d2a7aa7e5a21ac8a2fd4603e99d86259932fb4cd0447d1073c3"},
                "routes": {"added": [], "removed": [], "kept": []},
                "grants": {"imports": [], "granted": ["log"], "missing": []},
                "collections": [],
            });
            checked["plugin"]["instances"] = Value::Null;
            let mut o = op(
                "admin_plugin_check",
                "Dry run of an upload: the component is loaded and checked, nothing is stored or activated; answers the routes added, removed and kept, the capabilities it imports and its collections",
                "admin",
                admin(),
                vec![query(
                    "role",
                    "The plugin's role (default: the active version's, the config's, or endpoint)",
                    json!({"type": "string", "enum": ["endpoint", "pricing", "scheduling"]}),
                )],
                json!({
                    "200": answer("it would install; what would change", schema("PluginCheck"), checked),
                    "400": error("no body, or an unknown role", "the request body must be the plugin's wasm component"),
                    "401": admin_401(),
                    "409": error("the routes collide with another plugin's, or the config file's grant wins", "plugin `echo2` claims `GET /echo/version`, which collides with plugin `echo`'s route `GET /echo/version`"),
                    "413": error("the component is larger than 64 MiB", "plugin upload is larger than 64 MiB"),
                    "422": answer("it would not install: not a component, a failed check, or imports or anonymous routes it is not granted (then `needs` and `grant_at`)",
                        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                            "needs": {"type": "object", "properties": {"grants": {"type": "array", "items": {"type": "string"}}, "public-routes": {"type": "array", "items": {"type": "string"}}}},
                            "grant_at": {"type": "string"}}}),
                        json!({"error": "plugin `stranger` imports `inventory`, which its grant does not include", "needs": {"grants": ["log", "inventory"]}, "grant_at": "/admin/plugins/stranger/grants"})),
                }),
            );
            o["requestBody"] = json!({"required": true, "description": "the plugin as a WebAssembly component (wasm32-wasip2)", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
            o
        }),
        (
            "/admin/plugins/{id}/rollback",
            "post",
            op(
                "admin_plugin_rollback",
                "Go back to the version before",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("the version before is active again", schema("Plugin"), plugin_example()),
                    "401": admin_401(),
                    "404": error("no version to go back to", "plugin `kb` has no earlier version to roll back to"),
                    "422": error("the version before no longer loads", "plugin `kb` imports `ssh`, which its grant does not include"),
                }),
            ),
        ),
        (
            "/admin/plugins/{id}/grants",
            "get",
            op(
                "admin_grants_get",
                "The grant in force and its source",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("the grant (`grants: [log]` when nothing grants more)", schema("GrantShown"), grant_example("built-in")),
                    "401": admin_401(),
                }),
            ),
        ),
        ("/admin/plugins/{id}/grants", "put", {
            let mut shown = grant_example("admin");
            shown["reloaded"] = json!(false);
            let mut o = op(
                "admin_grants_put",
                "Grant a plugin (its config entry as JSON), live",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("in force from the next call; `reloaded` when the active version was reloaded under it", schema("GrantShown"), shown),
                    "400": error("not a grant", "the grant is not valid: unknown field `grant`"),
                    "401": admin_401(),
                    "409": error("the config file's grant for this plugin wins", "plugin `pricing` is granted by the operator's config file, which wins; change it there"),
                    "413": error("more than 64 KiB", "a grant is at most 64 KiB of JSON"),
                    "422": error("the active version cannot load under it (nothing changed)", "plugin `pricing` imports `log`, which its grant does not include"),
                }),
            );
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema("Grant"),
                "example": {"grants": ["log", "inventory"], "write": ["devices"]}}}});
            o
        }),
        (
            "/admin/audit",
            "get",
            op(
                "admin_audit",
                "State-changing calls, newest first (50 a page by default)",
                "admin",
                admin(),
                vec![
                    org_query(),
                    query(
                        "route",
                        "Only calls of this route template",
                        json!({"type": "string"}),
                    ),
                    query(
                        "status",
                        "Only calls answered with this status",
                        json!({"type": "integer", "minimum": 0, "maximum": 999}),
                    ),
                    query(
                        "limit",
                        "Entries a page",
                        json!({"type": "integer", "minimum": 0, "maximum": 1000, "default": 50}),
                    ),
                    query(
                        "offset",
                        "Entries skipped",
                        json!({"type": "integer", "minimum": 0, "maximum": 4294967295u32, "default": 0}),
                    ),
                ],
                json!({
                    "200": answer("a page of the audit log and the count of all that match", json!({"type": "object", "required": ["total", "entries"],
                        "properties": {"total": {"type": "integer"}, "entries": {"type": "array", "items": schema("AuditEntry")}}}),
                        json!({"total": 1, "entries": [{"seq": 1, "at": "2026-12-03T13:21:49.243Z", "request_id": "YPb5W81j4QzkqRn7",
                            "organisation": null, "key_id": "admin", "scheme": "admin-token", "client": "127.0.0.1", "method": "DELETE",
                            "route": "/admin/ssh-host-keys/{org}/{target}", "path": "/admin/ssh-host-keys/demo/10.0.0.9:22",
                            "plugin": "host", "status": 404}]})),
                    "400": error("an unknown parameter or a number out of range", "parameter `limit` must be an integer from 0 to 1000"),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/keys",
            "get",
            op(
                "admin_keys_list",
                "API keys, without secrets, oldest first",
                "admin",
                admin(),
                vec![org_query()],
                json!({
                    "200": answer("the keys", json!({"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": schema("Key")}}}),
                        json!({"keys": [{"id": "K9xAXMxiohHGFvhw", "organisation": "demo", "scheme": "bearer", "project": null,
                            "created_at": "2026-12-03T13:21:29.163Z", "revoked_at": null}]})),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/storage",
            "get",
            op(
                "admin_storage",
                "What each organisation stores in collections (bytes by collection, the largest first) and the quota it may fill",
                "admin",
                admin(),
                vec![org_query()],
                json!({
                    "200": answer("the default quota and each organisation that stores something or has a quota of its own",
                        json!({"type": "object", "required": ["quota_bytes", "organisations"],
                        "properties": {"quota_bytes": {"type": "integer"}, "organisations": {"type": "array", "items": schema("Storage")}}}),
                        json!({"quota_bytes": 1073741824u64, "organisations": [storage_example()]})),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/storage",
            "post",
            op(
                "admin_storage_recount",
                "Count what every organisation stores again from the rows (after a rolling upgrade from a version without the count, or a repair by hand)",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("the figures counted", json!({"type": "object", "required": ["quota_bytes", "organisations"],
                        "properties": {"quota_bytes": {"type": "integer"}, "organisations": {"type": "array", "items": schema("Storage")}}}),
                        json!({"quota_bytes": 1073741824u64, "organisations": [storage_example()]})),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/storage/{org}",
            "get",
            op(
                "admin_storage_org",
                "What one organisation stores and its quota (zero when it stores nothing)",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("its figures", schema("Storage"), storage_example()),
                    "400": error("an organisation id no store holds", "`org` must be an organisation id"),
                    "401": admin_401(),
                }),
            ),
        ),
        ("/admin/storage/{org}", "put", {
            let mut o = op(
                "admin_storage_quota",
                "Set one organisation's storage quota in MiB (null: the default again), in force for its next write",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("its figures with the new quota", schema("Storage"), storage_example()),
                    "400": error("a malformed body or an invalid organisation", "the body must be {\"quota_mib\": MiB from 0 to 4294967295, or null for the default}"),
                    "401": admin_401(),
                    "413": error("a body over 1 KiB", "a quota request is at most 1 KiB of JSON"),
                }),
            );
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object",
                "required": ["quota_mib"], "additionalProperties": false,
                "properties": {"quota_mib": {"type": ["integer", "null"], "minimum": 0, "maximum": 4294967295u32}}},
                "example": {"quota_mib": 4096}}}});
            o
        }),
        ("/admin/keys", "post", {
            let mut o = op(
                "admin_key_create",
                "Create an API key; its credential is in this answer only (the store keeps its hash)",
                "admin",
                admin(),
                vec![],
                json!({
                    "201": answer("the new key and its credential (`AK SK` for aksk)", json!({"type": "object",
                        "required": ["id", "organisation", "scheme", "project", "credential"],
                        "properties": {"id": {"type": "string"}, "organisation": {"type": "string"},
                            "scheme": {"enum": ["bearer", "x-auth-token", "basic", "aksk"]},
                            "project": {"type": ["string", "null"]}, "credential": {"type": "string"}}}),
                        json!({"id": "V3kGq9YwzXb2R1cT", "organisation": "demo", "scheme": "bearer", "project": null,
                            "credential": "chk.V3kGq9YwzXb2R1cT.******"})),
                    "400": error("a malformed body, an unknown scheme or an invalid organisation", "`scheme`: `ssh` is not bearer, x-auth-token, basic or aksk"),
                    "401": admin_401(),
                    "413": error("a body over 4 KiB", "a key request is at most 4 KiB of JSON"),
                }),
            );
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object",
                "required": ["org", "scheme"], "additionalProperties": false,
                "properties": {"org": {"type": "string"}, "scheme": {"enum": ["bearer", "x-auth-token", "basic", "aksk"]},
                    "project": {"type": ["string", "null"]}}},
                "example": {"org": "demo", "scheme": "bearer"}}}});
            o
        }),
        (
            "/admin/keys/{id}",
            "delete",
            op(
                "admin_key_revoke",
                "Revoke an API key",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("revoked", json!({"type": "object", "required": ["id", "revoked"],
                        "properties": {"id": {"type": "string"}, "revoked": {"const": true}}}), json!({"id": "K9xAXMxiohHGFvhw", "revoked": true})),
                    "401": admin_401(),
                    "404": error("no active key of this id", "no active key `K9xAXMxiohHGFvhw`"),
                }),
            ),
        ),
        (
            "/admin/ssh-host-keys",
            "get",
            op(
                "admin_host_keys_list",
                "Pinned SSH host keys",
                "admin",
                admin(),
                vec![org_query()],
                json!({
                    "200": answer("the pins", json!({"type": "object", "required": ["host_keys"], "properties": {"host_keys": {"type": "array", "items": schema("HostKey")}}}),
                        json!({"host_keys": [{"org": "demo", "target": "10.0.0.5:22", "fingerprint": "SHA256:3nSu1ZxQxMP1hxZ0cGmS2eVZJ0yO5Y4p1e6K0q8mQdA",
                            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoRkE6vTqz9xWmXw9yH2lQFZyq6Xc9GQh2m1Vd3tC7k", "pinned_at": "2026-12-03T13:30:00.500Z"}]})),
                    "401": admin_401(),
                }),
            ),
        ),
        (
            "/admin/ssh-host-keys/{org}/{target}",
            "delete",
            op(
                "admin_host_key_forget",
                "Forget a pinned SSH host key (the next connection pins the key presented then)",
                "admin",
                admin(),
                vec![],
                json!({
                    "200": answer("forgotten", json!({"type": "object", "required": ["org", "target", "forgotten"],
                        "properties": {"org": {"type": "string"}, "target": {"type": "string"}, "forgotten": {"const": true}}}),
                        json!({"org": "demo", "target": "10.0.0.5:22", "forgotten": true})),
                    "401": admin_401(),
                    "404": error("no pin for this target", "no host key is pinned for `10.0.0.9:22` in organisation `demo`"),
                }),
            ),
        ),
    ]
}
