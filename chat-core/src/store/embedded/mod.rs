//! The embedded profile: one SQLite file (WAL) through sqlx, FTS5 trigram search filled in bulk
//! from a backlog (`indexer`), and the group-commit writer of `writer`.
//!
//! Reads go through a small pool and see every committed write at once (read-your-writes).
//! Writes go through the single writer task. Application and chat ids are cached in memory.
//! Ids are never reused, so a cached id can only turn stale by a delete (in this process the
//! delete forgets it; another process's delete is noticed when a query by the cached id finds
//! nothing, which looks the token and number up again before answering `404`).

mod indexer;
mod live;
mod lookup;
mod maintenance;
mod rows;
mod search;
#[cfg(test)]
mod search_tests;
mod setup;
mod transfer;
pub(crate) mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::task::JoinHandle;

use self::rows::{app_from_row, chat_from_row};
pub(crate) use self::rows::{message_from_row, message_id};
use self::writer::{Command, Op, Pending, Reply};
use super::{paginate, Backend, BackendHealth, IdCache, SearchSpec, HEALTH_PROBE_TIMEOUT};
use crate::api::{Progress, RecountSummary, ReindexSummary};
use crate::config::Config;
use crate::error::{Error, Missing, Result};
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

/// The writer's reply to a request [`SqliteBackend::enqueue`] handed it.
async fn answer(rx: oneshot::Receiver<Result<Reply>>) -> Result<Reply> {
    rx.await.map_err(|_| shutting_down())?
}

impl SqliteBackend {
    async fn write(&self, op: Op) -> Result<Reply> {
        answer(self.enqueue(op).await?).await
    }

    /// Hands `op` to the writer, which takes requests in the order they reach it; the
    /// receiver of its reply ([`answer`]).
    async fn enqueue(&self, op: Op) -> Result<oneshot::Receiver<Result<Reply>>> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Command::Write(Pending { op, reply }))
            .await
            .map_err(|_| shutting_down())?;
        Ok(rx)
    }
}

fn shutting_down() -> Error {
    Error::unavailable("sqlite", "the service is shutting down")
}

