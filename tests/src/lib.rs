//! The end-to-end suite's shared parts: the conformance suite generic over
//! [`chat_core::ChatApi`], and harnesses that start each implementation on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;

use std::sync::Arc;

use chat_core::{ChatApi, ChatService, Config};

/// Starts one implementation of [`ChatApi`] on fresh, private storage.
#[allow(async_fn_in_trait)]
pub trait Harness: Sized {
    /// Starts it.
    async fn start() -> Self;
    /// The implementation under test.
    fn api(&self) -> Arc<dyn ChatApi>;
    /// Stops it and removes its storage.
    async fn stop(self);
}

/// `ChatService` on the embedded profile, in a temporary folder.
pub struct Embedded {
    /// The service.
    pub service: ChatService,
    /// The folder holding the database file.
    pub dir: tempfile::TempDir,
}

impl Embedded {
    /// The `sqlite://` URL of a database file in `dir`.
    pub fn url(dir: &std::path::Path) -> String {
        format!("sqlite://{}", dir.join("chat.db").display())
    }
}

impl Harness for Embedded {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = ChatService::open(&Config::with_database_url(Embedded::url(dir.path())))
            .await
            .expect("open the embedded service");
        Embedded { service, dir }
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        Arc::new(self.service.clone())
    }

    async fn stop(self) {
        self.service.close().await;
        drop(self.dir);
    }
}
