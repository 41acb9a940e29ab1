//! `spec.volumes` as `ValidateVolumes` checks them: each a DNS-1123 label,
//! unique, with exactly one source; hostPath paths present, without `..`
//! segments, of a known type; secret and configMap names present and file
//! modes within 0-0777; a persistentVolumeClaim's claim name present. A
//! volume with an error is left out of the names mounts may use, as the API
//! server does (so its mounts are also `Not found`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::field::{self, text};
use super::{names, Causes};

/// The volume sources Kubernetes knows (one per volume).
const SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// `validatePathNoBacksteps`: no `..` segment.
pub(crate) fn no_backsteps(causes: &mut Causes, path: &str, target: &str) {
    if target.split('/').any(|seg| seg == "..") {
        field::invalid(causes, path, &json!(target), "must not contain '..'");
    }
}

fn file_mode(causes: &mut Causes, path: String, source: &Value) {
    if let Some(m) = source.get("defaultMode").filter(|m| !m.is_null()) {
        let ok = m.as_i64().is_some_and(|m| (0..=0o777).contains(&m));
        if !ok {
            field::invalid(causes, path, m, FILE_MODE);
        }
    }
}

fn source(vol: &Value, path: &str, causes: &mut Causes) {
    let given: Vec<&str> = SOURCES
        .iter()
        .copied()
        .filter(|s| vol.get(*s).is_some_and(|v| !v.is_null()))
        .collect();
    match given.as_slice() {
        [] => {
            field::required(causes, path, "must specify a volume type");
            return;
        }
        [_] => {}
        [_, rest @ ..] => {
            for s in rest {
                field::forbidden(
                    causes,
                    format!("{path}.{s}"),
                    "may not specify more than 1 volume type",
                );
            }
        }
    }
    if let Some(h) = vol.get("hostPath").filter(|h| !h.is_null()) {
        let p = text(h, "path");
        let hpath = format!("{path}.hostPath");
        if p.is_empty() {
            field::required(causes, format!("{hpath}.path"), "");
        } else {
            no_backsteps(causes, &format!("{hpath}.path"), p);
            let ty = h.get("type").cloned().unwrap_or(json!(""));
            if !ty.as_str().is_some_and(|t| HOST_PATH_TYPES.contains(&t)) {
                field::not_supported(causes, format!("{hpath}.type"), &ty, HOST_PATH_TYPES);
            }
        }
    }
    if let Some(s) = vol.get("secret").filter(|s| !s.is_null()) {
        if text(s, "secretName").is_empty() {
            field::required(causes, format!("{path}.secret.secretName"), "");
        }
        file_mode(causes, format!("{path}.secret.defaultMode"), s);
    }
    if let Some(c) = vol.get("configMap").filter(|c| !c.is_null()) {
        if text(c, "name").is_empty() {
            field::required(causes, format!("{path}.configMap.name"), "");
        }
        file_mode(causes, format!("{path}.configMap.defaultMode"), c);
    }
    if let Some(c) = vol.get("persistentVolumeClaim").filter(|c| !c.is_null()) {
        if text(c, "claimName").is_empty() {
            field::required(
                causes,
                format!("{path}.persistentVolumeClaim.claimName"),
                "",
            );
        }
    }
}

/// Validates `spec.volumes` (at `path`); answers the names mounts may use.
pub(crate) fn validate(volumes: &[Value], path: &str, causes: &mut Causes) -> BTreeSet<String> {
    let mut valid = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let vpath = format!("{path}[{i}]");
        let mut el = Causes::new();
        source(vol, &vpath, &mut el);
        let name = text(vol, "name");
        let npath = format!("{vpath}.name");
        if name.is_empty() {
            field::required(&mut el, &npath, "");
        } else {
            names::each(&mut el, &npath, name, names::dns_label(name));
        }
        if seen.contains(name) {
            field::duplicate(&mut el, &npath, &json!(name));
        }
        if el.is_empty() {
            seen.insert(name.to_string());
            valid.insert(name.to_string());
        } else {
            causes.extend(el);
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value) -> Causes {
        let mut c = Causes::new();
        validate(v.as_array().unwrap(), "spec.volumes", &mut c);
        c
    }

    #[test]
    fn rules() {
        assert!(check(json!([
            {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "cfg", "configMap": {"name": "app", "defaultMode": 420}},
            {"name": "tmp", "emptyDir": {}}
        ]))
        .is_empty());
        assert_eq!(
            check(json!([{"name": "h", "hostPath": {"path": "/var/../etc"}}])),
            [(
                "spec.volumes[0].hostPath.path".to_string(),
                "Invalid value: \"/var/../etc\": must not contain '..'".to_string()
            )]
        );
        assert_eq!(
            check(json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}])),
            [(
                "spec.volumes[1].name".to_string(),
                "Duplicate value: \"a\"".to_string()
            )]
        );
        let bad = check(json!([{"name": "Bad_Name", "emptyDir": {}}]));
        assert_eq!(bad[0].0, "spec.volumes[0].name");
        assert!(bad[0]
            .1
            .starts_with("Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"));
        assert_eq!(
            check(json!([{"name": "x"}])),
            [(
                "spec.volumes[0]".to_string(),
                "Required value: must specify a volume type".to_string()
            )]
        );
        assert_eq!(
            check(json!([{"name": "x", "emptyDir": {}, "hostPath": {"path": "/x"}}]))[0].1,
            "Forbidden: may not specify more than 1 volume type"
        );
        assert_eq!(
            check(json!([{"name": "s", "secret": {"secretName": "s", "defaultMode": 1000}}]))[0].1,
            format!("Invalid value: 1000: {FILE_MODE}")
        );
        assert_eq!(
            check(json!([{"name": "h", "hostPath": {"path": "/x", "type": "Dir"}}]))[0].0,
            "spec.volumes[0].hostPath.type"
        );
    }
}
