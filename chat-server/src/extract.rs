//! Request parsing with the API's error shape: JSON bodies (bare or wrapped the Rails way),
//! path tokens and numbers, and list parameters. axum's own plain-text rejections never reach
//! a client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use chat_core::model::{check_limit, DEFAULT_LIMIT};
use chat_core::{ChatNumber, Error, MessageNumber, Token};
use serde_json::Value;

use crate::error::ApiError;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON object body (or no body at all, read as `{}`).
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::http(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("request body is over the limit of {BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(serde_json::Map::new()));
        }
        let is_json = content_type.as_deref().is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
        });
        if !is_json {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON: send Content-Type: application/json",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::bad_request(
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
        }
    }
}

impl JsonObject {
    /// The string field `field`, bare or inside one of the `wrappers` objects. Missing is
    /// `None`; any other type is a 400.
    pub fn string(&self, field: &str, wrappers: &[&str]) -> Result<Option<String>, ApiError> {
        let mut found = self.0.get(field);
        for w in wrappers {
            if found.is_some() {
                break;
            }
            match self.0.get(*w) {
                None => {}
                Some(Value::Object(inner)) => found = inner.get(field),
                Some(_) => return Err(ApiError::bad_request(format!("{w} must be a JSON object"))),
            }
        }
        match found {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ApiError::bad_request(format!(
                "{field} must be a string, got {}",
                kind(other)
            ))),
        }
    }

    /// Like [`JsonObject::string`], but a missing field is a 422.
    pub fn required(&self, field: &str, wrappers: &[&str]) -> Result<String, ApiError> {
        self.string(field, wrappers)?
            .ok_or_else(|| Error::invalid(field, "is required").into())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a path token.
pub fn token(s: &str) -> Result<Token, ApiError> {
    Ok(Token::parse(s)?)
}

/// Parses a path chat number.
pub fn chat(s: &str) -> Result<ChatNumber, ApiError> {
    Ok(ChatNumber::parse(s)?)
}

/// Parses a path message number.
pub fn message(s: &str) -> Result<MessageNumber, ApiError> {
    Ok(MessageNumber::parse(s)?)
}

/// `?limit=` (default 50, 1..=1000).
pub fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => {
            let n: u32 = s.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "limit must be an integer between 1 and 1000, got {s:?}"
                ))
            })?;
            Ok(check_limit(n)?)
        }
    }
}

/// `?offset=` (default 0).
pub fn offset(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_request(format!("offset must be a non-negative integer, got {s:?}"))
        }),
    }
}
