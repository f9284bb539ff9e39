//! Request parsing with the API's error shape: JSON and form bodies (bare or wrapped the Rails way),
//! path tokens and numbers, list, search and follow parameters, and the admin token. Handlers
//! take the parsed values ([`AppPath`], [`ChatPath`], [`MessagePath`], [`PageQuery`],
//! [`SearchQuery`], [`ResumeFrom`], [`Admin`]) and never see raw strings; every parser is
//! chat-core's own, so the library and the server reject alike. axum's own plain-text
//! rejections never reach a client.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chat_core::model::{parse_limit, parse_offset, DEFAULT_LIMIT, MAX_NUMBER};
use chat_core::wire::Fields;
use chat_core::{ChatNumber, MessageNumber, PageRequest, SearchRequest, SearchSort, Token};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AppState;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The request's media type (`Content-Type` without its parameters), lowercased.
fn media_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

/// Whether a body is one JSON object or array (what `curl -d '{…}'` sends as a form): no
/// form that any operation reads looks like that.
fn is_json_document(bytes: &[u8]) -> bool {
    let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
    matches!(start, Some(b'{' | b'[')) && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

/// `application/json` or a `+json` type.
fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// Largest accepted body of `POST …/messages/batch` (1,000 messages of a few KiB each).
pub const BATCH_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The bodies of `POST …/messages/batch`: `{"messages": [{"body": "…"}, …]}`, JSON only, in
/// order. Their count and each body are checked by chat-core (`422`); the shape here (`400`).
pub struct BatchBodies(pub Vec<String>);

impl<S: Send + Sync> FromRequest<S> for BatchBodies {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = media_type(&req).as_deref().is_some_and(is_json);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::http(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!(
                        "a batch is at most {BATCH_BODY_LIMIT} bytes: send the messages in \
                         several batches"
                    ),
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        if !json {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "a batch must be JSON (Content-Type: application/json): \
                 {\"messages\": [{\"body\": \"…\"}, …]}",
            ));
        }
        let shape = || {
            ApiError::bad_request("the request body must be {\"messages\": [{\"body\": \"…\"}, …]}")
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
        let items = value
            .get("messages")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(shape)?;
        let bodies = items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get("body") {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(ApiError::bad_request(format!(
                    "message {}: body must be a string, got {other}",
                    i + 1
                ))),
                None => Err(ApiError::bad_request(format!(
                    "message {}: expected an object like {{\"body\": \"…\"}}",
                    i + 1
                ))),
            })
            .collect::<Result<Vec<String>, ApiError>>()?;
        Ok(BatchBodies(bodies))
    }
}

/// A request body's fields: a JSON object or an HTML form (`application/x-www-form-urlencoded`),
/// read by [`Fields`]; no body at all reads as `{}`. Any other media type is a 415.
pub struct JsonObject(pub Fields);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = media_type(&req);
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
            Some("application/x-www-form-urlencoded") if is_json_document(&bytes) => {
                Err(ApiError::http(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body is JSON but was sent as a form \
                     (Content-Type: application/x-www-form-urlencoded, what curl -d sends): \
                     send it with Content-Type: application/json \
                     (curl -H 'Content-Type: application/json' -d …, or curl --json …)",
                ))
            }
            Some("application/x-www-form-urlencoded") => Ok(JsonObject(Fields::from_form(&bytes)?)),
            Some(ct) if is_json(ct) => Ok(JsonObject(Fields::from_json(&bytes)?)),
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

/// Reads the path's parameters by name, percent-decoded (a path that is not UTF-8 is rejected
/// by axum and worded by [`crate::error::json_rejections`]), and parses them with `parse`.
async fn parse_path<S: Send + Sync, T>(
    parts: &mut Parts,
    state: &S,
    parse: impl FnOnce(&PathParams) -> Result<T, ApiError>,
) -> Result<T, Response> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    parse(&PathParams(params)).map_err(IntoResponse::into_response)
}

