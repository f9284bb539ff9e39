//! Lookups every operation starts with: a token to its application's id (through the
//! process's cache; ids never change), whether an application or a chat is live (its tombstones
//! in Redis consulted), the applications a job covers, and the not-found errors they answer.

use super::reads::counter;
use super::DistributedBackend;
use crate::error::Result;
use crate::model::{ChatNumber, Token};
use crate::store::not_app;

impl DistributedBackend {
    /// The application's id: from the in-process cache (ids never change), else MySQL.
    pub(super) async fn app_id(&self, token: &Token) -> Result<i64> {
        if let Some(id) = self.apps.get(token) {
            return Ok(id);
        }
        let row = self.store.application(token).await?;
        let id = row.map(|r| r.id).ok_or_else(|| not_app(token))?;
        self.apps.insert(token.clone(), id);
        Ok(id)
    }

    pub(super) async fn scope(&self, scope: Option<&Token>) -> Result<Vec<(i64, Token)>> {
        match scope {
            Some(token) => Ok(vec![(self.app_id(token).await?, token.clone())]),
            None => self.store.all_applications().await,
        }
    }

    /// The application's id, once sure it is not deleted (one round trip more than
    /// `app_id`, whose cache cannot know of a delete made by another process).
    pub(super) async fn live_app(&self, token: &Token) -> Result<i64> {
        let app = self.app_id(token).await?;
        let mut conn = self.conn();
        let deleted: bool = redis::cmd("EXISTS")
            .arg(self.keys.deleted_app(app))
            .query_async(&mut conn)
            .await?;
        if deleted {
            return Err(self.gone(token));
        }
        Ok(app)
    }

    /// For a read of one chat: the application's id once sure it is live, whether the chat
    /// exists (as [`Self::chat_exists`]) and how many of its messages are tombstoned (deleted,
    /// not yet removed from MySQL) — every Redis question in one pipeline, where `live_app`
    /// then `chat_exists` took two round trips. A search skips the tombstone check of its hits
    /// when there are none.
    pub(super) async fn live_chat(&self, token: &Token, chat: ChatNumber) -> Result<LiveChat> {
        let app = self.app_id(token).await?;
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS").arg(self.keys.deleted_app(app));
        self.ask_chat_exists(&mut pipe, app, chat);
        pipe.cmd("SCARD")
            .arg(self.keys.deleted_messages(app, chat.get()));
        let (app_deleted, last, queued, deleted, tombstones): (bool, _, _, _, u64) =
            self.conn().split(&pipe).await?;
        if app_deleted {
            return Err(self.gone(token));
        }
        Ok(LiveChat {
            app,
            exists: self
                .chat_exists_from(app, chat, last, queued, deleted)
                .await?,
            tombstones,
        })
    }

    /// Whether chat `chat` of application `app` exists: by its counter when Redis has it, and
    /// not deleted.
    pub(super) async fn chat_exists(&self, app: i64, chat: ChatNumber) -> Result<bool> {
        let mut pipe = redis::pipe();
        self.ask_chat_exists(&mut pipe, app, chat);
        let (last, queued, deleted) = pipe.query_async(&mut self.conn()).await?;
        self.chat_exists_from(app, chat, last, queued, deleted)
            .await
    }

    /// Appends the three questions of [`Self::chat_exists`] to `pipe`: the application's chat
    /// counter, whether the chat is queued, whether it is deleted.
    fn ask_chat_exists(&self, pipe: &mut redis::Pipeline, app: i64, chat: ChatNumber) {
        pipe.cmd("GET")
            .arg(self.keys.chat_counter(app))
            .cmd("HEXISTS")
            .arg(self.keys.pending_chats(app))
            .arg(chat.get())
            .cmd("SISMEMBER")
            .arg(self.keys.deleted_chats(app))
            .arg(chat.get());
    }

    /// The answer from the replies to [`Self::ask_chat_exists`]: MySQL is asked only when
    /// Redis has no counter.
    async fn chat_exists_from(
        &self,
        app: i64,
        chat: ChatNumber,
        last: Option<String>,
        queued: bool,
        deleted: bool,
    ) -> Result<bool> {
        if deleted {
            return Ok(false);
        }
        if let Some(last) = counter(last) {
            return Ok(u64::from(chat.get()) <= last);
        }
        Ok(queued || self.store.chat_id(app, chat).await?.is_some())
    }
}

/// What [`DistributedBackend::live_chat`] learnt of a chat.
pub(super) struct LiveChat {
    /// The application's id.
    pub app: i64,
    /// Whether the chat exists (and is not deleted).
    pub exists: bool,
    /// How many of the chat's message numbers are tombstoned.
    pub tombstones: u64,
}
