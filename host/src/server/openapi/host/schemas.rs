//! The shapes the host's own answers share (`#/components/schemas/...`).

use serde_json::{json, Value};

/// The shapes the host's answers share.
pub fn schemas() -> Value {
    let string = json!({"type": "string"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let nullable = json!({"type": ["string", "null"]});
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": string}},
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
        "Readiness": {"type": "object", "required": ["status", "checks"], "properties": {
            "status": {"enum": ["ready", "not ready"]},
            "checks": {"type": "object", "required": ["store", "plugins", "draining"], "properties": {
                "store": {"enum": ["ok", "unreachable"]}, "plugins": {"type": "integer"}, "draining": {"type": "boolean"}}}}},
        "Plugin": {"type": "object",
            "required": ["id", "role", "name", "version", "sha256", "source", "active_since", "instances", "collections", "envelope", "routes"],
            "properties": {
                "id": string, "role": {"enum": ["endpoint", "pricing", "scheduling"]}, "name": string, "version": string,
                "sha256": string, "source": string, "active_since": string,
                "instances": {"type": ["object", "null"], "properties": {
                    "isolation": string, "idle": {"type": "integer"}, "created": {"type": "integer"}, "reused": {"type": "integer"},
                    "discarded": {"type": "object", "additionalProperties": {"type": "integer"}}}},
                "isolation_asked": {"enum": ["organisation", "request", null]},
                "collections": strings, "envelope": string,
                "routes": {"type": "array", "items": {"type": "object", "required": ["method", "path", "auth", "deadline_ms"], "properties": {
                    "method": string, "path": string, "auth": string, "deadline_ms": {"type": "integer"}}}}}},
        "Grant": {"type": "object", "properties": {
            "role": {"enum": ["endpoint", "pricing", "scheduling"]},
            "grants": {"type": "array", "items": {"enum": ["log", "inventory", "ssh", "operations", "kubernetes", "pricing", "scheduling"]}},
            "disabled": {"type": "boolean"}, "isolation": {"enum": ["organisation", "request"]},
            "kube-targets": strings, "ssh-targets": strings, "read": strings, "write": strings, "secrets": strings,
            "public-routes": strings}},
        "GrantShown": {"type": "object", "required": ["id", "source", "grant"], "properties": {
            "id": string, "source": {"enum": ["config-file", "admin", "built-in", "default"]},
            "grant": {"$ref": "#/components/schemas/Grant"}, "reloaded": {"type": "boolean"}}},
        "AuditEntry": {"type": "object",
            "required": ["seq", "at", "request_id", "client", "method", "route", "path", "plugin", "status"],
            "properties": {"seq": {"type": "integer"}, "at": string, "request_id": string, "organisation": nullable,
                "key_id": nullable, "scheme": nullable, "client": string, "method": string, "route": string,
                "path": string, "plugin": string, "status": {"type": "integer"}}},
        "Key": {"type": "object", "required": ["id", "organisation", "scheme", "created_at"], "properties": {
            "id": string, "organisation": string, "scheme": {"enum": ["bearer", "x-auth-token", "basic", "aksk", "session"]},
            "project": nullable, "created_at": string, "revoked_at": nullable}},
        "Storage": {"type": "object", "required": ["organisation", "bytes", "quota_bytes", "quota_set", "collections"], "properties": {
            "organisation": string, "bytes": {"type": "integer", "minimum": 0}, "quota_bytes": {"type": "integer", "minimum": 0},
            "quota_set": {"type": "boolean"}, "collections": {"type": "array", "items": {"type": "object", "required": ["collection", "bytes"],
                "properties": {"collection": string, "bytes": {"type": "integer", "minimum": 0}}}}}},
        "HostKey": {"type": "object", "required": ["org", "target", "fingerprint", "public_key", "pinned_at"], "properties": {
            "org": string, "target": string, "fingerprint": string, "public_key": string, "pinned_at": string}},
        "Operation": {"type": "object", "required": ["id", "kind", "target", "plugin", "status", "created_at", "updated_at", "phases"],
            "properties": {"id": string, "kind": string, "target": string, "plugin": string,
                "status": {"enum": ["running", "succeeded", "failed", "interrupted"]},
                "created_at": string, "updated_at": string, "finished_at": nullable,
                "phases": {"type": "array", "items": {"type": "object", "required": ["name", "status", "output"], "properties": {
                    "name": string, "status": {"enum": ["pending", "running", "succeeded", "failed", "skipped", "interrupted"]},
                    "started_at": nullable, "finished_at": nullable, "message": nullable, "output": string}}},
                "result": {}, "error": nullable}},
        "OperationPage": {"type": "object", "required": ["total", "page", "rows"], "properties": {
            "total": {"type": "integer"}, "page": {"type": "integer"},
            "rows": {"type": "array", "items": {"type": "object",
                "required": ["id", "kind", "target", "plugin", "status", "created_at", "updated_at", "phases", "phases_done"],
                "properties": {"id": string, "kind": string, "target": string, "plugin": string,
                    "status": {"enum": ["running", "succeeded", "failed", "interrupted"]},
                    "created_at": string, "updated_at": string, "finished_at": nullable, "error": nullable,
                    "phases": {"type": "integer"}, "phases_done": {"type": "integer"}, "current_phase": nullable}}}}},
        "PluginCheck": {"type": "object", "required": ["id", "role", "stored", "plugin", "active", "routes", "grants", "collections"],
            "properties": {"id": string, "role": {"enum": ["endpoint", "pricing", "scheduling"]},
                "stored": {"const": false},
                "plugin": {"$ref": "#/components/schemas/Plugin"},
                "active": {"type": ["object", "null"], "required": ["name", "version", "sha256"],
                    "properties": {"name": string, "version": string, "sha256": string}},
                "routes": {"type": "object", "required": ["added", "removed", "kept"],
                    "properties": {"added": strings, "removed": strings, "kept": strings}},
                "grants": {"type": "object", "required": ["imports", "granted", "missing"],
                    "properties": {"imports": strings, "granted": strings, "missing": strings}},
                "collections": {"type": "array", "items": {"type": "object", "required": ["name", "exists"],
                    "properties": {"name": string, "exists": {"type": "boolean"}}}}}},
    })
}
