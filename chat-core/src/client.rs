//! [`HttpClient`]: [`ChatApi`] over HTTP against a chat-server.
//!
//! Error responses are decoded back into the same typed [`Error`] the server started from, and a
//! server that cannot be reached is [`Error::Unavailable`] with backend `server`, so callers
//! handle failures the same way in-process and over the network.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::api::{ChatApi, Progress, QueueStatus, RecountSummary, ReindexSummary, RetrySummary};
use crate::error::{Error, ErrorBody, Result};
use crate::live::LiveStream;
use crate::model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest,
    SearchPage, SearchRequest, Token,
};
use crate::wire::{BodyBody, JobScope, NameBody};

/// How long a request may wait for its answer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an admin job (recount, reindex) may run by default.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest wait for a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A chat-server client. Cheap to clone; clones share the connection pool.
///
/// Every request is bounded: connecting by 5 seconds (or the request timeout when shorter),
/// the whole request by [`HttpClient::with_timeout`] (default 30 s), except the admin jobs
/// (recount, reindex), bounded by [`HttpClient::with_job_timeout`] (default one hour). A server
/// that does not answer in time is [`Error::Unavailable`].
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
    admin_token: Option<Arc<str>>,
    timeout: Duration,
    job_timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl HttpClient {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:3000`; the API's own
    /// prefix, as in `http://127.0.0.1:3000/api/v1`, is accepted too).
    pub fn new(base_url: &str) -> Result<Self> {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/api/v1").unwrap_or(base);
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| Error::BadRequest(format!("invalid server URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::BadRequest(format!(
                "invalid server URL {base_url:?}: use http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            http,
            base: format!("{base}/api/v1"),
            admin_token: None,
            timeout: DEFAULT_TIMEOUT,
            job_timeout: DEFAULT_JOB_TIMEOUT,
        })
    }

    /// Bounds each request (connecting, sending, waiting for and reading the answer), except
    /// the admin jobs. A zero duration is taken as one millisecond.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Bounds each admin job (recount, reindex), which can take long on a large database.
    pub fn with_job_timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sends `Authorization: Bearer TOKEN` on admin operations.
    pub fn with_admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(Arc::from(token.into()));
        self
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.stream_request(method, path).timeout(self.timeout)
    }

    /// A request with no overall timeout (the connect timeout still applies): for the live
    /// stream, which lasts as long as the follower wants.
    pub(crate) fn stream_request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.admin_token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "no answer in time"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            Error::unavailable("server", format!("{what}: {}", source_chain(&e)))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(Error::from_body(status.as_u16(), body)),
            Err(_) => Err(self.foreign(&status.to_string(), &text).await),
        }
    }

    /// The error for an answer that is not in the API's shape: when `GET /health` does not
    /// answer like a chat-server either, the URL points elsewhere and the error says so (without
    /// the page it got); otherwise the server's own answer, cut short.
    async fn foreign(&self, status: &str, text: &str) -> Error {
        let root = self.base.strip_suffix("/api/v1").unwrap_or(&self.base);
        let health = self
            .http
            .get(format!("{root}/health"))
            .timeout(self.timeout)
            .send()
            .await;
        let like_one = match health {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v["status"] == "ok"),
            _ => false,
        };
        if !like_one {
            return Error::unavailable(
                "server",
                format!(
                    "{root} answered {status}: is this a chat-server? (GET /health did not \
                     answer like one)"
                ),
            );
        }
        match status {
            s if s.starts_with("503") => {
                Error::unavailable("server", format!("{status}: {}", snippet(text)))
            }
            _ => Error::Internal(format!("server answered {status}: {}", snippet(text))),
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<(T, bool)> {
        let response = self.send(request).await?;
        let more = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("rel=\"next\"")));
        let status = response.status().to_string();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unavailable("server", format!("reading the answer: {e}")))?;
        let value = match serde_json::from_str::<T>(&text) {
            Ok(v) => v,
            Err(e) => {
                return Err(match self.foreign(&status, &text).await {
                    Error::Internal(_) => {
                        Error::Internal(format!("unexpected response from the server: {e}"))
                    }
                    other => other,
                })
            }
        };
        Ok((value, more))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self.json(self.request(Method::GET, path)).await?.0)
    }

    async fn page<T: DeserializeOwned, C: std::fmt::Display + Clone>(
        &self,
        path: &str,
        page: &PageRequest<C>,
        cursor: impl Fn(&T) -> C,
    ) -> Result<Page<T, C>> {
        page.validate()?;
        let (items, more): (Vec<T>, bool) = self
            .json(self.request(Method::GET, path).query(&page.query_pairs()))
            .await?;
        let next = if more { items.last().map(cursor) } else { None };
        Ok(Page { items, next })
    }
}

