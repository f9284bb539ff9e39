//! The write path: applications straight to MySQL; chats, messages and edits through one Lua
//! script each (number, enqueue, pending record), retried once a missing counter is seeded;
//! deletes are in `deletes.rs`.
//!
//! A create is one `EVALSHA` whose arguments are written straight into the command's buffer:
//! the keys from the prefix and the numbers, the body escaped as JSON once, inside the job's and
//! the pending record's JSON that the script completes with the number and the entry id. Message
//! creates go to Redis in pipelines with the others in flight (`redis::batch`). A message's
//! scripts touch only its chat's slot: whether its application is deleted is asked beside the
//! script, at the same time.
//!
//! With `--redis-ack-replicas N`, each write is followed by `WAIT N timeout` on the node that
//! ran it, and answered only once N replicas hold it. When they do not in time, the request
//! fails with 503, and a create is undone first (deleted through its tombstone, so a retry
//! cannot leave two copies) — but only while its pending record is still its own or its
//! persisted row is: a failover may have lost it, and its number may since be another's. An
//! edit or a delete that times out is left as it is: doing it again changes nothing.

use std::io::Write as _;

use redis::RedisWrite;

use super::redis::{ChatCreated, JsonString, Lua, MessageCreated, MessageEdited};
use super::DistributedBackend;
use crate::error::{Error, Result};
use crate::model::{Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Token};
use crate::store::{from_micros, now_micros};
use crate::store::{not_chat, not_message};

/// A script asks for a seed at most this often per request (twice: chats, then messages).
pub(super) const ATTEMPTS: usize = 4;

/// The publish command of the scripts: sharded Pub/Sub on a cluster (the channel lives in the
/// chat's slot, so it is published on the node of the chat's keys).
pub(super) fn publish(cluster: bool) -> &'static str {
    if cluster {
        "SPUBLISH"
    } else {
        "PUBLISH"
    }
}

impl DistributedBackend {
    /// Renames an application: written to MySQL at once (it takes no number and nothing waits
    /// on it in the queue), then read back.
    pub(super) async fn update_application(
        &self,
        token: &Token,
        name: Name,
    ) -> Result<Application> {
        let id = self.app_id(token).await?;
        self.store
            .rename_application(id, name.as_str(), now_micros())
            .await?;
        DistributedBackend::get_application(self, token).await
    }

    pub(super) async fn create_application(&self, name: Name) -> Result<Application> {
        let token = Token::generate();
        let row = self
            .store
            .insert_application(&token, name.as_str(), now_micros())
            .await?;
        // A new application has no chat: its counter starts at 0 without asking the database.
        let mut conn = self.conn();
        redis::cmd("SET")
            .arg(self.keys.chat_counter(row.id))
            .arg(0)
            .arg("NX")
            .query_async::<()>(&mut conn)
            .await?;
        self.apps.insert(token, row.id);
        Ok(row.app)
    }

    /// The replicas a write waits for, when any.
    pub(super) fn ack(&self) -> super::redis::batch::Ack {
        (self.ack.0 > 0).then_some(self.ack)
    }

    /// The error of a write its replicas did not acknowledge in time.
    pub(super) fn not_replicated(&self, undone: bool) -> Error {
        let (replicas, timeout) = self.ack;
        let what = if undone {
            "it was not applied; retry it"
        } else {
            "it may have been applied"
        };
        Error::unavailable(
            "redis",
            format!(
                "the write was not acknowledged by {replicas} Redis replica(s) within {} ms \
                 ({what})",
                timeout.as_millis()
            ),
        )
    }

    /// Whether the application is deleted (asked beside a chat's scripts, which cannot see
    /// its marker in another slot).
    pub(super) async fn app_deleted(&self, app: i64) -> Result<bool> {
        Ok(redis::cmd("EXISTS")
            .arg(self.keys.deleted_app(app))
            .query_async(&mut self.conn())
            .await?)
    }

