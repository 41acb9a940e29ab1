//! `computehub plugin new NAME --kind endpoint|pricing|scheduling`: a
//! standalone plugin crate that builds anywhere.
//!
//! The guest SDK (`plugins/sdk`), the WIT contract (`wit/`) and the one crate
//! the SDK shares with the host (`crates/kubefmt`) are embedded in this binary
//! at build time and written into the new crate's `vendor/`:
//!
//! ```text
//! NAME/Cargo.toml            [workspace] of its own, computehub-sdk by path
//! NAME/Cargo.lock            the guest workspace's lock: tested versions
//! NAME/src/lib.rs            a route or engine skeleton
//! NAME/vendor/wit/           (the SDK reads `../../wit`)
//! NAME/vendor/crates/computehub-sdk/
//! NAME/vendor/crates/kubefmt/
//! ```
//!
//! Vendoring rather than an absolute path to an installed source: the binary
//! may be installed where no source is, the crate can be moved, committed and
//! built on another machine, and the SDK a plugin was written against stays
//! with it. The vendored SDK's version carries a hash of what was vendored
//! (`0.1.0+sdk.<hash>`), so crates sharing one target directory reuse one
//! compiled SDK when they vendor the same one and never mix two different ones
//! (cargo identifies a path package by its path relative to the workspace root
//! and its version, and the relative path is the same in every such crate).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};

use super::RoleArg;

static SDK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../plugins/sdk");
static WIT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../wit");
static KUBEFMT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../crates/kubefmt");
/// The guest workspace: what the SDK's `workspace = true` keys inherit.
const GUEST_WORKSPACE: &str = include_str!("../../../plugins/Cargo.toml");
/// The guest workspace's lock: a new crate starts from the versions tested here.
const GUEST_LOCK: &str = include_str!("../../../plugins/Cargo.lock");

const CARGO_TOML: &str = include_str!("../../templates/plugin/Cargo.toml.tmpl");
const README: &str = include_str!("../../templates/plugin/README.md.tmpl");
const GITIGNORE: &str = include_str!("../../templates/plugin/gitignore.tmpl");
const ENDPOINT_RS: &str = include_str!("../../templates/plugin/endpoint.rs.tmpl");
const PRICING_RS: &str = include_str!("../../templates/plugin/pricing.rs.tmpl");
const SCHEDULING_RS: &str = include_str!("../../templates/plugin/scheduling.rs.tmpl");

/// Crates the SDK depends on by path, as the guest workspace names their
/// directory, and where they go under `vendor/crates`.
const VENDORED: &[(&str, &str)] = &[("../crates/kubefmt", "kubefmt")];

/// Arguments of `plugin new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// Crate name, and the plugin id of an endpoint: a-z, 0-9 and `-`,
    /// starting with a letter.
    name: String,
    /// What the plugin is: an endpoint (HTTP routes) or an engine.
    #[arg(long, value_enum, default_value = "endpoint")]
    kind: RoleArg,
    /// Parent directory of the new crate (default: the current directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rewrite only `vendor/` and `Cargo.lock` of an existing crate NAME
    /// (bring this binary's SDK into a crate made by an older one).
    #[arg(long)]
    update_sdk: bool,
}

