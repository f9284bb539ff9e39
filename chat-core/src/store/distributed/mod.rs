//! The distributed profile: MySQL / MariaDB for storage, Redis for numbering and the queue,
//! workers that persist the queue in batches.
//!
//! Applications are written to MySQL directly (rare, and their token must be unique). Chats,
//! messages and edits never touch MySQL on the request path: one Lua script per request checks
//! that the parent exists (chat N exists iff N ≤ its application's counter), takes the number
//! with `INCR`, appends the job to a stream and writes a pending record, in one round trip (see
//! `keys`). Reads consult the pending records as well as MySQL, so a read right after a
//! create finds it; counts come from the counters, which equal the number of acknowledged
//! creations. [`worker::Worker`] persists the stream and drops the pending records.
//!
//! Deletes are tombstones in Redis, set by one script per delete together with the delete's
//! job (see `redis`): every read and script consults them, so a delete is seen at once by every
//! process (reads of it are 404, lists and search leave it out, counts drop), and the worker
//! applies the job to MySQL and the search index after the jobs queued before it, never
//! persisting a create or edit a tombstone covers.

mod deletes;
#[cfg(feature = "test-support")]
mod hooks;
mod live;
mod lookup;
mod maintenance;
pub mod mysql;
mod numbering;
mod reads;
mod redis;
pub mod search;
mod setup;
mod transfer;
pub mod worker;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use self::mysql::MysqlStore;
use self::redis::conn::Conn;
use self::redis::{Key, Keys, Scripts};
use self::search::ElasticSearch;
use self::worker::{Worker, WorkerOptions};
use super::{probe, Backend, BackendHealth, IdCache, SearchSpec};
use crate::api::{Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::live::Subscription;
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    Token,
};
use crate::transfer::{
    BackupSummary, ExportOptions, ExportSender, RecordStream, RestoreOptions, RestoreSummary,
};

/// How a [`DistributedBackend`] is set up beyond the URLs of its [`Config`].
#[derive(Debug, Clone)]
pub struct DistributedOptions {
    /// Prefix of every Redis key, so several deployments (or tests) can share one Redis.
    pub key_prefix: String,
    /// Whether this process runs a worker in the background (an API-only process does not).
    pub background_worker: bool,
    /// The worker's settings.
    pub worker: WorkerOptions,
    /// Most MySQL connections.
    pub max_connections: u32,
    /// How often the background worker recounts every application (`None`: never).
    pub recount_interval: Option<Duration>,
    /// The search index's alias is `{index_prefix}-messages` (with an Elasticsearch URL).
    pub index_prefix: String,
    /// Replicas of the search index.
    pub index_replicas: u32,
    /// Primary shards of the search index.
    pub index_shards: u32,
    /// Queue shards (see `redis`'s module doc): fixed for a deployment.
    pub shards: u16,
    /// Redis replicas that must hold a write before it is answered (`WAIT`; 0: none).
    pub ack_replicas: u32,
    /// How long a write waits for them.
    pub ack_timeout: Duration,
}

/// Most MySQL connections of a [`DistributedBackend`], by default.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

impl DistributedOptions {
    /// The options a [`Config`] describes: key prefix, whether to run the worker, its batch
    /// size (`max_batch`) and claim delay, the recount interval, the search index's and the
    /// queue's settings; the MySQL pool at [`DEFAULT_MAX_CONNECTIONS`].
    pub fn from_config(config: &Config) -> Self {
        DistributedOptions {
            key_prefix: config.redis_prefix.clone(),
            background_worker: config.worker,
            worker: WorkerOptions {
                batch: config.max_batch.max(1),
                claim_idle: config.claim_idle,
                ..WorkerOptions::default()
            },
            max_connections: DEFAULT_MAX_CONNECTIONS,
            recount_interval: config.recount_interval,
            index_prefix: config.index_prefix.clone(),
            index_replicas: config.index_replicas,
            index_shards: config.index_shards,
            shards: config.redis_shards,
            ack_replicas: config.redis_ack_replicas,
            ack_timeout: config.redis_ack_timeout,
        }
    }
}

/// The options of [`Config::default`], with the worker's own defaults ([`WorkerOptions`]).
impl Default for DistributedOptions {
    fn default() -> Self {
        DistributedOptions {
            worker: WorkerOptions::default(),
            ..DistributedOptions::from_config(&Config::default())
        }
    }
}

/// The background tasks (worker, periodic recount) and the switch that stops them.
type Background = (watch::Sender<bool>, Vec<JoinHandle<()>>);

