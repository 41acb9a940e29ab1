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
//! and writes nothing. A collection another plugin declared is named
//! `<plugin id>.<name>` (`read = ["notes.notes"]`,
//! `secrets = ["notes.notes.token"]`); its owner needs no grant for it. Such
//! names are checked for their form here and resolved when used, since the
//! plugin that declares them may load later.

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

/// `<plugin id>.<name>`: a collection a plugin declares.
fn declared_name(c: &str) -> bool {
    let Some((plugin, name)) = c.split_once('.') else {
        return false;
    };
    let word = |s: &str, extra: char| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == extra || ch == '_'
            })
    };
    word(plugin, '-') && word(name, '_')
}

impl Storage {
    /// The grant from a config's lists; a name that is neither a host
    /// collection nor of the form `<plugin>.<name>`, or a secret that is not
    /// a secret field, is a configuration error.
    pub fn new(read: &[String], write: &[String], secrets: &[String]) -> Result<Storage, String> {
        // A collection its area's plugin owns now is granted under its
        // bare name as before (`labels` is `kboss.labels`).
        let current = |c: &str| collections::current_name(c).into_owned();
        let read: Vec<String> = read.iter().map(|c| current(c)).collect();
        let write: Vec<String> = write.iter().map(|c| current(c)).collect();
        let secrets: Vec<String> = secrets
            .iter()
            .map(|s| match s.split_once('.') {
                Some((c, f)) if collections::moved(c).is_some() => {
                    format!("{}.{f}", current(c))
                }
                _ => s.clone(),
            })
            .collect();
        let (read, write, secrets) = (&read[..], &write[..], &secrets[..]);
        for c in read.iter().chain(write) {
            if collections::find(c).is_none() && !declared_name(c) {
                return Err(format!(
                    "`{c}` is not a collection (a host collection, or `<plugin>.<name>` for one a plugin declares)"
                ));
            }
        }
        for s in secrets {
            let (collection, field) = s.rsplit_once('.').unwrap_or(("", ""));
            let ok = if declared_name(collection) {
                !field.is_empty()
            } else {
                collections::find(collection)
                    .and_then(|c| c.field(field))
                    .is_some_and(|f| f.kind == FieldKind::Secret)
            };
            if !ok {
                return Err(format!(
                    "`{s}` is not a secret field (collection.field, e.g. clusters.kubeconfig)"
                ));
            }
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

    /// A write of `fields` to `collection`, each named with the credential
    /// it sets: itself for a secret field, the secret whose destination it
    /// decides for an address field (a device's `ip` decides where its
    /// `adminpwd` goes), none otherwise.
    pub fn check_write<'a>(
        &self,
        plugin: &str,
        collection: &str,
        fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<(), Denied> {
        if !self.write.contains(collection) {
            return Err(Denied(format!(
                "plugin `{plugin}` may not write collection `{collection}`: it is not in the plugin's `write` grant"
            )));
        }
        for (name, credential) in fields {
            let Some(secret) = credential else { continue };
            if self.secrets.contains(&format!("{collection}.{secret}")) {
                continue;
            }
            return Err(Denied(if secret == name {
                format!(
                    "plugin `{plugin}` may not set credential field `{collection}.{name}`: it is not in the plugin's `secrets` grant"
                )
            } else {
                format!(
                    "plugin `{plugin}` may not set `{collection}.{name}`: it decides where credential `{collection}.{secret}` is sent, which is not in the plugin's `secrets` grant"
                )
            }));
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
        assert!(g.check_write("p", "devices", [("ip", None)]).is_err());
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
        assert!(g.check_write("p", "clusters", [("name", None)]).is_err());
        assert!(g
            .check_write(
                "p",
                "devices",
                [("ip", None), ("adminpwd", Some("adminpwd"))]
            )
            .is_ok());
        let ro = Storage::new(&[], &s(&["clusters"]), &[]).unwrap();
        let e = ro
            .check_write(
                "p",
                "clusters",
                [("name", None), ("kubeconfig", Some("kubeconfig"))],
            )
            .unwrap_err();
        assert_eq!(e.0, "plugin `p` may not set credential field `clusters.kubeconfig`: it is not in the plugin's `secrets` grant");
        // A field that decides where a credential goes counts as setting it.
        let addresses = [("ip", Some("adminpwd"))];
        assert!(g.check_write("p", "devices", addresses).is_ok());
        let no_secrets = Storage::new(&[], &s(&["devices"]), &[]).unwrap();
        let e = no_secrets
            .check_write("p", "devices", addresses)
            .unwrap_err();
        assert_eq!(e.0, "plugin `p` may not set `devices.ip`: it decides where credential `devices.adminpwd` is sent, which is not in the plugin's `secrets` grant");
        assert!(no_secrets
            .check_write("p", "devices", [("name", None)])
            .is_ok());
    }

    #[test]
    fn collections_plugins_declare_are_named_with_their_plugin() {
        let g = Storage::new(
            &s(&["notes.notes"]),
            &s(&["other-plugin.items"]),
            &s(&["other-plugin.items.token"]),
        )
        .unwrap();
        assert!(g.check_read("p", "notes.notes").is_ok());
        assert!(g.check_write("p", "notes.notes", []).is_err());
        assert!(g
            .check_write("p", "other-plugin.items", [("token", Some("token"))])
            .is_ok());
        assert!(Storage::new(&s(&["Notes.x"]), &[], &[]).is_err());
        assert!(Storage::new(&s(&["notes."]), &[], &[]).is_err());
        // The bare names of collections the areas' plugins own now.
        let old = Storage::new(
            &s(&["labels"]),
            &s(&["pod_configs"]),
            &s(&["pod_configs.source_authpasswd"]),
        )
        .unwrap();
        assert!(old.check_read("p", "kboss.labels").is_ok());
        assert!(old
            .check_write(
                "p",
                "kboss.pod_configs",
                [("source_authpasswd", Some("source_authpasswd"))]
            )
            .is_ok());
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
