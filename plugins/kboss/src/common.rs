//! What every kboss handler shares: the collections, the validation of the
//! documented parameters (each failure names its field), lookups of the
//! caller's own rows, paging and the wire forms of rows.

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Order, Record, Row, RowQuery, Value};
use computehub_sdk::names;
use computehub_sdk::{ApiError, ParamError, Params, Request};
use serde_json::{Map, Value as Json};

pub const CENTERS: &str = "compute_centers";
pub const DEVICES: &str = "devices";
pub const CLUSTERS: &str = "clusters";
pub const LABELS: &str = "labels";
pub const WIDGETS: &str = "widgets";
pub const STOCK: &str = "widget_stock";

/// How the secrets this area stores are shown.
pub const REDACTED: &str = inventory::REDACTED;

/// Longest accepted text parameter, unless a field says otherwise.
const MAX_TEXT: usize = 255;

/// The caller's organisation (session routes always have one).
pub fn org(req: &Request) -> Result<&str, ApiError> {
    req.organisation()
        .ok_or_else(|| ApiError::Unauthorized("authentication required".into()))
}

/// A bad value for `field`: `参数错误`, the detail naming it.
pub fn bad(field: &str, expected: &str, got: &str) -> ApiError {
    let got: String = got.chars().take(64).collect();
    ApiError::BadRequest(format!(
        "parameter `{field}` must be {expected}, got `{got}`"
    ))
}

/// A required parameter whose absence answers the documented text
/// (`无算力中心ID`), the detail naming the parameter.
pub fn required_as<'a>(p: &'a Params, field: &str, documented: &str) -> Result<&'a str, ApiError> {
    match p.required_str(field) {
        Ok(v) => Ok(v.trim()),
        Err(e @ ParamError::Missing { .. }) => Err(ApiError::documented(documented, e.into())),
        Err(e) => Err(e.into()),
    }
}

/// `cause` answered with the fixed text `msg` (the detail is the cause).
pub fn because(msg: &str, cause: ApiError) -> ApiError {
    ApiError::documented(msg, cause)
}

/// A required text parameter, trimmed, at most `MAX_TEXT` characters.
pub fn text<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = p.required_str(field)?.trim();
    limit(field, v, MAX_TEXT)
}

/// A text parameter that must be present but may be empty.
pub fn present<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    match p.optional_str(field)? {
        Some(v) => limit(field, v.trim(), MAX_TEXT),
        None => Err(ParamError::Missing {
            name: field.to_owned(),
        }
        .into()),
    }
}

/// An optional text parameter, trimmed; blank is absent.
pub fn optional_text<'a>(p: &'a Params, field: &str) -> Result<Option<&'a str>, ApiError> {
    match p.optional_str(field)?.map(str::trim) {
        Some("") | None => Ok(None),
        Some(v) => limit(field, v, MAX_TEXT).map(Some),
    }
}

pub fn limit<'a>(field: &str, v: &'a str, max: usize) -> Result<&'a str, ApiError> {
    if v.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "parameter `{field}` must be at most {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "parameter `{field}` must not contain control characters"
        )));
    }
    Ok(v)
}

/// A required display name (devices, labels, clusters, centers): letters
/// and digits of any script, spaces and a few punctuation marks, never a
/// shell metacharacter ([`names::display_name_ok`]), checked before it is
/// stored, so nothing stored can later reach a command or a cluster as
/// anything but a name.
pub fn name<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = text(p, field)?;
    check_name(field, v)
}

/// [`name`] for a value already read.
pub fn check_name<'a>(field: &str, v: &'a str) -> Result<&'a str, ApiError> {
    if names::display_name_ok(v) {
        Ok(v)
    } else {
        Err(bad(field, names::DISPLAY_RULE, v))
    }
}

/// A required SSH login name ([`names::login_name_ok`]).
pub fn login<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = text(p, field)?;
    if names::login_name_ok(v) {
        Ok(v)
    } else {
        Err(bad(field, names::LOGIN_RULE, v))
    }
}

/// A required parameter that is one of `allowed`.
pub fn one_of<'a>(p: &'a Params, field: &str, allowed: &[&str]) -> Result<&'a str, ApiError> {
    let v = p.required_str(field)?.trim();
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(bad(field, &format!("one of {}", allowed.join(", ")), v))
    }
}

/// A required non-negative integer (stocks, amounts).
pub fn count(p: &Params, field: &str) -> Result<i64, ApiError> {
    let n = p.required_i64(field)?;
    if n < 0 {
        return Err(bad(field, "an integer of 0 or more", &n.to_string()));
    }
    Ok(n)
}

