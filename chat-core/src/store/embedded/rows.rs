//! Rows of the embedded schema as the model's types.

use sqlx::Row;

use crate::error::Result;
use crate::model::{Application, Chat, ChatNumber, Message, MessageNumber, Token};
use crate::store::{count, from_micros};

/// A message's id: its chat's id in the high 32 bits, its number in the low 32
/// (`chat << 32 | number`, checked by the schema). A chat's messages are therefore one range of
/// the primary key, in number order, and FTS5 filters a chat by the same range of rowids. The
/// only place that encodes it; every query binds the bounds it computes.
pub(crate) fn message_id(chat_id: i64, number: u32) -> i64 {
    (chat_id << 32) | i64::from(number)
}

/// The low 32 bits of a message id, where its number is (`message_id(0, u32::MAX)`): bound as
/// a parameter by the queries that compute a chat's range per row in SQL (`c.id << 32`).
pub(super) const NUMBER_MASK: i64 = (1 << 32) - 1;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_mask_is_the_low_bits_of_a_message_id() {
        assert_eq!(NUMBER_MASK, message_id(0, u32::MAX));
        assert_eq!(message_id(7, u32::MAX), message_id(7, 0) | NUMBER_MASK);
    }
}
