//! The console's files, embedded in the binary (`include_bytes!` of
//! `console/`): no build step, nothing loaded from elsewhere. Each module is
//! served at `/console/assets/<name>.<hash>.<ext>` (the first 10 hex digits
//! of its SHA-256), `Cache-Control: immutable` for a year, gzip-compressed
//! when the client accepts it (compressed once, on first use); the page
//! names them through an import map (`preact`, `preact/hooks`, `htm`,
//! `@console/<module>`), so a module's own imports never name a hash. The
//! page itself (`/console/`) is revalidated on every load, with a
//! Content-Security-Policy that allows only these files (the import map by
//! its hash).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// (import specifier, file name, bytes) of every module, vendored and ours.
const MODULES: &[(&str, &str, &[u8])] = &[
    (
        "preact",
        "preact.mjs",
        include_bytes!("../../../console/vendor/preact.mjs"),
    ),
    (
        "preact/hooks",
        "preact-hooks.mjs",
        include_bytes!("../../../console/vendor/preact-hooks.mjs"),
    ),
    (
        "htm",
        "htm.mjs",
        include_bytes!("../../../console/vendor/htm.mjs"),
    ),
    (
        "@console/app",
        "app.js",
        include_bytes!("../../../console/app/app.js"),
    ),
    (
        "@console/api",
        "api.js",
        include_bytes!("../../../console/app/api.js"),
    ),
    (
        "@console/i18n",
        "i18n.js",
        include_bytes!("../../../console/app/i18n.js"),
    ),
    (
        "@console/ui",
        "ui.js",
        include_bytes!("../../../console/app/ui.js"),
    ),
    (
        "@console/centers",
        "centers.js",
        include_bytes!("../../../console/app/centers.js"),
    ),
    (
        "@console/devices",
        "devices.js",
        include_bytes!("../../../console/app/devices.js"),
    ),
    (
        "@console/pricing",
        "pricing.js",
        include_bytes!("../../../console/app/pricing.js"),
    ),
    (
        "@console/plugins",
        "plugins.js",
        include_bytes!("../../../console/app/plugins.js"),
    ),
    (
        "@console/clusters",
        "clusters.js",
        include_bytes!("../../../console/app/clusters.js"),
    ),
    (
        "@console/keys",
        "keys.js",
        include_bytes!("../../../console/app/keys.js"),
    ),
    (
        "@console/labels",
        "labels.js",
        include_bytes!("../../../console/app/labels.js"),
    ),
    (
        "@console/configs",
        "configs.js",
        include_bytes!("../../../console/app/configs.js"),
    ),
    (
        "@console/buycheck",
        "buycheck.js",
        include_bytes!("../../../console/app/buycheck.js"),
    ),
    (
        "@console/operations",
        "operations.js",
        include_bytes!("../../../console/app/operations.js"),
    ),
    (
        "@console/hostkeys",
        "hostkeys.js",
        include_bytes!("../../../console/app/hostkeys.js"),
    ),
    (
        "@console/storage",
        "storage.js",
        include_bytes!("../../../console/app/storage.js"),
    ),
];

const STYLE: &[u8] = include_bytes!("../../../console/app/style.css");
const INDEX: &str = include_str!("../../../console/index.html");

/// One servable file.
pub struct Asset {
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    gzip: OnceLock<Vec<u8>>,
}

impl Asset {
    fn new(content_type: &'static str, bytes: &'static [u8]) -> Asset {
        Asset {
            content_type,
            bytes,
            gzip: OnceLock::new(),
        }
    }

    /// The gzip-compressed bytes (compressed on first use).
    pub fn gzip(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // Writing to a Vec cannot fail.
            let _ = enc.write_all(self.bytes);
            enc.finish().unwrap_or_default()
        })
    }
}

/// The hashed files and the page that names them.
pub struct Assets {
    /// By the file name served under `/console/assets/`.
    pub files: BTreeMap<String, Asset>,
    /// `/console/` (and every console path that is not a file).
    pub index: Asset,
    /// The page's Content-Security-Policy.
    pub csp: String,
}

fn hashed(name: &str, bytes: &[u8]) -> String {
    let hash = hex::encode(&Sha256::digest(bytes)[..5]);
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    }
}

fn build() -> Assets {
    let mut files = BTreeMap::new();
    let mut imports = serde_json::Map::new();
    for (specifier, name, bytes) in MODULES {
        let served = hashed(name, bytes);
        imports.insert(
            (*specifier).to_string(),
            serde_json::Value::String(format!("/console/assets/{served}")),
        );
        files.insert(served, Asset::new(content_type(name), bytes));
    }
    let style = hashed("style.css", STYLE);
    files.insert(style.clone(), Asset::new(content_type("style.css"), STYLE));
    let import_map = serde_json::json!({ "imports": imports }).to_string();
    let map_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(import_map.as_bytes()));
    let app = imports
        .get("@console/app")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let preload: String = MODULES
        .iter()
        .filter_map(|(specifier, _, _)| imports.get(*specifier)?.as_str())
        .map(|url| format!("<link rel=\"modulepreload\" href=\"{url}\">\n"))
        .collect();
    let page = INDEX
        .replace("{{importmap}}", &import_map)
        .replace("{{preload}}", preload.trim_end())
        .replace("{{style}}", &format!("/console/assets/{style}"))
        .replace("{{app}}", &app);
    let csp = format!(
        "default-src 'none'; script-src 'self' 'sha256-{map_hash}'; style-src 'self'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    Assets {
        files,
        index: Asset::new(
            "text/html; charset=utf-8",
            Box::leak(page.into_bytes().into_boxed_slice()),
        ),
        csp,
    }
}

/// The console's assets (hashed and the page rendered once per process).
pub fn get() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_module_by_hash_and_they_gunzip() {
        let a = get();
        let page = std::str::from_utf8(a.index.bytes).unwrap();
        assert!(!page.contains("{{"), "{page}");
        for (name, asset) in &a.files {
            if !name.starts_with("style.") {
                assert!(page.contains(&format!("/console/assets/{name}")), "{name}");
            }
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(asset.gzip()), &mut out)
                .unwrap();
            assert_eq!(out, asset.bytes);
        }
    }

    /// The vendored modules are the files the lock names (the CI check
    /// compares the lock with the npm registry).
    #[test]
    fn vendored_modules_match_the_lock() {
        let lock: serde_json::Value =
            serde_json::from_str(include_str!("../../../console/vendor/vendor.lock.json")).unwrap();
        let mut checked = 0;
        for pkg in lock["packages"].as_array().unwrap() {
            for (file, entry) in pkg["files"].as_object().unwrap() {
                let (_, _, bytes) = MODULES.iter().find(|(_, n, _)| n == file).unwrap();
                assert_eq!(
                    hex::encode(Sha256::digest(bytes)),
                    entry["sha256"].as_str().unwrap(),
                    "{file}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 3);
    }
}
