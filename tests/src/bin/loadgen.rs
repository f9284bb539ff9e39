//! HTTP load generator: keep-alive connections, fixed concurrency and duration, hdrhistogram.
//!
//! `cargo run --release -p chat-tests --bin loadgen -- [--url URL] [--connections 64]
//! [--seconds 10]` creates messages (`POST …/messages`, spread over 10 chats) and then, in the
//! same run, requests the trivial `GET /health` of the same server, printing throughput,
//! p50/p90/p99/max of both and their ratio. Without `--url` it starts a server in-process on a
//! fresh embedded database (its own runtime and threads).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatService, Config, HttpClient};
use hdrhistogram::Histogram;

struct Args {
    url: Option<String>,
    connections: usize,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        url: None,
        connections: 64,
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = Some(value),
            "--connections" => a.connections = value.parse().expect("--connections N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn main() {
    let args = args();
    let _server_dir;
    let url = match &args.url {
        Some(u) => u.clone(),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let url = start_server(&dir);
            _server_dir = dir;
            url
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(&url, &args));
}

/// A server on its own runtime, in this process, over a fresh database.
fn start_server(dir: &tempfile::TempDir) -> String {
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let service = ChatService::open(&Config {
                ..Config::with_database_url(db)
            })
            .await
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            let state = chat_server::AppState::new(service);
            chat_server::serve(
                listener,
                state,
                &chat_server::Limits::default(),
                std::future::pending(),
            )
            .await
            .unwrap();
        });
    });
    rx.recv().unwrap()
}

async fn run(url: &str, args: &Args) {
    let api = HttpClient::new(url).unwrap();
    let app = api.create_application("loadgen").await.unwrap();
    for _ in 0..10 {
        api.create_chat(&app.token).await.unwrap();
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()
        .unwrap();
    let token = app.token.to_string();
    println!(
        "target {url}: {} connections, {} s per phase",
        args.connections, args.seconds
    );
    let (u, t) = (url.to_owned(), token.clone());
    let create = phase("POST message", &http, args, move |i| {
        let (url, token) = (&u, &t);
        let chat = i % 10 + 1;
        (
            format!("{url}/api/v1/applications/{token}/chats/{chat}/messages"),
            Some(format!(
                "{{\"body\":\"load message {i} with some words to index\"}}"
            )),
        )
    })
    .await;
    let health = format!("{url}/health");
    let trivial = phase("GET /health", &http, args, move |_| (health.clone(), None)).await;
    println!(
        "creation runs at {:.0}% of the trivial route's throughput",
        100.0 * create / trivial
    );
}

/// Runs one phase; returns requests per second.
async fn phase(
    label: &str,
    http: &reqwest::Client,
    args: &Args,
    request: impl Fn(usize) -> (String, Option<String>) + Send + Sync + 'static,
) -> f64 {
    let request = Arc::new(request);
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let errors = Arc::new(Mutex::new(0u64));
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let (http, request, hist, errors, counter) = (
                http.clone(),
                Arc::clone(&request),
                Arc::clone(&hist),
                Arc::clone(&errors),
                Arc::clone(&counter),
            );
            tokio::spawn(async move {
                let mut local = Histogram::<u64>::new(3).unwrap();
                while Instant::now() < deadline {
                    let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (url, body) = request(i);
                    let t = Instant::now();
                    let r = match body {
                        Some(b) => {
                            http.post(url)
                                .header("content-type", "application/json")
                                .body(b)
                                .send()
                                .await
                        }
                        None => http.get(url).send().await,
                    };
                    let ok = match r {
                        Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    local.record(t.elapsed().as_micros() as u64).unwrap();
                    if !ok {
                        *errors.lock().unwrap() += 1;
                    }
                }
                hist.lock().unwrap().add(&local).unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let hist = hist.lock().unwrap();
    let rate = hist.len() as f64 / elapsed;
    println!(
        "{label:>14}: {:>8} requests, {:>8.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
        hist.len(),
        rate,
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.9) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        errors.lock().unwrap()
    );
    rate
}
