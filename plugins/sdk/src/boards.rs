//! Cluster boards: every object of a kind turned into a row, read from the
//! cluster a page at a time.
//!
//! A board (`get_cluster_pods`, `get_cpcpod`) shows every pod of a cluster.
//! Listing them in one answer puts the whole list in the plugin's memory at
//! once (about 2.5 KB a pod), so a big enough cluster would exceed the
//! plugin's memory cap. [`rows`] reads [`PAGE`] objects at a time (kubectl's
//! chunk size), parses only the fields the row reads, keeps each row as its
//! JSON text (a few hundred bytes) and drops the page before reading the
//! next; the board's memory then grows with its rows, not with the objects.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::fields::{parse_kept, At, Keep};
use crate::kubernetes::{self, Cluster, Selector};
use crate::ApiError;

/// Objects per page: kubectl's chunk size.
pub const PAGE: u32 = 500;

/// Every object of a kind, a page at a time: `each` gets one page's objects
/// (JSON texts, each with its `apiVersion` and `kind`).
pub fn for_each_page(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: &Selector,
    mut each: impl FnMut(Vec<String>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut token: Option<String> = None;
    loop {
        let page = kubernetes::list_page(cluster, api_version, kind, sel, PAGE, token.as_deref())?;
        each(page.items)?;
        match page.continue_token {
            // A server that hands back the token it was given would loop.
            Some(next) if token.as_deref() == Some(next.as_str()) => {
                return Err(ApiError::BadGateway(
                    "the cluster repeated a list's continue token".into(),
                ))
            }
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// A board's rows as JSON texts, in the order of their objects' namespace
/// and name (kubectl's); serialises as a JSON array.
#[derive(Debug, Default)]
pub struct Rows(Vec<((String, String), Box<RawValue>)>);

impl Rows {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(_, row)| row))
    }
}

/// `{"total": n, "rows": [...]}`, the page both boards answer.
#[derive(Debug, Serialize)]
pub struct Board {
    /// How many rows.
    pub total: usize,
    /// The rows.
    pub rows: Rows,
}

impl From<Rows> for Board {
    fn from(rows: Rows) -> Self {
        Board {
            total: rows.len(),
            rows,
        }
    }
}

/// Every object of a kind as the row `row` makes of it. Only the `fields`
/// (JSON pointers) are parsed from each object, plus its namespace and name,
/// which order the rows.
pub fn rows<'a, R: Serialize>(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: &Selector,
    fields: impl IntoIterator<Item = &'a str>,
    mut row: impl FnMut(&Value) -> R,
) -> Result<Rows, ApiError> {
    let keep = Keep::new(
        fields
            .into_iter()
            .chain(["/metadata/namespace", "/metadata/name"]),
    );
    let mut rows = Vec::new();
    for_each_page(cluster, api_version, kind, sel, |items| {
        for text in items {
            let object = parse_kept(&text, &keep).map_err(|e| {
                ApiError::BadGateway(format!("the cluster answered an invalid object: {e}"))
            })?;
            let text = serde_json::value::to_raw_value(&row(&object))
                .map_err(|e| ApiError::Internal(format!("a row could not be serialised: {e}")))?;
            let at = |p: &str| object.at(p).and_then(Value::as_str).unwrap_or("");
            let key = (
                at("/metadata/namespace").to_owned(),
                at("/metadata/name").to_owned(),
            );
            rows.push((key, text));
        }
        Ok(())
    })?;
    // API servers list in this order already; a server that does not still
    // gets kubectl's.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Rows(rows))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_board_serialises_its_rows_as_they_were_written() {
        let row = |ns: &str, name: &str, v: Value| {
            let text = serde_json::value::to_raw_value(&v).unwrap();
            ((ns.to_owned(), name.to_owned()), text)
        };
        let rows = Rows(vec![
            row(
                "a",
                "x",
                serde_json::json!({"pod_name": "x", "pod_restart": "0"}),
            ),
            row("b", "y", serde_json::json!({"pod_name": "y"})),
        ]);
        let text = serde_json::to_string(&Board::from(rows)).unwrap();
        assert_eq!(
            text,
            r#"{"total":2,"rows":[{"pod_name":"x","pod_restart":"0"},{"pod_name":"y"}]}"#
        );
    }
}
