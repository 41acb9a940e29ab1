//! The collections plugins may use, with their typed fields. Each collection
//! is a table of the same name with the host-managed columns `id`, `org_id`,
//! `created_at`, `updated_at` beside its fields. The host's own collections
//! ([`COLLECTIONS`]) are created by migrations
//! (`tests::registry_matches_migrated_schema` keeps the two in step); the
//! collections plugins declare are created and migrated by [`super::schema`].

use std::borrow::Cow;

/// The kind of a field, as stored and as exchanged with plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Integer,
    Decimal,
    Boolean,
    Secret,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: Cow<'static, str>,
    pub kind: FieldKind,
    pub required: bool,
    /// Unique within an organisation (a `UNIQUE (org_id, name)` index).
    pub unique: bool,
    /// The collection whose row id this field holds.
    pub references: Option<Cow<'static, str>>,
    /// The host keeps a row count per value of this field (triggers on the
    /// table maintain `record_counts`), so a page filtered on it alone
    /// answers its `total` without counting rows.
    pub counted: bool,
    /// The most bytes a text value of this field may hold: set when the
    /// field is in an index (see [`INDEXED_TEXT_BUDGET`]), `None` otherwise.
    pub max_bytes: Option<u32>,
}

/// The bytes of text one index entry may hold, shared by the text fields of
/// the index (a reference holds a row id and does not count): 2,048 for a
/// field alone, 1,024 each for two, 682 for three, 512 for four. PostgreSQL
/// refuses an index entry above about 2.7 KB (a B-tree page's third), and
/// the store refuses longer text the same way on both backends, as bad input
/// naming the field, before anything is written.
pub const INDEXED_TEXT_BUDGET: u32 = 2048;

