//! `/applications/{token}/chats`: create, read, list and delete an application's chats.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chat_core::{Chat, ChatApi, ChatNumber};

use super::{location, next_link};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppPath, ChatPath, JsonObject, PageQuery};
use crate::AppState;

/// Create the application's next chat. Answers once the chat is durably stored.
#[utoipa::path(post, path = "/api/v1/applications/{token}/chats", operation_id = "create_chat", tag = "chats",
    params(("token" = String, Path, description = "The application's token")),
    request_body(content = Option<Object>, description = "None, or `{}`"),
    responses(
        (status = 201, description = "Created", body = Chat),
        (status = 400, description = "Malformed JSON or form", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is neither JSON nor a form, or is JSON sent as a form (send Content-Type: application/json)", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down or the server is overloaded", body = chat_core::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    AppPath(token): AppPath,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<(StatusCode, HeaderMap, Json<Chat>)> {
    body?;
    let chat = s.service.create_chat(&token).await?;
    let at = location(format!(
        "/api/v1/applications/{token}/chats/{}",
        chat.number
    ));
    Ok((StatusCode::CREATED, at, Json(chat)))
}

/// List an application's chats by number.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats", operation_id = "list_chats", tag = "chats",
    params(("token" = String, Path, description = "The application's token"),
           ("limit" = Option<u32>, Query, description = "Page size, 1..=1000 (default 50)"),
           ("after" = Option<u32>, Query, description = "Number of the last chat of the previous page"),
           ("sort" = Option<String>, Query, description = "`oldest` (default: by number) or `newest` (highest number first; `after` then pages downward)")),
    responses(
        (status = 200, description = "A page of chats; `Link: rel=\"next\"` when more remain", body = [Chat]),
        (status = 400, description = "Malformed limit or after", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token", body = chat_core::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    AppPath(token): AppPath,
    OriginalUri(uri): OriginalUri,
    PageQuery(request): PageQuery<ChatNumber>,
) -> ApiResult<(HeaderMap, Json<Vec<Chat>>)> {
    let page = s.service.list_chats(&token, request.clone()).await?;
    let next = page
        .next
        .map(|after| request.next_page(after).query_pairs());
    let link = next_link(uri.path(), next);
    Ok((link, Json(page.items)))
}

/// Read one chat.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats/{number}", operation_id = "show_chat", tag = "chats",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number")),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 400, description = "Malformed number", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat", body = chat_core::ErrorBody)))]
pub async fn show(
    State(s): State<AppState>,
    ChatPath(token, number): ChatPath,
) -> ApiResult<Json<Chat>> {
    Ok(Json(s.service.get_chat(&token, number).await?))
}

/// Delete a chat with all its messages. Its number is never reused.
#[utoipa::path(delete, path = "/api/v1/applications/{token}/chats/{number}", tag = "chats",
    operation_id = "delete_chat",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number")),
    responses(
        (status = 204, description = "Deleted, with its messages"),
        (status = 400, description = "Malformed number", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown (or already deleted) chat", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down", body = chat_core::ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    ChatPath(token, number): ChatPath,
) -> ApiResult<StatusCode> {
    s.service.delete_chat(&token, number).await?;
    Ok(StatusCode::NO_CONTENT)
}
