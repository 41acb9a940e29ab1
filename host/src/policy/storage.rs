//! Storage by grant: the collections a plugin may read and write, and the
//! credential (secret) fields it may set, from its config:
//!
//! ```toml
//! [plugins.alaya]
//! read = ["clusters", "training_instances"]
//! write = ["training_ports"]          # write implies read
//! secrets = []                        # e.g. "clusters.kubeconfig"
//! ```
//!
//! Deny by default: a plugin granted `inventory` but no collections reads
//! and writes nothing.

use std::collections::BTreeSet;

use crate::store::collections::{self, FieldKind};

/// One plugin's storage grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    read: BTreeSet<String>,
    write: BTreeSet<String>,
    /// `collection.field`
    secrets: BTreeSet<String>,
}

/// A refusal: one sentence naming the plugin, collection and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl Storage {
    /// The grant from a config's lists; a name that is not a collection, or
    /// a secret that is not a secret field, is a configuration error.
    pub fn new(read: &[String], write: &[String], secrets: &[String]) -> Result<Storage, String> {
        for c in read.iter().chain(write) {
            if collections::find(c).is_none() {
                return Err(format!("`{c}` is not a collection"));
            }
        }
        for s in secrets {
            let field = s
                .split_once('.')
                .and_then(|(c, f)| collections::find(c)?.field(f));
            if !field.is_some_and(|f| f.kind == FieldKind::Secret) {
                return Err(format!(
                    "`{s}` is not a secret field (collection.field, e.g. clusters.kubeconfig)"
                ));
            }
            let collection = s.split_once('.').map_or("", |(c, _)| c);
            if !write.iter().any(|w| w == collection) {
                return Err(format!("`{s}` needs `{collection}` in `write`"));
            }
        }
        Ok(Storage {
            read: read.iter().chain(write).cloned().collect(),
            write: write.iter().cloned().collect(),
            secrets: secrets.iter().cloned().collect(),
        })
    }

    pub fn check_read(&self, plugin: &str, collection: &str) -> Result<(), Denied> {
        if self.read.contains(collection) {
            return Ok(());
        }
        Err(Denied(format!(
            "plugin `{plugin}` may not read collection `{collection}`: it is not in the plugin's storage grant (`read`/`write`)"
        )))
    }

    /// A write of `fields` (names) to `collection`.
    pub fn check_write<'a>(
        &self,
        plugin: &str,
        collection: &str,
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Denied> {
        if !self.write.contains(collection) {
            return Err(Denied(format!(
                "plugin `{plugin}` may not write collection `{collection}`: it is not in the plugin's `write` grant"
            )));
        }
        let Some(def) = collections::find(collection) else {
            return Ok(());
        };
        for name in fields {
            let secret = def.field(name).is_some_and(|f| f.kind == FieldKind::Secret);
            if secret && !self.secrets.contains(&format!("{collection}.{name}")) {
                return Err(Denied(format!(
                    "plugin `{plugin}` may not set credential field `{collection}.{name}`: it is not in the plugin's `secrets` grant"
                )));
            }
        }
        Ok(())
    }

    /// The collections this grant reads (writes included).
    pub fn readable(&self) -> impl Iterator<Item = &str> {
        self.read.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn deny_by_default() {
        let g = Storage::default();
        let e = g.check_read("p", "devices").unwrap_err();
        assert_eq!(e.0, "plugin `p` may not read collection `devices`: it is not in the plugin's storage grant (`read`/`write`)");
        assert!(g.check_write("p", "devices", ["ip"]).is_err());
    }

    #[test]
    fn read_write_and_secrets() {
        let g = Storage::new(
            &s(&["clusters"]),
            &s(&["devices"]),
            &s(&["devices.adminpwd"]),
        )
        .unwrap();
        assert!(g.check_read("p", "clusters").is_ok());
        assert!(g.check_read("p", "devices").is_ok());
        assert!(g.check_write("p", "clusters", ["name"]).is_err());
        assert!(g.check_write("p", "devices", ["ip", "adminpwd"]).is_ok());
        let ro = Storage::new(&[], &s(&["clusters"]), &[]).unwrap();
        let e = ro
            .check_write("p", "clusters", ["name", "kubeconfig"])
            .unwrap_err();
        assert_eq!(e.0, "plugin `p` may not set credential field `clusters.kubeconfig`: it is not in the plugin's `secrets` grant");
    }

    #[test]
    fn configuration_errors_name_the_entry() {
        assert!(Storage::new(&s(&["nope"]), &[], &[])
            .unwrap_err()
            .contains("`nope`"));
        assert!(Storage::new(&[], &s(&["clusters"]), &s(&["clusters.name"]))
            .unwrap_err()
            .contains("not a secret field"));
        assert!(Storage::new(&[], &[], &s(&["clusters.kubeconfig"]))
            .unwrap_err()
            .contains("needs `clusters` in `write`"));
    }
}
