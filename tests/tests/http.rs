//! chat-server over real HTTP: the conformance suite through `HttpClient`, every route and
//! status of the API contract, concurrency with read-your-writes, and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Http;

chat_tests::conformance_suite!(Http);
