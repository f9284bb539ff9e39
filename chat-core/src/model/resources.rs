//! Applications, chats and messages as clients see them: what every read returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ChatNumber, MessageNumber, Token};

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
