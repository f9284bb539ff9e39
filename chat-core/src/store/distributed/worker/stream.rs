//! The worker's side of the queue's streams: consumer groups, reading new entries of every
//! shard, taking over idle ones (`XAUTOCLAIM`), counting what is pending, and the dead-letter
//! stream of each shard.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::try_join_all;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions};
use redis::AsyncTypedCommands;

use super::*;

impl Worker {
    /// Creates the streams and their consumer groups when missing (also after Redis lost
    /// them).
    pub(super) async fn ensure_group(&self) -> Result<()> {
        try_join_all((0..self.keys.shards()).map(|shard| async move {
            let mut conn = self.redis.clone();
            match conn
                .xgroup_create_mkstream(self.keys.stream(shard), GROUP, "0")
                .await
            {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                other => other.map(|_| ()),
            }
        }))
        .await?;
        Ok(())
    }

    /// New entries of every shard, each with its shard.
    pub(super) async fn read(&self, wait: bool) -> Result<Vec<(usize, StreamId)>> {
        match self.read_once(wait).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                Ok(self.read_once(wait).await?)
            }
            other => Ok(other?),
        }
    }

    pub(super) async fn read_once(&self, wait: bool) -> redis::RedisResult<Vec<(usize, StreamId)>> {
        let mut options = StreamReadOptions::default()
            .group(GROUP, &self.options.consumer)
            .count(self.options.batch.max(1));
        if !self.redis.is_cluster() {
            // One Redis: one read over every shard, blocking.
            if wait {
                options = options.block(millis(self.options.block));
            }
            let streams: Vec<String> = (0..self.keys.shards())
                .map(|k| self.keys.stream(k).to_string())
                .collect();
            let shard_of: HashMap<&str, usize> = streams
                .iter()
                .enumerate()
                .map(|(k, s)| (s.as_str(), k))
                .collect();
            let ids = vec![">"; streams.len()];
            let mut conn = self.redis.clone();
            let reply = conn.xread_options(&streams, &ids, &options).await?;
            return Ok(reply
                .map(|r| {
                    r.keys
                        .into_iter()
                        .flat_map(|k| {
                            let shard = shard_of.get(k.key.as_str()).copied().unwrap_or(0);
                            k.ids.into_iter().map(move |id| (shard, id))
                        })
                        .collect()
                })
                .unwrap_or_default());
        }
        let options = &options;
        let per_shard = try_join_all((0..self.keys.shards()).map(|shard| async move {
            let mut conn = self.redis.clone();
            let reply = conn
                .xread_options(&[self.keys.stream(shard)], &[">"], options)
                .await?;
            Ok::<_, redis::RedisError>(
                reply
                    .map(|r| {
                        r.keys
                            .into_iter()
                            .flat_map(|k| k.ids)
                            .map(|id| (shard, id))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            )
        }))
        .await?;
        Ok(per_shard.into_iter().flatten().collect())
    }

    /// Takes over entries idle for at least `min_idle` (their consumer died or stalled), in
    /// every shard, dead-letters those delivered too often, and persists the others.
    pub async fn reclaim(&self, min_idle: Duration) -> Result<Round> {
        let mut round = Round::default();
        let mut retry = Vec::new();
        for shard in 0..self.keys.shards() {
            let (dead, entries) = self.claim(shard, min_idle).await?;
            round.dead += dead;
            retry.extend(entries.into_iter().map(|e| (shard, e)));
        }
        round.add(self.process(retry).await?);
        Ok(round)
    }

    /// One shard's part of [`Worker::reclaim`]: the entries buried, and those to persist.
    pub(super) async fn claim(
        &self,
        shard: usize,
        min_idle: Duration,
    ) -> Result<(u64, Vec<StreamId>)> {
        let mut conn = self.redis.clone();
        let stream = self.keys.stream(shard);
        let claimed = conn
            .xautoclaim_options(
                stream,
                GROUP,
                &self.options.consumer,
                millis(min_idle),
                "0-0",
                StreamAutoClaimOptions::default().count(self.options.batch.max(1)),
            )
            .await?
            .claimed;
        let (Some(first), Some(last)) = (claimed.first(), claimed.last()) else {
            return Ok((0, Vec::new()));
        };
        // Delivery counts of what this consumer now holds.
        let deliveries: HashMap<String, usize> = conn
            .xpending_consumer_count(
                stream,
                GROUP,
                &first.id,
                &last.id,
                claimed.len(),
                &self.options.consumer,
            )
            .await?
            .ids
            .into_iter()
            .map(|p| (p.id, p.times_delivered))
            .collect();
        // Only entries whose job itself failed are buried: deliveries also pile up while the
        // database is down, and those jobs are fine.
        let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
        let errors: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.errors(shard))
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        let mut dead = 0;
        let mut retry = Vec::new();
        for (entry, error) in claimed.into_iter().zip(errors) {
            let delivered = deliveries.get(&entry.id).copied().unwrap_or(0) as u64;
            if error.is_some() && delivered > self.options.max_deliveries {
                self.bury(shard, &entry).await?;
                dead += 1;
            } else {
                retry.push(entry);
            }
        }
        Ok((dead, retry))
    }

    pub(super) async fn record_error(&self, shard: usize, id: &str, error: &Error) -> Result<()> {
        tracing::warn!(entry = id, shard, error = %error, "queued job failed");
        let mut conn = self.redis.clone();
        conn.hset(self.keys.errors(shard), id, error.to_string())
            .await?;
        Ok(())
    }

    /// Moves an entry to the dead-letter stream with its last error. Its pending record stays,
    /// so reads still show the write until an operator retries or removes it.
    pub(super) async fn bury(&self, shard: usize, entry: &StreamId) -> Result<()> {
        let id = entry.id.as_str();
        let mut conn = self.redis.clone();
        let error = conn.hget(self.keys.errors(shard), id).await?;
        let job: String = entry.get("j").unwrap_or_default();
        tracing::error!(entry = id, error = ?error, "queued job moved to the dead-letter stream");
        redis::pipe()
            .atomic()
            .xadd(
                self.keys.dead(shard),
                "*",
                &[
                    ("j", job.as_str()),
                    ("entry", id),
                    ("error", error.as_deref().unwrap_or("unknown")),
                ],
            )
            .ignore()
            .xack(self.keys.stream(shard), GROUP, &[id])
            .ignore()
            .xdel(self.keys.stream(shard), &[id])
            .ignore()
            .hdel(self.keys.errors(shard), id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(feature = "test-support")]
impl Worker {
    /// Reads up to one batch of new entries per shard (waiting up to `block` when `wait`),
    /// without processing them. Tests use it to play a worker that dies before acknowledging.
    pub async fn read_new(&self, wait: bool) -> Result<usize> {
        Ok(self.read(wait).await?.len())
    }

    /// Entries delivered to a consumer and not yet acknowledged, in every shard.
    pub async fn pending_count(&self) -> Result<u64> {
        let counts = try_join_all((0..self.keys.shards()).map(|shard| async move {
            let mut conn = self.redis.clone();
            let summary = conn.xpending(self.keys.stream(shard), GROUP).await?;
            Ok::<_, Error>(summary.count() as u64)
        }))
        .await?;
        Ok(counts.into_iter().sum())
    }
}
