//! `GET cpcwidget/accrual_price.dspy`: the price of a combination of
//! components for a duration, computed by the active pricing engine through
//! the `pricing` capability (so an operator's engine swap changes it).
//!
//! The center's components are the offers; with `clusterid`, each offer
//! carries that cluster's available stock and the engine refuses items
//! beyond it. Items it cannot price come back as `{resource_type, error}`
//! rows beside the priced ones, with `status: false` and the first error as
//! `msg`, as the document's failure examples show (HTTP 200, as every
//! example).
//!
//! `resources` is typed `array[string]`, each item a JSON object: it is
//! read in every form a list arrives in ([`Params::items`]): one JSON array,
//! or the parameter repeated with one item each (`resources={..}&resources={..}`,
//! also `resources[]=`), in the query string, a form or a JSON body.

use computehub_sdk::envelope::kboss;
use computehub_sdk::inventory::{RowQuery, RowRef};
use computehub_sdk::pricing::{self, Item, Offer, QuoteRequest};
use computehub_sdk::{response, ApiError, ParamError, Params, Request, Response};
use serde::Serialize;
use serde_json::Value as Json;

use crate::common::*;

/// Most items one quote prices.
const MAX_ITEMS: usize = 100;
/// Longest quoted duration, in its own unit.
const MAX_DURATION: u64 = 100_000;
const DURATION_UNITS: &[&str] = &[
    "小时", "天", "周", "月", "hour", "day", "week", "month", "hours", "days", "weeks", "months",
];
const NO_SUCH_TYPE: &str = "没有该类型组件";

/// One requested component.
struct Wanted {
    kind: String,
    model: String,
    amount: u64,
}

/// The unit each type's `amount` arrives in (memory always in Mi).
fn request_unit(kind: &str) -> &'static str {
    match kind {
        "cpu" => "核",
        "memory" => "Mi",
        "disk" => "Gi",
        _ => "卡",
    }
}

fn resources(p: &Params) -> Result<Vec<Wanted>, ApiError> {
    let list: Vec<Json> = p.items("resources")?.ok_or_else(|| ParamError::Missing {
        name: "resources".into(),
    })?;
    if list.is_empty() || list.len() > MAX_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "parameter `resources` must hold 1 to {MAX_ITEMS} components"
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| format!("resources[{i}].{name}");
            let get = |name: &str| item.get(name).filter(|v| !v.is_null());
            let kind = match get("type").and_then(Json::as_str) {
                Some(k @ ("cpu" | "memory" | "disk" | "gpu")) => k.to_owned(),
                Some(other) => return Err(bad(&field("type"), "cpu, memory, disk or gpu", other)),
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "parameter `{}` is required",
                        field("type")
                    )))
                }
            };
            let model = match get("model").and_then(Json::as_str).map(str::trim) {
                Some(m) if !m.is_empty() => limit(&field("model"), m, 255)?.to_owned(),
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "parameter `{}` is required",
                        field("model")
                    )))
                }
            };
            let amount = match get("amount") {
                Some(Json::Number(n)) => n.as_u64(),
                Some(Json::String(s)) => s.trim().parse::<u64>().ok(),
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "parameter `{}` is required",
                        field("amount")
                    )))
                }
                Some(_) => None,
            };
            let amount = amount.filter(|a| *a <= 1 << 40).ok_or_else(|| {
                let got = get("amount").map(Json::to_string).unwrap_or_default();
                bad(&field("amount"), "an integer of 0 or more", &got)
            })?;
            Ok(Wanted {
                kind,
                model,
                amount,
            })
        })
        .collect()
}

/// The widget columns a quote reads.
const OFFER_COLUMNS: &[&str] = &[
    "type",
    "model",
    "unit_price",
    "resource_unit",
    "charge_unit",
    "account_unit",
];

fn offer(w: &RowRef<'_>, stock: Option<u64>) -> Offer {
    let text = |f: &str| w.text(f).unwrap_or_default().to_owned();
    Offer {
        id: w.id.to_owned(),
        kind: text("type"),
        model: text("model"),
        unit_price: text("unit_price"),
        resource_unit: text("resource_unit"),
        charge_unit: text("charge_unit"),
        account_unit: text("account_unit"),
        stock,
    }
}

