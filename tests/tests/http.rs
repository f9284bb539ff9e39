//! chat-server over real HTTP: the conformance suite through `HttpClient`, every route and
//! status of the API contract, concurrency with read-your-writes, and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Http;

chat_tests::conformance_suite!(Http);

mod api {
    use std::sync::Arc;

    use chat_core::{ChatApi, NoProgress};
    use chat_tests::openapi_check::OpenApiCheck;
    use chat_tests::{Harness, Http};
    use reqwest::{header, Method, StatusCode};
    use serde_json::{json, Value};

    /// Sends requests and remembers (method, route template, status, body) for the OpenAPI check.
    struct Recorder {
        http: reqwest::Client,
        base: String,
        admin: String,
        seen: Vec<(String, String, u16, Value)>,
    }

    enum Body {
        None,
        Json(Value),
        Raw(&'static str, String),
    }

    impl Recorder {
        fn new(server: &Http) -> Self {
            Recorder {
                http: reqwest::Client::new(),
                base: server.url.clone(),
                admin: server.admin_token.clone(),
                seen: Vec::new(),
            }
        }

        async fn send(
            &mut self,
            method: Method,
            template: &str,
            path: &str,
            body: Body,
            auth: Option<&str>,
        ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
            let mut r = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            r = match body {
                Body::None => r,
                Body::Json(v) => r.json(&v),
                Body::Raw(ct, text) => r.header(header::CONTENT_TYPE, ct).body(text),
            };
            if let Some(a) = auth {
                r = r.bearer_auth(a);
            }
            let resp = r.send().await.unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap();
            let value: Value = if path == "/metrics" {
                Value::String(text)
            } else {
                serde_json::from_str(&text).unwrap_or_else(|e| {
                    panic!("{method} {path} → {status}: body is not JSON ({e}): {text:?}")
                })
            };
            if status.is_client_error() || status.is_server_error() {
                let code = value["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    !code.is_empty(),
                    "{method} {path} → {status} without the error shape: {value}"
                );
                assert!(!value["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty());
            }
            assert_no_ids(&value);
            self.seen.push((
                method.to_string(),
                template.to_owned(),
                status.as_u16(),
                value.clone(),
            ));
            (status, headers, value)
        }

        async fn expect(
            &mut self,
            method: Method,
            template: &str,
            path: &str,
            body: Body,
            status: u16,
        ) -> Value {
            let admin = self.admin.clone();
            let auth = if path.contains("/admin/")
                || (path.starts_with("/api/v1/applications?") || path == "/api/v1/applications")
                    && method == Method::GET
            {
                Some(admin.as_str())
            } else {
                None
            };
            let (s, _, v) = self.send(method.clone(), template, path, body, auth).await;
            assert_eq!(s.as_u16(), status, "{method} {path}: {v}");
            v
        }
    }

    fn assert_no_ids(v: &Value) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                assert!(k != "id" && !k.ends_with("_id"), "internal id field {k}");
                assert_no_ids(v);
            }),
            Value::Array(a) => a.iter().for_each(assert_no_ids),
            _ => {}
        }
    }

    const APPS: &str = "/api/v1/applications";
    const APP: &str = "/api/v1/applications/{token}";
    const CHATS: &str = "/api/v1/applications/{token}/chats";
    const CHAT: &str = "/api/v1/applications/{token}/chats/{number}";
    const MSGS: &str = "/api/v1/applications/{token}/chats/{number}/messages";
    const MSG: &str = "/api/v1/applications/{token}/chats/{number}/messages/{message}";
    const SEARCH: &str = "/api/v1/applications/{token}/chats/{number}/messages/search";
    const STREAM: &str = "/api/v1/applications/{token}/chats/{number}/messages/stream";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_route_answers_every_documented_status_in_the_json_shape() {
        let server = Http::start().await;
        let mut r = Recorder::new(&server);
        use Method as M;

        // Applications.
        let app = r
            .expect(
                M::POST,
                APPS,
                APPS,
                Body::Json(json!({"name": "bare"})),
                201,
            )
            .await;
        let t = app["token"].as_str().unwrap().to_owned();
        assert_eq!(t.len(), 32);
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Json(json!({"application": {"name": "rails"}})),
            201,
        )
        .await;
        let v = r
            .expect(
                M::POST,
                APPS,
                "/api/v1/chat_applications",
                Body::Json(json!({"chat_application": {"name": "rails 2"}})),
                201,
            )
            .await;
        assert_eq!(v["name"], "rails 2");
        assert_eq!(
            r.expect(M::POST, APPS, APPS, Body::Json(json!({})), 422)
                .await["error"]["field"],
            "name"
        );
        r.expect(M::POST, APPS, APPS, Body::Json(json!({"name": ""})), 422)
            .await;
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Json(json!({"name": "n".repeat(256)})),
            422,
        )
        .await;
        r.expect(M::POST, APPS, APPS, Body::Json(json!({"name": 5})), 400)
            .await;
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Json(json!({"application": "x"})),
            400,
        )
        .await;
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Raw("application/json", "{\"name\": ".into()),
            400,
        )
        .await;
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Raw("application/json", "[1]".into()),
            400,
        )
        .await;
        r.expect(
            M::POST,
            APPS,
            APPS,
            Body::Raw("text/plain", "name=x".into()),
            415,
        )
        .await;
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
        r.expect(M::POST, APPS, APPS, Body::Raw("application/json", big), 413)
            .await;

        let (s, _, _) = r.send(M::GET, APPS, APPS, Body::None, None).await;
        assert_eq!(s, 401);
        let (s, _, _) = r.send(M::GET, APPS, APPS, Body::None, Some("wrong")).await;
        assert_eq!(s, 403);
        let (s, headers, list) = r
            .send(
                M::GET,
                APPS,
                &format!("{APPS}?limit=2"),
                Body::None,
                Some("test-admin-token"),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), 2);
        let link = headers.get(header::LINK).unwrap().to_str().unwrap();
        assert!(
            link.contains("rel=\"next\"") && link.contains("after="),
            "{link}"
        );
        for bad in ["limit=0", "limit=1001", "limit=x", "after=nothex"] {
            r.expect(M::GET, APPS, &format!("{APPS}?{bad}"), Body::None, 400)
                .await;
        }
        r.expect(
            M::GET,
            APPS,
            &format!("{APPS}?after={}", chat_core::Token::generate()),
            Body::None,
            404,
        )
        .await;

        r.expect(M::GET, APP, &format!("{APPS}/{t}"), Body::None, 200)
            .await;
        r.expect(
            M::GET,
            APP,
            &format!("/api/v1/chat_applications/{t}"),
            Body::None,
            200,
        )
        .await;
        r.expect(
            M::GET,
            APP,
            &format!("{APPS}/{}", t.to_uppercase()),
            Body::None,
            400,
        )
        .await;
        r.expect(
            M::GET,
            APP,
            &format!("{APPS}/{}", chat_core::Token::generate()),
            Body::None,
            404,
        )
        .await;
        let v = r
            .expect(
                M::PUT,
                APP,
                &format!("{APPS}/{t}"),
                Body::Json(json!({"name": "renamed"})),
                200,
            )
            .await;
        assert_eq!(v["name"], "renamed");
        let v = r
            .expect(
                M::PATCH,
                APP,
                &format!("{APPS}/{t}"),
                Body::Json(json!({"chat_application": {"name": "patched"}})),
                200,
            )
            .await;
        assert_eq!(v["name"], "patched");
        r.expect(
            M::PATCH,
            APP,
            &format!("{APPS}/{t}"),
            Body::Json(json!({"name": " "})),
            422,
        )
        .await;
        r.expect(
            M::PUT,
            APP,
            &format!("{APPS}/{}", chat_core::Token::generate()),
            Body::Json(json!({"name": "x"})),
            404,
        )
        .await;
        r.expect(
            M::PUT,
            APP,
            &format!("{APPS}/{t}"),
            Body::Raw("text/plain", "x".into()),
            415,
        )
        .await;

        // Chats.
        let c = r
            .expect(
                M::POST,
                CHATS,
                &format!("{APPS}/{t}/chats"),
                Body::None,
                201,
            )
            .await;
        assert_eq!(c["number"], 1);
        assert_eq!(c["messages_count"], 0);
        r.expect(
            M::POST,
            CHATS,
            &format!("{APPS}/{t}/chats"),
            Body::Json(json!({})),
            201,
        )
        .await;
        r.expect(
            M::POST,
            CHATS,
            &format!("{APPS}/{t}/chats"),
            Body::Raw("application/json", "{".into()),
            400,
        )
        .await;
        r.expect(
            M::POST,
            CHATS,
            &format!("{APPS}/{}/chats", chat_core::Token::generate()),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::POST,
            CHATS,
            &format!("{APPS}/xyz/chats"),
            Body::None,
            400,
        )
        .await;
        let (s, h, list) = r
            .send(
                M::GET,
                CHATS,
                &format!("{APPS}/{t}/chats?limit=1"),
                Body::None,
                None,
            )
            .await;
        assert_eq!((s.as_u16(), list.as_array().unwrap().len()), (200, 1));
        assert!(h
            .get(header::LINK)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("after=1"));
        let (_, h, list) = r
            .send(
                M::GET,
                CHATS,
                &format!("{APPS}/{t}/chats?limit=1&after=1"),
                Body::None,
                None,
            )
            .await;
        assert_eq!(list[0]["number"], 2);
        assert!(h.get(header::LINK).is_none());
        r.expect(
            M::GET,
            CHATS,
            &format!("{APPS}/{t}/chats?after=0"),
            Body::None,
            400,
        )
        .await;
        r.expect(
            M::GET,
            CHAT,
            &format!("{APPS}/{t}/chats/1"),
            Body::None,
            200,
        )
        .await;
        for bad in ["0", "-1", "abc", "1.5", "99999999999"] {
            r.expect(
                M::GET,
                CHAT,
                &format!("{APPS}/{t}/chats/{bad}"),
                Body::None,
                400,
            )
            .await;
        }
        let v = r
            .expect(
                M::GET,
                CHAT,
                &format!("{APPS}/{t}/chats/99"),
                Body::None,
                404,
            )
            .await;
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no chat number 99"),
            "{v}"
        );

        // Messages.
        let base = format!("{APPS}/{t}/chats/1/messages");
        let m = r
            .expect(
                M::POST,
                MSGS,
                &base,
                Body::Json(json!({"body": "What a wonderful day"})),
                201,
            )
            .await;
        assert_eq!(m["number"], 1);
        r.expect(
            M::POST,
            MSGS,
            &base,
            Body::Json(json!({"message": {"body": "wrapped"}})),
            201,
        )
        .await;
        let v = r
            .expect(M::POST, MSGS, &base, Body::Json(json!({"body": ""})), 422)
            .await;
        assert_eq!(v["error"]["field"], "body");
        r.expect(
            M::POST,
            MSGS,
            &base,
            Body::Json(json!({"body": "b".repeat(16 * 1024 + 1)})),
            422,
        )
        .await;
        r.expect(M::POST, MSGS, &base, Body::Json(json!({})), 422)
            .await;
        r.expect(
            M::POST,
            MSGS,
            &base,
            Body::Json(json!({"body": ["x"]})),
            400,
        )
        .await;
        r.expect(
            M::POST,
            MSGS,
            &base,
            Body::Raw("text/plain", "hello".into()),
            415,
        )
        .await;
        r.expect(
            M::POST,
            MSGS,
            &base,
            Body::Raw(
                "application/json",
                format!("{{\"body\": \"{}\"}}", "x".repeat(65 * 1024)),
            ),
            413,
        )
        .await;
        r.expect(
            M::POST,
            MSGS,
            &format!("{APPS}/{t}/chats/7/messages"),
            Body::Json(json!({"body": "x"})),
            404,
        )
        .await;
        r.expect(
            M::POST,
            MSGS,
            &format!("{APPS}/{t}/chats/0/messages"),
            Body::Json(json!({"body": "x"})),
            400,
        )
        .await;
        let (_, h, list) = r
            .send(M::GET, MSGS, &format!("{base}?limit=1"), Body::None, None)
            .await;
        assert_eq!(list[0]["body"], "What a wonderful day");
        assert!(h.get(header::LINK).is_some());
        r.expect(M::GET, MSGS, &format!("{base}?limit=-3"), Body::None, 400)
            .await;
        r.expect(
            M::GET,
            MSGS,
            &format!("{APPS}/{t}/chats/5/messages"),
            Body::None,
            404,
        )
        .await;
        r.expect(M::GET, MSG, &format!("{base}/2"), Body::None, 200)
            .await;
        r.expect(M::GET, MSG, &format!("{base}/3"), Body::None, 404)
            .await;
        r.expect(M::GET, MSG, &format!("{base}/x"), Body::None, 400)
            .await;
        r.expect(
            M::PUT,
            MSG,
            &format!("{base}/2"),
            Body::Json(json!({"body": "edited marvellous"})),
            200,
        )
        .await;
        r.expect(
            M::PATCH,
            MSG,
            &format!("{base}/2"),
            Body::Json(json!({"message": {"body": "edited marvellous!"}})),
            200,
        )
        .await;
        r.expect(
            M::PATCH,
            MSG,
            &format!("{base}/2"),
            Body::Json(json!({"body": ""})),
            422,
        )
        .await;
        r.expect(
            M::PATCH,
            MSG,
            &format!("{base}/9"),
            Body::Json(json!({"body": "x"})),
            404,
        )
        .await;
        r.expect(
            M::PUT,
            MSG,
            &format!("{base}/2"),
            Body::Raw("application/json", "nope".into()),
            400,
        )
        .await;
        r.expect(
            M::PUT,
            MSG,
            &format!("{base}/2"),
            Body::Raw("text/html", "<p>".into()),
            415,
        )
        .await;
        r.expect(
            M::PUT,
            MSG,
            &format!("{base}/2"),
            Body::Raw(
                "application/json",
                format!("{{\"body\": \"{}\"}}", "x".repeat(65 * 1024)),
            ),
            413,
        )
        .await;

        let hits = r
            .expect(
                M::GET,
                SEARCH,
                &format!("{base}/search?query=ONDERF"),
                Body::None,
                200,
            )
            .await;
        assert_eq!(hits[0]["number"], 1);
        let hits = r
            .expect(
                M::GET,
                SEARCH,
                &format!("{base}/search?q=marvel"),
                Body::None,
                200,
            )
            .await;
        assert_eq!(hits[0]["body"], "edited marvellous!");
        r.expect(
            M::GET,
            SEARCH,
            &format!("{base}/search?q=%20%20"),
            Body::None,
            422,
        )
        .await;
        r.expect(M::GET, SEARCH, &format!("{base}/search"), Body::None, 422)
            .await;

        // The live stream's refusals (its 200 is a stream that never ends: tests/tests/live.rs).
        r.expect(
            M::GET,
            STREAM,
            &format!("{base}/stream?after=x"),
            Body::None,
            400,
        )
        .await;
        r.expect(
            M::GET,
            STREAM,
            &format!("{APPS}/{t}/chats/999/messages/stream"),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::GET,
            SEARCH,
            &format!("{base}/search?q=x&limit=0"),
            Body::None,
            400,
        )
        .await;
        r.expect(
            M::GET,
            SEARCH,
            &format!("{APPS}/{t}/chats/9/messages/search?q=abc"),
            Body::None,
            404,
        )
        .await;

        // Admin jobs.
        for job in ["recount", "reindex"] {
            let path = format!("/api/v1/admin/{job}");
            let (s, _, _) = r.send(M::POST, &path, &path, Body::None, None).await;
            assert_eq!(s, 401);
            let (s, _, _) = r
                .send(M::POST, &path, &path, Body::None, Some("nope"))
                .await;
            assert_eq!(s, 403);
            let v = r.expect(M::POST, &path, &path, Body::None, 200).await;
            assert!(v["duration_ms"].is_u64(), "{v}");
            r.expect(
                M::POST,
                &path,
                &path,
                Body::Json(json!({"application": t})),
                200,
            )
            .await;
            r.expect(
                M::POST,
                &path,
                &path,
                Body::Json(json!({"application": chat_core::Token::generate()})),
                404,
            )
            .await;
            r.expect(
                M::POST,
                &path,
                &path,
                Body::Json(json!({"application": "bad"})),
                400,
            )
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
        let doc = r
            .expect(M::GET, "/openapi.json", "/openapi.json", Body::None, 200)
            .await;
        let (s, _, _) = r
            .send(M::GET, "", "/api/v2/nothing", Body::None, None)
            .await;
        assert_eq!(s, 404);
        let (s, _, _) = r
            .send(M::DELETE, "", &format!("{APPS}/{t}"), Body::None, None)
            .await;
        assert_eq!(s, 405);

        // Every observed response is documented and fits its schema.
        let check = OpenApiCheck::new(doc);
        // The checker can fail: undocumented statuses and wrong shapes are caught.
        assert!(check.check("GET", APP, 418, &json!({})).is_err());
        assert!(check.check("GET", APP, 200, &json!({"token": 5})).is_err());
        assert!(check
            .check("GET", MSGS, 200, &json!([{"number": "one"}]))
            .is_err());
        let mut problems = Vec::new();
        for (method, template, status, body) in &r.seen {
            if template.is_empty() || template == "/metrics" {
                continue;
            }
            if let Err(p) = check.check(method, template, *status, body) {
                problems.push(p);
            }
        }
        assert!(
            problems.is_empty(),
            "responses that break the OpenAPI document:\n{}",
            problems.join("\n")
        );
        // And every documented operation was exercised.
        for (method, path) in check.operations() {
            assert!(
                r.seen.iter().any(|(m, t, _, _)| *m == method && *t == path),
                "{method} {path} is documented but untested"
            );
        }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_application_over_its_rate_gets_429_with_retry_after() {
        let server = Http::start_with(|s| {
            s.rate_limiter = Some(Arc::new(chat_server::limits::RateLimiter::new(5)))
        })
        .await;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_concurrent_creates_are_gapless_and_readable_at_once() {
        let server = Http::start().await;
        let client = server.client();
        let app = client.create_application("load").await.unwrap();
        for _ in 0..10 {
            client.create_chat(&app.token).await.unwrap();
        }
        let http = reqwest::Client::new();
        let url = server.url.clone();
        let token = app.token.to_string();
        let results = futures::future::join_all((0..1000).map(|i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let chat = i % 10 + 1;
                let resp = http
                    .post(format!(
                        "{url}/api/v1/applications/{token}/chats/{chat}/messages"
                    ))
                    .json(&json!({"body": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                let m: Value = resp.json().await.unwrap();
                let n = m["number"].as_u64().unwrap();
                let got = http
                    .get(format!(
                        "{url}/api/v1/applications/{token}/chats/{chat}/messages/{n}"
                    ))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(got.status(), 200, "no read-your-writes for {chat}/{n}");
                let got: Value = got.json().await.unwrap();
                assert_eq!(got["body"], format!("m{i}"));
                (chat, n)
            }
        }))
        .await;
        for chat in 1..=10u64 {
            let mut numbers: Vec<u64> = results
                .iter()
                .filter(|(c, _)| *c == chat)
                .map(|(_, n)| *n)
                .collect();
            numbers.sort_unstable();
            assert_eq!(numbers, (1..=100).collect::<Vec<_>>(), "chat {chat}");
        }
        server.stop().await;
    }
}

mod process {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};

    use chat_core::{ChatApi, ChatNumber, ChatService, Config, HttpClient, MessageNumber};
    use chat_tests::Embedded;

    fn start(dir: &std::path::Path) -> (Child, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server-process"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &Embedded::url(dir),
                "--log",
                "warn",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        (child, url)
    }

    /// Creates messages from 32 tasks until the server stops answering; returns every ack.
    async fn load_until_stopped(url: &str, signal: &str, pid: u32) -> Vec<(u32, u32, String)> {
        let client = HttpClient::new(url).unwrap();
        let app = client.create_application("signals").await.unwrap();
        for _ in 0..4 {
            client.create_chat(&app.token).await.unwrap();
        }
        let acks = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..32u32)
            .map(|w| {
                let (client, token, acks) = (client.clone(), app.token.clone(), Arc::clone(&acks));
                tokio::spawn(async move {
                    for i in 0..100_000u32 {
                        let chat = ChatNumber::new(w % 4 + 1).unwrap();
                        let body = format!("w{w}-{i}");
                        match client.create_message(&token, chat, &body).await {
                            Ok(m) => acks
                                .lock()
                                .unwrap()
                                .push((chat.get(), m.number.get(), body)),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        while acks.lock().unwrap().len() < 1500 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let acks = acks.lock().unwrap().clone();
        acks
    }

    async fn verify(dir: &std::path::Path, acks: &[(u32, u32, String)]) {
        let service = ChatService::open(&Config::with_database_url(Embedded::url(dir)))
            .await
            .unwrap();
        let apps = service.list_applications(Default::default()).await.unwrap();
        let token = &apps.items[0].token;
        for (chat, number, body) in acks {
            let m = service
                .get_message(
                    token,
                    ChatNumber::new(*chat).unwrap(),
                    MessageNumber::new(*number).unwrap(),
                )
                .await
                .unwrap_or_else(|e| panic!("acknowledged message {chat}/{number} lost: {e}"));
            assert_eq!(&m.body, body);
        }
        service.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigterm_under_load_finishes_cleanly_and_loses_no_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, url) = start(dir.path());
        let acks = load_until_stopped(&url, "-TERM", child.id()).await;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "chat-server exited with {status}");
        assert!(acks.len() >= 1500);
        verify(dir.path(), &acks).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkill_under_load_loses_no_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, url) = start(dir.path());
        let acks = load_until_stopped(&url, "-KILL", child.id()).await;
        let _ = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap();
        assert!(acks.len() >= 1500);
        verify(dir.path(), &acks).await;
    }
}
