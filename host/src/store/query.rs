//! Organisation-scoped queries: conditions, ordering, paging and the page
//! total. A page filtered on a counted field alone (see
//! [`FieldDef::counted`](super::collections::FieldDef)) takes its total from
//! the trigger-maintained `record_counts` instead of counting rows, so paging
//! a center of 100,000 devices costs the same as paging one of 1,000.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::db::{params, Database, Sql as SqlValue};

use super::collections::{Collection, FieldKind};
use super::records::{field_def, read_row, select_list, Comparison, Page, Query, Value, MAX_LIMIT};
use super::{Store, StoreError};

/// A column usable in conditions and ordering: a field or a host column.
fn column<'c>(c: &'c Collection, name: &str) -> Result<(&'c str, Option<FieldKind>), StoreError> {
    match name {
        "id" => Ok(("id", Some(FieldKind::Text))),
        "created-at" | "created_at" => Ok(("created_at", Some(FieldKind::Timestamp))),
        "updated-at" | "updated_at" => Ok(("updated_at", Some(FieldKind::Timestamp))),
        _ => {
            let f = field_def(c, name)?;
            if f.kind == FieldKind::Secret {
                return Err(StoreError::Invalid(format!(
                    "`{}.{name}` is secret and cannot be queried",
                    c.name
                )));
            }
            Ok((&f.name, Some(f.kind)))
        }
    }
}

fn condition_value(
    kind: Option<FieldKind>,
    v: &Value,
    field: &str,
) -> Result<SqlValue, StoreError> {
    Ok(match (kind, v) {
        (_, Value::Null) => SqlValue::Null,
        (Some(FieldKind::Boolean), Value::Boolean(b)) => SqlValue::Integer(*b as i64),
        (_, Value::Integer(i)) => SqlValue::Integer(*i),
        (_, Value::Text(s)) if !super::storable(s) => {
            return Err(StoreError::Invalid(format!(
            "condition on `{field}` has text with a NUL character (U+0000), which no record holds"
        )))
        }
        // Text compared with a number must be one: PostgreSQL cannot bind
        // other text to a number (SQLite compared it as text).
        (Some(FieldKind::Integer | FieldKind::Boolean), Value::Text(s)) => {
            SqlValue::Integer(s.parse().map_err(|_| {
                StoreError::Invalid(format!(
                    "condition on `{field}` needs an integer, got text that is not one"
                ))
            })?)
        }
        (Some(FieldKind::Decimal), Value::Text(s) | Value::Decimal(s)) => SqlValue::Text(
            Decimal::from_str(s)
                .map_err(|_| {
                    StoreError::Invalid(format!(
                        "condition on `{field}` needs a decimal number such as 12.50"
                    ))
                })?
                .normalize()
                .to_string(),
        ),
        (_, Value::Text(s)) => SqlValue::Text(s.clone()),
        _ => {
            return Err(StoreError::Invalid(format!(
                "condition on `{field}` has a value of the wrong kind"
            )))
        }
    })
}

/// The total of a page whose only condition is `field = text` on a counted
/// field, from `record_counts`; `None` when the query does not qualify.
async fn counted_total(
    db: &dyn Database,
    c: &Collection,
    org: &str,
    q: &Query,
) -> Result<Option<i64>, StoreError> {
    let [cond] = q.conditions.as_slice() else {
        return Ok(None);
    };
    let (Comparison::Eq, Value::Text(value)) = (cond.op, &cond.value) else {
        return Ok(None);
    };
    if !c.field(&cond.field).is_some_and(|f| f.counted) {
        return Ok(None);
    }
    let n = db
        .query_pure_opt(
            "SELECT n FROM record_counts WHERE collection = ?1 AND org_id = ?2 AND field = ?3 AND value = ?4",
            params![c.name.as_ref(), org, &cond.field, value],
        )
        .await?
        .map(|r| r.get::<i64>(0))
        .transpose()?;
    Ok(Some(n.unwrap_or(0)))
}

