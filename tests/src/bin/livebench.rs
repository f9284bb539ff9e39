//! Live delivery latency: the time from a creation's acknowledgement to its `created` event at
//! a follower reading a chat-server's stream over HTTP, p50/p99/max.
//!
//! `cargo run --release -p chat-tests --all-features --bin livebench -- [--messages 2000]
//! [--pause-ms 5]` measures, one message at a time (closed loop, with a pause between):
//!
//! * `embedded, same process`: the writer posts to the server the follower reads (the writer
//!   task wakes the live watcher after its commit);
//! * `embedded, another writer on the file`: a second `ChatService` on the same SQLite file
//!   writes, with its own connections, as another process would (seen by the watcher's
//!   `PRAGMA data_version` poll, every 50 ms);
//! * `distributed, another API process` (when `CHAT_TEST_MYSQL_URL` / `CHAT_TEST_REDIS_URL`
//!   are set): a second backend of the same deployment writes; the server's process receives
//!   it through Redis Pub/Sub.
//!
//! Goals: p99 <= 50 ms on one process, <= 250 ms across processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::testing::{DistributedBackend, DistributedOptions};
use chat_core::{ChatApi, ChatService, Config, HttpClient, LiveEvent};
use futures::StreamExt;
use hdrhistogram::Histogram;

struct Args {
    messages: u32,
    pause: Duration,
}

fn args() -> Args {
    let mut a = Args {
        messages: 2000,
        pause: Duration::from_millis(5),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => a.messages = value.parse().expect("--messages N"),
            "--pause-ms" => a.pause = Duration::from_millis(value.parse().expect("--pause-ms N")),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    println!(
        "{} messages one at a time, {:?} apart; latency = creation acknowledged -> event received",
        args.messages, args.pause
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9}",
        "scenario", "p50 ms", "p99 ms", "max ms"
    );

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let served = ChatService::open(&Config::with_database_url(&url))
        .await
        .unwrap();
    let server = serve(served.clone()).await;
    let client: Arc<dyn ChatApi> = Arc::new(HttpClient::new(&server).unwrap());
    measure("embedded, same process", &server, client, &args).await;
    let beside = ChatService::open(&Config::with_database_url(&url))
        .await
        .unwrap();
    measure(
        "embedded, another writer on the file",
        &server,
        Arc::new(beside.clone()),
        &args,
    )
    .await;
    beside.close().await;

    match (
        std::env::var("CHAT_TEST_MYSQL_URL"),
        std::env::var("CHAT_TEST_REDIS_URL"),
    ) {
        (Ok(mysql), Ok(redis)) => distributed(&mysql, &redis, &args).await,
        _ => println!("distributed: skipped (CHAT_TEST_MYSQL_URL / CHAT_TEST_REDIS_URL unset)"),
    }
}

async fn distributed(admin_url: &str, redis: &str, args: &Args) {
    let (database, url) = chat_tests::cluster::create_database(admin_url).await;
    let prefix = format!("bench:{database}:");
    let open = |worker: bool| {
        let config = Config {
            redis_url: Some(redis.to_owned()),
            ..Config::with_database_url(url.clone())
        };
        let prefix = prefix.clone();
        async move {
            let backend = DistributedBackend::open(
                &config,
                DistributedOptions {
                    key_prefix: prefix,
                    background_worker: worker,
                    ..DistributedOptions::default()
                },
            )
            .await
            .unwrap();
            ChatService::from_backend(Arc::new(backend))
        }
    };
    let served = open(true).await;
    let writer = open(false).await;
    let server = serve(served.clone()).await;
    measure(
        "distributed, another API process",
        &server,
        Arc::new(writer.clone()),
        args,
    )
    .await;
    writer.close().await;
    served.close().await;
    chat_tests::cluster::drop_database(admin_url, &database).await;
}

/// Serves `service` on a free port in this process; returns its URL.
async fn serve(service: ChatService) -> String {
    let settings = chat_server::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..chat_server::Settings::default()
    };
    let app = chat_server::Application::with_service(service, &settings)
        .await
        .unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    tokio::spawn(async move {
        app.run_until_stopped(std::future::pending()).await.unwrap();
    });
    url
}

/// Follows a new chat through the server at `server` while `writer` creates messages in it.
async fn measure(name: &str, server: &str, writer: Arc<dyn ChatApi>, args: &Args) {
    let app = writer.create_application("bench").await.unwrap();
    let chat = writer.create_chat(&app.token).await.unwrap().number;
    let follower = HttpClient::new(server).unwrap();
    let mut events = follower.follow(&app.token, chat, None).await.unwrap();
    let received: Arc<Mutex<HashMap<u32, Instant>>> = Arc::default();
    let total = args.messages;
    let reader = tokio::spawn({
        let received = Arc::clone(&received);
        async move {
            while let Some(event) = events.next().await {
                if let LiveEvent::Created(m) = event.unwrap() {
                    received
                        .lock()
                        .unwrap()
                        .insert(m.number.get(), Instant::now());
                    if m.number.get() == total {
                        return;
                    }
                }
            }
        }
    });
    let mut acknowledged = Vec::with_capacity(total as usize);
    for i in 0..total {
        let m = writer
            .create_message(&app.token, chat, &format!("m{i}"))
            .await
            .unwrap();
        acknowledged.push((m.number.get(), Instant::now()));
        tokio::time::sleep(args.pause).await;
    }
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("every event within 60 s")
        .unwrap();
    let received = received.lock().unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    for (n, acked) in acknowledged {
        let at = received[&n];
        // An event can arrive before its creator has read the acknowledgement: 0.
        h.record(at.saturating_duration_since(acked).as_micros() as u64)
            .unwrap();
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{:<42} {:>9.2} {:>9.2} {:>9.2}",
        name,
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    );
}
