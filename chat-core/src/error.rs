//! The one error type of the library, its stable codes and HTTP statuses, and its JSON shape.
//!
//! Every failure a caller can see is an [`Error`]. chat-server turns it into a response in one
//! place ([`Error::status`] + [`ErrorBody`]) and `HttpClient` (feature `client`) decodes that body back
//! into the same variant, so a failure looks the same in-process and over HTTP.

use serde::{Deserialize, Serialize};

use crate::model::{ChatNumber, MessageNumber, Token};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which entity a [`Error::NotFound`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "resource", rename_all = "snake_case")]
pub enum Missing {
    /// No application has this token.
    Application {
        /// The token that was asked for.
        token: Token,
    },
    /// The application exists but has no chat with this number.
    Chat {
        /// The application's token.
        token: Token,
        /// The chat number that was asked for.
        #[serde(rename = "chat_number")]
        chat: ChatNumber,
    },
    /// The chat exists but has no message with this number.
    Message {
        /// The application's token.
        token: Token,
        /// The chat's number.
        #[serde(rename = "chat_number")]
        chat: ChatNumber,
        /// The message number that was asked for.
        #[serde(rename = "message_number")]
        message: MessageNumber,
    },
    /// The text sent as a token is not one (tokens are 32 lowercase hex characters), so no
    /// application has it.
    MalformedToken {
        /// What was sent (at most 40 characters of it).
        token: String,
    },
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Application { token } => write!(f, "no application has token {token}"),
            Missing::Chat { token, chat } => {
                write!(f, "application {token} has no chat number {chat}")
            }
            Missing::Message {
                token,
                chat,
                message,
            } => write!(
                f,
                "chat {chat} of application {token} has no message number {message}"
            ),
            Missing::MalformedToken { token } => write!(
                f,
                "no application has token {token:?}: a token is 32 lowercase hex characters \
                 (0-9, a-f), as returned when the application was created"
            ),
        }
    }
}

/// Every error the library reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The application, chat or message does not exist.
    #[error("not found: {0}")]
    NotFound(Missing),
    /// A field's value breaks a rule (empty, too long, blank query…). HTTP 422.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field at fault (`name`, `body`, `query`…).
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The request itself is malformed (bad token syntax, non-numeric number, bad paging). HTTP 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request conflicts with the stored state. HTTP 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller is not allowed to do this (admin operations). HTTP 401/403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A backend (database, queue, search engine, server) cannot be reached. HTTP 503.
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// Which backend: `sqlite`, `mysql`, `redis`, `elasticsearch`, `server`.
        backend: String,
        /// What went wrong, for the operator.
        reason: String,
    },
    /// A bug or an unexpected state; details are logged, not shown to HTTP clients. HTTP 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unavailable`].
    pub fn unavailable(backend: &str, reason: impl std::fmt::Display) -> Self {
        Error::Unavailable {
            backend: backend.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// The stable machine-readable code used in JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Invalid { .. } => "invalid",
            Error::BadRequest(_) => "bad_request",
            Error::Conflict(_) => "conflict",
            Error::Forbidden(_) => "forbidden",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error is served with.
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound(_) => 404,
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) => 400,
            Error::Conflict(_) => 409,
            Error::Forbidden(_) => 403,
            Error::Unavailable { .. } => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The JSON body describing this error. Internal details are replaced by a generic text.
    pub fn to_body(&self) -> ErrorBody {
        let message = match self {
            Error::Internal(_) => "internal error; the details are in the server log".to_owned(),
            Error::NotFound(missing) => missing.to_string(),
            other => other.to_string(),
        };
        let (resource, field, backend) = match self {
            Error::NotFound(m) => (Some(m.clone()), None, None),
            Error::Invalid { field, .. } => (None, Some(field.clone()), None),
            Error::Unavailable { backend, .. } => (None, None, Some(backend.clone())),
            _ => (None, None, None),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                resource,
                field,
                reason: match self {
                    Error::Invalid { reason, .. } | Error::Unavailable { reason, .. } => {
                        Some(reason.clone())
                    }
                    _ => None,
                },
                backend,
            },
        }
    }

    /// Rebuilds the typed error from a JSON error body and its HTTP status.
    pub fn from_body(status: u16, body: ErrorBody) -> Self {
        let d = body.error;
        match (d.code.as_str(), d.resource) {
            ("not_found", Some(missing)) => Error::NotFound(missing),
            ("invalid", _) => Error::Invalid {
                field: d.field.unwrap_or_else(|| "input".to_owned()),
                reason: d.reason.unwrap_or(d.message),
            },
            ("bad_request", _) => Error::BadRequest(strip(&d.message, "bad request: ")),
            ("conflict", _) => Error::Conflict(strip(&d.message, "conflict: ")),
            ("forbidden", _) | ("unauthorized", _) => {
                Error::Forbidden(strip(&d.message, "forbidden: "))
            }
            ("unavailable", _) => Error::Unavailable {
                backend: d.backend.unwrap_or_else(|| "server".to_owned()),
                reason: d.reason.unwrap_or(d.message),
            },
            ("too_large", _) => Error::invalid("body", d.message),
            ("rate_limited", _) => Error::unavailable("server", d.message),
            _ if status == 404 => Error::BadRequest(d.message),
            _ => Error::Internal(format!("server answered {status}: {}", d.message)),
        }
    }
}

