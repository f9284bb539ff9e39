//! The worker: persists the queue in batches.
//!
//! The queue is S shard streams (see `redis`), each with its consumer group; every worker
//! consumes every shard. A worker reads up to `batch` new entries of each shard as a member of
//! the shard's consumer group (`XREADGROUP`: on one Redis one blocking read over all shards;
//! on a cluster, where the shards live on different nodes, one read per shard at once, and a
//! short pause when all were empty), writes them in one MySQL transaction (`MysqlStore::persist_batch`, safe to
//! repeat), and only then acknowledges and deletes them and drops their pending records — so a
//! worker killed at any point leaves its entries pending in the group, never lost. Entries idle
//! longer than `claim_idle` (their consumer died) are taken over, shard by shard, with `XAUTOCLAIM` and
//! persisted again, which the idempotent inserts make harmless. When a batch fails, its jobs
//! are retried one by one so that one bad job cannot hold up the others; a job that failed
//! and has been delivered more than `max_deliveries` times goes to the dead-letter stream with
//! its last error (each shard has its own). While the database is unavailable nothing fails for good: the entries stay
//! pending and are retried. A document the search engine rejects for good (a 4xx) goes to the
//! dead-letter stream too, with the engine's reason (see `search::indexing`).
//!
//! A message job does not carry its chat's creation time: when the chat may still be queued
//! (no chat job in the same batch), the worker reads it from the chat's pending record, one
//! round trip per batch, so the chat's row is created by whichever job lands first.
//!
//! Deletes are tombstones in Redis (see `redis`): before a batch is persisted, one round trip
//! asks which of its creates and edits a tombstone covers (a deleted application, chat or
//! message), and those are acknowledged without being persisted or indexed, so nothing deleted
//! comes back, whatever order retries and reclaims deliver jobs in. The delete jobs remove the
//! rows (last in their batch, see `mysql::persist`) and then the search documents.
//!
//! [`Worker::drain`] runs all of this until the queue is empty: tests call it instead of
//! sleeping, and a background task calls [`Worker::run_once`] in a loop.

mod batch;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use redis::streams::StreamId;
use tokio::sync::watch;

use super::redis::conn::Conn;
use super::redis::queue::{decode, pending, PendingChat};
use super::redis::{Keys, Scripts, GROUP};
use super::search::indexing::Indexer;
use super::search::ElasticSearch;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::distributed::mysql::{Job, MysqlStore};

/// Entries persisted in one transaction, by default.
pub const DEFAULT_BATCH: usize = 1000;
/// How long one read waits for new entries, by default.
pub const DEFAULT_BLOCK: Duration = Duration::from_secs(1);
/// How long an entry stays with a silent consumer before another takes it over, by default
/// (the configuration's default, [`crate::config::DEFAULT_CLAIM_IDLE`]).
pub const DEFAULT_CLAIM_IDLE: Duration = crate::config::DEFAULT_CLAIM_IDLE;
/// Deliveries after which a failing entry is dead, by default.
pub const DEFAULT_MAX_DELIVERIES: u64 = 5;

/// Immediate retries of a batch that failed for a transient reason (a deadlock between two
/// workers' batches, a connection dropped mid-way), before its entries are left to the reclaim.
const PERSIST_RETRIES: u32 = 3;
/// The wait before the first of those retries ...
const PERSIST_FIRST_WAIT: Duration = Duration::from_millis(25);
/// ... and the factor it grows by before each next one (25, 100, 400 ms).
const PERSIST_BACKOFF: u32 = 4;
/// The pause of the background loop after a round failed (Redis or the database down).
const ROUND_FAILURE_PAUSE: Duration = Duration::from_secs(1);
/// Rounds [`Worker::drain`] runs at most before it gives up.
#[cfg(feature = "test-support")]
const DRAIN_ROUNDS: usize = 10_000;
/// Entries acknowledged per `finish.lua` call (Lua's `unpack` has a bounded stack).
const FINISH_CHUNK: usize = 1000;
/// On a cluster, the pause of the background loop after a round found every shard empty
/// (a blocking read cannot span the nodes).
const CLUSTER_IDLE_PAUSE: Duration = Duration::from_millis(50);

