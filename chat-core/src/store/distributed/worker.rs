//! The worker: persists the queue in batches.
//!
//! A worker reads up to `batch` new entries from the stream as a member of the consumer group
//! (`XREADGROUP`), writes them in one MySQL transaction (`MysqlStore::persist_batch`, safe to
//! repeat), and only then acknowledges and deletes them and drops their pending records — so a
//! worker killed at any point leaves its entries pending in the group, never lost. Entries idle
//! longer than `claim_idle` (their consumer died) are taken over with `XAUTOCLAIM` and
//! persisted again, which the idempotent inserts make harmless. When a batch fails, its jobs
//! are retried one by one so that one bad job cannot hold up the others; a job that failed
//! and has been delivered more than `max_deliveries` times goes to the dead-letter stream with
//! its last error. While the database is unavailable nothing fails for good: the entries stay
//! pending and are retried.
//!
//! [`Worker::drain`] runs all of this until the queue is empty: tests call it instead of
//! sleeping, and a background task calls [`Worker::run_once`] in a loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;
use tokio::sync::watch;

use super::redis::queue::decode;
use super::redis::{self as scripts, Keys, GROUP};
use super::search::indexing::Indexer;
use super::search::ElasticSearch;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::distributed::mysql::{Job, MysqlStore};

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
            batch: 1000,
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 5,
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

/// `XPENDING`'s summary: count, smallest and largest id, entries per consumer.
#[cfg(feature = "test-support")]
type PendingSummary = (
    u64,
    Option<String>,
    Option<String>,
    Option<Vec<(String, String)>>,
);

/// One stream entry: its id and its `j` field (absent when the entry was deleted).
type Entry = (String, Option<HashMap<String, String>>);

/// A queue consumer writing to MySQL.
pub struct Worker {
    redis: ConnectionManager,
    store: Arc<MysqlStore>,
    keys: Keys,
    options: WorkerOptions,
    finish: Script,
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

impl Worker {
    pub(crate) async fn new(
        redis: ConnectionManager,
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
            finish: scripts::finish(),
            indexer: search
                .map(|search| Arc::new(Indexer::new(search, redis_for_index, keys_for_index))),
            metrics,
        };
        worker.ensure_group().await?;
        Ok(worker)
    }

    /// The same worker under another consumer name (e.g. to play a second process).
    #[cfg(feature = "test-support")]
    pub fn with_consumer(&self, consumer: &str) -> Worker {
        Worker {
            redis: self.redis.clone(),
            store: Arc::clone(&self.store),
            keys: self.keys.clone(),
            options: WorkerOptions {
                consumer: consumer.to_owned(),
                ..self.options.clone()
            },
            finish: scripts::finish(),
            metrics: Arc::clone(&self.metrics),
            indexer: self.indexer.clone(),
        }
    }

    /// Creates the stream and the consumer group when missing (also after Redis lost them).
    async fn ensure_group(&self) -> Result<()> {
        let mut conn = self.redis.clone();
        let created = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.stream())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async::<()>(&mut conn)
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Reads up to one batch of new entries (waiting up to `block` when `wait`), without
    /// processing them. Tests use it to play a worker that dies before acknowledging.
    #[cfg(feature = "test-support")]
    pub async fn read_new(&self, wait: bool) -> Result<usize> {
        Ok(self.read(wait).await?.len())
    }

