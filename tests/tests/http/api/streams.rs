//! The live stream's and the stats stream's answers, and search's refusals beside them.

use chat_tests::{Harness, Http};
use reqwest::{header, Method as M};
use serde_json::Value;

use super::recorder::{case, world, Body, Recorder};
use super::{APPS, SEARCH, STATS, STREAM, STREAM_OPERATIONS};

/// The live stream's and search's refusals (the stream's 200 never ends: tests/tests/live.rs),
/// and the stats stream's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_and_search_refuse_bad_requests_in_the_json_shape() {
    let server = Http::start().await;
    let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
    let base = format!("{APPS}/{t}/chats/1/messages");
    let mut r = Recorder::new(&server);
    // The live stream's refusals (its 200 is a stream that never ends: tests/tests/live.rs).
    r.expect_all(vec![
        case(
            M::GET,
            STREAM,
            format!("{base}/stream?after=x"),
            Body::None,
            400,
        ),
        case(
            M::GET,
            STREAM,
            format!("{APPS}/{t}/chats/999/messages/stream"),
            Body::None,
            404,
        ),
    ])
    .await;
    // The stats stream: its 200 is an event stream that never ends (its events are checked
    // in tests/tests/web_console.rs), so only its head is read here.
    let stats = r
        .http
        .get(format!("{}{STATS}", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    assert!(stats.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    drop(stats);
    r.seen.push(("GET".into(), STATS.into(), 200, Value::Null));
    r.expect_all(vec![
        case(
            M::GET,
            SEARCH,
            format!("{base}/search?q=x&limit=0"),
            Body::None,
            400,
        ),
        case(
            M::GET,
            SEARCH,
            format!("{APPS}/{t}/chats/9/messages/search?q=abc"),
            Body::None,
            404,
        ),
    ])
    .await;

    r.check_against_openapi(STREAM_OPERATIONS).await;
    server.stop().await;
}
