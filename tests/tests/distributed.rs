//! The distributed profile (feature `distributed`; MariaDB and Redis from
//! `CHAT_TEST_MYSQL_URL` / `CHAT_TEST_REDIS_URL`): the conformance suite, plus what only a
//! queue can show — the creation path leaves MySQL alone, lost counters are re-seeded past the
//! database, and entries a dead worker held are persisted exactly once.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Distributed;

chat_tests::conformance_suite!(Distributed);

#[path = "distributed/queue.rs"]
mod queue;