impl HttpClient {
    /// Runs an admin job on the server; the server streams no progress, so the observer only
    /// sees the job start and finish.
    async fn job<T: DeserializeOwned>(
        &self,
        name: &str,
        scope: Option<&Token>,
        progress: &dyn Progress,
    ) -> Result<T> {
        progress.start(&format!("{name} (on the server)"), None);
        let body = JobScope {
            application: scope.cloned(),
        };
        let path = format!("/admin/{name}");
        let r = self
            .json(
                self.request(Method::POST, &path)
                    .timeout(self.job_timeout)
                    .json(&body),
            )
            .await;
        progress.finish();
        Ok(r?.0)
    }
}

impl HttpClient {
    /// The server's export stream (`GET /admin/export`, admin): the records of a consistent
    /// snapshot, checked as they arrive ([`crate::transfer::validated`]), so a stream the
    /// connection cut short ends with an error instead of looking complete.
    pub async fn export(&self, scope: Option<&Token>) -> Result<crate::transfer::RecordStream> {
        let mut request = self.stream_request(Method::GET, "/admin/export");
        if let Some(token) = scope {
            request = request.query(&[("application", token.as_str())]);
        }
        let response = self.send(request).await?;
        let chunks = futures::stream::unfold(response, |mut response| async move {
            match response.chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes.to_vec()), response)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(source_chain(&e))), response)),
            }
        });
        let reader = crate::transfer::ChunkReader::new(Box::pin(chunks));
        Ok(crate::transfer::validated(crate::transfer::read_records(
            reader,
        )))
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}

#[async_trait]
impl ChatApi for HttpClient {
    async fn create_application(&self, name: &str) -> Result<Application> {
        // The same checks as the server's, before sending: the same error either way, and an
        // over-long text fails on its own rule rather than on the server's request size limit.
        Name::parse(name)?;
        let body = NameBody {
            name: name.to_owned(),
        };
        Ok(self
            .json(self.request(Method::POST, "/applications").json(&body))
            .await?
            .0)
    }

    async fn get_application(&self, token: &Token) -> Result<Application> {
        self.get(&format!("/applications/{token}")).await
    }

    async fn update_application(&self, token: &Token, name: &str) -> Result<Application> {
        Name::parse(name)?;
        let body = NameBody {
            name: name.to_owned(),
        };
        let path = format!("/applications/{token}");
        Ok(self
            .json(self.request(Method::PATCH, &path).json(&body))
            .await?
            .0)
    }

    async fn list_applications(
        &self,
        page: PageRequest<Token>,
    ) -> Result<Page<Application, Token>> {
        self.page("/applications", &page, |a: &Application| a.token.clone())
            .await
    }

    async fn create_chat(&self, token: &Token) -> Result<Chat> {
        let path = format!("/applications/{token}/chats");
        Ok(self.json(self.request(Method::POST, &path)).await?.0)
    }

    async fn get_chat(&self, token: &Token, chat: ChatNumber) -> Result<Chat> {
        self.get(&format!("/applications/{token}/chats/{chat}"))
            .await
    }

    async fn list_chats(
        &self,
        token: &Token,
        page: PageRequest<ChatNumber>,
    ) -> Result<Page<Chat, ChatNumber>> {
        let path = format!("/applications/{token}/chats");
        self.page(&path, &page, |c: &Chat| c.number).await
    }

    async fn create_message(&self, token: &Token, chat: ChatNumber, body: &str) -> Result<Message> {
        Body::parse(body)?;
        let path = format!("/applications/{token}/chats/{chat}/messages");
        let body = BodyBody {
            body: body.to_owned(),
        };
        Ok(self
            .json(self.request(Method::POST, &path).json(&body))
            .await?
            .0)
    }

