//! The rate limit: a 429 with `Retry-After`, documented on every route it covers.

use chat_core::ChatApi;
use chat_tests::openapi_check::OpenApiCheck;
use chat_tests::{Harness, Http};
use reqwest::header;
use serde_json::Value;

use super::recorder::openapi;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_over_its_rate_gets_429_with_retry_after() {
    let server = Http::start_with(|s| s.rate_limit = 5).await;
    let app = server.client().create_application("limited").await.unwrap();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let resp = http
            .post(format!(
                "{}/api/v1/applications/{}/chats",
                server.url, app.token
            ))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned());
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], "rate_limited");
        }
    }
    assert!(
        statuses.contains(&429) && statuses[0] == 201,
        "{statuses:?}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    server.stop().await;
}

/// Every operation the rate limit can refuse documents its 429, with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_the_rate_limit_covers_documents_its_429() {
    let server = Http::start_with(|s| s.rate_limit = 1).await;
    let app = server.client().create_application("limited").await.unwrap();
    let doc = openapi(&server.url).await;
    let check = OpenApiCheck::new(doc.clone());
    let http = reqwest::Client::new();
    let mut covered = 0;
    for (method, template) in check.operations() {
        if !template.starts_with("/api/v1/applications/{token}") {
            continue;
        }
        covered += 1;
        let path = template
            .replace("{token}", app.token.as_str())
            .replace("{number}", "1")
            .replace("{message}", "1");
        let url = format!("{}{path}?q=x", server.url);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        // The first request of a second may pass; the next ones of that second are refused.
        let mut refused = None;
        for _ in 0..4 {
            let resp = http.request(m.clone(), &url).send().await.unwrap();
            if resp.status() == 429 {
                refused = Some(resp);
                break;
            }
        }
        let resp = refused.unwrap_or_else(|| panic!("{method} {template}: never 429"));
        assert!(
            resp.headers().contains_key(header::RETRY_AFTER),
            "{method} {template}"
        );
        let body: Value = resp.json().await.unwrap();
        check
            .check(&method, &template, 429, &body)
            .unwrap_or_else(|e| panic!("{e}"));
        let documented = &doc["paths"][&template][method.to_lowercase()]["responses"]["429"];
        assert!(
            documented["headers"]["Retry-After"].is_object(),
            "{method} {template}: {documented}"
        );
    }
    assert!(covered >= 15, "{covered} operations under an application");
    server.stop().await;
}
