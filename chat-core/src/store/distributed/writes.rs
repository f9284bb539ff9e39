//! The write path: applications straight to MySQL; chats, messages and edits through one Lua
//! script each (number, enqueue, pending record), retried once a missing counter is seeded.

use super::redis::code;
use super::{not_chat, not_message, DistributedBackend};
use crate::error::{Error, Result};
use crate::model::{Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Token};
use crate::store::{from_micros, now_micros};

/// A script asks for a seed at most this often per request (twice: chats, then messages).
const ATTEMPTS: usize = 4;

fn number(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Internal(format!("counter out of range: {n}")))
}

fn unexpected(code: i64) -> Error {
    Error::Internal(format!("numbering script answered {code}"))
}

impl DistributedBackend {
    pub(super) async fn create_app(&self, name: Name) -> Result<Application> {
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

    pub(super) async fn new_chat(&self, token: &Token) -> Result<Chat> {
        let app = self.app_id(token).await?;
        let now = now_micros();
        for _ in 0..ATTEMPTS {
            let mut conn = self.conn();
            let (n, _entry): (i64, String) = self
                .scripts
                .create_chat
                .key(self.keys.chat_counter(app))
                .key(self.keys.stream())
                .key(self.keys.pending_chats(app))
                .arg(app)
                .arg(now)
                .arg(self.keys.message_counter_prefix(app))
                .invoke_async(&mut conn)
                .await?;
            match n {
                code::SEED_CHATS => self.seed_chats(app).await?,
                n if n > 0 => {
                    return Ok(Chat {
                        number: ChatNumber::new(number(n)?)?,
                        messages_count: 0,
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    })
                }
                other => return Err(unexpected(other)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the chat counter could not be seeded",
        ))
    }

    pub(super) async fn new_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        body: Body,
    ) -> Result<Message> {
        let app = self.app_id(token).await?;
        let now = now_micros();
        for _ in 0..ATTEMPTS {
            let mut conn = self.conn();
            let (n, _entry): (i64, String) = self
                .keys
                .message_script(&self.scripts.create_message, app, chat.get())
                .arg(app)
                .arg(chat.get())
                .arg(body.as_str())
                .arg(now)
                .arg(self.keys.live(app, chat.get()))
                .invoke_async(&mut conn)
                .await?;
            match n {
                code::SEED_CHATS => self.seed_chats(app).await?,
                code::SEED_MESSAGES => self.seed_messages(app, chat).await?,
                code::NO_CHAT => return Err(not_chat(token, chat)),
                n if n > 0 => {
                    return Ok(Message {
                        number: MessageNumber::new(number(n)?)?,
                        body: body.into_string(),
                        created_at: from_micros(now),
                        updated_at: from_micros(now),
                    })
                }
                other => return Err(unexpected(other)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message counter could not be seeded",
        ))
    }

    pub(super) async fn edit(
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
        for _ in 0..ATTEMPTS {
            let mut conn = self.conn();
            let (status, at): (i64, String) = self
                .keys
                .message_script(&self.scripts.edit_message, app, chat.get())
                .arg(app)
                .arg(chat.get())
                .arg(message.get())
                .arg(body.as_str())
                .arg(now)
                .arg(&created)
                .arg(self.keys.live(app, chat.get()))
                .invoke_async(&mut conn)
                .await?;
            match status {
                1 => {
                    let created_at: i64 = at.parse().map_err(|_| {
                        Error::Internal(format!("bad creation time in a pending record: {at:?}"))
                    })?;
                    return Ok(Message {
                        number: message,
                        body: body.into_string(),
                        created_at: from_micros(created_at),
                        updated_at: from_micros(now),
                    });
                }
                code::SEED_CHATS => self.seed_chats(app).await?,
                code::SEED_MESSAGES => self.seed_messages(app, chat).await?,
                code::NO_CHAT => return Err(not_chat(token, chat)),
                code::NO_MESSAGE => return Err(not_message(token, chat, message)),
                code::NEED_CREATED_AT => match self.store.message(app, chat, message).await? {
                    Some(m) => created = m.created_at.timestamp_micros().to_string(),
                    None => return Err(not_message(token, chat, message)),
                },
                other => return Err(unexpected(other)),
            }
        }
        Err(Error::unavailable(
            "redis",
            "the message could not be edited",
        ))
    }
}
