//! `computehub plugin dev DIR --server URL`: build, check, hot-swap into a
//! running server, show what changed and the first request's answer; again
//! on every save.
//!
//! One round:
//!
//! 1. `cargo build --release --target wasm32-wasip2` in DIR, into a target
//!    directory shared by every plugin (`--target-dir`, else
//!    `CARGO_TARGET_DIR`, else `$XDG_CACHE_HOME/computehub/plugin-target`),
//! 2. the checks of `computehub plugin check` (compiles, world, imports and
//!    routes without authentication against the grant the server holds for
//!    the id, routes), locally; a refusal says which grant to give,
//! 3. `PUT /admin/plugins/{id}?role=ROLE`, which swaps the new version in,
//! 4. the routes added and removed against the version it replaced and the
//!    grants its imports need, then `GET` of its first route without
//!    parameters (status and the head of the body; with the `--key` API key
//!    when that route takes a Bearer key).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use super::RoleArg;
use crate::runtime::Role;

mod check;
use check::{check, grant_hint};

/// Arguments of `plugin dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// The plugin crate (as `plugin new` writes it).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Base URL of the running server (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server's admin token.
    #[arg(long, env = "COMPUTEHUB_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// Plugin id to upload as (default: the crate's name for an endpoint;
    /// `pricing` or `scheduling` for an engine, replacing the active one).
    #[arg(long)]
    id: Option<String>,
    /// Role (default: `[package.metadata.computehub] role` of Cargo.toml,
    /// else endpoint).
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// Cargo target directory (default: `CARGO_TARGET_DIR`, else
    /// `$XDG_CACHE_HOME/computehub/plugin-target`, shared by every plugin so
    /// only the first pays for the SDK's dependencies).
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// The config file whose grants the local check applies, as `plugin
    /// check --config` (the server's grant for the id is applied too).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Build the release profile (what you ship) instead of `dev-live` (the
    /// same without link-time optimisation, rebuilt in about a second), when
    /// the crate defines `[profile.dev-live]` as `plugin new` writes it.
    #[arg(long)]
    release: bool,
    /// One round, then exit (status 1 when it failed).
    #[arg(long)]
    once: bool,
    /// An API key (Bearer) to send with each round's first request, for a
    /// route that authenticates its caller.
    #[arg(long, env = "COMPUTEHUB_DEV_KEY", hide_env_values = true)]
    key: Option<String>,
}

/// The profile `plugin new` writes for the edit loop.
const DEV_PROFILE: &str = "dev-live";

/// What every round uses.
struct Dev {
    dir: PathBuf,
    manifest: PathBuf,
    server: String,
    token: String,
    /// The API key of the first request, if any.
    key: Option<String>,
    id: String,
    role: Role,
    target_dir: PathBuf,
    /// Cargo profile to build.
    profile: String,
    config: Option<PathBuf>,
    scratch: PathBuf,
    http: reqwest::Client,
    /// The local check's registry and the server grant it was made with
    /// (made again only when that grant changes).
    checker: tokio::sync::Mutex<Option<(String, crate::registry::Registry)>>,
}

/// `computehub plugin dev`.
pub async fn run(args: DevArgs, scratch: &Path) -> anyhow::Result<ExitCode> {
    let dir = args.dir.canonicalize().with_context(|| {
        format!(
            "{} is not a directory (make a plugin with `computehub plugin new NAME`)",
            args.dir.display()
        )
    })?;
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    let package = doc.get("package").and_then(|p| p.as_table());
    let name = package
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .with_context(|| format!("{} has no package name", manifest.display()))?;
    let declared = package
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("computehub"))
        .and_then(|c| c.get("role"))
        .and_then(|r| r.as_str());
    let role = match (args.role, declared) {
        (Some(r), _) => r.into(),
        (None, Some(r)) => Role::parse(r).with_context(|| {
            format!("package.metadata.computehub.role must be endpoint, pricing or scheduling, got `{r}`")
        })?,
        (None, None) => Role::Endpoint,
    };
    let id = args.id.unwrap_or_else(|| match role {
        Role::Endpoint => name.to_string(),
        engine => engine.as_str().to_string(),
    });
    crate::registry::persist::validate_id(&id).map_err(anyhow::Error::msg)?;
    let has_dev_profile = doc
        .get("profile")
        .and_then(|p| p.get(DEV_PROFILE))
        .is_some();
    let profile = if args.release || !has_dev_profile {
        "release"
    } else {
        DEV_PROFILE
    };
    let server = args.server.trim_end_matches('/').to_string();
    if !server.starts_with("http://") {
        bail!("--server must be an http:// URL (plugin dev talks plain HTTP to a development server), got `{server}`");
    }
    let dev = Dev {
        manifest,
        server,
        token: args.admin_token,
        key: args.key,
        id,
        role,
        target_dir: target_dir(args.target_dir),
        profile: profile.to_string(),
        config: args.config,
        scratch: scratch.to_path_buf(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        checker: Default::default(),
        dir,
    };
    println!(
        "plugin dev: {} as {} plugin `{}` on {} (profile {}, target dir {})",
        dev.dir.display(),
        dev.role.as_str(),
        dev.id,
        dev.server,
        dev.profile,
        dev.target_dir.display()
    );
    let mut last_imports: Option<BTreeSet<String>> = None;
    let ok = round(&dev, &mut last_imports).await;
    if args.once {
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    watch(&dev, &mut last_imports).await
}

/// The shared target directory.
fn target_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("computehub").join("plugin-target")
}

