//! Builds the WebAssembly plugins the host embeds and its tests load.
//!
//! Like wasmtime's `crates/test-programs/artifacts/build.rs`, this runs a
//! nested `cargo build --release --target wasm32-wasip2` over the guest
//! workspace (`plugins/`) and the example plugins (`examples/hello-plugin`,
//! `examples/volume-discount`),
//! into their own target directory (`target/wasm`) so the host build and the
//! guest build never wait on each other's lock. Then it:
//!
//! - copies every produced `*.wasm` into `OUT_DIR` and sets
//!   `COMPUTEHUB_TEST_PLUGINS` to that directory (tests read
//!   `fixtures.wasm`, `echo_v1.wasm`, `echo_v2.wasm`, `hello_plugin.wasm`,
//!   `volume_discount.wasm`);
//! - writes `OUT_DIR/builtin_plugins.rs` with `BUILTIN_PLUGINS`, the
//!   production plugins of the table below embedded with `include_bytes!`.
//!
//! When the `wasm32-wasip2` target is missing it is added with rustup (these
//! machines do not install targets automatically), with a warning.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Production plugins embedded in the host binary as defaults:
/// (plugin id, role: `endpoint` | `pricing` | `scheduling`, file produced in
/// `target/wasm/wasm32-wasip2/release`, i.e. the crate name with `_` for `-`).
///
/// Test components (`plugins/testing/*`), the SDK and the examples never go
/// here. Add a row when a plugin crate is added to `plugins/Cargo.toml`, e.g.
/// `("kboss", "endpoint", "kboss.wasm")`.
const BUILTIN_PLUGINS: &[(&str, &str, &str)] = &[
    ("kboss", "endpoint", "kboss.wasm"),
    ("pricing", "pricing", "pricing.wasm"),
    ("pcapi", "endpoint", "pcapi.wasm"),
    ("scheduling", "scheduling", "scheduling.wasm"),
    ("alaya", "endpoint", "alaya.wasm"),
    ("ief", "endpoint", "ief.wasm"),
];

/// Standalone example plugins (own `[workspace]`, under `examples/`), built
/// so the tests can install them through the admin API like a third party.
const EXAMPLES: &[&str] = &[
    "hello-plugin",
    "volume-discount",
    "headroom-scheduler",
    "service-desk",
];

const WASM_TARGET: &str = "wasm32-wasip2";
const ROLES: &[&str] = &["endpoint", "pricing", "scheduling"];

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent directory", manifest_dir.display()))
        .to_path_buf();
    let out_dir = PathBuf::from(env_var("OUT_DIR"));
    let plugins = repo.join("plugins");
    let examples: Vec<PathBuf> = EXAMPLES
        .iter()
        .map(|name| repo.join("examples").join(name))
        .collect();
    let wasm_target_dir = repo.join("target").join("wasm");

    watch_tree(&plugins);
    watch_tree(&repo.join("wit"));
    // Crates the plugins share with the host (kubectl formats).
    watch_tree(&repo.join("crates"));
    for example in &examples {
        watch_tree(example);
    }

    ensure_wasm_target(&repo);
    cargo_build_wasm(
        &plugins.join("Cargo.toml"),
        &["--workspace"],
        &wasm_target_dir,
    );
    for example in &examples {
        cargo_build_wasm(&example.join("Cargo.toml"), &[], &wasm_target_dir);
    }

    let release = wasm_target_dir.join(WASM_TARGET).join("release");
    let copied = copy_components(&release, &out_dir);
    println!(
        "cargo:rustc-env=COMPUTEHUB_TEST_PLUGINS={}",
        out_dir.display()
    );

    write_builtin_table(&out_dir, &copied);
}

fn env_var(name: &str) -> std::ffi::OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo did not set {name}"))
}

