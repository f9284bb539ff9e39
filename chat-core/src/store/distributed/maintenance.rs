//! Background upkeep of the distributed profile: the periodic recount, elected through Redis
//! so that one process of the deployment runs it per interval.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::mysql::MysqlStore;
use super::redis::conn::Conn;

/// Every `every`, recounts all applications — in one process of the deployment per interval:
/// a Redis key set with `NX` and an expiry of the interval elects it.
pub(super) async fn recount_periodically(
    mut redis: Conn,
    store: Arc<MysqlStore>,
    lock: String,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let elected: std::result::Result<Option<String>, _> = ::redis::cmd("SET")
            .arg(&lock)
            .arg(std::process::id())
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1))
            .query_async(&mut redis)
            .await;
        match elected {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "periodic recount skipped: Redis unavailable");
                continue;
            }
        }
        let result = async {
            let apps = store.all_applications().await?;
            store.recount(&apps, &crate::api::NoProgress).await
        }
        .await;
        match result {
            Ok(summary) => tracing::info!(
                applications = summary.applications,
                chats = summary.chats,
                corrected = summary.corrected,
                "periodic recount done"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "periodic recount failed; next one in an interval")
            }
        }
    }
}