fn unexpected() -> Error {
    Error::Internal("the writer answered with the wrong kind of reply".into())
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn create_application(&self, name: Name) -> Result<Application> {
        let token = Token::generate();
        match self
            .write(Op::CreateApp {
                token,
                name: name.as_str().to_owned(),
            })
            .await?
        {
            Reply::App(app) => Ok(app),
            _ => Err(unexpected()),
        }
    }

    async fn get_application(&self, token: &Token) -> Result<Application> {
        let row = sqlx::query(
            "SELECT token, name, chats_count, created_at, updated_at \
             FROM applications WHERE token = ?",
        )
        .bind(token.as_str())
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => app_from_row(&row),
            None => Err(Error::NotFound(Missing::Application {
                token: token.clone(),
            })),
        }
    }

    async fn update_application(&self, token: &Token, name: Name) -> Result<Application> {
        let app_id = self.app_id(token).await?;
        match self
            .write(Op::RenameApp {
                app_id,
                name: name.as_str().to_owned(),
            })
            .await?
        {
            Reply::App(app) => Ok(app),
            Reply::Gone => {
                self.apps.remove(token);
                Err(Error::NotFound(Missing::Application {
                    token: token.clone(),
                }))
            }
            _ => Err(unexpected()),
        }
    }

    async fn list_applications(
        &self,
        page: &PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        let after = match &page.after {
            Some(token) => self.app_id(token).await?,
            None => 0,
        };
        let rows = sqlx::query(
            "SELECT token, name, chats_count, created_at, updated_at FROM applications \
             WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.reader)
        .await?;
        let items = rows.iter().map(app_from_row).collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |a| a.token.clone()))
    }

    async fn create_chat(&self, token: &Token) -> Result<Chat> {
        let app_id = self.app_id(token).await?;
        match self.write(Op::CreateChat { app_id }).await? {
            Reply::Chat(chat) => Ok(chat),
            Reply::Gone => {
                self.apps.remove(token);
                Err(Error::NotFound(Missing::Application {
                    token: token.clone(),
                }))
            }
            _ => Err(unexpected()),
        }
    }

    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        let id = self.chat_id(token, chat).await?;
        let row = sqlx::query(
            "SELECT number, messages_count, created_at, updated_at FROM chats WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => chat_from_row(&row),
            None => {
                self.recheck(token, Some(chat)).await?;
                Err(Error::NotFound(Missing::Chat {
                    token: token.clone(),
                    chat,
                }))
            }
        }
    }

    async fn list_chats(
        &self,
        token: &Token,
        page: &PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        let app = self.app_id(token).await?;
        let after = page.after.map(ChatNumber::get);
        let sql = if page.newest {
            "SELECT number, messages_count, created_at, updated_at FROM chats \
             WHERE application_id = ? AND number < ? ORDER BY number DESC LIMIT ?"
        } else {
            "SELECT number, messages_count, created_at, updated_at FROM chats \
             WHERE application_id = ? AND number > ? ORDER BY number LIMIT ?"
        };
        let bound = match (after, page.newest) {
            (Some(n), _) => i64::from(n),
            (None, true) => i64::from(u32::MAX) + 1,
            (None, false) => 0,
        };
        let rows = sqlx::query(sql)
            .bind(app)
            .bind(bound)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        let items = rows.iter().map(chat_from_row).collect::<Result<Vec<_>>>()?;
        if items.is_empty() {
            self.recheck(token, None).await?;
        }
        Ok(paginate(items, page.limit, |c| c.number))
    }

    async fn create_message(&self, token: &Token, chat: ChatNumber, body: Body) -> Result<Message> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(Op::CreateMessage {
                chat_id,
                body: body.into_string(),
            })
            .await?
        {
            Reply::Message(m) => Ok(m),
            Reply::Gone => Err(self.chat_gone(token, chat).await),
            _ => Err(unexpected()),
        }
    }

    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: Vec<Body>,
    ) -> Result<Vec<Message>> {
        let chat_id = self.chat_id(token, chat).await?;
        // The writer numbers requests in the order they reach its channel: queue them all in
        // order first (they share group commits), then collect the answers.
        let mut replies = Vec::with_capacity(bodies.len());
        for body in bodies {
            let body = body.into_string();
            replies.push(self.enqueue(Op::CreateMessage { chat_id, body }).await?);
        }
        let mut created = Vec::with_capacity(replies.len());
        for rx in replies {
            match answer(rx).await? {
                Reply::Message(m) => created.push(m),
                Reply::Gone => return Err(self.chat_gone(token, chat).await),
                _ => return Err(unexpected()),
            }
        }
        Ok(created)
    }

    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        let chat_id = self.chat_id(token, chat).await?;
        let row =
            sqlx::query("SELECT number, body, created_at, updated_at FROM messages WHERE id = ?")
                .bind(message_id(chat_id, message.get()))
                .fetch_optional(&self.reader)
                .await?;
        match row {
            Some(row) => message_from_row(&row),
            None => {
                self.recheck(token, Some(chat)).await?;
                Err(Error::NotFound(Missing::Message {
                    token: token.clone(),
                    chat,
                    message,
                }))
            }
        }
    }

    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: Body,
    ) -> Result<Message> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(Op::EditMessage {
                id: message_id(chat_id, message.get()),
                body: body.into_string(),
            })
            .await?
        {
            Reply::Message(m) => Ok(m),
            Reply::Gone => {
                self.recheck(token, Some(chat)).await?;
                Err(Error::NotFound(Missing::Message {
                    token: token.clone(),
                    chat,
                    message,
                }))
            }
            _ => Err(unexpected()),
        }
    }

    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: &PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        let chat_id = self.chat_id(token, chat).await?;
        let after = page.after.map(MessageNumber::get);
        // The chat's messages are one range of ids; a page is the part of it past `after`.
        let (lo, hi, sql) = if page.newest {
            (
                message_id(chat_id, 0),
                after.map_or(message_id(chat_id, u32::MAX), |n| {
                    message_id(chat_id, n) - 1
                }),
                "SELECT number, body, created_at, updated_at FROM messages \
                 WHERE id > ? AND id <= ? ORDER BY id DESC LIMIT ?",
            )
        } else {
            (
                message_id(chat_id, after.unwrap_or(0)),
                message_id(chat_id, u32::MAX),
                "SELECT number, body, created_at, updated_at FROM messages \
                 WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            )
        };
        let rows = sqlx::query(sql)
            .bind(lo)
            .bind(hi)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        if items.is_empty() {
            self.recheck(token, Some(chat)).await?;
        }
        Ok(paginate(items, page.limit, |m| m.number))
    }

    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        query: &Query,
        spec: &SearchSpec,
    ) -> Result<Vec<Message>> {
        let chat_id = self.chat_id(token, chat).await?;
        let found = search::search(&self.reader, chat_id, query, spec).await?;
        if found.is_empty() {
            self.recheck(token, Some(chat)).await?;
        }
        Ok(found)
    }

    async fn delete_application(&self, token: &Token) -> Result<()> {
        let app_id = self.app_id(token).await?;
        let reply = self.write(Op::DeleteApp { app_id }).await?;
        self.apps.remove(token);
        self.chats.forget(|&(app, _)| app == app_id);
        match reply {
            Reply::Deleted => Ok(()),
            Reply::Gone => Err(Error::NotFound(Missing::Application {
                token: token.clone(),
            })),
            _ => Err(unexpected()),
        }
    }

    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        let chat_id = self.chat_id(token, chat).await?;
        match self.write(Op::DeleteChat { chat_id }).await? {
            Reply::Deleted => {
                if let Some(app) = self.apps.get(token) {
                    self.chats.remove(&(app, chat.get()));
                }
                Ok(())
            }
            Reply::Gone => Err(self.chat_gone(token, chat).await),
            _ => Err(unexpected()),
        }
    }

    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(Op::DeleteMessage {
                id: message_id(chat_id, message.get()),
            })
            .await?
        {
            Reply::Deleted => Ok(()),
            Reply::Gone => {
                self.recheck(token, Some(chat)).await?;
                Err(Error::NotFound(Missing::Message {
                    token: token.clone(),
                    chat,
                    message,
                }))
            }
            _ => Err(unexpected()),
        }
    }

    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<RecountSummary> {
        let apps = self.scope(scope).await?;
        maintenance::recount(&self.admin, &apps, progress).await
    }

    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<ReindexSummary> {
        let apps = self.scope(scope).await?;
        maintenance::reindex(&self.admin, &apps, progress).await
    }

    async fn export(
        &self,
        scope: Option<&Token>,
        _options: &ExportOptions,
        tx: ExportSender,
    ) -> Result<()> {
        if let Some(token) = scope {
            self.app_id(token).await?;
        }
        let conn = self.reader.acquire().await?;
        tokio::spawn(transfer::export(conn, scope.cloned(), tx));
        Ok(())
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
        let chat_id = self.chat_id(token, chat).await?;
        let (sub, _) = self.live.subscribe(chat_id);
        live::start_feed(&self.reader, &self.live, chat_id).await?;
        Ok(sub)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
