//! [`Config`]: where the data lives and how the service behaves. Programs build it in code
//! ([`Config::default`], [`Config::with_database_url`] and explicit fields) or, with feature
//! `cli`, from the storage flags and their `CHAT_…` environment variables (`StorageArgs`,
//! the one reader of those variables). Secrets in URLs are redacted when a configuration is
//! printed.

use std::fmt;
use std::time::Duration;

/// The default database: an SQLite file under `./chat-data`, created when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://chat-data/chat.db";

/// The default prefix of every Redis key (distributed profile).
pub const DEFAULT_REDIS_PREFIX: &str = "chat:";

/// The default prefix of the search index's alias (distributed profile).
pub const DEFAULT_INDEX_PREFIX: &str = "chat";

/// The default number of replicas of the search index (distributed profile).
pub const DEFAULT_INDEX_REPLICAS: u32 = 1;

/// The default number of primary shards of the search index (distributed profile): one, right
/// for one node; a cluster of N nodes wants at least N (documents are routed by chat, so a
/// search reads one shard whatever the count).
pub const DEFAULT_INDEX_SHARDS: u32 = 1;
/// The default number of queue shards of the distributed profile.
pub const DEFAULT_REDIS_SHARDS: u16 = 16;

/// How long a write waits for its Redis replicas by default (with `redis_ack_replicas` > 0).
pub const DEFAULT_REDIS_ACK_TIMEOUT: Duration = Duration::from_millis(1000);

/// The default time a queue entry may stay with a silent worker before another takes it over.
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(30);

/// Whether each commit waits for the disk by default (`fsync`): yes, so a commit survives
/// power loss.
pub const DEFAULT_FSYNC: bool = true;

/// How a [`crate::ChatService`] is set up. The backends are chosen by the URLs' schemes.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://path` (embedded profile) or `mysql://…` (distributed profile).
    pub database_url: String,
    /// `redis://…`: numbering and queue of the distributed profile; a comma-separated list of
    /// node URLs means a Redis Cluster.
    pub redis_url: Option<String>,
    /// Distributed profile: the number of queue shards (streams); fixed for a deployment.
    pub redis_shards: u16,
    /// Distributed profile: a create, edit or delete answers only once this many Redis
    /// replicas hold it (`WAIT`); 0 answers once the Redis master has it.
    pub redis_ack_replicas: u32,
    /// Distributed profile: how long a write waits for those replicas before it fails.
    pub redis_ack_timeout: Duration,
    /// `http://…`: Elasticsearch / OpenSearch of the distributed profile; a comma-separated
    /// list names several nodes of one cluster.
    pub elasticsearch_url: Option<String>,
    /// Most write requests committed in one transaction.
    pub max_batch: usize,
    /// Connections used for reads (the writer has its own).
    pub read_connections: u32,
    /// Embedded profile: how many of a chat's rows a `newest`/`oldest` search reads in the
    /// page's order before it asks the trigram index for the rest (a common substring fills
    /// its page within them; it reads on while the matches so far promise a full page soon).
    /// 0 always asks the index.
    pub search_probe: u32,
    /// How long a write waits for another process holding the SQLite file's write lock.
    pub busy_timeout: Duration,
    /// Whether each commit waits for the disk (`fsync`): survives power loss, not only crashes.
    pub fsync: bool,
    /// Embedded profile: create the database file (and its folders) when it is missing. Tools
    /// that only read turn it off, so a mistyped path is an error rather than a new, empty
    /// database.
    pub create_if_missing: bool,
    /// Distributed profile: whether this process runs a queue worker (and the periodic
    /// recount) besides serving requests. API-only processes turn it off. Embedded profile:
    /// whether this process's writer fills the search index from the backlog when it has
    /// nothing else to do; off, another process on the file does it (search is exact either
    /// way).
    pub worker: bool,
    /// Distributed profile: prefix of every Redis key, so deployments can share one Redis.
    pub redis_prefix: String,
    /// Distributed profile: how often a worker recounts every application's counts to heal
    /// drift (one worker per interval across all processes); `None` turns it off.
    pub recount_interval: Option<Duration>,
    /// Distributed profile: how long a queue entry may stay with a worker that does not
    /// acknowledge it (it died) before another worker takes it over.
    pub claim_idle: Duration,
    /// Distributed profile: the search index's alias is `{index_prefix}-messages`.
    pub index_prefix: String,
    /// Distributed profile: replicas of the search index (0 on a one-node cluster).
    pub index_replicas: u32,
    /// Distributed profile: primary shards of the search index (applies to indices created
    /// from now on: the first one, and each full reindex's).
    pub index_shards: u32,
}

