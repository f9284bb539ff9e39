//! Search on a real Elasticsearch / OpenSearch (`CHAT_TEST_ELASTICSEARCH_URL`, started by
//! `tests/services/services.sh start opensearch`) for the distributed profile: the conformance
//! suite — whose search cases pin substrings, case, Unicode, isolation, literal operators,
//! edits, ranking and paging — directly and through a chat-server, plus what only an engine
//! can show: the analyzer really yields contiguous grams, an outage is caught up without a
//! hand, and a reindex under load swaps the alias without a moment without results.
#![cfg(feature = "distributed")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Searching;

chat_tests::conformance_suite!(Searching);

mod over_http {
    chat_tests::conformance_suite!(chat_tests::HttpSearching);
}
