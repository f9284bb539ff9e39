//! Lookups every operation starts with: a token to its application's id, a chat number to its
//! chat's id (through the process's cache, checked against the database when it misses), and
//! the applications a job covers.

use sqlx::Row;

use super::SqliteBackend;
use crate::error::{Error, Result};
use crate::model::{ChatNumber, Token};
use crate::store::{not_app, not_chat};

impl SqliteBackend {
    /// The error for a chat the writer found gone: the cached ids are checked again, so a
    /// deleted application is named as such.
    pub(super) async fn chat_gone(&self, token: &Token, chat: ChatNumber) -> Error {
        match self.recheck(token, Some(chat)).await {
            Err(e) => e,
            Ok(()) => not_chat(token, chat),
        }
    }

    pub(super) async fn app_id(&self, token: &Token) -> Result<i64> {
        if let Some(id) = self.apps.get(token) {
            return Ok(id);
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM applications WHERE token = ?")
            .bind(token.as_str())
            .fetch_optional(&self.reader)
            .await?;
        let id = id.ok_or_else(|| not_app(token))?;
        self.apps.insert(token.clone(), id);
        Ok(id)
    }

    /// After a query by cached ids found nothing: forgets them (another process may have
    /// deleted the rows) and looks the application (and chat) up again, so that a deleted one
    /// is reported as such. `Ok` when they still exist.
    pub(super) async fn recheck(&self, token: &Token, chat: Option<ChatNumber>) -> Result<()> {
        if let Some(app) = self.apps.get(token) {
            self.apps.remove(token);
            if let Some(chat) = chat {
                self.chats.remove(&(app, chat.get()));
            }
        }
        match chat {
            Some(chat) => self.chat_id(token, chat).await.map(drop),
            None => self.app_id(token).await.map(drop),
        }
    }

    pub(super) async fn chat_id(&self, token: &Token, chat: ChatNumber) -> Result<i64> {
        let app = self.app_id(token).await?;
        if let Some(id) = self.chats.get(&(app, chat.get())) {
            return Ok(id);
        }
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM chats WHERE application_id = ? AND number = ?")
                .bind(app)
                .bind(chat.get())
                .fetch_optional(&self.reader)
                .await?;
        let id = id.ok_or_else(|| not_chat(token, chat))?;
        self.chats.insert((app, chat.get()), id);
        Ok(id)
    }

    /// The applications (id, token) a job covers: one, or all in creation order.
    pub(super) async fn scope(&self, scope: Option<&Token>) -> Result<Vec<(i64, Token)>> {
        match scope {
            Some(token) => Ok(vec![(self.app_id(token).await?, token.clone())]),
            None => {
                let rows = sqlx::query("SELECT id, token FROM applications ORDER BY id")
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, Token::parse(r.try_get(1)?)?)))
                    .collect()
            }
        }
    }
}
