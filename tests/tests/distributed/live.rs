//! Live on the distributed profile: a follower on one process sees the creations, edits and
//! deletions made on another at once (Redis Pub/Sub from the create and edit scripts), exactly once and
//! in number order, before any worker persisted them, and while MySQL is down.

use std::sync::Arc;
use std::time::Instant;

use chat_core::testing::{DistributedBackend, DistributedOptions};
use chat_core::{ChatApi, ChatService, Config};
use chat_tests::cluster::{create_database, drop_database, PrivateMariadb, Server};
use chat_tests::live::{self, assert_exactly_once, read_until};
use chat_tests::{Distributed, Harness};

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_server-process"))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A second process of the same deployment (same database and key prefix, no worker).
async fn second_process(h: &Distributed) -> ChatService {
    let config = Config {
        redis_url: Some(h.redis_url.clone()),
        ..Config::with_database_url(h.database_url.clone())
    };
    let backend = DistributedBackend::open(
        &config,
        DistributedOptions {
            key_prefix: h.prefix.clone(),
            background_worker: false,
            ..DistributedOptions::default()
        },
    )
    .await
    .expect("open a second backend");
    ChatService::from_backend(Arc::new(backend))
}

/// Deletions made on another process reach a follower (the delete script publishes them),
/// in order with the creations and edits around them, and a new follower's replay leaves the
/// deleted messages out, whether or not a worker has applied the deletes yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_a_follower_sees_deletions_made_on_another_process() {
    let h = Distributed::start().await;
    let other = second_process(&h).await;
    live::deletions_reach_followers(h.api(), Arc::new(other.clone())).await;
    other.close().await;
    h.stop().await;
}

/// A chat deleted on another process ends its followers' streams here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_a_chat_deleted_on_another_process_ends_its_followers() {
    let h = Distributed::start().await;
    let other = second_process(&h).await;
    live::a_deleted_chat_ends_its_followers(h.api(), Arc::new(other.clone()), false).await;
    other.close().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directly_a_follower_sees_another_process_burst_once_in_order_unpersisted() {
    let h = Distributed::start().await;
    let other = second_process(&h).await;
    let writer: Arc<dyn ChatApi> = Arc::new(other.clone());
    live::burst_arrives_once_in_order(h.api(), Arc::clone(&writer), 10_000, 8).await;
    // No worker ran: every message was delivered from the queue's side, none from MySQL.
    let persisted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&mut h.mysql().await)
        .await
        .unwrap();
    assert_eq!(persisted, 0);
    live::resume_after_a_dropped_stream(h.api(), writer, 3_000).await;
    live::unknown_chats_are_not_found(h.api()).await;
    other.close().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_http_a_follower_on_one_api_process_sees_writes_on_another() {
    let admin = env("CHAT_TEST_MYSQL_URL");
    let redis = env("CHAT_TEST_REDIS_URL");
    let (database, url) = create_database(&admin).await;
    let prefix = format!("test:{}:", &database[5..]);
    let a = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let b = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let worker = Server::spawn(binary(), &url, &redis, &prefix, "worker", &[]);
    let follower: Arc<dyn ChatApi> = Arc::new(a.client.clone());
    let writer: Arc<dyn ChatApi> = Arc::new(b.client.clone());
    live::burst_arrives_once_in_order(Arc::clone(&follower), Arc::clone(&writer), 10_000, 8).await;
    live::resume_after_a_dropped_stream(follower, writer, 3_000).await;
    drop((a, b, worker));
    drop_database(&admin, &database).await;
}

/// MySQL stopped: creations on one API process still reach a follower on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivery_goes_on_while_mysql_is_down() {
    let mariadb = PrivateMariadb::start();
    let redis = env("CHAT_TEST_REDIS_URL");
    let url = mariadb.url();
    let prefix = format!("test:{}:", chat_core::Token::generate().as_str());
    let a = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let b = Server::spawn(binary(), &url, &redis, &prefix, "api", &[]);
    let app = b.client.create_application("outage").await.unwrap();
    let chat = b.client.create_chat(&app.token).await.unwrap().number;
    let mut acknowledged =
        live::burst(Arc::new(b.client.clone()), &app.token, chat, 10, 2, "up").await;
    // `a` learns the application (ids are cached) and subscribes while MySQL is up.
    let mut events = a.client.follow(&app.token, chat, None).await.unwrap();
    mariadb.stop_process();
    let started = Instant::now();
    let mut down = live::burst(Arc::new(b.client.clone()), &app.token, chat, 500, 8, "down").await;
    acknowledged.append(&mut down);
    let (mut created, mut edited) = (Vec::new(), Vec::new());
    read_until(&mut events, 510, 0, &mut created, &mut edited).await;
    println!(
        "500 creations delivered with MySQL down in {:?}",
        started.elapsed()
    );
    assert_exactly_once(&created, &acknowledged);
    mariadb.start_again();
}
