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

pub mod mysql;
mod reads;
mod redis;
pub mod search;
mod status;
pub mod worker;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use self::mysql::MysqlStore;
use self::redis::{Key, Keys, Scripts};
use self::search::ElasticSearch;
use self::worker::{Worker, WorkerOptions};
use super::{probe, Backend, BackendHealth, IdCache, SearchSpec};
use crate::api::{Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};
use crate::config::Config;
use crate::error::{Error, Missing, Result};
use crate::live::Subscription;
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    Token,
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
}

impl DistributedOptions {
    /// The options a [`Config`] describes: key prefix, whether to run the worker, its batch
    /// size (`max_batch`) and the recount interval.
    pub fn from_config(config: &Config) -> Self {
        let defaults = DistributedOptions::default();
        DistributedOptions {
            key_prefix: config.redis_prefix.clone(),
            background_worker: config.worker,
            worker: WorkerOptions {
                batch: config.max_batch.max(1),
                claim_idle: config.claim_idle,
                ..defaults.worker
            },
            recount_interval: config.recount_interval,
            index_prefix: config.index_prefix.clone(),
            index_replicas: config.index_replicas,
            ..defaults
        }
    }
}

impl Default for DistributedOptions {
    fn default() -> Self {
        DistributedOptions {
            key_prefix: "chat:".to_owned(),
            background_worker: true,
            worker: WorkerOptions::default(),
            max_connections: 10,
            recount_interval: Some(crate::config::DEFAULT_RECOUNT_INTERVAL),
            index_prefix: "chat".to_owned(),
            index_replicas: 1,
        }
    }
}

/// The background tasks (worker, periodic recount) and the switch that stops them.
type Background = (watch::Sender<bool>, Vec<JoinHandle<()>>);

