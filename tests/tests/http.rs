//! chat-server over real HTTP: the conformance suite through `HttpClient`, every route and
//! status of the API contract, concurrency with read-your-writes, and the OpenAPI document.
//!
//! The test binary's root: the cases live in `tests/tests/http/`, one file per theme, and the
//! API contract one file per resource under `http/api/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Http;

chat_tests::conformance_suite!(Http);

#[path = "http/api/mod.rs"]
mod api;
#[path = "http/client_timeouts.rs"]
mod client_timeouts;
#[path = "http/documented_constraints.rs"]
mod documented_constraints;
#[path = "http/fuzz.rs"]
mod fuzz;
#[path = "http/hardening.rs"]
mod hardening;
#[path = "http/process.rs"]
mod process;
#[path = "http/slow_clients.rs"]
mod slow_clients;
