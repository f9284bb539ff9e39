//! # chat-server
//!
//! A thin axum server for the chat API over [`chat_core::ChatService`]: routes parse and
//! validate HTTP, the library does the work, [`error::ApiError`] turns failures into the JSON
//! error shape. Around the routes sit the limits (64 KiB bodies, a request timeout, a
//! concurrency limit that sheds overload with a quick 503, an optional per-application rate
//! limit), one log line and metrics per request, and graceful shutdown that commits every
//! accepted write before the process exits. Beside the API it serves the web console
//! ([`console`]) and the per-second request statistics its charts follow ([`stats`]).

pub mod cli;
pub mod console;
pub mod error;
pub mod extract;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod run;
pub mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chat_core::ChatService;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::metrics::HttpMetrics;

/// Shared state of every handler: one reference-counted allocation, so the copies the
/// middleware takes for each request cost one count each (see [`Shared`]).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The chat system.
    pub service: ChatService,
    /// `CHAT_ADMIN_TOKEN`, when configured.
    pub admin_token: Option<Arc<str>>,
    /// Request counters.
    pub metrics: Arc<HttpMetrics>,
    /// Per-application request limiter, when configured.
    pub rate_limiter: Option<Arc<limits::RateLimiter>>,
    /// Open live streams, their limit and counters.
    pub live: Arc<live::LiveStreams>,
    /// Requests second by second, for `/api/v1/stats/stream`.
    pub stats: Arc<stats::Stats>,
    /// Whether each request is logged at `info` (`--access-log`); otherwise at `debug`.
    pub access_log: bool,
    /// The concurrency limit of expensive searches (`--max-searches`).
    pub searches: Arc<limits::SearchGate>,
}

/// How one chat-server is set up besides its storage ([`chat_core::Config`]): where it listens,
/// what it serves, its admin token and its limits. The defaults are the command line's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port; see [`Application::local_addr`]).
    pub listen: std::net::SocketAddr,
    /// What this process does (distributed profile).
    pub role: cli::Role,
    /// The token admin endpoints require; without one they answer 403.
    pub admin_token: Option<String>,
    /// Requests per second allowed per application (0 = unlimited).
    pub rate_limit: u32,
    /// Live streams open at once.
    pub max_streams: usize,
    /// Timeouts and concurrency around the routes.
    pub limits: Limits,
    /// One log line per request at `info` (`--access-log`); without it they are logged at
    /// `debug`, so a server sharing a terminal does not fill it.
    pub access_log: bool,
}

/// The default listen address: loopback, port 3000 (`--listen`'s default and
/// [`Settings::default`]'s).
pub const DEFAULT_LISTEN: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3000);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: DEFAULT_LISTEN,
            role: cli::Role::All,
            admin_token: None,
            rate_limit: 0,
            max_streams: live::DEFAULT_MAX_STREAMS,
            limits: Limits::default(),
            access_log: false,
        }
    }
}

/// A chat-server ready to serve: the service opened, the listener bound, the routes built.
/// `chat-server` runs one; tests build theirs the same way.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    router: Router,
    limits: Limits,
}

impl Application {
    /// Opens the service described by `config` and builds the server of `settings`.
    pub async fn build(config: &chat_core::Config, settings: &Settings) -> Result<Self, String> {
        if settings.role != cli::Role::All && !config.database_url.starts_with("mysql:") {
            return Err(format!(
                "--role {} needs the distributed profile (a mysql:// database with --redis-url): \
                 the embedded profile commits every write in the serving process",
                if settings.role == cli::Role::Api {
                    "api"
                } else {
                    "worker"
                }
            ));
        }
        let service = ChatService::open(config).await.map_err(|e| e.to_string())?;
        Application::with_service(service, settings)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {}: {e}: choose another address with --listen HOST:PORT \
                     (or CHAT_LISTEN)",
                    settings.listen
                )
            })
    }

    /// Builds the server of `settings` around an open service.
    pub async fn with_service(service: ChatService, settings: &Settings) -> std::io::Result<Self> {
        let state = AppState(Arc::new(Shared {
            service,
            admin_token: settings.admin_token.as_deref().map(Arc::from),
            metrics: Arc::default(),
            rate_limiter: (settings.rate_limit > 0)
                .then(|| Arc::new(limits::RateLimiter::new(settings.rate_limit))),
            live: Arc::new(live::LiveStreams::new(settings.max_streams)),
            stats: Arc::default(),
            access_log: settings.access_log,
            searches: Arc::new(limits::SearchGate::new(
                settings.limits.max_searches,
                settings.limits.search_queue,
            )),
        }));
        let router = match settings.role {
            cli::Role::Worker => ops_app(state.clone(), &settings.limits),
            cli::Role::Api | cli::Role::All => app(state.clone(), &settings.limits),
        };
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(Application {
            listener,
            state,
            router,
            limits: settings.limits.clone(),
        })
    }

    /// The address the server listens on (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The state every handler shares (the service, the metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; see [`serve_router`].
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve_router(
            self.listener,
            self.state,
            self.router,
            &self.limits,
            shutdown,
        )
        .await
    }
}

