//! [`ChatService`]: [`ChatApi`] directly on the backends of a profile.
//!
//! It validates every input into the model's types, then hands it to the storage backend
//! chosen by the configuration's URLs. chat-server, chatctl's direct mode and any Rust program
//! share it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::api::{ChatApi, Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::live::LiveStream;
use crate::metrics::Metrics;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    SearchPage, SearchRequest, Token,
};
use crate::store::{Backend, BackendHealth, SearchSpec};
use crate::transfer::{BackupSummary, ExportOptions, RecordStream, RestoreOptions, RestoreSummary};

/// The chat system, in-process. Cheap to clone; clones share the backend.
#[derive(Clone)]
pub struct ChatService {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService").finish_non_exhaustive()
    }
}

impl ChatService {
    /// Opens the profile the configuration names: `sqlite://…` is the embedded profile;
    /// `mysql://…` (feature `distributed`) the distributed one, which also needs
    /// [`Config::redis_url`] and runs a background worker in this process.
    pub async fn open(config: &Config) -> Result<Self> {
        let scheme = config
            .database_url
            .split_once(':')
            .map(|(s, _)| s)
            .unwrap_or_default();
        let backend: Result<Arc<dyn Backend>> = match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => crate::store::embedded::SqliteBackend::open(config)
                .await
                .map(|b| Arc::new(b) as Arc<dyn Backend>),
            #[cfg(feature = "distributed")]
            "mysql" => crate::store::distributed::DistributedBackend::open(
                config,
                crate::store::distributed::DistributedOptions::from_config(config),
            )
            .await
            .map(|b| Arc::new(b) as Arc<dyn Backend>),
            #[cfg(not(feature = "distributed"))]
            "mysql" => Err(Error::BadRequest(
                "mysql:// URLs need chat-core's `distributed` feature".to_owned(),
            )),
            #[cfg(not(feature = "sqlite"))]
            "sqlite" => Err(Error::BadRequest(
                "sqlite:// URLs need chat-core's `sqlite` feature (with `client` alone, \
                 `HttpClient` reaches a chat-server)"
                    .to_owned(),
            )),
            other => Err(Error::BadRequest(format!(
                "unsupported database URL scheme {other:?}: use sqlite://PATH{}{}",
                if cfg!(feature = "sqlite") {
                    ""
                } else {
                    " (build chat-core with the `sqlite` feature)"
                },
                if cfg!(feature = "distributed") {
                    " or mysql://USER:PASSWORD@HOST:PORT/DATABASE with a Redis URL"
                } else {
                    ""
                }
            ))),
        };
        Ok(ChatService { backend: backend? })
    }

    /// Wraps a backend that the caller opened itself (tests that need the backend's own
    /// handles, e.g. a worker to drain; see [`crate::testing`]).
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn from_backend(backend: Arc<dyn Backend>) -> Self {
        ChatService { backend }
    }

    /// Whether each backend answers, for readiness probes.
    pub async fn health(&self) -> Vec<BackendHealth> {
        self.backend.health().await
    }

    /// Write-path counters.
    pub fn metrics(&self) -> &Metrics {
        self.backend.metrics()
    }

    /// A consistent snapshot of the deployment (or of `options.scope`) as a stream of
    /// [`crate::transfer::Record`]s: header, applications with their chats and messages in
    /// number order, end line with the checksum. See [`crate::transfer`] for what consistent
    /// means on each profile. The stream ends early with the error if reading fails.
    pub async fn export(&self, options: &ExportOptions) -> Result<RecordStream> {
        let (tx, rx) = tokio::sync::mpsc::channel(crate::transfer::EXPORT_CHANNEL);
        self.backend
            .export(options.scope.as_ref(), options, tx)
            .await?;
        Ok(crate::transfer::export_stream(rx))
    }

    /// Loads an export stream in bulk: tokens, numbers, bodies, timestamps, counts and the
    /// highest-number marks unchanged. The stream is checked as it is read
    /// ([`crate::transfer::Validator`]); a refused stream ([`Error::Invalid`] naming the line),
    /// a token the target already holds or a target with applications without
    /// [`RestoreOptions::merge`] ([`Error::Conflict`]) leave the target unchanged.
    pub async fn restore(
        &self,
        records: RecordStream,
        options: &RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        self.backend
            .restore(
                crate::transfer::validated_ahead(records),
                options,
                progress.as_ref(),
            )
            .await
    }

    /// Embedded profile: an online, consistent copy of the database file at `path` (which
    /// must not exist). The distributed profile refuses with [`Error::BadRequest`] naming the
    /// tools that back up MySQL and Redis.
    pub async fn backup(
        &self,
        path: &std::path::Path,
        progress: Arc<dyn Progress>,
    ) -> Result<BackupSummary> {
        self.backend.backup(path, progress.as_ref()).await
    }

    /// Stops accepting writes, commits every write already accepted and closes connections.
    /// Later writes fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.backend.close().await;
    }
}

