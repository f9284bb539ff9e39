//! Health, readiness, metrics, the OpenAPI document, unknown routes and methods, and what a
//! stopped backend answers.

use chat_core::{ChatApi, NoProgress};
use chat_tests::{Harness, Http};
use reqwest::{header, Method as M};
use serde_json::{json, Value};

use super::recorder::{world, Body, Recorder};
use super::{APPS, OPERATIONS_ROUTES};

/// Health, readiness, metrics, the OpenAPI document, unknown routes and methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_routes_and_unknown_routes_answer_in_the_json_shape() {
    let server = Http::start().await;
    let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
    let mut r = Recorder::new(&server);
    // Operations, unknown routes and methods.
    r.expect(M::GET, "/health", "/health", Body::None, 200)
        .await;
    assert_eq!(
        r.expect(M::GET, "/ready", "/ready", Body::None, 200).await["backends"][0]["backend"],
        "sqlite"
    );
    let metrics = r
        .expect(M::GET, "/metrics", "/metrics", Body::None, 200)
        .await;
    let text = metrics.as_str().unwrap();
    assert!(text.contains("chat_http_requests_total{route=\"/api/v1/applications/{token}/chats/{number}/messages\",method=\"POST\",status=\"201\"} 2"), "{text}");
    assert!(
        text.contains("chat_write_batch_size_bucket") && !text.contains(&t),
        "tokens must not appear in metrics"
    );
    r.expect(M::GET, "/openapi.json", "/openapi.json", Body::None, 200)
        .await;
    let (s, _, _) = r
        .send(M::GET, "", "/api/v2/nothing", Body::None, None)
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = r
        .send(
            M::DELETE,
            "",
            &format!("{APPS}/{t}/chats"),
            Body::None,
            None,
        )
        .await;
    assert_eq!(s, 405);

    r.check_against_openapi(OPERATIONS_ROUTES).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_backend_gives_503_and_ready_says_so() {
    let server = Http::start().await;
    let client = server.client();
    let app = client.create_application("down").await.unwrap();
    client.create_chat(&app.token).await.unwrap();
    server.service.close().await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!(
            "{}/api/v1/applications/{}/chats/1/messages",
            server.url, app.token
        ))
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get(header::RETRY_AFTER).is_some());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    let ready = http
        .get(format!("{}/ready", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let v: Value = ready.json().await.unwrap();
    assert_eq!(
        (
            v["backends"][0]["backend"].as_str(),
            v["backends"][0]["ok"].as_bool()
        ),
        (Some("sqlite"), Some(false))
    );
    // The client reports it as the same typed error.
    assert!(matches!(
        client.create_chat(&app.token).await,
        Err(chat_core::Error::Unavailable { .. })
    ));
    let _ = client.recount(None, NoProgress::arc()).await;
    server.stop().await;
}
