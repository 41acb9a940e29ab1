//! kboss: `{"status": <bool>, "msg": "...", "data": ...}` and its pages.
//!
//! Failures answer HTTP 200 `{"status": false, "msg": ..., "detail": ...}`
//! as the document shows them ([`from_error`]): `msg` is the document's
//! text where it gives one (`无算力中心ID`, `该部件已存在,请前往编辑!`,
//! `算力中心服务操作失败`), otherwise a fixed text per kind of failure
//! ([`INVALID`], [`NOT_FOUND`], [`CONFLICT`], [`FAILED`]); `detail` says which
//! parameter and why.
//!
//! Lists take `page` (1-based), `rows` (page size) and `sort` and answer
//! `data: {"total": n, "rows": [...]}`, each row carrying `row_num_`, its
//! 1-based position across pages (`offset + i + 1`):
//!
//! ```
//! # use computehub_sdk::{Params, envelope::kboss};
//! let params = Params::from_parts(&[], "page=2&rows=2&sort=name%20desc", None, b"").unwrap();
//! let paging = kboss::Paging::from_params(&params).unwrap();
//! assert_eq!((paging.offset(), paging.limit()), (2, 2));
//! let order = paging.order_by(&["name", "created-at"]).unwrap();
//! assert!(order[0].descending);
//! let data = kboss::page_data(5, vec![serde_json::json!({"id": "a"})], paging.offset());
//! assert_eq!(data["rows"][0]["row_num_"], 3);
//! ```

use serde::Serialize;

use crate::bindings::computehub::platform::inventory::{Order, RowQuery};
use crate::error::ApiError;
use crate::params::{ParamError, Params};
use crate::{response, Response};

/// Page size when `rows` is absent.
pub const DEFAULT_ROWS: u32 = 80;
/// Largest accepted page size (the inventory's own cap).
pub const MAX_ROWS: u32 = 10_000;
/// Most keys `sort` may list (more is refused naming `sort`; the host's
/// store refuses more than 16 order terms of any query).
pub const MAX_SORT_KEYS: usize = 8;

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    status: bool,
    msg: &'a str,
    data: &'a T,
}

#[derive(Serialize)]
struct Failure<'a> {
    status: bool,
    msg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The document's text for a missing compute center id (`update_cpclist`,
/// `get_cpcnode`); every missing `cpcid` answers it.
pub const NO_CENTER_ID: &str = "无算力中心ID";
/// The document's text for a failed operation of the compute center's
/// service (`cpccluster/new_cluster`); kboss answers it for every failure
/// of a cluster, a machine or the platform beneath.
pub const FAILED: &str = "算力中心服务操作失败";
/// A parameter was refused (no document text; `detail` names it).
pub const INVALID: &str = "参数错误";
/// What a parameter names does not exist (or is another organisation's).
pub const NOT_FOUND: &str = "记录不存在";
/// The request conflicts with what is stored.
pub const CONFLICT: &str = "操作冲突";
/// The caller is not authenticated.
pub const UNAUTHORIZED: &str = "认证失败";

/// The OpenAPI description of a kboss route's 200 answer, which is also
/// every documented failure's.
pub const RESPONSE_200: &str = "`{status: true, msg, data}`. Every documented failure (a refused \
parameter, a missing record, a conflict, a failed operation) also answers HTTP 200, as the \
document shows: `{status: false, msg, detail}`, `msg` the document's text where it gives one \
(`无算力中心ID`, `该部件已存在,请前往编辑!`, `算力中心服务操作失败`), otherwise a fixed text \
per case (`参数错误`, `<record>不存在`, ...), `detail` which parameter and why. Only the \
host's own answers use other statuses (401/403 authentication, 413, 408/503 for bodies, 500/503 \
for a plugin trap or deadline), in this envelope.";

/// The JSON Schema of a kboss answer: the success envelope or the failure.
pub fn response_schema() -> serde_json::Value {
    serde_json::json!({"oneOf": [
        {"type": "object", "required": ["status", "msg", "data"], "properties": {
            "status": {"const": true}, "msg": {"type": "string"}, "data": {}}},
        {"type": "object", "required": ["status", "msg"], "properties": {
            "status": {"const": false}, "msg": {"type": "string"},
            "detail": {"type": "string"}, "data": {}}},
    ]})
}

/// `200 {"status": true, "msg": msg, "data": data}`.
pub fn ok<T: Serialize + ?Sized>(msg: &str, data: &T) -> Response {
    response::json(
        200,
        &Envelope {
            status: true,
            msg,
            data,
        },
    )
}