/// `computehub plugin new`.
pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let parent = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let dir = parent.join(&args.name);
    if args.update_sdk {
        if !dir.join("Cargo.toml").exists() {
            bail!("{} holds no crate to update", dir.display());
        }
        let stamp = write_vendor(&dir)?;
        println!(
            "updated the vendored SDK of {} (sdk.{stamp})",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let files = render(&args.name, args.kind)?;
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    for (path, text) in &files {
        write(&dir.join(path), text.as_bytes())?;
    }
    write_vendor(&dir)?;
    let role: crate::runtime::Role = args.kind.into();
    println!(
        "created {} plugin `{}` in {}",
        role.as_str(),
        args.name,
        dir.display()
    );
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  cargo build --release --target wasm32-wasip2");
    match role {
        crate::runtime::Role::Endpoint => println!(
            "  computehub plugin dev . --server http://127.0.0.1:8080 --admin-token $COMPUTEHUB_ADMIN_TOKEN --key $KEY   # an API key: its routes authenticate"
        ),
        _ => println!(
            "  computehub plugin dev . --server http://127.0.0.1:8080 --admin-token $COMPUTEHUB_ADMIN_TOKEN"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The crate's own files (everything but `vendor/` and `Cargo.lock`).
pub fn render(name: &str, kind: RoleArg) -> anyhow::Result<Vec<(&'static str, String)>> {
    crate::registry::persist::validate_id(name)
        .map_err(|e| anyhow::anyhow!(e.replace("plugin id", "plugin name")))?;
    if ["computehub-sdk", "kubefmt"].contains(&name) {
        bail!("`{name}` is the name of a vendored crate; choose another");
    }
    let crate_name = name.replace('-', "_");
    let ty = type_name(name);
    let (kind_name, world, lib, id, extra, first) = match kind {
        RoleArg::Endpoint => (
            "endpoint",
            "endpoint-plugin",
            ENDPOINT_RS,
            name.to_string(),
            "serde_json = \"1\"\n",
            format!("calls `GET /{name}` (with the API key of `--key`, if given)"),
        ),
        RoleArg::Pricing => (
            "pricing",
            "pricing-engine",
            PRICING_RS,
            "pricing".to_string(),
            "",
            "says which endpoints reach it (an engine serves no routes)".to_string(),
        ),
        RoleArg::Scheduling => (
            "scheduling",
            "scheduling-engine",
            SCHEDULING_RS,
            "scheduling".to_string(),
            "",
            "says which endpoints reach it (an engine serves no routes)".to_string(),
        ),
    };
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{Type}}", &ty)
            .replace("{{kind}}", kind_name)
            .replace("{{role}}", kind_name)
            .replace("{{world}}", world)
            .replace("{{crate}}", &crate_name)
            .replace("{{id}}", &id)
            .replace("{{extra_deps}}", extra)
            .replace("{{first_request}}", &first)
            .replace("{{imports}}", "nothing (it loads under any grant)")
    };
    Ok(vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        ("README.md", fill(README)),
        (".gitignore", fill(GITIGNORE)),
        ("src/lib.rs", fill(lib)),
    ])
}

/// `my-plugin` -> `MyPlugin`; a name the SDK's prelude already uses gets a
/// suffix.
fn type_name(name: &str) -> String {
    let mut ty: String = name
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    const TAKEN: &[&str] = &[
        "Plugin",
        "Request",
        "Response",
        "Route",
        "Method",
        "PluginInfo",
        "Principal",
        "ApiError",
        "Params",
        "ParamError",
        "AuthScheme",
        "ErrorFormat",
        "RouteBuilder",
        "Guest",
        "Engine",
        "Error",
        "Decimal",
        "Priced",
        "Policy",
        "Node",
        "Product",
        "Verdict",
        "PriceQuote",
        "QuoteRequest",
    ];
    if TAKEN.contains(&ty.as_str()) {
        ty.push_str("Component");
    }
    ty
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The files of an embedded directory, skipping build output and hidden files.
fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for entry in dir.entries() {
        let hidden = entry
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "target");
        if hidden {
            continue;
        }
        match entry {
            include_dir::DirEntry::Dir(d) => files(d, out),
            include_dir::DirEntry::File(f) => out.push(f),
        }
    }
}