fn strip(message: &str, prefix: &str) -> String {
    message.strip_prefix(prefix).unwrap_or(message).to_owned()
}

/// The JSON shape of every error response: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `not_found`, `invalid`, `bad_request`, `unavailable`…
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
    /// For `not_found`: which entity is missing.
    #[serde(flatten, skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub resource: Option<Missing>,
    /// For `invalid`: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// For `invalid` and `unavailable`: the reason alone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// For `unavailable`: the backend that is down.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub backend: Option<String>,
}

#[cfg(any(feature = "sqlite", feature = "distributed"))]
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict(db.message().to_owned())
            }
            // A connection that broke mid-answer (the server went away) shows as an I/O or
            // protocol error: neither says anything about the statement, both pass.
            sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Error::unavailable("database", &err),
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08")) => {
                // SQLSTATE class 08, connection exception (e.g. MySQL's "server shutdown in
                // progress"): the server is going away, not the statement at fault.
                Error::unavailable("database", db.message())
            }
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c == "5" || c == "6" || c == "517") =>
            {
                // SQLITE_BUSY / SQLITE_LOCKED: another process holds the write lock too long.
                Error::unavailable("database", db.message())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "40001") => {
                // MySQL deadlock or serialization failure: the transaction can be retried.
                Error::unavailable("database", db.message())
            }
            _ => Error::Internal(err.to_string()),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match &err {
            rusqlite::Error::SqliteFailure(e, message)
                if e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Error::Conflict(message.clone().unwrap_or_else(|| e.to_string()))
            }
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(
                    e.code,
                    ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked
                ) =>
            {
                // SQLITE_BUSY / SQLITE_LOCKED: another process holds the write lock too long.
                Error::unavailable("database", &err)
            }
            _ => Error::Internal(err.to_string()),
        }
    }
}

#[cfg(feature = "distributed")]
impl From<redis::RedisError> for Error {
    fn from(err: redis::RedisError) -> Self {
        Error::unavailable("redis", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_the_json_round_trip() {
        let token = Token::generate();
        let errors = vec![
            Error::NotFound(Missing::Application {
                token: token.clone(),
            }),
            Error::NotFound(Missing::Chat {
                token: token.clone(),
                chat: ChatNumber::new(3).unwrap(),
            }),
            Error::NotFound(Missing::Message {
                token,
                chat: ChatNumber::new(3).unwrap(),
                message: MessageNumber::new(9).unwrap(),
            }),
            Error::NotFound(Missing::MalformedToken {
                token: "not-a-token".into(),
            }),
            Error::invalid("body", "must not be empty"),
            Error::BadRequest("limit must be between 1 and 1000".into()),
            Error::Conflict("duplicate".into()),
            Error::Forbidden("admin token required".into()),
            Error::unavailable("redis", "connection refused"),
        ];
        for err in errors {
            let json = serde_json::to_string(&err.to_body()).unwrap();
            assert!(!json.contains("_id"), "{json}");
            let back: ErrorBody = serde_json::from_str(&json).unwrap();
            assert_eq!(Error::from_body(err.status(), back), err, "{json}");
        }
    }

    #[test]
    fn internal_details_are_not_served() {
        let body = Error::Internal("sqlite said: secret path /x".into()).to_body();
        assert!(!body.error.message.contains("secret"));
        assert_eq!(body.error.code, "internal");
    }
}
