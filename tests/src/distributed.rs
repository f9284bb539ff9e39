//! The distributed profile's harness: `ChatService` on a fresh MariaDB database `chat_<random>`
//! and a fresh Redis key prefix, with no background worker — [`Harness::settle`] drains the
//! queue with the backend's worker instead, so tests never sleep.
//!
//! The services come from `CHAT_TEST_MYSQL_URL` and `CHAT_TEST_REDIS_URL`
//! (`tests/services/services.sh start` and `env`); without them the tests fail, never skip.
//! The search engine comes from `CHAT_TEST_ELASTICSEARCH_URL` (one node or a comma-separated
//! list); `CHAT_TEST_INDEX_SHARDS` and `CHAT_TEST_INDEX_REPLICAS` set the shape of the tests'
//! indices (default 1 shard, no replica), so the same tests run on a single node and on a
//! cluster (`scripts/test` runs the search binaries once per engine).

use std::sync::Arc;

use chat_core::testing::{DistributedBackend, DistributedOptions};
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

/// `CHAT_TEST_REDIS_CLUSTER_URLS`: the test Redis Cluster's nodes, comma-separated.
pub fn cluster_urls() -> String {
    env("CHAT_TEST_REDIS_CLUSTER_URLS")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services with `tests/services/services.sh start` \
             and export them with `eval \"$(tests/services/services.sh env)\"`"
        )
    })
}

/// A number from the environment, when set.
fn env_number(name: &str) -> Option<u32> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {value}")),
    )
}

/// The search engine's URL for the tests' own requests to it: the first node of
/// `CHAT_TEST_ELASTICSEARCH_URL`.
pub fn engine_url() -> String {
    env("CHAT_TEST_ELASTICSEARCH_URL")
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
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
        options: DistributedOptions,
        elasticsearch_url: Option<String>,
    ) -> Self {
        Distributed::start_on(
            Distributed::test_index(options),
            elasticsearch_url,
            &env("CHAT_TEST_REDIS_URL"),
        )
        .await
    }

    /// The search index's shards and replicas the tests ask for by default: no replicas (or
    /// `CHAT_TEST_INDEX_REPLICAS`), at least `CHAT_TEST_INDEX_SHARDS` shards when set.
    fn test_index(mut options: DistributedOptions) -> DistributedOptions {
        options.index_replicas = env_number("CHAT_TEST_INDEX_REPLICAS").unwrap_or(0);
        if let Some(shards) = env_number("CHAT_TEST_INDEX_SHARDS") {
            options.index_shards = options.index_shards.max(shards);
        }
        options
    }

    /// As [`Distributed::start_full`], with the search index's shards and replicas exactly as
    /// `options` say.
    pub async fn start_exact(
        options: DistributedOptions,
        elasticsearch_url: Option<String>,
    ) -> Self {
        Distributed::start_on(options, elasticsearch_url, &env("CHAT_TEST_REDIS_URL")).await
    }

    /// As [`Distributed::start_full`], on the Redis Cluster of `CHAT_TEST_REDIS_CLUSTER_URLS`
    /// (`tests/services/services.sh start redis-cluster`).
    pub async fn start_on_cluster(
        options: DistributedOptions,
        elasticsearch_url: Option<String>,
    ) -> Self {
        Distributed::start_on(
            Distributed::test_index(options),
            elasticsearch_url,
            &cluster_urls(),
        )
        .await
    }

    /// As [`Distributed::start_exact`], on the Redis (or cluster: a comma-separated list) at
    /// `redis_url`.
    pub async fn start_on(
        mut options: DistributedOptions,
        elasticsearch_url: Option<String>,
        redis_url: &str,
    ) -> Self {
        let admin_url = env("CHAT_TEST_MYSQL_URL");
        let redis_url = redis_url.to_owned();
        let (database, database_url) = crate::cluster::create_database(&admin_url).await;
        let suffix = database.trim_start_matches("chat_").to_owned();
        let prefix = format!("test:{suffix}:");
        options.key_prefix = prefix.clone();
        options.index_prefix = format!("test-{suffix}");
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

    /// A Redis connection to the test's Redis (on a cluster: to its first node; see
    /// [`Distributed::cluster`]).
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        let first = self.redis_url.split(',').next().unwrap_or_default();
        redis::Client::open(first)
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis")
    }

    /// A cluster connection to the test's Redis Cluster (routes each command by its keys).
    pub async fn cluster(&self) -> redis::cluster_async::ClusterConnection {
        redis::cluster::ClusterClient::new(self.redis_url.split(',').collect::<Vec<_>>())
            .expect("cluster urls")
            .get_async_connection()
            .await
            .expect("connect to the cluster")
    }

    /// Deletes every Redis key of this test: what `FLUSHALL` would do to this deployment,
    /// without touching the other tests sharing the Redis (on a cluster: on every master).
    pub async fn flush_redis(&self) {
        for url in self.redis_url.split(',') {
            let Ok(client) = redis::Client::open(url) else {
                continue;
            };
            // A node that is down (a failover test) holds nothing to delete.
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                continue;
            };
            let Ok(keys) = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query_async::<Vec<String>>(&mut conn)
                .await
            else {
                continue;
            };
            // One key per command: on a cluster a node's keys span several slots.
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("DEL").arg(key).ignore();
            }
            let _ = pipe.query_async::<()>(&mut conn).await;
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

