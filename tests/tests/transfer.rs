//! Export, restore and backup (`chatctl export` / `restore` / `backup`, `ChatService::export` /
//! `restore` / `backup`, `GET /admin/export`): round trips between every pair of profiles,
//! hostile streams refused with nothing changed, and an online backup under concurrent writers.
//!
//! The distributed round trips need MariaDB, Redis and OpenSearch (feature `distributed`,
//! `tests/services/services.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "chatctl/harness.rs"]
#[allow(dead_code)]
mod harness;

mod transfer {
    pub mod backup;
    pub mod data;
    #[cfg(feature = "distributed")]
    pub mod distributed;
    pub mod embedded;
    pub mod hostile;
}