/// An SSH port, 1-65535.
pub fn port(p: &Params, field: &str) -> Result<i64, ApiError> {
    let n = p.required_i64(field)?;
    if !names::port_ok(n) {
        return Err(bad(field, "a port from 1 to 65535", &n.to_string()));
    }
    Ok(n)
}

/// An IPv4 or IPv6 address.
pub fn ip<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = p.required_str(field)?.trim();
    check_ip(field, v)
}

pub fn check_ip<'a>(field: &str, v: &'a str) -> Result<&'a str, ApiError> {
    if names::ip_ok(v) {
        Ok(v)
    } else {
        Err(bad(field, "an IP address", v))
    }
}

/// An optional `YYYY-MM-DD` date.
pub fn date<'a>(p: &'a Params, field: &str) -> Result<Option<&'a str>, ApiError> {
    let Some(v) = optional_text(p, field)? else {
        return Ok(None);
    };
    if valid_date(v) {
        Ok(Some(v))
    } else {
        Err(bad(field, "a date YYYY-MM-DD", v))
    }
}

fn valid_date(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(&v[..4]), num(&v[5..7]), num(&v[8..])) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&d)
}

/// A secret parameter: `Some(value)` to (re)seal, `None` when the client
/// sent back the redacted marker (keep what is stored; the document asks
/// that an update not re-encrypt an unchanged password).
pub fn secret(p: &Params, field: &str) -> Result<Option<Value>, ApiError> {
    let v = p.required_str(field)?;
    limit(field, v, 1024)?;
    Ok((v != REDACTED).then(|| Value::secret(v)))
}

/// The row `id` of `collection`, or `<what>不存在` naming the parameter.
pub fn must_get(collection: &str, field: &str, id: &str, what: &str) -> Result<Row, ApiError> {
    inventory::get(collection, id)?.ok_or_else(|| not_found(field, id, what))
}

pub fn not_found(field: &str, id: &str, what: &str) -> ApiError {
    let id: String = id.chars().take(64).collect();
    because(
        &format!("{what}不存在"),
        ApiError::NotFound(format!("parameter `{field}` names no record `{id}`")),
    )
}

/// The caller's compute center named by `cpcid`.
pub fn center(id: &str) -> Result<Row, ApiError> {
    must_get(CENTERS, "cpcid", id, "算力中心")
}

/// A cluster of the caller's center `cpcid`, named by parameter `field`.
pub fn cluster_of(cpcid: &str, field: &str, id: &str) -> Result<Row, ApiError> {
    let row = must_get(CLUSTERS, field, id, "算力集群")?;
    if row.text("cpcid") != Some(cpcid) {
        return Err(because(
            "算力集群不属于该算力中心",
            ApiError::BadRequest(format!(
                "parameter `{field}`: cluster `{id}` does not belong to compute center `{cpcid}`"
            )),
        ));
    }
    Ok(row)
}

/// A cluster row as the `kubernetes` capability names it, once installed
/// (the host opens its sealed kubeconfig; this plugin never sees it).
pub fn installed(row: &Row) -> Result<computehub_sdk::kubernetes::Cluster, ApiError> {
    if matches!(row.value("kubeconfig"), None | Some(Value::Null)) {
        return Err(not_installed(&row.id));
    }
    Ok(computehub_sdk::kubernetes::Cluster::Id(row.id.clone()))
}

/// `算力集群尚未安装`: the cluster has no kubeconfig yet.
pub fn not_installed(id: &str) -> ApiError {
    because(
        "算力集群尚未安装",
        ApiError::Conflict(format!(
            "parameter `clusterid`: cluster `{id}` has no kubeconfig yet (not installed)"
        )),
    )
}

/// A failure of the compute center's service (a cluster, a machine, the
/// platform beneath): the document's `算力中心服务操作失败`, unless the
/// error already has its own text.
pub fn service_failed(e: ApiError) -> ApiError {
    match e.text() {
        Some(_) => e,
        None => because(kboss::FAILED, e),
    }
}

/// A page query: `page`, `rows`, `sort` (only `sortable`; `update_time`
/// sorts by the host's update timestamp) or the `default` order.
pub fn page_query(
    paging: &Paging,
    sortable: &[&str],
    default: &[(&str, bool)],
) -> Result<RowQuery, ApiError> {
    let mut q = paging.query(sortable)?;
    for o in &mut q.order_by {
        if o.field == "update_time" {
            o.field = "updated_at".into();
        }
    }
    if q.order_by.is_empty() {
        q.order_by = default
            .iter()
            .map(|(field, descending)| Order {
                field: (*field).to_owned(),
                descending: *descending,
            })
            .collect();
    }
    Ok(q)
}

/// Every row of `collection` matching `q` (the host caps a query at 10,000).
pub fn all(collection: &str, q: RowQuery) -> Result<Vec<Row>, ApiError> {
    Ok(inventory::query(collection, &q.limit(10_000))?.rows)
}

