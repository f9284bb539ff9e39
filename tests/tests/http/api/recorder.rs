//! The recorder every resource test sends its requests through, and route tables: rows of
//! (method, route template, path, body, expected status) sent in order by one loop.

use chat_core::ChatApi;
use chat_tests::openapi_check::OpenApiCheck;
use chat_tests::Http;
use reqwest::{header, Method, StatusCode};
use serde_json::Value;

/// Sends requests and remembers (method, route template, status, body) for the OpenAPI check.
pub(super) struct Recorder {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) admin: String,
    pub(super) seen: Vec<(String, String, u16, Value)>,
}

pub(super) enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
}

impl Recorder {
    pub(super) fn new(server: &Http) -> Self {
        Recorder {
            http: reqwest::Client::new(),
            base: server.url.clone(),
            admin: server.admin_token.clone(),
            seen: Vec::new(),
        }
    }

    pub(super) async fn send(
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

    /// Sends one request (with the admin token where the route wants it) and asserts its
    /// status; returns the body.
    pub(super) async fn expect(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        body: Body,
        status: u16,
    ) -> Value {
        let admin = self.admin.clone();
        let auth = needs_admin(&method, path).then_some(admin.as_str());
        let (s, _, v) = self.send(method.clone(), template, path, body, auth).await;
        assert_eq!(s.as_u16(), status, "{method} {path}: {v}");
        v
    }

    /// Sends a route table's rows in order, each as [`Recorder::expect`] would; a wrong status
    /// names the row (its index, method, path and body).
    pub(super) async fn expect_all(&mut self, table: Vec<Case>) {
        for (row, case) in table.into_iter().enumerate() {
            let Case {
                method,
                template,
                path,
                body,
                status,
            } = case;
            let what = format!("row {row}: {method} {path} with {}", body.describe());
            let admin = self.admin.clone();
            let auth = needs_admin(&method, &path).then_some(admin.as_str());
            let (s, _, v) = self.send(method, template, &path, body, auth).await;
            assert_eq!(s.as_u16(), status, "{what}: {v}");
        }
    }
}

/// Admin routes and the application list take the admin token.
fn needs_admin(method: &Method, path: &str) -> bool {
    path.contains("/admin/")
        || (path.starts_with("/api/v1/applications?") || path == "/api/v1/applications")
            && *method == Method::GET
}

/// One row of a route table: a request and the status it must get.
pub(super) struct Case {
    method: Method,
    template: &'static str,
    path: String,
    body: Body,
    status: u16,
}

/// A route table's row: `method` on `path` (an instance of the OpenAPI route `template`) with
/// `body` must answer `status`.
pub(super) fn case(
    method: Method,
    template: &'static str,
    path: impl Into<String>,
    body: impl Into<Body>,
    status: u16,
) -> Case {
    Case {
        method,
        template,
        path: path.into(),
        body: body.into(),
        status,
    }
}

/// A body of content type `content_type`, sent as is.
pub(super) fn raw(content_type: &'static str, text: impl Into<String>) -> Body {
    Body::Raw(content_type, text.into())
}

impl From<Value> for Body {
    fn from(value: Value) -> Self {
        Body::Json(value)
    }
}

impl Body {
    /// The body for an assertion message, cut to its first 80 characters.
    fn describe(&self) -> String {
        let (kind, text) = match self {
            Body::None => return "no body".to_owned(),
            Body::Json(v) => ("JSON", v.to_string()),
            Body::Raw(ct, text) => (*ct, text.clone()),
        };
        let cut: String = text.chars().take(80).collect();
        let more = if cut.len() < text.len() { "…" } else { "" };
        format!("{kind} {cut:?}{more} ({} bytes)", text.len())
    }
}

impl Recorder {
    /// Every recorded response is documented and fits its schema, and each of
    /// `operations` (method, route template) was exercised.
    pub(super) async fn check_against_openapi(&self, operations: &[(&str, &str)]) {
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

/// An application (its token) with `chats` chats, the first holding `messages`, made
/// through the API but not recorded: the state a resource's test starts from.
pub(super) async fn world(server: &Http, chats: u32, messages: &[&str]) -> String {
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
pub(super) async fn openapi(base: &str) -> Value {
    reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
