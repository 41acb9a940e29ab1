//! `inventory`: the store's records, scoped to the calling request's
//! organisation (plugins cannot name another), converted between WIT and
//! store types. Every call is checked against the plugin's storage grant
//! (`policy::storage`: collections read and written, secret fields set), and
//! every kubeconfig written passes the kubeconfig policy before it is stored.
//!
//! A plugin names its own declared collections by their short name (`notes`)
//! and needs no grant for them; another plugin's as `<plugin id>.<name>`,
//! through its grant.
//!
//! `query-table` answers a query's rows as columns (`table.rs`).
//!
//! The capability's state is [`Inventory`] (the store and the grants); a
//! call is served by an [`InventoryView`] of it and the call's context.

mod table;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::inventory::{
    self as wit, CollectionInfo, Comparison, FieldInfo, FieldKind, Host,
};
use crate::policy::Policy;
use crate::store::collections::FieldKind as Kind;
use crate::store::{self, Store, StoreError};

/// The capability's state: the store its records live in and the grants
/// its calls are checked against.
pub struct Inventory {
    store: Arc<Store>,
    policy: Arc<Policy>,
}

impl Inventory {
    pub fn new(store: Arc<Store>, policy: Arc<Policy>) -> Self {
        Inventory { store, policy }
    }
}

/// One call's view of `inventory`: the state and who is calling.
pub struct InventoryView<'a> {
    state: &'a Inventory,
    ctx: &'a CallContext,
}

impl<'a> InventoryView<'a> {
    pub fn new(state: &'a Inventory, ctx: &'a CallContext) -> Self {
        InventoryView { state, ctx }
    }
}

/// The `HasData` projection of `inventory` (see [`add_to_linker`]).
struct InventoryData;

impl HasData for InventoryData {
    type Data<'a> = InventoryView<'a>;
}

/// Link `inventory`, each call served by the view `view` projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> InventoryView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, InventoryData>(linker, view)
}

fn to_store(v: wit::Value) -> store::Value {
    match v {
        wit::Value::Null => store::Value::Null,
        wit::Value::Text(s) => store::Value::Text(s),
        wit::Value::Integer(i) => store::Value::Integer(i),
        wit::Value::Decimal(s) => store::Value::Decimal(s),
        wit::Value::Boolean(b) => store::Value::Boolean(b),
        wit::Value::Secret(s) => store::Value::Secret(s),
        wit::Value::Redacted => store::Value::Redacted,
    }
}

fn to_wit(v: store::Value) -> wit::Value {
    match v {
        store::Value::Null => wit::Value::Null,
        store::Value::Text(s) => wit::Value::Text(s),
        store::Value::Integer(i) => wit::Value::Integer(i),
        store::Value::Decimal(s) => wit::Value::Decimal(s),
        store::Value::Boolean(b) => wit::Value::Boolean(b),
        // A secret never travels back out, whatever path produced it.
        store::Value::Secret(_) | store::Value::Redacted => wit::Value::Redacted,
    }
}

/// A query as the store takes it.
fn query_of(q: wit::RowQuery) -> store::Query {
    store::Query {
        conditions: q
            .conditions
            .into_iter()
            .map(|c| store::Condition {
                field: c.field,
                op: comparison(c.op),
                value: to_store(c.value),
            })
            .collect(),
        order_by: q
            .order_by
            .into_iter()
            .map(|o| store::Order {
                field: o.field,
                descending: o.descending,
            })
            .collect(),
        limit: q.limit,
        offset: q.offset,
    }
}

fn fields_in(fields: Vec<wit::Field>) -> Vec<(String, store::Value)> {
    fields
        .into_iter()
        .map(|f| (f.name, to_store(f.value)))
        .collect()
}

