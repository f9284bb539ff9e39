//! Request parsing with the API's error shape: JSON and form bodies (bare or wrapped the Rails way),
//! path tokens and numbers, and list parameters. axum's own plain-text rejections never reach
//! a client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use chat_core::model::{parse_limit, parse_offset, DEFAULT_LIMIT};
use chat_core::wire::Fields;
use chat_core::{ChatNumber, MessageNumber, Token};

use crate::error::ApiError;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A request body's fields: a JSON object or an HTML form (`application/x-www-form-urlencoded`),
/// read by [`Fields`]; no body at all reads as `{}`. Any other media type is a 415.
pub struct JsonObject(pub Fields);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
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
            return Ok(JsonObject(Fields::default()));
        }
        match content_type.as_deref() {
            Some("application/x-www-form-urlencoded") => Ok(JsonObject(Fields::from_form(&bytes)?)),
            Some(ct)
                if ct == "application/json"
                    || (ct.starts_with("application/") && ct.ends_with("+json")) =>
            {
                Ok(JsonObject(Fields::from_json(&bytes)?))
            }
            _ => Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json) or a form \
                 (Content-Type: application/x-www-form-urlencoded)",
            )),
        }
    }
}

impl JsonObject {
    /// The string field `field`, bare or inside one of the `wrappers` objects. Missing is
    /// `None`; any other type is a 400.
    pub fn string(&self, field: &str, wrappers: &[&str]) -> Result<Option<String>, ApiError> {
        Ok(self.0.string(field, wrappers)?)
    }

    /// Like [`JsonObject::string`], but a missing field is a 422.
    pub fn required(&self, field: &str, wrappers: &[&str]) -> Result<String, ApiError> {
        Ok(self.0.required(field, wrappers)?)
    }
}

/// Parses a path token: a malformed one is a 404 that says what a token looks like.
pub fn token(s: &str) -> Result<Token, ApiError> {
    Ok(Token::lookup(s)?)
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
    Ok(raw.map(parse_limit).transpose()?.unwrap_or(DEFAULT_LIMIT))
}

/// `?offset=` (default 0).
pub fn offset(raw: Option<&str>) -> Result<u32, ApiError> {
    Ok(raw.map(parse_offset).transpose()?.unwrap_or(0))
}