/// Limits around the routes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Requests served at once; more are shed with a quick 503.
    pub max_concurrency: usize,
    /// Longest a connection may take to send a request's headers, counted from when the server
    /// waits for them: a client that has not finished its headers by then (a slowloris), or a
    /// keep-alive connection idle that long between requests, is closed.
    pub header_timeout: Duration,
    /// Expensive searches (`relevance`, and queries of one or two characters) run at once;
    /// more wait in line up to [`Limits::search_queue`], then get 503 with `Retry-After`.
    pub max_searches: usize,
    /// Longest an expensive search waits for a place before it is refused.
    pub search_queue: Duration,
}

/// The default of [`Limits::max_searches`]: half the CPU cores, at least one, so expensive
/// searches leave the other half to every other request.
pub fn default_max_searches() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            max_concurrency: 1024,
            header_timeout: Duration::from_secs(10),
            max_searches: default_max_searches(),
            search_queue: Duration::from_millis(250),
        }
    }
}

fn api_routes() -> Router<AppState> {
    use routes::{admin, applications, chats, messages, stats, stream};
    let apps = Router::new()
        .route(
            "/{token}",
            get(applications::show)
                .put(applications::update)
                .patch(applications::update)
                .delete(applications::delete),
        )
        .route("/{token}/chats", post(chats::create).get(chats::list))
        .route(
            "/{token}/chats/{number}",
            get(chats::show).delete(chats::delete),
        )
        .route(
            "/{token}/chats/{number}/messages",
            post(messages::create).get(messages::list),
        )
        .route(
            "/{token}/chats/{number}/messages/batch",
            post(messages::create_batch).layer(DefaultBodyLimit::max(extract::BATCH_BODY_LIMIT)),
        )
        .route(
            "/{token}/chats/{number}/messages/search",
            get(messages::search),
        )
        .route(
            "/{token}/chats/{number}/messages/stream",
            get(stream::stream),
        )
        .route(
            "/{token}/chats/{number}/messages/{message}",
            get(messages::show)
                .put(messages::update)
                .patch(messages::update)
                .delete(messages::delete),
        );
    Router::new()
        .route(
            "/applications",
            post(applications::create).get(applications::list),
        )
        .route(
            "/chat_applications",
            post(applications::create).get(applications::list),
        )
        .nest("/applications", apps.clone())
        .nest("/chat_applications", apps)
        .route("/admin/recount", post(admin::recount))
        .route("/admin/reindex", post(admin::reindex))
        .route("/admin/queue", get(admin::queue))
        .route("/admin/export", get(admin::export))
        .route("/admin/queue/retry-dead", post(admin::retry_dead))
        .route("/stats/stream", get(stats::stream))
}

/// The whole application: the API, the web console, error shapes, limits, logs and metrics.
pub fn app(state: AppState, limits: &Limits) -> Router {
    wrap(
        Router::new()
            .nest("/api/v1", api_routes())
            .merge(console::routes()),
        state,
        limits,
    )
}

/// Only the operations routes (`/health`, `/ready`, `/metrics`, `/openapi.json`): what a
/// worker-only process serves, so it can be probed and scraped like the others.
pub fn ops_app(state: AppState, limits: &Limits) -> Router {
    wrap(Router::new(), state, limits)
}

fn wrap(routes: Router<AppState>, state: AppState, limits: &Limits) -> Router {
    use routes::ops;
    routes
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(limits::refuse))
                .load_shed()
                .concurrency_limit(limits.max_concurrency.max(1))
                .timeout(limits.request_timeout),
        )
        .layer(middleware::from_fn(error::json_rejections))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::http(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: the API lives under /api/v1 (see /openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method (see /openapi.json)",
    )
}

/// One log line (at `info` with `--access-log`, else `debug`) and one metrics sample per request. Logs the route template, never the URI
/// (it holds tokens) and never a body.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let method = req.method().clone();
    // The template is shared (a reference count), not copied.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    s.metrics.record(method.as_str(), route, status, elapsed);
    s.stats.record(method.as_str(), route, elapsed);
    let latency_us = elapsed.as_micros() as u64;
    if s.access_log {
        tracing::info!(method = %method, route = %route, status, latency_us, "request");
    } else {
        tracing::debug!(method = %method, route = %route, status, latency_us, "request");
    }
    response
}

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish and commits
/// every accepted write before returning.
///
/// Each connection is served by hyper's HTTP/1 with a header-read timeout
/// ([`Limits::header_timeout`]), which also closes keep-alive connections idle that long. On
/// shutdown the listener closes at once, idle connections close, and the server returns when
/// the requests in flight have been answered.
pub async fn serve_router(
    listener: TcpListener,
    state: AppState,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = state.service.clone();
    state.stats.start();
    // Open streams never end by themselves: end them first, so the connections can close.
    let live = Arc::clone(&state.live);
    let shutdown = async move {
        shutdown.await;
        live.shut_down();
    };
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout.max(Duration::from_millis(1)));
    // Tells the connections to finish; each holds a receiver, so `closed()` says when all are gone.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http1.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(app.clone()),
        );
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection closed");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(stop);
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    service.close().await;
    tracing::info!("stopped; every acknowledged write is committed");
    Ok(())
}