#[derive(Debug, Clone)]
pub struct Collection {
    /// The table's name: the host's own collections by their name, a
    /// plugin's as `<plugin id>.<name>`.
    pub name: Cow<'static, str>,
    pub fields: Cow<'static, [FieldDef]>,
    /// The plugin that declared it; `None` for the host's own.
    pub owner: Option<String>,
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn def(
    name: &'static str,
    kind: FieldKind,
    required: bool,
    unique: bool,
    references: Option<&'static str>,
    counted: bool,
    max_bytes: Option<u32>,
) -> FieldDef {
    FieldDef {
        name: Cow::Borrowed(name),
        kind,
        required,
        unique,
        references: match references {
            Some(t) => Some(Cow::Borrowed(t)),
            None => None,
        },
        counted,
        max_bytes,
    }
}

const fn field(name: &'static str, kind: FieldKind) -> FieldDef {
    def(name, kind, false, false, None, false, None)
}

const fn required(name: &'static str, kind: FieldKind) -> FieldDef {
    def(name, kind, true, false, None, false, None)
}

/// Unique in the organisation, and the only text field of its indexes.
const fn unique(name: &'static str, kind: FieldKind) -> FieldDef {
    def(
        name,
        kind,
        true,
        true,
        None,
        false,
        Some(INDEXED_TEXT_BUDGET),
    )
}

/// Required text that is the only text field of its indexes (a migration's
/// `CREATE INDEX`).
const fn indexed(name: &'static str) -> FieldDef {
    def(
        name,
        FieldKind::Text,
        true,
        false,
        None,
        false,
        Some(INDEXED_TEXT_BUDGET),
    )
}

/// A required reference to a row of `target`.
const fn parent(name: &'static str, target: &'static str) -> FieldDef {
    def(
        name,
        FieldKind::Text,
        true,
        false,
        Some(target),
        false,
        None,
    )
}

/// A required reference to a row of `target`, with its row count per value
/// kept (see [`FieldDef::counted`]).
const fn counted_parent(name: &'static str, target: &'static str) -> FieldDef {
    def(name, FieldKind::Text, true, false, Some(target), true, None)
}

/// An optional reference to a row of `target`.
const fn link(name: &'static str, target: &'static str) -> FieldDef {
    def(
        name,
        FieldKind::Text,
        false,
        false,
        Some(target),
        false,
        None,
    )
}

use FieldKind::*;

/// Every collection. The kboss names are the platform's: compute centers,
/// clusters, devices (machines, whose `adminpwd` the `ssh` capability uses),
/// labels, priced components (`widgets`) and their per-cluster stock.
/// Composite uniqueness (a widget's type and model within a center, one
/// stock row per widget and cluster) is enforced by indexes of migration 2.
pub static COLLECTIONS: &[Collection] = &[
    Collection {
        name: Cow::Borrowed("compute_centers"),
        fields: Cow::Borrowed(&[
            unique("name", Text),
            required("pcapi_url", Text),
            required("api_user", Text),
            required("api_pwd", Secret),
            required("contactname", Text),
            required("contactphone", Text),
            field("enable_date", Text),
            field("expire_date", Text),
        ]),
        owner: None,
    },
    Collection {
        name: Cow::Borrowed("clusters"),
        fields: Cow::Borrowed(&[
            parent("cpcid", "compute_centers"),
            required("name", Text),
            required("clustertype", Text),
            link("controllerid", "devices"),
            field("enable_date", Text),
            field("export_date", Text),
            field("clusterjoin", Secret),
            field("kubeconfig", Secret),
            required("ready", Integer),
        ]),
        owner: None,
    },
    Collection {
        name: Cow::Borrowed("devices"),
        fields: Cow::Borrowed(&[
            counted_parent("cpcid", "compute_centers"),
            link("clusterid", "clusters"),
            unique("name", Text),
            indexed("ip"),
            required("devicetype", Text),
            required("sshport", Integer),
            required("adminuser", Text),
            required("adminpwd", Secret),
            indexed("node_status"),
            field("external_ip", Text),
            field("cpu_model", Text),
            field("cpu_stock", Integer),
            field("memory_model", Text),
            field("memory_stock", Integer),
            field("sysdisk_stock", Integer),
            field("datadisk_stock", Integer),
            field("gpu_model", Text),
            field("gpu_stock", Integer),
            field("role", Text),
            field("enable_date", Text),
            field("export_date", Text),
        ]),
        owner: None,
    },
];

/// A collection the host once kept for an API area and that now belongs to
/// the plugin serving the area (`owner`), as `<owner>.<name>`. Migrations 2
/// to 5 created them under their bare names; [`super::schema`] hands each to
/// its owner when a store opens (the table renamed, rows and sealed values
/// kept), and the bare names stay aliases of the new ones, so configs and
/// data written before keep working. This list is history, not a registry:
/// nothing new goes here.
pub struct Moved {
    pub owner: &'static str,
    pub collection: Collection,
    /// Its multi-field unique keys (the table's `UNIQUE` constraints), for
    /// a database that gets the collection declared rather than renamed.
    pub unique_keys: &'static [&'static [&'static str]],
}

pub static MOVED: &[Moved] = &[
    Moved {
        owner: "kboss",
        collection: Collection {
            name: Cow::Borrowed("labels"),
            fields: Cow::Borrowed(&[
                required("name", Text),
                required("labeltype", Text),
                required("label_key", Text),
                required("symbol", Text),
                required("label_value", Text),
            ]),
            owner: None,
        },
        unique_keys: &[],
    },
    Moved {
        owner: "kboss",
        collection: Collection {
            name: Cow::Borrowed("widgets"),
            fields: Cow::Borrowed(&[
                parent("cpcid", "compute_centers"),
                required("type", Text),
                required("model", Text),
                required("unit_price", Decimal),
                required("resource_unit", Text),
                required("charge_unit", Text),
                required("account_unit", Text),
                required("stock", Integer),
                required("consumed", Integer),
            ]),
            owner: None,
        },
        unique_keys: &[&["cpcid", "type", "model"]],
    },
    Moved {
        owner: "kboss",
        collection: Collection {
            name: Cow::Borrowed("widget_stock"),
            fields: Cow::Borrowed(&[
                parent("widgetid", "widgets"),
                parent("cpcid", "compute_centers"),
                parent("clusterid", "clusters"),
                required("stock", Integer),
                required("consumed", Integer),
            ]),
            owner: None,
        },
        unique_keys: &[&["widgetid", "clusterid"]],
    },
    // Alaya: a training task (`task_id` is its public id) runs in a
    // namespace of a cluster; its pods carry the label
    // `computehub.io/training-instance=<task_id>`. `gateway`, when set, is
    // the external host of its opened ports instead of the node's address.
    Moved {
        owner: "alaya",
        collection: Collection {
            name: Cow::Borrowed("training_instances"),
            fields: Cow::Borrowed(&[
                unique("task_id", Text),
                required("name", Text),
                parent("clusterid", "clusters"),
                required("namespace", Text),
                field("created_by", Text),
                field("gateway", Text),
            ]),
            owner: None,
        },
        unique_keys: &[],
    },
    // A port opened on a training pod: `source` is `system` (opened by the
    // platform) or `custom` (by the user); a NodePort service exposes it.
    // One row per instance, pod and port (an index of migration 3).
    Moved {
        owner: "alaya",
        collection: Collection {
            name: Cow::Borrowed("training_ports"),
            fields: Cow::Borrowed(&[
                parent("instance_id", "training_instances"),
                required("pod_name", Text),
                required("source", Text),
                field("protocol", Text),
                required("port", Integer),
                required("service_name", Text),
            ]),
            owner: None,
        },
        unique_keys: &[&["instance_id", "pod_name", "port"]],
    },
    // IEF: a project id mapped to a cluster and the namespace its
    // deployments run in. Edge nodes and node groups are the cluster's
    // nodes labelled `ief.computehub.io/node-id` and `.../group-id`.
    Moved {
        owner: "ief",
        collection: Collection {
            name: Cow::Borrowed("ief_projects"),
            fields: Cow::Borrowed(&[
                unique("project_id", Text),
                parent("clusterid", "clusters"),
                required("namespace", Text),
            ]),
            owner: None,
        },
        unique_keys: &[],
    },
    // An IEF deployment: its id, name (unique per project, an index of
    // migration 3) and the created body (JSON), realised as a Kubernetes
    // Deployment in the project's namespace.
    Moved {
        owner: "ief",
        collection: Collection {
            name: Cow::Borrowed("ief_deployments"),
            fields: Cow::Borrowed(&[
                parent("project", "ief_projects"),
                unique("deployment_id", Text),
                required("name", Text),
                required("body", Text),
            ]),
            owner: None,
        },
        unique_keys: &[&["project", "name"]],
    },
    // kboss resource-instance configs (`cpcpodyaml`): the documented
    // `source_*` parameters as JSON (`params`), the initial password sealed.
    Moved {
        owner: "kboss",
        collection: Collection {
            name: Cow::Borrowed("pod_configs"),
            fields: Cow::Borrowed(&[
                parent("cpcid", "compute_centers"),
                parent("clusterid", "clusters"),
                required("source_name", Text),
                required("params", Text),
                field("source_authpasswd", Secret),
                field("username", Text),
            ]),
            owner: None,
        },
        unique_keys: &[],
    },
];

/// Fields of the host's collections that say where a credential of the
/// same row is sent (collection, field, the secret field): a device's
/// address and port decide which machine receives its `adminpwd`, so
/// changing them counts as setting that credential.
const CREDENTIAL_ADDRESSES: &[(&str, &str, &str)] = &[
    ("devices", "ip", "adminpwd"),
    ("devices", "sshport", "adminpwd"),
];

/// The secret field whose destination `field` of `collection` decides.
pub fn credential_addressed_by(collection: &str, field: &str) -> Option<&'static str> {
    CREDENTIAL_ADDRESSES
        .iter()
        .find(|(c, f, _)| *c == collection && *f == field)
        .map(|(_, _, secret)| *secret)
}

/// One of the host's own collections.
pub fn find(name: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.name == name)
}

