//! Rows of the embedded schema as the model's types.

use sqlx::Row;

use super::{count, from_micros};
use crate::error::Result;
use crate::model::{Application, Chat, ChatNumber, Message, MessageNumber, Token};

pub(super) fn app_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Application> {
    let token: String = row.try_get("token")?;
    Ok(Application {
        token: Token::parse(&token)?,
        name: row.try_get("name")?,
        chats_count: count(row.try_get("chats_count")?),
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(super) fn chat_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Chat> {
    Ok(Chat {
        number: ChatNumber::new(row.try_get("number")?)?,
        messages_count: count(row.try_get("messages_count")?),
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(crate) fn message_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Message> {
    Ok(Message {
        number: MessageNumber::new(row.try_get("number")?)?,
        body: row.try_get("body")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}
