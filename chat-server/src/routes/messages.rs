//! `/applications/{token}/chats/{number}/messages`: create, read, edit, list and search.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_core::{ChatApi, Message, MessageNumber};

use super::{location, next_link};
use crate::error::{ApiError, ApiResult};
use crate::extract::{BatchBodies, ChatPath, JsonObject, MessagePath, PageQuery, SearchQuery};
use crate::AppState;

const WRAPPERS: &[&str] = &["message"];

/// Create the chat's next message. Answers once the message is durably stored and searchable.
#[utoipa::path(post, path = "/api/v1/applications/{token}/chats/{number}/messages", operation_id = "create_message", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number")),
    request_body(content = chat_core::wire::BodyBody, description = "`{\"body\": …}`, also wrapped as `{\"message\": {…}}`"),
    responses(
        (status = 201, description = "Created", body = Message),
        (status = 400, description = "Malformed number, JSON or form", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is neither JSON nor a form, or is JSON sent as a form (send Content-Type: application/json)", body = chat_core::ErrorBody),
        (status = 422, description = "Empty or over-long body (16 KiB)", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down or the server is overloaded", body = chat_core::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ChatPath(token, chat): ChatPath,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<(StatusCode, HeaderMap, Json<Message>)> {
    let text = body?.required("body", WRAPPERS)?;
    let m = s.service.create_message(&token, chat, &text).await?;
    let at = location(format!(
        "/api/v1/applications/{token}/chats/{chat}/messages/{}",
        m.number
    ));
    Ok((StatusCode::CREATED, at, Json(m)))
}

/// Create several messages of the chat, numbered in the order given. Answers once all are
/// durably stored and searchable.
#[utoipa::path(post, path = "/api/v1/applications/{token}/chats/{number}/messages/batch", operation_id = "create_messages", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number")),
    request_body(content = chat_core::wire::BatchBody, description = "`{\"messages\": [{\"body\": …}, …]}`: 1 to 1,000 messages, JSON only"),
    responses(
        (status = 201, description = "Created, in the order sent: numbers increase along the array", body = [Message]),
        (status = 400, description = "Malformed number or JSON, or not the batch's shape", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 4 MiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is not JSON", body = chat_core::ErrorBody),
        (status = 422, description = "No message, more than 1,000, or an empty or over-long body (16 KiB)", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down or the server is overloaded", body = chat_core::ErrorBody)))]
pub async fn create_batch(
    State(s): State<AppState>,
    ChatPath(token, chat): ChatPath,
    bodies: Result<BatchBodies, ApiError>,
) -> ApiResult<(StatusCode, Json<Vec<Message>>)> {
    let bodies = bodies?.0;
    let created = s.service.create_messages(&token, chat, &bodies).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List a chat's messages by number.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats/{number}/messages", operation_id = "list_messages", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("limit" = Option<u32>, Query, description = "Page size, 1..=1000 (default 50)"),
           ("after" = Option<u32>, Query, description = "Number of the last message of the previous page"),
           ("sort" = Option<String>, Query, description = "`oldest` (default: by number) or `newest` (highest number first; `after` then pages downward)")),
    responses(
        (status = 200, description = "A page of messages; `Link: rel=\"next\"` when more remain", body = [Message]),
        (status = 400, description = "Malformed number, limit or after", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat", body = chat_core::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ChatPath(token, chat): ChatPath,
    OriginalUri(uri): OriginalUri,
    PageQuery(request): PageQuery<MessageNumber>,
) -> ApiResult<(HeaderMap, Json<Vec<Message>>)> {
    let page = s
        .service
        .list_messages(&token, chat, request.clone())
        .await?;
    let next = page
        .next
        .map(|after| request.next_page(after).query_pairs());
    let link = next_link(uri.path(), next);
    Ok((link, Json(page.items)))
}

/// Read one message.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats/{number}/messages/{message}", operation_id = "show_message", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("message" = u32, Path, description = "The message's number")),
    responses(
        (status = 200, description = "The message", body = Message),
        (status = 400, description = "Malformed numbers", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat or message", body = chat_core::ErrorBody)))]
pub async fn show(
    State(s): State<AppState>,
    MessagePath(token, chat, message): MessagePath,
) -> ApiResult<Json<Message>> {
    Ok(Json(s.service.get_message(&token, chat, message).await?))
}

/// Replace a message's body.
#[utoipa::path(method(put, patch), path = "/api/v1/applications/{token}/chats/{number}/messages/{message}", operation_id = "update_message", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("message" = u32, Path, description = "The message's number")),
    request_body(content = chat_core::wire::BodyBody, description = "Same shapes as create"),
    responses(
        (status = 200, description = "The edited message", body = Message),
        (status = 400, description = "Malformed numbers, JSON or form", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat or message", body = chat_core::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = chat_core::ErrorBody),
        (status = 415, description = "Body is neither JSON nor a form, or is JSON sent as a form (send Content-Type: application/json)", body = chat_core::ErrorBody),
        (status = 422, description = "Empty or over-long body", body = chat_core::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    MessagePath(token, chat, message): MessagePath,
    body: Result<JsonObject, ApiError>,
) -> ApiResult<Json<Message>> {
    let text = body?.required("body", WRAPPERS)?;
    Ok(Json(
        s.service
            .update_message(&token, chat, message, &text)
            .await?,
    ))
}

/// Delete a message: gone from reads, lists and search at once; followers of the chat get
/// `event: deleted`. Its number is never reused.
#[utoipa::path(delete, path = "/api/v1/applications/{token}/chats/{number}/messages/{message}", tag = "messages",
    operation_id = "delete_message",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("message" = u32, Path, description = "The message's number")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed numbers", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat or (already deleted) message", body = chat_core::ErrorBody),
        (status = 503, description = "A backend is down", body = chat_core::ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    MessagePath(token, chat, message): MessagePath,
) -> ApiResult<StatusCode> {
    s.service.delete_message(&token, chat, message).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Search a chat's messages for a substring (case-insensitive, literal), newest first by default.
#[utoipa::path(get, path = "/api/v1/applications/{token}/chats/{number}/messages/search", operation_id = "search_messages", tag = "messages",
    params(("token" = String, Path, description = "The application's token"),
           ("number" = u32, Path, description = "The chat's number"),
           ("query" = Option<String>, Query, description = "The text to find, 1..=1024 characters after trimming (`q` also accepted)"),
           ("sort" = Option<String>, Query, description = "`newest` (default: highest number first), `oldest`, or `relevance` (the chat's newest 1,000 matches, best first)"),
           ("limit" = Option<u32>, Query, description = "Most results, 1..=1000 (default 50)"),
           ("after" = Option<u32>, Query, description = "Only messages below this number (`newest`, `relevance`) or above it (`oldest`): `newest`/`oldest` page with it"),
           ("offset" = Option<u32>, Query, description = "Results to skip, 0..=999 (default 0): `relevance` pages with it")),
    responses(
        (status = 200, description = "Matching messages in the order of `sort`; `Link: rel=\"next\"` when more remain", body = [Message]),
        (status = 400, description = "Malformed number, limit, sort, after or offset", body = chat_core::ErrorBody),
        (status = 404, description = "Unknown or malformed token, or unknown chat", body = chat_core::ErrorBody),
        (status = 422, description = "Blank or over-long query", body = chat_core::ErrorBody),
        (status = 503, description = "The search backend is down, or too many expensive searches (`relevance`, or a query under three characters) are running in this process (`--max-searches`): retry after `Retry-After` seconds", body = chat_core::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying (when the search limit refused it)")))))]
pub async fn search(
    State(s): State<AppState>,
    ChatPath(token, chat): ChatPath,
    OriginalUri(uri): OriginalUri,
    SearchQuery(request): SearchQuery,
) -> Result<(HeaderMap, Json<Vec<Message>>), Response> {
    // Expensive searches take a place under the limit (or are refused) before any work.
    let _place = if request.is_expensive() {
        Some(s.searches.enter().await?)
    } else {
        None
    };
    let page = s
        .service
        .search_messages(&token, chat, &request)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let link = next_link(uri.path(), page.next.as_ref().map(|n| n.query_pairs()));
    Ok((link, Json(page.items)))
}
