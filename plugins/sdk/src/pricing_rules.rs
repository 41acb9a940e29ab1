//! The arithmetic of a quote, for pricing engines: exact decimals, explicit
//! units, and the documented per-item failures.
//!
//! An engine receives a [`QuoteRequest`]: the items a caller wants (kind,
//! model, amount in the item's unit), the offers on sale (kboss widgets:
//! unit price per `resource-unit` per `charge-unit`, in `account-unit`), a
//! duration and the account unit of the answer. [`standard_quote`] prices
//! it; [`quote_with`] lets an engine change each line's price (a discount,
//! a night rate) while keeping the conversions and the failure rules:
//!
//! - an item whose kind has no offer: `没有该类型组件`;
//! - an item whose model has no offer of its kind: `无效的 gpu 部件型号: X`;
//! - an offer with a stock smaller than the amount:
//!   `memory Samsung DDR4 DIMMs 库存不足 (库存: 1280, 请求: 8192)`;
//! - units that do not convert into each other (Mi against 核).
//!
//! Failed items answer a [`Line`] with `error` set and do not count in the
//! total; request-level mistakes (an unknown duration unit, an amount that
//! is not a decimal) are [`Error::Invalid`].
//!
//! ```
//! # use computehub_sdk::pricing_rules::*;
//! # use computehub_sdk::pricing_engine::{Item, Offer, QuoteRequest};
//! let offer = |kind: &str, model: &str, price: &str, unit: &str| Offer {
//!     id: model.into(), kind: kind.into(), model: model.into(), unit_price: price.into(),
//!     resource_unit: unit.into(), charge_unit: "小时".into(), account_unit: "元".into(),
//!     stock: None,
//! };
//! let item = |kind: &str, model: &str, amount: &str, unit: &str| Item {
//!     kind: kind.into(), model: model.into(), amount: amount.into(), unit: unit.into(),
//! };
//! let q = standard_quote(&QuoteRequest {
//!     items: vec![item("memory", "DDR4", "8192", "Mi"), item("gpu", "RTX5090-32G", "2", "卡")],
//!     offers: vec![offer("memory", "DDR4", "0.005", "Mi"), offer("gpu", "RTX5090-32G", "6", "卡")],
//!     duration: "1".into(), duration_unit: "小时".into(), account_unit: "元".into(),
//! }).unwrap();
//! assert_eq!(q.total, "52.96");
//! ```

use std::str::FromStr;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

use crate::pricing_engine::{Error, Item, Line, Offer, PriceQuote, QuoteRequest};

/// Decimal places a line price keeps when its division does not terminate
/// (a per-day price for one hour); rounded half away from zero.
pub const PRICE_SCALE: u32 = 8;

/// What a resource unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// CPU: 核 (one core) or m (a thousandth).
    Cores,
    /// Memory and disk, in binary units: Ki, Mi, Gi, Ti.
    Bytes,
    /// Whole devices: 卡, 张, 块, 个 (GPUs).
    Cards,
}

/// A resource unit's dimension and its size in the dimension's base unit
/// (cores, Mi, cards). `None` for an unknown unit.
pub fn resource_unit(unit: &str) -> Option<(Dimension, Decimal)> {
    let unit = unit.trim();
    Some(match unit {
        "核" | "core" | "cores" | "vcpu" => (Dimension::Cores, Decimal::ONE),
        "m" => (Dimension::Cores, Decimal::new(1, 3)),
        "Ki" | "KiB" => (Dimension::Bytes, Decimal::ONE / Decimal::from(1024)),
        "Mi" | "MiB" => (Dimension::Bytes, Decimal::ONE),
        "Gi" | "GiB" => (Dimension::Bytes, Decimal::from(1024)),
        "Ti" | "TiB" => (Dimension::Bytes, Decimal::from(1024 * 1024)),
        "卡" | "张" | "块" | "个" | "card" | "cards" => (Dimension::Cards, Decimal::ONE),
        _ => return None,
    })
}

/// How many base amounts one `resource_unit` holds: millicores for cores,
/// bytes for memory and disk, cards for GPUs (`Gi` -> 1073741824 bytes).
pub fn base_per_unit(unit: &str) -> Option<(Dimension, u128)> {
    use rust_decimal::prelude::ToPrimitive;
    let (dimension, factor) = resource_unit(unit)?;
    let base = match dimension {
        Dimension::Cores => Decimal::from(1000),
        Dimension::Bytes => Decimal::from(1u64 << 20),
        Dimension::Cards => Decimal::ONE,
    };
    (factor * base).to_u128().map(|n| (dimension, n))
}

