//! Overload protection: a request timeout and a concurrency limit that sheds excess load with
//! a quick 503 (tower's layers), a separate concurrency limit on expensive searches
//! ([`SearchGate`]: a short queue, then 503 with `Retry-After`), and an optional
//! per-application rate limit (429 with `Retry-After`). All refusals use the API's JSON error
//! shape.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::BoxError;

use crate::error::ApiError;
use crate::AppState;

/// Turns the errors of tower's timeout and load-shedding layers into JSON responses.
pub async fn refuse(err: BoxError) -> Response {
    if err.is::<tower::load_shed::error::Overloaded>() {
        overloaded()
    } else if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::http(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the request took too long and was abandoned; retry later",
        )
        .into_response()
    } else {
        tracing::error!(error = %err, "unhandled middleware error");
        ApiError::http(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
        .into_response()
    }
}

fn overloaded() -> Response {
    let mut r = ApiError::http(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the server is at its concurrency limit; retry shortly",
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The concurrency limit of expensive searches in one process: `relevance` (which ranks a window
/// of matches) and queries of one or two characters (which scan the chat's rows rather than the
/// index). At most `max` run at once; another waits in line up to `queue`, then is refused with
/// 503 and `Retry-After`, so a flood of them never holds every core and the other routes (and
/// cheap searches) keep their latency.
pub struct SearchGate {
    permits: tokio::sync::Semaphore,
    max: usize,
    queue: Duration,
}

/// A running expensive search; its place frees when dropped.
pub type SearchPermit<'a> = tokio::sync::SemaphorePermit<'a>;

impl SearchGate {
    /// At most `max` (at least 1) expensive searches at once, others waiting up to `queue`.
    pub fn new(max: usize, queue: Duration) -> Self {
        let max = max.max(1);
        SearchGate {
            permits: tokio::sync::Semaphore::new(max),
            max,
            queue,
        }
    }

    /// A place among the running searches, after waiting at most the queue's time; past it,
    /// the 503 to answer.
    pub async fn enter(&self) -> Result<SearchPermit<'_>, Response> {
        match tokio::time::timeout(self.queue, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(self.busy()),
        }
    }

    /// Takes a place at once if one is free (tests fill the limit with it).
    pub fn try_enter(&self) -> Option<SearchPermit<'_>> {
        self.permits.try_acquire().ok()
    }

    /// Expensive searches running at once, at most.
    pub fn max(&self) -> usize {
        self.max
    }

    fn busy(&self) -> Response {
        let mut r = ApiError::http(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!(
                "too many expensive searches are running ({} at once: relevance, or queries under \
                 three characters); retry in 1 s, or search newest/oldest with 3+ characters",
                self.max
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }
}

/// Fixed one-second windows of at most `per_second` requests per application token.
pub struct RateLimiter {
    per_second: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests per application per second.
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            per_second: per_second.max(1),
            windows: Mutex::default(),
        }
    }

    /// Whether one more request of `token` fits; otherwise the seconds until it would.
    pub fn check(&self, token: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
        }
        let entry = windows.entry(token.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(1) {
            *entry = (now, 0);
        }
        if entry.1 < self.per_second {
            entry.1 += 1;
            Ok(())
        } else {
            Err(1)
        }
    }
}

/// The application token of an API path (or route template), if any: the requests the rate
/// limit counts.
pub(crate) fn token_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/api/v1/applications/")
        .or_else(|| path.strip_prefix("/api/v1/chat_applications/"))?;
    rest.split('/').next().filter(|t| !t.is_empty())
}

/// Middleware: 429 with `Retry-After` when an application exceeds its rate.
pub async fn rate_limit(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &s.rate_limiter {
        if let Some(token) = token_of(req.uri().path()) {
            if let Err(retry) = limiter.check(token) {
                let mut r = ApiError::http(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "this application is over its limit of {} requests per second; retry in {retry} s",
                        limiter.per_second
                    ),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_both_path_spellings() {
        assert_eq!(token_of("/api/v1/applications/abc/chats"), Some("abc"));
        assert_eq!(token_of("/api/v1/chat_applications/abc"), Some("abc"));
        assert_eq!(token_of("/api/v1/applications"), None);
        assert_eq!(token_of("/health"), None);
    }

    #[tokio::test]
    async fn the_search_gate_queues_then_refuses_with_retry_after() {
        let gate = SearchGate::new(1, Duration::from_millis(20));
        let held = gate.enter().await.expect("a free place");
        let refused = gate.enter().await.expect_err("the limit is full");
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        drop(held);
        assert!(gate.enter().await.is_ok());
        let search = |q: &str, sort| chat_core::SearchRequest::new(q).sorted(sort);
        use chat_core::SearchSort::*;
        assert!(search("word", Relevance).is_expensive());
        assert!(search("ab", Newest).is_expensive());
        assert!(!search("abc", Newest).is_expensive());
        assert!(!search("abc", Oldest).is_expensive());
        // A blank query is refused (422) before it costs anything.
        assert!(!search("  ", Newest).is_expensive());
    }

    #[test]
    fn the_limiter_refuses_past_the_rate() {
        let l = RateLimiter::new(2);
        assert!(l.check("a").is_ok() && l.check("a").is_ok());
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok());
    }
}
