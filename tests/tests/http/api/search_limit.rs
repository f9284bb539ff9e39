//! The limit on expensive searches (`--max-searches`): past it and a short queue, a relevance
//! search (or one of fewer than three characters) gets 503 with `Retry-After` and the API's
//! JSON error, documented; creates and cheap searches go on meanwhile.

use std::time::Duration;

use chat_core::ChatApi;
use chat_tests::openapi_check::OpenApiCheck;
use chat_tests::{Harness, Http};
use reqwest::header;
use serde_json::Value;

use super::recorder::openapi;
use super::SEARCH;

async fn limited_server() -> (Http, String) {
    let server = Http::start_with(|s| {
        s.limits.max_searches = 1;
        s.limits.search_queue = Duration::from_millis(50);
    })
    .await;
    let client = server.client();
    let app = client.create_application("searches").await.unwrap();
    let chat = client.create_chat(&app.token).await.unwrap();
    let bodies: Vec<String> = (0..2_000)
        .map(|i| format!("a common word, message {i} of the searched chat"))
        .collect();
    for chunk in bodies.chunks(1_000) {
        client
            .create_messages(&app.token, chat.number, chunk)
            .await
            .unwrap();
    }
    let base = format!(
        "{}/api/v1/applications/{}/chats/{}/messages",
        server.url, app.token, chat.number
    );
    (server, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_search_limit_answers_503_with_retry_after_and_creates_still_succeed() {
    let (server, base) = limited_server().await;
    let check = OpenApiCheck::new(openapi(&server.url).await);
    let http = reqwest::Client::new();
    // Fill the limit: one expensive search is running.
    let place = server.state.searches.try_enter().expect("a free place");
    for url in [
        format!("{base}/search?q=common&sort=relevance"),
        format!("{base}/search?q=co"),
    ] {
        let resp = http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 503, "{url}");
        assert_eq!(
            resp.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            Some("1")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("expensive searches"), "{message}");
        check
            .check("GET", SEARCH, 503, &body)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Meanwhile a create, and a search that walks the index, are served as ever.
    let resp = http
        .post(&base)
        .json(&serde_json::json!({"body": "created meanwhile"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http
        .get(format!("{base}/search?q=meanwhile"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found[0]["body"], "created meanwhile");
    // The place freed, relevance is served again.
    drop(place);
    let resp = http
        .get(format!("{base}/search?q=common&sort=relevance&limit=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc = openapi(&server.url).await;
    let documented = &doc["paths"][SEARCH]["get"]["responses"]["503"];
    assert!(
        documented["headers"]["Retry-After"].is_object(),
        "{documented}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_relevance_searches_is_partly_refused_while_every_create_succeeds() {
    let (server, base) = limited_server().await;
    let http = reqwest::Client::new();
    let searches: Vec<_> = (0..32)
        .map(|_| {
            let (http, url) = (
                http.clone(),
                format!("{base}/search?q=common&sort=relevance"),
            );
            tokio::spawn(async move {
                let resp = http.get(url).send().await.unwrap();
                let status = resp.status().as_u16();
                let retry = resp.headers().contains_key(header::RETRY_AFTER);
                (status, retry)
            })
        })
        .collect();
    let creates: Vec<_> = (0..8)
        .map(|i| {
            let (http, url) = (http.clone(), base.clone());
            tokio::spawn(async move {
                http.post(url)
                    .json(&serde_json::json!({"body": format!("create {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for s in searches {
        let (status, retry) = s.await.unwrap();
        assert!(status == 200 || (status == 503 && retry), "{status}");
        statuses.push(status);
    }
    for c in creates {
        assert_eq!(c.await.unwrap(), 201);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    server.stop().await;
}
