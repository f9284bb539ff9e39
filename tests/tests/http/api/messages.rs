//! Messages: create (one or a batch), read, list, edit and delete; a thousand concurrent creates.

use chat_core::ChatApi;
use chat_tests::{Harness, Http};
use reqwest::{header, Method as M};
use serde_json::{json, Value};

use super::recorder::{case, raw, world, Body, Recorder};
use super::{search, APPS, BATCH, CHAT, MESSAGE_OPERATIONS, MSG, MSGS};

/// Create, read, edit, list and search messages: every documented status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_search_answer_every_documented_status() {
    let server = Http::start().await;
    let t = world(&server, 2, &[]).await;
    let mut r = Recorder::new(&server);
    let base = format!("{APPS}/{t}/chats/1/messages");
    create(&mut r, &t, &base).await;
    batches(&mut r, &t).await;
    list_read_and_edit(&mut r, &t, &base).await;
    search::answers_every_documented_status(&mut r, &base).await;
    delete(&mut r, &t, &base).await;
    r.check_against_openapi(MESSAGE_OPERATIONS).await;
    server.stop().await;
}

/// Creates in chat 1 (`base`): both envelopes, then every refusal.
async fn create(r: &mut Recorder, t: &str, base: &str) {
    let m = r
        .expect(
            M::POST,
            MSGS,
            base,
            json!({"body": "What a wonderful day"}).into(),
            201,
        )
        .await;
    assert_eq!(m["number"], 1);
    r.expect(
        M::POST,
        MSGS,
        base,
        json!({"message": {"body": "wrapped"}}).into(),
        201,
    )
    .await;
    let v = r
        .expect(M::POST, MSGS, base, json!({"body": ""}).into(), 422)
        .await;
    assert_eq!(v["error"]["field"], "body");
    let too_big = format!("{{\"body\": \"{}\"}}", "x".repeat(65 * 1024));
    r.expect_all(vec![
        case(
            M::POST,
            MSGS,
            base,
            json!({"body": "b".repeat(16 * 1024 + 1)}),
            422,
        ),
        case(M::POST, MSGS, base, json!({}), 422),
        case(M::POST, MSGS, base, json!({"body": ["x"]}), 400),
        case(M::POST, MSGS, base, raw("text/plain", "hello"), 415),
        case(M::POST, MSGS, base, raw("application/json", too_big), 413),
        case(
            M::POST,
            MSGS,
            format!("{APPS}/{t}/chats/7/messages"),
            json!({"body": "x"}),
            404,
        ),
        case(
            M::POST,
            MSGS,
            format!("{APPS}/{t}/chats/0/messages"),
            json!({"body": "x"}),
            400,
        ),
    ])
    .await;
}

/// Batches (in chat 2): numbered in their order, JSON only, every refusal in the API's shape
/// and nothing created by one.
async fn batches(r: &mut Recorder, t: &str) {
    let batch = format!("{APPS}/{t}/chats/2/messages/batch");
    let created = r
        .expect(
            M::POST,
            BATCH,
            &batch,
            json!({"messages": [{"body": "third"}, {"body": "fourth"}]}).into(),
            201,
        )
        .await;
    assert_eq!(
        (&created[0]["number"], &created[0]["body"]),
        (&json!(1), &json!("third"))
    );
    assert_eq!(created[1]["number"], 2);
    let too_big = format!(
        "{{\"messages\": [{}]}}",
        vec![format!("{{\"body\": \"{}\"}}", "x".repeat(16 * 1024)); 300].join(",")
    );
    let one = json!({"messages": [{"body": "x"}]});
    r.expect_all(vec![
        case(M::POST, BATCH, &batch, json!({"messages": []}), 422),
        case(
            M::POST,
            BATCH,
            &batch,
            json!({"messages": [{"body": "ok"}, {"body": " "}]}),
            422,
        ),
        case(
            M::POST,
            BATCH,
            &batch,
            json!({"messages": vec![json!({"body": "x"}); 1001]}),
            422,
        ),
        case(M::POST, BATCH, &batch, json!({"messages": "x"}), 400),
        case(M::POST, BATCH, &batch, json!({"messages": ["x"]}), 400),
        case(
            M::POST,
            BATCH,
            &batch,
            json!({"messages": [{"body": 5}]}),
            400,
        ),
        case(M::POST, BATCH, &batch, json!([{"body": "x"}]), 400),
        case(
            M::POST,
            BATCH,
            &batch,
            raw("application/x-www-form-urlencoded", "body=x"),
            415,
        ),
        case(
            M::POST,
            BATCH,
            &batch,
            raw("application/json", too_big),
            413,
        ),
        case(
            M::POST,
            BATCH,
            format!("{APPS}/{t}/chats/7/messages/batch"),
            one.clone(),
            404,
        ),
        case(
            M::POST,
            BATCH,
            format!("{APPS}/{t}/chats/x/messages/batch"),
            one,
            400,
        ),
    ])
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
}