/// `{"status": false, "msg": msg}` with HTTP `http_status`.
pub fn fail(http_status: u16, msg: &str) -> Response {
    response::json(
        http_status,
        &Failure {
            status: false,
            msg,
            detail: None,
        },
    )
}

/// `200 {"status": false, "msg": msg, "detail": detail}`, the way the
/// document answers a failure (`detail` left out when empty).
pub fn refuse(msg: &str, detail: &str) -> Response {
    response::json(
        200,
        &Failure {
            status: false,
            msg,
            detail: (!detail.is_empty()).then_some(detail),
        },
    )
}

/// The `msg` an error answers: its documented text, otherwise the fixed
/// text of its kind.
pub fn text_of(err: &ApiError) -> &str {
    if let Some(text) = err.text() {
        return text;
    }
    match err {
        ApiError::Param(ParamError::Missing { name }) if name == "cpcid" => NO_CENTER_ID,
        ApiError::Param(_) | ApiError::BadRequest(_) => INVALID,
        ApiError::NotFound(_) => NOT_FOUND,
        ApiError::Conflict(_) => CONFLICT,
        ApiError::Unauthorized(_) => UNAUTHORIZED,
        _ => FAILED,
    }
}

/// Renders an [`ApiError`] as the document does: HTTP 200 (authentication
/// and the statuses of [`super::failure_status`] keep theirs),
/// `{"status": false, "msg": <documented text>, "detail": <which field, why>}`.
pub fn from_error(err: &ApiError) -> Response {
    let detail = err.detail();
    response::json(
        super::failure_status(err),
        &Failure {
            status: false,
            msg: text_of(err),
            detail: Some(&detail),
        },
    )
}

/// `{"total": total, "rows": rows}` where every object row gets
/// `row_num_ = offset + i + 1` (appended last, as the seeds show it).
pub fn page_data(
    total: u64,
    rows: impl IntoIterator<Item = serde_json::Value>,
    offset: u32,
) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .zip(u64::from(offset) + 1..)
        .map(|(mut row, num)| {
            if let serde_json::Value::Object(fields) = &mut row {
                fields.insert("row_num_".to_owned(), num.into());
            }
            row
        })
        .collect();
    crate::object! { "total" => total, "rows" => rows }
}

/// `200 {"status": true, "msg": msg, "data": {"total", "rows"}}` for one page.
pub fn page(
    msg: &str,
    total: u64,
    rows: impl IntoIterator<Item = serde_json::Value>,
    paging: &Paging,
) -> Response {
    ok(msg, &page_data(total, rows, paging.offset()))
}

/// Exact decimal text (`"0.005"`, `"64.08"`) as a JSON number, the way the
/// kboss examples show money (`"unit_price": 0.005`). The number keeps the
/// text exactly (no float on the way); text that is not a plain decimal
/// stays a JSON string.
pub fn decimal(text: &str) -> serde_json::Value {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    match text.parse::<serde_json::Number>() {
        Ok(n) if plain => serde_json::Value::Number(n),
        _ => serde_json::Value::String(text.to_owned()),
    }
}

/// A row followed by its `row_num_`, for [`page_of`].
#[derive(Serialize)]
struct Numbered<'a, T> {
    #[serde(flatten)]
    row: &'a T,
    row_num_: u64,
}

#[derive(Serialize)]
struct PageData<'a, T> {
    total: u64,
    rows: Vec<Numbered<'a, T>>,
}

/// [`page`] for rows of any type that serialises as a map (a struct, or a
/// borrowed view of inventory rows): each row is written straight into the
/// body with `row_num_` after its fields, without building a JSON tree
/// first, which matters for pages of many rows.
pub fn page_of<T: Serialize>(msg: &str, total: u64, rows: &[T], paging: &Paging) -> Response {
    let rows = rows
        .iter()
        .zip(u64::from(paging.offset()) + 1..)
        .map(|(row, row_num_)| Numbered { row, row_num_ })
        .collect();
    ok(msg, &PageData { total, rows })
}

/// One `sort` key: a field name and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field as the client named it.
    pub field: String,
    /// `desc` (or a leading `-`).
    pub descending: bool,
}

/// The paging parameters of a kboss list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// 1-based page number.
    pub page: u32,
    /// Page size.
    pub rows: u32,
    /// Sort keys, most significant first; empty when `sort` is absent.
    pub sort: Vec<SortKey>,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            page: 1,
            rows: DEFAULT_ROWS,
            sort: Vec::new(),
        }
    }
}

