//! The `inventory` capability (the platform's SQLite system of record) and
//! helpers to build its values and render its rows.
//!
//! Everything generated for `computehub:platform/inventory` is re-exported
//! here: the calls ([`insert`], [`query`], [`query_table`], [`get`],
//! [`update`], [`delete`], [`transact`], [`collections`]) and their types.
//! [`query_table`] answers the same rows as [`query`] as a [`Table`]: the
//! column names once and only the columns asked for, which costs fewer
//! copies into the plugin for pages of many rows; read its rows by name
//! with [`Table::rows`]. Calling any of them makes
//! the component import the interface, so the grant must include
//! `inventory`; the helpers below only touch types and import nothing.
//!
//! ```ignore
//! use computehub_sdk::inventory::{self, Value};
//! let row = inventory::insert("devices", &[
//!     inventory::field("name", "gpu-01"),
//!     inventory::field("password", Value::Secret(password)),
//! ])?;
//! let body = inventory::row_json(&row); // {"id":..,"name":"gpu-01","password":"******"}
//! ```

pub use crate::bindings::computehub::platform::inventory::*;

use serde_json::{Map, Value as Json};

/// How a secret (`redacted` or a `secret` value) renders in JSON.
pub const REDACTED: &str = "******";

/// A field with its value: `field("name", "x")`, `field("n", 3i64)`.
pub fn field(name: &str, value: impl Into<Value>) -> Field {
    Field {
        name: name.to_owned(),
        value: value.into(),
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// A decimal from validated text (see [`crate::Params::decimal`]).
    pub fn decimal(text: impl Into<String>) -> Self {
        Value::Decimal(text.into())
    }

    /// A secret to seal (write-only: reads answer [`Value::Redacted`]).
    pub fn secret(text: impl Into<String>) -> Self {
        Value::Secret(text.into())
    }

    /// The value as JSON: text as a string, integer as a number, decimal as
    /// a string (exact), boolean as a bool, null as null, and secrets as
    /// `"******"`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Text(s) | Value::Decimal(s) => Json::String(s.clone()),
            Value::Integer(n) => Json::from(*n),
            Value::Boolean(b) => Json::Bool(*b),
            Value::Secret(_) | Value::Redacted => Json::String(REDACTED.to_owned()),
        }
    }

    /// The text of a `text` or `decimal` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Decimal(s) => Some(s),
            _ => None,
        }
    }

    /// The number of an `integer` value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The flag of a `boolean` value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl Row {
    /// A field's value, if the row has it.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// A `text` or `decimal` field's text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }

    /// An `integer` field's number.
    pub fn integer(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(Value::as_i64)
    }

    /// The row as a JSON object: `id` first, then the fields in order (see
    /// [`Value::to_json`]). Timestamps are left out; add them if the wire
    /// format wants them.
    pub fn to_json_map(&self) -> Map<String, Json> {
        let mut map = Map::with_capacity(self.fields.len() + 1);
        map.insert("id".to_owned(), Json::String(self.id.clone()));
        for f in &self.fields {
            map.insert(f.name.clone(), f.value.to_json());
        }
        map
    }
}

/// What a plugin reads of a record, a [`Row`] of a page or a [`RowRef`] of
/// a table alike, so code that renders records takes either.
pub trait Record {
    /// The record's id.
    fn id(&self) -> &str;
    /// A field's (or column's) value, if the record has it.
    fn value(&self, name: &str) -> Option<&Value>;
    /// A `text` or `decimal` value's text.
    fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }
    /// An `integer` value's number.
    fn integer(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(Value::as_i64)
    }
}

impl Record for Row {
    fn id(&self) -> &str {
        &self.id
    }
    fn value(&self, name: &str) -> Option<&Value> {
        Row::value(self, name)
    }
}

impl Record for RowRef<'_> {
    fn id(&self) -> &str {
        self.id
    }
    fn value(&self, name: &str) -> Option<&Value> {
        RowRef::value(self, name)
    }
}

impl Table {
    /// The index of column `name` in every row's values.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The rows, each read by column name.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = RowRef<'_>> + '_ {
        self.rows.iter().map(|r| RowRef {
            id: &r.id,
            columns: &self.columns,
            values: &r.values,
        })
    }
}

