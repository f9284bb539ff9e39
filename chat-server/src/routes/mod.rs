//! The API's routes, one module per resource, and the helpers they share.

pub mod admin;
pub mod applications;
pub mod chats;
pub mod messages;
pub mod ops;
pub mod stream;

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue};

use crate::error::ApiError;

/// Query parameters, with malformed query strings answered in the API's error shape.
pub type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The parameters as a map.
pub fn params(p: Params) -> Result<HashMap<String, String>, ApiError> {
    p.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// `Link: <path?limit=N&after=CURSOR>; rel="next"` when there is a next page.
pub fn next_link(path: &str, limit: u32, next: Option<String>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(after) = next {
        let link = format!("<{path}?limit={limit}&after={after}>; rel=\"next\"");
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