impl Paging {
    /// Reads `page` (default 1), `rows` (default [`DEFAULT_ROWS`], at most
    /// [`MAX_ROWS`]) and `sort`.
    ///
    /// `sort` is a comma-separated list of at most [`MAX_SORT_KEYS`] keys,
    /// each `field`, `field asc`, `field desc` or `-field`.
    pub fn from_params(params: &Params) -> Result<Self, ParamError> {
        let page = params.optional_u32("page")?.unwrap_or(1);
        if page == 0 {
            return Err(ParamError::invalid("page", "an integer from 1", "0"));
        }
        let rows = params.optional_u32("rows")?.unwrap_or(DEFAULT_ROWS);
        if rows == 0 || rows > MAX_ROWS {
            return Err(ParamError::invalid(
                "rows",
                "an integer from 1 to 10000",
                &rows.to_string(),
            ));
        }
        let sort = match params.optional_str("sort")? {
            Some(text) => parse_sort(text)?,
            None => Vec::new(),
        };
        Ok(Paging { page, rows, sort })
    }

    /// Rows to skip: `(page - 1) * rows`.
    pub fn offset(&self) -> u32 {
        self.page.saturating_sub(1).saturating_mul(self.rows)
    }

    /// Rows to take.
    pub fn limit(&self) -> u32 {
        self.rows
    }

    /// The sort keys as an inventory order, refusing fields not in
    /// `allowed` (so clients cannot sort on secrets or unknown columns).
    pub fn order_by(&self, allowed: &[&str]) -> Result<Vec<Order>, ParamError> {
        self.sort
            .iter()
            .map(|key| {
                if allowed.contains(&key.field.as_str()) {
                    Ok(Order {
                        field: key.field.clone(),
                        descending: key.descending,
                    })
                } else {
                    Err(ParamError::invalid("sort", "a sortable field", &key.field))
                }
            })
            .collect()
    }

    /// An inventory query for this page: limit, offset and the sort keys
    /// (refusing fields not in `sortable`). Add conditions with
    /// [`RowQuery::filter`] / [`RowQuery::eq`].
    pub fn query(&self, sortable: &[&str]) -> Result<RowQuery, ParamError> {
        Ok(RowQuery {
            conditions: Vec::new(),
            order_by: self.order_by(sortable)?,
            limit: Some(self.limit()),
            offset: self.offset(),
        })
    }
}