/// A row of a [`Table`] ([`query_table`]), read by column name as a
/// [`Row`] is by field name.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    /// The row's id.
    pub id: &'a str,
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> RowRef<'a> {
    /// A column's value, if the table has that column.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        let i = self.columns.iter().position(|c| c == name)?;
        self.values.get(i)
    }

    /// A `text` or `decimal` column's text.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.value(name).and_then(Value::as_str)
    }

    /// An `integer` column's number.
    pub fn integer(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(Value::as_i64)
    }

    /// The row as a JSON object: `id` first, then the columns in order, as
    /// [`Row::to_json_map`] renders a row.
    pub fn to_json_map(&self) -> Map<String, Json> {
        let mut map = Map::with_capacity(self.columns.len() + 1);
        map.insert("id".to_owned(), Json::String(self.id.to_owned()));
        for (c, v) in self.columns.iter().zip(self.values) {
            map.insert(c.clone(), v.to_json());
        }
        map
    }
}

/// Values serialise as [`Value::to_json`] renders them (secrets as
/// `"******"`, decimals as exact text), without building JSON first.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Text(t) | Value::Decimal(t) => s.serialize_str(t),
            Value::Integer(n) => s.serialize_i64(*n),
            Value::Boolean(b) => s.serialize_bool(*b),
            Value::Secret(_) | Value::Redacted => s.serialize_str(REDACTED),
        }
    }
}

/// [`Row::to_json_map`] as a JSON value.
pub fn row_json(row: &Row) -> Json {
    Json::Object(row.to_json_map())
}

// The record is generated by wit-bindgen, so `Default` cannot be derived.
#[allow(clippy::derivable_impls)]
impl Default for RowQuery {
    fn default() -> Self {
        RowQuery {
            conditions: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            offset: 0,
        }
    }
}

impl RowQuery {
    /// Every row (up to the host's cap), unordered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition (all must hold).
    pub fn filter(mut self, field: &str, op: Comparison, value: impl Into<Value>) -> Self {
        self.conditions.push(Condition {
            field: field.to_owned(),
            op,
            value: value.into(),
        });
        self
    }

    /// Adds a field equality condition.
    pub fn eq(self, field: &str, value: impl Into<Value>) -> Self {
        self.filter(field, Comparison::Eq, value)
    }

    /// Adds a sort key.
    pub fn order(mut self, field: &str, descending: bool) -> Self {
        self.order_by.push(Order {
            field: field.to_owned(),
            descending,
        });
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips `n` rows.
    pub fn offset(mut self, n: u32) -> Self {
        self.offset = n;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_rendering() {
        let row = Row {
            id: "abc".into(),
            fields: vec![
                field("name", "n"),
                field("port", 22i64),
                field("price", Value::decimal("1.50")),
                field("on", true),
                field("pw", Value::Redacted),
                field("none", None::<String>),
            ],
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        assert_eq!(
            row_json(&row),
            serde_json::json!({"id": "abc", "name": "n", "port": 22, "price": "1.50",
                "on": true, "pw": "******", "none": null})
        );
        assert_eq!(row.text("name"), Some("n"));
        assert_eq!(row.integer("port"), Some(22));
        for f in &row.fields {
            assert_eq!(serde_json::to_value(&f.value).unwrap(), f.value.to_json());
        }
        let keys: Vec<_> = row.to_json_map().keys().cloned().collect();
        assert_eq!(keys, ["id", "name", "port", "price", "on", "pw", "none"]);
    }

    #[test]
    fn table_rows_read_by_column() {
        let t = Table {
            total: 2,
            columns: vec!["name".into(), "port".into()],
            rows: vec![
                TableRow {
                    id: "a".into(),
                    values: vec![Value::from("x"), Value::from(22i64)],
                },
                TableRow {
                    id: "b".into(),
                    values: vec![Value::Null, Value::from(80i64)],
                },
            ],
        };
        assert_eq!(t.column("port"), Some(1));
        let rows: Vec<RowRef<'_>> = t.rows().collect();
        assert_eq!((rows[0].id, rows[0].text("name")), ("a", Some("x")));
        assert_eq!(rows[1].integer("port"), Some(80));
        assert_eq!(rows[1].text("name"), None);
        assert!(rows[0].value("missing").is_none());
        assert_eq!(
            Json::Object(rows[1].to_json_map()),
            serde_json::json!({"id": "b", "name": null, "port": 80})
        );
    }

    #[test]
    fn query_builder() {
        let q = RowQuery::new()
            .eq("name", "x")
            .order("created-at", false)
            .limit(5)
            .offset(10);
        assert_eq!(q.conditions.len(), 1);
        assert_eq!(q.order_by[0].field, "created-at");
        assert_eq!((q.limit, q.offset), (Some(5), 10));
    }
}
