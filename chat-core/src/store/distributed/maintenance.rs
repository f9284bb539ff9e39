//! Upkeep of the distributed profile: recount and reindex on demand, the periodic recount
//! (elected through Redis so that one process of the deployment runs it per interval), and
//! the queue's state at a glance for operators (`/metrics`, `chatctl queue status`) and tests —
//! how many entries wait, how many a worker holds, how many are dead and how old the oldest is,
//! per shard and in total — with the way back from the dead-letter streams (`chatctl queue
//! retry-dead`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use tokio::sync::watch;

use super::mysql::MysqlStore;
use super::redis::conn::Conn;
use super::redis::GROUP;
use super::DistributedBackend;
use crate::api::{
    Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary, ShardStatus,
};
use crate::error::Result;
use crate::model::Token;

impl DistributedBackend {
    pub(super) async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        // (A deleted application is not found: its marker is checked first.)
        if let Some(token) = scope {
            self.live_app(token).await?;
        }
        let apps = self.scope(scope).await?;
        self.store.recount(&apps, progress).await
    }

    pub(super) async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        let apps = self.scope(scope).await?;
        match &self.search {
            Some(search) => self.rebuild_index(search, scope, &apps, progress).await,
            None => self.store.reindex_summary(&apps, progress).await,
        }
    }
}

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

/// Entries moved back from the dead-letter stream per script call (keeps Redis responsive).
const RETRY_CHUNK: u32 = 500;

/// The reply of `lua/queue_status.lua`: stream length, entries held by workers, dead-letter
/// length, oldest entry id (empty when none), server time (seconds, microseconds).
type Reply = (u64, u64, u64, String, String, String);

/// The milliseconds part of a stream entry id (`<ms>-<seq>`).
fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

impl DistributedBackend {
    /// Reads the queue's state, one round trip per shard (all at once); also updates the
    /// queue-depth metric.
    pub async fn queue_status(&self) -> Result<QueueStatus> {
        let shards = try_join_all((0..self.keys.shards()).map(|k| self.shard_status(k))).await?;
        let mut total = QueueStatus {
            oldest_age_ms: shards.iter().filter_map(|s| s.oldest_age_ms).max(),
            ..QueueStatus::default()
        };
        for s in &shards {
            total.depth += s.depth;
            total.pending += s.pending;
            total.dead += s.dead;
        }
        total.shards = shards;
        self.metrics
            .set_queue_depth(usize::try_from(total.depth).unwrap_or(usize::MAX));
        Ok(total)
    }

    async fn shard_status(&self, shard: usize) -> Result<ShardStatus> {
        let mut conn = self.conn();
        let mut cmd = self.scripts.queue_status.command(2);
        cmd.arg(self.keys.stream(shard))
            .arg(self.keys.dead(shard))
            .arg(GROUP);
        let (depth, pending, dead, oldest, secs, micros): Reply =
            self.scripts.queue_status.run(&cmd, &mut conn).await?;
        let now_ms =
            secs.parse::<u64>().unwrap_or(0) * 1000 + micros.parse::<u64>().unwrap_or(0) / 1000;
        Ok(ShardStatus {
            shard: u32::try_from(shard).unwrap_or(u32::MAX),
            depth,
            pending,
            dead,
            oldest_age_ms: id_millis(&oldest).map(|ms| now_ms.saturating_sub(ms)),
        })
    }

    /// Moves every dead-letter entry back to its shard's queue; returns how many moved.
    pub async fn retry_dead(&self) -> Result<RetrySummary> {
        let mut conn = self.conn();
        let mut retried = 0u64;
        for shard in 0..self.keys.shards() {
            let mut cmd = self.scripts.retry_dead.command(2);
            cmd.arg(self.keys.dead(shard))
                .arg(self.keys.stream(shard))
                .arg(RETRY_CHUNK);
            loop {
                let moved: u64 = self.scripts.retry_dead.run(&cmd, &mut conn).await?;
                retried += moved;
                if moved < u64::from(RETRY_CHUNK) {
                    break;
                }
            }
        }
        if retried > 0 {
            tracing::info!(retried, "dead-letter entries moved back to the queue");
        }
        Ok(RetrySummary { retried })
    }
}

#[cfg(test)]
mod tests {
    use super::id_millis;

    #[test]
    fn entry_ids_give_their_time() {
        assert_eq!(id_millis("1790000000123-7"), Some(1_790_000_000_123));
        assert_eq!(id_millis("garbage"), None);
    }
}