fn row_out(r: store::Row) -> wit::Row {
    wit::Row {
        id: r.id,
        fields: r
            .fields
            .into_iter()
            .map(|(name, value)| wit::Field {
                name,
                value: to_wit(value),
            })
            .collect(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn error_out(e: StoreError) -> wit::Error {
    match e {
        StoreError::NotFound(m) => wit::Error::NotFound(m),
        StoreError::Conflict(m) => wit::Error::Conflict(m),
        StoreError::Invalid(m) => wit::Error::Invalid(m),
        StoreError::Internal(m) => {
            tracing::error!(error = %m, "inventory call failed");
            wit::Error::Internal("the store failed; see the server log".into())
        }
    }
}

fn comparison(c: Comparison) -> store::Comparison {
    match c {
        Comparison::Eq => store::Comparison::Eq,
        Comparison::Ne => store::Comparison::Ne,
        Comparison::Lt => store::Comparison::Lt,
        Comparison::Le => store::Comparison::Le,
        Comparison::Gt => store::Comparison::Gt,
        Comparison::Ge => store::Comparison::Ge,
        Comparison::Contains => store::Comparison::Contains,
    }
}

fn kind(k: Kind) -> FieldKind {
    match k {
        Kind::Text => FieldKind::Text,
        Kind::Integer => FieldKind::Integer,
        Kind::Decimal => FieldKind::Decimal,
        Kind::Boolean => FieldKind::Boolean,
        Kind::Secret => FieldKind::Secret,
        Kind::Timestamp => FieldKind::Timestamp,
    }
}

/// A refusal by the plugin's grant or a field policy. The WIT `error` of
/// `inventory` 0.1.0 has no `denied` case (adding one would break every
/// plugin built against it), so a refusal is `invalid` starting "denied:".
fn denied(e: impl std::fmt::Display) -> wit::Error {
    wit::Error::Invalid(format!("denied: {e}"))
}

/// Fields whose text must pass a policy before it is stored: a kubeconfig
/// is used by the host to build a client, so it is checked like an inline
/// one (no programs, no files, no proxies).
fn check_field(collection: &str, name: &str, value: &store::Value) -> Result<(), wit::Error> {
    if (collection, name) != ("clusters", "kubeconfig") {
        return Ok(());
    }
    match value {
        store::Value::Secret(t) | store::Value::Text(t) if !t.is_empty() => {
            crate::policy::kubeconfig::check(t)
                .map(|_| ())
                .map_err(|e| wit::Error::Invalid(e.to_string()))
        }
        _ => Ok(()),
    }
}

/// The grant checks and scoping of every call.
impl InventoryView<'_> {
    /// The full name of `collection` as this plugin means it: one of its
    /// own declared collections by its short name, a collection an area's
    /// plugin took over by its former bare name, any other as given.
    fn resolve(&self, collection: String) -> String {
        let plugin = &self.ctx.plugin;
        if !collection.contains('.') && self.state.store.owns(plugin, &collection) {
            return store::schema::qualified(plugin, &collection);
        }
        crate::store::collections::current_name(&collection).into_owned()
    }

    /// Whether this plugin declared `collection` (a full name).
    fn owns(&self, collection: &str) -> bool {
        self.state
            .store
            .schema_get(collection)
            .is_some_and(|c| c.owner.as_deref() == Some(&*self.ctx.plugin))
    }

    fn may_read(&self, collection: &str) -> Result<(), wit::Error> {
        if self.owns(collection) {
            return Ok(());
        }
        self.state
            .policy
            .check_read(&self.ctx.plugin, collection)
            .map_err(denied)
    }

    fn may_write<'a>(
        &self,
        collection: &'a str,
        fields: &'a [(String, store::Value)],
    ) -> Result<(), wit::Error> {
        let plugin = &self.ctx.plugin;
        if !self.owns(collection) {
            let def = self.state.store.schema_get(collection);
            // The credential a field sets: itself when secret, or the one
            // whose destination it decides.
            let credential = |name: &'a str| -> Option<&'a str> {
                let secret = def
                    .as_ref()
                    .and_then(|c| c.field(name))
                    .is_some_and(|f| f.kind == Kind::Secret);
                if secret {
                    Some(name)
                } else {
                    crate::store::collections::credential_addressed_by(collection, name)
                }
            };
            self.state
                .policy
                .with_grant(plugin, |g| match g {
                    Some(g) => g.storage.check_write(
                        plugin,
                        collection,
                        fields.iter().map(|(n, _)| (n.as_str(), credential(n))),
                    ),
                    None => crate::policy::Storage::default().check_write(plugin, collection, []),
                })
                .map_err(denied)?;
        }
        for (name, value) in fields {
            check_field(collection, name, value)?;
        }
        Ok(())
    }

    fn may_apply(&self, w: &store::Write) -> Result<(), wit::Error> {
        match w {
            store::Write::Insert(c, f) | store::Write::Update(c, _, f) => self.may_write(c, f),
            store::Write::Add(c, _, field, v) => self.may_write(c, &[(field.clone(), v.clone())]),
            store::Write::Delete(c, _) => self.may_write(c, &[]),
        }
    }

    /// The organisation every inventory call of this request is scoped to.
    fn organisation(&self) -> Result<String, wit::Error> {
        self.ctx.organisation.clone().ok_or_else(|| {
            wit::Error::Invalid(
                "inventory needs an authenticated route (this one has auth `none`)".into(),
            )
        })
    }
}

impl Host for InventoryView<'_> {
    #[tracing::instrument(
        target = "computehub::capability",
        name = "inventory.collections",
        skip_all
    )]
    async fn collections(&mut self) -> Vec<CollectionInfo> {
        // A plugin sees its own collections and those its grant names.
        let granted = self.state.policy.grant(&self.ctx.plugin).storage;
        let readable: Vec<&str> = granted.readable().collect();
        let mut all = self.state.store.schema_all();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all.iter()
            .filter(|c| readable.contains(&c.name.as_ref()) || self.owns(&c.name))
            .map(|c| CollectionInfo {
                name: c.name.to_string(),
                fields: c
                    .fields
                    .iter()
                    .map(|f| FieldInfo {
                        name: f.name.to_string(),
                        kind: kind(f.kind),
                        required: f.required,
                        unique: f.unique,
                        references: f.references.as_deref().map(str::to_string),
                    })
                    .collect(),
            })
            .collect()
    }

    #[tracing::instrument(target = "computehub::capability", name = "inventory.get", skip_all)]
    async fn get(
        &mut self,
        collection: String,
        id: String,
    ) -> Result<Option<wit::Row>, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        self.may_read(&collection)?;
        let row = self
            .state
            .store
            .get(&org, &collection, &id)
            .await
            .map_err(error_out)?;
        Ok(row.map(row_out))
    }

    #[tracing::instrument(target = "computehub::capability", name = "inventory.query", skip_all)]
    async fn query(
        &mut self,
        collection: String,
        q: wit::RowQuery,
    ) -> Result<wit::Page, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        self.may_read(&collection)?;
        let page = self
            .state
            .store
            .query(&org, &collection, &query_of(q))
            .await
            .map_err(error_out)?;
        Ok(wit::Page {
            total: page.total,
            rows: page.rows.into_iter().map(row_out).collect(),
        })
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "inventory.query-table",
        skip_all
    )]
    async fn query_table(
        &mut self,
        collection: String,
        q: wit::RowQuery,
        columns: Vec<String>,
    ) -> Result<wit::Table, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        self.may_read(&collection)?;
        let c = self
            .state
            .store
            .collection(&collection)
            .map_err(error_out)?;
        let picked = table::columns(&c, &columns)?;
        let page = self
            .state
            .store
            .query(&org, &collection, &query_of(q))
            .await
            .map_err(error_out)?;
        let names = table::names(&c, &picked);
        Ok(table::table(page, &picked, names))
    }

    #[tracing::instrument(target = "computehub::capability", name = "inventory.insert", skip_all)]
    async fn insert(
        &mut self,
        collection: String,
        fields: Vec<wit::Field>,
    ) -> Result<wit::Row, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        let fields = fields_in(fields);
        self.may_write(&collection, &fields)?;
        let row = self
            .state
            .store
            .insert(&org, &collection, &fields)
            .await
            .map_err(error_out)?;
        Ok(row_out(row))
    }

    #[tracing::instrument(target = "computehub::capability", name = "inventory.update", skip_all)]
    async fn update(
        &mut self,
        collection: String,
        id: String,
        fields: Vec<wit::Field>,
    ) -> Result<wit::Row, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        let fields = fields_in(fields);
        self.may_write(&collection, &fields)?;
        let row = self
            .state
            .store
            .update(&org, &collection, &id, &fields)
            .await
            .map_err(error_out)?;
        Ok(row_out(row))
    }

    #[tracing::instrument(target = "computehub::capability", name = "inventory.delete", skip_all)]
    async fn delete(&mut self, collection: String, id: String) -> Result<bool, wit::Error> {
        let org = self.organisation()?;
        let collection = self.resolve(collection);
        self.may_write(&collection, &[])?;
        self.state
            .store
            .delete(&org, &collection, &id)
            .await
            .map_err(error_out)
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "inventory.transact",
        skip_all
    )]
    async fn transact(&mut self, writes: Vec<wit::Write>) -> Result<Vec<wit::Row>, wit::Error> {
        let org = self.organisation()?;
        let writes: Vec<store::Write> = writes
            .into_iter()
            .map(|w| match w {
                wit::Write::Insert((c, f)) => store::Write::Insert(self.resolve(c), fields_in(f)),
                wit::Write::Update((c, id, f)) => {
                    store::Write::Update(self.resolve(c), id, fields_in(f))
                }
                wit::Write::Add((c, id, field, v)) => {
                    store::Write::Add(self.resolve(c), id, field, to_store(v))
                }
                wit::Write::Delete((c, id)) => store::Write::Delete(self.resolve(c), id),
            })
            .collect();
        for w in &writes {
            self.may_apply(w)?;
        }
        let rows = self
            .state
            .store
            .transact(&org, &writes)
            .await
            .map_err(error_out)?;
        Ok(rows.into_iter().map(row_out).collect())
    }
}
