//! The web console. Without a browser: the page and its files are served with their types,
//! policy and validators, and the stats stream sends each second's routes. With a real headless
//! Chromium (feature `browser`, see `browser`): everything a person does in the page, checked
//! through the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chat_tests::{Harness, Http};
use reqwest::header;
use serde_json::Value;

/// The files the page loads: the stylesheet, the icon, the script modules and their imports.
fn files_of_the_page(html: &str) -> Vec<String> {
    html.split("/console/")
        .skip(1)
        .map(|p| p.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_with_its_types_policy_and_validators() {
    let h = Http::start().await;
    let http = reqwest::Client::new();

    let page = http.get(format!("{}/", h.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let text = |name: header::HeaderName| {
        headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(text(header::CONTENT_TYPE), "text/html; charset=utf-8");
    let csp = text(header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(text(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(text(header::REFERRER_POLICY), "no-referrer");
    assert_eq!(text(header::CACHE_CONTROL), "no-cache");
    let etag = text(header::ETAG);
    let html = page.text().await.unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/console/console.js\">"));
    assert!(!html.contains("<script>"), "no inline script");

    // An unchanged page costs a 304.
    let again = http
        .get(format!("{}/", h.url))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY));
    let console = http
        .get(format!("{}/console/", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(console.headers()[header::ETAG].to_str().unwrap(), etag);

    // Every file the page loads, and every module those import, with its type.
    let mut files = files_of_the_page(&html);
    let mut i = 0;
    while i < files.len() {
        let name = files[i].clone();
        let r = http
            .get(format!("{}/console/{name}", h.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = match name.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected file type {other}"),
        };
        assert_eq!(ct, expected, "{name}");
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body = r.text().await.unwrap();
        if name.ends_with(".js") {
            for import in body.split("from \"./").skip(1) {
                let f = import.split('"').next().unwrap().to_owned();
                if !files.contains(&f) {
                    files.push(f);
                }
            }
            assert!(!body.contains("innerHTML"), "{name} uses innerHTML");
            assert!(!body.contains("eval("), "{name} uses eval");
        }
        i += 1;
    }
    assert!(files.len() >= 5, "{files:?}");

    // Anything else under /console is a 404 in the API's error shape.
    let missing = http
        .get(format!("{}/console/secrets.txt", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let post = http.post(format!("{}/", h.url)).send().await.unwrap();
    assert_eq!(post.status(), 405);
    h.stop().await;
}

/// Reads server-sent events from `response` until `done(event, data)` says so (bounded).
async fn read_events(
    mut response: reqwest::Response,
    within: Duration,
    mut done: impl FnMut(&str, &Value) -> bool,
) {
    let deadline = Instant::now() + within;
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline.into(), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("not done within {within:?}; got:\n{buffer}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut event = "";
            let mut data = "";
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = d;
                }
            }
            if data.is_empty() {
                continue;
            }
            if done(event, &serde_json::from_str(data).unwrap()) {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_stream_sends_each_second_with_the_routes_that_served_it() {
    let h = Http::start().await;
    let api = h.api();
    let app = api.create_application("stats").await.unwrap();
    for _ in 0..20 {
        api.get_application(&app.token).await.unwrap();
    }
    let http = reqwest::Client::new();
    let stream = http
        .get(format!("{}/api/v1/stats/stream", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut seen = 0u64;
    let mut last_at = 0u64;
    read_events(stream, Duration::from_secs(5), |event, second| {
        assert_eq!(event, "second");
        let at = second["at_ms"].as_u64().unwrap();
        assert!(at > last_at, "seconds in order");
        last_at = at;
        let text = second.to_string();
        assert!(!text.contains(app.token.as_str()), "a token in {text}");
        let routes = second["routes"].as_array().unwrap();
        let total: u64 = routes.iter().map(|r| r["requests"].as_u64().unwrap()).sum();
        assert_eq!(second["requests"].as_u64().unwrap(), total);
        if let Some(r) = routes
            .iter()
            .find(|r| r["route"] == "GET /api/v1/applications/{token}")
        {
            seen += r["requests"].as_u64().unwrap();
            let (p50, p99, max) = (
                r["p50_ms"].as_f64().unwrap(),
                r["p99_ms"].as_f64().unwrap(),
                r["max_ms"].as_f64().unwrap(),
            );
            assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{r}");
        }
        seen >= 20
    })
    .await;
    assert_eq!(seen, 20);
    h.stop().await;
}

/// With a real headless Chromium driven through WebDriver.
#[cfg(feature = "browser")]
#[path = "web_console/browser.rs"]
mod browser;
