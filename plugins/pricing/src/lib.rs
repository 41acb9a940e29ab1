//! `pricing`: the built-in pricing engine (world `pricing-engine`).
//!
//! Endpoint plugins call the `pricing` capability; the host forwards every
//! call to the active pricing engine, this one unless an operator swapped
//! it. It prices with the standard rule of
//! [`computehub_sdk::pricing_rules`]: amount × unit price × duration, every
//! amount an exact decimal, the item's unit converted into the offer's
//! resource unit, the duration into the offer's charge unit and the offer's
//! money unit into the request's. It imports nothing.

use computehub_sdk::pricing_engine::{Error, Guest, PriceQuote, QuoteRequest};
use computehub_sdk::pricing_rules;

struct Standard;

impl Guest for Standard {
    fn quote(req: QuoteRequest) -> Result<PriceQuote, Error> {
        pricing_rules::standard_quote(&req)
    }
}

computehub_sdk::export_pricing_engine!(Standard);