/// The distributed backend.
pub struct DistributedBackend {
    store: Arc<MysqlStore>,
    redis: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    /// Sends message creates in pipelines.
    batcher: self::redis::batch::Batcher,
    apps: IdCache<Token>,
    search: Option<ElasticSearch>,
    #[cfg(feature = "test-support")]
    worker: Arc<Worker>,
    background: Mutex<Option<Background>>,
    metrics: Arc<Metrics>,
    live: Arc<self::redis::live::RedisLive>,
    /// Stops the live relay.
    live_task: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

impl DistributedBackend {
    /// Connects to `config.database_url` (migrating it) and `config.redis_url`, and starts the
    /// background worker when the options ask for one.
    pub async fn open(config: &Config, options: DistributedOptions) -> Result<Self> {
        let redis_url = config.redis_url.as_deref().ok_or_else(|| {
            Error::BadRequest(
                "a mysql:// database needs a Redis for numbering and the queue: \
                 set CHAT_REDIS_URL (or --redis-url) to redis://HOST:PORT"
                    .to_owned(),
            )
        })?;
        let client = ::redis::Client::open(redis_url).map_err(|e| {
            Error::BadRequest(format!(
                "invalid Redis URL {}: {e}",
                crate::config::redact_url(redis_url)
            ))
        })?;
        // The API and the worker use separate connections: a worker's blocking read would
        // otherwise hold up every request multiplexed behind it.
        let api_config =
            ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(5)));
        let redis = ConnectionManager::new_with_config(client.clone(), api_config).await?;
        let (batcher, batch_task) = self::redis::batch::Batcher::new(redis.clone());
        tokio::spawn(batch_task);
        let worker_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.worker.block + Duration::from_secs(5)));
        let worker_redis =
            ConnectionManager::new_with_config(client.clone(), worker_config).await?;
        let (live_stop, live_stopped) = watch::channel(false);
        let (live, relay) = self::redis::live::RedisLive::new(client, live_stopped);
        let live_task = tokio::spawn(relay);
        let store =
            Arc::new(MysqlStore::open(&config.database_url, options.max_connections).await?);
        let keys = Keys::new(&options.key_prefix);
        let metrics = Arc::new(Metrics::default());
        let search = match config.elasticsearch_url.as_deref() {
            Some(url) => {
                Some(ElasticSearch::open(url, &options.index_prefix, options.index_replicas).await?)
            }
            None => None,
        };
        let scripts = Arc::new(Scripts::new());
        let worker = Arc::new(
            Worker::new(
                worker_redis,
                Arc::clone(&scripts),
                Arc::clone(&store),
                keys.clone(),
                options.worker.clone(),
                Arc::clone(&metrics),
                search.clone(),
            )
            .await?,
        );
        let background = if options.background_worker {
            let (tx, rx) = watch::channel(false);
            let mut tasks = vec![tokio::spawn(Arc::clone(&worker).run(rx.clone()))];
            if let Some(every) = options.recount_interval.filter(|d| !d.is_zero()) {
                tasks.push(tokio::spawn(recount_periodically(
                    redis.clone(),
                    Arc::clone(&store),
                    keys.recount_lock().to_string(),
                    every,
                    rx,
                )));
            }
            Some((tx, tasks))
        } else {
            None
        };
        Ok(DistributedBackend {
            store,
            redis,
            keys,
            scripts,
            batcher,
            apps: IdCache::default(),
            search,
            #[cfg(feature = "test-support")]
            worker,
            background: Mutex::new(background),
            metrics,
            live,
            live_task: Mutex::new(Some((live_stop, live_task))),
        })
    }

    /// The worker of this backend (also usable when no background worker runs).
    #[cfg(feature = "test-support")]
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// The search engine, when one is configured.
    #[cfg(feature = "test-support")]
    pub fn search(&self) -> Option<&ElasticSearch> {
        self.search.as_ref()
    }

    /// The MySQL store (its [`MysqlStore::operations`] counter shows which paths reach it).
    #[cfg(feature = "test-support")]
    pub fn store(&self) -> &MysqlStore {
        &self.store
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The application's id: from the in-process cache (ids never change), else MySQL.
    async fn app_id(&self, token: &Token) -> Result<i64> {
        if let Some(id) = self.apps.get(token) {
            return Ok(id);
        }
        let row = self.store.application(token).await?;
        let id = row.map(|r| r.id).ok_or_else(|| not_app(token))?;
        self.apps.insert(token.clone(), id);
        Ok(id)
    }

    /// One page of a search, as stored: only persisted messages are searchable, as with a
    /// search engine's refresh interval. The engine finds substrings of three characters or
    /// more; shorter ones have no gram and are looked for in the one chat's rows.
    async fn search_once(
        &self,
        app: i64,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        if let Some(search) = &self.search {
            if query.has_trigram() {
                return search.search(app, chat.get(), query, spec).await;
            }
        }
        match self.store.chat_id(app, chat).await? {
            Some(id) => self.store.search(id, query, spec).await,
            None => Ok(Vec::new()),
        }
    }

    /// Seeds a missing counter from the database's maximum and the numbers still pending.
    async fn seed(
        &self,
        counter: Key<'_>,
        pending: Key<'_>,
        db_max: impl std::future::Future<Output = Result<u32>>,
    ) -> Result<()> {
        let mut conn = self.conn();
        // The pending maximum is read before the database's, so that a number persisted (and
        // its pending record dropped) in between is seen by one of the two reads.
        let mut cmd = self.scripts.pending_max.command(1);
        cmd.arg(pending);
        let before: i64 = self.scripts.pending_max.run(&cmd, &mut conn).await?;
        let db = db_max.await?;
        let mut cmd = self.scripts.seed.command(2);
        cmd.arg(counter).arg(pending).arg(before).arg(db);
        let _: i64 = self.scripts.seed.run(&cmd, &mut conn).await?;
        tracing::info!(
            counter = %counter,
            db_max = db,
            pending_max = before,
            "seeded a missing counter"
        );
        Ok(())
    }

    async fn seed_chats(&self, app: i64) -> Result<()> {
        self.seed(
            self.keys.chat_counter(app),
            self.keys.pending_chats(app),
            self.store.max_chat_number(app),
        )
        .await
    }

    async fn seed_messages(&self, app: i64, chat: ChatNumber) -> Result<()> {
        self.seed(
            self.keys.message_counter(app, chat.get()),
            self.keys.pending_messages(app, chat.get()),
            self.store.max_message_number(app, chat),
        )
        .await
    }

    async fn scope(&self, scope: Option<&Token>) -> Result<Vec<(i64, Token)>> {
        match scope {
            Some(token) => Ok(vec![(self.app_id(token).await?, token.clone())]),
            None => self.store.all_applications().await,
        }
    }
}

