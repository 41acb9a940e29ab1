//! `query-table`: a page of rows as a table, the column names once and
//! each row's values in their order. Lowering a `page` into the plugin
//! copies every field's name with every row (a `cabi_realloc` call into the
//! guest per string); a table copies the names once and only the columns
//! the plugin asked for.

use super::{to_wit, wit};
use crate::store::{self, collections::Collection};

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    /// The field at this index of the collection (and of every row the
    /// store reads, which lists the fields in the collection's order).
    Field(usize),
    CreatedAt,
    UpdatedAt,
}

/// The columns `asked` of collection `c` (empty: every field), or `invalid`
/// naming the first name the collection lacks or a name asked twice.
pub(super) fn columns(c: &Collection, asked: &[String]) -> Result<Vec<Column>, wit::Error> {
    if asked.is_empty() {
        return Ok((0..c.fields.len()).map(Column::Field).collect());
    }
    let mut out = Vec::with_capacity(asked.len());
    for (i, name) in asked.iter().enumerate() {
        if asked[..i].contains(name) {
            return Err(wit::Error::Invalid(format!(
                "column `{name}` is asked twice"
            )));
        }
        out.push(match name.as_str() {
            "created-at" => Column::CreatedAt,
            "updated-at" => Column::UpdatedAt,
            _ => c
                .fields
                .iter()
                .position(|f| f.name == *name)
                .map(Column::Field)
                .ok_or_else(|| wit::Error::Invalid(format!("no field `{name}` in `{}`", c.name)))?,
        });
    }
    Ok(out)
}

/// The names of `columns` of `c`, as the table lists them.
pub(super) fn names(c: &Collection, columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .map(|col| match col {
            Column::Field(i) => c
                .fields
                .get(*i)
                .map_or_else(String::new, |f| f.name.to_string()),
            Column::CreatedAt => "created-at".into(),
            Column::UpdatedAt => "updated-at".into(),
        })
        .collect()
}

/// `page` as a table of `columns` named `names`; values move out of the
/// rows (no column is asked twice).
pub(super) fn table(page: store::Page, columns: &[Column], names: Vec<String>) -> wit::Table {
    let rows = page
        .rows
        .into_iter()
        .map(|mut r| {
            let values = columns
                .iter()
                .zip(&names)
                .map(|(col, name)| match col {
                    Column::Field(i) => to_wit(take(&mut r.fields, *i, name)),
                    Column::CreatedAt => wit::Value::Text(std::mem::take(&mut r.created_at)),
                    Column::UpdatedAt => wit::Value::Text(std::mem::take(&mut r.updated_at)),
                })
                .collect();
            wit::TableRow { id: r.id, values }
        })
        .collect();
    wit::Table {
        total: page.total,
        columns: names,
        rows,
    }
}

/// The value of field `name`, expected at index `i`; looked up by name if
/// the row lists its fields otherwise. A field the row lacks is null.
fn take(fields: &mut [(String, store::Value)], i: usize, name: &str) -> store::Value {
    let at = match fields.get(i) {
        Some((n, _)) if n == name => Some(i),
        _ => fields.iter().position(|(n, _)| n == name),
    };
    at.and_then(|i| fields.get_mut(i))
        .map_or(store::Value::Null, |(_, v)| {
            std::mem::replace(v, store::Value::Null)
        })
}
