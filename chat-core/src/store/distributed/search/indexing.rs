//! Indexing on the write path of the distributed profile: after a worker persisted a batch, its
//! messages go to the search engine (and to the index a running reindex builds). The batch
//! never fails because of the engine: documents it did not take are recorded in Redis
//! (`unindexed`) and sent again by the catch-up, which runs every few seconds while any wait.

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use super::{Doc, ElasticSearch};
use crate::error::{Error, Result};
use crate::store::distributed::mysql::Job;
use crate::store::distributed::redis::Keys;
use crate::store::lock;

/// Documents re-sent to the search engine per catch-up step.
const CATCH_UP_CHUNK: usize = 500;

/// How long after a failed send the engine is taken to be down (batches then record their
/// documents at once instead of waiting for it).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Sends persisted messages to the search engine; shared by a process's workers.
pub(crate) struct Indexer {
    search: ElasticSearch,
    redis: ConnectionManager,
    keys: Keys,
    /// When sending to the engine last failed (to retry every few seconds, not every round).
    catch_up_failed: std::sync::Mutex<Option<Instant>>,
}

impl Indexer {
    pub(crate) fn new(search: ElasticSearch, redis: ConnectionManager, keys: Keys) -> Self {
        Indexer {
            search,
            redis,
            keys,
            catch_up_failed: std::sync::Mutex::new(None),
        }
    }

    /// Sends the persisted messages of a batch to the search engine. Never fails the batch:
    /// when the engine does not take them, they are recorded for [`Indexer::catch_up`].
    pub(crate) async fn index<'a>(&self, jobs: impl Iterator<Item = &'a Job>) {
        let docs: Vec<Doc> = jobs
            .filter_map(|job| match job {
                Job::Message {
                    app,
                    chat,
                    number,
                    body,
                    created_at,
                    updated_at,
                    ..
                } => Some(Doc {
                    app: *app,
                    chat: *chat,
                    number: *number,
                    body: body.clone(),
                    created_at: *created_at,
                    updated_at: *updated_at,
                }),
                Job::Chat { .. } => None,
            })
            .collect();
        if docs.is_empty() {
            return;
        }
        // While the engine is known to be down (the last catch-up failed a moment ago), do not
        // wait for it on every batch: record at once, the catch-up retries every 5 s.
        let result = if self.catch_up_due() {
            self.send_docs(&docs).await
        } else {
            Err(Error::unavailable("elasticsearch", "down a moment ago"))
        };
        if let Err(e) = result {
            self.mark_catch_up_failed();
            tracing::warn!(error = %e, documents = docs.len(), "search indexing failed; recorded for catch-up");
            if let Err(e) = self.record_unindexed(&docs).await {
                tracing::error!(error = %e, documents = docs.len(),
                    "could not record unindexed documents: run a reindex once the search engine is back");
            }
        }
    }

    /// Indexes into the alias, and into the index a running reindex builds. The reindex
    /// target is read after the batch committed: a reindex that starts later scans the rows.
    async fn send_docs(&self, docs: &[Doc]) -> Result<()> {
        let mut conn = self.redis.clone();
        let target: Option<String> = redis::cmd("GET")
            .arg(self.keys.reindex_target())
            .query_async(&mut conn)
            .await?;
        self.search.index(docs, None).await?;
        if let Some(target) = target {
            self.search.index(docs, Some(&target)).await?;
        }
        Ok(())
    }

    async fn record_unindexed(&self, docs: &[Doc]) -> Result<()> {
        let encoded: Vec<String> = docs
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut conn = self.redis.clone();
        redis::cmd("RPUSH")
            .arg(self.keys.unindexed())
            .arg(encoded)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    fn mark_catch_up_failed(&self) {
        *lock(&self.catch_up_failed) = Some(Instant::now());
    }

    pub(crate) fn catch_up_due(&self) -> bool {
        let failed = lock(&self.catch_up_failed);
        failed.is_none_or(|at| at.elapsed() >= RETRY_AFTER_FAILURE)
    }

    /// Sends the documents recorded while the search engine was down; returns how many. On
    /// failure they go back to the record.
    pub(crate) async fn catch_up(&self) -> Result<u64> {
        let mut sent = 0u64;
        let mut conn = self.redis.clone();
        loop {
            let popped: Option<Vec<String>> = redis::cmd("LPOP")
                .arg(self.keys.unindexed())
                .arg(CATCH_UP_CHUNK)
                .query_async(&mut conn)
                .await?;
            let Some(popped) = popped.filter(|p| !p.is_empty()) else {
                *lock(&self.catch_up_failed) = None;
                if sent > 0 {
                    tracing::info!(documents = sent, "search index caught up");
                }
                return Ok(sent);
            };
            let docs: Vec<Doc> = popped
                .iter()
                .filter_map(|j| serde_json::from_str(j).ok())
                .collect();
            if let Err(e) = self.send_docs(&docs).await {
                self.mark_catch_up_failed();
                redis::cmd("RPUSH")
                    .arg(self.keys.unindexed())
                    .arg(&popped)
                    .query_async::<()>(&mut conn)
                    .await?;
                return Err(e);
            }
            sent += docs.len() as u64;
        }
    }
}
