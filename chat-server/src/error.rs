//! The one place where failures become HTTP responses: [`ApiError`] wraps the library's
//! [`chat_core::Error`] and the server's own refusals, and renders the JSON error shape of the
//! API. Details of 5xx errors are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
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
                (status, Json(body)).into_response()
            }
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
