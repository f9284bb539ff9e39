//! The embedded profile: one SQLite file (WAL) through sqlx, FTS5 trigram search filled in bulk
//! from a backlog (`indexer`), and the group-commit writer of `writer`.
//!
//! Reads go through a small pool and see every committed write at once (read-your-writes);
//! searches through synchronous connections (`readers`), without a hop between threads.
//! Writes go through the single writer task. Application and chat ids are cached in memory.
//! Ids are never reused, so a cached id can only turn stale by a delete (in this process the
//! delete forgets it; another process's delete is noticed when a query by the cached id finds
//! nothing, which looks the token and number up again before answering `404`).

mod deletes;
mod indexer;
mod live;
mod lookup;
mod maintenance;
mod numbering;
mod readers;
mod reads;
mod rows;
mod search;
#[cfg(test)]
mod search_tests;
mod setup;
mod transfer;
pub(crate) mod writer;
mod writes;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

use self::writer::Command;
use super::{Backend, BackendHealth, IdCache, SearchSpec, HEALTH_PROBE_TIMEOUT};
use crate::api::{Progress, RecountSummary, ReindexSummary};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::live::{Hub, Subscription};
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    Token,
};
use crate::transfer::{
    BackupSummary, ExportOptions, ExportSender, RecordStream, RestoreOptions, RestoreSummary,
};

/// The migrations of the SQLite dialect, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The embedded backend.
pub struct SqliteBackend {
    reader: SqlitePool,
    /// Synchronous read connections, for search.
    readers: Arc<readers::Readers>,
    /// Rows a `newest`/`oldest` search reads before it asks the index ([`Config::search_probe`]).
    search_probe: usize,
    admin: SqlitePool,
    writer: mpsc::Sender<Command>,
    writer_task: Mutex<Option<JoinHandle<()>>>,
    apps: IdCache<Token>,
    chats: IdCache<(i64, u32)>,
    metrics: Arc<Metrics>,
    /// Followed chats by id, fed by the live watcher.
    live: Arc<Hub<i64>>,
    /// Stops the live watcher.
    watcher: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn create_application(&self, name: Name) -> Result<Application> {
        SqliteBackend::create_application(self, name).await
    }

    async fn get_application(&self, token: &Token) -> Result<Application> {
        SqliteBackend::get_application(self, token).await
    }

    async fn update_application(&self, token: &Token, name: Name) -> Result<Application> {
        SqliteBackend::update_application(self, token, name).await
    }

    async fn list_applications(
        &self,
        page: &PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        SqliteBackend::list_applications(self, page).await
    }

    async fn create_chat(&self, token: &Token) -> Result<Chat> {
        SqliteBackend::create_chat(self, token).await
    }

    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        SqliteBackend::get_chat(self, token, chat).await
    }

    async fn list_chats(
        &self,
        token: &Token,
        page: &PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        SqliteBackend::list_chats(self, token, page).await
    }

    async fn create_message(&self, token: &Token, chat: ChatNumber, body: Body) -> Result<Message> {
        SqliteBackend::create_message(self, token, chat, body).await
    }

    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: Vec<Body>,
    ) -> Result<Vec<Message>> {
        SqliteBackend::create_messages(self, token, chat, bodies).await
    }

    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        SqliteBackend::get_message(self, token, chat, message).await
    }

    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: Body,
    ) -> Result<Message> {
        SqliteBackend::update_message(self, token, chat, message, body).await
    }

    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: &PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        SqliteBackend::list_messages(self, token, chat, page).await
    }

    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        SqliteBackend::search_messages(self, token, chat, query, spec).await
    }

    async fn delete_application(&self, token: &Token) -> Result<()> {
        SqliteBackend::delete_application(self, token).await
    }

    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        SqliteBackend::delete_chat(self, token, chat).await
    }

    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        SqliteBackend::delete_message(self, token, chat, message).await
    }

    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        SqliteBackend::recount(self, scope, progress).await
    }

    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        SqliteBackend::reindex(self, scope, progress).await
    }

    async fn export(
        &self,
        scope: Option<&Token>,
        _options: &ExportOptions,
        tx: ExportSender,
    ) -> Result<()> {
        SqliteBackend::export(self, scope, _options, tx).await
    }

    async fn restore(
        &self,
        records: RecordStream,
        options: &RestoreOptions,
        progress: &dyn Progress,
    ) -> Result<RestoreSummary> {
        transfer::restore(self, records, options, progress).await
    }

    async fn backup(&self, path: &Path, progress: &dyn Progress) -> Result<BackupSummary> {
        transfer::backup(self, path, progress).await
    }

    async fn health(&self) -> Vec<BackendHealth> {
        // Reading the backlog's length is the liveness check: it reads the file.
        let check =
            tokio::time::timeout(HEALTH_PROBE_TIMEOUT, indexer::backlog_span(&self.reader)).await;
        let (error, backlog) = match check {
            Ok(Ok(n)) if !self.writer.is_closed() => (None, Some(n)),
            Ok(Ok(n)) => (Some("the writer has stopped".to_owned()), Some(n)),
            Ok(Err(e)) => (Some(e.to_string()), None),
            Err(_) => (Some("no answer within 2 s".to_owned()), None),
        };
        if let Some(n) = backlog {
            self.metrics.set_search_backlog(n);
        }
        vec![BackendHealth {
            backend: "sqlite".into(),
            ok: error.is_none(),
            error,
            search_backlog: backlog,
        }]
    }

    async fn close(&self) {
        let _ = self.writer.send(Command::Shutdown).await;
        if let Some(task) = self.writer_task.lock().await.take() {
            let _ = task.await;
        }
        if let Some((stop, task)) = self.watcher.lock().await.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
        self.live.close();
        self.reader.close().await;
        self.admin.close().await;
    }

    async fn subscribe(&self, token: &Token, chat: ChatNumber) -> Result<Subscription> {
        SqliteBackend::subscribe(self, token, chat).await
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
