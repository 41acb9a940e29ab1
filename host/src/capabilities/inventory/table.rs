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
/// naming the first name the collection lacks or a name asked twice. More
/// names than the collection has columns are refused before any is looked
/// at, so a plugin's list costs the host no more than the collection's
/// width squared.
pub(super) fn columns(c: &Collection, asked: &[String]) -> Result<Vec<Column>, wit::Error> {
    if asked.is_empty() {
        return Ok((0..c.fields.len()).map(Column::Field).collect());
    }
    let most = c.fields.len() + 2;
    if asked.len() > most {
        return Err(wit::Error::Invalid(format!(
            "{} columns asked of `{}`, which has {} fields and 2 timestamps",
            asked.len(),
            c.name,
            c.fields.len()
        )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::collections::FieldKind;

    fn invalid(r: Result<Vec<Column>, wit::Error>) -> String {
        match r {
            Err(wit::Error::Invalid(m)) => m,
            other => panic!("not invalid: {other:?}"),
        }
    }

    fn devices() -> &'static Collection {
        crate::store::collections::find("devices").expect("devices is built in")
    }

    #[test]
    fn columns_are_fields_or_timestamps_each_once() {
        let c = devices();
        let asked: Vec<String> = ["name", "updated-at", "sshport"].map(String::from).to_vec();
        let cols = columns(c, &asked).unwrap();
        assert_eq!(cols[1], Column::UpdatedAt);
        assert_eq!(names(c, &cols), asked);
        assert!(c
            .field("sshport")
            .is_some_and(|f| f.kind == FieldKind::Integer));
        assert_eq!(columns(c, &[]).unwrap().len(), c.fields.len());
        let twice = ["name", "name"].map(String::from);
        assert_eq!(invalid(columns(c, &twice)), "column `name` is asked twice");
        let unknown = ["nope"].map(String::from);
        assert_eq!(
            invalid(columns(c, &unknown)),
            "no field `nope` in `devices`"
        );
    }

    #[test]
    fn more_columns_than_the_collection_has_are_refused_at_once() {
        let c = devices();
        let many: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
        let m = invalid(columns(c, &many));
        assert!(m.starts_with("100000 columns asked of `devices`"), "{m}");
    }

    #[test]
    fn values_move_out_in_column_order_and_missing_fields_are_null() {
        let c = devices();
        let cols = columns(c, &["sshport".into(), "created-at".into(), "name".into()]).unwrap();
        let row = store::Row {
            id: "r1".into(),
            // Not in the collection's order: looked up by name.
            fields: vec![
                ("sshport".into(), store::Value::Integer(22)),
                ("adminpwd".into(), store::Value::Redacted),
            ],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: String::new(),
        };
        let t = table(
            store::Page {
                total: 7,
                rows: vec![row],
            },
            &cols,
            names(c, &cols),
        );
        assert_eq!((t.total, t.columns.len()), (7, 3));
        assert_eq!(t.rows[0].id, "r1");
        assert!(matches!(t.rows[0].values[0], wit::Value::Integer(22)));
        assert!(matches!(&t.rows[0].values[1], wit::Value::Text(s) if s.starts_with("2026")));
        assert!(matches!(t.rows[0].values[2], wit::Value::Null));
    }
}
