//! The distributed profile (feature `distributed`; MariaDB and Redis from
//! `CHAT_TEST_MYSQL_URL` / `CHAT_TEST_REDIS_URL`): the conformance suite, directly and through
//! a chat-server, plus what only a queue can show — the creation path leaves MySQL alone, lost
//! counters are re-seeded past the database, entries a dead worker held are persisted exactly
//! once, and a job that keeps failing ends in the dead-letter stream.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Distributed;

chat_tests::conformance_suite!(Distributed);

mod over_http {
    chat_tests::conformance_suite!(chat_tests::HttpDistributed);
}

#[path = "distributed/queue.rs"]
mod queue;

#[path = "distributed/live.rs"]
mod live;
