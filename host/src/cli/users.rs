//! `computehub users create|list|disable`: console users of an
//! organisation. A new user's password is prompted for (twice, not echoed)
//! when the terminal is interactive, read from the first line of stdin when
//! it is not, or generated with `--generate-password` and printed once; it
//! is stored only as an argon2id hash.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use crate::console::users;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create a console user.
    Create {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// An operator: may also call `/admin` with the session.
        #[arg(long)]
        admin: bool,
        /// Generate a password and print it once (alone on the last line).
        #[arg(long)]
        generate_password: bool,
    },
    /// List console users (no password hashes).
    List {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        /// Only this organisation's users.
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a user and end its sessions.
    Disable {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
}

/// The new password: prompted on a terminal, else stdin's first line.
fn read_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(command: UsersCommand) -> anyhow::Result<ExitCode> {
    match command {
        UsersCommand::Create {
            data_dir,
            org,
            name,
            admin,
            generate_password,
        } => {
            let password = if generate_password {
                users::generate_password()
            } else {
                read_password()?
            };
            let store = super::open_store(&data_dir, super::database_from_env().as_deref()).await?;
            let user = users::create(&store, &org, &name, &password, admin).await?;
            println!(
                "created console {} `{}` of organisation {} ({})",
                if user.admin { "operator" } else { "user" },
                user.name,
                user.organisation,
                user.id
            );
            if generate_password {
                println!("password (shown once):");
                println!("{password}");
            }
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::List { data_dir, org } => {
            let store = super::open_existing_store(&data_dir).await?;
            for u in users::list(&store, org.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.organisation,
                    u.name,
                    if u.admin { "operator" } else { "user" },
                    u.created_at,
                    u.disabled_at
                        .as_deref()
                        .map_or("active".into(), |t| format!("disabled {t}")),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::Disable {
            data_dir,
            org,
            name,
        } => {
            let store = super::open_existing_store(&data_dir).await?;
            if users::disable(&store, &org, &name).await? {
                println!(
                    "disabled console user `{name}` of organisation {org}; its sessions ended"
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no enabled console user `{name}` in organisation {org}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
