//! Every route and status of the API contract, one file per resource: each test sends its
//! requests through a [`recorder::Recorder`] and ends by checking every answer against the
//! OpenAPI document; the rate limit, a stopped backend and concurrent creates besides.

mod admin;
mod applications;
mod chats;
mod messages;
mod operations;
mod rate_limits;
mod recorder;
mod search;
mod search_limit;
mod streams;

use chat_tests::openapi_check::OpenApiCheck;
use chat_tests::{Harness, Http};
use serde_json::json;

use recorder::openapi;

const APPS: &str = "/api/v1/applications";
const APP: &str = "/api/v1/applications/{token}";
const CHATS: &str = "/api/v1/applications/{token}/chats";
const CHAT: &str = "/api/v1/applications/{token}/chats/{number}";
const MSGS: &str = "/api/v1/applications/{token}/chats/{number}/messages";
const MSG: &str = "/api/v1/applications/{token}/chats/{number}/messages/{message}";
const BATCH: &str = "/api/v1/applications/{token}/chats/{number}/messages/batch";
const SEARCH: &str = "/api/v1/applications/{token}/chats/{number}/messages/search";
const STREAM: &str = "/api/v1/applications/{token}/chats/{number}/messages/stream";
const STATS: &str = "/api/v1/stats/stream";

const APPLICATION_OPERATIONS: &[(&str, &str)] = &[
    ("POST", APPS),
    ("GET", APPS),
    ("GET", APP),
    ("PUT", APP),
    ("PATCH", APP),
    ("DELETE", APP),
];
const CHAT_OPERATIONS: &[(&str, &str)] = &[
    ("POST", CHATS),
    ("GET", CHATS),
    ("GET", CHAT),
    ("DELETE", CHAT),
];
const MESSAGE_OPERATIONS: &[(&str, &str)] = &[
    ("POST", MSGS),
    ("POST", BATCH),
    ("GET", MSGS),
    ("GET", MSG),
    ("PUT", MSG),
    ("PATCH", MSG),
    ("DELETE", MSG),
    ("GET", SEARCH),
];
const STREAM_OPERATIONS: &[(&str, &str)] = &[("GET", STREAM), ("GET", SEARCH), ("GET", STATS)];
const ADMIN_OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/api/v1/admin/recount"),
    ("POST", "/api/v1/admin/reindex"),
    ("GET", "/api/v1/admin/queue"),
    ("POST", "/api/v1/admin/queue/retry-dead"),
    ("GET", "/api/v1/admin/export"),
];
const OPERATIONS_ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The per-resource tests of this module together exercise every documented operation, and the
/// OpenAPI check they end with can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_tests_cover_every_documented_operation() {
    let server = Http::start().await;
    let check = OpenApiCheck::new(openapi(&server.url).await);
    // The checker can fail: undocumented statuses and wrong shapes are caught.
    assert!(check.check("GET", APP, 418, &json!({})).is_err());
    assert!(check.check("GET", APP, 200, &json!({"token": 5})).is_err());
    assert!(check
        .check("GET", MSGS, 200, &json!([{"number": "one"}]))
        .is_err());
    let tested: Vec<(&str, &str)> = [
        APPLICATION_OPERATIONS,
        CHAT_OPERATIONS,
        MESSAGE_OPERATIONS,
        STREAM_OPERATIONS,
        ADMIN_OPERATIONS,
        OPERATIONS_ROUTES,
    ]
    .concat();
    for (method, path) in check.operations() {
        assert!(
            tested.contains(&(method.as_str(), path.as_str())),
            "{method} {path} is documented but no resource test exercises it"
        );
    }
    server.stop().await;
}