#[async_trait]
impl ChatApi for ChatService {
    async fn create_application(&self, name: &str) -> Result<Application> {
        self.backend.create_application(Name::parse(name)?).await
    }

    async fn get_application(&self, token: &Token) -> Result<Application> {
        self.backend.get_application(token).await
    }

    async fn update_application(&self, token: &Token, name: &str) -> Result<Application> {
        let name = Name::parse(name)?;
        self.backend.update_application(token, name).await
    }

    async fn list_applications(
        &self,
        page: PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        page.validate()?;
        if page.newest {
            return Err(Error::BadRequest(
                "applications are listed in creation order only (sort=newest is for chats and messages)"
                    .into(),
            ));
        }
        self.backend.list_applications(&page).await
    }

    async fn create_chat(&self, token: &Token) -> Result<Chat> {
        self.backend.create_chat(token).await
    }

    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        self.backend.get_chat(token, chat).await
    }

    async fn list_chats(
        &self,
        token: &Token,
        page: PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        page.validate()?;
        self.backend.list_chats(token, &page).await
    }

    async fn create_message(&self, token: &Token, chat: ChatNumber, body: &str) -> Result<Message> {
        let body = Body::parse(body)?;
        self.backend.create_message(token, chat, body).await
    }

    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: &[String],
    ) -> Result<Vec<Message>> {
        let bodies = crate::model::parse_batch(bodies)?;
        self.backend.create_messages(token, chat, bodies).await
    }

    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        self.backend.get_message(token, chat, message).await
    }

    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: &str,
    ) -> Result<Message> {
        let body = Body::parse(body)?;
        self.backend
            .update_message(token, chat, message, body)
            .await
    }

    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        page.validate()?;
        self.backend.list_messages(token, chat, &page).await
    }

    async fn delete_application(&self, token: &Token) -> Result<()> {
        self.backend.delete_application(token).await
    }

    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        self.backend.delete_chat(token, chat).await
    }

    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        self.backend.delete_message(token, chat, message).await
    }

    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        request: &SearchRequest,
    ) -> Result<SearchPage> {
        let query = Query::parse(&request.query)?;
        request.validate()?;
        // An offset in number order: walk past that many results first (see SearchSpec).
        let mut after = request.after.map(MessageNumber::get);
        let mut skipped = 0;
        while let Some(spec) = SearchSpec::skip(request, after, skipped) {
            let read = self
                .backend
                .search_messages(token, chat, &query, &spec)
                .await?;
            match read.last() {
                Some(last) if read.len() == spec.limit as usize => after = Some(last.number.get()),
                _ => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            }
            skipped += spec.limit;
        }
        let limit = request.limit as usize;
        let spec = SearchSpec::page(request, after);
        let mut items = self
            .backend
            .search_messages(token, chat, &query, &spec)
            .await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            request.next_page(&items)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn follow(
        &self,
        token: &Token,
        chat: ChatNumber,
        after: Option<MessageNumber>,
    ) -> Result<LiveStream> {
        // Subscribed before anything is read: the replay and the live feed overlap, never gap.
        let sub = self.backend.subscribe(token, chat).await?;
        let backend = Arc::clone(&self.backend);
        let token = token.clone();
        let read: crate::live::ReadPage = Box::new(move |page| {
            let (backend, token) = (Arc::clone(&backend), token.clone());
            Box::pin(async move { backend.list_messages(&token, chat, &page).await })
        });
        crate::live::follow(read, after.map_or(0, MessageNumber::get), sub).await
    }

    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<RecountSummary> {
        self.backend.recount(scope, progress.as_ref()).await
    }

    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<ReindexSummary> {
        self.backend.reindex(scope, progress.as_ref()).await
    }

    async fn queue_status(&self) -> Result<QueueStatus> {
        self.backend.queue_status().await
    }

    async fn retry_dead(&self) -> Result<RetrySummary> {
        self.backend.retry_dead().await
    }
}
