//! The admin routes: recount, reindex, the queue and the export, behind the admin token.

use chat_core::Token;
use chat_tests::{Harness, Http};
use reqwest::Method as M;
use serde_json::{json, Value};

use super::recorder::{case, world, Body, Recorder};
use super::ADMIN_OPERATIONS;

/// Recount, reindex and the queue routes, behind the admin token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_jobs_answer_every_documented_status() {
    let server = Http::start().await;
    let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
    let mut r = Recorder::new(&server);
    for path in ["/api/v1/admin/recount", "/api/v1/admin/reindex"] {
        let (s, _, _) = r.send(M::POST, path, path, Body::None, None).await;
        assert_eq!(s, 401);
        let (s, _, _) = r.send(M::POST, path, path, Body::None, Some("nope")).await;
        assert_eq!(s, 403);
        let v = r.expect(M::POST, path, path, Body::None, 200).await;
        assert!(v["duration_ms"].is_u64(), "{v}");
        r.expect_all(vec![
            case(M::POST, path, path, json!({"application": t}), 200),
            case(
                M::POST,
                path,
                path,
                json!({"application": Token::generate()}),
                404,
            ),
            case(M::POST, path, path, json!({"application": "bad"}), 404),
        ])
        .await;
    }
    let v = r
        .expect(
            M::POST,
            "/api/v1/admin/reindex",
            "/api/v1/admin/reindex",
            Body::Json(json!({"application": t})),
            200,
        )
        .await;
    assert_eq!(v["messages"], 2);

    // The queue belongs to the distributed profile: this one says so, behind the token.
    for (method, path) in [
        (M::GET, "/api/v1/admin/queue"),
        (M::POST, "/api/v1/admin/queue/retry-dead"),
    ] {
        let (s, _, _) = r.send(method.clone(), path, path, Body::None, None).await;
        assert_eq!(s, 401);
        let (s, _, _) = r
            .send(method.clone(), path, path, Body::None, Some("nope"))
            .await;
        assert_eq!(s, 403);
        let v = r.expect(method, path, path, Body::None, 400).await;
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("distributed profile")),
            "{v}"
        );
    }

    // The export stream: NDJSON behind the token, one application or all.
    const EXPORT: &str = "/api/v1/admin/export";
    let (s, _, _) = r.send(M::GET, EXPORT, EXPORT, Body::None, None).await;
    assert_eq!(s, 401);
    let (s, _, _) = r
        .send(M::GET, EXPORT, EXPORT, Body::None, Some("nope"))
        .await;
    assert_eq!(s, 403);
    let all = r.expect(M::GET, EXPORT, EXPORT, Body::None, 200).await;
    let all = all.as_str().unwrap_or_default();
    assert!(all.starts_with("{\"type\":\"header\""), "{all}");
    assert!(all
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .starts_with("{\"type\":\"end\""));
    let one = r
        .expect(
            M::GET,
            EXPORT,
            &format!("{EXPORT}?application={t}"),
            Body::None,
            200,
        )
        .await;
    assert_eq!(
        one.as_str().unwrap_or_default().lines().count(),
        1 + 1 + 2 + 2 + 1,
        "{one}"
    );
    let unknown = Token::generate();
    r.expect_all(vec![
        case(
            M::GET,
            EXPORT,
            format!("{EXPORT}?application={unknown}"),
            Body::None,
            404,
        ),
        case(
            M::GET,
            EXPORT,
            format!("{EXPORT}?application=bad"),
            Body::None,
            404,
        ),
        case(M::GET, EXPORT, format!("{EXPORT}?app={t}"), Body::None, 400),
    ])
    .await;

    r.check_against_openapi(ADMIN_OPERATIONS).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_without_a_configured_token_say_how_to_enable_them() {
    let server = Http::start_with(|s| s.admin_token = None).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/applications", server.url))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CHAT_ADMIN_TOKEN"),
        "{v}"
    );
    server.stop().await;
}
