//! Backends: the [`Backend`] trait that [`crate::ChatService`] drives with validated input,
//! and one implementation per profile beside it.
//!
//! ```text
//! store/
//! ├── mod.rs                 the Backend trait
//! ├── shared.rs              helpers every backend shares (none without a backend feature)
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

use crate::api::{Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};
use crate::error::{Error, Result};
use crate::live::Subscription;
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    SearchRequest, SearchSort, Token, MAX_LIMIT, RELEVANCE_WINDOW,
};
use crate::transfer::{
    BackupSummary, ExportOptions, ExportSender, RecordStream, RestoreOptions, RestoreSummary,
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
    /// See [`crate::ChatService::export`]: starts a task that sends the snapshot's records
    /// (header first, no end line) to `tx`, and returns once it runs.
    async fn export(
        &self,
        scope: Option<&Token>,
        options: &ExportOptions,
        tx: ExportSender,
    ) -> Result<()>;
    /// See [`crate::ChatService::restore`]: `records` are validated as they pass; nothing may
    /// stay visible unless the stream ends well.
    async fn restore(
        &self,
        records: RecordStream,
        options: &RestoreOptions,
        progress: &dyn Progress,
    ) -> Result<RestoreSummary>;
    /// See [`crate::ChatService::backup`].
    async fn backup(
        &self,
        path: &std::path::Path,
        progress: &dyn Progress,
    ) -> Result<BackupSummary>;
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

/// The paging of a search as the backends see it, in one place: how many results a page
/// reads, where an offset in number order is walked to, and how a read continues past results
/// it had to drop, all within `relevance`'s [`RELEVANCE_WINDOW`].
impl SearchSpec {
    /// The read that answers `request` from `after` (its cursor, or where an offset in number
    /// order was walked to; see [`SearchSpec::skip`]): one result more than the page, to
    /// learn whether a next page exists, and for `relevance` no further than the end of its
    /// window. Number orders page with `after`, so their offset is 0 here.
    pub fn page(request: &SearchRequest, after: Option<u32>) -> Self {
        let limit = request.limit + 1;
        if request.sort.by_number() {
            SearchSpec {
                sort: request.sort,
                limit,
                after,
                offset: 0,
            }
        } else {
            SearchSpec {
                sort: request.sort,
                limit: limit.min(RELEVANCE_WINDOW.saturating_sub(request.offset)),
                after,
                offset: request.offset,
            }
        }
    }

    /// The next read that walks past `request.offset` results in number order, once
    /// `skipped` of them are behind `after`: at most [`MAX_LIMIT`] at a time (the offset is
    /// below the window, so a few reads at most); `None` when none remains to skip (always
    /// for `relevance`, whose reads skip by offset). A read that comes back short ends the
    /// results.
    pub fn skip(request: &SearchRequest, after: Option<u32>, skipped: u32) -> Option<Self> {
        (request.sort.by_number() && skipped < request.offset).then(|| SearchSpec {
            sort: request.sort,
            limit: (request.offset - skipped).min(MAX_LIMIT),
            after,
            offset: 0,
        })
    }

    /// The read after this one, which returned `read` results ending with number `last`:
    /// past them in number order, or the next stretch of `relevance`'s window (`None` once
    /// the window is exhausted). The limit stays, clamped to the window.
    #[cfg(feature = "distributed")]
    pub fn after_read(&self, read: u32, last: Option<u32>) -> Option<Self> {
        if self.sort.by_number() {
            Some(SearchSpec {
                after: last.or(self.after),
                ..*self
            })
        } else {
            let offset = self.offset.saturating_add(read);
            (offset < RELEVANCE_WINDOW).then(|| SearchSpec {
                offset,
                limit: self.limit.min(RELEVANCE_WINDOW - offset),
                ..*self
            })
        }
    }
}

// What the backends share; a build without either backend (the HTTP client alone) has none.
#[cfg(any(feature = "sqlite", feature = "distributed"))]
mod shared;
#[cfg(any(feature = "sqlite", feature = "distributed"))]
pub(crate) use shared::*;