/// The distributed backend.
pub struct DistributedBackend {
    store: Arc<MysqlStore>,
    redis: Conn,
    keys: Keys,
    /// Redis replicas a write waits for, and how long.
    ack: (u32, Duration),
    scripts: Arc<Scripts>,
    /// Sends message creates in pipelines.
    batcher: self::redis::batch::Batcher,
    apps: IdCache<Token>,
    search: Option<ElasticSearch>,
    /// Runs in the background when the options ask for it; there all the same.
    worker: Arc<Worker>,
    background: Mutex<Option<Background>>,
    metrics: Arc<Metrics>,
    live: Arc<self::redis::live::RedisLive>,
    /// Stops the live relay.
    live_task: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

impl DistributedBackend {
    fn conn(&self) -> Conn {
        self.redis.clone()
    }
}

/// Each operation is an inherent method of the same name in `writes.rs`, `reads.rs`,
/// `deletes.rs`, `search`, `live.rs`, `maintenance.rs` or `transfer.rs`: `DistributedBackend::create_chat(self, …)` names that method (inherent methods
/// come before trait methods), so the trait's names go all the way down to the code that works.
#[async_trait]
impl Backend for DistributedBackend {
    async fn create_application(&self, name: Name) -> Result<Application> {
        DistributedBackend::create_application(self, name).await
    }

    async fn get_application(&self, token: &Token) -> Result<Application> {
        DistributedBackend::get_application(self, token).await
    }

    async fn update_application(&self, token: &Token, name: Name) -> Result<Application> {
        DistributedBackend::update_application(self, token, name).await
    }

    async fn list_applications(
        &self,
        page: &PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        DistributedBackend::list_applications(self, page).await
    }

    async fn create_chat(&self, token: &Token) -> Result<Chat> {
        DistributedBackend::create_chat(self, token).await
    }

    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        DistributedBackend::get_chat(self, token, chat).await
    }

    async fn list_chats(
        &self,
        token: &Token,
        page: &PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        DistributedBackend::list_chats(self, token, page).await
    }

    async fn create_message(&self, token: &Token, chat: ChatNumber, body: Body) -> Result<Message> {
        DistributedBackend::create_message(self, token, chat, body).await
    }

    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: Vec<Body>,
    ) -> Result<Vec<Message>> {
        DistributedBackend::create_messages(self, token, chat, bodies).await
    }

    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        DistributedBackend::get_message(self, token, chat, message).await
    }

    async fn delete_application(&self, token: &Token) -> Result<()> {
        DistributedBackend::delete_application(self, token).await
    }

    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        DistributedBackend::delete_chat(self, token, chat).await
    }

    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        DistributedBackend::delete_message(self, token, chat, message).await
    }

    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: Body,
    ) -> Result<Message> {
        DistributedBackend::update_message(self, token, chat, message, body).await
    }

    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: &PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        DistributedBackend::list_messages(self, token, chat, page).await
    }

    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        self.search_chat(token, chat, query, spec).await
    }

    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        DistributedBackend::recount(self, scope, progress).await
    }

    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        DistributedBackend::reindex(self, scope, progress).await
    }

    async fn queue_status(&self) -> Result<QueueStatus> {
        DistributedBackend::queue_status(self).await
    }

    async fn retry_dead(&self) -> Result<RetrySummary> {
        DistributedBackend::retry_dead(self).await
    }

    async fn export(
        &self,
        scope: Option<&Token>,
        options: &ExportOptions,
        tx: ExportSender,
    ) -> Result<()> {
        self.start_export(scope, options.drain_timeout, tx).await
    }

    async fn restore(
        &self,
        records: RecordStream,
        options: &RestoreOptions,
        progress: &dyn Progress,
    ) -> Result<RestoreSummary> {
        self.restore_stream(records, options, progress).await
    }

    async fn backup(
        &self,
        _path: &std::path::Path,
        _progress: &dyn Progress,
    ) -> Result<BackupSummary> {
        Err(transfer::no_backup())
    }

    async fn health(&self) -> Vec<BackendHealth> {
        let mut conn = self.conn();
        let ping = ::redis::cmd("PING");
        let mut states = vec![
            probe("mysql", self.store.ping()).await,
            probe("redis", ping.query_async::<String>(&mut conn)).await,
        ];
        if let Some(search) = &self.search {
            states.push(probe("elasticsearch", search.ping()).await);
        }
        states
    }

    async fn subscribe(&self, token: &Token, chat: ChatNumber) -> Result<Subscription> {
        DistributedBackend::subscribe(self, token, chat).await
    }

    async fn close(&self) {
        if let Some((stop, task)) = self.live_task.lock().await.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
        self.live.close();
        if let Some((stop, tasks)) = self.background.lock().await.take() {
            let _ = stop.send(true);
            for task in tasks {
                let _ = task.await;
            }
        }
        self.store.close().await;
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