/// The name a collection goes by now: a moved collection's bare name is its
/// owner's (`labels` -> `kboss.labels`), any other name itself. The one
/// place the old names are mapped, for the store and the storage grants.
pub fn current_name(name: &str) -> Cow<'_, str> {
    match moved(name) {
        Some(m) => Cow::Owned(format!("{}.{name}", m.owner)),
        None => Cow::Borrowed(name),
    }
}

/// The collection the bare name `name` of a moved collection now is
/// (`labels` -> `kboss.labels`).
pub fn moved(name: &str) -> Option<&'static Moved> {
    MOVED.iter().find(|m| m.collection.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_devices_address_decides_where_its_password_goes() {
        assert_eq!(credential_addressed_by("devices", "ip"), Some("adminpwd"));
        assert_eq!(
            credential_addressed_by("devices", "sshport"),
            Some("adminpwd")
        );
        assert_eq!(credential_addressed_by("devices", "name"), None);
        assert_eq!(credential_addressed_by("clusters", "ip"), None);
        // Each names a field of its collection and a secret of the same row.
        for (c, f, secret) in CREDENTIAL_ADDRESSES {
            let def = find(c).unwrap();
            assert!(def.fields.iter().any(|x| x.name == *f), "{c}.{f}");
            assert!(
                def.fields
                    .iter()
                    .any(|x| x.name == *secret && x.kind == FieldKind::Secret),
                "{c}.{secret}"
            );
        }
    }

    #[test]
    fn registry_matches_migrated_schema() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let moved = MOVED.iter().map(|m| &m.collection);
        for c in COLLECTIONS.iter().chain(moved) {
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
            for f in c.fields.iter() {
                let (_, ty, notnull) = cols
                    .iter()
                    .find(|(n, _, _)| *n == f.name)
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
            // Text in an index is bounded (see INDEXED_TEXT_BUDGET), and
            // only there; the moved collections get theirs declared.
            if COLLECTIONS.iter().any(|h| h.name == c.name) {
                let indexed: Vec<String> = conn
                    .prepare(&format!(
                        "SELECT DISTINCT ii.name FROM pragma_index_list('{0}') il, \
                         pragma_index_info(il.name) ii",
                        c.name
                    ))
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for f in c.fields.iter() {
                    let text = matches!(f.kind, Text | Timestamp) && f.references.is_none();
                    let want = (text && indexed.contains(&f.name.to_string()))
                        .then_some(INDEXED_TEXT_BUDGET);
                    assert_eq!(f.max_bytes, want, "{}.{} max_bytes", c.name, f.name);
                }
            }
            for f in c.fields.iter().filter(|f| f.counted) {
                for op in ["insert", "delete", "update"] {
                    let name = format!("{}_{}_count_{op}", c.name, f.name);
                    let found: i64 = conn
                        .query_row(
                            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                            [&name],
                            |r| r.get(0),
                        )
                        .unwrap();
                    assert_eq!(
                        found, 1,
                        "trigger {name} keeps {}.{} counted",
                        c.name, f.name
                    );
                }
            }
        }
    }
}
