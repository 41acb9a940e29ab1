//! `remote-probe`: a component for the host's integration tests of the `ssh`
//! capability. Each route makes one capability call described by its JSON
//! body and answers what the host returned, so the tests see the capability
//! itself (exit status, output, caps, errors) rather than an area's use of it.
//!
//! Body of every route: `{"target": {"device": "<id>"} | {"host", "port",
//! "user", "password"?, "private_key"?}, ...}`; errors answer
//! `{"error": "<variant>", "message": "..."}`.

use computehub_sdk::prelude::*;
use computehub_sdk::ssh::{self, ExplicitTarget, Target};
use serde::Deserialize;
use serde_json::json;

struct Probe;

#[derive(Deserialize)]
#[serde(untagged)]
enum TargetBody {
    Device {
        device: String,
    },
    Explicit {
        host: String,
        port: u16,
        user: String,
        password: Option<String>,
        private_key: Option<String>,
    },
}

impl From<TargetBody> for Target {
    fn from(t: TargetBody) -> Target {
        match t {
            TargetBody::Device { device } => Target::Device(device),
            TargetBody::Explicit {
                host,
                port,
                user,
                password,
                private_key,
            } => Target::Explicit(ExplicitTarget {
                host,
                port,
                user,
                password,
                private_key,
            }),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    target: TargetBody,
    #[serde(default)]
    program: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    timeout_ms: u32,
    #[serde(default)]
    path: String,
    #[serde(default)]
    contents: String,
    #[serde(default)]
    mode: Option<u32>,
}

fn failure(e: ssh::Error) -> Response {
    let (status, kind, message) = match e {
        ssh::Error::Invalid(m) => (400, "invalid", m),
        ssh::Error::Unreachable(m) => (502, "unreachable", m),
        ssh::Error::AuthFailed(m) => (502, "auth-failed", m),
        ssh::Error::HostKeyChanged(m) => (502, "host-key-changed", m),
        ssh::Error::Timeout(m) => (504, "timeout", m),
        ssh::Error::Denied(m) => (403, "denied", m),
        ssh::Error::Remote(m) => (502, "remote", m),
    };
    response::json(status, &json!({"error": kind, "message": message}))
}

impl Plugin for Probe {
    fn describe() -> PluginInfo {
        plugin_info(
            "remote-probe",
            "1.0.0",
            ErrorFormat::Plain,
            [
                route::post("/probe/run", AuthScheme::Bearer)
                    .deadline_ms(30_000)
                    .summary("ssh.run"),
                route::post("/probe/upload", AuthScheme::Bearer)
                    .deadline_ms(30_000)
                    .summary("ssh.upload"),
                route::post("/probe/download", AuthScheme::Bearer)
                    .deadline_ms(30_000)
                    .summary("ssh.download"),
            ],
        )
    }

    fn handle(req: Request) -> Response {
        let body: Body = match req.body_json() {
            Ok(b) => b,
            Err(e) => return response::error(400, &e.to_string()),
        };
        let target: Target = body.target.into();
        match req.route.as_str() {
            "/probe/run" => match ssh::run(&target, &body.program, &body.args, body.timeout_ms) {
                Ok(o) => response::json(
                    200,
                    &json!({
                        "exit_status": o.exit_status,
                        "stdout": String::from_utf8_lossy(&o.stdout),
                        "stdout_len": o.stdout.len(),
                        "stderr": String::from_utf8_lossy(&o.stderr),
                        "truncated": o.truncated,
                    }),
                ),
                Err(e) => failure(e),
            },
            "/probe/upload" => {
                let mode = body.mode.unwrap_or(0o644);
                match ssh::upload(&target, &body.path, body.contents.as_bytes(), mode) {
                    Ok(()) => response::json(200, &json!({"uploaded": body.contents.len()})),
                    Err(e) => failure(e),
                }
            }
            "/probe/download" => match ssh::download(&target, &body.path) {
                Ok(bytes) => response::json(
                    200,
                    &json!({"contents": String::from_utf8_lossy(&bytes), "len": bytes.len()}),
                ),
                Err(e) => failure(e),
            },
            _ => response::error(404, "no such route"),
        }
    }
}

export_plugin!(Probe);