/// Rounds on every change of `src/` or `Cargo.toml`, until interrupted.
async fn watch(dev: &Dev, last: &mut Option<BTreeSet<String>>) -> anyhow::Result<ExitCode> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let src = dev.dir.join("src");
    let watched_src = src.clone();
    let manifest = dev.manifest.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        if event
            .paths
            .iter()
            .any(|p| p.starts_with(&watched_src) || *p == manifest)
        {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&src, RecursiveMode::Recursive)?;
    // The directory, not the file: editors replace Cargo.toml on save.
    watcher.watch(&dev.dir, RecursiveMode::NonRecursive)?;
    println!("watching {} and Cargo.toml (Ctrl-C ends)", src.display());
    loop {
        // Ctrl-C ends the loop, so the scratch directory is removed.
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tokio::signal::ctrl_c() => None,
        };
        if event.is_none() {
            break;
        }
        // One round for a burst of events (an editor's save is several).
        tokio::time::sleep(Duration::from_millis(100)).await;
        while rx.try_recv().is_ok() {}
        println!();
        round(dev, last).await;
        while rx.try_recv().is_ok() {}
    }
    Ok(ExitCode::SUCCESS)
}

/// One round; prints its outcome and answers whether the new version is live.
async fn round(dev: &Dev, last: &mut Option<BTreeSet<String>>) -> bool {
    let started = Instant::now();
    match round_inner(dev, last, started).await {
        Ok(()) => true,
        Err(e) => {
            println!("✗ {e:#}");
            println!(
                "  (after {:.1} s; the server keeps its running version)",
                secs(started)
            );
            false
        }
    }
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

async fn round_inner(
    dev: &Dev,
    last: &mut Option<BTreeSet<String>>,
    started: Instant,
) -> anyhow::Result<()> {
    let manifest = dev.manifest.clone();
    let target_dir = dev.target_dir.clone();
    let profile = dev.profile.clone();
    let wasm_path =
        tokio::task::spawn_blocking(move || build(&manifest, &target_dir, &profile)).await??;
    let built = secs(started);
    let wasm = std::fs::read(&wasm_path)
        .with_context(|| format!("cannot read {}", wasm_path.display()))?;

    // The server's view: the version running now and the grant of the id.
    let before = get_json(dev, &format!("/admin/plugins/{}", dev.id)).await?;
    let grant = get_json(dev, &format!("/admin/plugins/{}/grants", dev.id))
        .await?
        .and_then(|g| g.get("grant").cloned());

    let imports = check(dev, &wasm, grant).await?;
    let checked = secs(started);

    let url = format!(
        "{}/admin/plugins/{}?role={}",
        dev.server,
        dev.id,
        dev.role.as_str()
    );
    let resp = dev
        .http
        .put(&url)
        .bearer_auth(&dev.token)
        .body(wasm.clone())
        .send()
        .await
        .with_context(|| format!("cannot reach {}", dev.server))?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let why = body
            .get("error")
            .and_then(|e| e.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        let mut msg = format!("the server refused the upload ({status}): {why}");
        if let Some(needs) = body.get("needs") {
            msg.push_str(&grant_hint(dev, needs));
        }
        bail!(msg);
    }
    let live = secs(started);
    println!(
        "✓ {} {} {} live as `{}` in {:.1} s (build {:.1} s, check {:.1} s, upload {:.1} s), {} KiB, sha256 {}",
        body["name"].as_str().unwrap_or("?"),
        body["version"].as_str().unwrap_or("?"),
        dev.role.as_str(),
        dev.id,
        live,
        built,
        checked - built,
        live - checked,
        wasm.len() >> 10,
        body["sha256"].as_str().map_or("?", |s| &s[..s.len().min(12)]),
    );

    // What changed.
    let routes = |v: Option<&Value>| -> BTreeSet<String> {
        v.and_then(|v| v.get("routes"))
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{} {} [{}]",
                    r["method"].as_str().unwrap_or("?"),
                    r["path"].as_str().unwrap_or("?"),
                    r["auth"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let (old, new) = (routes(before.as_ref()), routes(Some(&body)));
    match &before {
        None => println!("  new plugin (no earlier version on the server)"),
        Some(b) => println!(
            "  replaced {} {}",
            b["name"].as_str().unwrap_or("?"),
            b["version"].as_str().unwrap_or("?")
        ),
    }
    for r in new.difference(&old) {
        println!("  + {r}");
    }
    for r in old.difference(&new) {
        println!("  - {r}");
    }
    if old == new && !new.is_empty() {
        println!("  routes unchanged ({})", new.len());
    }
    let shown: Vec<&str> = imports.iter().map(String::as_str).collect();
    let changed = match last.as_ref() {
        Some(prev) if prev != &imports => {
            let added: Vec<&String> = imports.difference(prev).collect();
            let gone: Vec<&String> = prev.difference(&imports).collect();
            format!(" (changed: +{added:?} -{gone:?})")
        }
        _ => String::new(),
    };
    println!(
        "  grants needed (its imports): {}{changed}",
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        }
    );
    *last = Some(imports);

    // The first request.
    let first = body["routes"].as_array().and_then(|routes| {
        routes
            .iter()
            .find(|r| r["method"] == "GET" && r["path"].as_str().is_some_and(|p| !p.contains('{')))
    });
    match first {
        Some(route) => {
            let path = route["path"].as_str().unwrap_or("/");
            let auth = route["auth"].as_str().unwrap_or("none");
            let t = Instant::now();
            let mut first = dev.http.get(format!("{}{path}", dev.server));
            if let Some(key) = dev
                .key
                .as_deref()
                .filter(|k| auth == "bearer" && !k.is_empty())
            {
                first = first.bearer_auth(key);
            }
            match first.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    println!(
                        "  GET {path} -> {} in {} ms: {}",
                        status.as_u16(),
                        t.elapsed().as_millis(),
                        head(&text, 300)
                    );
                    if auth != "none" && status.as_u16() == 401 {
                        println!(
                            "    (the route wants `{auth}` credentials; plugin dev sends a Bearer key given with --key)"
                        );
                    }
                }
                Err(e) => println!("  GET {path} failed: {e}"),
            }
        }
        None if dev.role == Role::Endpoint => {
            let any: Vec<&str> = body["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["path"].as_str())
                .collect();
            println!(
                "  no GET route without parameters to call; its routes: {}",
                if any.is_empty() {
                    "none".to_string()
                } else {
                    any.join(", ")
                }
            );
        }
        None => println!(
            "  an engine serves no routes: every endpoint that imports `{}` now reaches it (kboss's accrual_price and pcapi's determine_accommodat, say); POST {}/admin/plugins/{}/rollback brings the previous one back",
            dev.role.as_str(),
            dev.server,
            dev.id
        ),
    }
    Ok(())
}

/// The first `max` characters of a body, on one line.
fn head(text: &str, max: usize) -> String {
    let one: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        format!("{one}…")
    } else {
        one
    }
}

