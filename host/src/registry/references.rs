//! A declared reference is a read: writing a row whose field refers to
//! another collection tells the writer whether that row exists in its
//! organisation, and the row it refers to can then no longer be deleted
//! while it is referenced. So a plugin may declare a reference to a
//! collection other than its own only when its storage grant lets it read
//! that collection. A version declaring one is refused at its load
//! (upload, boot, dry run), and a grant through the admin API that would
//! take that read away from what the plugin's stored collections refer to
//! is refused too, each with one sentence naming the field, the collection
//! and the grant to add.

use crate::config::PluginConfig;
use crate::policy::Storage;
use crate::store::collections::{self, Collection};
use crate::store::schema::qualified;
use crate::store::{CollectionDecl, Store};

/// A field of a plugin's collection that refers to a collection not its
/// own: `collection.field` (short names) and the collection it refers to.
pub(crate) struct Reference {
    field: String,
    target: String,
}

/// The references `decls` (a version's declarations) make outside them.
pub(crate) fn declared(decls: &[CollectionDecl]) -> Vec<Reference> {
    let mut out = Vec::new();
    for c in decls {
        for f in &c.fields {
            match &f.references {
                Some(t) if !decls.iter().any(|d| &d.name == t) => out.push(Reference {
                    field: format!("{}.{}", c.name, f.name),
                    target: t.clone(),
                }),
                _ => {}
            }
        }
    }
    out
}

/// The references `plugin`'s stored collections (`schema`: the store's,
/// every version it loaded merged) make outside them.
pub(crate) fn stored(plugin: &str, schema: &[std::sync::Arc<Collection>]) -> Vec<Reference> {
    let own = qualified(plugin, "");
    let mut out = Vec::new();
    for c in schema.iter().filter(|c| c.owner.as_deref() == Some(plugin)) {
        let short = c.name.strip_prefix(own.as_str()).unwrap_or(&c.name);
        for f in c.fields.iter() {
            match &f.references {
                Some(t) if !t.starts_with(own.as_str()) => out.push(Reference {
                    field: format!("{short}.{}", f.name),
                    target: t.to_string(),
                }),
                _ => {}
            }
        }
    }
    out
}

/// Refuses the first of `refs` that `grant` does not let `plugin` read. A
/// target that is no collection of the host's is left to the schema's
/// check, which refuses it in its own words.
pub(crate) fn check(plugin: &str, grant: &Storage, refs: &[Reference]) -> Result<(), String> {
    for r in refs {
        let current = collections::current_name(&r.target);
        if collections::find(&current).is_none() {
            continue;
        }
        if grant.check_read(plugin, &current).is_err() {
            return Err(format!(
                "plugin `{plugin}`: field `{}` refers to collection `{}`, which its storage grant does not let it read (add `{}` to the plugin's `read`)",
                r.field, r.target, r.target
            ));
        }
    }
    Ok(())
}

/// Would `grant` (given through the admin API or `plugin grant`) leave
/// `plugin` able to read what its stored collections refer to?
pub(crate) fn check_grant(plugin: &str, grant: &PluginConfig, store: &Store) -> Result<(), String> {
    let storage = grant
        .storage()
        .map_err(|e| format!("plugin `{plugin}`: storage grant: {e}"))?;
    check(plugin, &storage, &stored(plugin, &store.schema_all()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::collections::FieldKind;
    use crate::store::FieldDecl;

    fn decl(name: &str, refers_to: &str) -> CollectionDecl {
        CollectionDecl {
            name: name.into(),
            fields: vec![FieldDecl {
                name: "parent".into(),
                kind: FieldKind::Text,
                required: true,
                unique: false,
                references: Some(refers_to.into()),
            }],
            unique_keys: vec![],
            indexes: vec![],
        }
    }

    fn grant(read: &[&str]) -> Storage {
        let read: Vec<String> = read.iter().map(|s| s.to_string()).collect();
        Storage::new(&read, &[], &[]).unwrap()
    }

    #[test]
    fn a_reference_outside_the_plugin_needs_a_read_grant() {
        let decls = [decl("jobs", "clusters")];
        let refused = check("p", &grant(&[]), &declared(&decls)).unwrap_err();
        assert!(refused.contains("`jobs.parent`"), "{refused}");
        assert!(
            refused.contains("add `clusters` to the plugin's `read`"),
            "{refused}"
        );
        assert!(check("p", &grant(&["devices"]), &declared(&decls)).is_err());
        assert!(check("p", &grant(&["clusters"]), &declared(&decls)).is_ok());
    }

    #[test]
    fn an_unknown_target_is_left_to_the_schemas_check() {
        let decls = [decl("jobs", "nothing_here")];
        assert!(check("p", &grant(&[]), &declared(&decls)).is_ok());
    }

    #[test]
    fn a_reference_to_the_plugins_own_collection_needs_none() {
        let decls = [decl("jobs", "queues"), decl("queues", "jobs")];
        assert!(check("p", &grant(&[]), &declared(&decls)).is_ok());
    }
}