/// The default of [`Config::search_probe`]: rows of a chat a search reads before the index.
pub const DEFAULT_SEARCH_PROBE: u32 = 32;

/// The default interval of the distributed profile's periodic recount.
pub const DEFAULT_RECOUNT_INTERVAL: Duration = Duration::from_secs(30 * 60);

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            redis_url: None,
            redis_shards: DEFAULT_REDIS_SHARDS,
            redis_ack_replicas: 0,
            redis_ack_timeout: DEFAULT_REDIS_ACK_TIMEOUT,
            elasticsearch_url: None,
            max_batch: 1024,
            read_connections: 4,
            search_probe: DEFAULT_SEARCH_PROBE,
            busy_timeout: Duration::from_secs(10),
            fsync: DEFAULT_FSYNC,
            create_if_missing: true,
            worker: true,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            recount_interval: Some(DEFAULT_RECOUNT_INTERVAL),
            claim_idle: DEFAULT_CLAIM_IDLE,
            index_prefix: DEFAULT_INDEX_PREFIX.to_owned(),
            index_replicas: DEFAULT_INDEX_REPLICAS,
            index_shards: DEFAULT_INDEX_SHARDS,
        }
    }
}

impl Config {
    /// The defaults, with a database URL.
    pub fn with_database_url(url: impl Into<String>) -> Self {
        Config {
            database_url: url.into(),
            ..Config::default()
        }
    }
}

impl Config {
    /// The settings that matter for the profile this configuration selects, as
    /// `(name, value)` pairs for a start-up log: URLs with their passwords redacted, no other
    /// secret, and none of the other profile's settings.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("database_url", redact_url(&self.database_url))];
        if self.database_url.starts_with("mysql:") {
            let url = |u: &Option<String>| u.as_deref().map_or("(not set)".to_owned(), redact_url);
            out.extend([
                ("redis_url", url(&self.redis_url)),
                ("redis_prefix", self.redis_prefix.clone()),
                ("redis_shards", self.redis_shards.to_string()),
                ("redis_ack_replicas", self.redis_ack_replicas.to_string()),
                ("elasticsearch_url", url(&self.elasticsearch_url)),
                ("index_prefix", self.index_prefix.clone()),
                ("index_replicas", self.index_replicas.to_string()),
                ("index_shards", self.index_shards.to_string()),
                ("worker", self.worker.to_string()),
                ("claim_idle", format!("{}s", self.claim_idle.as_secs())),
                (
                    "recount_interval",
                    self.recount_interval
                        .map_or("off".to_owned(), |d| format!("{}s", d.as_secs())),
                ),
            ]);
        } else {
            out.extend([
                ("fsync", self.fsync.to_string()),
                ("max_batch", self.max_batch.to_string()),
                ("read_connections", self.read_connections.to_string()),
                ("search_probe", self.search_probe.to_string()),
                (
                    "busy_timeout",
                    format!("{}ms", self.busy_timeout.as_millis()),
                ),
            ]);
        }
        out
    }
}

