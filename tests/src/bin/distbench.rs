//! Benchmark of the distributed profile: real chat-server processes on MariaDB and Redis.
//!
//! ```text
//! eval "$(tests/services/services.sh env)"
//! cargo build --release -p chat-tests --features distributed --bins
//! cargo run --release -p chat-tests --features distributed --bin distbench -- \
//!     [--connections 64] [--seconds 10] [--messages-drain 50000]
//! ```
//!
//! On a fresh database `chat_bench_<random>` and Redis prefix `bench:<random>:` (both removed
//! at the end), with `server-process` children (the chat-server program of this package):
//!
//! - A: one `--role api` process, no worker: `POST …/messages` (spread over 10 chats) for
//!   `--seconds` on `--connections` keep-alive connections; creates/s (201 answers only),
//!   p50/p90/p99/max, errors by status.
//! - B: the same load split evenly over two `--role api` processes.
//! - C: everything is now queued in Redis (topped up, still without a worker, to at least
//!   `--messages-drain` messages); one `--role worker` process starts, and the clock runs from
//!   its "listening on" line until the queue (`GET /api/v1/admin/queue`) has neither depth nor
//!   pending entries: messages persisted/s, then `SELECT COUNT(*) FROM messages` must equal
//!   the 201 answers.
//! - D: the ceiling, `redis-benchmark -t incr` with as many connections, and our creates/s
//!   as a share of its requests/s.
//!
//! Needs `CHAT_TEST_MYSQL_URL` and `CHAT_TEST_REDIS_URL` (`tests/services/services.sh start
//! mariadb`, `start redis`, `env`). Everything targets 127.0.0.1, for bounded times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sqlx::{Connection, MySqlConnection};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The admin token of the API processes.
const ADMIN_TOKEN: &str = "benchtoken";
/// Chats the load is spread over.
const CHATS: usize = 10;
/// The goals printed next to the figures.
const GOAL_CREATES: f64 = 20_000.0;
const GOAL_P99_MS: f64 = 5.0;
const GOAL_PERSISTED: f64 = 20_000.0;
/// Upper bounds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    connections: usize,
    seconds: u64,
    messages_drain: usize,
}

fn args() -> Args {
    let mut a = Args {
        connections: 64,
        seconds: 10,
        messages_drain: 50_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--connections" => a.connections = value.parse().expect("--connections N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            "--messages-drain" => a.messages_drain = value.parse().expect("--messages-drain N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        (1..=1024).contains(&a.connections),
        "--connections must be 1..=1024"
    );
    assert!((1..=600).contains(&a.seconds), "--seconds must be 1..=600");
    assert!(
        a.messages_drain <= 10_000_000,
        "--messages-drain must be at most 10,000,000"
    );
    a
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services with `tests/services/services.sh start mariadb` \
             and `… start redis`, and export them with `eval \"$(tests/services/services.sh env)\"`"
        )
    })
}

/// Where everything lives: the fresh database and Redis prefix.
struct Setup {
    args: Args,
    binary: PathBuf,
    admin_url: String,
    database: String,
    database_url: String,
    redis_url: String,
    prefix: String,
}

fn main() {
    let args = args();
    let admin_url = env("CHAT_TEST_MYSQL_URL");
    let redis_url = env("CHAT_TEST_REDIS_URL");
    let binary = std::env::current_exe()
        .expect("the current executable")
        .with_file_name("server-process");
    assert!(
        binary.exists(),
        "{} does not exist: build it first with \
         `cargo build --release -p chat-tests --features distributed --bins`",
        binary.display()
    );
    let suffix = chat_core::Token::generate().as_str()[..16].to_owned();
    let database = format!("chat_bench_{suffix}");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("CHAT_TEST_MYSQL_URL: a database URL with a path");
    let database_url = format!("{base}/{database}");
    let setup = Arc::new(Setup {
        args,
        binary,
        admin_url: admin_url.clone(),
        database,
        database_url,
        redis_url,
        prefix: format!("bench:{suffix}:"),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        create_database(&setup).await;
        // The benchmark runs in a task so that a panic still reaches the cleanup below; its
        // processes are killed when it unwinds.
        let outcome = tokio::spawn(run(Arc::clone(&setup))).await;
        cleanup(&setup).await;
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("the benchmark task failed: {e}"),
            }
        }
    });
}

async fn create_database(setup: &Setup) {
    let mut admin = MySqlConnection::connect(&setup.admin_url)
        .await
        .expect("connect to CHAT_TEST_MYSQL_URL");
    sqlx::query(&format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        setup.database
    ))
    .execute(&mut admin)
    .await
    .expect("create the benchmark database");
    let _ = admin.close().await;
}