/// `cargo:rerun-if-changed` for every file under `dir`, skipping `target`
/// directories (build output must never retrigger the build) and hidden
/// directories other than `.cargo`.
fn watch_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.flatten().collect();
    paths.sort_by_key(|e| e.file_name());
    for entry in paths {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let hidden = name.to_string_lossy().starts_with('.') && name != ".cargo";
            if name != "target" && !hidden {
                watch_tree(&path);
            }
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Adds the wasm target with rustup when it is missing.
fn ensure_wasm_target(repo: &Path) {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(repo)
        .stderr(Stdio::inherit())
        .output();
    let installed = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|line| line.trim() == WASM_TARGET),
        Ok(_) | Err(_) => {
            println!(
                "cargo:warning=could not ask rustup for the installed targets; assuming {WASM_TARGET} is installed"
            );
            return;
        }
    };
    if installed {
        return;
    }
    println!(
        "cargo:warning=the {WASM_TARGET} target was missing: ran `rustup target add {WASM_TARGET}` to build the plugins"
    );
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(repo)
        .stdout(stderr_stdio())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            panic!("`rustup target add {WASM_TARGET}` failed ({s}); install the target and rebuild")
        }
        Err(e) => panic!("could not run `rustup target add {WASM_TARGET}`: {e}"),
    }
}

/// Child stdout goes to our stderr: a build script's stdout is read by cargo
/// as directives, and its stderr is what cargo shows when the script fails.
fn stderr_stdio() -> Stdio {
    Stdio::from(io::stderr())
}

/// Runs the nested `cargo build` for one manifest, failing the build script
/// (with the nested cargo's output above the message) when it fails.
fn cargo_build_wasm(manifest: &Path, extra: &[&str], target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(manifest)
        .args(extra)
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(stderr_stdio())
        .stderr(Stdio::inherit());
    if let Some(dir) = manifest.parent() {
        cmd.current_dir(dir);
    }
    clean_cargo_env(&mut cmd);
    eprintln!("running {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", Path::new(&cargo).display()));
    if !status.success() {
        panic!(
            "building the plugins failed: `cargo build --release --target {WASM_TARGET} --manifest-path {}` exited with {status}; its output is above",
            manifest.display()
        );
    }
}

/// Removes what cargo (or clippy, or a coverage tool) set for the outer
/// build, so the nested build is configured only by its own workspace.
fn clean_cargo_env(cmd: &mut Command) {
    const EXACT: &[&str] = &[
        "CARGO",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_RUSTC",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_RUSTC_CURRENT_DIR",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_LINKER",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "NUM_JOBS",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_EXE_",
        "CARGO_PROFILE_",
        "DEP_",
        "__CARGO",
    ];
    for (key, _) in env::vars_os() {
        let Some(name) = key.to_str() else {
            continue;
        };
        if EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

/// Copies every `*.wasm` of the nested build's release directory into
/// `out_dir` (only when the bytes changed, so the host is not recompiled
/// for nothing); answers the file names.
fn copy_components(release: &Path, out_dir: &Path) -> Vec<String> {
    let entries =
        fs::read_dir(release).unwrap_or_else(|e| panic!("cannot read {}: {e}", release.display()));
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension() != Some(OsStr::new("wasm")) || !path.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(OsStr::to_str).map(str::to_owned) else {
            continue;
        };
        let bytes =
            fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        write_if_changed(&out_dir.join(&name), &bytes);
        names.push(name);
    }
    names.sort();
    names
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Writes `builtin_plugins.rs`: `BUILTIN_PLUGINS`, `(id, role, bytes)` for
/// each row of the table at the top of this file.
fn write_builtin_table(out_dir: &Path, copied: &[String]) {
    let mut src = String::from(
        "/// Production plugins embedded as defaults: (plugin id, role, component bytes).\n\
         /// Generated by host/build.rs from its `BUILTIN_PLUGINS` table.\n\
         pub const BUILTIN_PLUGINS: &[(&str, &str, &[u8])] = &[\n",
    );
    for &(id, role, file) in BUILTIN_PLUGINS {
        assert!(
            ROLES.contains(&role),
            "built-in plugin `{id}`: role `{role}` is not one of {ROLES:?}"
        );
        assert!(
            copied.iter().any(|name| name == file),
            "built-in plugin `{id}`: the plugins workspace produced no `{file}` \
             (is its crate a member of plugins/Cargo.toml with crate-type cdylib?); produced: {copied:?}"
        );
        let path = out_dir.join(file);
        let path = path
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()));
        src.push_str(&format!(
            "    ({id:?}, {role:?}, include_bytes!({path:?})),\n"
        ));
    }
    src.push_str("];\n");
    write_if_changed(&out_dir.join("builtin_plugins.rs"), src.as_bytes());
}
