//! [`Context`]: what every command gets — the [`ChatApi`] to call (in-process or over HTTP),
//! the output, and the flags that shape progress reporting — and the hints added to failures,
//! which depend on where chatctl was pointed.

use std::sync::Arc;
use std::time::Duration;

use chat_core::{ChatApi, ChatService, Config, Error, HttpClient, Missing};

use crate::cli::GlobalArgs;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use crate::progress::Bar;

/// Where the commands go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A chat-server at this URL.
    Server(String),
    /// The stores themselves, starting with this database (password redacted).
    Direct(String),
}

/// The API and the output of one run.
pub struct Context {
    /// The chat system, either way.
    pub api: Arc<dyn ChatApi>,
    /// Where results and notes go.
    pub out: Output,
    /// Where the commands go, for hints.
    pub target: Target,
    /// In direct mode, the service to close before exiting.
    service: Option<ChatService>,
    /// With `--server`, the HTTP client behind `api`.
    client: Option<HttpClient>,
    /// `--timeout`, for hints.
    timeout: u64,
}

impl Context {
    /// Opens the stores, or prepares the HTTP client when `--server` is given.
    /// `may_create`: whether the command writes, and so may create a missing SQLite database;
    /// a command that only reads refuses one.
    /// `worker`: whether to run a queue worker of this process's own in direct mode (a
    /// command that waits for the distributed profile's queue to drain).
    pub async fn open(global: &GlobalArgs, may_create: bool, worker: bool) -> CliResult<Context> {
        let out = Output::new(global.format(), global.quiet);
        if let Some(url) = global.server.as_deref().filter(|u| !u.trim().is_empty()) {
            let mut client = HttpClient::new(url)?
                .with_timeout(Duration::from_secs(global.timeout))
                .with_job_timeout(Duration::from_secs(global.job_timeout));
            if let Some(t) = &global.admin_token {
                client = client.with_admin_token(t.clone());
            }
            return Ok(Context {
                api: Arc::new(client.clone()),
                out,
                target: Target::Server(url.to_owned()),
                service: None,
                client: Some(client),
                timeout: global.timeout,
            });
        }
        let mut config = global.storage.config();
        // A short-lived command enqueues; the deployment's worker processes persist.
        config.worker = worker;
        config.recount_interval = None;
        config.create_if_missing = may_create;
        let target = Target::Direct(chat_core::config::redact_url(&config.database_url));
        let service = ChatService::open(&config).await.map_err(|e| {
            let hint = match &e {
                Error::Unavailable { backend, reason }
                    if backend == "sqlite" && reason.starts_with("no database at") =>
                {
                    Some(format!(
                        "nothing was written to {} yet: create an application first \
                         (`chatctl app create NAME` or `chatctl demo`), or point \
                         --database-url (CHAT_DATABASE_URL) at an existing database",
                        chat_core::config::redact_url(&config.database_url)
                    ))
                }
                Error::Unavailable { backend, .. } => Some(backend_hint(backend, &config)),
                _ => None,
            };
            let err = CliError::from(e);
            match hint {
                Some(h) => err.hint(h),
                None => err,
            }
        })?;
        Ok(Context {
            api: Arc::new(service.clone()),
            out,
            target,
            service: Some(service),
            client: None,
            timeout: global.timeout,
        })
    }

    /// The service, in direct mode.
    pub fn service(&self) -> Option<&ChatService> {
        self.service.as_ref()
    }

    /// The HTTP client, with `--server`.
    pub fn client(&self) -> Option<&HttpClient> {
        self.client.as_ref()
    }

    /// A progress bar on stderr (hidden with `--quiet` or when stderr is not a terminal).
    pub fn bar(&self) -> Arc<Bar> {
        Arc::new(Bar::new(self.out.quiet()))
    }

    /// In direct mode, commits every accepted write and closes the database.
    pub async fn close(&self) {
        if let Some(service) = &self.service {
            service.close().await;
        }
    }

    /// Adds what to try next to failures where chatctl can tell.
    pub fn hint(&self, err: CliError) -> CliError {
        let hint = match (err.api(), &self.target) {
            (Some(Error::Unavailable { backend, reason }), Target::Server(url))
                if backend == "server" && reason.starts_with("no answer in time") =>
            {
                Some(format!(
                    "{url} did not answer in time: --timeout or CHAT_TIMEOUT is {} s, \
                     --job-timeout or CHAT_JOB_TIMEOUT bounds recount and reindex",
                    self.timeout
                ))
            }
            (Some(Error::Unavailable { backend, reason }), Target::Server(_))
                if backend == "server"
                    && reason.contains("a chat-server? (GET /health did not") =>
            {
                Some("check --server or CHAT_SERVER".to_owned())
            }
            (Some(Error::Unavailable { backend, .. }), Target::Server(url))
                if backend == "server" =>
            {
                Some(format!("is chat-server running at {url}?"))
            }
            (Some(Error::Unavailable { backend, .. }), Target::Direct(db))
                if backend == "sqlite" || backend == "mysql" =>
            {
                Some(format!("is the database at {db} reachable?"))
            }
            (Some(Error::Unavailable { backend, .. }), Target::Direct(_)) if backend == "redis" => {
                Some("is Redis reachable? check --redis-url or CHAT_REDIS_URL".to_owned())
            }
            (Some(Error::Unavailable { backend, .. }), Target::Direct(_))
                if backend == "elasticsearch" =>
            {
                Some(
                    "is the search engine reachable? check --elasticsearch-url or \
                     CHAT_ELASTICSEARCH_URL"
                        .to_owned(),
                )
            }
            (Some(Error::Forbidden(_)), Target::Server(_)) => Some(
                "pass --admin-token or set CHAT_ADMIN_TOKEN to the server's admin token".into(),
            ),
            (Some(Error::NotFound(Missing::Application { .. })), Target::Direct(db)) => Some(
                format!("looked in {db}; `chatctl app list` shows the applications"),
            ),
            (Some(Error::NotFound(Missing::Application { .. })), Target::Server(url)) => {
                Some(format!("asked {url}"))
            }
            _ => None,
        };
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

/// Which setting names the backend that could not be reached, and its (redacted) URL.
fn backend_hint(backend: &str, config: &Config) -> String {
    let url =
        |u: Option<&str>| u.map_or_else(|| "not set".to_owned(), chat_core::config::redact_url);
    match backend {
        "redis" => format!(
            "is Redis reachable at {}? check --redis-url or CHAT_REDIS_URL",
            url(config.redis_url.as_deref())
        ),
        "elasticsearch" => format!(
            "is the search engine reachable at {}? check --elasticsearch-url or \
             CHAT_ELASTICSEARCH_URL",
            url(config.elasticsearch_url.as_deref())
        ),
        _ => format!(
            "is the {backend} database reachable at {}? check --database-url or \
             CHAT_DATABASE_URL",
            url(Some(&config.database_url))
        ),
    }
}
