//! `computehub admin rotate-token`: replace the admin token of a data dir.
//! The new token is printed once (only its hash is kept, in the store);
//! every server on that store (each replica on one PostgreSQL database)
//! accepts it, and refuses the old one, from its next admin request on. The rotation is recorded in the audit log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::auth::AdminToken;
use crate::server::audit;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Replace the admin token; the new one is printed once, alone on the
    /// last line. A server running on the data dir switches to it at once.
    RotateToken {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
    },
}

pub async fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::RotateToken { data_dir } => rotate_token(&data_dir).await,
    }
}

async fn rotate_token(data_dir: &Path) -> anyhow::Result<ExitCode> {
    // A typo must not create a data dir with a token nobody serves.
    let store = super::open_existing_store(data_dir).await?;
    let token = AdminToken::rotate(&store).await?;
    let caller = audit::Caller {
        organisation: None,
        key_id: Some("admin".into()),
        scheme: Some("cli"),
    };
    let record = audit::Record {
        request_id: &crate::store::ids::random_id(16),
        caller: &caller,
        client: "local",
        method: "CLI",
        route: "admin rotate-token",
        path: "admin rotate-token",
        plugin: "host",
        status: 200,
    };
    if let Err(e) = audit::record(&store, &record).await {
        tracing::error!(error = %e, "the audit log could not be written");
    }
    println!(
        "admin token replaced (shown once; only its hash is kept, in the store); the old one is refused from now on:"
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