/// Drops the database and deletes the prefix's Redis keys.
async fn cleanup(setup: &Setup) {
    match MySqlConnection::connect(&setup.admin_url).await {
        Ok(mut admin) => {
            if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {}", setup.database))
                .execute(&mut admin)
                .await
            {
                eprintln!("warning: could not drop {}: {e}", setup.database);
            }
            let _ = admin.close().await;
        }
        Err(e) => eprintln!("warning: could not drop {}: {e}", setup.database),
    }
    if let Err(e) = delete_keys(setup).await {
        eprintln!("warning: could not delete the keys {}*: {e}", setup.prefix);
    }
}

async fn delete_keys(setup: &Setup) -> redis::RedisResult<()> {
    let mut conn = redis::Client::open(setup.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", setup.prefix))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(1000) {
        redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(())
}

/// A `server-process` child, killed when dropped.
struct Server {
    child: tokio::process::Child,
    url: String,
}

impl Server {
    /// Starts it with `--role ROLE` and waits (at most a minute) for its "listening on" line.
    async fn spawn(setup: &Setup, role: &str) -> Server {
        let mut command = tokio::process::Command::new(&setup.binary);
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(["--database-url", &setup.database_url])
            .args(["--redis-url", &setup.redis_url])
            .args(["--redis-prefix", &setup.prefix])
            .args(["--role", role, "--log", "warn"]);
        if role != "worker" {
            command.args(["--admin-token", ADMIN_TOKEN]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", setup.binary.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("server-process --role {role} exited before listening"),
            Ok(Err(e)) => panic!("server-process --role {role}: reading stdout: {e}"),
            Err(_) => {
                panic!("server-process --role {role} did not listen within {START_TIMEOUT:?}")
            }
        };
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            panic!("server-process --role {role} printed {line:?} instead of \"listening on …\"");
        };
        let url = url.to_owned();
        // Whatever else it prints is read and dropped, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server { child, url }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One load phase's figures.
struct Phase {
    created: u64,
    errors: BTreeMap<String, u64>,
    hist: Histogram<u64>,
    elapsed: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.created as f64 / self.elapsed
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.hist.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    fn meets_goal(&self) -> bool {
        self.rate() >= GOAL_CREATES && self.ms(0.99) <= GOAL_P99_MS
    }

    fn print(&self, label: &str) {
        println!(
            "{label}: {} created in {:.1} s = {} creates/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
            thousands(self.created),
            self.elapsed,
            thousands(self.rate().round() as u64),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.max_ms(),
            self.error_count()
        );
        for (kind, n) in &self.errors {
            println!("    error {kind}: {n}");
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} creates/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  errors {}  (goal ≥ {} creates/s with p99 ≤ {GOAL_P99_MS} ms: {})",
            thousands(self.rate().round() as u64),
            self.ms(0.5),
            self.ms(0.99),
            self.max_ms(),
            self.error_count(),
            thousands(GOAL_CREATES as u64),
            met(self.meets_goal())
        )
    }
}

/// When a load stops.
#[derive(Clone, Copy)]
enum Stop {
    At(Instant),
    After(usize),
}

async fn run(setup: Arc<Setup>) {
    let args = &setup.args;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    println!(
        "distbench: database {}, Redis prefix {}, {} connections, {} s per phase",
        setup.database, setup.prefix, args.connections, args.seconds
    );

    // Phase A: one API process, no worker.
    let api1 = Server::spawn(&setup, "api").await;
    println!("API process 1: {}", api1.url);
    let token = create_application(&http, &api1.url).await;
    let mut chats = Vec::with_capacity(CHATS);
    for _ in 0..CHATS {
        chats.push(create_chat(&http, &api1.url, &token).await);
    }
    let one = load(
        &http,
        std::slice::from_ref(&api1.url),
        &token,
        &chats,
        args.connections,
        Stop::At(Instant::now() + Duration::from_secs(args.seconds)),
    )
    .await;
    one.print("A  1 API process  ");

    // Phase B: two API processes on the same database and prefix.
    let api2 = Server::spawn(&setup, "api").await;
    println!("API process 2: {}", api2.url);
    let urls = [api1.url.clone(), api2.url.clone()];
    let two = load(
        &http,
        &urls,
        &token,
        &chats,
        args.connections,
        Stop::At(Instant::now() + Duration::from_secs(args.seconds)),
    )
    .await;
    two.print("B  2 API processes");

    // Phase C: the queue holds everything; one worker drains it.
    let mut created = one.created + two.created;
    if (created as usize) < args.messages_drain {
        let top_up = load(
            &http,
            &urls,
            &token,
            &chats,
            args.connections,
            Stop::After(args.messages_drain - created as usize),
        )
        .await;
        top_up.print("C  top-up (no worker)");
        created += top_up.created;
    }
    let before = queue(&http, &api1.url).await;
    println!(
        "queue before the worker: depth {}, pending {}, dead {} ({} messages created)",
        thousands(before["depth"].as_u64().unwrap_or(0)),
        thousands(before["pending"].as_u64().unwrap_or(0)),
        thousands(before["dead"].as_u64().unwrap_or(0)),
        thousands(created)
    );
    let launched = Instant::now();
    let worker = Server::spawn(&setup, "worker").await;
    let started = Instant::now();
    let at_start = queue(&http, &api1.url).await;
    println!(
        "worker: {} (listening {:.2} s after launch; queue depth then {})",
        worker.url,
        (started - launched).as_secs_f64(),
        thousands(at_start["depth"].as_u64().unwrap_or(0))
    );
    let last = loop {
        let q = queue(&http, &api1.url).await;
        if q["depth"].as_u64() == Some(0) && q["pending"].as_u64() == Some(0) {
            break q;
        }
        assert!(
            started.elapsed() < DRAIN_TIMEOUT,
            "the queue did not drain within {DRAIN_TIMEOUT:?}: {q}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let drain = started.elapsed().as_secs_f64();
    let persisted = created as f64 / drain;
    println!(
        "C  worker drain    : {} messages in {drain:.2} s = {} messages/s persisted (dead letters {})",
        thousands(created),
        thousands(persisted.round() as u64),
        thousands(last["dead"].as_u64().unwrap_or(0))
    );
    let mut db = MySqlConnection::connect(&setup.database_url)
        .await
        .expect("connect to the benchmark database");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&mut db)
        .await
        .expect("count the messages");
    let _ = db.close().await;
    let rows_ok = u64::try_from(rows).ok() == Some(created);
    println!(
        "MySQL check: SELECT COUNT(*) FROM messages = {}, 201 answers = {}: {}",
        thousands(rows.max(0) as u64),
        thousands(created),
        if rows_ok { "equal" } else { "DIFFERENT" }
    );
    worker.stop().await;
    api2.stop().await;
    api1.stop().await;
    assert!(
        rows_ok,
        "MySQL holds {rows} messages but {created} were acknowledged with 201"
    );

    // Phase D: the ceiling of the Redis every create goes through.
    let incr = redis_benchmark(&setup.redis_url, args.connections).await;
    println!(
        "D  redis-benchmark INCR -c {}: {} req/s; ours = {:.1}% (1 API) / {:.1}% (2 API)",
        args.connections,
        thousands(incr.round() as u64),
        100.0 * one.rate() / incr,
        100.0 * two.rate() / incr
    );

    println!();
    println!(
        "distributed profile, {} connections, {} s per phase",
        args.connections, args.seconds
    );
    println!("  1 API process  : {}", one.summary());
    println!("  2 API processes: {}", two.summary());
    println!(
        "  worker drain   : {} messages in {drain:.1} s = {} messages/s persisted (MySQL rows checked: {})  (goal ≥ {} messages/s persisted: {})",
        thousands(created),
        thousands(persisted.round() as u64),
        thousands(rows.max(0) as u64),
        thousands(GOAL_PERSISTED as u64),
        met(persisted >= GOAL_PERSISTED)
    );
    println!(
        "  redis-benchmark INCR -c {}: {} req/s; ours = {:.1}% (1 API) / {:.1}% (2 API) of it",
        args.connections,
        thousands(incr.round() as u64),
        100.0 * one.rate() / incr,
        100.0 * two.rate() / incr
    );
}

/// `POST /api/v1/applications` → its token.
async fn create_application(http: &reqwest::Client, url: &str) -> String {
    let body = post_json(
        http,
        &format!("{url}/api/v1/applications"),
        r#"{"name":"bench"}"#,
    )
    .await;
    body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned()
}

/// `POST /api/v1/applications/{token}/chats` → its number.
async fn create_chat(http: &reqwest::Client, url: &str, token: &str) -> u64 {
    let body = post_json(
        http,
        &format!("{url}/api/v1/applications/{token}/chats"),
        "",
    )
    .await;
    body["number"]
        .as_u64()
        .unwrap_or_else(|| panic!("no number in {body}"))
}

/// A POST that must answer 201 with JSON.
async fn post_json(http: &reqwest::Client, url: &str, body: &str) -> serde_json::Value {
    let mut request = http.post(url);
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let resp = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 201, "POST {url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {url}: {e}: {text}"))
}

/// `GET /api/v1/admin/queue` with the admin token.
async fn queue(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let resp = http
        .get(format!("{url}/api/v1/admin/queue"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/api/v1/admin/queue: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "GET {url}/api/v1/admin/queue: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("queue status {text:?}: {e}"))
}

/// Creates messages on `connections` keep-alive connections, spread over the chats, the
/// connections split evenly over the servers, until `stop`.
async fn load(
    http: &reqwest::Client,
    servers: &[String],
    token: &str,
    chats: &[u64],
    connections: usize,
    stop: Stop,
) -> Phase {
    let urls: Arc<Vec<Vec<String>>> = Arc::new(
        servers
            .iter()
            .map(|server| {
                chats
                    .iter()
                    .map(|chat| {
                        format!("{server}/api/v1/applications/{token}/chats/{chat}/messages")
                    })
                    .collect()
            })
            .collect(),
    );
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (http, urls, counter) = (http.clone(), Arc::clone(&urls), Arc::clone(&counter));
            tokio::spawn(async move {
                let server = &urls[c % urls.len()];
                let mut hist = Histogram::<u64>::new(3).unwrap();
                let mut created = 0u64;
                let mut errors = BTreeMap::<String, u64>::new();
                loop {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    match stop {
                        Stop::At(deadline) if Instant::now() >= deadline => break,
                        Stop::After(n) if i >= n => break,
                        _ => {}
                    }
                    let body = format!(
                        "{{\"body\":\"distbench message {i:08} from connection {c:02}, some words to index\"}}"
                    );
                    let t = Instant::now();
                    let r = http
                        .post(&server[i % server.len()])
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let outcome = match r {
                        Ok(resp) => {
                            let status = resp.status();
                            match resp.bytes().await {
                                Ok(_) if status.as_u16() == 201 => Ok(()),
                                Ok(_) => Err(format!("status {}", status.as_u16())),
                                Err(e) => Err(format!("reading the body: {e}")),
                            }
                        }
                        Err(e) => Err(format!("transport: {e}")),
                    };
                    hist.record(t.elapsed().as_micros() as u64).unwrap();
                    match outcome {
                        Ok(()) => created += 1,
                        Err(kind) => *errors.entry(kind).or_default() += 1,
                    }
                }
                (hist, created, errors)
            })
        })
        .collect();
    let mut phase = Phase {
        created: 0,
        errors: BTreeMap::new(),
        hist: Histogram::<u64>::new(3).unwrap(),
        elapsed: 0.0,
    };
    for t in tasks {
        let (hist, created, errors) = t.await.unwrap();
        phase.hist.add(&hist).unwrap();
        phase.created += created;
        for (kind, n) in errors {
            *phase.errors.entry(kind).or_default() += n;
        }
    }
    phase.elapsed = start.elapsed().as_secs_f64();
    phase
}

/// `redis-benchmark -t incr` on the Redis of the URL: its requests per second.
async fn redis_benchmark(redis_url: &str, connections: usize) -> f64 {
    let port = redis_url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .and_then(|authority| authority.rsplit_once(':'))
        .map_or("6379", |(_, port)| port);
    let output = tokio::process::Command::new("/usr/bin/redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", port])
        .args(["-c", &connections.to_string()])
        .args(["-n", "200000", "-t", "incr", "-q"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("redis-benchmark did not finish within 300 s")
        .expect(
            "run /usr/bin/redis-benchmark (tests/services/services.sh start redis installs it)",
        );
    let text = String::from_utf8_lossy(&output.stdout);
    let result = text
        .split(['\r', '\n'])
        .map(str::trim)
        .rfind(|l| l.contains("requests per second"))
        .unwrap_or_else(|| panic!("no result in redis-benchmark's output: {text:?}"));
    println!("redis-benchmark: {result}");
    result
        .split_whitespace()
        .find_map(|word| word.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no requests per second in {result:?}"))
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "not met"
    }
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut groups = Vec::new();
    let mut rest = digits.as_str();
    while rest.len() > 3 {
        let (head, tail) = rest.split_at(rest.len() - 3);
        groups.push(tail);
        rest = head;
    }
    groups.push(rest);
    groups.reverse();
    groups.join(",")
}