pub fn accrual_price(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let wanted = resources(p)?;
    let duration = p.required_u64("duration")?;
    if duration == 0 || duration > MAX_DURATION {
        return Err(bad(
            "duration",
            &format!("an integer from 1 to {MAX_DURATION}"),
            &duration.to_string(),
        ));
    }
    let unit = one_of(p, "duration_unit", DURATION_UNITS)?;
    let clusterid = optional_text(p, "clusterid")?;
    let table = all_columns(WIDGETS, RowQuery::new().eq("cpcid", cpcid), OFFER_COLUMNS)?;
    let widgets: Vec<RowRef<'_>> = table.rows().collect();
    if widgets.is_empty() {
        // No components: an empty center, or none of the caller's (404).
        center(cpcid)?;
    }
    if let Some(c) = clusterid {
        cluster_of(cpcid, "clusterid", c)?;
    }

    let stock = match clusterid {
        Some(c) => Some(all(STOCK, RowQuery::new().eq("clusterid", c))?),
        None => None,
    };
    let offers = widgets
        .iter()
        .map(|w| {
            let available = stock.as_ref().map(|rows| {
                rows.iter()
                    .filter(|s| s.text("widgetid") == Some(w.id))
                    .map(|s| s.integer("stock").unwrap_or(0) - s.integer("consumed").unwrap_or(0))
                    .sum::<i64>()
                    .max(0) as u64
            });
            offer(w, available)
        })
        .collect();
    let request = QuoteRequest {
        items: wanted
            .iter()
            .map(|w| Item {
                kind: w.kind.clone(),
                model: w.model.clone(),
                amount: w.amount.to_string(),
                unit: request_unit(&w.kind).to_owned(),
            })
            .collect(),
        offers,
        duration: duration.to_string(),
        duration_unit: unit.to_owned(),
        account_unit: "元".to_owned(),
    };
    let quote = pricing::quote(&request)?;

    let duration_text = duration.to_string();
    let mut details = Vec::with_capacity(quote.lines.len());
    let mut first_error: Option<&str> = None;
    // Every refused item's reason is "no such type".
    let mut all_missing = true;
    for (line, want) in quote.lines.iter().zip(&wanted) {
        if let Some(error) = &line.error {
            first_error = first_error.or(Some(error.as_str()));
            all_missing &= error == NO_SUCH_TYPE;
            details.push(Detail::Refused {
                resource_type: &want.kind,
                error,
            });
            continue;
        }
        let widget = widgets
            .iter()
            .find(|w| line.offer_id.as_deref() == Some(w.id));
        details.push(Detail::Priced {
            resource_name: format!("{} {}", want.kind, want.model),
            resource_type: &want.kind,
            amount: want.amount,
            resource_unit: widget.and_then(|w| w.text("resource_unit")).unwrap_or(""),
            unit_price: kboss::decimal(&line.unit_price),
            duration: &duration_text,
            duration_unit: unit,
            subtotal: kboss::decimal(&line.price),
        });
    }
    // The document's all-missing example shows `duration` as a number.
    let shown_duration = if first_error.is_some() && all_missing {
        Duration::Number(duration)
    } else {
        Duration::Text(&duration_text)
    };
    let data = Quote {
        total_price: kboss::decimal(&quote.total),
        currency: "元",
        price_details: details,
        status: first_error.is_none(),
        message: first_error.unwrap_or("汇算正常"),
        duration: shown_duration,
        duration_unit: unit,
    };
    Ok(response::json(
        200,
        &Answer {
            status: first_error.is_none(),
            msg: first_error.unwrap_or("获取部件组合价格成功"),
            data,
        },
    ))
}

/// The answer, written straight into the body in the document's field
/// order (no JSON tree built first: `json!` would copy every value it is
/// given into a new tree).
#[derive(Serialize)]
struct Answer<'a> {
    status: bool,
    msg: &'a str,
    data: Quote<'a>,
}

#[derive(Serialize)]
struct Quote<'a> {
    total_price: Json,
    currency: &'a str,
    price_details: Vec<Detail<'a>>,
    status: bool,
    message: &'a str,
    duration: Duration<'a>,
    duration_unit: &'a str,
}

/// One item's line: priced, or the engine's reason it could not be.
// At most `MAX_ITEMS` of them live for one answer: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize)]
#[serde(untagged)]
enum Detail<'a> {
    Priced {
        resource_name: String,
        resource_type: &'a str,
        amount: u64,
        resource_unit: &'a str,
        unit_price: Json,
        duration: &'a str,
        duration_unit: &'a str,
        subtotal: Json,
    },
    Refused {
        resource_type: &'a str,
        error: &'a str,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum Duration<'a> {
    Text(&'a str),
    Number(u64),
}
