//! `/admin/recount` and `/admin/reindex`: the maintenance jobs, behind the admin token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chat_core::wire::JobScope;
use chat_core::{ChatApi, NoProgress, RecountSummary, ReindexSummary};

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonObject;
use crate::AppState;

fn scope(body: Result<JsonObject, ApiError>) -> ApiResult<JobScope> {
    let body = body?;
    let application = body
        .string("application", &[])?
        .map(|t| crate::extract::token(&t))
        .transpose()?;
    Ok(JobScope { application })
}

/// Recompute `chats_count` / `messages_count` from the stored rows (admin).
#[utoipa::path(post, path = "/api/v1/admin/recount", tag = "admin",
    request_body(content = Option<JobScope>, description = "Optional `{\"application\": token}`"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "What was corrected", body = RecountSummary),
        (status = 400, description = "Malformed token or JSON", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown application", body = chat_core::ErrorBody)))]
pub async fn recount(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<Json<RecountSummary>> {
    s.require_admin(&headers)?;
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
#[utoipa::path(post, path = "/api/v1/admin/reindex", tag = "admin",
    request_body(content = Option<JobScope>, description = "Optional `{\"application\": token}`"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "What was reindexed", body = ReindexSummary),
        (status = 400, description = "Malformed token or JSON", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown application", body = chat_core::ErrorBody)))]
pub async fn reindex(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<Json<ReindexSummary>> {
    s.require_admin(&headers)?;
    let scope = scope(body)?;
    let summary = s
        .service
        .reindex(scope.application.as_ref(), NoProgress::arc())
        .await?;
    tracing::info!(messages = summary.messages, "reindex done");
    Ok(Json(summary))
}
