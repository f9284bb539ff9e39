//! Handles for this workspace's own tests and benchmarks (feature `test-support`).
//!
//! The backends are internal to chat-core (the private `store` module); this module is the one
//! door through which the end-to-end suite (`chat-tests`) reaches into them: open a distributed
//! backend itself to drain its worker instead of sleeping, refresh or query the search engine
//! directly, look at the Redis keys and the MySQL call counter, or start a second backend on
//! the same stores. A backend opened here becomes a service with `ChatService::from_backend`
//! (under the same feature).
//!
//! **Not part of the stable API**: it exists only with the `test-support` feature, which no
//! program outside this workspace should enable, and it changes with the internals, without
//! notice. It only re-exports items of the backends (those of the distributed profile with its
//! feature `distributed`); their behaviour is the backends' own.

#[cfg(feature = "distributed")]
pub use crate::store::distributed::{
    mysql::MysqlStore,
    search::{Doc, ElasticSearch},
    worker::{Round, Worker, WorkerOptions},
    DistributedBackend, DistributedOptions,
};
pub use crate::store::SearchSpec;
