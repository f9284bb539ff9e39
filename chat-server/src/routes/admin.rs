//! `/admin/recount`, `/admin/reindex` and `/admin/queue…`: the maintenance jobs and the
//! distributed profile's queue, behind the admin token.

use axum::extract::State;
use axum::Json;
use chat_core::wire::JobScope;
use chat_core::{ChatApi, NoProgress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, JsonObject};
use crate::AppState;

fn scope(body: Result<JsonObject, ApiError>) -> ApiResult<JobScope> {
    let body = body?;
    let application = body
        .0
        .optional("application")?
        .map(|t| crate::extract::token(&t))
        .transpose()?;
    Ok(JobScope { application })
}

/// Recompute `chats_count` / `messages_count` from the stored rows (admin).
#[utoipa::path(post, path = "/api/v1/admin/recount", operation_id = "recount", tag = "admin",
    request_body(content = Option<JobScope>, description = "Optional `{\"application\": token}`"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "What was corrected", body = RecountSummary),
        (status = 400, description = "Malformed JSON or form", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed application token", body = chat_core::ErrorBody)))]
pub async fn recount(
    _: Admin,
    State(s): State<AppState>,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<Json<RecountSummary>> {
    let scope = scope(body)?;
    let summary = s
        .service
        .recount(scope.application.as_ref(), NoProgress::arc())
        .await?;
    tracing::info!(
        corrected = summary.corrected,
        chats = summary.chats,
        "recount done"
    );
    Ok(Json(summary))
}

/// Rebuild the search index from the stored messages (admin).
#[utoipa::path(post, path = "/api/v1/admin/reindex", operation_id = "reindex", tag = "admin",
    request_body(content = Option<JobScope>, description = "Optional `{\"application\": token}`"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "What was reindexed", body = ReindexSummary),
        (status = 400, description = "Malformed JSON or form", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed application token", body = chat_core::ErrorBody)))]
pub async fn reindex(
    _: Admin,
    State(s): State<AppState>,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<Json<ReindexSummary>> {
    let scope = scope(body)?;
    let summary = s
        .service
        .reindex(scope.application.as_ref(), NoProgress::arc())
        .await?;
    tracing::info!(messages = summary.messages, "reindex done");
    Ok(Json(summary))
}

/// The write queue of the distributed profile: depth, pending, dead, oldest age (admin).
#[utoipa::path(get, path = "/api/v1/admin/queue", operation_id = "queue_status", tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The queue now", body = QueueStatus),
        (status = 400, description = "This profile has no queue (embedded)", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 503, description = "Redis unavailable", body = chat_core::ErrorBody)))]
pub async fn queue(_: Admin, State(s): State<AppState>) -> ApiResult<Json<QueueStatus>> {
    Ok(Json(s.service.queue_status().await?))
}

/// Move every dead-letter entry back to the queue (admin).
#[utoipa::path(post, path = "/api/v1/admin/queue/retry-dead", operation_id = "retry_dead", tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "How many entries went back to the queue", body = RetrySummary),
        (status = 400, description = "This profile has no queue (embedded)", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 503, description = "Redis unavailable", body = chat_core::ErrorBody)))]
pub async fn retry_dead(_: Admin, State(s): State<AppState>) -> ApiResult<Json<RetrySummary>> {
    let summary = s.service.retry_dead().await?;
    tracing::info!(retried = summary.retried, "dead-letter entries retried");
    Ok(Json(summary))
}

/// The consistent export stream of `chatctl export`, as NDJSON (admin): one line per record,
/// the header first and the end line with the checksum last. An error after the first line
/// cuts the stream short, which a reader sees as a stream without its end line.
#[utoipa::path(get, path = "/api/v1/admin/export", operation_id = "export", tag = "admin",
    params(("application" = Option<String>, Query, description = "Export only this application (its token)",
            pattern = "^[0-9a-f]{32}$")),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The export stream, one JSON record per line",
         content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Malformed query string or unknown parameter", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed application token", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is unavailable, or the queue did not drain in time", body = chat_core::ErrorBody)))]
pub async fn export(
    _: Admin,
    State(s): State<AppState>,
    crate::extract::QueryParams(params): crate::extract::QueryParams,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use futures::StreamExt;
    if let Some(other) = params.keys().find(|k| k.as_str() != "application") {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {:?}: the export takes only `application`",
            other.chars().take(40).collect::<String>()
        )));
    }
    let scope = params
        .get("application")
        .map(|t| crate::extract::token(t))
        .transpose()?;
    let options = chat_core::transfer::ExportOptions {
        scope,
        ..Default::default()
    };
    let records = s.service.export(&options).await?;
    let body = records.ready_chunks(256).map(|chunk| {
        let mut buf = Vec::with_capacity(chunk.len() * 128);
        for record in chunk {
            match record {
                Ok(r) => r.write_line(&mut buf),
                Err(e) => {
                    tracing::error!(error = %e, "export failed mid-stream");
                    return Err(e);
                }
            }
        }
        Ok(buf)
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}
