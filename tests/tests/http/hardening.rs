//! What outside testers found: malformed tokens, plain-text rejections, numbers out of range,
//! form bodies.

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
    let last = (chat_core::model::RELEVANCE_WINDOW - 1).to_string();
    for offset in ["x", "-1", "4294967296", "1000", "10000"] {
        let url = format!("{chat}/search?q=a&sort=relevance&offset={offset}");
        let (s, v) = send(&http, Method::GET, &url, None).await;
        assert_eq!(s, 400, "{url}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&last) && !message.contains("4294967295"),
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
    // A 413 leaves the body unread, so its connection closes, and the answer says so: a client
    // must not send its next request on it.
    let r = http
        .post(format!("{chat}/messages"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("body={}", "x".repeat(65 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.headers()["connection"], "close");
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

/// A body of `application/x-www-form-urlencoded`.
fn form(s: &str) -> Option<(&'static str, String)> {
    Some(("application/x-www-form-urlencoded", s.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_bodies_work_on_every_write_route_with_the_same_errors_as_json() {
    let server = Http::start().await;
    let http = reqwest::Client::new();
    let u = &server.url;
    let (app, msgs) = every_accepted_form_shape_on_every_write_route(&http, u).await;
    a_form_and_its_json_twin_fail_alike(&http, u, &app, &msgs).await;
    shapes_only_a_form_can_get_wrong(&http, u, &app, &msgs).await;
    server.stop().await;
}

/// Every accepted shape, on every write route; returns the URLs of the first application and
/// of its chat 1's messages.
async fn every_accepted_form_shape_on_every_write_route(
    http: &reqwest::Client,
    u: &str,
) -> (String, String) {
    let form_utf8 = |s: &str| {
        Some((
            "application/x-www-form-urlencoded; charset=UTF-8",
            s.to_owned(),
        ))
    };
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
            http,
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
        let (s, v) = send(http, method, &app, form_utf8(body)).await;
        assert_eq!(
            (s.as_u16(), v["name"].as_str()),
            (200, Some(name)),
            "{body}: {v}"
        );
    }
    let (s, v) = send(http, Method::POST, &format!("{app}/chats"), form("")).await;
    assert_eq!((s.as_u16(), &v["number"]), (201, &json!(1)), "{v}");
    let (s, _) = send(
        http,
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
        let (s, v) = send(http, Method::POST, &msgs, form(body)).await;
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
        let (s, v) = send(http, method, &format!("{msgs}/1"), form(body)).await;
        assert_eq!(
            (s.as_u16(), v["body"].as_str()),
            (200, Some(text)),
            "{body}: {v}"
        );
    }
    let (_, v) = send(http, Method::GET, &format!("{msgs}/1"), None).await;
    assert_eq!(v["body"], "patched");
    (app, msgs)
}

/// Refusals: a form and its JSON twin fail alike (status, code and field).
async fn a_form_and_its_json_twin_fail_alike(
    http: &reqwest::Client,
    u: &str,
    app: &str,
    msgs: &str,
) {
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
            app.to_owned(),
            "chat_application=x",
            json!({"chat_application": "x"}),
        ),
        (Method::POST, msgs.to_owned(), "body=", json!({"body": ""})),
        (
            Method::POST,
            msgs.to_owned(),
            "message[body]=",
            json!({"message": {"body": ""}}),
        ),
        (
            Method::POST,
            msgs.to_owned(),
            "message=x",
            json!({"message": "x"}),
        ),
        (
            Method::POST,
            msgs.to_owned(),
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
        let (fs, fv) = send(http, method.clone(), &url, form(form_body)).await;
        let (js, jv) = send(
            http,
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
}

/// Shapes only a form can get wrong: text that is not UTF-8, a name both a value and a group;
/// keys of other shapes; nothing stored by a refusal; neither JSON nor a form is a 415.
async fn shapes_only_a_form_can_get_wrong(http: &reqwest::Client, u: &str, app: &str, msgs: &str) {
    let apps = format!("{u}/api/v1/applications");
    for body in [
        "name=%FF",
        "name=x&name[y]=z",
        "application[name]=x&application=y",
        "a[b]=1&a=2",
    ] {
        let (s, v) = send(http, Method::POST, &apps, form(body)).await;
        assert_eq!(
            (s.as_u16(), v["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{body}: {v}"
        );
    }
    // Keys of other shapes are fields no operation reads, like unknown JSON fields.
    for body in ["a[]=1", "[x]=1", "a[b=1", "a]=1", "a[b]c=1", "=x"] {
        let (s, v) = send(http, Method::POST, &apps, form(body)).await;
        assert_eq!(
            (s.as_u16(), v["error"]["field"].as_str()),
            (422, Some("name")),
            "{body}: {v}"
        );
        let with_name = format!("{body}&name=extra");
        let (s, v) = send(http, Method::POST, &apps, form(&with_name)).await;
        assert_eq!(s, 201, "{with_name}: {v}");
    }
    // Nothing was stored by a refusal.
    let (_, v) = send(http, Method::GET, &format!("{app}/chats/1"), None).await;
    assert_eq!(v["messages_count"], 4, "{v}");
    // Neither JSON nor a form is still a 415.
    let (s, v) = send(
        http,
        Method::POST,
        msgs,
        Some(("text/plain", "body=x".into())),
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));
}