    async fn read(&self, wait: bool) -> Result<Vec<Entry>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.options.consumer)
            .arg("COUNT")
            .arg(self.options.batch.max(1));
        if wait {
            cmd.arg("BLOCK").arg(self.options.block.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(self.keys.stream()).arg(">");
        let mut conn = self.redis.clone();
        type Reply = Option<Vec<(String, Vec<Entry>)>>;
        let reply = match cmd.query_async::<Reply>(&mut conn).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                cmd.query_async::<Reply>(&mut conn).await?
            }
            other => other?,
        };
        Ok(reply
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    /// Reads one batch of new entries and persists it. Returns what it did.
    pub async fn run_once(&self, wait: bool) -> Result<Round> {
        let entries = self.read(wait).await?;
        self.process(entries).await
    }

    /// Takes over entries idle for at least `min_idle` (their consumer died or stalled),
    /// dead-letters those delivered too often, and persists the others.
    pub async fn reclaim(&self, min_idle: Duration) -> Result<Round> {
        let mut conn = self.redis.clone();
        let (_next, entries, _deleted): (String, Vec<Entry>, Vec<String>) =
            redis::cmd("XAUTOCLAIM")
                .arg(self.keys.stream())
                .arg(GROUP)
                .arg(&self.options.consumer)
                .arg(min_idle.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(self.options.batch.max(1))
                .query_async(&mut conn)
                .await?;
        if entries.is_empty() {
            return Ok(Round::default());
        }
        // Delivery counts of what this consumer now holds.
        let first = &entries[0].0;
        let last = &entries[entries.len() - 1].0;
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(self.keys.stream())
            .arg(GROUP)
            .arg(first)
            .arg(last)
            .arg(entries.len())
            .arg(&self.options.consumer)
            .query_async(&mut conn)
            .await?;
        let deliveries: HashMap<String, u64> =
            pending.into_iter().map(|(id, _, _, n)| (id, n)).collect();
        let mut round = Round::default();
        // Only entries whose job itself failed are buried: deliveries also pile up while the
        // database is down, and those jobs are fine.
        let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
        let errors: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.errors())
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        let mut retry = Vec::new();
        for (entry, error) in entries.into_iter().zip(errors) {
            let delivered = deliveries.get(&entry.0).copied().unwrap_or(0);
            if error.is_some() && delivered > self.options.max_deliveries {
                self.bury(&entry).await?;
                round.dead += 1;
            } else {
                retry.push(entry);
            }
        }
        round.add(self.process(retry).await?);
        Ok(round)
    }

    /// Processes everything queued until the stream and the group's pending list are empty.
    /// Entries of other consumers are taken over at once (their work is idempotent).
    #[cfg(feature = "test-support")]
    pub async fn drain(&self) -> Result<Round> {
        let mut total = Round::default();
        for _ in 0..10_000 {
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

    /// Entries delivered to a consumer and not yet acknowledged.
    #[cfg(feature = "test-support")]
    pub async fn pending_count(&self) -> Result<u64> {
        let mut conn = self.redis.clone();
        let summary: PendingSummary = redis::cmd("XPENDING")
            .arg(self.keys.stream())
            .arg(GROUP)
            .query_async(&mut conn)
            .await?;
        Ok(summary.0)
    }

    /// Runs until `stop` turns true: read (waiting up to `block`), persist, and now and then
    /// reclaim what dead consumers left behind. A round in progress is finished, not cut off,
    /// so stopping waits at most `block` plus one batch.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut last_claim = tokio::time::Instant::now();
        while !*stop.borrow() {
            let mut result = self.run_once(true).await;
            if let (true, Some(indexer)) = (result.is_ok(), &self.indexer) {
                if indexer.catch_up_due() {
                    if let Err(e) = indexer.catch_up().await {
                        tracing::warn!(error = %e, "search index catch-up failed; retrying in 5 s");
                    }
                }
            }
            if result.is_ok() && last_claim.elapsed() >= self.options.claim_idle / 2 {
                last_claim = tokio::time::Instant::now();
                result = self.reclaim(self.options.claim_idle).await;
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, "worker round failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Persists entries: the whole batch at once, or one by one when that fails.
    async fn process(&self, entries: Vec<Entry>) -> Result<Round> {
        let mut round = Round::default();
        let mut jobs: Vec<(String, Job)> = Vec::with_capacity(entries.len());
        for (id, fields) in entries {
            let decoded = fields
                .as_ref()
                .and_then(|f| f.get("j"))
                .ok_or_else(|| Error::Internal("queued entry without a job".into()))
                .and_then(|j| decode(j));
            match decoded {
                Ok(job) => jobs.push((id, job)),
                Err(e) => {
                    self.record_error(&id, &e).await?;
                    round.failed += 1;
                }
            }
        }
        if jobs.is_empty() {
            return Ok(round);
        }
        let batch: Vec<Job> = jobs.iter().map(|(_, j)| j.clone()).collect();
        let persisted = self.persist(&batch).await;
        self.metrics.record_batch(batch.len(), persisted.is_ok());
        match persisted {
            Ok(()) => {
                self.index(jobs.iter().map(|(_, j)| j)).await;
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
                            self.index(std::iter::once(&job)).await;
                            self.finish(&[(id, job)]).await?;
                            round.persisted += 1;
                        }
                        Err(e @ Error::Unavailable { .. }) => return Err(e),
                        Err(e) => {
                            self.record_error(&id, &e).await?;
                            round.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(round)
    }

    /// Persists a batch, retrying a transient failure (a deadlock between two workers' batches,
    /// a connection dropped mid-way) a few times at once instead of leaving the entries to the
    /// reclaim timeout.
    async fn persist(&self, jobs: &[Job]) -> Result<()> {
        let mut wait = Duration::from_millis(25);
        for _ in 0..3 {
            match self.store.persist_batch(jobs).await {
                Err(Error::Unavailable { reason, .. }) => {
                    tracing::debug!(reason, "batch failed for a transient reason; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
                other => return other,
            }
        }
        self.store.persist_batch(jobs).await
    }

    /// Sends the persisted messages of a batch to the search engine (see [`Indexer::index`]).
    async fn index<'a>(&self, jobs: impl Iterator<Item = &'a Job>) {
        if let Some(indexer) = &self.indexer {
            indexer.index(jobs).await;
        }
    }

    /// Acknowledges persisted entries and drops the pending records they wrote.
    async fn finish(&self, jobs: &[(String, Job)]) -> Result<()> {
        let mut invocation = self.finish.key(self.keys.stream());
        invocation.arg(GROUP);
        for (id, job) in jobs {
            let (hash, field) = match job {
                Job::Chat { app, number, .. } => (self.keys.pending_chats(*app), *number),
                Job::Message {
                    app, chat, number, ..
                } => (self.keys.pending_messages(*app, *chat), *number),
            };
            invocation.arg(hash).arg(field).arg(id);
        }
        let mut conn = self.redis.clone();
        invocation.invoke_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Sends the documents recorded while the search engine was down; returns how many. On
    /// failure they go back to the record.
    #[cfg(feature = "test-support")]
    pub async fn catch_up(&self) -> Result<u64> {
        match &self.indexer {
            Some(indexer) => indexer.catch_up().await,
            None => Ok(0),
        }
    }

    /// Documents waiting for the search engine.
    #[cfg(feature = "test-support")]
    pub async fn unindexed_count(&self) -> Result<u64> {
        let mut conn = self.redis.clone();
        Ok(redis::cmd("LLEN")
            .arg(self.keys.unindexed())
            .query_async(&mut conn)
            .await?)
    }

    async fn record_error(&self, id: &str, error: &Error) -> Result<()> {
        tracing::warn!(entry = id, error = %error, "queued job failed");
        let mut conn = self.redis.clone();
        redis::cmd("HSET")
            .arg(self.keys.errors())
            .arg(id)
            .arg(error.to_string())
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Moves an entry to the dead-letter stream with its last error. Its pending record stays,
    /// so reads still show the write until an operator retries or removes it.
    async fn bury(&self, (id, fields): &Entry) -> Result<()> {
        let mut conn = self.redis.clone();
        let error: Option<String> = redis::cmd("HGET")
            .arg(self.keys.errors())
            .arg(id)
            .query_async(&mut conn)
            .await?;
        let job = fields.as_ref().and_then(|f| f.get("j")).cloned();
        tracing::error!(entry = id, error = ?error, "queued job moved to the dead-letter stream");
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(self.keys.dead())
            .arg("*")
            .arg("j")
            .arg(job.unwrap_or_default())
            .arg("entry")
            .arg(id)
            .arg("error")
            .arg(error.unwrap_or_else(|| "unknown".to_owned()))
            .ignore()
            .cmd("XACK")
            .arg(self.keys.stream())
            .arg(GROUP)
            .arg(id)
            .ignore()
            .cmd("XDEL")
            .arg(self.keys.stream())
            .arg(id)
            .ignore()
            .cmd("HDEL")
            .arg(self.keys.errors())
            .arg(id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}
