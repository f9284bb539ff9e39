//! # chat-core
//!
//! The library behind the chat platform: applications (identified by a generated token) own
//! chats numbered 1, 2, 3… per application; chats own messages numbered 1, 2, 3… per chat; a
//! chat's messages can be searched by any part of their text. Clients never see internal ids.
//!
//! ## Design
//!
//! * [`ChatApi`] is the one list of operations. [`ChatService`] implements it directly on the
//!   backends; `HttpClient` (feature `client`) implements it over HTTP against a chat-server.
//!   Code written against `ChatApi` runs unchanged either way, and one conformance suite checks
//!   every implementation.
//! * Input is validated once, into the types of [`model`] ([`Token`], [`ChatNumber`], [`Name`],
//!   [`Body`], [`Query`]…); every failure is a typed [`Error`] with a stable code and an HTTP
//!   status, which the HTTP client decodes back into the same variant.
//! * The profile is chosen by the database URL. The embedded profile (`sqlite://…`, the
//!   default) keeps everything in one SQLite file: a single writer task commits every waiting
//!   creation in one transaction (group commit) and answers only after the commit, so an
//!   acknowledged write is durable and readable at once; numbers are taken inside that
//!   transaction, so several processes can share the file; counts move in the same
//!   transaction, so they are always exact. Search uses an FTS5 trigram index filled in bulk,
//!   off the acknowledgement path: the acknowledging transaction records the message in a
//!   search backlog, the writer indexes the backlog in chunks between batches, and a search
//!   also scans the chat's not-yet-indexed messages, so a message is found by the very next
//!   search after its acknowledgement. A `newest`/`oldest` search reads the chat's newest
//!   (oldest) rows first while they fill the page — a common word's page fills within a few
//!   dozen — and asks the index only for the rest.
//! * The distributed profile (`mysql://…` with a Redis URL, feature `distributed`) never
//!   touches MySQL when creating: one Redis script checks the parent, takes the number with
//!   `INCR`, appends the job to a stream and keeps a pending record that reads consult, so a
//!   `201` is readable at once from any process; workers persist the stream in idempotent
//!   batches and index them in Elasticsearch / OpenSearch when one is configured
//!   (`store/distributed/`: its `redis`, `mysql` and `search` parts).
//!
//! ## Features
//!
//! | features                                        | what it brings                                      |
//! |-------------------------------------------------|-----------------------------------------------------|
//! | default (`sqlite`)                              | the embedded profile: `ChatService` on an SQLite file |
//! | `default-features = false, features = ["client"]` | `HttpClient` alone: `ChatApi` over HTTP, no database |
//! | `["sqlite", "client"]`                          | both of the above                                   |
//! | `["distributed"]`                               | the distributed profile: MySQL/MariaDB + Redis (+ Elasticsearch/OpenSearch) |
//! | `["sqlite", "client", "distributed", "cli"]`    | everything, as this workspace's binaries build it (`cli`: the shared storage flags) |
//!
//! Each of these sets builds with no warning (the workspace's suite checks them with
//! clippy); `ChatService::open` on a URL whose profile is not built in answers
//! [`Error::BadRequest`] naming the feature.
//!
//! ```no_run
//! use chat_core::{ChatApi, ChatService, Config, SearchRequest};
//!
//! # async fn demo() -> chat_core::Result<()> {
//! let chat = ChatService::open(&Config::with_database_url("sqlite://chat-data/chat.db")).await?;
//! let app = chat.create_application("support").await?;
//! let room = chat.create_chat(&app.token).await?;
//! chat.create_message(&app.token, room.number, "Wonderful weather").await?;
//! let hits = chat
//!     .search_messages(&app.token, room.number, &SearchRequest::new("onderf"))
//!     .await?
//!     .items;
//! assert_eq!(hits.len(), 1);
//! chat.close().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod error;
pub mod live;
#[cfg(feature = "client")]
mod live_client;
pub mod metrics;
pub mod model;
pub mod service;
// The backends are internal in every feature set. Tests and benchmarks reach into them (drain a
// worker, refresh the search index, start a second backend on the same stores) only through
// `testing` (feature `test-support`), which is not part of the library's interface: hidden from
// the documentation.
mod store;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod testing;
pub mod transfer;
pub mod wire;

pub use api::{
    collect_pages, ChatApi, Correction, NoProgress, Progress, QueueStatus, RecountSummary,
    ReindexSummary, RetrySummary, ShardStatus,
};
#[cfg(feature = "client")]
pub use client::HttpClient;
pub use config::Config;
pub use error::{Error, ErrorBody, Missing, Result};
pub use live::{LiveEvent, LiveStream};
pub use model::{
    Application, Body, Chat, ChatNumber, Message, MessageNumber, Name, Page, PageRequest, Query,
    SearchPage, SearchRequest, SearchSort, Token,
};
pub use service::ChatService;
pub use store::BackendHealth;
