//! Creation throughput of the embedded profile through the library, with search indexing on.
//!
//! `cargo bench -p chat-core --bench create` prints messages/s sequentially and with 64
//! concurrent tasks, and the latency of one create under that load. `BENCH_MESSAGES` sets how
//! many messages each phase creates (default 200,000); `CHAT_FSYNC=0` measures without waiting
//! for the disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, ChatService, Config};
use futures::stream::{self, StreamExt};
use hdrhistogram::Histogram;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let total: usize = std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_env();
    config.database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let service = Arc::new(ChatService::open(&config).await.unwrap());
    let app = service.create_application("bench").await.unwrap();
    let chats: Vec<ChatNumber> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(service.create_chat(&app.token).await.unwrap().number);
        }
        v
    };
    println!("embedded create benchmark: {total} messages per phase, 20 chats, fsync={}", config.fsync);

    let sequential = total.min(20_000);
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let start = Instant::now();
    for i in 0..sequential {
        let t = Instant::now();
        service
            .create_message(&app.token, chats[i % chats.len()], &body(i))
            .await
            .unwrap();
        hist.record(t.elapsed().as_micros() as u64).unwrap();
    }
    report("sequential", sequential, start.elapsed(), &hist);

    for concurrency in [64usize] {
        let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3).unwrap()));
        let start = Instant::now();
        stream::iter(0..total)
            .map(|i| {
                let (service, token, hist) = (Arc::clone(&service), app.token.clone(), Arc::clone(&hist));
                let chat = chats[i % chats.len()];
                async move {
                    let t = Instant::now();
                    service.create_message(&token, chat, &body(i)).await.unwrap();
                    hist.lock().unwrap().record(t.elapsed().as_micros() as u64).unwrap();
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        let elapsed = start.elapsed();
        let hist = hist.lock().unwrap().clone();
        report(&format!("{concurrency}-way concurrent"), total, elapsed, &hist);
    }
    let m = service.metrics().snapshot();
    println!(
        "write batches: {} committed, {:.1} operations per batch on average",
        m.batches,
        m.operations as f64 / m.batches.max(1) as f64
    );
    service.close().await;
}

fn body(i: usize) -> String {
    format!("message {i}: the quick brown fox jumps over the lazy dog near the riverbank")
}

fn report(label: &str, n: usize, elapsed: Duration, hist: &Histogram<u64>) {
    println!(
        "{label:>20}: {n} messages in {:.2} s = {:>9.0} messages/s | latency p50 {} µs, p99 {} µs, max {} µs",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.99),
        hist.max()
    );
}
