//! What one plugin may declare, checked before anything is created: names,
//! counts, references to known collections, and keys and indexes on fields
//! that exist and are not secret. A refusal is one sentence naming the
//! plugin and what to change.

use super::{collections, CollectionDecl, FieldKind, SchemaError};

const MAX_COLLECTIONS: usize = 32;
const MAX_FIELDS: usize = 64;
const MAX_KEYS: usize = 8;
const MAX_KEY_FIELDS: usize = 4;
const HOST_COLUMNS: [&str; 4] = ["id", "org_id", "created_at", "updated_at"];

/// A collection or field name: `[a-z][a-z0-9_]{0,47}`.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 48
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks one plugin's declarations on their own.
pub(super) fn check(plugin: &str, decls: &[CollectionDecl]) -> Result<(), SchemaError> {
    let refuse = |why: String| Err(SchemaError::Refused(format!("plugin `{plugin}`: {why}")));
    if decls.len() > MAX_COLLECTIONS {
        return refuse(format!(
            "declares {} collections; at most {MAX_COLLECTIONS}",
            decls.len()
        ));
    }
    for (i, c) in decls.iter().enumerate() {
        if !valid_name(&c.name) {
            return refuse(format!(
                "collection name `{}` must be lower-case letters, digits and `_`, starting with a letter (at most 48)",
                c.name
            ));
        }
        if decls[..i].iter().any(|d| d.name == c.name) {
            return refuse(format!("declares collection `{}` twice", c.name));
        }
        if c.fields.is_empty() || c.fields.len() > MAX_FIELDS {
            return refuse(format!(
                "collection `{}` needs 1 to {MAX_FIELDS} fields",
                c.name
            ));
        }
        for (j, f) in c.fields.iter().enumerate() {
            let at = format!("{}.{}", c.name, f.name);
            if !valid_name(&f.name) || HOST_COLUMNS.contains(&f.name.as_str()) {
                return refuse(format!(
                    "field `{at}` needs a name of lower-case letters, digits and `_` other than id, org_id, created_at and updated_at"
                ));
            }
            if c.fields[..j].iter().any(|g| g.name == f.name) {
                return refuse(format!("declares field `{at}` twice"));
            }
            if f.unique && f.kind == FieldKind::Secret {
                return refuse(format!("secret field `{at}` cannot be unique"));
            }
            if let Some(target) = &f.references {
                if !decls.iter().any(|d| &d.name == target) && collections::find(target).is_none() {
                    return refuse(format!(
                        "field `{at}` refers to `{target}`, which is neither one of the plugin's collections nor one of the host's"
                    ));
                }
                if f.kind != FieldKind::Text {
                    return refuse(format!("reference field `{at}` must be text"));
                }
            }
        }
        if c.unique_keys.len() > MAX_KEYS || c.indexes.len() > MAX_KEYS {
            return refuse(format!(
                "collection `{}` has more than {MAX_KEYS} unique keys or indexes",
                c.name
            ));
        }
        for key in c.unique_keys.iter().chain(&c.indexes) {
            if key.is_empty() || key.len() > MAX_KEY_FIELDS {
                return refuse(format!(
                    "an index of `{}` needs 1 to {MAX_KEY_FIELDS} fields",
                    c.name
                ));
            }
            for name in key {
                match c.fields.iter().find(|f| &f.name == name) {
                    None => {
                        return refuse(format!(
                            "an index of `{}` names `{name}`, which is not one of its fields",
                            c.name
                        ))
                    }
                    Some(f) if f.kind == FieldKind::Secret => {
                        return refuse(format!(
                            "secret field `{}.{name}` cannot be indexed",
                            c.name
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}
