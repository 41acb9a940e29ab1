//! The seal key from outside the data dir (`COMPUTEHUB_SEAL_KEY_FILE`, as a
//! mounted Kubernetes Secret shared by replicas): the store is sealed with
//! it and no key is written into the data dir; without it, or with another
//! key, every command refuses the store with one sentence and writes no key.

use std::process::Command;

use crate::common::BIN;

fn computehub(
    args: &[&str],
    data: &std::path::Path,
    key: Option<&std::path::Path>,
) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--data-dir").arg(data);
    cmd.env_remove("COMPUTEHUB_SEAL_KEY")
        .env_remove("COMPUTEHUB_SEAL_KEY_FILE");
    if let Some(k) = key {
        cmd.env("COMPUTEHUB_SEAL_KEY_FILE", k);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_seal_key_from_the_environment_is_the_only_key_that_opens_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("seal.key.b64");
    // `openssl rand -base64 32`: a text key, as a Secret would hold it.
    std::fs::write(&key, "qUvB8c1z0sX9k3m2Jf7hT4wR6yN5pL0aDgEiVbCxZ1Q=\n").unwrap();
    // AK/SK secrets are sealed: creating one uses the key.
    let (ok, out) = computehub(
        &["keys", "create", "--org", "acme", "--scheme", "aksk"],
        &data,
        Some(&key),
    );
    assert!(ok, "{out}");
    assert!(!data.join("seal.key").exists(), "no key in the data dir");
    let (ok, out) = computehub(&["keys", "list"], &data, Some(&key));
    assert!(ok, "{out}");
    assert!(out.contains("acme"), "{out}");

    // Without the key: refused, and no key is made.
    let (ok, out) = computehub(&["keys", "list"], &data, None);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "was sealed with a key that is not in it; name that key with COMPUTEHUB_SEAL_KEY_FILE"
        ),
        "{out}"
    );
    assert!(!data.join("seal.key").exists());

    // Another key: refused by the store's seal check.
    let other = dir.path().join("other.key");
    std::fs::write(&other, [5u8; 32]).unwrap();
    let (ok, out) = computehub(&["keys", "list"], &data, Some(&other));
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "does not open this store's sealed values: it is not the key they were sealed with"
        ),
        "{out}"
    );
    assert!(!out.contains("qUvB8c1z"), "the key never appears: {out}");
}
