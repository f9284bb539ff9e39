//! Backends: the [`Backend`] trait that [`crate::ChatService`] drives with validated input,
//! and one implementation per profile beside it.
//!
//! ```text
//! store/
//! ├── mod.rs                 the Backend trait and helpers every backend shares
//! ├── embedded/              the embedded profile: one SQLite file
//! │   ├── mod.rs             the backend: reads, id caches, start-up and shutdown
//! │   ├── writer.rs          the write path: group commit, numbering inside the transaction
//! │   ├── search.rs          search: FTS5 trigram index plus the not-yet-indexed backlog
//! │   ├── live.rs            the live feed (watcher of the file)
//! │   └── maintenance.rs     recount and reindex
//! └── distributed/           the distributed profile: MySQL + Redis + Elasticsearch/OpenSearch
//!     ├── mod.rs             the backend: wiring, health, periodic recount
//!     ├── writes.rs          the write path: one Redis script per create or edit
//!     ├── reads.rs           reads: MySQL plus the pending records
//!     ├── worker.rs          the queue consumer that persists to MySQL
//!     ├── status.rs          queue status and dead-letter retry
//!     ├── redis/             numbering, the queue and live Pub/Sub: keys, the Lua scripts
//!     │                      (lua/*.lua) and their typed replies, the queue's wire format,
//!     │                      create pipelining (batch.rs), Pub/Sub (live.rs)
//!     ├── mysql/             persistence: reads, idempotent batch writes, recount
//!     └── search/            Elasticsearch/OpenSearch: queries, indexing and catch-up, reindex
//! ```
//!
//! A backend owns persistence, numbering, the write path and search for its profile; the
//! service above it owns validation, so every backend sees only well-formed values.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api::{
    Correction, Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary,
    MAX_REPORTED_CORRECTIONS,
};
use crate::error::{Error, Result};
use crate::live::Subscription;
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    SearchSort, Token,
};

#[cfg(feature = "distributed")]
pub mod distributed;
#[cfg(feature = "sqlite")]
pub mod embedded;

/// The state of one backend, as `/ready` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BackendHealth {
    /// `sqlite`, `mysql`, `redis`, `elasticsearch`.
    pub backend: String,
    /// Whether it answered.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Embedded profile (`sqlite`): messages awaiting their search-index entry. They are found
    /// all the same (search scans them); a backlog that stays high means indexing cannot keep
    /// up with the writes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub search_backlog: Option<u64>,
}

/// One profile's implementation of every operation, on validated input.
#[async_trait]
pub trait Backend: Send + Sync {
    /// See [`crate::ChatApi::create_application`].
    async fn create_application(&self, name: Name) -> Result<Application>;
    /// See [`crate::ChatApi::get_application`].
    async fn get_application(&self, token: &Token) -> Result<Application>;
    /// See [`crate::ChatApi::update_application`].
    async fn update_application(&self, token: &Token, name: Name) -> Result<Application>;
    /// See [`crate::ChatApi::list_applications`].
    async fn list_applications(
        &self,
        page: &PageRequest<Token>,
    ) -> Result<Page<Application, Token>>;
    /// See [`crate::ChatApi::create_chat`].
    async fn create_chat(&self, token: &Token) -> Result<Chat>;
    /// See [`crate::ChatApi::get_chat`].
    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat>;
    /// See [`crate::ChatApi::list_chats`].
    async fn list_chats(
        &self,
        token: &Token,
        page: &PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>>;
    /// See [`crate::ChatApi::create_message`].
    async fn create_message(&self, token: &Token, chat: ChatNumber, body: Body) -> Result<Message>;
    /// See [`crate::ChatApi::create_messages`]; the bodies are checked and at most
    /// [`crate::model::MAX_BATCH`].
    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: Vec<Body>,
    ) -> Result<Vec<Message>>;
    /// See [`crate::ChatApi::get_message`].
    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message>;
    /// See [`crate::ChatApi::update_message`].
    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: Body,
    ) -> Result<Message>;
    /// See [`crate::ChatApi::list_messages`].
    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: &PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>>;
    /// See [`crate::ChatApi::delete_application`].
    async fn delete_application(&self, token: &Token) -> Result<()>;
    /// See [`crate::ChatApi::delete_chat`].
    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()>;
    /// See [`crate::ChatApi::delete_message`].
    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()>;
    /// See [`crate::ChatApi::search_messages`].
    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>>;
    /// See [`crate::ChatApi::recount`].
    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary>;
    /// See [`crate::ChatApi::reindex`].
    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary>;
    /// See [`crate::ChatApi::queue_status`]. Backends without a queue keep this default.
    async fn queue_status(&self) -> Result<QueueStatus> {
        Err(no_queue())
    }
    /// See [`crate::ChatApi::retry_dead`]. Backends without a queue keep this default.
    async fn retry_dead(&self) -> Result<RetrySummary> {
        Err(no_queue())
    }
    /// Follows the chat's live feed (see [`crate::ChatApi::follow`]); the chat must exist.
    /// Backends without a live feed keep this default.
    async fn subscribe(&self, token: &Token, chat: ChatNumber) -> Result<Subscription> {
        let _ = (token, chat);
        Err(Error::BadRequest(
            "this backend cannot follow chats live".to_owned(),
        ))
    }
    /// Checks that every backend answers.
    async fn health(&self) -> Vec<BackendHealth>;
    /// Stops accepting writes, commits everything already accepted, and closes connections.
    async fn close(&self);
    /// Counters of the write path.
    fn metrics(&self) -> &Metrics;
}