/// How a worker batches and retries.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Most entries persisted in one transaction.
    pub batch: usize,
    /// How long one read waits for new entries.
    pub block: Duration,
    /// How long an entry stays with a consumer that does not acknowledge it before another
    /// worker takes it over.
    pub claim_idle: Duration,
    /// Deliveries after which a failing entry goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// This worker's name in the consumer group (unique per process).
    pub consumer: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            batch: DEFAULT_BATCH,
            block: DEFAULT_BLOCK,
            claim_idle: DEFAULT_CLAIM_IDLE,
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            consumer: format!(
                "worker-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
        }
    }
}

/// What one round of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Entries persisted and acknowledged.
    pub persisted: u64,
    /// Entries that failed and stay pending for a retry.
    pub failed: u64,
    /// Entries moved to the dead-letter stream.
    pub dead: u64,
}

impl Round {
    fn add(&mut self, other: Round) {
        self.persisted += other.persisted;
        self.failed += other.failed;
        self.dead += other.dead;
    }
}

/// A queue consumer writing to MySQL.
pub struct Worker {
    redis: Conn,
    store: Arc<MysqlStore>,
    keys: Keys,
    options: WorkerOptions,
    scripts: Arc<Scripts>,
    metrics: Arc<Metrics>,
    /// Sends each persisted batch to the search engine, when one is configured.
    indexer: Option<Arc<Indexer>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Milliseconds as Redis takes them.
fn millis(d: Duration) -> usize {
    usize::try_from(d.as_millis()).unwrap_or(usize::MAX)
}

impl Worker {
    pub(crate) async fn new(
        redis: Conn,
        scripts: Arc<Scripts>,
        store: Arc<MysqlStore>,
        keys: Keys,
        options: WorkerOptions,
        metrics: Arc<Metrics>,
        search: Option<ElasticSearch>,
    ) -> Result<Self> {
        let (redis_for_index, keys_for_index) = (redis.clone(), keys.clone());
        let worker = Worker {
            redis,
            store,
            keys,
            options,
            scripts,
            indexer: search
                .map(|search| Arc::new(Indexer::new(search, redis_for_index, keys_for_index))),
            metrics,
        };
        worker.ensure_group().await?;
        Ok(worker)
    }

    /// Reads one batch of new entries and persists it. Returns what it did.
    pub async fn run_once(&self, wait: bool) -> Result<Round> {
        let entries = self.read(wait).await?;
        self.process(entries).await
    }