/// The list and its pages, reads, and edits (PUT and PATCH, both envelopes) with their
/// refusals.
async fn list_read_and_edit(r: &mut Recorder, t: &str, base: &str) {
    let (_, h, list) = r
        .send(M::GET, MSGS, &format!("{base}?limit=1"), Body::None, None)
        .await;
    assert_eq!(list[0]["body"], "What a wonderful day");
    assert!(h.get(header::LINK).is_some());
    let two = format!("{base}/2");
    let too_big = format!("{{\"body\": \"{}\"}}", "x".repeat(65 * 1024));
    r.expect_all(vec![
        case(M::GET, MSGS, format!("{base}?limit=-3"), Body::None, 400),
        case(
            M::GET,
            MSGS,
            format!("{APPS}/{t}/chats/5/messages"),
            Body::None,
            404,
        ),
        case(M::GET, MSG, &two, Body::None, 200),
        case(M::GET, MSG, format!("{base}/3"), Body::None, 404),
        case(M::GET, MSG, format!("{base}/x"), Body::None, 400),
        case(M::PUT, MSG, &two, json!({"body": "edited marvellous"}), 200),
        case(
            M::PATCH,
            MSG,
            &two,
            json!({"message": {"body": "edited marvellous!"}}),
            200,
        ),
        case(M::PATCH, MSG, &two, json!({"body": ""}), 422),
        case(
            M::PATCH,
            MSG,
            format!("{base}/9"),
            json!({"body": "x"}),
            404,
        ),
        case(M::PUT, MSG, &two, raw("application/json", "nope"), 400),
        case(M::PUT, MSG, &two, raw("text/html", "<p>"), 415),
        case(M::PUT, MSG, &two, raw("application/json", too_big), 413),
    ])
    .await;
}

/// Delete: 204 once, then 404 for it (read, edit, delete) and gone from search and the list;
/// bad numbers 400; unknown chat or message 404.
async fn delete(r: &mut Recorder, t: &str, base: &str) {
    r.expect(M::DELETE, MSG, &format!("{base}/2"), Body::None, 204)
        .await;
    for (method, body) in [
        (M::GET, Body::None),
        (M::DELETE, Body::None),
        (M::PATCH, json!({"body": "back"}).into()),
    ] {
        let v = r.expect(method, MSG, &format!("{base}/2"), body, 404).await;
        assert_eq!(v["error"]["code"], "not_found");
    }
    search::a_deleted_message_is_not_found(r, base).await;
    let list = r.expect(M::GET, MSGS, base, Body::None, 200).await;
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
    r.expect_all(vec![
        case(M::DELETE, MSG, format!("{base}/99"), Body::None, 404),
        case(
            M::DELETE,
            MSG,
            format!("{APPS}/{t}/chats/9/messages/2"),
            Body::None,
            404,
        ),
        case(
            M::DELETE,
            MSG,
            format!("/api/v1/chat_applications/{t}/chats/1/messages/1"),
            Body::None,
            204,
        ),
    ])
    .await;
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