fn no_queue() -> Error {
    Error::BadRequest(
        "this profile has no write queue: every write is committed before it is acknowledged \
         (the queue belongs to the distributed profile)"
            .to_owned(),
    )
}

/// Unix microseconds now.
pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Unix microseconds → timestamp (out-of-range values clamp to the epoch).
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Splits a fetched `limit + 1` rows into a page and the next cursor.
/// One page of a search as a backend runs it (validated by the service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchSpec {
    /// The order.
    pub sort: SearchSort,
    /// Most results to return (the service asks for one more than the page to learn whether
    /// a next page exists).
    pub limit: u32,
    /// Only numbers below this one (`newest`, `relevance`) or above it (`oldest`).
    pub after: Option<u32>,
    /// Results to skip, in the order of `sort`.
    pub offset: u32,
}

pub(crate) fn paginate<T, C>(
    mut items: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> C,
) -> Page<T, C> {
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(&cursor);
        Page { items, next }
    } else {
        Page { items, next: None }
    }
}

/// A cache of internal ids (application by token, chat by application and number). Ids are
/// never reused, so a cached entry can only turn stale by a delete, never point at another
/// row: a deleted parent is found missing by the query that uses its id (the backend then
/// forgets the entry), so every process may keep its own cache of a shared database.
#[derive(Debug)]
pub(crate) struct IdCache<K> {
    ids: std::sync::RwLock<std::collections::HashMap<K, i64>>,
}

impl<K: std::hash::Hash + Eq> Default for IdCache<K> {
    fn default() -> Self {
        IdCache {
            ids: std::sync::RwLock::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq> IdCache<K> {
    /// The cached id of `key`.
    pub(crate) fn get(&self, key: &K) -> Option<i64> {
        read(&self.ids).get(key).copied()
    }

    /// Remembers the id of `key`.
    pub(crate) fn insert(&self, key: K, id: i64) {
        write(&self.ids).insert(key, id);
    }

    /// Forgets `key` (its row was deleted).
    pub(crate) fn remove(&self, key: &K) {
        write(&self.ids).remove(key);
    }

    /// Forgets every entry `gone` says is deleted.
    pub(crate) fn forget(&self, gone: impl Fn(&K) -> bool) {
        write(&self.ids).retain(|k, _| !gone(k));
    }
}

/// Reads a lock even if a panicking thread poisoned it: the guarded maps hold plain values,
/// always in a consistent state between two statements.
pub(crate) fn read<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes a lock even if it was poisoned (see [`read`]).
pub(crate) fn write<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Locks a mutex even if it was poisoned (see [`read`]).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A count read from a database column (signed there) as the API's unsigned count; a negative
/// value, which only a hand-edited row could hold, reads as 0.
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// How long `/ready` waits for each backend to answer.
pub(crate) const HEALTH_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The state of `backend` from a probe, given at most [`HEALTH_PROBE_TIMEOUT`] to answer.
pub(crate) async fn probe<T, E: std::fmt::Display>(
    backend: &str,
    check: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> BackendHealth {
    let error = match tokio::time::timeout(HEALTH_PROBE_TIMEOUT, check).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} s",
            HEALTH_PROBE_TIMEOUT.as_secs()
        )),
    };
    BackendHealth {
        backend: backend.to_owned(),
        ok: error.is_none(),
        error,
        search_backlog: None,
    }
}

/// Records one count that recount corrected (all of them are counted; the first
/// [`MAX_REPORTED_CORRECTIONS`] are listed).
pub(crate) fn note_correction(
    summary: &mut RecountSummary,
    token: &Token,
    chat: Option<ChatNumber>,
    field: &str,
    was: i64,
    now: i64,
) {
    summary.corrected += 1;
    if summary.corrections.len() < MAX_REPORTED_CORRECTIONS {
        summary.corrections.push(Correction {
            application: token.clone(),
            chat,
            field: field.to_owned(),
            was: count(was),
            now: count(now),
        });
    }
}