    /// Whether the check made beside a script found the application deleted. When the
    /// check itself failed while the script succeeded, the write stands: it is answered (an
    /// application deleted meanwhile has its marker, so the worker never persists the write),
    /// rather than failed after it was applied.
    fn deleted_beside(&self, check: Result<bool>) -> bool {
        check.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not check whether the application is deleted");
            false
        })
    }

    pub(super) async fn create_chat(&self, token: &Token) -> Result<Chat> {
        let app = self.app_id(token).await?;
        let now = now_micros();
        let lua = &self.scripts.create_chat;
        let mut cmd = lua.command(4);
        cmd.arg(self.keys.chat_counter(app))
            .arg(self.keys.stream(self.keys.app_shard(app)))
            .arg(self.keys.pending_chats(app))
            .arg(self.keys.deleted_app(app))
            .arg(app)
            .arg(now);
        for _ in 0..ATTEMPTS {
            let conn = self.conn();
            match lua.run_acked(&cmd, &conn, self.ack()).await? {
                (ChatCreated::Numbered(n), acked) => {
                    let number = ChatNumber::new(n)?;
                    // The chat's message counter, in the chat's slot: while it exists, the
                    // chat does (a message script reads nothing else).
                    let mut set = redis::cmd("SET");
                    set.arg(self.keys.message_counter(app, n)).arg(0).arg("NX");
                    let counter_acked = match self.ack() {
                        Some((replicas, timeout)) => {
                            conn.query_acked(&set, replicas, timeout).await?.1
                                >= i64::from(replicas)
                        }
                        None => {
                            set.query_async::<()>(&mut self.conn()).await?;
                            true
                        }
                    };
                    if !(acked && counter_acked) {
                        let undone = self.undo_chat(app, number, now).await;
                        return Err(self.not_replicated(undone));
                    }
                    return Ok(Chat {
                        number,
                        messages_count: 0,
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    });
                }
                (ChatCreated::SeedChats, _) => self.seed_chats(app).await?,
                (ChatCreated::NoApp, _) => return Err(self.gone(token)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the chat counter could not be seeded",
        ))
    }

    /// Deletes a chat whose creation its replicas did not acknowledge, if it is still the one
    /// this request created (its pending record or row has this creation time). Whether it
    /// was undone.
    async fn undo_chat(&self, app: i64, chat: ChatNumber, now: i64) -> bool {
        let ours = async {
            let suffix = format!(r#","c":"{now}"}}"#);
            match self
                .mine(self.keys.pending_chats(app), chat.get(), &suffix)
                .await?
            {
                1 => Ok(true),
                0 => Ok(false),
                _ => Ok::<_, Error>(
                    self.store
                        .chat(app, chat)
                        .await?
                        .is_some_and(|c| c.created_at.timestamp_micros() == now),
                ),
            }
        };
        match ours.await {
            Ok(true) => self.remove_chat(app, chat).await.is_ok(),
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, "could not undo a chat its replicas did not acknowledge");
                false
            }
        }
    }

    /// `lua/mine.lua`: 1 (the record of `field` ends with `suffix`), 0 (another's), -1 (none).
    async fn mine(&self, hash: super::redis::Key<'_>, field: u32, suffix: &str) -> Result<i64> {
        let lua = &self.scripts.mine;
        let mut cmd = lua.command(1);
        cmd.arg(hash).arg(field).arg(suffix);
        Ok(lua.run(&cmd, &mut self.conn()).await?)
    }

    pub(super) async fn create_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        body: Body,
    ) -> Result<Message> {
        let app = self.app_id(token).await?;
        let now = now_micros();
        let lua = &self.scripts.create_message;
        let cmd = self.create_message_command(app, chat, now, &body)?;
        let slot = self.keys.shard_slot(self.keys.chat_shard(app, chat.get()));
        for _ in 0..ATTEMPTS {
            // With the other creates in flight (see `redis::batch`).
            let (created, deleted) =
                tokio::join!(self.batcher.query(cmd.clone(), slot), self.app_deleted(app));
            let (created, acked) = match created {
                Err(e) if Lua::lost(&e) => lua.run_acked(&cmd, &self.conn(), self.ack()).await?,
                other => other?,
            };
            if self.deleted_beside(deleted) {
                return Err(self.gone(token));
            }
            match created {
                MessageCreated::Numbered(n) => {
                    let number = MessageNumber::new(n)?;
                    if !acked {
                        let undone = self.undo_message(app, chat, number, now, &body).await;
                        return Err(self.not_replicated(undone));
                    }
                    return Ok(Message {
                        number,
                        body: body.into_string(),
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    });
                }
                MessageCreated::SeedMessages => {
                    if !self.seed_messages(app, chat).await? {
                        return Err(not_chat(token, chat));
                    }
                }
                MessageCreated::NoChat => return Err(not_chat(token, chat)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
        ))
    }

    /// Deletes a message whose creation its replicas did not acknowledge, if it is still the
    /// one this request created (its pending record, or its row, has this creation time and
    /// body). Whether it was undone.
    async fn undo_message(
        &self,
        app: i64,
        chat: ChatNumber,
        number: MessageNumber,
        now: i64,
        body: &Body,
    ) -> bool {
        let ours = async {
            let mut suffix = format!(r#","c":"{now}","b":"#).into_bytes();
            serde_json::to_writer(&mut suffix, body.as_str())
                .map_err(|e| Error::Internal(e.to_string()))?;
            suffix.push(b'}');
            let suffix = String::from_utf8(suffix).map_err(|e| Error::Internal(e.to_string()))?;
            match self
                .mine(
                    self.keys.pending_messages(app, chat.get()),
                    number.get(),
                    &suffix,
                )
                .await?
            {
                1 => Ok(true),
                0 => Ok(false),
                _ => Ok::<_, Error>(self.store.message(app, chat, number).await?.is_some_and(
                    |m| m.created_at.timestamp_micros() == now && m.body == body.as_str(),
                )),
            }
        };
        match ours.await {
            Ok(true) => self.remove_message(app, chat, number).await.is_ok(),
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, "could not undo a message its replicas did not acknowledge");
                false
            }
        }
    }

    /// The `lua/create_message.lua` command of one message.
    fn create_message_command(
        &self,
        app: i64,
        chat: ChatNumber,
        now: i64,
        body: &Body,
    ) -> Result<redis::Cmd> {
        let mut cmd = self.scripts.create_message.command(4);
        cmd.arg(self.keys.message_counter(app, chat.get()))
            .arg(self.keys.stream(self.keys.chat_shard(app, chat.get())))
            .arg(self.keys.pending_messages(app, chat.get()))
            .arg(self.keys.chat_deleted(app, chat.get()));
        message_json(&mut cmd, app, chat, now, body)
            .map_err(|e| Error::Internal(format!("cannot encode a queued job: {e}")))?;
        cmd.arg(self.keys.live(app, chat.get()))
            .arg(publish(self.redis.is_cluster()));
        Ok(cmd)
    }

    /// Creates `bodies` in order: the commands go to Redis in that order on one connection
    /// (`Batcher::query_many`), so their numbers follow it. When a counter must be seeded, the
    /// commands from the first one that asked are sent again after the seed.
    pub(super) async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: Vec<Body>,
    ) -> Result<Vec<Message>> {
        let app = self.app_id(token).await?;
        let lua = &self.scripts.create_message;
        let mut cmds = Vec::with_capacity(bodies.len());
        for body in &bodies {
            let now = now_micros();
            cmds.push((self.create_message_command(app, chat, now, body)?, now));
        }
        if self.app_deleted(app).await? {
            return Err(self.gone(token));
        }
        let mut created: Vec<Message> = Vec::with_capacity(bodies.len());
        let mut all_acked = true;
        let mut seeds = 0;
        while created.len() < cmds.len() {
            let answers = self
                .batcher
                .query_many::<MessageCreated>(cmds[created.len()..].iter().map(|(c, _)| c.clone()))
                .await;
            for answer in answers {
                let (cmd, now) = &cmds[created.len()];
                let (outcome, acked) = match answer {
                    // The script cache was emptied (a Redis restart): this and the commands
                    // after it did not run; `run` loads it again.
                    Err(e) if Lua::lost(&e) => lua.run_acked(cmd, &self.conn(), self.ack()).await?,
                    other => other?,
                };
                match outcome {
                    MessageCreated::Numbered(n) => {
                        all_acked &= acked;
                        created.push(Message {
                            number: MessageNumber::new(n)?,
                            body: bodies[created.len()].as_str().to_owned(),
                            created_at: from_micros(*now),
                            updated_at: from_micros(*now),
                        })
                    }
                    MessageCreated::NoChat => return Err(not_chat(token, chat)),
                    MessageCreated::SeedMessages => {
                        seeds += 1;
                        if seeds >= ATTEMPTS {
                            return Err(Error::unavailable(
                                "redis",
                                "the message counter could not be seeded",
                            ));
                        }
                        if !self.seed_messages(app, chat).await? {
                            return Err(not_chat(token, chat));
                        }
                        // Every later command asked for the same seed: send them again.
                        break;
                    }
                }
            }
        }
        if !all_acked {
            let mut undone = true;
            for (m, body) in created.iter().zip(&bodies) {
                let now = m.created_at.timestamp_micros();
                undone &= self.undo_message(app, chat, m.number, now, body).await;
            }
            return Err(self.not_replicated(undone));
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
        let app = self.app_id(token).await?;
        let now = now_micros();
        // The creation time comes from the pending record when there is one; otherwise the
        // message is persisted (records are dropped only after the commit) and MySQL has it.
        let mut created = String::new();
        let lua = &self.scripts.edit_message;
        for _ in 0..ATTEMPTS {
            let mut cmd = lua.command(5);
            cmd.arg(self.keys.message_counter(app, chat.get()))
                .arg(self.keys.stream(self.keys.chat_shard(app, chat.get())))
                .arg(self.keys.pending_messages(app, chat.get()))
                .arg(self.keys.chat_deleted(app, chat.get()))
                .arg(self.keys.deleted_messages(app, chat.get()))
                .arg(chat.get())
                .arg(message.get())
                .arg(now)
                .arg(&created)
                .arg(app)
                .arg(JsonString(body.as_str()))
                .arg(self.keys.live(app, chat.get()))
                .arg(publish(self.redis.is_cluster()));
            let conn = self.conn();
            let (edited, deleted) = tokio::join!(
                lua.run_acked(&cmd, &conn, self.ack()),
                self.app_deleted(app)
            );
            let (edited, acked) = edited?;
            if self.deleted_beside(deleted) {
                return Err(self.gone(token));
            }
            match edited {
                MessageEdited::Edited { created_at } => {
                    if !acked {
                        // Doing it again changes nothing.
                        return Err(self.not_replicated(false));
                    }
                    return Ok(Message {
                        number: message,
                        body: body.into_string(),
                        created_at: from_micros(created_at),
                        updated_at: from_micros(now),
                    });
                }
                MessageEdited::SeedMessages => {
                    if !self.seed_messages(app, chat).await? {
                        return Err(not_chat(token, chat));
                    }
                }
                MessageEdited::NoChat => return Err(not_chat(token, chat)),
                MessageEdited::NoMessage => return Err(not_message(token, chat, message)),
                MessageEdited::NeedCreatedAt => {
                    match self.store.message(app, chat, message).await? {
                        Some(m) => created = m.created_at.timestamp_micros().to_string(),
                        None => return Err(not_message(token, chat, message)),
                    }
                }
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message could not be edited",
        ))
    }
}

/// The two JSON arguments of `lua/create_message.lua`: the job up to its number, and the
/// pending record after its entry id (the wire format `queue::decode` reads), with the body
/// escaped once, straight into the command's buffer.
fn message_json(
    cmd: &mut redis::Cmd,
    app: i64,
    chat: ChatNumber,
    now: i64,
    body: &Body,
) -> std::io::Result<()> {
    {
        let mut job = cmd.writer_for_next_arg();
        write!(job, r#"{{"k":"m","a":"{app}","c":{chat},"t":"{now}","b":"#)?;
        serde_json::to_writer(&mut job, body.as_str())?;
        job.write_all(br#","n":"#)?;
    }
    let mut record = cmd.writer_for_next_arg();
    write!(record, r#"","c":"{now}","b":"#)?;
    serde_json::to_writer(&mut record, body.as_str())?;
    record.write_all(b"}")
}
