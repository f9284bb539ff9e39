//! Deletes on the distributed profile: one script per delete records the tombstone and queues
//! the delete's job (see `redis`'s module doc), then the process forgets what it cached.

use super::redis::Deleted;
use super::writes::{publish, ATTEMPTS};
use super::DistributedBackend;
use crate::error::{Error, Result};
use crate::model::{ChatNumber, MessageNumber, Token};
use crate::store::now_micros;
use crate::store::{not_app, not_chat, not_message};

impl DistributedBackend {
    /// A deleted application's token: forgotten by this process, and `NotFound`.
    pub(super) fn gone(&self, token: &Token) -> Error {
        self.apps.remove(token);
        not_app(token)
    }

    pub(super) async fn delete_application(&self, token: &Token) -> Result<()> {
        let app = self.app_id(token).await?;
        let lua = &self.scripts.delete_app;
        let mut cmd = lua.command(2);
        cmd.arg(self.keys.deleted_app(app))
            .arg(self.keys.stream(self.keys.app_shard(app)))
            .arg(app)
            .arg(now_micros());
        match lua.run_acked(&cmd, &self.conn(), self.ack()).await? {
            (Deleted::Done, acked) => {
                self.apps.remove(token);
                if !acked {
                    return Err(self.not_replicated(false));
                }
                Ok(())
            }
            _ => Err(self.gone(token)),
        }
    }

    pub(super) async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        let app = self.app_id(token).await?;
        if self.app_deleted(app).await? {
            return Err(self.gone(token));
        }
        match self.delete_chat_steps(app, chat).await? {
            (Deleted::Done, true) => Ok(()),
            (Deleted::Done, false) => Err(self.not_replicated(false)),
            _ => Err(not_chat(token, chat)),
        }
    }

    /// Undoes a chat's creation: the delete's steps.
    pub(super) async fn remove_chat(&self, app: i64, chat: ChatNumber) -> Result<()> {
        self.delete_chat_steps(app, chat).await.map(|_| ())
    }

    /// A chat's delete: the chat's own slot first (its marker, with the delete's job after
    /// the chat's message jobs), then its application's deleted set (a delete cut off in
    /// between is completed by its retry). `Done`, or why not; and whether replicas
    /// acknowledged it.
    async fn delete_chat_steps(&self, app: i64, chat: ChatNumber) -> Result<(Deleted, bool)> {
        let lua = &self.scripts.delete_chat;
        let mut cmd = lua.command(3);
        cmd.arg(self.keys.message_counter(app, chat.get()))
            .arg(self.keys.stream(self.keys.chat_shard(app, chat.get())))
            .arg(self.keys.chat_deleted(app, chat.get()))
            .arg(chat.get())
            .arg(app)
            .arg(now_micros())
            .arg(self.keys.live(app, chat.get()))
            .arg(publish(self.redis.is_cluster()));
        for _ in 0..ATTEMPTS {
            let conn = self.conn();
            let (outcome, acked) = lua.run_acked(&cmd, &conn, self.ack()).await?;
            match outcome {
                Deleted::Done | Deleted::Already => {
                    let mut sadd = redis::cmd("SADD");
                    sadd.arg(self.keys.deleted_chats(app)).arg(chat.get());
                    let set_acked = match self.ack() {
                        Some((replicas, timeout)) => {
                            conn.query_acked(&sadd, replicas, timeout).await?.1
                                >= i64::from(replicas)
                        }
                        None => {
                            sadd.query_async::<()>(&mut self.conn()).await?;
                            true
                        }
                    };
                    return Ok((outcome, acked && set_acked));
                }
                Deleted::SeedMessages => {
                    if !self.seed_messages(app, chat).await? {
                        return Ok((Deleted::NoChat, true));
                    }
                }
                other => return Ok((other, true)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
        ))
    }

    pub(super) async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        let app = self.app_id(token).await?;
        if self.app_deleted(app).await? {
            return Err(self.gone(token));
        }
        match self.delete_message_steps(app, chat, message).await? {
            (Deleted::Done, true) => Ok(()),
            (Deleted::Done, false) => Err(self.not_replicated(false)),
            (Deleted::NoMessage, _) => Err(not_message(token, chat, message)),
            _ => Err(not_chat(token, chat)),
        }
    }

    /// Undoes a message's creation: its delete.
    pub(super) async fn remove_message(
        &self,
        app: i64,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        self.delete_message_steps(app, chat, message)
            .await
            .map(|_| ())
    }

    async fn delete_message_steps(
        &self,
        app: i64,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<(Deleted, bool)> {
        let lua = &self.scripts.delete_message;
        let mut cmd = lua.command(4);
        cmd.arg(self.keys.message_counter(app, chat.get()))
            .arg(self.keys.stream(self.keys.chat_shard(app, chat.get())))
            .arg(self.keys.chat_deleted(app, chat.get()))
            .arg(self.keys.deleted_messages(app, chat.get()))
            .arg(chat.get())
            .arg(message.get())
            .arg(app)
            .arg(now_micros())
            .arg(self.keys.live(app, chat.get()))
            .arg(publish(self.redis.is_cluster()));
        for _ in 0..ATTEMPTS {
            match lua.run_acked(&cmd, &self.conn(), self.ack()).await? {
                (Deleted::SeedMessages, _) => {
                    if !self.seed_messages(app, chat).await? {
                        return Ok((Deleted::NoChat, true));
                    }
                }
                other => return Ok(other),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
        ))
    }
}
