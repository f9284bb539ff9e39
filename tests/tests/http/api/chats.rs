//! Chats: create, read, list and delete.

use chat_core::Token;
use chat_tests::{Harness, Http};
use reqwest::{header, Method as M};
use serde_json::json;

use super::recorder::{case, raw, world, Body, Recorder};
use super::{APP, APPS, CHAT, CHATS, CHAT_OPERATIONS};

/// Create, read and list chats: every documented status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_answer_every_documented_status() {
    let server = Http::start().await;
    let t = world(&server, 0, &[]).await;
    let mut r = Recorder::new(&server);
    create_list_and_read(&mut r, &t).await;
    delete(&mut r, &t).await;
    r.check_against_openapi(CHAT_OPERATIONS).await;
    server.stop().await;
}

async fn create_list_and_read(r: &mut Recorder, t: &str) {
    let chats = format!("{APPS}/{t}/chats");
    let c = r.expect(M::POST, CHATS, &chats, Body::None, 201).await;
    assert_eq!(c["number"], 1);
    assert_eq!(c["messages_count"], 0);
    r.expect_all(vec![
        case(M::POST, CHATS, &chats, json!({}), 201),
        case(M::POST, CHATS, &chats, raw("application/json", "{"), 400),
        case(
            M::POST,
            CHATS,
            format!("{APPS}/{}/chats", Token::generate()),
            Body::None,
            404,
        ),
        case(M::POST, CHATS, format!("{APPS}/xyz/chats"), Body::None, 404),
    ])
    .await;
    let (s, h, list) = r
        .send(M::GET, CHATS, &format!("{chats}?limit=1"), Body::None, None)
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
            &format!("{chats}?limit=1&after=1"),
            Body::None,
            None,
        )
        .await;
    assert_eq!(list[0]["number"], 2);
    assert!(h.get(header::LINK).is_none());
    r.expect_all(vec![
        case(M::GET, CHATS, format!("{chats}?after=0"), Body::None, 400),
        case(M::GET, CHAT, format!("{chats}/1"), Body::None, 200),
        case(M::GET, CHAT, format!("{chats}/0"), Body::None, 400),
        case(M::GET, CHAT, format!("{chats}/-1"), Body::None, 400),
        case(M::GET, CHAT, format!("{chats}/abc"), Body::None, 400),
        case(M::GET, CHAT, format!("{chats}/1.5"), Body::None, 400),
        case(
            M::GET,
            CHAT,
            format!("{chats}/99999999999"),
            Body::None,
            400,
        ),
    ])
    .await;
    let v = r
        .expect(M::GET, CHAT, &format!("{chats}/99"), Body::None, 404)
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no chat number 99"),
        "{v}"
    );
}

/// Delete: 204 once (the count drops), then 404; bad numbers 400; unknown 404; numbers are
/// never reused.
async fn delete(r: &mut Recorder, t: &str) {
    let chats = format!("{APPS}/{t}/chats");
    r.expect(M::DELETE, CHAT, &format!("{chats}/1"), Body::None, 204)
        .await;
    let v = r
        .expect(M::DELETE, CHAT, &format!("{chats}/1"), Body::None, 404)
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no chat number 1"),
        "{v}"
    );
    r.expect(M::GET, CHAT, &format!("{chats}/1"), Body::None, 404)
        .await;
    let app = r
        .expect(M::GET, APP, &format!("{APPS}/{t}"), Body::None, 200)
        .await;
    assert_eq!(app["chats_count"], 1);
    for bad in ["0", "-1", "abc", "99999999999"] {
        let v = r
            .expect(M::DELETE, CHAT, &format!("{chats}/{bad}"), Body::None, 400)
            .await;
        assert!(v["error"]["message"].as_str().unwrap().contains(bad), "{v}");
    }
    r.expect_all(vec![
        case(M::DELETE, CHAT, format!("{chats}/99"), Body::None, 404),
        case(
            M::DELETE,
            CHAT,
            format!("{APPS}/{}/chats/2", Token::generate()),
            Body::None,
            404,
        ),
        case(
            M::DELETE,
            CHAT,
            format!("/api/v1/chat_applications/{t}/chats/2"),
            Body::None,
            204,
        ),
    ])
    .await;
    let c = r.expect(M::POST, CHATS, &chats, Body::None, 201).await;
    assert_eq!(c["number"], 3, "numbers are never reused");
}
