//! Writes of the embedded profile: each is a request to the group-commit writer
//! ([`super::writer`]), answered typed once its batch is committed; a request about a row that
//! is gone is answered `None`, which becomes the caller's not-found error here.

use super::rows::message_id;
use super::writer::{Answer, Command, Op, Pending};
use super::SqliteBackend;
use crate::error::{Error, Result};
use crate::model::{Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Token};
use crate::store::{not_app, not_message};

impl SqliteBackend {
    /// Hands a request to the writer, which takes requests in the order they reach it; returns
    /// where its answer will come.
    pub(super) async fn enqueue<T>(
        &self,
        (pending, answer): (Pending, Answer<T>),
    ) -> Result<Answer<T>> {
        self.writer
            .send(Command::Write(pending))
            .await
            .map_err(|_| shutting_down())?;
        Ok(answer)
    }

    /// Hands a request to the writer and waits for its answer.
    pub(super) async fn write<T>(&self, request: (Pending, Answer<T>)) -> Result<T> {
        answer(self.enqueue(request).await?).await
    }

    pub(super) async fn create_application(&self, name: Name) -> Result<Application> {
        let token = Token::generate();
        self.write(
            Op::CreateApp {
                token,
                name: name.as_str().to_owned(),
            }
            .app(),
        )
        .await?
        .ok_or_else(|| Error::Internal("a new application was answered as gone".into()))
    }

    pub(super) async fn update_application(
        &self,
        token: &Token,
        name: Name,
    ) -> Result<Application> {
        let app_id = self.app_id(token).await?;
        match self
            .write(
                Op::RenameApp {
                    app_id,
                    name: name.as_str().to_owned(),
                }
                .app(),
            )
            .await?
        {
            Some(app) => Ok(app),
            None => {
                self.apps.remove(token);
                Err(not_app(token))
            }
        }
    }

    pub(super) async fn create_chat(&self, token: &Token) -> Result<Chat> {
        let app_id = self.app_id(token).await?;
        match self.write(Op::CreateChat { app_id }.chat()).await? {
            Some(chat) => Ok(chat),
            None => {
                self.apps.remove(token);
                Err(not_app(token))
            }
        }
    }

    pub(super) async fn create_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        body: Body,
    ) -> Result<Message> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(
                Op::CreateMessage {
                    chat_id,
                    body: body.into_string(),
                }
                .message(),
            )
            .await?
        {
            Some(m) => Ok(m),
            None => Err(self.chat_gone(token, chat).await),
        }
    }

    pub(super) async fn create_messages(
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
            replies.push(
                self.enqueue(Op::CreateMessage { chat_id, body }.message())
                    .await?,
            );
        }
        let mut created = Vec::with_capacity(replies.len());
        for rx in replies {
            match answer(rx).await? {
                Some(m) => created.push(m),
                None => return Err(self.chat_gone(token, chat).await),
            }
        }
        Ok(created)
    }

    pub(super) async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: Body,
    ) -> Result<Message> {
        let chat_id = self.chat_id(token, chat).await?;
        match self
            .write(
                Op::EditMessage {
                    id: message_id(chat_id, message.get()),
                    body: body.into_string(),
                }
                .message(),
            )
            .await?
        {
            Some(m) => Ok(m),
            None => {
                self.recheck(token, Some(chat)).await?;
                Err(not_message(token, chat, message))
            }
        }
    }
}

/// The writer's answer to a request [`SqliteBackend::enqueue`] handed it.
pub(super) async fn answer<T>(rx: Answer<T>) -> Result<T> {
    rx.await.map_err(|_| shutting_down())?
}

pub(super) fn shutting_down() -> Error {
    Error::unavailable("sqlite", "the service is shutting down")
}
