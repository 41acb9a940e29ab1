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
    /// The host keeps a row count per value of this field (triggers on the
    /// table maintain `record_counts`), so a page filtered on it alone
    /// answers its `total` without counting rows.
    pub counted: bool,
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
        counted: false,
    }
}

const fn required(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        required: true,
        ..field(name, kind)
    }
}

const fn unique(name: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        unique: true,
        ..required(name, kind)
    }
}

/// A required reference to a row of `target`.
const fn parent(name: &'static str, target: &'static str) -> FieldDef {
    FieldDef {
        references: Some(target),
        ..required(name, Text)
    }
}

/// An optional reference to a row of `target`.
const fn link(name: &'static str, target: &'static str) -> FieldDef {
    FieldDef {
        references: Some(target),
        ..field(name, Text)
    }
}

use FieldKind::*;

/// Every collection. The kboss names are the platform's: compute centers,
/// clusters, devices (machines, whose `adminpwd` the `ssh` capability uses),
/// labels, priced components (`widgets`) and their per-cluster stock.
/// Composite uniqueness (a widget's type and model within a center, one
/// stock row per widget and cluster) is enforced by indexes of migration 2.
pub static COLLECTIONS: &[Collection] = &[
    Collection {
        name: "compute_centers",
        fields: &[
            unique("name", Text),
            required("pcapi_url", Text),
            required("api_user", Text),
            required("api_pwd", Secret),
            required("contactname", Text),
            required("contactphone", Text),
            field("enable_date", Text),
            field("expire_date", Text),
        ],
    },
    Collection {
        name: "clusters",
        fields: &[
            parent("cpcid", "compute_centers"),
            required("name", Text),
            required("clustertype", Text),
            link("controllerid", "devices"),
            field("enable_date", Text),
            field("export_date", Text),
            field("clusterjoin", Secret),
            field("kubeconfig", Secret),
            required("ready", Integer),
        ],
    },
    Collection {
        name: "devices",
        fields: &[
            FieldDef {
                counted: true,
                ..parent("cpcid", "compute_centers")
            },
            link("clusterid", "clusters"),
            unique("name", Text),
            required("ip", Text),
            required("devicetype", Text),
            required("sshport", Integer),
            required("adminuser", Text),
            required("adminpwd", Secret),
            required("node_status", Text),
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
        ],
    },
    Collection {
        name: "labels",
        fields: &[
            required("name", Text),
            required("labeltype", Text),
            required("label_key", Text),
            required("symbol", Text),
            required("label_value", Text),
        ],
    },
    Collection {
        name: "widgets",
        fields: &[
            parent("cpcid", "compute_centers"),
            required("type", Text),
            required("model", Text),
            required("unit_price", Decimal),
            required("resource_unit", Text),
            required("charge_unit", Text),
            required("account_unit", Text),
            required("stock", Integer),
            required("consumed", Integer),
        ],
    },
    Collection {
        name: "widget_stock",
        fields: &[
            parent("widgetid", "widgets"),
            parent("cpcid", "compute_centers"),
            parent("clusterid", "clusters"),
            required("stock", Integer),
            required("consumed", Integer),
        ],
    },
    // Alaya: a training task (`task_id` is its public id) runs in a
    // namespace of a cluster; its pods carry the label
    // `computehub.io/training-instance=<task_id>`. `gateway`, when set, is
    // the external host of its opened ports instead of the node's address.
    Collection {
        name: "training_instances",
        fields: &[
            unique("task_id", Text),
            required("name", Text),
            parent("clusterid", "clusters"),
            required("namespace", Text),
            field("created_by", Text),
            field("gateway", Text),
        ],
    },
    // A port opened on a training pod: `source` is `system` (opened by the
    // platform) or `custom` (by the user); a NodePort service exposes it.
    // One row per instance, pod and port (an index of migration 3).
    Collection {
        name: "training_ports",
        fields: &[
            parent("instance_id", "training_instances"),
            required("pod_name", Text),
            required("source", Text),
            field("protocol", Text),
            required("port", Integer),
            required("service_name", Text),
        ],
    },
    // IEF: a project id mapped to a cluster and the namespace its
    // deployments run in. Edge nodes and node groups are the cluster's
    // nodes labelled `ief.computehub.io/node-id` and `.../group-id`.
    Collection {
        name: "ief_projects",
        fields: &[
            unique("project_id", Text),
            parent("clusterid", "clusters"),
            required("namespace", Text),
        ],
    },
    // An IEF deployment: its id, name (unique per project, an index of
    // migration 3) and the created body (JSON), realised as a Kubernetes
    // Deployment in the project's namespace.
    Collection {
        name: "ief_deployments",
        fields: &[
            parent("project", "ief_projects"),
            unique("deployment_id", Text),
            required("name", Text),
            required("body", Text),
        ],
    },
    // kboss resource-instance configs (`cpcpodyaml`): the documented
    // `source_*` parameters as JSON (`params`), the initial password sealed.
    Collection {
        name: "pod_configs",
        fields: &[
            parent("cpcid", "compute_centers"),
            parent("clusterid", "clusters"),
            required("source_name", Text),
            required("params", Text),
            field("source_authpasswd", Secret),
            field("username", Text),
        ],
    },
];

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
