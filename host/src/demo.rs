//! `serve --demo`: seed an organisation and print the credentials a newcomer
//! needs for the five-minute tour. Later areas add their own seeds here.

use crate::auth::{self, Scheme};
use crate::store::Store;

pub const DEMO_ORG: &str = "demo";

pub fn seed(store: &Store) -> anyhow::Result<()> {
    store.ensure_organisation(DEMO_ORG)?;
    let bearer = auth::create_key(store, DEMO_ORG, Scheme::Bearer)?;
    println!("demo organisation `{DEMO_ORG}`; bearer API key:");
    println!("{}", bearer.credential);
    Ok(())
}