    async fn create_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        bodies: &[String],
    ) -> Result<Vec<Message>> {
        crate::model::parse_batch(bodies)?;
        let path = format!("/applications/{token}/chats/{chat}/messages/batch");
        let body = crate::wire::BatchBody {
            messages: bodies
                .iter()
                .map(|b| BodyBody { body: b.clone() })
                .collect(),
        };
        Ok(self
            .json(self.request(Method::POST, &path).json(&body))
            .await?
            .0)
    }

    async fn get_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<Message> {
        self.get(&format!(
            "/applications/{token}/chats/{chat}/messages/{message}"
        ))
        .await
    }

    async fn update_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
        body: &str,
    ) -> Result<Message> {
        Body::parse(body)?;
        let path = format!("/applications/{token}/chats/{chat}/messages/{message}");
        let body = BodyBody {
            body: body.to_owned(),
        };
        Ok(self
            .json(self.request(Method::PATCH, &path).json(&body))
            .await?
            .0)
    }

    async fn list_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        page: PageRequest<MessageNumber>,
    ) -> Result<Page<Message, MessageNumber>> {
        let path = format!("/applications/{token}/chats/{chat}/messages");
        self.page(&path, &page, |m: &Message| m.number).await
    }

    async fn search_messages(
        &self,
        token: &Token,
        chat: ChatNumber,
        request: &SearchRequest,
    ) -> Result<SearchPage> {
        request.validate()?;
        let path = format!("/applications/{token}/chats/{chat}/messages/search");
        let (items, more): (Vec<Message>, bool) = self
            .json(
                self.request(Method::GET, &path)
                    .query(&request.query_pairs()),
            )
            .await?;
        // The server sends `Link: rel="next"` exactly when more remain; the next request is
        // the same one moved past this page.
        let next = if more {
            request.next_page(&items)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn delete_application(&self, token: &Token) -> Result<()> {
        let path = format!("/applications/{token}");
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }

    async fn delete_chat(&self, token: &Token, chat: ChatNumber) -> Result<()> {
        let path = format!("/applications/{token}/chats/{chat}");
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }

    async fn delete_message(
        &self,
        token: &Token,
        chat: ChatNumber,
        message: MessageNumber,
    ) -> Result<()> {
        let path = format!("/applications/{token}/chats/{chat}/messages/{message}");
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }

    async fn follow(
        &self,
        token: &Token,
        chat: ChatNumber,
        after: Option<MessageNumber>,
    ) -> Result<LiveStream> {
        let path = format!("/applications/{token}/chats/{chat}/messages/stream");
        let client = self.clone();
        let open: crate::live_client::Open = Arc::new(move |after| {
            let mut request = client
                .stream_request(Method::GET, &path)
                .header(reqwest::header::ACCEPT, "text/event-stream");
            if after > 0 {
                request = request.header("Last-Event-ID", after.to_string());
            }
            let client = client.clone();
            Box::pin(async move { client.send(request).await })
        });
        crate::live_client::follow(open, after.map_or(0, MessageNumber::get)).await
    }

    async fn recount(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<RecountSummary> {
        self.job("recount", scope, progress.as_ref()).await
    }

    async fn reindex(
        &self,
        scope: Option<&Token>,
        progress: Arc<dyn Progress>,
    ) -> Result<ReindexSummary> {
        self.job("reindex", scope, progress.as_ref()).await
    }

    async fn queue_status(&self) -> Result<QueueStatus> {
        self.get("/admin/queue").await
    }

    async fn retry_dead(&self) -> Result<RetrySummary> {
        Ok(self
            .json(self.request(Method::POST, "/admin/queue/retry-dead"))
            .await?
            .0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_url_may_carry_the_api_prefix_or_a_trailing_slash() {
        for url in [
            "http://127.0.0.1:3000",
            "http://127.0.0.1:3000/",
            "http://127.0.0.1:3000/api/v1",
            "http://127.0.0.1:3000/api/v1/",
        ] {
            let c = HttpClient::new(url).expect(url);
            assert_eq!(c.base, "http://127.0.0.1:3000/api/v1", "{url}");
        }
        assert!(matches!(
            HttpClient::new("ftp://127.0.0.1"),
            Err(Error::BadRequest(_))
        ));
    }
}