    /// Runs until `stop` turns true: read (waiting up to `block`), persist, and now and then
    /// reclaim what dead consumers left behind. A round in progress is finished, not cut off,
    /// so stopping waits at most `block` plus one batch.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut last_claim = tokio::time::Instant::now();
        while !*stop.borrow() {
            let mut result = self.run_once(true).await;
            if self.redis.is_cluster() && matches!(result, Ok(r) if r == Round::default()) {
                tokio::time::sleep(CLUSTER_IDLE_PAUSE).await;
            }
            if let (true, Some(indexer)) = (result.is_ok(), &self.indexer) {
                if indexer.catch_up_due() {
                    if let Err(e) = indexer.catch_up().await {
                        tracing::warn!(error = %e, "search index catch-up failed; it will be retried");
                    }
                }
            }
            if result.is_ok() && last_claim.elapsed() >= self.options.claim_idle / 2 {
                last_claim = tokio::time::Instant::now();
                result = self.reclaim(self.options.claim_idle).await;
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, pause = ?ROUND_FAILURE_PAUSE, "worker round failed; retrying");
                tokio::time::sleep(ROUND_FAILURE_PAUSE).await;
            }
        }
    }

    /// Persists entries: the whole batch at once, or one by one when that fails.
    async fn process(&self, entries: Vec<(usize, StreamId)>) -> Result<Round> {
        let mut round = Round::default();
        let mut jobs: Vec<(String, Job)> = Vec::with_capacity(entries.len());
        for (shard, entry) in entries {
            let decoded = entry
                .get::<String>("j")
                .ok_or_else(|| Error::Internal("queued entry without a job".into()))
                .and_then(|j| decode(&j));
            match decoded {
                Ok(job) => jobs.push((entry.id, job)),
                Err(e) => {
                    self.record_error(shard, &entry.id, &e).await?;
                    round.failed += 1;
                }
            }
        }
        if jobs.is_empty() {
            return Ok(round);
        }
        // Creates and edits of what is deleted since are acknowledged, never persisted.
        let covered = self.covered(&jobs).await?;
        let (mut jobs, skipped): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .enumerate()
            .partition(|(i, _)| !covered.contains(i));
        let skipped: Vec<(String, Job)> = skipped.into_iter().map(|(_, j)| j).collect();
        self.finish(&skipped).await?;
        round.persisted += skipped.len() as u64;
        let mut jobs: Vec<(String, Job)> = jobs.drain(..).map(|(_, j)| j).collect();
        if jobs.is_empty() {
            return Ok(round);
        }
        self.add_chat_times(&mut jobs).await?;
        let batch: Vec<Job> = jobs.iter().map(|(_, j)| j.clone()).collect();
        let persisted = self.persist(&batch).await;
        self.metrics.record_batch(batch.len(), persisted.is_ok());
        match persisted {
            Ok(()) => {
                self.index(&jobs).await;
                self.finish(&jobs).await?;
                round.persisted += jobs.len() as u64;
            }
            // The database is down: every job would fail alike. They stay pending, to be
            // reclaimed later, and count as no job's failure.
            Err(e @ Error::Unavailable { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, size = jobs.len(), "batch failed; retrying one by one");
                for (id, job) in jobs {
                    let alone = self.persist(std::slice::from_ref(&job)).await;
                    self.metrics.record_batch(1, alone.is_ok());
                    match alone {
                        Ok(()) => {
                            let done = [(id, job)];
                            self.index(&done).await;
                            self.finish(&done).await?;
                            round.persisted += 1;
                        }
                        Err(e @ Error::Unavailable { .. }) => return Err(e),
                        Err(e) => {
                            self.record_error(self.keys.job_shard(&job), &id, &e)
                                .await?;
                            round.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(round)
    }
}

#[cfg(feature = "test-support")]
impl Worker {
    /// The same worker under another consumer name (e.g. to play a second process).
    pub fn with_consumer(&self, consumer: &str) -> Worker {
        Worker {
            redis: self.redis.clone(),
            store: Arc::clone(&self.store),
            keys: self.keys.clone(),
            options: WorkerOptions {
                consumer: consumer.to_owned(),
                ..self.options.clone()
            },
            scripts: Arc::clone(&self.scripts),
            metrics: Arc::clone(&self.metrics),
            indexer: self.indexer.clone(),
        }
    }

    /// Processes everything queued until the stream and the group's pending list are empty.
    /// Entries of other consumers are taken over at once (their work is idempotent).
    pub async fn drain(&self) -> Result<Round> {
        let mut total = Round::default();
        for _ in 0..DRAIN_ROUNDS {
            let round = self.run_once(false).await?;
            total.add(round);
            if round != Round::default() {
                continue;
            }
            let reclaimed = self.reclaim(Duration::ZERO).await?;
            total.add(reclaimed);
            if reclaimed == Round::default() && self.pending_count().await? == 0 {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!(error = %e, "search index catch-up failed; it will be retried");
                }
                return Ok(total);
            }
        }
        Err(Error::Internal("the queue did not drain".into()))
    }

    /// Sends the documents recorded while the search engine was down; returns how many. On
    /// failure they go back to the record.
    pub async fn catch_up(&self) -> Result<u64> {
        match &self.indexer {
            Some(indexer) => indexer.catch_up().await,
            None => Ok(0),
        }
    }

    /// Documents waiting for the search engine.
    pub async fn unindexed_count(&self) -> Result<u64> {
        use redis::AsyncTypedCommands;
        let mut conn = self.redis.clone();
        Ok(conn.llen(self.keys.unindexed()).await? as u64)
    }
}
