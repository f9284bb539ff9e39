//! Reads of the embedded profile: applications, chats and messages by key and by page, from
//! the reader pool (WAL: a read never waits for the writer). An answer that finds nothing
//! checks its cached ids first ([`SqliteBackend::recheck`]): another process may have deleted
//! what this one cached.

use super::rows::{app_from_row, chat_from_row, message_from_row, message_id};
use super::SqliteBackend;
use crate::error::Result;
use crate::model::{
    Application, Chat, ChatNumber, Message, MessageNumber, Page, PageRequest, Token,
};
use crate::store::paginate;
use crate::store::{not_app, not_chat, not_message};

impl SqliteBackend {
    pub(super) async fn get_application(&self, token: &Token) -> Result<Application> {
        let row = sqlx::query(
            "SELECT token, name, chats_count, created_at, updated_at \
             FROM applications WHERE token = ?",
        )
        .bind(token.as_str())
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => app_from_row(&row),
            None => Err(not_app(token)),
        }
    }

    pub(super) async fn list_applications(
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

    pub(super) async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
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
                Err(not_chat(token, chat))
            }
        }
    }

    pub(super) async fn list_chats(
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

    pub(super) async fn get_message(
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
                Err(not_message(token, chat, message))
            }
        }
    }

    pub(super) async fn list_messages(
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
}
