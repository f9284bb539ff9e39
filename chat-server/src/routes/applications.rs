//! `/applications`: create, read, rename and (admin) list and delete applications.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chat_core::{Application, ChatApi, Token};

use super::{location, next_link};
use crate::error::ApiResult;
use crate::extract::{Admin, AppPath, JsonObject, PageQuery};
use crate::AppState;

/// Wrappers accepted around `name` (the Rails resource names).
const WRAPPERS: &[&str] = &["application", "chat_application"];

/// Create an application with a fresh token.
#[utoipa::path(post, path = "/api/v1/applications", operation_id = "create_application", tag = "applications",
    request_body(content = chat_core::wire::NameBody, description = "`{\"name\": …}`, also wrapped as `{\"application\": {…}}` or `{\"chat_application\": {…}}`"),
    responses(
        (status = 201, description = "Created", body = Application),
        (status = 400, description = "Malformed JSON or wrong types", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is neither JSON nor a form, or is JSON sent as a form (send Content-Type: application/json)", body = chat_core::ErrorBody),
        (status = 422, description = "Empty or over-long name", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down", body = chat_core::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, HeaderMap, Json<Application>)> {
    let name = body.required("name", WRAPPERS)?;
    let app = s.service.create_application(&name).await?;
    let at = location(format!("/api/v1/applications/{}", app.token));
    Ok((StatusCode::CREATED, at, Json(app)))
}

/// List every application, in creation order (admin).
#[utoipa::path(get, path = "/api/v1/applications", operation_id = "list_applications", tag = "applications",
    params(("limit" = Option<u32>, Query, description = "Page size, 1..=1000 (default 50)"),
           ("after" = Option<String>, Query, description = "Token of the last application of the previous page")),
    security(("admin" = [])),
    responses(
        (status = 200, description = "A page of applications; `Link: rel=\"next\"` when more remain", body = [Application]),
        (status = 400, description = "Bad limit or after", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown `after` token", body = chat_core::ErrorBody)))]
pub async fn list(
    _: Admin,
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    PageQuery(request): PageQuery<Token>,
) -> ApiResult<(HeaderMap, Json<Vec<Application>>)> {
    let page = s.service.list_applications(request.clone()).await?;
    let next = page
        .next
        .map(|after| request.next_page(after).query_pairs());
    let link = next_link(uri.path(), next);
    Ok((link, Json(page.items)))
}

/// Read one application.
#[utoipa::path(get, path = "/api/v1/applications/{token}", operation_id = "show_application", tag = "applications",
    params(("token" = String, Path, description = "The application's token")),
    responses(
        (status = 200, description = "The application", body = Application),
        (status = 400, description = "A path that is not UTF-8", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token", body = chat_core::ErrorBody)))]
pub async fn show(
    State(s): State<AppState>,
    AppPath(token): AppPath,
) -> ApiResult<Json<Application>> {
    Ok(Json(s.service.get_application(&token).await?))
}

/// Rename an application.
#[utoipa::path(method(put, patch), path = "/api/v1/applications/{token}", operation_id = "update_application", tag = "applications",
    params(("token" = String, Path, description = "The application's token")),
    request_body(content = chat_core::wire::NameBody, description = "Same shapes as create"),
    responses(
        (status = 200, description = "The renamed application", body = Application),
        (status = 400, description = "Malformed JSON or form", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is neither JSON nor a form, or is JSON sent as a form (send Content-Type: application/json)", body = chat_core::ErrorBody),
        (status = 422, description = "Empty or over-long name", body = chat_core::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    AppPath(token): AppPath,
    body: JsonObject,
) -> ApiResult<Json<Application>> {
    let name = body.required("name", WRAPPERS)?;
    Ok(Json(s.service.update_application(&token, &name).await?))
}

/// Delete an application with all its chats and messages (admin). Its token is never given
/// out again.
#[utoipa::path(delete, path = "/api/v1/applications/{token}", tag = "applications",
    operation_id = "delete_application",
    params(("token" = String, Path, description = "The application's token")),
    security(("admin" = [])),
    responses(
        (status = 204, description = "Deleted, with its chats and messages"),
        (status = 400, description = "A path that is not UTF-8", body = chat_core::ErrorBody),
        (status = 401, description = "No admin token sent", body = chat_core::ErrorBody),
        (status = 403, description = "Wrong admin token, or none configured", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token (or already deleted)", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down", body = chat_core::ErrorBody)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    AppPath(token): AppPath,
) -> ApiResult<StatusCode> {
    s.service.delete_application(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}
