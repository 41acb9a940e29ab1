//! Compiled components cached on disk, keyed by the wasm's SHA-256, the
//! wasmtime version and the engine's compatibility hash, so a restart (or a
//! swap back to a known version) does not recompile.

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The wasmtime release line this host is built on. The engine fingerprint
/// and wasmtime's own header check cover the exact version.
const WASMTIME: &str = "48";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn engine_fingerprint(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The component, its wasm's SHA-256, and whether it came from the cache.
pub fn compile(
    engine: &Engine,
    dir: &Path,
    wasm: &[u8],
) -> anyhow::Result<(Component, String, bool)> {
    let sha = sha256_hex(wasm);
    let file = dir.join(format!(
        "{sha}-wasmtime{WASMTIME}-{}.cwasm",
        engine_fingerprint(engine)
    ));
    // Compiled native code the host loads unchecked: written 0600 into a
    // 0700 directory, existing files restricted when they are used.
    if let Err(e) = crate::store::private_dir(dir) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot prepare the compiled-component cache");
    }
    if file.exists() {
        crate::store::private_file(&file);
        // SAFETY: the file was written by `Component::serialize` of this
        // wasmtime version and engine configuration (both in its name) into
        // the host's private data dir; wasmtime checks the header again.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok((c, sha, true)),
            Err(e) => {
                tracing::warn!(error = %e, file = %file.display(), "discarding unusable compiled component")
            }
        }
    }
    let component = Component::new(engine, wasm)?;
    match component.serialize() {
        Ok(bytes) => {
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            if crate::store::write_private_file(&tmp, &bytes)
                .and_then(|_| std::fs::rename(&tmp, &file))
                .is_err()
            {
                tracing::warn!(file = %file.display(), "cannot write the compiled-component cache");
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot serialize compiled component"),
    }
    Ok((component, sha, false))
}
