//! `/stats/stream`: the server's traffic second by second, as server-sent events (what the
//! console's performance panel charts).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::stream::KEEP_ALIVE;
use crate::error::ApiResult;
use crate::stats::Second;
use crate::AppState;

/// Follow the server's traffic: one `event: second` per second, with the requests each route
/// answered in it and their p50 / p99 / max latency.
///
/// The last two minutes are sent first, oldest first, then each second as it closes. Only route
/// templates and timings are sent (as in `/metrics`), never a token or a body. Counts as a live
/// stream for the server's stream limit.
#[utoipa::path(get, path = "/api/v1/stats/stream", tag = "operations", operation_id = "stats_stream",
    responses(
        (status = 200, description = "`text/event-stream`, a string of events: `event: second`, each with `data` a Second (#/components/schemas/Second)", body = String, content_type = "text/event-stream"),
        (status = 503, description = "Too many open streams on this server (with `Retry-After`)", body = chat_core::ErrorBody)))]
pub async fn stream(State(s): State<AppState>) -> ApiResult<Response> {
    let guard = s.live.admit()?;
    s.stats.start();
    let (history, rx) = s.stats.follow();
    let stopped = s.live.stopped();
    let events = futures::stream::iter(history)
        .chain(seconds(rx))
        .take_until(stopped)
        // The guard lives as long as the stream: the client leaving frees its place.
        .scan(guard, |_, second| {
            let data = serde_json::to_string(&*second).unwrap_or_default();
            std::future::ready(Some(Ok::<_, Infallible>(
                Event::default().event("second").data(data),
            )))
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// A broadcast receiver as a stream, skipping what a lagging follower missed (a chart can do
/// without a second it was too slow to take).
fn seconds(rx: broadcast::Receiver<Arc<Second>>) -> impl Stream<Item = Arc<Second>> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(second) => return Some((second, rx)),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
