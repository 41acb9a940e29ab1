//! `serve --demo`: seed an organisation and print the credentials and the
//! first calls a newcomer needs for the five-minute tour. Each area seeds
//! its own records ([`kboss`]); seeding is idempotent, so restarting with
//! `--demo` only prints a fresh key.

pub mod kboss;

use crate::auth::{self, Scheme};
use crate::store::Store;

pub const DEMO_ORG: &str = "demo";

/// Seed the demo organisation; `base_url` is where the server listens.
pub fn seed(store: &Store, base_url: &str) -> anyhow::Result<()> {
    store.ensure_organisation(DEMO_ORG)?;
    let bearer = auth::create_key(store, DEMO_ORG, Scheme::Bearer)?;
    println!("demo organisation `{DEMO_ORG}`; bearer API key:");
    println!("{}", bearer.credential);
    kboss::seed(store, DEMO_ORG, base_url)?;
    Ok(())
}
