//! The collections plugins may use, with their typed fields. Each collection
//! is a table of the same name created by a migration, with the host-managed
//! columns `id`, `org_id`, `created_at`, `updated_at` beside its fields;
//! `tests::registry_matches_migrated_schema` keeps the two in step.

/// The kind of a field, as stored and as exchanged with plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Decimal,
    Boolean,
    Secret,
    Timestamp,
}

#[derive(Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Unique within an organisation (a `UNIQUE (org_id, name)` index).
    pub unique: bool,
    /// The collection whose row id this field holds.
    pub references: Option<&'static str>,
}

#[derive(Debug)]
pub struct Collection {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn field(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: false,
        unique: false,
        references: None,
    }
}

const fn required(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: true,
        unique: false,
        references: None,
    }
}

const fn unique(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        kind,
        required: true,
        unique: true,
        references: None,
    }
}

use FieldKind::*;

/// Every collection, in dependency order.
pub static COLLECTIONS: &[Collection] = &[Collection {
    name: "devices",
    fields: &[
        unique("name", Text),
        required("ip", Text),
        field("port", Integer),
        field("username", Text),
        field("password", Secret),
    ],
}];

pub fn find(name: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_matches_migrated_schema() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        for c in COLLECTIONS {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT name, type, \"notnull\" FROM pragma_table_info('{}')",
                    c.name
                ))
                .unwrap();
            let cols: Vec<(String, String, bool)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for base in ["id", "org_id", "created_at", "updated_at"] {
                assert!(cols.iter().any(|(n, _, _)| n == base), "{}.{base}", c.name);
            }
            for f in c.fields {
                let (_, ty, notnull) = cols
                    .iter()
                    .find(|(n, _, _)| n == f.name)
                    .unwrap_or_else(|| panic!("{}.{} missing from the schema", c.name, f.name));
                let want = match f.kind {
                    Integer | Boolean => "INTEGER",
                    Secret => "BLOB",
                    Text | Decimal | Timestamp => "TEXT",
                };
                assert_eq!(ty, want, "{}.{}", c.name, f.name);
                assert_eq!(*notnull, f.required, "{}.{} NOT NULL", c.name, f.name);
            }
            assert_eq!(
                cols.len(),
                c.fields.len() + 4,
                "{} has unregistered columns",
                c.name
            );
        }
    }
}
