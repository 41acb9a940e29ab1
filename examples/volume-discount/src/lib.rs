//! `volume-discount`: an example third-party pricing engine for computehub.
//!
//! The rule: every line whose standard price is 10 or more (in the quote's
//! account unit) costs 10% less. Everything else (matching items to offers,
//! converting units and durations, the stock check, the documented error
//! lines) is the standard arithmetic of `computehub_sdk::pricing_rules`, so
//! the engine states only what it changes.
//!
//! Installed with `PUT /admin/plugins/pricing?role=pricing`, it replaces the
//! built-in engine for every caller at once (kboss's `accrual_price`
//! included); `POST /admin/plugins/pricing/rollback` brings the old one back.

use computehub_sdk::pricing_engine::{Error, Guest, PriceQuote, QuoteRequest};
use computehub_sdk::pricing_rules::{quote_with, Decimal, Priced};

/// Lines priced at this or more get the discount.
fn threshold() -> Decimal {
    Decimal::from(10)
}

/// What a discounted line costs: 90% of its standard price.
fn discounted(line: &Priced<'_>) -> Decimal {
    if line.price >= threshold() {
        line.price * Decimal::new(9, 1)
    } else {
        line.price
    }
}

struct VolumeDiscount;

impl Guest for VolumeDiscount {
    fn quote(req: QuoteRequest) -> Result<PriceQuote, Error> {
        quote_with(&req, discounted)
    }
}

computehub_sdk::export_pricing_engine!(VolumeDiscount);