/// Everything written under `vendor/`, as (path under `vendor/`, bytes),
/// manifests not yet rewritten.
fn vendored_files() -> Vec<(PathBuf, &'static [u8])> {
    let mut all = Vec::new();
    for (dir, under) in [
        (&SDK, "crates/computehub-sdk"),
        (&WIT, "wit"),
        (&KUBEFMT, "crates/kubefmt"),
    ] {
        let mut list = Vec::new();
        files(dir, &mut list);
        for f in list {
            all.push((Path::new(under).join(f.path()), f.contents()));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// A short hash of what is vendored (paths and contents).
pub fn sdk_stamp() -> String {
    let mut h = Sha256::new();
    for (path, bytes) in vendored_files() {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.update(GUEST_WORKSPACE.as_bytes());
    hex::encode(&h.finalize()[..6])
}

/// Write `vendor/` (replacing an earlier one) and `Cargo.lock`; answers the
/// SDK's stamp.
fn write_vendor(dir: &Path) -> anyhow::Result<String> {
    let stamp = sdk_stamp();
    let vendor = dir.join("vendor");
    if vendor.exists() {
        std::fs::remove_dir_all(&vendor)
            .with_context(|| format!("cannot replace {}", vendor.display()))?;
    }
    for (path, bytes) in vendored_files() {
        let text;
        let bytes = if path == Path::new("crates/computehub-sdk/Cargo.toml") {
            text = sdk_manifest(std::str::from_utf8(bytes)?, GUEST_WORKSPACE, &stamp)?;
            text.as_bytes()
        } else if path == Path::new("crates/kubefmt/Cargo.toml") {
            text = stamped(std::str::from_utf8(bytes)?, &stamp)?;
            text.as_bytes()
        } else {
            bytes
        };
        let file = vendor.join(&path);
        write(&file, bytes)?;
        // A fixed, old modification time: cargo then sees the vendored
        // sources as older than an SDK another crate already compiled into a
        // shared target directory, and reuses it (the version's stamp keeps
        // different SDKs apart).
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|f| {
                f.set_modified(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(VENDORED_MTIME_SECS),
                )
            })
            .with_context(|| format!("cannot set the time of {}", file.display()))?;
    }
    write(&dir.join("Cargo.lock"), GUEST_LOCK.as_bytes())?;
    Ok(stamp)
}

/// 2020-09-13, seconds after the epoch: the modification time of every
/// vendored file.
const VENDORED_MTIME_SECS: u64 = 1_600_000_000;

const VENDOR_NOTE: &str = "# Vendored by `computehub plugin new`; `--update-sdk` replaces it.\n";

/// A vendored manifest with `+sdk.<stamp>` on its version.
fn stamped(manifest: &str, stamp: &str) -> anyhow::Result<String> {
    let mut doc: toml::Table = manifest.parse().context("kubefmt's Cargo.toml")?;
    let package = doc
        .get_mut("package")
        .and_then(|p| p.as_table_mut())
        .context("kubefmt's Cargo.toml has no [package]")?;
    stamp_version(package, stamp)?;
    Ok(format!("{VENDOR_NOTE}{}", package_first(doc)?))
}

/// A manifest as text with `[package]` first (a `toml::Table` sorts its keys).
fn package_first(mut doc: toml::Table) -> anyhow::Result<String> {
    let mut head = toml::Table::new();
    if let Some(p) = doc.remove("package") {
        head.insert("package".into(), p);
    }
    Ok(format!(
        "{}\n{}",
        toml::to_string(&head)?,
        toml::to_string(&doc)?
    ))
}

fn stamp_version(package: &mut toml::Table, stamp: &str) -> anyhow::Result<()> {
    let version = package
        .get("version")
        .and_then(|v| v.as_str())
        .context("a vendored crate has no version")?;
    let base = version.split('+').next().unwrap_or(version);
    package.insert(
        "version".into(),
        toml::Value::String(format!("{base}+sdk.{stamp}")),
    );
    Ok(())
}

fn inherited(v: &toml::Value) -> bool {
    v.get("workspace").and_then(|w| w.as_bool()) == Some(true)
}

/// The SDK's manifest made standalone: every `workspace = true` replaced by
/// the guest workspace's value, path dependencies pointed at their vendored
/// copies, the workspace's lints (warnings for computehub's own code) left
/// out.
pub fn sdk_manifest(sdk: &str, workspace: &str, stamp: &str) -> anyhow::Result<String> {
    let mut doc: toml::Table = sdk.parse().context("the SDK's Cargo.toml")?;
    let ws: toml::Table = workspace.parse().context("plugins/Cargo.toml")?;
    let ws = ws
        .get("workspace")
        .and_then(|w| w.as_table())
        .context("plugins/Cargo.toml has no [workspace]")?;
    let empty = toml::Table::new();
    let ws_package = ws
        .get("package")
        .and_then(|p| p.as_table())
        .unwrap_or(&empty);
    let ws_deps = ws
        .get("dependencies")
        .and_then(|p| p.as_table())
        .unwrap_or(&empty);

    let package = doc
        .get_mut("package")
        .and_then(|p| p.as_table_mut())
        .context("the SDK's Cargo.toml has no [package]")?;
    for (key, value) in package.iter_mut() {
        if inherited(value) {
            *value = ws_package
                .get(key)
                .cloned()
                .with_context(|| format!("the guest workspace sets no package.{key}"))?;
        }
    }
    stamp_version(package, stamp)?;

    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(deps) = doc.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (name, value) in deps.iter_mut() {
            let mut dep = if inherited(value) {
                let base = ws_deps
                    .get(name)
                    .with_context(|| format!("the guest workspace has no dependency `{name}`"))?;
                let mut dep = match base {
                    toml::Value::String(v) => {
                        let mut t = toml::Table::new();
                        t.insert("version".into(), toml::Value::String(v.clone()));
                        t
                    }
                    toml::Value::Table(t) => t.clone(),
                    _ => bail!(
                        "the guest workspace's dependency `{name}` is neither text nor a table"
                    ),
                };
                // What the SDK adds to the inherited entry.
                if let Some(own) = value.as_table() {
                    for (k, v) in own {
                        match k.as_str() {
                            "workspace" => {}
                            "features" => {
                                let mut all = dep
                                    .get("features")
                                    .and_then(|f| f.as_array())
                                    .cloned()
                                    .unwrap_or_default();
                                for f in v.as_array().into_iter().flatten() {
                                    if !all.contains(f) {
                                        all.push(f.clone());
                                    }
                                }
                                dep.insert("features".into(), toml::Value::Array(all));
                            }
                            _ => {
                                dep.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                dep
            } else {
                match &*value {
                    toml::Value::Table(t) => t.clone(),
                    other => {
                        let mut t = toml::Table::new();
                        t.insert("version".into(), other.clone());
                        t
                    }
                }
            };
            if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                let Some((_, vendored)) = VENDORED.iter().find(|(p, _)| *p == path) else {
                    bail!(
                        "the SDK depends on `{name}` at `{path}`, which `plugin new` does not vendor (add it to VENDORED in host/src/cli/plugin_new.rs)"
                    );
                };
                dep.insert("path".into(), toml::Value::String(format!("../{vendored}")));
            }
            *value = toml::Value::Table(dep);
        }
    }
    doc.remove("lints");
    Ok(format!("{VENDOR_NOTE}{}", package_first(doc)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_manifest_is_made_standalone() {
        let sdk = SDK
            .get_file("Cargo.toml")
            .and_then(|f| f.contents_utf8())
            .unwrap_or_default();
        let out = sdk_manifest(sdk, GUEST_WORKSPACE, "abc").unwrap_or_else(|e| panic!("{e:#}"));
        assert!(!out.contains("workspace"), "{out}");
        assert!(out.contains("+sdk.abc"), "{out}");
        assert!(out.contains("path = \"../kubefmt\""), "{out}");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name("my-plugin"), "MyPlugin");
        assert_eq!(type_name("plugin"), "PluginComponent");
        assert_eq!(type_name("a2"), "A2");
    }

    #[test]
    fn every_kind_renders_without_placeholders() {
        for kind in [RoleArg::Endpoint, RoleArg::Pricing, RoleArg::Scheduling] {
            for (path, text) in render("demo-one", kind).unwrap_or_default() {
                assert!(!text.contains("{{"), "{path}: {text}");
            }
        }
        assert!(render("Bad_Name", RoleArg::Endpoint).is_err());
    }
}
