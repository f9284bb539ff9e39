//! Applications: create, read, rename, (admin) list and (admin) delete.

use chat_core::Token;
use chat_tests::{Harness, Http};
use reqwest::{header, Method as M};
use serde_json::json;

use super::recorder::{case, raw, Body, Recorder};
use super::{APP, APPLICATION_OPERATIONS, APPS};

/// Create, read, rename and (admin) list applications: every documented status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_answer_every_documented_status() {
    let server = Http::start().await;
    let mut r = Recorder::new(&server);
    let t = create(&mut r).await;
    list_and_read(&mut r, &t).await;
    rename(&mut r, &t).await;
    delete(&mut r, &t).await;
    r.check_against_openapi(APPLICATION_OPERATIONS).await;
    server.stop().await;
}

/// Creates: both envelopes and the alias path, then every refusal of a body. Returns the
/// token of the first application.
async fn create(r: &mut Recorder) -> String {
    let app = r
        .expect(M::POST, APPS, APPS, json!({"name": "bare"}).into(), 201)
        .await;
    let t = app["token"].as_str().unwrap().to_owned();
    assert_eq!(t.len(), 32);
    r.expect(
        M::POST,
        APPS,
        APPS,
        json!({"application": {"name": "rails"}}).into(),
        201,
    )
    .await;
    let v = r
        .expect(
            M::POST,
            APPS,
            "/api/v1/chat_applications",
            json!({"chat_application": {"name": "rails 2"}}).into(),
            201,
        )
        .await;
    assert_eq!(v["name"], "rails 2");
    assert_eq!(
        r.expect(M::POST, APPS, APPS, json!({}).into(), 422).await["error"]["field"],
        "name"
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    r.expect_all(vec![
        case(M::POST, APPS, APPS, json!({"name": ""}), 422),
        case(M::POST, APPS, APPS, json!({"name": "n".repeat(256)}), 422),
        case(M::POST, APPS, APPS, json!({"name": 5}), 400),
        case(M::POST, APPS, APPS, json!({"application": "x"}), 400),
        case(
            M::POST,
            APPS,
            APPS,
            raw("application/json", "{\"name\": "),
            400,
        ),
        case(M::POST, APPS, APPS, raw("application/json", "[1]"), 400),
        case(M::POST, APPS, APPS, raw("text/plain", "name=x"), 415),
        case(M::POST, APPS, APPS, raw("application/json", big), 413),
    ])
    .await;
    t
}

/// The admin list (its token, its pages, its bad parameters) and reads of one application.
async fn list_and_read(r: &mut Recorder, t: &str) {
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
    r.expect_all(vec![
        case(M::GET, APPS, format!("{APPS}?limit=0"), Body::None, 400),
        case(M::GET, APPS, format!("{APPS}?limit=1001"), Body::None, 400),
        case(M::GET, APPS, format!("{APPS}?limit=x"), Body::None, 400),
        case(
            M::GET,
            APPS,
            format!("{APPS}?after=nothex"),
            Body::None,
            400,
        ),
        case(
            M::GET,
            APPS,
            format!("{APPS}?after={}", Token::generate()),
            Body::None,
            404,
        ),
        case(M::GET, APP, format!("{APPS}/{t}"), Body::None, 200),
        case(
            M::GET,
            APP,
            format!("/api/v1/chat_applications/{t}"),
            Body::None,
            200,
        ),
        case(
            M::GET,
            APP,
            format!("{APPS}/{}", t.to_uppercase()),
            Body::None,
            404,
        ),
        case(
            M::GET,
            APP,
            format!("{APPS}/{}", Token::generate()),
            Body::None,
            404,
        ),
    ])
    .await;
}

/// PUT and PATCH, with both envelopes, and their refusals.
async fn rename(r: &mut Recorder, t: &str) {
    let app = format!("{APPS}/{t}");
    let v = r
        .expect(M::PUT, APP, &app, json!({"name": "renamed"}).into(), 200)
        .await;
    assert_eq!(v["name"], "renamed");
    let v = r
        .expect(
            M::PATCH,
            APP,
            &app,
            json!({"chat_application": {"name": "patched"}}).into(),
            200,
        )
        .await;
    assert_eq!(v["name"], "patched");
    r.expect_all(vec![
        case(M::PATCH, APP, &app, json!({"name": " "}), 422),
        case(
            M::PUT,
            APP,
            format!("{APPS}/{}", Token::generate()),
            json!({"name": "x"}),
            404,
        ),
        case(M::PUT, APP, &app, raw("text/plain", "x"), 415),
    ])
    .await;
}

/// Delete (admin): 401 without the admin token, 403 with a wrong one, 404 for an unknown or
/// malformed token (the admin check comes first), 204 once, then 404; the alias too.
async fn delete(r: &mut Recorder, t: &str) {
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
        format!("{APPS}/{}", Token::generate()),
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
        .expect(M::POST, APPS, APPS, json!({"name": "alias"}).into(), 201)
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
}