/// An admin GET: `None` on 404.
async fn get_json(dev: &Dev, path: &str) -> anyhow::Result<Option<Value>> {
    let resp = dev
        .http
        .get(format!("{}{path}", dev.server))
        .bearer_auth(&dev.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", dev.server))?;
    match resp.status().as_u16() {
        200 => Ok(Some(resp.json().await?)),
        404 => Ok(None),
        401 | 403 => {
            bail!("the server refused the admin token (--admin-token or COMPUTEHUB_ADMIN_TOKEN)")
        }
        s => bail!(
            "GET {path} answered {s}: {}",
            head(&resp.text().await.unwrap_or_default(), 300)
        ),
    }
}

/// `cargo build --profile PROFILE --target wasm32-wasip2`; answers the
/// component.
fn build(manifest: &Path, target_dir: &Path, profile: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--profile", profile, "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo (is Rust installed? `rustup target add wasm32-wasip2`)")?;
    if !out.status.success() {
        bail!("the build failed (see cargo's messages above)");
    }
    let mut wasm = None;
    for line in out.stdout.split(|b| *b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let cdylib = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if !cdylib {
            continue;
        }
        if let Some(f) = msg["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"))
        {
            wasm = Some(PathBuf::from(f));
        }
    }
    wasm.context("the build produced no .wasm component (is the crate a `cdylib`?)")
}
