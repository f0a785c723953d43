//! Cross-replica hints on Postgres: one `LISTEN` connection for both topics,
//! turned into a channel of [`Topic`]s (the `NOTIFY` side is `tx.rs`).

use sqlx::PgPool;
use tokio::sync::mpsc::Receiver;

use crate::store::{Result, Topic};

/// Listens on both topics' channels and forwards what arrives. After a lost
/// connection both topics are sent, since notifications may have been missed.
pub(super) async fn hints(pool: &PgPool) -> Result<Receiver<Topic>> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen_all([Topic::Changes.channel(), Topic::Keys.channel()]).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let topics: &[Topic] = match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == Topic::Keys.channel() => &[Topic::Keys],
                Ok(Some(_)) => &[Topic::Changes],
                // The connection dropped (sqlx reconnects on the next call): anything may have been missed.
                Ok(None) => &[Topic::Changes, Topic::Keys],
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    &[Topic::Changes, Topic::Keys]
                }
            };
            for t in topics {
                // Full channel: a hint is already pending, which is as good.
                if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = tx.try_send(*t) {
                    return;
                }
            }
        }
    });
    Ok(rx)
}
