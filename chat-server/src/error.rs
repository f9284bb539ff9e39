//! The one place where failures become HTTP responses: [`ApiError`] wraps the library's
//! [`chat_core::Error`] and the server's own refusals, and renders the JSON error shape of the
//! API. Details of 5xx errors are logged, never sent.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_core::{Error, ErrorBody};

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// A library error (validation, not found, backend down…).
    Core(Error),
    /// A refusal of the HTTP layer itself, with its own status and code.
    Http {
        /// The status.
        status: StatusCode,
        /// The stable code (`too_large`, `unsupported_media_type`, `unauthorized`…).
        code: &'static str,
        /// What to do about it.
        message: String,
    },
}

impl ApiError {
    /// An HTTP-level refusal.
    pub fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Http {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::Core(Error::BadRequest(message.into()))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Core(e) => {
                let status =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if status.is_server_error() {
                    tracing::error!(error = %e, "request failed");
                }
                let mut response = (status, Json(e.to_body())).into_response();
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                response
            }
            ApiError::Http {
                status,
                code,
                message,
            } => {
                let body = ErrorBody {
                    error: chat_core::error::ErrorDetail {
                        code: code.to_owned(),
                        message,
                        resource: None,
                        field: None,
                        reason: None,
                        backend: None,
                    },
                };
                let mut response = (status, Json(body)).into_response();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    // The rest of the body is never read, so the connection cannot carry
                    // another request: say so, or a client may send its next one on it and
                    // find it closed mid-write.
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
        }
    }
}

/// Rewrites every error response that is not already JSON (the plain-text rejections of
/// axum's extractors and routing, e.g. a path that is not UTF-8 once percent-decoded) into the
/// API's error shape, keeping its status and its text as the message.
pub async fn json_rejections(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (status, text.is_empty()) {
        (StatusCode::BAD_REQUEST, false) if text.contains("UTF-8") => {
            format!("the request's path or query is not valid UTF-8 once percent-decoded ({text})")
        }
        (_, false) => text,
        (_, true) => status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "refused",
    };
    let mut rewritten = ApiError::http(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