/// Seconds in a duration or charge unit: 秒/分钟/小时/天/周/月 (a month is
/// 30 days) and second/minute/hour/day/week/month (plurals too).
pub fn seconds(unit: &str) -> Option<Decimal> {
    let unit = unit.trim();
    let s: i64 = match unit {
        "秒" | "second" | "seconds" | "s" => 1,
        "分钟" | "分" | "minute" | "minutes" | "min" => 60,
        "小时" | "时" | "hour" | "hours" | "h" => 3_600,
        "天" | "日" | "day" | "days" | "d" => 86_400,
        "周" | "星期" | "week" | "weeks" => 7 * 86_400,
        "月" | "month" | "months" => 30 * 86_400,
        _ => return None,
    };
    Some(Decimal::from(s))
}

/// Size of a money unit in 元: 元 1, 角 0.1, 分 0.01.
pub fn money_unit(unit: &str) -> Option<Decimal> {
    Some(match unit.trim() {
        "元" | "yuan" | "CNY" => Decimal::ONE,
        "角" | "jiao" => Decimal::new(1, 1),
        "分" | "fen" => Decimal::new(1, 2),
        _ => return None,
    })
}

/// Parses plain decimal text (`12`, `0.005`, `-1.5`).
pub fn parse(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    if !plain {
        return None;
    }
    Decimal::from_str(text).ok()
}

/// Decimal text in plain notation without trailing zeros (`6`, `40.96`).
pub fn render(value: Decimal) -> String {
    value.normalize().to_string()
}

/// Rounds a price to [`PRICE_SCALE`] places (only when it has more).
pub fn round_price(value: Decimal) -> Decimal {
    value
        .round_dp_with_strategy(PRICE_SCALE, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// One item priced against its offer, before an engine's own rule.
#[derive(Debug, Clone)]
pub struct Priced<'a> {
    /// The item as requested.
    pub item: &'a Item,
    /// The offer that priced it.
    pub offer: &'a Offer,
    /// The amount in the offer's resource unit.
    pub amount: Decimal,
    /// The standard price in the request's account unit.
    pub price: Decimal,
}

/// The request's duration in seconds and its target money unit.
struct Terms {
    seconds: Decimal,
    money: Decimal,
}

fn invalid(msg: String) -> Error {
    Error::Invalid(msg)
}

fn terms(req: &QuoteRequest) -> Result<Terms, Error> {
    let duration = parse(&req.duration)
        .filter(|d| !d.is_sign_negative())
        .ok_or_else(|| {
            invalid(format!(
                "duration `{}` is not a non-negative decimal",
                req.duration
            ))
        })?;
    let unit = seconds(&req.duration_unit).ok_or_else(|| {
        invalid(format!(
            "duration unit `{}` is not one of 小时/天/周/月 (hour/day/week/month)",
            req.duration_unit
        ))
    })?;
    let money = money_unit(&req.account_unit).ok_or_else(|| {
        invalid(format!(
            "account unit `{}` is not one of 元/角/分",
            req.account_unit
        ))
    })?;
    let seconds = duration
        .checked_mul(unit)
        .ok_or_else(|| invalid("duration is too long".into()))?;
    Ok(Terms { seconds, money })
}

/// Prices one item, or says (in the documented words) why it cannot be.
fn price_item<'a>(
    item: &'a Item,
    offers: &'a [Offer],
    terms: &Terms,
) -> Result<Priced<'a>, String> {
    let mut of_kind = offers.iter().filter(|o| o.kind == item.kind).peekable();
    if of_kind.peek().is_none() {
        return Err("没有该类型组件".to_owned());
    }
    let Some(offer) = of_kind.find(|o| o.model == item.model) else {
        return Err(format!("无效的 {} 部件型号: {}", item.kind, item.model));
    };
    let name = format!("{} {}", item.kind, item.model);
    let requested = parse(&item.amount)
        .filter(|a| !a.is_sign_negative())
        .ok_or_else(|| format!("{name} 的用量不是非负数: {}", item.amount))?;
    let (from_dim, from) =
        resource_unit(&item.unit).ok_or_else(|| format!("{name} 的计量单位未知: {}", item.unit))?;
    let (to_dim, to) = resource_unit(&offer.resource_unit)
        .ok_or_else(|| format!("{name} 的计价单位未知: {}", offer.resource_unit))?;
    if from_dim != to_dim {
        return Err(format!(
            "{name} 的计量单位 {} 无法换算为 {}",
            item.unit, offer.resource_unit
        ));
    }
    let overflow = || format!("{name} 的用量过大");
    let amount = requested
        .checked_mul(from)
        .and_then(|a| a.checked_div(to))
        .ok_or_else(overflow)?
        .normalize();
    if let Some(stock) = offer.stock {
        if amount > Decimal::from(stock) {
            return Err(format!(
                "{name} 库存不足 (库存: {stock}, 请求: {})",
                render(amount)
            ));
        }
    }
    let unit_price = parse(&offer.unit_price)
        .ok_or_else(|| format!("{name} 的单价不是小数: {}", offer.unit_price))?;
    let charge = seconds(&offer.charge_unit)
        .ok_or_else(|| format!("{name} 的计费周期单位未知: {}", offer.charge_unit))?;
    let money = money_unit(&offer.account_unit)
        .ok_or_else(|| format!("{name} 的货币单位未知: {}", offer.account_unit))?;
    // amount × unit price × (duration / charge unit) × (offer money / answer
    // money): multiply first, divide once.
    let numerator = amount
        .checked_mul(unit_price)
        .and_then(|v| v.checked_mul(terms.seconds))
        .and_then(|v| v.checked_mul(money))
        .ok_or_else(overflow)?;
    let denominator = charge.checked_mul(terms.money).ok_or_else(overflow)?;
    let price = numerator.checked_div(denominator).ok_or_else(overflow)?;
    Ok(Priced {
        item,
        offer,
        amount,
        price: round_price(price),
    })
}

