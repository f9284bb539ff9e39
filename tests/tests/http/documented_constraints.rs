//! The OpenAPI document states the server's own validation: every bound it gives is accepted
//! at its edge and rejected one past it.

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

/// GETs and POSTs answering their status and JSON body (null when there is none).
struct Requests(reqwest::Client);

impl Requests {
    async fn get(&self, url: String) -> (StatusCode, Value) {
        let r = self.0.get(url).send().await.unwrap();
        let s = r.status();
        (s, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    async fn post(&self, url: String, body: Value) -> (StatusCode, Value) {
        let r = self.0.post(url).json(&body).send().await.unwrap();
        let s = r.status();
        (s, r.json::<Value>().await.unwrap_or(Value::Null))
    }
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
    let c = Requests(http);
    every_parameter_and_body_carries_its_constraint(&doc);
    let apps = format!("{u}/api/v1/applications");
    let t = tokens(&c, &doc, &apps).await;
    let chats = format!("{apps}/{t}/chats");
    numbers_and_pages(&c, &doc, &chats).await;
    lengths_and_patterns(&c, &doc, &apps, &chats).await;

    // The queue of the distributed profile: documented 400 on this one.
    assert!(doc["paths"]["/api/v1/admin/queue"]["get"]["responses"]["400"].is_object());
    server.stop().await;
}

/// Every parameter of every operation carries its constraint; every body is documented as
/// JSON and as a form, but a batch's.
fn every_parameter_and_body_carries_its_constraint(doc: &Value) {
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
}

/// Tokens: their documented length, a good one, an unknown one and malformed ones. Returns the
/// token of a new application.
async fn tokens(c: &Requests, doc: &Value, apps: &str) -> String {
    let (_, app) = c.post(apps.to_owned(), json!({"name": "bounds"})).await;
    let t = app["token"].as_str().unwrap().to_owned();
    let ts = param(doc, "/api/v1/applications/{token}", "get", "token");
    assert_eq!((int(ts, "minLength"), int(ts, "maxLength")), (32, 32));
    let (s, _) = c.get(format!("{apps}/{t}")).await;
    assert_eq!(s, 200);
    let unknown = chat_core::Token::generate();
    let (s, v) = c.get(format!("{apps}/{unknown}")).await;
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
        let (s, v) = c.get(format!("{apps}/{bad}")).await;
        assert_eq!(
            (s.as_u16(), &v["error"]["resource"]),
            (404, &json!("malformed_token")),
            "{bad}"
        );
    }
    t
}

/// Chat and message numbers, in the path and as `after`; page parameters.
async fn numbers_and_pages(c: &Requests, doc: &Value, chats: &str) {
    let (s, _) = c.post(chats.to_owned(), json!({})).await;
    assert_eq!(s, 201);
    let ns = param(
        doc,
        "/api/v1/applications/{token}/chats/{number}",
        "get",
        "number",
    );
    let (lo, hi) = (int(ns, "minimum"), int(ns, "maximum"));
    for (n, want) in [(lo - 1, 400), (lo, 200), (hi, 404), (hi + 1, 400)] {
        let (s, v) = c.get(format!("{chats}/{n}")).await;
        assert_eq!(s.as_u16(), want, "chat {n}: {v}");
    }
    let msg = param(
        doc,
        "/api/v1/applications/{token}/chats/{number}/messages/{message}",
        "get",
        "message",
    );
    assert_eq!((int(msg, "minimum"), int(msg, "maximum")), (lo, hi));
    for (n, want) in [(lo - 1, 400), (lo, 404), (hi, 404), (hi + 1, 400)] {
        let (s, v) = c.get(format!("{chats}/1/messages/{n}")).await;
        assert_eq!(s.as_u16(), want, "message {n}: {v}");
    }
    let after = param(doc, "/api/v1/applications/{token}/chats", "get", "after");
    for (n, want) in [
        (int(after, "minimum") - 1, 400),
        (int(after, "minimum"), 200),
        (int(after, "maximum"), 200),
        (int(after, "maximum") + 1, 400),
    ] {
        let (s, v) = c.get(format!("{chats}?after={n}")).await;
        assert_eq!(s.as_u16(), want, "after={n}: {v}");
    }
    let after = param(doc, "/api/v1/applications", "get", "after");
    assert_eq!(after["pattern"], TOKEN_PATTERN);

    // Page parameters.
    let limit = param(doc, "/api/v1/applications/{token}/chats", "get", "limit");
    for (n, want) in [
        (int(limit, "minimum") - 1, 400),
        (int(limit, "minimum"), 200),
        (int(limit, "maximum"), 200),
        (int(limit, "maximum") + 1, 400),
    ] {
        let (s, v) = c.get(format!("{chats}?limit={n}")).await;
        assert_eq!(s.as_u16(), want, "limit={n}: {v}");
    }
    let search = format!("{chats}/1/messages/search");
    let offset = param(
        doc,
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
        let (s, v) = c
            .get(format!("{search}?q=x&sort=relevance&offset={n}"))
            .await;
        assert_eq!(s.as_u16(), want, "offset={n}: {v}");
    }
}

/// Lengths of names, bodies and queries, and what their patterns exclude.
async fn lengths_and_patterns(c: &Requests, doc: &Value, apps: &str, chats: &str) {
    let search = format!("{chats}/1/messages/search");
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
        let (s, v) = c.post(apps.to_owned(), json!({"name": text})).await;
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
        let (s, v) = c.post(msgs.clone(), json!({"body": text})).await;
        assert_eq!(s.as_u16(), want, "body of {} bytes: {v}", text.len());
    }
    let query = param(
        doc,
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
        let (s, v) = c.get(format!("{search}?query={text}")).await;
        assert_eq!(s.as_u16(), want, "query of {} chars: {v}", text.len());
    }
    // What the patterns exclude is refused: blank text, control characters in names, NUL.
    for (url, body) in [
        (apps.to_owned(), json!({"name": " \t "})),
        (apps.to_owned(), json!({"name": "a\u{1}b"})),
        (apps.to_owned(), json!({"name": "a\u{85}b"})),
        (msgs.clone(), json!({"body": " \n "})),
        (msgs.clone(), json!({"body": "a\u{0}b"})),
    ] {
        let (s, v) = c.post(url, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
    }
    let (s, _) = c.get(format!("{search}?query=%20%09")).await;
    assert_eq!(s, 422);
}
