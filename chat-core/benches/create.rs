//! Creation throughput of the embedded profile through the library.
//!
//! `cargo bench -p chat-core --features cli --bench create` prints, for a database with search indexing on (the
//! product) and, for comparison, one whose FTS5 table is replaced by a plain table: messages/s sequentially
//! and with 64 concurrent tasks, and the latency of one create under that load. Creates are
//! acknowledged before their search-index entry is written (the backlog is indexed in bulk),
//! so the concurrent rate is counted until the backlog is empty again: the index's whole cost
//! is in the figure.
//! `BENCH_MESSAGES` sets how many messages the concurrent phase creates (default 100,000);
//! The storage settings are chat-server's: its flags' defaults and their `CHAT_…` variables
//! (feature `cli`), so `CHAT_FSYNC=0` measures without waiting for the disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::config::StorageArgs;
use chat_core::{ChatApi, ChatNumber, ChatService, Config, Token};
use clap::Parser;
use futures::stream::{self, StreamExt};
use hdrhistogram::Histogram;

/// The storage flags as chat-server reads them. cargo's arguments are not for them: only the
/// defaults and the `CHAT_…` variables apply.
#[derive(Parser)]
struct Storage {
    #[command(flatten)]
    storage: StorageArgs,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let total: usize = std::env::var("BENCH_MESSAGES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let indexed = run(total, true).await;
        let bare = run(total, false).await;
        println!(
            "with search indexing: {:.1}% of the rate with the index replaced by a plain table ({:.0} vs {:.0} messages/s, both counted until the backlog is empty)",
            100.0 * indexed / bare,
            indexed,
            bare
        );
    });
}

/// One phase; returns the concurrent throughput.
async fn run(total: usize, indexing: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        ..Storage::try_parse_from(["create"])
            .unwrap()
            .storage
            .config()
    };
    let service = Arc::new(ChatService::open(&config).await.unwrap());
    if !indexing {
        let db = sqlx::SqlitePool::connect(&config.database_url)
            .await
            .unwrap();
        // A plain table in place of the FTS5 index: same writes, no full-text work.
        sqlx::query("DROP TABLE messages_fts")
            .execute(&db)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE messages_fts (body TEXT)")
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
    }
    let app = service.create_application("bench").await.unwrap();
    let mut chats = Vec::new();
    for _ in 0..20 {
        chats.push(service.create_chat(&app.token).await.unwrap().number);
    }
    println!(
        "search indexing {}: 20 chats, fsync={}",
        if indexing {
            "ON"
        } else {
            "OFF (comparison only)"
        },
        config.fsync
    );

    let sequential = (total / 10).max(1);
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let start = Instant::now();
    for i in 0..sequential {
        let t = Instant::now();
        create(&service, &app.token, chats[i % chats.len()], i).await;
        hist.record(t.elapsed().as_micros() as u64).unwrap();
    }
    report("sequential", sequential, start.elapsed(), &hist);

    let before = service.metrics().snapshot();
    let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let start = Instant::now();
    stream::iter(0..total)
        .map(|i| {
            let (service, token, hist) =
                (Arc::clone(&service), app.token.clone(), Arc::clone(&hist));
            let chat = chats[i % chats.len()];
            async move {
                let t = Instant::now();
                create(&service, &token, chat, i).await;
                hist.lock()
                    .unwrap()
                    .record(t.elapsed().as_micros() as u64)
                    .unwrap();
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    let acknowledged = start.elapsed();
    // Until every message is in the index (the backlog empty again).
    let mut left = u64::MAX;
    while left > 0 {
        left = service
            .health()
            .await
            .iter()
            .find_map(|h| h.search_backlog)
            .unwrap();
        if left > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = start.elapsed();
    let hist = hist.lock().unwrap().clone();
    println!(
        "{:>20}  all acknowledged after {:.2} s ({:.0} messages/s), the backlog empty after {:.2} s",
        "",
        acknowledged.as_secs_f64(),
        total as f64 / acknowledged.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let rate = report("64-way, until indexed", total, elapsed, &hist);
    let m = service.metrics().snapshot();
    println!(
        "{:>20}  {} messages indexed from the backlog in {:.2} s of indexing ({:.1} µs each)",
        "",
        m.indexed,
        m.indexing_micros as f64 / 1e6,
        m.indexing_micros as f64 / m.indexed.max(1) as f64
    );
    let after = service.metrics().snapshot();
    println!(
        "{:>20}  {:.1} creates per write transaction",
        "",
        (after.operations - before.operations) as f64
            / (after.batches - before.batches).max(1) as f64
    );
    service.close().await;
    rate
}

async fn create(service: &ChatService, token: &Token, chat: ChatNumber, i: usize) {
    let body =
        format!("message {i}: the quick brown fox jumps over the lazy dog near the riverbank");
    service.create_message(token, chat, &body).await.unwrap();
}

fn report(label: &str, n: usize, elapsed: Duration, hist: &Histogram<u64>) -> f64 {
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "{label:>20}: {n:>7} messages in {:6.2} s = {rate:>8.0} messages/s | one create: p50 {} µs, p99 {} µs, max {} µs",
        elapsed.as_secs_f64(),
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.99),
        hist.max()
    );
    rate
}
