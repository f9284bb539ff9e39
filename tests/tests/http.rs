//! chat-server over real HTTP: the conformance suite through `HttpClient`, every route and
//! status of the API contract, concurrency with read-your-writes, and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Http;

chat_tests::conformance_suite!(Http);

mod api {

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
            let value: Value = if path == "/metrics"
                || (path.starts_with("/api/v1/admin/export") && status == StatusCode::OK)
            {
                Value::String(text)
            } else if status == StatusCode::NO_CONTENT {
                assert!(
                    text.is_empty(),
                    "{method} {path} → 204 with a body: {text:?}"
                );
                Value::Null
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

    impl Recorder {
        /// Every recorded response is documented and fits its schema, and each of
        /// `operations` (method, route template) was exercised.
        async fn check_against_openapi(&self, operations: &[(&str, &str)]) {
            let check = OpenApiCheck::new(openapi(&self.base).await);
            let mut problems = Vec::new();
            for (method, template, status, body) in &self.seen {
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
            for (method, path) in operations {
                assert!(
                    self.seen
                        .iter()
                        .any(|(m, t, _, _)| m == method && t == path),
                    "{method} {path} is not exercised"
                );
            }
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

    /// An application (its token) with `chats` chats, the first holding `messages`, made
    /// through the API but not recorded: the state a resource's test starts from.
    async fn world(server: &Http, chats: u32, messages: &[&str]) -> String {
        let api = server.client();
        let app = api.create_application("bare").await.unwrap();
        for _ in 0..chats {
            api.create_chat(&app.token).await.unwrap();
        }
        for body in messages {
            let first = chat_core::ChatNumber::new(1).unwrap();
            api.create_message(&app.token, first, body).await.unwrap();
        }
        app.token.to_string()
    }

    /// The server's OpenAPI document.
    async fn openapi(base: &str) -> Value {
        reqwest::get(format!("{base}/openapi.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Create, read, rename and (admin) list applications: every documented status.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn applications_answer_every_documented_status() {
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
            404,
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

        // Delete (admin): 401 without the admin token, 403 with a wrong one, 404 for an unknown
        // or malformed token (the admin check comes first), 204 once, then 404; the alias too.
        let victim = format!("{APPS}/{t}");
        let admin = r.admin.clone();
        for (auth, status) in [(None, 401), (Some("wrong"), 403)] {
            let (s, _, v) = r.send(M::DELETE, APP, &victim, Body::None, auth).await;
            assert_eq!(s.as_u16(), status, "{v}");
        }
        for (auth, status) in [(None, 401), (Some("wrong"), 403)] {
            let (s, _, _) = r
                .send(M::DELETE, APP, &format!("{APPS}/xyz"), Body::None, auth)
                .await;
            assert_eq!(s.as_u16(), status);
        }
        // Nothing was deleted by the refused requests.
        r.expect(M::GET, APP, &victim, Body::None, 200).await;
        for path in [
            format!("{APPS}/{}", chat_core::Token::generate()),
            format!("{APPS}/xyz"),
        ] {
            let (s, _, v) = r
                .send(M::DELETE, APP, &path, Body::None, Some(&admin))
                .await;
            assert_eq!(s.as_u16(), 404, "{v}");
            assert_eq!(v["error"]["code"], "not_found");
        }
        let (s, _, _) = r
            .send(M::DELETE, APP, &victim, Body::None, Some(&admin))
            .await;
        assert_eq!(s.as_u16(), 204);
        r.expect(M::GET, APP, &victim, Body::None, 404).await;
        let (s, _, _) = r
            .send(M::DELETE, APP, &victim, Body::None, Some(&admin))
            .await;
        assert_eq!(s.as_u16(), 404);
        let other = r
            .expect(
                M::POST,
                APPS,
                APPS,
                Body::Json(json!({"name": "alias"})),
                201,
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let alias = format!("/api/v1/chat_applications/{other}");
        let (s, _, _) = r
            .send(M::DELETE, APP, &alias, Body::None, Some(&admin))
            .await;
        assert_eq!(s.as_u16(), 204);
        r.expect(M::GET, APP, &format!("{APPS}/{other}"), Body::None, 404)
            .await;

        r.check_against_openapi(APPLICATION_OPERATIONS).await;
        server.stop().await;
    }

    /// Create, read and list chats: every documented status.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chats_answer_every_documented_status() {
        let server = Http::start().await;
        let t = world(&server, 0, &[]).await;
        let mut r = Recorder::new(&server);
        use Method as M;

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
            404,
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

        // Delete: 204 once (the count drops), then 404; bad numbers 400; unknown 404.
        r.expect(
            M::DELETE,
            CHAT,
            &format!("{APPS}/{t}/chats/1"),
            Body::None,
            204,
        )
        .await;
        let v = r
            .expect(
                M::DELETE,
                CHAT,
                &format!("{APPS}/{t}/chats/1"),
                Body::None,
                404,
            )
            .await;
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no chat number 1"),
            "{v}"
        );
        r.expect(
            M::GET,
            CHAT,
            &format!("{APPS}/{t}/chats/1"),
            Body::None,
            404,
        )
        .await;
        let app = r
            .expect(M::GET, APP, &format!("{APPS}/{t}"), Body::None, 200)
            .await;
        assert_eq!(app["chats_count"], 1);
        for bad in ["0", "-1", "abc", "99999999999"] {
            let v = r
                .expect(
                    M::DELETE,
                    CHAT,
                    &format!("{APPS}/{t}/chats/{bad}"),
                    Body::None,
                    400,
                )
                .await;
            assert!(v["error"]["message"].as_str().unwrap().contains(bad), "{v}");
        }
        r.expect(
            M::DELETE,
            CHAT,
            &format!("{APPS}/{t}/chats/99"),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::DELETE,
            CHAT,
            &format!("{APPS}/{}/chats/2", chat_core::Token::generate()),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::DELETE,
            CHAT,
            &format!("/api/v1/chat_applications/{t}/chats/2"),
            Body::None,
            204,
        )
        .await;
        let c = r
            .expect(
                M::POST,
                CHATS,
                &format!("{APPS}/{t}/chats"),
                Body::None,
                201,
            )
            .await;
        assert_eq!(c["number"], 3, "numbers are never reused");

        r.check_against_openapi(CHAT_OPERATIONS).await;
        server.stop().await;
    }

    /// Create, read, edit, list and search messages: every documented status.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_and_search_answer_every_documented_status() {
        let server = Http::start().await;
        let t = world(&server, 2, &[]).await;
        let mut r = Recorder::new(&server);
        use Method as M;

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

        // Batches: numbered in their order, JSON only, every refusal in the API's shape and
        // nothing created by one.
        let batch = format!("{APPS}/{t}/chats/2/messages/batch");
        let created = r
            .expect(
                M::POST,
                BATCH,
                &batch,
                Body::Json(json!({"messages": [{"body": "third"}, {"body": "fourth"}]})),
                201,
            )
            .await;
        assert_eq!(
            (&created[0]["number"], &created[0]["body"]),
            (&json!(1), &json!("third"))
        );
        assert_eq!(created[1]["number"], 2);
        for (body, status) in [
            (json!({"messages": []}), 422),
            (json!({"messages": [{"body": "ok"}, {"body": " "}]}), 422),
            (json!({"messages": vec![json!({"body": "x"}); 1001]}), 422),
            (json!({"messages": "x"}), 400),
            (json!({"messages": ["x"]}), 400),
            (json!({"messages": [{"body": 5}]}), 400),
            (json!([{"body": "x"}]), 400),
        ] {
            r.expect(M::POST, BATCH, &batch, Body::Json(body), status)
                .await;
        }
        r.expect(
            M::POST,
            BATCH,
            &batch,
            Body::Raw("application/x-www-form-urlencoded", "body=x".into()),
            415,
        )
        .await;
        r.expect(
            M::POST,
            BATCH,
            &batch,
            Body::Raw(
                "application/json",
                format!(
                    "{{\"messages\": [{}]}}",
                    vec![format!("{{\"body\": \"{}\"}}", "x".repeat(16 * 1024)); 300].join(",")
                ),
            ),
            413,
        )
        .await;
        r.expect(
            M::POST,
            BATCH,
            &format!("{APPS}/{t}/chats/7/messages/batch"),
            Body::Json(json!({"messages": [{"body": "x"}]})),
            404,
        )
        .await;
        r.expect(
            M::POST,
            BATCH,
            &format!("{APPS}/{t}/chats/x/messages/batch"),
            Body::Json(json!({"messages": [{"body": "x"}]})),
            400,
        )
        .await;
        let (_, _, fourth) = r
            .send(
                M::GET,
                MSG,
                &format!("{APPS}/{t}/chats/2/messages/2"),
                Body::None,
                None,
            )
            .await;
        assert_eq!(fourth["body"], "fourth");
        let (_, _, chat) = r
            .send(
                M::GET,
                CHAT,
                &format!("{APPS}/{t}/chats/1"),
                Body::None,
                None,
            )
            .await;
        assert_eq!(chat["messages_count"], 2, "a refused batch created nothing");

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
        // `offset` is taken in every order.
        for good in ["q=abc&offset=1", "q=abc&sort=oldest&offset=2"] {
            r.expect(
                M::GET,
                SEARCH,
                &format!("{base}/search?{good}"),
                Body::None,
                200,
            )
            .await;
        }
        // Orders and their paging: a bad order, an offset past the window, a bad number.
        for bad in [
            "q=abc&sort=best",
            "q=abc&sort=",
            "q=abc&sort=relevance&offset=10000",
            "q=abc&offset=10000",
            "q=abc&after=0",
            "q=abc&after=x",
        ] {
            let v = r
                .expect(
                    M::GET,
                    SEARCH,
                    &format!("{base}/search?{bad}"),
                    Body::None,
                    400,
                )
                .await;
            assert_eq!(v["error"]["code"], "bad_request", "{bad}: {v}");
        }

        // Delete: 204 once, then 404 for it (read, edit, delete) and gone from search and the
        // list; bad numbers 400; unknown chat or message 404.
        r.expect(M::DELETE, MSG, &format!("{base}/2"), Body::None, 204)
            .await;
        for (method, body) in [
            (M::GET, Body::None),
            (M::DELETE, Body::None),
            (M::PATCH, Body::Json(json!({"body": "back"}))),
        ] {
            let v = r.expect(method, MSG, &format!("{base}/2"), body, 404).await;
            assert_eq!(v["error"]["code"], "not_found");
        }
        let hits = r
            .expect(
                M::GET,
                SEARCH,
                &format!("{base}/search?q=marvel"),
                Body::None,
                200,
            )
            .await;
        assert_eq!(hits, json!([]));
        let list = r.expect(M::GET, MSGS, &base, Body::None, 200).await;
        assert!(
            list.as_array().unwrap().iter().all(|m| m["number"] != 2),
            "{list}"
        );
        for bad in ["0", "-1", "abc", "1.5", "99999999999"] {
            let v = r
                .expect(M::DELETE, MSG, &format!("{base}/{bad}"), Body::None, 400)
                .await;
            assert!(v["error"]["message"].as_str().unwrap().contains(bad), "{v}");
        }
        r.expect(M::DELETE, MSG, &format!("{base}/99"), Body::None, 404)
            .await;
        r.expect(
            M::DELETE,
            MSG,
            &format!("{APPS}/{t}/chats/9/messages/2"),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::DELETE,
            MSG,
            &format!("/api/v1/chat_applications/{t}/chats/1/messages/1"),
            Body::None,
            204,
        )
        .await;

        r.check_against_openapi(MESSAGE_OPERATIONS).await;
        server.stop().await;
    }

    /// The live stream's and search's refusals (the stream's 200 never ends: tests/tests/live.rs),
    /// and the stats stream's answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stream_and_search_refuse_bad_requests_in_the_json_shape() {
        let server = Http::start().await;
        let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
        let base = format!("{APPS}/{t}/chats/1/messages");
        let mut r = Recorder::new(&server);
        use Method as M;

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

        r.check_against_openapi(STREAM_OPERATIONS).await;
        server.stop().await;
    }

    /// Recount, reindex and the queue routes, behind the admin token.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admin_jobs_answer_every_documented_status() {
        let server = Http::start().await;
        let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
        let mut r = Recorder::new(&server);
        use Method as M;

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
                404,
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
        let unknown = chat_core::Token::generate();
        r.expect(
            M::GET,
            EXPORT,
            &format!("{EXPORT}?application={unknown}"),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::GET,
            EXPORT,
            &format!("{EXPORT}?application=bad"),
            Body::None,
            404,
        )
        .await;
        r.expect(
            M::GET,
            EXPORT,
            &format!("{EXPORT}?app={t}"),
            Body::None,
            400,
        )
        .await;

        r.check_against_openapi(ADMIN_OPERATIONS).await;
        server.stop().await;
    }

    /// Health, readiness, metrics, the OpenAPI document, unknown routes and methods.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn operations_routes_and_unknown_routes_answer_in_the_json_shape() {
        let server = Http::start().await;
        let t = world(&server, 2, &["What a wonderful day", "wrapped"]).await;
        let mut r = Recorder::new(&server);
        use Method as M;

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

    /// The per-resource tests above together exercise every documented operation, and the
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

/// What outside testers found: malformed tokens, plain-text rejections, numbers out of range,
/// form bodies.
mod hardening {
    use chat_tests::{Harness, Http};
    use reqwest::{header, Method, StatusCode};
    use serde_json::{json, Value};

    /// Sends one request and checks that an error answer is JSON in the API's shape.
    async fn send(
        http: &reqwest::Client,
        method: Method,
        url: &str,
        body: Option<(&str, String)>,
    ) -> (StatusCode, Value) {
        let mut r = http.request(method.clone(), url);
        if let Some((ct, text)) = body {
            r = r.header(header::CONTENT_TYPE, ct).body(text);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        if status.is_client_error() || status.is_server_error() {
            assert!(
                ct.starts_with("application/json"),
                "{method} {url} → {status} with Content-Type {ct:?}: {text:?}"
            );
        }
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {url} → {status}: not JSON ({e}): {text:?}"))
        };
        if status.is_client_error() || status.is_server_error() {
            for part in ["code", "message"] {
                assert!(
                    value["error"][part].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {url} → {status} without error.{part}: {value}"
                );
            }
        }
        (status, value)
    }

    async fn app_with_chat(server: &Http, http: &reqwest::Client) -> String {
        let (s, app) = send(
            http,
            Method::POST,
            &format!("{}/api/v1/applications", server.url),
            Some(("application/json", json!({"name": "hardening"}).to_string())),
        )
        .await;
        assert_eq!(s, 201);
        let t = app["token"].as_str().unwrap().to_owned();
        let base = format!("{}/api/v1/applications/{t}", server.url);
        let (s, _) = send(http, Method::POST, &format!("{base}/chats"), None).await;
        assert_eq!(s, 201);
        let (s, _) = send(
            http,
            Method::POST,
            &format!("{base}/chats/1/messages"),
            Some(("application/json", json!({"body": "first"}).to_string())),
        )
        .await;
        assert_eq!(s, 201);
        t
    }

    /// `{"application": null}` is not "every application": only an absent field is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admin_job_with_a_null_application_is_a_400() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        for job in ["recount", "reindex"] {
            let url = format!("{}/api/v1/admin/{job}", server.url);
            let resp = http
                .post(&url)
                .bearer_auth(&server.admin_token)
                .json(&json!({"application": null}))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let v: Value = resp.json().await.unwrap();
            assert_eq!(status, 400, "{job}: {v}");
            assert_eq!(v["error"]["code"], "bad_request", "{v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("application") && message.contains("null"),
                "{job}: {message}"
            );
            // Absent is every application; an empty body too.
            for body in [json!({}), Value::Null] {
                let mut r = http.post(&url).bearer_auth(&server.admin_token);
                if !body.is_null() {
                    r = r.json(&body);
                }
                let resp = r.send().await.unwrap();
                assert_eq!(resp.status(), 200, "{job} {body}");
            }
        }
        server.stop().await;
    }

    /// `curl -d '{"name":"x"}'` sends JSON as a form: a 415 that says which header to send,
    /// and nothing is created.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_sent_as_a_form_is_a_415_that_names_the_json_content_type() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let t = app_with_chat(&server, &http).await;
        let apps = format!("{}/api/v1/applications", server.url);
        let msgs = format!("{apps}/{t}/chats/1/messages");
        for (url, body) in [
            (apps.clone(), r#"{"name":"x"}"#),
            (apps.clone(), " {\"application\": {\"name\": \"x\"}}\n"),
            (msgs.clone(), r#"{"body":"hello"}"#),
            (format!("{msgs}/1"), r#"{"body":"edited"}"#),
            (msgs.clone(), "[1, 2]"),
        ] {
            let method = if url.ends_with("/1") {
                Method::PUT
            } else {
                Method::POST
            };
            let (s, v) = send(
                &http,
                method,
                &url,
                Some(("application/x-www-form-urlencoded", body.to_owned())),
            )
            .await;
            assert_eq!(s, 415, "{url} {body}: {v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("Content-Type: application/json"),
                "{url}: {message}"
            );
        }
        // Real forms still work, even ones whose value looks like JSON.
        let (s, v) = send(
            &http,
            Method::POST,
            &msgs,
            Some((
                "application/x-www-form-urlencoded",
                "body=%7B%22a%22%3A1%7D".to_owned(),
            )),
        )
        .await;
        assert_eq!(
            (s.as_u16(), v["body"].as_str()),
            (201, Some("{\"a\":1}")),
            "{v}"
        );
        // Nothing else was stored.
        let (_, v) = send(&http, Method::GET, &format!("{apps}/{t}/chats/1"), None).await;
        assert_eq!(v["messages_count"], 2, "{v}");
        let (_, v) = send(&http, Method::GET, &format!("{msgs}/1"), None).await;
        assert_eq!(v["body"], "first", "{v}");
        use chat_core::ChatApi as _;
        let listed = server
            .client()
            .list_applications(Default::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        server.stop().await;
    }

    /// Refusals state the bounds the server really applies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_state_the_real_bounds_of_offset_and_a_streams_after() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let t = app_with_chat(&server, &http).await;
        let chat = format!("{}/api/v1/applications/{t}/chats/1/messages", server.url);
        for offset in ["x", "-1", "4294967296", "10000"] {
            let url = format!("{chat}/search?q=a&sort=relevance&offset={offset}");
            let (s, v) = send(&http, Method::GET, &url, None).await;
            assert_eq!(s, 400, "{url}: {v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("9999") && !message.contains("4294967295"),
                "offset={offset}: {message}"
            );
        }
        for after in ["x", "-1", "1.5"] {
            let url = format!("{chat}/stream?after={after}");
            let (s, v) = send(&http, Method::GET, &url, None).await;
            assert_eq!(s, 400, "{url}: {v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("non-negative integer") && !message.contains("positive integer,"),
                "after={after}: {message}"
            );
        }
        let resp = http
            .get(format!("{chat}/stream"))
            .header("Last-Event-ID", "x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("non-negative integer"),
            "{v}"
        );
        server.stop().await;
    }

    /// The next page's path from a `Link: <…>; rel="next"` header, if any.
    fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
        let link = headers.get(header::LINK)?.to_str().unwrap();
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        Some(link[1..link.find('>').unwrap()].to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_pages_follow_their_link_headers_to_the_last_page_in_every_order() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let t = app_with_chat(&server, &http).await;
        let base = format!("{}/api/v1/applications/{t}/chats/1/messages", server.url);
        // A query that needs encoding in the link: spaces, `&`, `%`, `+`, `#`, non-ASCII.
        let needle = "a&b %+# é";
        let mut matching = Vec::new();
        for i in 0..23u32 {
            let body = if i % 3 == 0 {
                format!("nothing {i}")
            } else {
                format!("{i}: {needle}!")
            };
            let (s, m) = send(
                &http,
                Method::POST,
                &base,
                Some(("application/json", json!({ "body": body }).to_string())),
            )
            .await;
            assert_eq!(s, 201);
            if i % 3 != 0 {
                matching.push(m["number"].as_u64().unwrap());
            }
        }
        for sort in ["newest", "oldest", "relevance"] {
            let encoded = chat_core::wire::query_string(&[("q", needle), ("sort", sort)]);
            let mut url = format!("{base}/search?{encoded}&limit=4");
            let mut seen = Vec::new();
            let mut pages = 0;
            loop {
                let resp = http.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200, "{url}");
                let next = next_link(resp.headers());
                let page: Vec<Value> = resp.json().await.unwrap();
                assert!(page.len() <= 4);
                seen.extend(page.iter().map(|m| m["number"].as_u64().unwrap()));
                pages += 1;
                match next {
                    Some(path) => {
                        assert!(
                            path.starts_with("/api/v1/") && path.contains(&format!("sort={sort}")),
                            "{path}"
                        );
                        url = format!("{}{path}", server.url);
                    }
                    None => break,
                }
            }
            let mut want = matching.clone();
            if sort != "oldest" {
                want.reverse();
            }
            if sort == "relevance" {
                seen.sort_unstable_by(|a, b| b.cmp(a));
            }
            assert_eq!(seen, want, "{sort}");
            assert!(pages >= 4, "{sort}: {pages} pages");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_tokens_are_404_saying_what_a_token_looks_like() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let good = app_with_chat(&server, &http).await;
        let json_name = Some(("application/json", json!({"name": "x"}).to_string()));
        let json_body = Some(("application/json", json!({"body": "x"}).to_string()));
        for bad in [
            "xyz".to_owned(),
            good.to_uppercase(),
            format!("{good}0"),
            good[..31].to_owned(),
            "%27%20OR%201%3D1%20--".to_owned(),
            "%C3%A9".repeat(16),
        ] {
            for prefix in ["applications", "chat_applications"] {
                let base = format!("{}/api/v1/{prefix}/{bad}", server.url);
                for (method, url, body) in [
                    (Method::GET, base.clone(), None),
                    (Method::PUT, base.clone(), json_name.clone()),
                    (Method::PATCH, base.clone(), json_name.clone()),
                    (Method::POST, format!("{base}/chats"), None),
                    (Method::GET, format!("{base}/chats"), None),
                    (Method::GET, format!("{base}/chats/1"), None),
                    (
                        Method::POST,
                        format!("{base}/chats/1/messages"),
                        json_body.clone(),
                    ),
                    (Method::GET, format!("{base}/chats/1/messages"), None),
                    (Method::GET, format!("{base}/chats/1/messages/1"), None),
                    (
                        Method::PUT,
                        format!("{base}/chats/1/messages/1"),
                        json_body.clone(),
                    ),
                    (
                        Method::GET,
                        format!("{base}/chats/1/messages/search?q=first"),
                        None,
                    ),
                ] {
                    let (s, v) = send(&http, method.clone(), &url, body).await;
                    assert_eq!(s, 404, "{method} {url}: {v}");
                    assert_eq!(v["error"]["code"], "not_found", "{v}");
                    let message = v["error"]["message"].as_str().unwrap();
                    assert!(
                        message.contains("32 lowercase hex characters"),
                        "{method} {url}: {message}"
                    );
                }
            }
        }
        // A malformed token in an admin job's body names no application either.
        let resp = http
            .post(format!("{}/api/v1/admin/recount", server.url))
            .bearer_auth(&server.admin_token)
            .json(&json!({"application": "bad"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        // Through HttpClient too: the typed error survives the trip.
        let err = chat_core::Error::from_body(
            404,
            serde_json::from_value(
                send(
                    &http,
                    Method::GET,
                    &format!("{}/api/v1/applications/xyz", server.url),
                    None,
                )
                .await
                .1,
            )
            .unwrap(),
        );
        assert!(
            matches!(
                err,
                chat_core::Error::NotFound(chat_core::Missing::MalformedToken { ref token })
                    if token == "xyz"
            ),
            "{err:?}"
        );
        // The cursor of the application list stays a 400: it is a parameter, not a lookup.
        let resp = http
            .get(format!("{}/api/v1/applications?after=xyz", server.url))
            .bearer_auth(&server.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_rejection_of_routing_and_extraction_is_json() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let t = app_with_chat(&server, &http).await;
        let u = &server.url;
        let apps = format!("{u}/api/v1/applications");
        let chat = format!("{apps}/{t}/chats/1");
        let form = |s: &str| Some(("application/x-www-form-urlencoded", s.to_owned()));
        type Case<'a> = (Method, String, Option<(&'a str, String)>, u16);
        let cases: Vec<Case> = vec![
            (Method::GET, format!("{apps}/%FF"), None, 400),
            (Method::GET, format!("{apps}/%C3%28/chats"), None, 400),
            (Method::PUT, format!("{apps}/%FF"), form("name=x"), 400),
            (Method::GET, format!("{apps}/{t}/chats/%FF"), None, 400),
            (
                Method::POST,
                format!("{apps}/{t}/chats/%FF/messages"),
                None,
                400,
            ),
            (Method::GET, format!("{chat}/messages/%E2%82"), None, 400),
            (
                Method::GET,
                format!("{chat}/messages/search?q=%FF"),
                None,
                400,
            ),
            (
                Method::GET,
                format!("{apps}/{t}/chats?limit=%FF"),
                None,
                400,
            ),
            (
                Method::GET,
                format!("{apps}/{t}/chats?limit=1&limit"),
                None,
                400,
            ),
            (
                Method::POST,
                format!("{chat}/messages"),
                form("body=%FF"),
                400,
            ),
            (
                Method::POST,
                format!("{chat}/messages"),
                form("body=x&body[y]=z"),
                400,
            ),
            (
                Method::POST,
                format!("{chat}/messages"),
                Some(("application/json", "{\"body\": \"\\ud800\"}".into())),
                400,
            ),
            (
                Method::POST,
                format!("{chat}/messages"),
                Some(("multipart/form-data; boundary=x", "--x--".into())),
                415,
            ),
            (
                Method::POST,
                format!("{chat}/messages"),
                form(&format!("body={}", "x".repeat(65 * 1024))),
                413,
            ),
            (Method::GET, format!("{chat}/messages/1/extra"), None, 404),
            (Method::GET, format!("{u}/api/v1"), None, 404),
            (
                Method::GET,
                format!("{u}/api/v1/applications//chats"),
                None,
                404,
            ),
            (Method::OPTIONS, format!("{apps}/{t}"), None, 405),
            (Method::POST, format!("{u}/health"), None, 405),
        ];
        for (method, url, body, want) in cases {
            let (s, v) = send(&http, method.clone(), &url, body).await;
            assert_eq!(s.as_u16(), want, "{method} {url}: {v}");
        }
        // What a path that is not UTF-8 says.
        let (_, v) = send(&http, Method::GET, &format!("{apps}/%FF"), None).await;
        assert_eq!(v["error"]["code"], "bad_request");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{v}"
        );
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn out_of_range_numbers_are_quoted_as_sent() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let t = app_with_chat(&server, &http).await;
        let apps = format!("{}/api/v1/applications/{t}", server.url);
        for (url, sent) in [
            (
                format!("{apps}/chats/9223372036854775807"),
                "9223372036854775807",
            ),
            (format!("{apps}/chats/4294967296"), "4294967296"),
            (format!("{apps}/chats/2147483648"), "2147483648"),
            (
                format!("{apps}/chats/1/messages/99999999999999999999999"),
                "99999999999999999999999",
            ),
            (format!("{apps}/chats?after=4294967295"), "4294967295"),
            (
                format!("{apps}/chats?limit=18446744073709551616"),
                "18446744073709551616",
            ),
            (format!("{apps}/chats?limit=1001"), "1001"),
            (
                format!("{apps}/chats/1/messages/search?q=x&offset=4294967296"),
                "4294967296",
            ),
            (format!("{apps}/chats/+1"), "+1"),
        ] {
            let (s, v) = send(&http, Method::GET, &url, None).await;
            assert_eq!(s, 400, "{url}: {v}");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("\"{sent}\"")), "{url}: {message}");
        }
        // The edge itself is a number like any other.
        let (s, v) = send(
            &http,
            Method::GET,
            &format!("{apps}/chats/2147483647"),
            None,
        )
        .await;
        assert_eq!(s, 404, "{v}");
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn form_bodies_work_on_every_write_route_with_the_same_errors_as_json() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let u = &server.url;
        let form = |s: &str| Some(("application/x-www-form-urlencoded", s.to_owned()));
        let form_utf8 = |s: &str| {
            Some((
                "application/x-www-form-urlencoded; charset=UTF-8",
                s.to_owned(),
            ))
        };

        // Every accepted shape, on every write route.
        let mut tokens = Vec::new();
        for (path, body, name) in [
            (
                "applications",
                "application%5Bname%5D=Rails+app",
                "Rails app",
            ),
            (
                "applications",
                "application[name]=caf%C3%A9&commit=Save",
                "café",
            ),
            (
                "chat_applications",
                "chat_application[name]=go%20client",
                "go client",
            ),
            ("applications", "name=bare&utf8=%E2%9C%93", "bare"),
        ] {
            let (s, v) = send(
                &http,
                Method::POST,
                &format!("{u}/api/v1/{path}"),
                form(body),
            )
            .await;
            assert_eq!(
                (s.as_u16(), v["name"].as_str()),
                (201, Some(name)),
                "{body}: {v}"
            );
            tokens.push(v["token"].as_str().unwrap().to_owned());
        }
        let t = &tokens[0];
        let app = format!("{u}/api/v1/applications/{t}");
        for (method, body, name) in [
            (Method::PUT, "application[name]=renamed", "renamed"),
            (Method::PATCH, "chat_application[name]=patched", "patched"),
            (Method::PUT, "name=plain", "plain"),
        ] {
            let (s, v) = send(&http, method, &app, form_utf8(body)).await;
            assert_eq!(
                (s.as_u16(), v["name"].as_str()),
                (200, Some(name)),
                "{body}: {v}"
            );
        }
        let (s, v) = send(&http, Method::POST, &format!("{app}/chats"), form("")).await;
        assert_eq!((s.as_u16(), &v["number"]), (201, &json!(1)), "{v}");
        let (s, _) = send(
            &http,
            Method::POST,
            &format!("{app}/chats"),
            form("chat[x]=1"),
        )
        .await;
        assert_eq!(s, 201);
        let msgs = format!("{app}/chats/1/messages");
        for (body, text) in [
            ("message[body]=hello+world", "hello world"),
            ("body=a%26b%3Dc+%2B+d", "a&b=c + d"),
            ("message%5Bbody%5D=100%25+sure", "100% sure"),
            ("body=50%+off", "50% off"),
        ] {
            let (s, v) = send(&http, Method::POST, &msgs, form(body)).await;
            assert_eq!(
                (s.as_u16(), v["body"].as_str()),
                (201, Some(text)),
                "{body}: {v}"
            );
        }
        for (method, body, text) in [
            (Method::PUT, "message[body]=edited", "edited"),
            (Method::PATCH, "body=patched", "patched"),
        ] {
            let (s, v) = send(&http, method, &format!("{msgs}/1"), form(body)).await;
            assert_eq!(
                (s.as_u16(), v["body"].as_str()),
                (200, Some(text)),
                "{body}: {v}"
            );
        }
        let (_, v) = send(&http, Method::GET, &format!("{msgs}/1"), None).await;
        assert_eq!(v["body"], "patched");

        // Refusals: a form and its JSON twin fail alike (status, code and field).
        let long = "n".repeat(256);
        let long_form = format!("name={long}");
        let cases: Vec<(Method, String, &str, Value)> = vec![
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "name=",
                json!({"name": ""}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "application[name]=+",
                json!({"application": {"name": " "}}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "",
                json!({}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "other=1",
                json!({"other": "1"}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                long_form.as_str(),
                json!({"name": long}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "name=a%01b",
                json!({"name": "a\u{1}b"}),
            ),
            (
                Method::POST,
                format!("{u}/api/v1/applications"),
                "application=x",
                json!({"application": "x"}),
            ),
            (
                Method::PUT,
                app.clone(),
                "chat_application=x",
                json!({"chat_application": "x"}),
            ),
            (Method::POST, msgs.clone(), "body=", json!({"body": ""})),
            (
                Method::POST,
                msgs.clone(),
                "message[body]=",
                json!({"message": {"body": ""}}),
            ),
            (
                Method::POST,
                msgs.clone(),
                "message=x",
                json!({"message": "x"}),
            ),
            (
                Method::POST,
                msgs.clone(),
                "body=a%00b",
                json!({"body": "a\u{0}b"}),
            ),
            (
                Method::PUT,
                format!("{msgs}/1"),
                "body=+",
                json!({"body": " "}),
            ),
            (
                Method::PUT,
                format!("{msgs}/99"),
                "body=x",
                json!({"body": "x"}),
            ),
            (
                Method::PUT,
                format!("{app}/chats/9/messages/1"),
                "body=x",
                json!({"body": "x"}),
            ),
        ];
        for (method, url, form_body, json_body) in cases {
            let (fs, fv) = send(&http, method.clone(), &url, form(form_body)).await;
            let (js, jv) = send(
                &http,
                method.clone(),
                &url,
                Some(("application/json", json_body.to_string())),
            )
            .await;
            assert!(
                fs.is_client_error(),
                "{method} {url} {form_body:?} → {fs}: {fv}"
            );
            assert_eq!(
                (fs, &fv["error"]["code"], &fv["error"]["field"]),
                (js, &jv["error"]["code"], &jv["error"]["field"]),
                "{method} {url}: form {form_body:?} → {fv}, JSON {json_body} → {jv}"
            );
        }
        // Shapes only a form can get wrong: text that is not UTF-8, a name both a value and a
        // group.
        let apps = format!("{u}/api/v1/applications");
        for body in [
            "name=%FF",
            "name=x&name[y]=z",
            "application[name]=x&application=y",
            "a[b]=1&a=2",
        ] {
            let (s, v) = send(&http, Method::POST, &apps, form(body)).await;
            assert_eq!(
                (s.as_u16(), v["error"]["code"].as_str()),
                (400, Some("bad_request")),
                "{body}: {v}"
            );
        }
        // Keys of other shapes are fields no operation reads, like unknown JSON fields.
        for body in ["a[]=1", "[x]=1", "a[b=1", "a]=1", "a[b]c=1", "=x"] {
            let (s, v) = send(&http, Method::POST, &apps, form(body)).await;
            assert_eq!(
                (s.as_u16(), v["error"]["field"].as_str()),
                (422, Some("name")),
                "{body}: {v}"
            );
            let with_name = format!("{body}&name=extra");
            let (s, v) = send(&http, Method::POST, &apps, form(&with_name)).await;
            assert_eq!(s, 201, "{with_name}: {v}");
        }
        // Nothing was stored by a refusal.
        let (_, v) = send(&http, Method::GET, &format!("{app}/chats/1"), None).await;
        assert_eq!(v["messages_count"], 4, "{v}");
        // Neither JSON nor a form is still a 415.
        let (s, v) = send(
            &http,
            Method::POST,
            &msgs,
            Some(("text/plain", "body=x".into())),
        )
        .await;
        assert_eq!(s, 415, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-www-form-urlencoded"));
        server.stop().await;
    }
}

/// The OpenAPI document states the server's own validation: every bound it gives is accepted
/// at its edge and rejected one past it.
mod documented_constraints {
    use chat_core::model::{NAME_PATTERN, TEXT_PATTERN, TOKEN_PATTERN};
    use chat_tests::{Harness, Http};
    use reqwest::StatusCode;
    use serde_json::{json, Value};

    fn param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| &p["schema"])
            .unwrap_or_else(|| panic!("{method} {path} documents no parameter {name}"))
    }

    fn int(v: &Value, key: &str) -> i128 {
        v[key]
            .as_i64()
            .map(i128::from)
            .or_else(|| v[key].as_u64().map(i128::from))
            .unwrap_or_else(|| panic!("{key} missing in {v}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_documented_bound_is_accepted_at_its_edge_and_rejected_past_it() {
        let server = Http::start().await;
        let http = reqwest::Client::new();
        let u = server.url.clone();
        let doc: Value = http
            .get(format!("{u}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let get = |url: String| {
            let http = http.clone();
            async move {
                let r = http.get(url).send().await.unwrap();
                let s = r.status();
                (s, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let post = |url: String, body: Value| {
            let http = http.clone();
            async move {
                let r = http.post(url).json(&body).send().await.unwrap();
                let s = r.status();
                (s, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };

        // Every parameter of every operation carries its constraint.
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let (name, schema) = (p["name"].as_str().unwrap(), &p["schema"]);
                    match name {
                        "token" => assert_eq!(schema["pattern"], TOKEN_PATTERN, "{method} {path}"),
                        "number" | "message" => {
                            assert_eq!(
                                (int(schema, "minimum"), int(schema, "maximum")),
                                (1, i128::from(i32::MAX)),
                                "{method} {path}"
                            )
                        }
                        "limit" => {
                            assert_eq!((int(schema, "minimum"), int(schema, "maximum")), (1, 1000))
                        }
                        "query" => {
                            assert_eq!(p["required"], true);
                            assert_eq!(schema["pattern"], TEXT_PATTERN);
                        }
                        _ => {}
                    }
                    seen += 1;
                }
                // Every body is documented as JSON and as a form, but a batch's, which is a
                // list and JSON only (a form gets 415, see the messages resource test).
                if let Some(content) = op["requestBody"]["content"].as_object() {
                    let json_only = path.ends_with("/messages/batch");
                    assert!(content.contains_key("application/json"), "{method} {path}");
                    assert_eq!(
                        content.contains_key("application/x-www-form-urlencoded"),
                        !json_only,
                        "{method} {path}: a form body documented {}",
                        if json_only {
                            "for a JSON-only route"
                        } else {
                            "nowhere"
                        }
                    );
                }
            }
        }
        assert!(seen > 30, "only {seen} parameters documented");

        // Tokens.
        let apps = format!("{u}/api/v1/applications");
        let (_, app) = post(apps.clone(), json!({"name": "bounds"})).await;
        let t = app["token"].as_str().unwrap().to_owned();
        let ts = param(&doc, "/api/v1/applications/{token}", "get", "token");
        assert_eq!((int(ts, "minLength"), int(ts, "maxLength")), (32, 32));
        let (s, _) = get(format!("{apps}/{t}")).await;
        assert_eq!(s, 200);
        let unknown = chat_core::Token::generate();
        let (s, v) = get(format!("{apps}/{unknown}")).await;
        assert_eq!(
            (s.as_u16(), &v["error"]["resource"]),
            (404, &json!("application"))
        );
        for bad in [
            &t[..31],
            &format!("{t}a"),
            &t.to_uppercase(),
            &format!("{}g", &t[..31]),
        ] {
            let (s, v) = get(format!("{apps}/{bad}")).await;
            assert_eq!(
                (s.as_u16(), &v["error"]["resource"]),
                (404, &json!("malformed_token")),
                "{bad}"
            );
        }

        // Chat and message numbers, in the path and as `after`.
        let chats = format!("{apps}/{t}/chats");
        let (s, _) = post(chats.clone(), json!({})).await;
        assert_eq!(s, 201);
        let ns = param(
            &doc,
            "/api/v1/applications/{token}/chats/{number}",
            "get",
            "number",
        );
        let (lo, hi) = (int(ns, "minimum"), int(ns, "maximum"));
        for (n, want) in [(lo - 1, 400), (lo, 200), (hi, 404), (hi + 1, 400)] {
            let (s, v) = get(format!("{chats}/{n}")).await;
            assert_eq!(s.as_u16(), want, "chat {n}: {v}");
        }
        let msg = param(
            &doc,
            "/api/v1/applications/{token}/chats/{number}/messages/{message}",
            "get",
            "message",
        );
        assert_eq!((int(msg, "minimum"), int(msg, "maximum")), (lo, hi));
        for (n, want) in [(lo - 1, 400), (lo, 404), (hi, 404), (hi + 1, 400)] {
            let (s, v) = get(format!("{chats}/1/messages/{n}")).await;
            assert_eq!(s.as_u16(), want, "message {n}: {v}");
        }
        let after = param(&doc, "/api/v1/applications/{token}/chats", "get", "after");
        for (n, want) in [
            (int(after, "minimum") - 1, 400),
            (int(after, "minimum"), 200),
            (int(after, "maximum"), 200),
            (int(after, "maximum") + 1, 400),
        ] {
            let (s, v) = get(format!("{chats}?after={n}")).await;
            assert_eq!(s.as_u16(), want, "after={n}: {v}");
        }
        let after = param(&doc, "/api/v1/applications", "get", "after");
        assert_eq!(after["pattern"], TOKEN_PATTERN);

        // Page parameters.
        let limit = param(&doc, "/api/v1/applications/{token}/chats", "get", "limit");
        for (n, want) in [
            (int(limit, "minimum") - 1, 400),
            (int(limit, "minimum"), 200),
            (int(limit, "maximum"), 200),
            (int(limit, "maximum") + 1, 400),
        ] {
            let (s, v) = get(format!("{chats}?limit={n}")).await;
            assert_eq!(s.as_u16(), want, "limit={n}: {v}");
        }
        let search = format!("{chats}/1/messages/search");
        let offset = param(
            &doc,
            "/api/v1/applications/{token}/chats/{number}/messages/search",
            "get",
            "offset",
        );
        for (n, want) in [
            (int(offset, "minimum") - 1, 400),
            (int(offset, "minimum"), 200),
            (int(offset, "maximum"), 200),
            (int(offset, "maximum") + 1, 400),
        ] {
            let (s, v) = get(format!("{search}?q=x&sort=relevance&offset={n}")).await;
            assert_eq!(s.as_u16(), want, "offset={n}: {v}");
        }

        // Lengths of names, bodies and queries.
        let schemas = &doc["components"]["schemas"];
        let name = &schemas["NameBody"]["properties"]["name"];
        assert_eq!(name["pattern"], NAME_PATTERN);
        let (min, max) = (
            int(name, "minLength") as usize,
            int(name, "maxLength") as usize,
        );
        for (text, want) in [
            ("é".repeat(min - 1), 422),
            ("é".repeat(min), 201),
            ("é".repeat(max), 201),
            ("é".repeat(max + 1), 422),
        ] {
            let (s, v) = post(apps.clone(), json!({"name": text})).await;
            assert_eq!(
                s.as_u16(),
                want,
                "name of {} chars: {v}",
                text.chars().count()
            );
        }
        let body = &schemas["BodyBody"]["properties"]["body"];
        assert_eq!(body["pattern"], TEXT_PATTERN);
        let (min, max) = (
            int(body, "minLength") as usize,
            int(body, "maxLength") as usize,
        );
        let msgs = format!("{chats}/1/messages");
        for (text, want) in [
            ("b".repeat(min - 1), 422),
            ("b".repeat(min), 201),
            ("b".repeat(max), 201),
            ("b".repeat(max + 1), 422),
        ] {
            let (s, v) = post(msgs.clone(), json!({"body": text})).await;
            assert_eq!(s.as_u16(), want, "body of {} bytes: {v}", text.len());
        }
        let query = param(
            &doc,
            "/api/v1/applications/{token}/chats/{number}/messages/search",
            "get",
            "query",
        );
        let (min, max) = (
            int(query, "minLength") as usize,
            int(query, "maxLength") as usize,
        );
        for (text, want) in [
            ("q".repeat(min - 1), 422),
            ("q".repeat(min), 200),
            ("q".repeat(max), 200),
            ("q".repeat(max + 1), 422),
        ] {
            let (s, v) = get(format!("{search}?query={text}")).await;
            assert_eq!(s.as_u16(), want, "query of {} chars: {v}", text.len());
        }
        // What the patterns exclude is refused: blank text, control characters in names, NUL.
        for (url, body) in [
            (apps.clone(), json!({"name": " \t "})),
            (apps.clone(), json!({"name": "a\u{1}b"})),
            (apps.clone(), json!({"name": "a\u{85}b"})),
            (msgs.clone(), json!({"body": " \n "})),
            (msgs.clone(), json!({"body": "a\u{0}b"})),
        ] {
            let (s, v) = post(url, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        }
        let (s, _) = get(format!("{search}?query=%20%09")).await;
        assert_eq!(s, 422);

        // The queue of the distributed profile: documented 400 on this one.
        assert!(doc["paths"]["/api/v1/admin/queue"]["get"]["responses"]["400"].is_object());
        server.stop().await;
    }
}

/// Slow and stalled clients cannot hold connections.
mod slow_clients {
    use std::time::{Duration, Instant};

    use chat_tests::{Harness, Http};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Reads until the server closes the connection; the time it took, or `None` if it was
    /// still open after `bound`.
    async fn closed_within(
        stream: &mut TcpStream,
        start: Instant,
        bound: Duration,
    ) -> Option<Duration> {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at((start + bound).into(), stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
                Ok(Ok(_)) => {}
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn half_sent_headers_and_idle_connections_are_closed_while_others_are_served() {
        let timeout = Duration::from_secs(1);
        let server = Http::start_limited(chat_server::Limits {
            header_timeout: timeout,
            ..chat_server::Limits::default()
        })
        .await;
        let addr = server.url.trim_start_matches("http://").to_owned();
        let start = Instant::now();
        let mut slow = Vec::new();
        for i in 0..40 {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            match i % 4 {
                // Headers started, never finished.
                0 => s
                    .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                    .await
                    .unwrap(),
                // Only part of the request line.
                1 => s.write_all(b"GET /api/v1/appl").await.unwrap(),
                // Connected, nothing sent.
                2 => {}
                // A complete request, then idle on a keep-alive connection.
                _ => {
                    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                        .await
                        .unwrap();
                    let mut buf = [0u8; 12];
                    s.read_exact(&mut buf).await.unwrap();
                    assert_eq!(&buf, b"HTTP/1.1 200");
                }
            }
            slow.push(s);
        }
        // A slowloris trickling one header byte at a time, slower than the timeout allows.
        let mut trickle = TcpStream::connect(&addr).await.unwrap();
        let trickled = tokio::spawn(async move {
            for b in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if trickle.write_all(&[*b]).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        });

        // Meanwhile the server answers everyone else.
        let http = reqwest::Client::new();
        for _ in 0..20 {
            let resp = http
                .get(format!("{}/health", server.url))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }

        for (i, s) in slow.iter_mut().enumerate() {
            let took = closed_within(s, start, Duration::from_secs(10)).await;
            let took = took.unwrap_or_else(|| panic!("connection {i} still open after 10 s"));
            assert!(
                took >= timeout,
                "connection {i} closed after {took:?}, before the timeout"
            );
        }
        assert!(
            trickled.await.unwrap(),
            "the trickling client was never cut off"
        );
        // And still serves new clients.
        let resp = http
            .get(format!("{}/health", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        server.stop().await;
    }
}

/// `HttpClient` gives up on a server that accepts and never answers.
mod client_timeouts {
    use std::time::{Duration, Instant};

    use chat_core::{ChatApi, Error, HttpClient, NoProgress, Token};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_and_jobs_are_bounded_by_their_timeouts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let client = HttpClient::new(&url)
            .unwrap()
            .with_timeout(Duration::from_millis(500))
            .with_job_timeout(Duration::from_millis(800));
        let start = Instant::now();
        let err = client
            .get_application(&Token::generate())
            .await
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(
            matches!(&err, Error::Unavailable { backend, reason } if backend == "server" && reason.starts_with("no answer in time")),
            "{err:?}"
        );
        let start = Instant::now();
        let err = client.recount(None, NoProgress::arc()).await.unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert!(
            took >= Duration::from_millis(800) && took < Duration::from_secs(5),
            "the job waited {took:?}, not its own timeout"
        );
    }
}

/// A property-based fuzzer over the served OpenAPI document (tests/fuzz/schemathesis.sh), in
/// the suite: no 5xx, every answer fits the document, no schema-valid request refused.
mod fuzz {
    use std::path::PathBuf;

    use chat_core::ChatApi;
    use chat_tests::{Harness, Http};
    use serde_json::{json, Value};

    const SEED: &str = "14";
    const EXAMPLES: &str = "40";

    /// Runs the fuzzer over `schema`; panics with its report when it finds anything.
    async fn fuzz(server: &Http, schema: &str) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        // TARGET/PROFILE/deps/this-test: the virtualenv lives in TARGET, reused across runs.
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().to_owned();
        let out = tokio::process::Command::new(root.join("tests/fuzz/schemathesis.sh"))
            .args([
                target.join("schemathesis-venv").to_str().unwrap(),
                schema,
                &server.url,
                &server.admin_token,
                SEED,
                EXAMPLES,
            ])
            .output()
            .await
            .expect("run tests/fuzz/schemathesis.sh (needs python3 with venv and pip)");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the fuzzer found problems with {schema}:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.contains(" passed"), "{report}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn generated_requests_get_no_5xx_and_answers_that_fit_the_document() {
        let server = Http::start().await;
        // The document as served: generated tokens name nothing, so this covers parsing and
        // validation of every parameter and body.
        fuzz(&server, &format!("{}/openapi.json", server.url)).await;

        // The same document with the path's token and chat number pinned to existing ones, so
        // generated requests reach real applications, chats and messages.
        let api = server.client();
        let app = api.create_application("fuzzed").await.unwrap();
        for _ in 0..2 {
            let chat = api.create_chat(&app.token).await.unwrap();
            for i in 0..3 {
                api.create_message(&app.token, chat.number, &format!("message {i}"))
                    .await
                    .unwrap();
            }
        }
        let mut doc: Value = reqwest::get(format!("{}/openapi.json", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut pinned = 0;
        for item in doc["paths"].as_object_mut().unwrap().values_mut() {
            // Without the deletes: a generated DELETE of the pinned application or chats would
            // leave every later request of the run a 404 (still accepted, but testing nothing).
            // The first run covers them: its DELETEs of generated tokens get their 404s (the
            // admin token is sent, so an application's DELETE gets past its 401/403).
            item.as_object_mut().unwrap().remove("delete");
            for op in item.as_object_mut().unwrap().values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                    continue;
                };
                for p in params.iter_mut().filter(|p| p["in"] == "path") {
                    match p["name"].as_str() {
                        Some("token") => {
                            p["schema"] = json!({"type": "string", "enum": [app.token]})
                        }
                        Some("number") => p["schema"] = json!({"type": "integer", "enum": [1, 2]}),
                        _ => continue,
                    }
                    pinned += 1;
                }
            }
        }
        assert!(pinned > 10, "only {pinned} path parameters pinned");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openapi-pinned.json");
        std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
        fuzz(&server, file.to_str().unwrap()).await;
        server.stop().await;
    }
}
