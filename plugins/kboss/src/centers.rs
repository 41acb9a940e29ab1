//! Compute centers (`cpclist`): list, add, update, delete. The API password
//! (`api_pwd`) is sealed by the host and always answered as `******`.

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Field, RowQuery};
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::{Map, Value as Json};

use crate::common::*;

const SORTABLE: &[&str] = &[
    "name",
    "pcapi_url",
    "api_user",
    "contactname",
    "contactphone",
    "enable_date",
    "expire_date",
    "created_at",
    "update_time",
];

/// `GET cpclist/get_cpclist.dspy`: the caller's centers, one page.
pub fn list(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let paging = Paging::from_params(p)?;
    let q = page_query(&paging, SORTABLE, &[("created_at", false)])?;
    let page = inventory::query(CENTERS, &q)?;
    let rows = page.rows.iter().map(|r| {
        let mut m = object(r, true, &["name"]);
        m.insert("orgid".into(), Json::String(org.to_owned()));
        for f in [
            "pcapi_url",
            "api_user",
            "api_pwd",
            "enable_date",
            "expire_date",
            "contactname",
            "contactphone",
        ] {
            m.insert(f.into(), json_of(r, f));
        }
        // In the document's field table: the organisation's display text;
        // an organisation here is known by its id alone.
        m.insert("orgid_text".into(), Json::String(org.to_owned()));
        Json::Object(m)
    });
    Ok(kboss::page(
        "算力中心数据查询成功",
        page.total,
        rows,
        &paging,
    ))
}

/// The validated fields of an add or update, and their echo.
struct Center<'a> {
    name: &'a str,
    pcapi_url: &'a str,
    api_user: &'a str,
    api_pwd: Option<inventory::Value>,
    contactname: &'a str,
    contactphone: &'a str,
    enable_date: Option<&'a str>,
    expire_date: Option<&'a str>,
}

fn url<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = limit(field, p.required_str(field)?.trim(), 2048)?;
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !v.contains(char::is_whitespace) => Ok(v),
        _ => Err(bad(field, "an http:// or https:// URL", v)),
    }
}

fn phone<'a>(p: &'a Params, field: &str) -> Result<&'a str, ApiError> {
    let v = present(p, field)?;
    let ok = v.len() <= 32
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if ok {
        Ok(v)
    } else {
        Err(bad(field, "a phone number", v))
    }
}

fn read(p: &Params) -> Result<Center<'_>, ApiError> {
    Ok(Center {
        name: name(p, "name")?,
        pcapi_url: url(p, "pcapi_url")?,
        api_user: text(p, "api_user")?,
        api_pwd: secret(p, "api_pwd")?,
        contactname: text(p, "contactname")?,
        contactphone: phone(p, "contactphone")?,
        enable_date: date(p, "enable_date")?,
        expire_date: date(p, "expire_date")?,
    })
}

impl Center<'_> {
    fn fields(&self) -> Vec<Field> {
        let mut f = vec![
            inventory::field("name", self.name),
            inventory::field("pcapi_url", self.pcapi_url),
            inventory::field("api_user", self.api_user),
            inventory::field("contactname", self.contactname),
            inventory::field("contactphone", self.contactphone),
            inventory::field("enable_date", self.enable_date),
            inventory::field("expire_date", self.expire_date),
        ];
        if let Some(pwd) = &self.api_pwd {
            f.push(inventory::field("api_pwd", pwd.clone()));
        }
        f
    }

    /// The answer's `data`, keys in the documented (alphabetical) order.
    fn echo(&self, id: &str, orgid: Option<&str>) -> Json {
        let mut m = Map::new();
        m.insert("api_pwd".into(), Json::String(REDACTED.into()));
        m.insert("api_user".into(), echo(Some(self.api_user)));
        m.insert("contactname".into(), echo(Some(self.contactname)));
        m.insert("contactphone".into(), echo(Some(self.contactphone)));
        m.insert("enable_date".into(), echo(self.enable_date));
        m.insert("expire_date".into(), echo(self.expire_date));
        if orgid.is_none() {
            m.insert("id".into(), Json::String(id.into()));
        }
        m.insert("name".into(), echo(Some(self.name)));
        if let Some(org) = orgid {
            m.insert("orgid".into(), Json::String(org.into()));
        }
        m.insert("pcapi_url".into(), echo(Some(self.pcapi_url)));
        if orgid.is_some() {
            m.insert("id".into(), Json::String(id.into()));
        }
        Json::Object(m)
    }
}

fn conflict(e: ApiError) -> ApiError {
    match e {
        e @ ApiError::Conflict(_) => because("算力中心名称已存在", e),
        other => other,
    }
}

/// `POST cpclist/add_cpclist.dspy`.
pub fn add(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let c = read(p)?;
    if c.api_pwd.is_none() {
        return Err(bad("api_pwd", "a password", REDACTED));
    }
    let row = inventory::insert(CENTERS, &c.fields()).map_err(|e| conflict(e.into()))?;
    Ok(kboss::ok("新建算力中心成功", &c.echo(&row.id, Some(org))))
}

/// `POST cpclist/update_cpclist.dspy`: every field is sent again.
pub fn update(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let id = required_as(p, "id", "无算力中心ID")?;
    let c = read(p)?;
    must_get(CENTERS, "id", id, "算力中心")?;
    let row = inventory::update(CENTERS, id, &c.fields()).map_err(|e| conflict(e.into()))?;
    Ok(kboss::ok("更新算力中心成功", &c.echo(&row.id, None)))
}

/// `POST cpclist/delete_cpclist.dspy`: refused while devices, clusters or
/// components still belong to the center.
pub fn delete(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let id = required_as(p, "id", "无算力中心ID")?;
    must_get(CENTERS, "id", id, "算力中心")?;
    for (collection, what) in [
        (DEVICES, "算力设备"),
        (CLUSTERS, "算力集群"),
        (WIDGETS, "算力部件"),
    ] {
        let n = inventory::query(collection, &RowQuery::new().eq("cpcid", id).limit(1))?.total;
        if n > 0 {
            return Err(because(
                &format!("算力中心仍有{what},请先移除"),
                ApiError::Conflict(format!(
                    "compute center `{id}` still has {n} {}",
                    match what {
                        "算力设备" => "devices",
                        "算力集群" => "clusters",
                        _ => "components",
                    }
                )),
            ));
        }
    }
    inventory::delete(CENTERS, id)?;
    Ok(kboss::ok(
        "删除算力中心成功",
        &serde_json::json!({ "id": id, "orgid": org }),
    ))
}