/// Prices every item with the standard rule, then lets `rule` turn each
/// standard price into the engine's own (answer it unchanged for the
/// standard price). Lines keep the order of the items.
pub fn quote_with(
    req: &QuoteRequest,
    rule: impl Fn(&Priced<'_>) -> Decimal,
) -> Result<PriceQuote, Error> {
    let terms = terms(req)?;
    let mut total = Decimal::ZERO;
    let mut lines = Vec::with_capacity(req.items.len());
    for item in &req.items {
        let line = match price_item(item, &req.offers, &terms) {
            Ok(priced) => {
                let price = round_price(rule(&priced));
                total = total
                    .checked_add(price)
                    .ok_or_else(|| invalid("the total is too large".into()))?;
                Line {
                    kind: item.kind.clone(),
                    model: item.model.clone(),
                    offer_id: Some(priced.offer.id.clone()),
                    amount: render(priced.amount),
                    unit_price: priced.offer.unit_price.clone(),
                    price: render(price),
                    error: None,
                }
            }
            Err(why) => Line {
                kind: item.kind.clone(),
                model: item.model.clone(),
                offer_id: None,
                amount: item.amount.clone(),
                unit_price: String::new(),
                price: String::new(),
                error: Some(why),
            },
        };
        lines.push(line);
    }
    Ok(PriceQuote {
        total: render(total),
        account_unit: req.account_unit.clone(),
        lines,
    })
}

/// The standard quote: amount × unit price × duration, units converted.
pub fn standard_quote(req: &QuoteRequest) -> Result<PriceQuote, Error> {
    quote_with(req, |p| p.price)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_amounts_per_unit() {
        assert_eq!(base_per_unit("核"), Some((Dimension::Cores, 1000)));
        assert_eq!(base_per_unit("m"), Some((Dimension::Cores, 1)));
        assert_eq!(base_per_unit("Ki"), Some((Dimension::Bytes, 1024)));
        assert_eq!(base_per_unit("Gi"), Some((Dimension::Bytes, 1 << 30)));
        assert_eq!(base_per_unit("Ti"), Some((Dimension::Bytes, 1 << 40)));
        assert_eq!(base_per_unit("卡"), Some((Dimension::Cards, 1)));
        assert_eq!(base_per_unit("furlong"), None);
    }

    fn offer(kind: &str, model: &str, price: &str, unit: &str) -> Offer {
        Offer {
            id: format!("{kind}-{model}"),
            kind: kind.into(),
            model: model.into(),
            unit_price: price.into(),
            resource_unit: unit.into(),
            charge_unit: "小时".into(),
            account_unit: "元".into(),
            stock: None,
        }
    }

    fn item(kind: &str, model: &str, amount: &str, unit: &str) -> Item {
        Item {
            kind: kind.into(),
            model: model.into(),
            amount: amount.into(),
            unit: unit.into(),
        }
    }

    /// The seed's accrual example: 4 cpu, 8192 Mi memory, 512 Gi disk, 2 gpu.
    fn seed(duration: &str, unit: &str) -> QuoteRequest {
        QuoteRequest {
            items: vec![
                item("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "4", "核"),
                item("memory", "Samsung DDR4 DIMMs", "8192", "Mi"),
                item("disk", "DATA", "512", "Gi"),
                item("gpu", "RTX5090-32G", "2", "卡"),
            ],
            offers: vec![
                offer("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "1.5", "核"),
                offer("memory", "Samsung DDR4 DIMMs", "0.005", "Mi"),
                offer("disk", "DATA", "0.01", "Gi"),
                offer("gpu", "RTX5090-32G", "6", "卡"),
            ],
            duration: duration.into(),
            duration_unit: unit.into(),
            account_unit: "元".into(),
        }
    }

    #[test]
    fn the_seed_example_is_exactly_64_08() {
        let q = standard_quote(&seed("1", "小时")).unwrap();
        assert_eq!(q.total, "64.08");
        let prices: Vec<&str> = q.lines.iter().map(|l| l.price.as_str()).collect();
        assert_eq!(prices, ["6", "40.96", "5.12", "12"]);
        assert_eq!(standard_quote(&seed("2", "天")).unwrap().total, "3075.84");
        assert_eq!(standard_quote(&seed("1", "hour")).unwrap().total, "64.08");
        assert_eq!(standard_quote(&seed("1", "周")).unwrap().total, "10765.44");
        assert_eq!(standard_quote(&seed("1", "月")).unwrap().total, "46137.6");
    }

    #[test]
    fn units_convert() {
        let mut req = seed("1", "小时");
        // Memory priced per Gi: 8192 Mi is 8 Gi.
        req.offers[1] = offer("memory", "Samsung DDR4 DIMMs", "0.005", "Gi");
        // CPU priced per millicore.
        req.offers[0] = offer("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "0.0015", "m");
        // GPU priced per day in 角: 6 角 a day is 0.025 元 an hour.
        req.offers[3].charge_unit = "天".into();
        req.offers[3].account_unit = "角".into();
        let q = standard_quote(&req).unwrap();
        assert_eq!(q.lines[0].amount, "4000");
        assert_eq!(q.lines[0].price, "6");
        assert_eq!(q.lines[1].amount, "8");
        assert_eq!(q.lines[1].price, "0.04");
        assert_eq!(q.lines[3].price, "0.05");
        assert_eq!(q.total, "11.21");
        // The answer in 分.
        req.account_unit = "分".into();
        assert_eq!(standard_quote(&req).unwrap().total, "1121");
        // A non-terminating division keeps eight places.
        req.account_unit = "元".into();
        req.offers[3].unit_price = "1".into();
        assert_eq!(standard_quote(&req).unwrap().lines[3].price, "0.00833333");
    }

    #[test]
    fn documented_failures() {
        let mut req = seed("1", "小时");
        req.items[3].model = "RTXs5090-32G".into();
        let q = standard_quote(&req).unwrap();
        assert_eq!(
            q.lines[3].error.as_deref(),
            Some("无效的 gpu 部件型号: RTXs5090-32G")
        );
        assert_eq!(q.total, "52.08");

        let mut req = seed("1", "小时");
        req.offers[1].stock = Some(1280);
        let q = standard_quote(&req).unwrap();
        assert_eq!(
            q.lines[1].error.as_deref(),
            Some("memory Samsung DDR4 DIMMs 库存不足 (库存: 1280, 请求: 8192)")
        );
        assert_eq!(q.total, "23.12");

        let mut req = seed("1", "小时");
        req.offers.clear();
        let q = standard_quote(&req).unwrap();
        assert!(q
            .lines
            .iter()
            .all(|l| l.error.as_deref() == Some("没有该类型组件")));
        assert_eq!(q.total, "0");

        let mut req = seed("1", "小时");
        req.items[1].unit = "核".into();
        let q = standard_quote(&req).unwrap();
        assert!(q.lines[1].error.as_deref().unwrap().contains("无法换算"));

        assert!(matches!(
            standard_quote(&seed("1", "fortnight")),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            standard_quote(&seed("1.5e3", "小时")),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn an_engine_rule_changes_prices() {
        let q = quote_with(&seed("1", "小时"), |p| {
            if p.price >= Decimal::from(10) {
                p.price * Decimal::new(9, 1)
            } else {
                p.price
            }
        })
        .unwrap();
        assert_eq!(q.total, "58.784");
    }
}
