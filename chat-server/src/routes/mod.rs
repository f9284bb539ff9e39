//! The API's routes, one module per resource, and the helpers they share.

pub mod admin;
pub mod applications;
pub mod chats;
pub mod messages;
pub mod ops;
pub mod stats;
pub mod stream;

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};

use crate::error::ApiError;

/// Query parameters (a repeated one keeps its last value), with a malformed query string
/// (not UTF-8 once percent-decoded) answered in the API's error shape.
pub struct Params(Result<HashMap<String, String>, ApiError>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let raw = parts.uri.query().unwrap_or_default();
        Ok(Params(
            chat_core::wire::form_pairs(raw.as_bytes())
                .map(|pairs| pairs.into_iter().collect())
                .map_err(|e| match e {
                    chat_core::Error::BadRequest(m) => {
                        ApiError::bad_request(format!("malformed query string: {m}"))
                    }
                    other => other.into(),
                }),
        ))
    }
}

/// The parameters as a map.
pub fn params(p: Params) -> Result<HashMap<String, String>, ApiError> {
    p.0
}

/// `Link: <path?limit=N&after=CURSOR>; rel="next"` (with `&sort=newest` for a newest-first
/// list) when there is a next page.
pub fn next_link(path: &str, limit: u32, newest: bool, next: Option<String>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(after) = next {
        let sort = if newest { "&sort=newest" } else { "" };
        let link = format!("<{path}?limit={limit}&after={after}{sort}>; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, v);
        }
    }
    headers
}

/// `Location: path` of a created resource.
pub fn location(path: String) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&path) {
        headers.insert(header::LOCATION, v);
    }
    headers
}
