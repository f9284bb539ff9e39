//! `/applications/{token}/chats/{number}/messages/stream`: a chat's messages as they happen,
//! as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chat_core::{ChatApi, LiveEvent};
use futures::StreamExt;

use crate::error::ApiResult;
use crate::extract::{ChatPath, ResumeFrom};
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
    ResumeFrom(after): ResumeFrom,
) -> ApiResult<Response> {
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