/// Most conditions one query may have (plugins use a handful; SQLite's own
/// limits are far above this, and no query may reach them).
pub const MAX_CONDITIONS: usize = 64;
/// Most order-by terms one query may have (the kboss `sort` parameter takes
/// at most 8; without a bound 2,000 terms reached SQLite and failed there).
pub const MAX_ORDER_BY: usize = 16;

/// Refuses a query beyond [`MAX_CONDITIONS`] or [`MAX_ORDER_BY`] as
/// `Invalid` (a 4xx for the plugin's caller), before any SQL is built.
fn check_bounds(q: &Query) -> Result<(), StoreError> {
    if q.conditions.len() > MAX_CONDITIONS {
        return Err(StoreError::Invalid(format!(
            "a query may have at most {MAX_CONDITIONS} conditions, got {}",
            q.conditions.len()
        )));
    }
    if q.order_by.len() > MAX_ORDER_BY {
        return Err(StoreError::Invalid(format!(
            "a query may have at most {MAX_ORDER_BY} order-by terms, got {}",
            q.order_by.len()
        )));
    }
    Ok(())
}

/// The statement of one page: its `SELECT`, its `WHERE` (for the count)
/// and the values both bind.
pub(super) struct PageSql {
    pub select: String,
    pub where_sql: String,
    pub values: Vec<SqlValue>,
    pub limit: u32,
}

/// The SQL of a page of `c` for `org`: the conditions, the order asked for
/// then `created_at, id` (the indexes in page order end with them:
/// `schema::ordered_sql`), the limit and the offset.
pub(super) fn page_sql(
    c: &Collection,
    dialect: super::db::Dialect,
    org: &str,
    q: &Query,
) -> Result<PageSql, StoreError> {
    check_bounds(q)?;
    let mut wheres = vec!["org_id = ?1".to_string()];
    let mut values = vec![SqlValue::Text(org.to_string())];
    for cond in &q.conditions {
        let (col, kind) = column(c, &cond.field)?;
        // A substring of text only: PostgreSQL has no `strpos` of a number
        // or of NULL, where SQLite would turn either into text.
        if cond.op == Comparison::Contains
            && (!matches!(kind, None | Some(FieldKind::Text | FieldKind::Timestamp))
                || !matches!(cond.value, Value::Text(_)))
        {
            return Err(StoreError::Invalid(format!(
                "condition on `{}`: `contains` matches text, so it needs a text field and a text value",
                cond.field
            )));
        }
        let value = condition_value(kind, &cond.value, &cond.field)?;
        let lhs = if kind == Some(FieldKind::Decimal) {
            format!("CAST(\"{col}\" AS NUMERIC)")
        } else {
            format!("\"{col}\"")
        };
        let rhs_cast = kind == Some(FieldKind::Decimal);
        let is_null = matches!(value, SqlValue::Null);
        values.push(value);
        let p = values.len();
        let rhs = if rhs_cast {
            format!("CAST(CAST(?{p} AS TEXT) AS NUMERIC)")
        } else {
            format!("?{p}")
        };
        if is_null {
            // `IS NULL` needs no parameter: drop the one just bound.
            values.pop();
        }
        wheres.push(match (cond.op, is_null) {
            (Comparison::Eq, true) => format!("{lhs} IS NULL"),
            (Comparison::Ne, true) => format!("{lhs} IS NOT NULL"),
            (Comparison::Eq, _) => format!("{lhs} = {rhs}"),
            (Comparison::Ne, _) => format!("({lhs} IS NULL OR {lhs} <> {rhs})"),
            (Comparison::Lt, _) => format!("{lhs} < {rhs}"),
            (Comparison::Le, _) => format!("{lhs} <= {rhs}"),
            (Comparison::Gt, _) => format!("{lhs} > {rhs}"),
            (Comparison::Ge, _) => format!("{lhs} >= {rhs}"),
            (Comparison::Contains, _) => dialect.contains(&format!("\"{col}\""), p),
        });
    }
    let where_sql = wheres.join(" AND ");
    let mut order = Vec::new();
    for o in &q.order_by {
        let (col, kind) = column(c, &o.field)?;
        let dir = if o.descending { "DESC" } else { "ASC" };
        if kind == Some(FieldKind::Decimal) {
            order.push(format!("CAST(\"{col}\" AS NUMERIC) {dir}"));
        } else {
            order.push(format!("\"{col}\" {dir}"));
        }
    }
    order.push("created_at ASC, id ASC".to_string());
    let limit = q.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    // Limit and offset stay literal: SQLite re-prepares a statement whose
    // bound LIMIT changes, so the cache keys on them instead.
    let select = format!(
        "SELECT {} FROM \"{}\" WHERE {where_sql} ORDER BY {} LIMIT {limit} OFFSET {}",
        select_list(c),
        c.name,
        order.join(", "),
        q.offset
    );
    Ok(PageSql {
        select,
        where_sql,
        values,
        limit,
    })
}