/// A route's path parameters.
struct PathParams(HashMap<String, String>);

impl PathParams {
    fn get(&self, name: &str) -> Result<&str, ApiError> {
        self.0.get(name).map(String::as_str).ok_or_else(|| {
            ApiError::http(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("route without a {{{name}}} parameter"),
            )
        })
    }
}

/// `…/{token}`: an application's token. A malformed token is a 404 that says what a token
/// looks like (no application can have it).
pub struct AppPath(pub Token);

impl<S: Send + Sync> FromRequestParts<S> for AppPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        parse_path(parts, state, |p| Ok(AppPath(token(p.get("token")?)?))).await
    }
}

/// `…/{token}/chats/{number}`: a chat. The token is checked first.
pub struct ChatPath(pub Token, pub ChatNumber);

impl<S: Send + Sync> FromRequestParts<S> for ChatPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        parse_path(parts, state, |p| {
            Ok(ChatPath(token(p.get("token")?)?, chat(p.get("number")?)?))
        })
        .await
    }
}

/// `…/{token}/chats/{number}/messages/{message}`: a message. Token, chat, message in order.
pub struct MessagePath(pub Token, pub ChatNumber, pub MessageNumber);

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        parse_path(parts, state, |p| {
            let (token, chat) = (token(p.get("token")?)?, chat(p.get("number")?)?);
            Ok(MessagePath(token, chat, message(p.get("message")?)?))
        })
        .await
    }
}

/// A list's cursor as the query string carries it: a token or a number.
pub trait Cursor: Sized {
    /// Parses `?after=`.
    fn parse_after(raw: &str) -> Result<Self, ApiError>;
}

impl Cursor for Token {
    fn parse_after(raw: &str) -> Result<Self, ApiError> {
        Ok(Token::parse(raw)?)
    }
}

impl Cursor for ChatNumber {
    fn parse_after(raw: &str) -> Result<Self, ApiError> {
        chat(raw)
    }
}

impl Cursor for MessageNumber {
    fn parse_after(raw: &str) -> Result<Self, ApiError> {
        message(raw)
    }
}

/// The query string's parameters by name (a repeated one keeps its last value). A malformed
/// query string (not UTF-8 once percent-decoded) is a 400 in the API's error shape.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or_default();
        chat_core::wire::form_pairs(raw.as_bytes())
            .map(|pairs| QueryParams(pairs.into_iter().collect()))
            .map_err(|e| match e {
                chat_core::Error::BadRequest(m) => {
                    ApiError::bad_request(format!("malformed query string: {m}"))
                }
                other => other.into(),
            })
    }
}

impl QueryParams {
    /// The parameter `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `?limit=` (default 50, 1..=1000).
    fn limit(&self) -> Result<u32, ApiError> {
        limit(self.get("limit"))
    }

    /// `?offset=` (default 0).
    fn offset(&self) -> Result<u32, ApiError> {
        offset(self.get("offset"))
    }

    /// `?after=`, a cursor of the list's kind.
    fn after<C: Cursor>(&self) -> Result<Option<C>, ApiError> {
        self.get("after").map(C::parse_after).transpose()
    }

    /// `?sort=`, in the orders `O` names (its default when not sent).
    fn sort<O: Sort>(&self) -> Result<O, ApiError> {
        Ok(self
            .get("sort")
            .map(O::parse_sort)
            .transpose()?
            .unwrap_or_default())
    }
}

/// An order that `?sort=` names: the one parser of `sort` for lists and search.
pub trait Sort: Sized + Default {
    /// Parses `?sort=`; a refusal quotes what was sent.
    fn parse_sort(raw: &str) -> Result<Self, ApiError>;
}

/// The order of a list: by number, lowest first (the default) or highest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListSort {
    /// Lowest number first.
    #[default]
    Oldest,
    /// Highest number first; `after` then pages downward.
    Newest,
}