fn parse_sort(text: &str) -> Result<Vec<SortKey>, ParamError> {
    let mut keys = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if keys.len() == MAX_SORT_KEYS {
            return Err(ParamError::too_many("sort", MAX_SORT_KEYS, "sort keys"));
        }
        let mut words = item.split_whitespace();
        let (field, descending) = match (words.next(), words.next(), words.next()) {
            (Some(field), None, None) => match field.strip_prefix('-') {
                Some(field) => (field, true),
                None => (field, false),
            },
            (Some(field), Some(dir), None) if dir.eq_ignore_ascii_case("asc") => (field, false),
            (Some(field), Some(dir), None) if dir.eq_ignore_ascii_case("desc") => (field, true),
            _ => {
                return Err(ParamError::invalid(
                    "sort",
                    "`field`, `field asc` or `field desc`",
                    item,
                ))
            }
        };
        let valid = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ParamError::invalid("sort", "a field name", item));
        }
        keys.push(SortKey {
            field: field.to_owned(),
            descending,
        });
    }
    Ok(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn paging(query: &str) -> Result<Paging, ParamError> {
        Paging::from_params(&Params::from_parts(&[], query, None, b"").unwrap())
    }

    #[test]
    fn defaults_and_offsets() {
        let p = paging("").unwrap();
        assert_eq!(p, Paging::default());
        assert_eq!(p.offset(), 0);
        let p = paging("page=3&rows=10").unwrap();
        assert_eq!((p.offset(), p.limit()), (20, 10));
        assert!(paging("page=0").is_err());
        assert!(paging("rows=0").is_err());
        assert!(paging("rows=10001").is_err());
        assert_eq!(
            paging("page=x").unwrap_err().to_string(),
            "parameter `page` must be an integer, got `x`"
        );
    }

    #[test]
    fn sort_forms() {
        let p = paging("sort=name,-created_at,%20ip%20DESC%20,id+asc").unwrap();
        let keys: Vec<(&str, bool)> = p
            .sort
            .iter()
            .map(|k| (k.field.as_str(), k.descending))
            .collect();
        assert_eq!(
            keys,
            [
                ("name", false),
                ("created_at", true),
                ("ip", true),
                ("id", false)
            ]
        );
        assert!(paging("sort=name%20sideways").is_err());
        let eight = ["name"; MAX_SORT_KEYS].join(",");
        assert_eq!(paging(&format!("sort={eight}")).unwrap().sort.len(), 8);
        let many = ["name"; 2000].join(",");
        let e = paging(&format!("sort={many}")).unwrap_err();
        assert_eq!(e.field(), Some("sort"));
        assert_eq!(
            e.to_string(),
            "parameter `sort` may hold at most 8 sort keys"
        );
        let nine = ["name"; MAX_SORT_KEYS + 1].join(",");
        assert!(paging(&format!("sort={nine}")).is_err());
        assert!(paging("sort=na;me").is_err());
        let p = paging("sort=password").unwrap();
        assert!(p.order_by(&["name"]).is_err());
        assert!(p.query(&["name"]).is_err());
        let q = paging("page=2&rows=5&sort=-name")
            .unwrap()
            .query(&["name"])
            .unwrap();
        assert_eq!((q.limit, q.offset, q.order_by.len()), (Some(5), 5, 1));
    }

    #[test]
    fn typed_pages_match_json_pages() {
        #[derive(Serialize)]
        struct R<'a> {
            id: &'a str,
            n: i64,
        }
        let p = paging("page=2&rows=2").unwrap();
        let typed = page_of("ok", 3, &[R { id: "c", n: 1 }], &p);
        let json = page("ok", 3, vec![serde_json::json!({"id": "c", "n": 1})], &p);
        assert_eq!(typed.body, json.body);
        assert_eq!(
            String::from_utf8(typed.body).unwrap(),
            r#"{"status":true,"msg":"ok","data":{"total":3,"rows":[{"id":"c","n":1,"row_num_":3}]}}"#
        );
    }

    #[test]
    fn decimals_render_as_exact_numbers() {
        let v = serde_json::json!({"a": decimal("0.0004"), "b": decimal("64.08"),
            "c": decimal("6"), "d": decimal("n/a"), "e": decimal("0.1000000000000000055511")});
        assert_eq!(
            v.to_string(),
            r#"{"a":0.0004,"b":64.08,"c":6,"d":"n/a","e":0.1000000000000000055511}"#
        );
    }

    #[test]
    fn rows_are_numbered_across_pages() {
        let p = paging("page=2&rows=2").unwrap();
        let r = page("ok", 3, vec![serde_json::json!({"id": "c"})], &p);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": true, "msg": "ok",
                "data": {"total": 3, "rows": [{"id": "c", "row_num_": 3}]}})
        );
        let v: serde_json::Value = serde_json::from_slice(&fail(400, "无算力中心ID").body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": false, "msg": "无算力中心ID"})
        );
    }

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn failures_answer_200_with_the_documented_text_and_a_detail() {
        let missing: ApiError = ParamError::Missing {
            name: "cpcid".into(),
        }
        .into();
        let r = from_error(&missing);
        assert_eq!(r.status, 200);
        assert_eq!(
            body(&r),
            serde_json::json!({"status": false, "msg": "无算力中心ID",
                "detail": "parameter `cpcid` is required"})
        );
        let exists = ApiError::documented(
            "该部件已存在,请前往编辑!",
            ApiError::Conflict("a cpu component `X` exists".into()),
        );
        let r = from_error(&exists);
        assert_eq!(r.status, 200);
        assert_eq!(body(&r)["msg"], "该部件已存在,请前往编辑!");
        assert_eq!(body(&r)["detail"], "a cpu component `X` exists");
        for (e, msg) in [
            (ApiError::BadRequest("parameter `ip` ...".into()), INVALID),
            (ApiError::NotFound("no `x`".into()), NOT_FOUND),
            (ApiError::Conflict("taken".into()), CONFLICT),
            (ApiError::BadGateway("ssh: unreachable".into()), FAILED),
            (ApiError::Forbidden("outside ssh-targets".into()), FAILED),
            (ApiError::status_message(422, "too small"), FAILED),
        ] {
            let r = from_error(&e);
            assert_eq!(
                (r.status, body(&r)["msg"].as_str()),
                (200, Some(msg)),
                "{e}"
            );
            assert_eq!(body(&r)["detail"], e.to_string());
        }
        let r = from_error(&ApiError::Unauthorized("authentication required".into()));
        assert_eq!(
            (r.status, body(&r)["msg"].as_str()),
            (401, Some(UNAUTHORIZED))
        );
        assert_eq!(
            body(&refuse("算力中心服务操作失败", "")),
            serde_json::json!({"status": false, "msg": "算力中心服务操作失败"})
        );
    }
}