/// [`all`] as a table of only `columns`.
pub fn all_columns(
    collection: &str,
    q: RowQuery,
    columns: &[&str],
) -> Result<inventory::Table, ApiError> {
    table_of(collection, &q.limit(10_000), columns)
}

/// The rows `q` matches as a table of only `columns` (their names once:
/// fewer copies into the plugin than a page of rows).
pub fn table_of(
    collection: &str,
    q: &RowQuery,
    columns: &[&str],
) -> Result<inventory::Table, ApiError> {
    let columns: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    Ok(inventory::query_table(collection, q, &columns)?)
}

/// A field of a row as JSON (secrets `"******"`; absent or `null`: `""`,
/// the examples' "none", since every field that may be missing is shown
/// as a string).
pub fn json_of(row: &Row, field: &str) -> Json {
    match row.value(field) {
        None | Some(Value::Null) => Json::String(String::new()),
        Some(v) => v.to_json(),
    }
}

/// An object with `fields` of `row` in this order, `id` first when asked.
pub fn object(row: &Row, id_first: bool, fields: &[&str]) -> Map<String, Json> {
    let mut m = Map::with_capacity(fields.len() + 1);
    if id_first {
        m.insert("id".into(), Json::String(row.id.clone()));
    }
    for f in fields {
        m.insert((*f).to_owned(), json_of(row, f));
    }
    m
}

/// One value of an [`Obj`], borrowed.
pub enum Cell<'a> {
    /// A row's field as stored (secrets `******`; `""` when absent or
    /// `null`, as [`json_of`]).
    Field(Option<&'a Value>),
    Text(&'a str),
    /// `null`, where an example shows it.
    Null,
}

impl serde::Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Field(None | Some(Value::Null)) => s.serialize_str(""),
            Cell::Field(Some(v)) => v.serialize(s),
            Cell::Text(t) => s.serialize_str(t),
            Cell::Null => s.serialize_unit(),
        }
    }
}

/// A JSON object written straight from borrowed row values, keys in the
/// order they were put: no JSON tree is built, which keeps pages of many
/// rows cheap.
#[derive(Default)]
pub struct Obj<'a>(Vec<(&'a str, Cell<'a>)>);

impl<'a> Obj<'a> {
    /// `id`, then `fields` of `row` (a page's row or a table's) in this
    /// order.
    pub fn row<R: Record + ?Sized>(row: &'a R, fields: &[&'a str]) -> Self {
        let mut v = Vec::with_capacity(fields.len() + 4);
        v.push(("id", Cell::Text(row.id())));
        for f in fields {
            v.push((*f, Cell::Field(row.value(f))));
        }
        Obj(v)
    }

    /// Appends a key.
    pub fn put(&mut self, key: &'a str, cell: Cell<'a>) {
        self.0.push((key, cell));
    }

    /// Replaces the value of `key` (appends it when absent).
    pub fn set(&mut self, key: &'a str, cell: Cell<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = cell,
            None => self.0.push((key, cell)),
        }
    }
}

impl serde::Serialize for Obj<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The host's RFC 3339 timestamp as kboss shows it: `2025-05-28 14:42:04` (UTC).
pub fn update_time(row: &Row) -> Json {
    Json::String(kboss_time(row))
}

/// [`update_time`] as text.
pub fn kboss_time(row: &Row) -> String {
    let ts = &row.updated_at;
    match (ts.get(..10), ts.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => ts.clone(),
    }
}

/// A string param echoed in an answer; `""` when absent (the examples'
/// "none", never `null`).
pub fn echo(v: Option<&str>) -> Json {
    Json::String(v.unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_names_are_checked_naming_the_field() {
        for ok in [
            "2-虚拟机ubuntu2204",
            "假算力设备",
            "INTEL(R) XEON(R) PLATINUM 8582C",
        ] {
            assert_eq!(super::check_name("name", ok).ok(), Some(ok));
        }
        for no in ["n1;reboot", "$(id)", "`id`", "a\nb", "a|b", "a'b"] {
            let e = super::check_name("name", no).err().map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .is_some_and(|m| m.starts_with("parameter `name` must be")),
                "{no:?}: {e:?}"
            );
        }
    }

    #[test]
    fn dates() {
        for ok in ["2025-05-16", "9999-12-31", "2024-02-29"] {
            assert!(super::valid_date(ok), "{ok}");
        }
        for no in [
            "2025-02-29",
            "2025-13-01",
            "2025-1-01",
            "20250516",
            "2025-05-1x",
            "",
        ] {
            assert!(!super::valid_date(no), "{no}");
        }
    }
}
