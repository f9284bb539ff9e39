//! `/applications/{token}/chats/{number}/messages/stream`: a chat's messages as they happen,
//! as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chat_core::model::MAX_NUMBER;
use chat_core::{ChatApi, LiveEvent, MessageNumber};
use futures::StreamExt;

use super::{params, Params};
use crate::error::{ApiError, ApiResult};
use crate::extract::ChatPath;
use crate::AppState;

/// A comment line this often keeps idle streams open through proxies.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Follow a chat: the messages after the resume point as they are now, then every creation,
/// edit and deletion as it happens (server-sent events).
///
/// `event: created` carries `id: <message number>` and the Message as `data`; `event: edited`
/// carries the Message and `event: deleted` `{"number": N}`, both with no `id`, so the last id
/// received is always the resume point.
/// `Last-Event-ID: N` (or `?after=N`) resumes after message N, with no gap and no duplicate.
/// A comment line is sent every 15 s. A follower too slow to keep up is disconnected and
/// resumes by its last id.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats/{number}/messages/stream", operation_id = "follow_messages", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("after" = Option<u32>, Query, description = "Resume after this message number (0: from the first); `Last-Event-ID` takes precedence"),
           ("Last-Event-ID" = Option<u32>, Header, description = "Resume after this message number (the last `id` received)")),
    responses(
        (status = 200, description = "`text/event-stream`, a string of events: `event: created` (with `id`) and `event: edited`, each with `data` a Message (#/components/schemas/Message); `event: deleted` with `data` a MessageDeleted (#/components/schemas/MessageDeleted)", body = String, content_type = "text/event-stream"),
        (status = 400, description = "Malformed token, number, after or Last-Event-ID", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown token or chat", body = chat_core::ErrorBody),
        (status = 503, description = "Too many open streams on this server, or a backend is down (with `Retry-After`)", body = chat_core::ErrorBody)))]
pub async fn stream(
    State(s): State<AppState>,
    ChatPath(token, chat): ChatPath,
    headers: HeaderMap,
    q: Params,
) -> ApiResult<Response> {
    let q = params(q)?;
    let after = match headers.get("last-event-id") {
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
    let guard = s.live.admit()?;
    let events = s.service.follow(&token, chat, after).await?;
    let stopped = s.live.stopped();
    let events = events
        .take_until(stopped)
        // The guard lives as long as the stream: the client leaving frees its place.
        .scan(guard, |guard, item| {
            let streams = guard.streams();
            std::future::ready(match item {
                Ok(event) => {
                    streams.sent();
                    Some(Ok::<_, Infallible>(sse_event(&event)))
                }
                Err(e) => {
                    streams.cut_off();
                    tracing::info!(error = %e, "live stream ended");
                    None
                }
            })
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
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

fn sse_event(event: &LiveEvent) -> Event {
    let data = match event.message() {
        Some(m) => serde_json::to_string(m),
        None => serde_json::to_string(&serde_json::json!({ "number": event.number() })),
    }
    .unwrap_or_default();
    let e = Event::default().event(event.kind()).data(data);
    match event.resume_id() {
        Some(n) => e.id(n.to_string()),
        None => e,
    }
}
