//! The write path: applications straight to MySQL; chats, messages and edits through one Lua
//! script each (number, enqueue, pending record), retried once a missing counter is seeded;
//! deletes through one script each (tombstone, enqueue: see `redis`'s module doc).
//!
//! A create is one `EVALSHA` whose arguments are written straight into the command's buffer:
//! the keys from the prefix and the numbers, the body escaped as JSON once, inside the job's and
//! the pending record's JSON that the script completes with the number and the entry id. Message
//! creates go to Redis in pipelines with the others in flight (`redis::batch`).

use std::io::Write as _;

use redis::RedisWrite;

use super::redis::{ChatCreated, Deleted, JsonString, Lua, MessageCreated, MessageEdited};
use super::{not_app, not_chat, not_message, DistributedBackend};
use crate::error::{Error, Result};
use crate::model::{Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Token};
use crate::store::{from_micros, now_micros};

/// A script asks for a seed at most this often per request (twice: chats, then messages).
const ATTEMPTS: usize = 4;

impl DistributedBackend {
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

    pub(super) async fn create_chat(&self, token: &Token) -> Result<Chat> {
        let app = self.app_id(token).await?;
        let now = now_micros();
        let lua = &self.scripts.create_chat;
        let mut cmd = lua.command(4);
        cmd.arg(self.keys.chat_counter(app))
            .arg(self.keys.stream())
            .arg(self.keys.pending_chats(app))
            .arg(self.keys.deleted_app(app))
            .arg(app)
            .arg(now)
            .arg(self.keys.message_counter_prefix(app));
        for _ in 0..ATTEMPTS {
            let mut conn = self.conn();
            match lua.run(&cmd, &mut conn).await? {
                ChatCreated::Numbered(n) => {
                    return Ok(Chat {
                        number: ChatNumber::new(n)?,
                        messages_count: 0,
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    })
                }
                ChatCreated::SeedChats => self.seed_chats(app).await?,
                ChatCreated::NoApp => return Err(self.gone(token)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the chat counter could not be seeded",
        ))
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
        for _ in 0..ATTEMPTS {
            // With the other creates in flight (see `redis::batch`).
            let created = match self.batcher.query(cmd.clone()).await {
                Err(e) if Lua::lost(&e) => lua.run(&cmd, &mut self.conn()).await?,
                other => other?,
            };
            match created {
                MessageCreated::Numbered(n) => {
                    return Ok(Message {
                        number: MessageNumber::new(n)?,
                        body: body.into_string(),
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    })
                }
                MessageCreated::SeedChats => self.seed_chats(app).await?,
                MessageCreated::SeedMessages => self.seed_messages(app, chat).await?,
                MessageCreated::NoChat => return Err(not_chat(token, chat)),
                MessageCreated::NoApp => return Err(self.gone(token)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
        ))
    }

    /// The `lua/create_message.lua` command of one message.
    fn create_message_command(
        &self,
        app: i64,
        chat: ChatNumber,
        now: i64,
        body: &Body,
    ) -> Result<redis::Cmd> {
        let mut cmd = self.scripts.create_message.command(6);
        cmd.arg(self.keys.message_counter(app, chat.get()))
            .arg(self.keys.stream())
            .arg(self.keys.pending_messages(app, chat.get()))
            .arg(self.keys.chat_counter(app))
            .arg(self.keys.deleted_app(app))
            .arg(self.keys.deleted_chats(app))
            .arg(chat.get());
        message_json(&mut cmd, app, chat, now, body)
            .map_err(|e| Error::Internal(format!("cannot encode a queued job: {e}")))?;
        cmd.arg(self.keys.live(app, chat.get()));
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
        let mut created: Vec<Message> = Vec::with_capacity(bodies.len());
        let mut seeds = 0;
        while created.len() < cmds.len() {
            let answers = self
                .batcher
                .query_many::<MessageCreated>(cmds[created.len()..].iter().map(|(c, _)| c.clone()))
                .await;
            for answer in answers {
                let (cmd, now) = &cmds[created.len()];
                let outcome = match answer {
                    // The script cache was emptied (a Redis restart): this and the commands
                    // after it did not run; `run` loads it again.
                    Err(e) if Lua::lost(&e) => lua.run(cmd, &mut self.conn()).await?,
                    other => other?,
                };
                match outcome {
                    MessageCreated::Numbered(n) => created.push(Message {
                        number: MessageNumber::new(n)?,
                        body: bodies[created.len()].as_str().to_owned(),
                        created_at: from_micros(*now),
                        updated_at: from_micros(*now),
                    }),
                    MessageCreated::NoChat => return Err(not_chat(token, chat)),
                    MessageCreated::NoApp => return Err(self.gone(token)),
                    seed => {
                        seeds += 1;
                        if seeds >= ATTEMPTS {
                            return Err(Error::unavailable(
                                "redis",
                                "the message counter could not be seeded",
                            ));
                        }
                        if matches!(seed, MessageCreated::SeedChats) {
                            self.seed_chats(app).await?;
                        } else {
                            self.seed_messages(app, chat).await?;
                        }
                        // Every later command asked for the same seed: send them again.
                        break;
                    }
                }
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
        let app = self.app_id(token).await?;
        let now = now_micros();
        // The creation time comes from the pending record when there is one; otherwise the
        // message is persisted (records are dropped only after the commit) and MySQL has it.
        let mut created = String::new();
        let lua = &self.scripts.edit_message;
        for _ in 0..ATTEMPTS {
            let mut cmd = lua.command(7);
            cmd.arg(self.keys.message_counter(app, chat.get()))
                .arg(self.keys.stream())
                .arg(self.keys.pending_messages(app, chat.get()))
                .arg(self.keys.chat_counter(app))
                .arg(self.keys.deleted_app(app))
                .arg(self.keys.deleted_chats(app))
                .arg(self.keys.deleted_messages(app, chat.get()))
                .arg(chat.get())
                .arg(message.get())
                .arg(now)
                .arg(&created)
                .arg(app)
                .arg(JsonString(body.as_str()))
                .arg(self.keys.live(app, chat.get()));
            let mut conn = self.conn();
            match lua.run(&cmd, &mut conn).await? {
                MessageEdited::Edited { created_at } => {
                    return Ok(Message {
                        number: message,
                        body: body.into_string(),
                        created_at: from_micros(created_at),
                        updated_at: from_micros(now),
                    });
                }
                MessageEdited::SeedChats => self.seed_chats(app).await?,
                MessageEdited::SeedMessages => self.seed_messages(app, chat).await?,
                MessageEdited::NoChat => return Err(not_chat(token, chat)),
                MessageEdited::NoMessage => return Err(not_message(token, chat, message)),
                MessageEdited::NoApp => return Err(self.gone(token)),
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
            .arg(self.keys.stream())
            .arg(app)
            .arg(now_micros());
        match lua.run(&cmd, &mut self.conn()).await? {
            Deleted::Done => {
                self.apps.remove(token);
                Ok(())
            }
            _ => Err(self.gone(token)),
        }
    }

    pub(super) async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        let app = self.app_id(token).await?;
        let lua = &self.scripts.delete_chat;
        let mut cmd = lua.command(4);
        cmd.arg(self.keys.chat_counter(app))
            .arg(self.keys.stream())
            .arg(self.keys.deleted_app(app))
            .arg(self.keys.deleted_chats(app))
            .arg(chat.get())
            .arg(app)
            .arg(now_micros())
            .arg(self.keys.live(app, chat.get()));
        for _ in 0..ATTEMPTS {
            match lua.run(&cmd, &mut self.conn()).await? {
                Deleted::Done => return Ok(()),
                Deleted::SeedChats => self.seed_chats(app).await?,
                Deleted::NoApp => return Err(self.gone(token)),
                Deleted::NoChat | Deleted::NoMessage | Deleted::SeedMessages => {
                    return Err(not_chat(token, chat))
                }
            }
        }
        Err(Error::unavailable(
            "redis",
            "the chat counter could not be seeded",
        ))
    }

    pub(super) async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        let app = self.app_id(token).await?;
        let lua = &self.scripts.delete_message;
        let mut cmd = lua.command(6);
        cmd.arg(self.keys.message_counter(app, chat.get()))
            .arg(self.keys.stream())
            .arg(self.keys.chat_counter(app))
            .arg(self.keys.deleted_app(app))
            .arg(self.keys.deleted_chats(app))
            .arg(self.keys.deleted_messages(app, chat.get()))
            .arg(chat.get())
            .arg(message.get())
            .arg(app)
            .arg(now_micros())
            .arg(self.keys.live(app, chat.get()));
        for _ in 0..ATTEMPTS {
            match lua.run(&cmd, &mut self.conn()).await? {
                Deleted::Done => return Ok(()),
                Deleted::SeedChats => self.seed_chats(app).await?,
                Deleted::SeedMessages => self.seed_messages(app, chat).await?,
                Deleted::NoApp => return Err(self.gone(token)),
                Deleted::NoChat => return Err(not_chat(token, chat)),
                Deleted::NoMessage => return Err(not_message(token, chat, message)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
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
