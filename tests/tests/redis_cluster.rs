//! The distributed profile on a Redis Cluster (3 masters, 3 replicas:
//! `tests/services/services.sh start redis-cluster`, `CHAT_TEST_REDIS_CLUSTER_URLS`) with
//! MariaDB and OpenSearch: the conformance suite directly and through a chat-server (every
//! script runs on the cluster, so a script whose keys spanned two slots would fail it with
//! `CROSSSLOT`), keys and queue entries spread over the masters, lost counters re-seeded per
//! slot, writes acknowledged after replication or undone, and a changed shard count refused.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod searching {
    chat_tests::conformance_suite!(chat_tests::ClusterSearching);
}

mod over_http {
    chat_tests::conformance_suite!(chat_tests::HttpClusterSearching);
}

#[path = "redis_cluster/slots.rs"]
mod slots;
