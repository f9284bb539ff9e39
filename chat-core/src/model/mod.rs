//! The domain: applications, chats and messages as clients see them, and the validated values
//! (tokens, numbers, names, bodies, queries, pages) every operation takes.
//!
//! Each value type has a `parse` that returns a typed [`Error`], so nothing downstream ever
//! handles unchecked input. Representations serialize exactly as the HTTP API documents them,
//! and none of them carries an internal id.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Missing, Result};

/// Longest application name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest message body, in bytes (16 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 1024;
/// Largest chat or message number (numbers fit a signed 32-bit column everywhere).
pub const MAX_NUMBER: u32 = i32::MAX as u32;
/// The syntax of a token, as a regular expression (for the OpenAPI document).
pub const TOKEN_PATTERN: &str = "^[0-9a-f]{32}$";
/// What [`Name::parse`] accepts, as a regular expression (ECMAScript and Python agree on it):
/// no control character, and at least one character that is not white space. Its length is
/// checked apart ([`MAX_NAME_CHARS`], after trimming).
pub const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// What [`Body::parse`] and [`Query::parse`] accept, as a regular expression: no NUL, and at
/// least one character that is not white space.
pub const TEXT_PATTERN: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";
/// Default page size of lists.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size of lists.
pub const MAX_LIMIT: u32 = 1000;
/// Most messages one [`crate::ChatApi::create_messages`] call creates.
pub const MAX_BATCH: usize = 1000;

mod page;
mod search;
#[cfg(test)]
mod tests;
mod values;

pub use self::page::*;
pub use self::search::*;
use self::values::shorten;
pub use self::values::*;

/// An application as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    /// The public identifier.
    #[schema(value_type = String, example = "6f1c0e0b8a4d4a51b0f7c1e2d3a4b5c6")]
    pub token: Token,
    /// The display name.
    pub name: String,
    /// How many chats it has (exact on the embedded profile; seconds behind on the distributed one).
    pub chats_count: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its name last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// A chat as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Chat {
    /// Its number within the application.
    #[schema(value_type = u32, minimum = 1)]
    pub number: ChatNumber,
    /// How many messages it has.
    pub messages_count: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// A message as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Its number within the chat.
    #[schema(value_type = u32, minimum = 1)]
    pub number: MessageNumber,
    /// The text.
    pub body: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its body last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}