/// A profile a chat-server can serve: its [`ChatService`].
pub trait Served: Harness {
    /// The service the profile runs.
    fn service(&self) -> ChatService;
}

impl Served for Distributed {
    fn service(&self) -> ChatService {
        self.service.clone()
    }
}

impl Served for Searching {
    fn service(&self) -> ChatService {
        self.0.service.clone()
    }
}

impl Served for ClusterSearching {
    fn service(&self) -> ChatService {
        self.0.service.clone()
    }
}

/// A chat-server on a random local port over the profile `P`, reached through
/// [`chat_core::HttpClient`]; settling settles the profile (drains the queue behind the server).
pub struct OverHttp<P> {
    /// The server.
    pub http: crate::Http,
    /// The profile behind it.
    pub profile: P,
}

impl<P: Served> Harness for OverHttp<P> {
    async fn start() -> Self {
        let profile = P::start().await;
        let http = crate::Http::serve(profile.service(), |_| {}).await;
        OverHttp { http, profile }
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        self.http.api()
    }

    async fn settle(&self) {
        self.profile.settle().await;
    }

    async fn stop(self) {
        self.http.stop().await;
        self.profile.stop().await;
    }
}

/// The distributed profile over HTTP.
pub type HttpDistributed = OverHttp<Distributed>;
/// [`Searching`] over HTTP.
pub type HttpSearching = OverHttp<Searching>;
/// [`ClusterSearching`] over HTTP.
pub type HttpClusterSearching = OverHttp<ClusterSearching>;

/// The distributed profile searching through a real Elasticsearch / OpenSearch
/// (`CHAT_TEST_ELASTICSEARCH_URL`), on a private index.
pub struct Searching(pub Distributed);

impl Searching {
    /// Starts with the given options.
    pub async fn start_with(options: DistributedOptions) -> Self {
        Searching(Distributed::start_full(options, Some(env("CHAT_TEST_ELASTICSEARCH_URL"))).await)
    }

    /// Starts on the engine at `url` (one node or a list), the index shaped exactly as
    /// `options` say.
    pub async fn start_on(url: &str, options: DistributedOptions) -> Self {
        Searching(Distributed::start_exact(options, Some(url.to_owned())).await)
    }

    /// Starts with a background worker that reads often, as a deployment's would.
    pub async fn with_worker() -> Self {
        Searching::start_with(DistributedOptions {
            worker: chat_core::testing::WorkerOptions {
                block: std::time::Duration::from_millis(100),
                ..Default::default()
            },
            ..DistributedOptions::default()
        })
        .await
    }

    /// The search engine.
    pub fn engine(&self) -> &chat_core::testing::ElasticSearch {
        self.0.backend.search().expect("a search engine")
    }

    /// Documents in the test's index, after a refresh (the engine's own `_count`).
    pub async fn indexed(&self) -> u64 {
        self.engine().refresh(None).await.expect("refresh");
        let url = format!("{}/{}/_count", engine_url(), self.engine().alias());
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

/// The distributed profile on the Redis Cluster (`CHAT_TEST_REDIS_CLUSTER_URLS`) with
/// MariaDB, no background worker.
pub struct ClusterDistributed(pub Distributed);

impl Harness for ClusterDistributed {
    async fn start() -> Self {
        ClusterDistributed(
            Distributed::start_on_cluster(
                DistributedOptions {
                    background_worker: false,
                    ..DistributedOptions::default()
                },
                None,
            )
            .await,
        )
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

/// The distributed profile on the Redis Cluster and OpenSearch
/// (`CHAT_TEST_ELASTICSEARCH_URL`), no background worker.
pub struct ClusterSearching(pub Distributed);

impl Harness for ClusterSearching {
    async fn start() -> Self {
        ClusterSearching(
            Distributed::start_on_cluster(
                DistributedOptions {
                    background_worker: false,
                    ..DistributedOptions::default()
                },
                Some(env("CHAT_TEST_ELASTICSEARCH_URL")),
            )
            .await,
        )
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