impl Store {
    pub async fn query(
        &self,
        org: &str,
        collection_name: &str,
        q: &Query,
    ) -> Result<Page, StoreError> {
        let c = &*self.collection(collection_name)?;
        let PageSql {
            select,
            where_sql,
            values,
            limit,
        } = page_sql(c, self.db().dialect(), org, q)?;
        let rows = self
            .db()
            .query_pure(&select, values.clone())
            .await?
            .into_iter()
            .map(|r| read_row(c, r))
            .collect::<Result<Vec<_>, _>>()?;
        // A page that ends before the limit tells the total by itself: most
        // queries (every "all of them" read a plugin makes) count nothing.
        let short = rows.len() < limit as usize && (q.offset == 0 || !rows.is_empty());
        let total = if short {
            u64::from(q.offset) + rows.len() as u64
        } else {
            let total: i64 = match counted_total(self.db(), c, org, q).await? {
                Some(n) => n,
                None => self
                    .db()
                    .query_pure_opt(
                        &format!("SELECT COUNT(*) FROM \"{}\" WHERE {where_sql}", c.name),
                        values,
                    )
                    .await?
                    .map(|r| r.get::<i64>(0))
                    .transpose()?
                    .unwrap_or(0),
            };
            total as u64
        };
        Ok(Page { total, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Condition, Order, Sealer};

    async fn store() -> Store {
        Store::in_memory(Sealer::from_key(&[1u8; 32]))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn too_many_order_terms_or_conditions_are_invalid_not_internal() {
        let s = store().await;
        s.ensure_organisation("acme").await.unwrap();
        let order = |n: usize| Query {
            order_by: (0..n)
                .map(|_| Order {
                    field: "name".into(),
                    descending: false,
                })
                .collect(),
            ..Query::default()
        };
        assert!(s
            .query("acme", "devices", &order(MAX_ORDER_BY))
            .await
            .is_ok());
        for n in [MAX_ORDER_BY + 1, 2000] {
            match s.query("acme", "devices", &order(n)).await {
                Err(StoreError::Invalid(m)) => assert!(m.contains("order-by"), "{m}"),
                other => panic!("{n} terms: {:?}", other.map(|p| p.total)),
            }
        }
        let conditions = |n: usize| Query {
            conditions: (0..n)
                .map(|i| Condition {
                    field: "name".into(),
                    op: Comparison::Ne,
                    value: Value::Text(format!("n{i}")),
                })
                .collect(),
            ..Query::default()
        };
        assert!(s
            .query("acme", "devices", &conditions(MAX_CONDITIONS))
            .await
            .is_ok());
        match s.query("acme", "devices", &conditions(5000)).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains("conditions"), "{m}"),
            other => panic!("5000 conditions: {:?}", other.map(|p| p.total)),
        }
    }
}
