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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions};
use redis::AsyncTypedCommands;
use tokio::sync::watch;

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
/// How long an entry stays with a silent consumer before another takes it over, by default.
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(30);
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
    redis: ConnectionManager,
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
        redis: ConnectionManager,
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
            scripts: Arc::clone(&self.scripts),
            metrics: Arc::clone(&self.metrics),
            indexer: self.indexer.clone(),
        }
    }

    /// Creates the stream and the consumer group when missing (also after Redis lost them).
    async fn ensure_group(&self) -> Result<()> {
        let mut conn = self.redis.clone();
        match conn
            .xgroup_create_mkstream(self.keys.stream(), GROUP, "0")
            .await
        {
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

    async fn read(&self, wait: bool) -> Result<Vec<StreamId>> {
        let mut options = StreamReadOptions::default()
            .group(GROUP, &self.options.consumer)
            .count(self.options.batch.max(1));
        if wait {
            options = options.block(millis(self.options.block));
        }
        let streams = [self.keys.stream()];
        let mut conn = self.redis.clone();
        let reply = match conn.xread_options(&streams, &[">"], &options).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                conn.xread_options(&streams, &[">"], &options).await?
            }
            other => other?,
        };
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
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
        let claimed = conn
            .xautoclaim_options(
                self.keys.stream(),
                GROUP,
                &self.options.consumer,
                millis(min_idle),
                "0-0",
                StreamAutoClaimOptions::default().count(self.options.batch.max(1)),
            )
            .await?
            .claimed;
        let (Some(first), Some(last)) = (claimed.first(), claimed.last()) else {
            return Ok(Round::default());
        };
        // Delivery counts of what this consumer now holds.
        let deliveries: HashMap<String, usize> = conn
            .xpending_consumer_count(
                self.keys.stream(),
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
        let mut round = Round::default();
        // Only entries whose job itself failed are buried: deliveries also pile up while the
        // database is down, and those jobs are fine.
        let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
        let errors: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.errors())
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        let mut retry = Vec::new();
        for (entry, error) in claimed.into_iter().zip(errors) {
            let delivered = deliveries.get(&entry.id).copied().unwrap_or(0) as u64;
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

    /// Entries delivered to a consumer and not yet acknowledged.
    #[cfg(feature = "test-support")]
    pub async fn pending_count(&self) -> Result<u64> {
        let mut conn = self.redis.clone();
        let summary = conn.xpending(self.keys.stream(), GROUP).await?;
        Ok(summary.count() as u64)
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
    async fn process(&self, entries: Vec<StreamId>) -> Result<Round> {
        let mut round = Round::default();
        let mut jobs: Vec<(String, Job)> = Vec::with_capacity(entries.len());
        for entry in entries {
            let decoded = entry
                .get::<String>("j")
                .ok_or_else(|| Error::Internal("queued entry without a job".into()))
                .and_then(|j| decode(&j));
            match decoded {
                Ok(job) => jobs.push((entry.id, job)),
                Err(e) => {
                    self.record_error(&entry.id, &e).await?;
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
                            self.record_error(&id, &e).await?;
                            round.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(round)
    }

    /// The positions of the creates and edits that a delete's tombstone covers: their
    /// application, chat or message is deleted (one round trip for the batch).
    async fn covered(&self, jobs: &[(String, Job)]) -> Result<BTreeSet<usize>> {
        let mut apps: BTreeSet<i64> = BTreeSet::new();
        let mut chats: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
        let mut messages: BTreeMap<(i64, u32), BTreeSet<u32>> = BTreeMap::new();
        for (_, job) in jobs {
            match job {
                Job::Chat { app, number, .. } => {
                    apps.insert(*app);
                    chats.entry(*app).or_default().insert(*number);
                }
                Job::Message {
                    app, chat, number, ..
                } => {
                    apps.insert(*app);
                    chats.entry(*app).or_default().insert(*chat);
                    messages.entry((*app, *chat)).or_default().insert(*number);
                }
                _ => {}
            }
        }
        if apps.is_empty() {
            return Ok(BTreeSet::new());
        }
        let mut pipe = redis::pipe();
        let apps: Vec<i64> = apps.into_iter().collect();
        let markers: Vec<_> = apps.iter().map(|a| self.keys.deleted_app(*a)).collect();
        pipe.cmd("MGET").arg(&markers);
        for (app, numbers) in &chats {
            pipe.cmd("SMISMEMBER")
                .arg(self.keys.deleted_chats(*app))
                .arg(numbers);
        }
        for ((app, chat), numbers) in &messages {
            pipe.cmd("SMISMEMBER")
                .arg(self.keys.deleted_messages(*app, *chat))
                .arg(numbers);
        }
        let mut conn = self.redis.clone();
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut replies = replies.drain(..);
        fn typed<T: redis::FromRedisValue>(v: Option<redis::Value>) -> Result<T> {
            let v = v.ok_or_else(|| Error::Internal("a pipeline reply is missing".into()))?;
            redis::from_redis_value(v)
                .map_err(|e| Error::Internal(format!("unexpected reply of Redis: {e}")))
        }
        let flags = |v: Option<redis::Value>| typed::<Vec<bool>>(v);
        let markers: Vec<Option<String>> = typed(replies.next())?;
        let gone_apps: BTreeSet<i64> = apps
            .iter()
            .zip(markers)
            .filter(|(_, m)| m.is_some())
            .map(|(a, _)| *a)
            .collect();
        let mut gone_chats: BTreeSet<(i64, u32)> = BTreeSet::new();
        for (app, numbers) in &chats {
            for (n, gone) in numbers.iter().zip(flags(replies.next())?) {
                if gone {
                    gone_chats.insert((*app, *n));
                }
            }
        }
        let mut gone_messages: BTreeSet<(i64, u32, u32)> = BTreeSet::new();
        for ((app, chat), numbers) in &messages {
            for (n, gone) in numbers.iter().zip(flags(replies.next())?) {
                if gone {
                    gone_messages.insert((*app, *chat, *n));
                }
            }
        }
        Ok(jobs
            .iter()
            .enumerate()
            .filter(|(_, (_, job))| match job {
                Job::Chat { app, number, .. } => {
                    gone_apps.contains(app) || gone_chats.contains(&(*app, *number))
                }
                Job::Message {
                    app, chat, number, ..
                } => {
                    gone_apps.contains(app)
                        || gone_chats.contains(&(*app, *chat))
                        || gone_messages.contains(&(*app, *chat, *number))
                }
                _ => false,
            })
            .map(|(i, _)| i)
            .collect())
    }

    /// Gives each message job whose chat may still be queued its chat's creation time, from
    /// the chat's pending record (one round trip for the batch), so that persisting it creates
    /// the chat's row when the chat's own job has not landed yet. A chat without a pending
    /// record is persisted: its record is dropped only after its row committed.
    async fn add_chat_times(&self, jobs: &mut [(String, Job)]) -> Result<()> {
        let queued: BTreeSet<(i64, u32)> = jobs
            .iter()
            .filter_map(|(_, j)| match j {
                Job::Chat { app, number, .. } => Some((*app, *number)),
                _ => None,
            })
            .collect();
        let mut wanted: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
        for (_, job) in jobs.iter() {
            if let Job::Message {
                app,
                chat,
                chat_at: None,
                ..
            } = job
            {
                if !queued.contains(&(*app, *chat)) {
                    wanted.entry(*app).or_default().insert(*chat);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (app, chats) in &wanted {
            pipe.cmd("HMGET")
                .arg(self.keys.pending_chats(*app))
                .arg(chats);
        }
        let mut conn = self.redis.clone();
        let records: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        let mut times: HashMap<(i64, u32), i64> = HashMap::new();
        for ((app, chats), records) in wanted.iter().zip(records) {
            for (chat, record) in chats.iter().zip(records) {
                if let Some(json) = record {
                    times.insert((*app, *chat), pending::<PendingChat>(&json)?.created_at()?);
                }
            }
        }
        for (_, job) in jobs.iter_mut() {
            if let Job::Message {
                app,
                chat,
                chat_at: chat_at @ None,
                ..
            } = job
            {
                *chat_at = times.get(&(*app, *chat)).copied();
            }
        }
        Ok(())
    }

    /// Persists a batch, retrying a transient failure a few times at once instead of leaving
    /// the entries to the reclaim timeout.
    async fn persist(&self, jobs: &[Job]) -> Result<()> {
        let mut wait = PERSIST_FIRST_WAIT;
        for _ in 0..PERSIST_RETRIES {
            match self.store.persist_batch(jobs).await {
                Err(Error::Unavailable { reason, .. }) => {
                    tracing::debug!(reason, "batch failed for a transient reason; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= PERSIST_BACKOFF;
                }
                other => return other,
            }
        }
        self.store.persist_batch(jobs).await
    }

    /// Sends the persisted messages of a batch to the search engine (see [`Indexer::index`]),
    /// then removes the documents its deletes cover.
    async fn index(&self, jobs: &[(String, Job)]) {
        if let Some(indexer) = &self.indexer {
            indexer.index(jobs).await;
            let deletes: Vec<&Job> = jobs
                .iter()
                .map(|(_, j)| j)
                .filter(|j| j.is_delete())
                .collect();
            indexer.unindex(&deletes).await;
        }
    }

    /// Acknowledges and deletes persisted entries and drops the pending records they wrote
    /// (`lua/finish.lua`: one call per chunk, the records grouped by their hash).
    async fn finish(&self, jobs: &[(String, Job)]) -> Result<()> {
        let mut conn = self.redis.clone();
        for chunk in jobs.chunks(FINISH_CHUNK) {
            let mut groups: BTreeMap<String, Vec<(u32, &str)>> = BTreeMap::new();
            for (id, job) in chunk {
                // A delete wrote no record: it names a field whose record (if any) another job
                // wrote, which is therefore kept; only its entry is acknowledged.
                let (hash, field) = match job {
                    Job::Chat { app, number, .. } => (self.keys.pending_chats(*app), *number),
                    Job::Message {
                        app, chat, number, ..
                    }
                    | Job::DeleteMessage { app, chat, number } => {
                        (self.keys.pending_messages(*app, *chat), *number)
                    }
                    Job::DeleteChat { app, chat } => (self.keys.pending_chats(*app), *chat),
                    Job::DeleteApp { app } => (self.keys.pending_chats(*app), 0),
                };
                groups
                    .entry(hash.to_string())
                    .or_default()
                    .push((field, id.as_str()));
            }
            let lua = &self.scripts.finish;
            let mut cmd = lua.command(1);
            cmd.arg(self.keys.stream()).arg(GROUP);
            for (hash, records) in &groups {
                cmd.arg(hash).arg(records.len());
                for (field, id) in records {
                    cmd.arg(*field).arg(*id);
                }
            }
            let _: u64 = lua.run(&cmd, &mut conn).await?;
        }
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
        Ok(conn.llen(self.keys.unindexed()).await? as u64)
    }

    async fn record_error(&self, id: &str, error: &Error) -> Result<()> {
        tracing::warn!(entry = id, error = %error, "queued job failed");
        let mut conn = self.redis.clone();
        conn.hset(self.keys.errors(), id, error.to_string()).await?;
        Ok(())
    }

    /// Moves an entry to the dead-letter stream with its last error. Its pending record stays,
    /// so reads still show the write until an operator retries or removes it.
    async fn bury(&self, entry: &StreamId) -> Result<()> {
        let id = entry.id.as_str();
        let mut conn = self.redis.clone();
        let error = conn.hget(self.keys.errors(), id).await?;
        let job: String = entry.get("j").unwrap_or_default();
        tracing::error!(entry = id, error = ?error, "queued job moved to the dead-letter stream");
        redis::pipe()
            .atomic()
            .xadd(
                self.keys.dead(),
                "*",
                &[
                    ("j", job.as_str()),
                    ("entry", id),
                    ("error", error.as_deref().unwrap_or("unknown")),
                ],
            )
            .ignore()
            .xack(self.keys.stream(), GROUP, &[id])
            .ignore()
            .xdel(self.keys.stream(), &[id])
            .ignore()
            .hdel(self.keys.errors(), id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}