impl Sort for ListSort {
    fn parse_sort(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "oldest" => Ok(ListSort::Oldest),
            "newest" => Ok(ListSort::Newest),
            other => Err(ApiError::bad_request(format!(
                "sort must be oldest (the default: by number) or newest (highest number first), got {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

impl Sort for SearchSort {
    fn parse_sort(raw: &str) -> Result<Self, ApiError> {
        Ok(SearchSort::parse(raw)?)
    }
}

/// `?limit=&after=&sort=` of a list: the page asked for.
pub struct PageQuery<C>(pub PageRequest<C>);

impl<S: Send + Sync, C: Cursor> FromRequestParts<S> for PageQuery<C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_request_parts(parts, state).await?;
        let limit = q.limit()?;
        let after = q.after()?;
        let newest = q.sort::<ListSort>()? == ListSort::Newest;
        Ok(PageQuery(PageRequest {
            limit,
            after,
            newest,
        }))
    }
}

/// `?query=` (or `?q=`) `&sort=&limit=&after=&offset=` of a chat's search: the request, its
/// parameters checked in that order. The query text itself is checked by chat-core (`422`).
pub struct SearchQuery(pub SearchRequest);

impl<S: Send + Sync> FromRequestParts<S> for SearchQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_request_parts(parts, state).await?;
        let query = q.get("query").or_else(|| q.get("q")).unwrap_or_default();
        let sort = q.sort()?;
        let limit = q.limit()?;
        let after = q.after()?;
        let offset = q.offset()?;
        Ok(SearchQuery(SearchRequest {
            query: query.to_owned(),
            sort,
            limit,
            after,
            offset,
        }))
    }
}

/// Where a follower of a chat resumes: after the message `Last-Event-ID` names or, without
/// that header, `?after=`; `None` (`0`, or neither sent) is from the first message.
pub struct ResumeFrom(pub Option<MessageNumber>);

impl<S: Send + Sync> FromRequestParts<S> for ResumeFrom {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let q = QueryParams::from_request_parts(parts, state).await?;
        let after = match parts.headers.get("last-event-id") {
            Some(v) => resume_point(
                "Last-Event-ID",
                v.to_str().map_err(|_| {
                    ApiError::bad_request(
                        "Last-Event-ID must be a non-negative integer, got non-text bytes",
                    )
                })?,
            )?,
            None => q
                .get("after")
                .map(|a| resume_point("after", a))
                .transpose()?
                .flatten(),
        };
        Ok(ResumeFrom(after))
    }
}

/// `0` (from the first message) or a message number: a non-negative integer. `what` names
/// where it was sent (`after`, `Last-Event-ID`).
fn resume_point(what: &str, s: &str) -> Result<Option<MessageNumber>, ApiError> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if s.bytes().all(|b| b == b'0') {
            return Ok(None);
        }
        if let Some(n) = s
            .parse::<u32>()
            .ok()
            .and_then(|n| MessageNumber::new(n).ok())
        {
            return Ok(Some(n));
        }
    }
    Err(ApiError::bad_request(format!(
        "{what} must be a non-negative integer (0: from the first message; else a message \
         number up to {MAX_NUMBER}), got {:?}",
        s.chars().take(40).collect::<String>()
    )))
}

/// Proof that the request carries the admin token (`Authorization: Bearer …`, compared in
/// constant time). Admin handlers take it as an argument, so none can forget the check.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = &state.admin_token else {
            return Err(ApiError::http(
                StatusCode::FORBIDDEN,
                "forbidden",
                "admin endpoints are disabled: start chat-server with --admin-token \
                 (or CHAT_ADMIN_TOKEN) and send it as Authorization: Bearer TOKEN",
            ));
        };
        let sent = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match sent {
            None => Err(ApiError::http(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs the admin token: send Authorization: Bearer TOKEN",
            )),
            Some(sent) if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) => Ok(Admin),
            Some(_) => Err(ApiError::http(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the admin token is wrong",
            )),
        }
    }
}
