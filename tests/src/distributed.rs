//! The distributed profile's harness: `ChatService` on a fresh MariaDB database `chat_<random>`
//! and a fresh Redis key prefix, with no background worker — [`Harness::settle`] drains the
//! queue with the backend's worker instead, so tests never sleep.
//!
//! The services come from `CHAT_TEST_MYSQL_URL` and `CHAT_TEST_REDIS_URL`
//! (`tests/services/services.sh start` and `env`); without them the tests fail, never skip.

use std::sync::Arc;

use chat_core::store::distributed::{DistributedBackend, DistributedOptions};
use chat_core::{ChatApi, ChatService, Config};
use sqlx::{Connection, MySqlConnection};

use crate::Harness;

/// `ChatService` on the distributed profile, with private storage.
pub struct Distributed {
    /// The service.
    pub service: ChatService,
    /// Its backend (for the worker and the query counter).
    pub backend: Arc<DistributedBackend>,
    /// `mysql://…/chat_<random>`: the test's own database.
    pub database_url: String,
    /// The Redis URL.
    pub redis_url: String,
    /// The test's Redis key prefix.
    pub prefix: String,
    database: String,
    admin_url: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services with `tests/services/services.sh start` \
             and export them with `eval \"$(tests/services/services.sh env)\"`"
        )
    })
}

impl Distributed {
    /// Starts on a fresh database and prefix with the given options (the prefix is
    /// overridden).
    pub async fn start_with(options: DistributedOptions) -> Self {
        Distributed::start_full(options, None).await
    }

    /// As [`Distributed::start_with`], searching through the Elasticsearch / OpenSearch at
    /// `elasticsearch_url` on a private index (prefix `test-…`, no replicas).
    pub async fn start_full(
        mut options: DistributedOptions,
        elasticsearch_url: Option<String>,
    ) -> Self {
        let admin_url = env("CHAT_TEST_MYSQL_URL");
        let redis_url = env("CHAT_TEST_REDIS_URL");
        let (database, database_url) = crate::cluster::create_database(&admin_url).await;
        let suffix = database.trim_start_matches("chat_").to_owned();
        let prefix = format!("test:{suffix}:");
        options.key_prefix = prefix.clone();
        options.index_prefix = format!("test-{suffix}");
        options.index_replicas = 0;
        let config = Config {
            redis_url: Some(redis_url.clone()),
            elasticsearch_url,
            ..Config::with_database_url(database_url.clone())
        };
        let backend = Arc::new(
            DistributedBackend::open(&config, options)
                .await
                .expect("open the distributed backend"),
        );
        let service = ChatService::from_backend(backend.clone());
        Distributed {
            service,
            backend,
            database_url,
            redis_url,
            prefix,
            database,
            admin_url,
        }
    }

    /// A Redis connection to the test's Redis.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis")
    }

    /// Deletes every Redis key of this test: what `FLUSHALL` would do to this deployment,
    /// without touching the other tests sharing the Redis.
    pub async fn flush_redis(&self) {
        let mut conn = self.redis().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await
                .expect("DEL");
        }
    }

    /// A connection to the test's database.
    pub async fn mysql(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }
}

impl Harness for Distributed {
    async fn start() -> Self {
        Distributed::start_with(DistributedOptions {
            background_worker: false,
            ..DistributedOptions::default()
        })
        .await
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        Arc::new(self.service.clone())
    }

    async fn settle(&self) {
        self.backend
            .worker()
            .drain()
            .await
            .expect("drain the queue");
        if let Some(search) = self.backend.search() {
            search
                .refresh(None)
                .await
                .expect("refresh the search index");
        }
    }

    async fn stop(self) {
        self.service.close().await;
        self.flush_redis().await;
        if let Some(search) = self.backend.search() {
            for index in search.indices().await.unwrap_or_default() {
                let _ = search.delete_index(&index).await;
            }
        }
        crate::cluster::drop_database(&self.admin_url, &self.database).await;
    }
}

/// A chat-server on a random local port over the distributed profile, reached through
/// [`chat_core::HttpClient`]; settling drains the queue behind the server.
pub struct HttpDistributed {
    /// The server.
    pub http: crate::Http,
    /// The profile behind it.
    pub distributed: Distributed,
}

impl Harness for HttpDistributed {
    async fn start() -> Self {
        let distributed = Distributed::start().await;
        let http = crate::Http::serve(distributed.service.clone(), |_| {}).await;
        HttpDistributed { http, distributed }
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        self.http.api()
    }

    async fn settle(&self) {
        self.distributed.settle().await;
    }

    async fn stop(self) {
        self.http.stop().await;
        self.distributed.stop().await;
    }
}

/// The distributed profile searching through a real Elasticsearch / OpenSearch
/// (`CHAT_TEST_ELASTICSEARCH_URL`), on a private index.
pub struct Searching(pub Distributed);

impl Searching {
    /// Starts with the given options.
    pub async fn start_with(options: DistributedOptions) -> Self {
        Searching(Distributed::start_full(options, Some(env("CHAT_TEST_ELASTICSEARCH_URL"))).await)
    }

    /// Starts with a background worker that reads often, as a deployment's would.
    pub async fn with_worker() -> Self {
        Searching::start_with(DistributedOptions {
            worker: chat_core::store::distributed::worker::WorkerOptions {
                block: std::time::Duration::from_millis(100),
                ..Default::default()
            },
            ..DistributedOptions::default()
        })
        .await
    }

    /// The search engine.
    pub fn engine(&self) -> &chat_core::store::distributed::search::ElasticSearch {
        self.0.backend.search().expect("a search engine")
    }

    /// Documents in the test's index, after a refresh (the engine's own `_count`).
    pub async fn indexed(&self) -> u64 {
        self.engine().refresh(None).await.expect("refresh");
        let url = format!(
            "{}/{}/_count",
            env("CHAT_TEST_ELASTICSEARCH_URL"),
            self.engine().alias()
        );
        let v: serde_json::Value = reqwest::get(url)
            .await
            .expect("_count")
            .json()
            .await
            .expect("_count answer");
        v["count"].as_u64().expect("a count")
    }

    /// Message rows in the test's database.
    pub async fn stored(&self) -> u64 {
        let mut db = self.0.mysql().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&mut db)
            .await
            .expect("count the rows");
        let _ = db.close().await;
        n.unsigned_abs()
    }
}

impl Harness for Searching {
    async fn start() -> Self {
        Searching::start_with(DistributedOptions {
            background_worker: false,
            ..DistributedOptions::default()
        })
        .await
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        self.0.api()
    }

    async fn settle(&self) {
        self.0.settle().await;
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

/// A chat-server over [`Searching`], reached through [`chat_core::HttpClient`].
pub struct HttpSearching {
    /// The server.
    pub http: crate::Http,
    /// The profile behind it.
    pub searching: Searching,
}

impl Harness for HttpSearching {
    async fn start() -> Self {
        let searching = Searching::start().await;
        let http = crate::Http::serve(searching.0.service.clone(), |_| {}).await;
        HttpSearching { http, searching }
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        self.http.api()
    }

    async fn settle(&self) {
        self.searching.settle().await;
    }

    async fn stop(self) {
        self.http.stop().await;
        self.searching.stop().await;
    }
}
