//! What keeps a replica in step with the others on one PostgreSQL database.
//! One task per process listens (`LISTEN`) for the changes the others
//! announce: a plugin swapped, rolled back or regranted
//! ([`crate::registry::sync`]) is loaded here too, and an operation's new
//! events wake this replica's event streams. Every [`RESYNC`] it also
//! checks the plugins itself, which covers notices lost while the listening
//! connection was down. On SQLite (one process) there is nothing to follow.

use std::sync::Arc;
use std::time::Duration;

use crate::registry::sync;
use crate::store::db::{Dialect, Notices};

use super::App;

/// How often a replica checks the plugins without a notice.
pub const RESYNC: Duration = Duration::from_secs(5);

/// Follow the other replicas for as long as the process runs (PostgreSQL
/// only).
pub fn spawn(app: Arc<App>) -> Option<tokio::task::JoinHandle<()>> {
    if app.store.db().dialect() == Dialect::Sqlite {
        return None;
    }
    Some(tokio::spawn(follow(app)))
}

async fn resync(app: &App) {
    match app.registry.sync().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            plugins = n,
            "plugins changed through another replica are live here"
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot follow a plugin change made through another replica")
        }
    }
}

async fn next(notices: &mut Option<Notices>) -> Option<crate::store::db::Notice> {
    match notices {
        Some(n) => n.recv().await,
        None => std::future::pending().await,
    }
}

async fn follow(app: Arc<App>) {
    let operations = app.registry.runtime.capabilities().operations.records();
    let mut tick = tokio::time::interval(RESYNC);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let mut notices = match app
            .store
            .db()
            .listen(&[sync::CHANNEL, crate::operations::CHANNEL])
            .await
        {
            Ok(Some(n)) => Some(n),
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for the other replicas' changes; checking every {}s", RESYNC.as_secs());
                None
            }
        };
        // Whatever was announced while nobody listened.
        resync(&app).await;
        operations.wake();
        loop {
            tokio::select! {
                notice = next(&mut notices) => match notice {
                    Some(n) => {
                        // A burst (say, rollbacks in a row) is one sync: it
                        // brings this replica to the store's latest state.
                        let mut burst = vec![n];
                        if let Some(more) = notices.as_mut() {
                            burst.extend(more.ready());
                        }
                        if burst.iter().any(|n| n.channel == sync::CHANNEL) {
                            resync(&app).await;
                        }
                        if burst.iter().any(|n| n.channel != sync::CHANNEL) {
                            operations.wake();
                        }
                    }
                    None => {
                        tracing::warn!("the connection listening for the other replicas was lost; listening again");
                        break;
                    }
                },
                _ = tick.tick() => {
                    resync(&app).await;
                    if notices.is_none() {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
