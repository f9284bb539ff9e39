//! The API's routes, one module per resource, and the helpers they share.

pub mod admin;
pub mod applications;
pub mod chats;
pub mod messages;
pub mod ops;
pub mod stats;
pub mod stream;

use axum::http::{header, HeaderMap, HeaderValue};

/// `Link: <path?QUERY>; rel="next"` when there is a next page: the one `Link` header of every
/// list and of search. `QUERY` is the next page's request as its query parameters
/// (`PageRequest::query_pairs`, `SearchRequest::query_pairs`), percent-encoded.
pub fn next_link(path: &str, next: Option<Vec<(&'static str, String)>>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(pairs) = next {
        let link = format!(
            "<{path}?{}>; rel=\"next\"",
            chat_core::wire::query_string(&pairs)
        );
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