/// Every `every`, recounts all applications — in one process of the deployment per interval:
/// a Redis key set with `NX` and an expiry of the interval elects it.
async fn recount_periodically(
    mut redis: ConnectionManager,
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

fn not_app(token: &Token) -> Error {
    Error::NotFound(Missing::Application {
        token: token.clone(),
    })
}

fn not_chat(token: &Token, chat: ChatNumber) -> Error {
    Error::NotFound(Missing::Chat {
        token: token.clone(),
        chat,
    })
}

fn not_message(token: &Token, chat: ChatNumber, message: MessageNumber) -> Error {
    Error::NotFound(Missing::Message {
        token: token.clone(),
        chat,
        message,
    })
}

/// Each operation is an inherent method of the same name in `writes.rs`, `reads.rs` or
/// `status.rs`: `DistributedBackend::create_chat(self, …)` names that method (inherent methods
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
        let id = self.app_id(token).await?;
        self.store
            .rename_application(id, name.as_str(), super::now_micros())
            .await?;
        DistributedBackend::get_application(self, token).await
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
        let app = self.live_app(token).await?;
        if !self.chat_exists(app, chat).await? {
            return Err(not_chat(token, chat));
        }
        // Deleted messages may still be indexed (or stored) until the worker applies their
        // delete: each page drops them and reads on until it is full.
        let want = spec.limit as usize;
        let mut step = *spec;
        let mut found = Vec::with_capacity(want);
        loop {
            let page = self.search_once(app, chat, query, &step).await?;
            let read = page.len();
            let numbers: Vec<u32> = page.iter().map(|m| m.number.get()).collect();
            let deleted = self
                .deleted(self.keys.deleted_messages(app, chat.get()), &numbers)
                .await?;
            if read < step.limit as usize || deleted.iter().all(|d| !d) {
                found.extend(
                    page.into_iter()
                        .zip(deleted)
                        .filter(|(_, d)| !d)
                        .map(|(m, _)| m),
                );
                break;
            }
            found.extend(
                page.into_iter()
                    .zip(deleted)
                    .filter(|(_, d)| !d)
                    .map(|(m, _)| m),
            );
            if found.len() >= want {
                break;
            }
            match step.sort {
                crate::model::SearchSort::Relevance => {
                    step.offset += read as u32;
                    if step.offset >= crate::model::RELEVANCE_WINDOW {
                        break;
                    }
                    step.limit = step.limit.min(crate::model::RELEVANCE_WINDOW - step.offset);
                }
                _ => step.after = numbers.last().copied(),
            }
        }
        found.truncate(want);
        Ok(found)
    }

    async fn recount(
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

    async fn reindex(
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

    async fn queue_status(&self) -> Result<QueueStatus> {
        DistributedBackend::queue_status(self).await
    }

    async fn retry_dead(&self) -> Result<RetrySummary> {
        DistributedBackend::retry_dead(self).await
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
        let app = self.live_app(token).await?;
        if !self.chat_exists(app, chat).await? {
            return Err(not_chat(token, chat));
        }
        self.live
            .subscribe(self.keys.live(app, chat.get()).to_string())
            .await
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
