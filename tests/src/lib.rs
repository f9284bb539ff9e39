//! The end-to-end suite's shared parts: the conformance suite generic over
//! [`chat_core::ChatApi`], and harnesses that start each implementation on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "distributed")]
pub mod bench;
pub mod cluster;
pub mod conformance;
#[cfg(feature = "distributed")]
mod distributed;
pub mod live;
pub mod openapi_check;
pub mod webdriver;

#[cfg(feature = "distributed")]
pub use distributed::{
    cluster_urls, engine_url, ClusterDistributed, ClusterSearching, Distributed,
    HttpClusterSearching, HttpDistributed, HttpSearching, Searching,
};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use chat_core::{ChatApi, ChatService, Config};

/// Builds the workspace's binaries into the same target folder and profile as the running test
/// (cargo tells a test only where its own package's binaries are), and returns the path of
/// each of `names` from cargo's JSON messages, so they are never stale.
///
/// It builds them with the suite's own feature set (`--workspace --all-features`, as
/// `scripts/test` runs), so that under `scripts/test` every library is already built and
/// nothing compiles twice: building one package alone would resolve features differently and
/// compile chat-core and some dependencies a second time.
pub fn cargo_build(names: &[&str]) -> Vec<PathBuf> {
    let args = ["--workspace", "--all-features", "--bins"];
    let (mut cargo, profile) = cargo("build");
    cargo
        .args(args)
        .args(["--profile", profile.as_str()])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit());
    let out = cargo.output().expect("run cargo build");
    assert!(out.status.success(), "cargo build {args:?} failed");
    let built: Vec<(String, PathBuf)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            let path = m["executable"].as_str()?;
            Some((name, PathBuf::from(path)))
        })
        .collect();
    names
        .iter()
        .map(|name| {
            built
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| panic!("cargo built no {name}"))
        })
        .collect()
}

/// `cargo SUBCOMMAND` in this workspace, on the same target folder as the running test, and
/// the name of the test's profile (`dev`, `release`…).
pub fn cargo(subcommand: &str) -> (Command, String) {
    // This test runs from TARGET/PROFILE/deps/; work in the same TARGET.
    let exe = std::env::current_exe().expect("own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg(subcommand)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Cargo gives a test the variables of its own package (CARGO_MANIFEST_DIR, CARGO_PKG_NAME…).
    // Some build scripts (ring's) rerun when those change, so passing them on would rebuild
    // ring and everything above it here, and again in the next build from a shell.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            cargo.env_remove(key);
        }
    }
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        if let Some(target) = profile_dir.parent() {
            cargo.arg("--target-dir").arg(target);
        }
    }
    (cargo, profile.to_owned())
}

/// Starts one implementation of [`ChatApi`] on fresh, private storage.
#[allow(async_fn_in_trait)]
pub trait Harness: Sized {
    /// Starts it.
    async fn start() -> Self;
    /// The implementation under test.
    fn api(&self) -> Arc<dyn ChatApi>;
    /// Stops it and removes its storage.
    async fn stop(self);
    /// Waits until every acknowledged write is persisted (a queue drained). Nothing to wait
    /// for by default.
    async fn settle(&self) {}
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

/// A chat-server on a random local port over a fresh embedded database, reached through
/// [`chat_core::HttpClient`].
pub struct Http {
    /// The server's base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The service behind the server (for tests that need to reach past HTTP).
    pub service: ChatService,
    /// The admin token the server expects.
    pub admin_token: String,
    /// The server's shared state (its limits, metrics), for tests that fill a limit.
    pub state: chat_server::AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Http {
    /// Starts a server with the given settings tweaks.
    pub async fn start_with(tweak: impl FnOnce(&mut chat_server::Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = ChatService::open(&Config::with_database_url(Embedded::url(dir.path())))
            .await
            .expect("open the embedded service");
        let mut http = Http::serve(service, tweak).await;
        http._dir = Some(dir);
        http
    }

    /// Starts a server over an open service, with the given settings tweaks.
    pub async fn serve(
        service: ChatService,
        tweak: impl FnOnce(&mut chat_server::Settings),
    ) -> Self {
        Http::serve_limited(service, tweak, chat_server::Limits::default()).await
    }

    /// Starts a server on a fresh embedded database with the given limits.
    pub async fn start_limited(limits: chat_server::Limits) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = ChatService::open(&Config::with_database_url(Embedded::url(dir.path())))
            .await
            .expect("open the embedded service");
        let mut http = Http::serve_limited(service, |_| {}, limits).await;
        http._dir = Some(dir);
        http
    }

    /// Starts a server over an open service, with the given settings tweaks and limits, built
    /// as `chat-server` builds itself ([`chat_server::Application`]).
    pub async fn serve_limited(
        service: ChatService,
        tweak: impl FnOnce(&mut chat_server::Settings),
        limits: chat_server::Limits,
    ) -> Self {
        let admin_token = "test-admin-token".to_owned();
        let mut settings = chat_server::Settings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_token: Some(admin_token.clone()),
            limits,
            ..chat_server::Settings::default()
        };
        tweak(&mut settings);
        let app = chat_server::Application::with_service(service.clone(), &settings)
            .await
            .expect("bind");
        let url = format!("http://{}", app.local_addr().expect("addr"));
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Http {
            url,
            service,
            admin_token,
            state,
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
        }
    }

    /// An HTTP client of this server, with the admin token.
    pub fn client(&self) -> chat_core::HttpClient {
        chat_core::HttpClient::new(&self.url)
            .expect("client")
            .with_admin_token(self.admin_token.clone())
    }
}

impl Harness for Http {
    async fn start() -> Self {
        Http::start_with(|_| {}).await
    }

    fn api(&self) -> Arc<dyn ChatApi> {
        Arc::new(self.client())
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
