//! What the tests reach inside a distributed backend (feature `test-support`): its worker,
//! store and engine, and the Redis keys of its queue and counters.

use std::sync::Arc;

use super::mysql::MysqlStore;
use super::search::ElasticSearch;
use super::worker::Worker;
use super::DistributedBackend;

impl DistributedBackend {
    /// The worker of this backend (also usable when no background worker runs).
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// The search engine, when one is configured.
    pub fn search(&self) -> Option<&ElasticSearch> {
        self.search.as_ref()
    }

    /// The MySQL store (its [`MysqlStore::operations`] counter shows which paths reach it).
    pub fn store(&self) -> &MysqlStore {
        &self.store
    }

    /// The stream a chat's message jobs are queued in (its shard's).
    pub fn queue_key(&self, app: i64, chat: u32) -> String {
        self.keys
            .stream(self.keys.chat_shard(app, chat))
            .to_string()
    }

    /// Every shard's dead-letter stream, in shard order.
    pub fn dead_keys(&self) -> Vec<String> {
        (0..self.keys.shards())
            .map(|k| self.keys.dead(k).to_string())
            .collect()
    }

    /// Every shard's stream, in shard order.
    pub fn queue_keys(&self) -> Vec<String> {
        (0..self.keys.shards())
            .map(|k| self.keys.stream(k).to_string())
            .collect()
    }

    /// A chat's message counter key.
    pub fn message_counter_key(&self, app: i64, chat: u32) -> String {
        self.keys.message_counter(app, chat).to_string()
    }

    /// Whether this backend is on a Redis Cluster.
    pub fn on_cluster(&self) -> bool {
        self.redis.is_cluster()
    }
}