/// The storage flags that chat-server and chatctl share (feature `cli`), each with its `CHAT_…`
/// environment variable and the defaults of [`Config::default`]. The variables are read here,
/// by the command line, and nowhere else in the programs.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Database: sqlite://PATH (embedded profile) or mysql://USER:PASSWORD@HOST:PORT/DATABASE
    /// (distributed profile, with --redis-url)
    #[arg(long, env = "CHAT_DATABASE_URL", value_name = "URL",
          default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Redis of the distributed profile (numbering and write queue): redis://HOST:PORT, or a
    /// comma-separated list of a Redis Cluster's nodes
    #[arg(
        long,
        env = "CHAT_REDIS_URL",
        value_name = "URL",
        hide_env_values = true,
        global = true
    )]
    pub redis_url: Option<String>,

    /// Queue shards (streams) of the distributed profile; fixed once a deployment has used it
    #[arg(long, env = "CHAT_REDIS_SHARDS", value_name = "S",
          default_value_t = DEFAULT_REDIS_SHARDS,
          value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub redis_shards: u16,

    /// Answer a create, edit or delete only once N Redis replicas hold it (WAIT); 0: once the
    /// master has it
    #[arg(
        long,
        env = "CHAT_REDIS_ACK_REPLICAS",
        value_name = "N",
        default_value_t = 0,
        global = true
    )]
    pub redis_ack_replicas: u32,

    /// How long a write waits for those replicas before it fails with 503, in milliseconds
    #[arg(long, env = "CHAT_REDIS_ACK_TIMEOUT_MS", value_name = "MS",
          default_value_t = DEFAULT_REDIS_ACK_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub redis_ack_timeout_ms: u64,

    /// Elasticsearch or OpenSearch of the distributed profile (search): http://HOST:PORT, or a
    /// comma-separated list of the nodes of one cluster
    #[arg(
        long,
        env = "CHAT_ELASTICSEARCH_URL",
        value_name = "URL",
        hide_env_values = true,
        global = true
    )]
    pub elasticsearch_url: Option<String>,

    /// Prefix of every Redis key (distributed profile), so deployments can share one Redis
    #[arg(long, env = "CHAT_REDIS_PREFIX", value_name = "PREFIX",
          default_value = DEFAULT_REDIS_PREFIX, global = true)]
    pub redis_prefix: String,

    /// The search index's alias is PREFIX-messages (distributed profile)
    #[arg(long, env = "CHAT_INDEX_PREFIX", value_name = "PREFIX",
          default_value = DEFAULT_INDEX_PREFIX, global = true)]
    pub index_prefix: String,

    /// Replicas of the search index (0 on a one-node cluster)
    #[arg(long, env = "CHAT_INDEX_REPLICAS", value_name = "N",
          default_value_t = DEFAULT_INDEX_REPLICAS, global = true)]
    pub index_replicas: u32,

    /// Primary shards of the search index (1 suits one node; a cluster of N nodes wants N or
    /// more). Applies to indices created from now on: the first, and each full reindex's
    #[arg(long, env = "CHAT_INDEX_SHARDS", value_name = "N",
          default_value_t = DEFAULT_INDEX_SHARDS, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub index_shards: u32,

    /// Wait for the disk on every commit (survives power loss); off still survives a killed
    /// process. Accepts true/false, 1/0, yes/no, on/off
    #[arg(long, env = "CHAT_FSYNC", value_name = "BOOL", default_value_t = DEFAULT_FSYNC,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    pub fsync: bool,
}

#[cfg(feature = "cli")]
impl StorageArgs {
    /// The configuration these flags describe (every other setting at its default).
    pub fn config(&self) -> Config {
        Config {
            fsync: self.fsync,
            redis_url: self.redis_url.clone(),
            redis_shards: self.redis_shards,
            redis_ack_replicas: self.redis_ack_replicas,
            redis_ack_timeout: Duration::from_millis(self.redis_ack_timeout_ms),
            redis_prefix: self.redis_prefix.clone(),
            elasticsearch_url: self.elasticsearch_url.clone(),
            index_prefix: self.index_prefix.clone(),
            index_replicas: self.index_replicas,
            index_shards: self.index_shards,
            ..Config::with_database_url(&self.database_url)
        }
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_owned()
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field(
                "elasticsearch_url",
                &self.elasticsearch_url.as_deref().map(redact_url),
            )
            .field("max_batch", &self.max_batch)
            .field("read_connections", &self.read_connections)
            .field("search_probe", &self.search_probe)
            .field("busy_timeout", &self.busy_timeout)
            .field("fsync", &self.fsync)
            .field("create_if_missing", &self.create_if_missing)
            .field("worker", &self.worker)
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_shards", &self.redis_shards)
            .field("redis_ack_replicas", &self.redis_ack_replicas)
            .field("redis_ack_timeout", &self.redis_ack_timeout)
            .field("recount_interval", &self.recount_interval)
            .field("claim_idle", &self.claim_idle)
            .field("index_prefix", &self.index_prefix)
            .field("index_replicas", &self.index_replicas)
            .field("index_shards", &self.index_shards)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_passwords() {
        let c = Config {
            redis_url: Some("redis://:hunter2@127.0.0.1:6379".into()),
            ..Config::with_database_url("mysql://chat:hunter2@127.0.0.1/chat")
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("mysql://chat:***@127.0.0.1/chat"), "{s}");
        let settings = format!("{:?}", c.settings());
        assert!(!settings.contains("hunter2"), "{settings}");
        assert!(
            settings.contains("redis://:***@127.0.0.1:6379"),
            "{settings}"
        );
        assert!(
            !settings.contains("fsync"),
            "embedded-only setting shown: {settings}"
        );
    }

    #[test]
    fn the_embedded_profile_shows_only_its_own_settings() {
        let names: Vec<_> = Config::default()
            .settings()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "database_url",
                "fsync",
                "max_batch",
                "read_connections",
                "search_probe",
                "busy_timeout"
            ]
        );
    }
}
