//! Deletes of the embedded profile: one request to the writer each, whose transaction removes
//! the rows, moves the counts and clears the search index and backlog together; then the ids
//! this process cached are forgotten.

use super::rows::message_id;
use super::writer::Op;
use super::SqliteBackend;
use crate::error::Result;
use crate::model::{ChatNumber, MessageNumber, Token};
use crate::store::{not_app, not_message};

impl SqliteBackend {
    pub(super) async fn delete_application(&self, token: &Token) -> Result<()> {
        let app_id = self.app_id(token).await?;
        let reply = self.write(Op::DeleteApp { app_id }.deletion()).await?;
        self.apps.remove(token);
        self.chats.forget(|&(app, _)| app == app_id);
        match reply {
            true => Ok(()),
            false => Err(not_app(token)),
        }
    }

    pub(super) async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        let chat_id = self.chat_id(token, chat).await?;
        match self.write(Op::DeleteChat { chat_id }.deletion()).await? {
            true => {
                if let Some(app) = self.apps.get(token) {
                    self.chats.remove(&(app, chat.get()));
                }
                Ok(())
            }
            false => Err(self.chat_gone(token, chat).await),
        }
    }

    pub(super) async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(
                Op::DeleteMessage {
                    id: message_id(chat_id, message.get()),
                }
                .deletion(),
            )
            .await?
        {
            true => Ok(()),
            false => {
                self.recheck(token, Some(chat)).await?;
                Err(not_message(token, chat, message))
            }
        }
    }
}
