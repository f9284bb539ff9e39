//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chat_core::BackendHealth;
use serde::Serialize;
use utoipa::OpenApi;

use crate::AppState;

/// Liveness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Readiness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Each backend and whether it answered.
    pub backends: Vec<BackendHealth>,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: every backend answers.
#[utoipa::path(get, path = "/ready", operation_id = "ready", tag = "operations",
    responses((status = 200, description = "Every backend answers", body = Ready),
              (status = 503, description = "A backend is down (named in `backends`)", body = Ready)))]
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let backends = s.service.health().await;
    let ok = backends.iter().all(|b| b.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Ready {
        status: if ok { "ok" } else { "unavailable" },
        backends,
    };
    (status, Json(body))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // The distributed profile's queue, read from Redis at scrape time (one round trip, bounded
    // so a Redis outage cannot hold up the scrape); the embedded profile has none.
    let queue = match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        chat_core::ChatApi::queue_status(&s.service),
    )
    .await
    {
        Ok(Ok(q)) => Some(q),
        _ => None,
    };
    let mut text = s
        .metrics
        .render(&s.service.metrics().snapshot(), queue.as_ref());
    text.push_str(&s.live.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::ApiDoc::openapi())
}
