//! Search benchmark: latency of substring search on 1,000,000 messages in one chat and on
//! 1,000,000 messages over 1,000 chats — the embedded profile's FTS5 trigram index, OpenSearch,
//! and a naive `LIKE '%q%'` scan as the baseline, in one run, with their ratios; plus indexing
//! rates (FTS5 reindex, OpenSearch `_bulk`, and the distributed profile's reindex from MySQL).
//!
//! ```text
//! eval "$(tests/services/services.sh env)"   # MariaDB, Redis and OpenSearch running
//! cargo run --release -p chat-tests --features distributed --bin searchbench -- [--messages 1000000]
//! ```
//!
//! Every query runs in the orders `newest` (the default: walk the index by number, stop after
//! one page) and `relevance` (rank the chat's newest 1,000 matches). Latencies are reported per
//! engine and order for the common and the rare (or absent) substrings apart. The baseline is a
//! full `LIKE '%q%'` scan of the chat (it counts every match, so it reads every row: no early
//! stop), run for the rare substrings, whose ratio to the engines is the one the goals name.
//!
//! Bodies are generated sentences of ~70 characters from a fixed vocabulary (a deterministic
//! generator, so every run searches the same data). Rows are loaded straight into the tables
//! (the write path has its own benchmarks); the indices are then built by the products' own
//! reindex jobs, which is what the indexing rates measure.
//!
//! Each line also gives the CPU one search cost, from the threads' run times around each block
//! of searches: "here" is this process (all of FTS5's work; for OpenSearch the service's own
//! side, the API's share of a search) and "engine" the search engine's processes
//! (`--engine-pid PID[,PID…]`, by default every OpenSearch/Elasticsearch process found).
//!
//! `--cluster` measures instead what routing by chat buys on the three-node OpenSearch cluster
//! (`CHAT_TEST_SEARCH_CLUSTER_URLS`, `services.sh start opensearch-cluster`): `--messages`
//! (default 1,000,000) over `--chats` (1,000) in an index of `--shards` (5) shards, filled by
//! `_bulk` with the chat's routing; then the same `newest` query of one chat, routed (reads the
//! chat's shard) and not routed (reads every shard), alternately, p50/p99 of each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chat_core::testing::SearchSpec;
use chat_core::testing::{Doc, ElasticSearch};
use chat_core::{
    ChatApi, ChatNumber, ChatService, Config, NoProgress, Query, SearchRequest, SearchSort, Token,
};
use chat_tests::bench::{arg, Gen};
use hdrhistogram::Histogram;
use sqlx::{Connection, MySqlConnection, QueryBuilder, Row, SqliteConnection};

const WORDS: [&str; 64] = [
    "the",
    "meeting",
    "was",
    "moved",
    "to",
    "tomorrow",
    "morning",
    "please",
    "bring",
    "your",
    "laptop",
    "and",
    "silver",
    "charger",
    "ocean",
    "breeze",
    "coffee",
    "order",
    "shipped",
    "yesterday",
    "customer",
    "asked",
    "about",
    "refund",
    "policy",
    "wonderful",
    "weather",
    "today",
    "let's",
    "celebrate",
    "release",
    "version",
    "deployment",
    "failed",
    "again",
    "network",
    "latency",
    "spike",
    "database",
    "migration",
    "finished",
    "review",
    "pull",
    "request",
    "thanks",
    "everyone",
    "lunch",
    "downtown",
    "parking",
    "garage",
    "closed",
    "weekend",
    "project",
    "deadline",
    "friday",
    "budget",
    "approved",
    "invoice",
    "attached",
    "station",
    "nation",
    "creation",
    "information",
    "quickly",
];

/// The queries: common, medium, rare and absent substrings, mid-word and across words; the
/// flag says whether it is rare (at most one message in a thousand).
const QUERIES: [(&str, bool); 8] = [
    ("ation", false),       // in four words: very common
    ("onderf", false),      // one word: common
    ("ocean bre", false),   // two words across a space
    ("ELEASE", false),      // case-insensitive
    ("zephyr", true),       // one message in a thousand
    ("quasar pulse", true), // one message in a hundred thousand
    ("qqxj", true),         // nowhere
    ("ing mor", false),     // a run of grams across words
];

/// The orders measured.
const SORTS: [SearchSort; 2] = [SearchSort::Newest, SearchSort::Relevance];

/// A message of the data set: words of [`WORDS`], now and then a rare word ("zephyr") or a
/// rare phrase ("quasar pulse") appended.
fn body(gen: &mut Gen) -> String {
    let mut s = gen.sentence(&WORDS);
    match gen.number() % 100_000 {
        0 => s.push_str(" quasar pulse"),
        n if n % 1000 == 1 => s.push_str(" zephyr"),
        _ => {}
    }
    s
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: eval \"$(tests/services/services.sh env)\" after starting them")
    })
}

/// Latencies of one cell, and the CPU its searches cost: this process (FTS5 runs in it; for
/// OpenSearch it is the API side, the service's own work) and the search engine's processes.
struct Latency {
    hist: Histogram<u64>,
    own: Duration,
    engine: Duration,
}

impl Latency {
    fn new() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).unwrap(),
            own: Duration::ZERO,
            engine: Duration::ZERO,
        }
    }
    /// CPU per search, in microseconds.
    fn per_search(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e6 / self.hist.len().max(1) as f64
    }
    fn record(&mut self, d: Duration) {
        let _ = self.hist.record(d.as_micros().max(1) as u64);
    }
    fn p(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
    fn line(&self) -> String {
        format!(
            "p50 {:>8.2} ms  p99 {:>8.2} ms  CPU/search {:>7.0} µs here {:>7.0} µs engine  ({} searches)",
            self.p(0.5),
            self.p(0.99),
            self.per_search(self.own),
            self.per_search(self.engine),
            self.hist.len()
        )
    }
}

/// CPU time used so far by the threads of `pid` (`self` for this process): the sum of each
/// thread's run time from `/proc/PID/task/*/schedstat`, in nanoseconds, so short searches
/// are measured exactly (`/proc/PID/stat` counts 10 ms ticks). Threads that exited are not
/// counted: samples are taken around blocks of searches, during which the pools keep theirs.
fn cpu_of(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The search engine's processes: `--engine-pid PID[,PID…]`, or every Java process whose
/// command line names OpenSearch or Elasticsearch (their jars or main class).
fn engine_pids() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--engine-pid") {
        return args
            .get(i + 1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
    }
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                        let c = String::from_utf8_lossy(&c);
                        let java = c.split('\0').next().is_some_and(|p| p.ends_with("java"));
                        java && (c.contains("opensearch") || c.contains("elasticsearch"))
                    })
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// This process's CPU and the engine's so far.
fn cpu_now(engine: &[String]) -> (Duration, Duration) {
    (cpu_of("self"), engine.iter().map(|p| cpu_of(p)).sum())
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:.0} docs/s", n as f64 / d.as_secs_f64().max(1e-6))
}

/// The layout of one dataset: how many chats share the messages.
struct Dataset {
    name: &'static str,
    chats: u32,
}

/// Latencies of one engine: by order, then common (0) and rare (1) substrings.
type ByOrder = Vec<[Latency; 2]>;

fn by_order() -> ByOrder {
    SORTS
        .iter()
        .map(|_| [Latency::new(), Latency::new()])
        .collect()
}

struct Results {
    fts: ByOrder,
    engine: ByOrder,
    /// The full scan, rare substrings only.
    scan: Latency,
    lines: Vec<String>,
}

fn main() {
    let messages = arg("--messages", 1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::args().any(|a| a == "--cluster") {
        let chats = arg("--chats", 1000) as u32;
        let shards = arg("--shards", 5) as u32;
        rt.block_on(cluster(messages, chats, shards));
        return;
    }
    let mut report = vec![format!(
        "search benchmark: {messages} messages per dataset, limit 20, queries (text, rare) {QUERIES:?}"
    )];
    for set in [
        Dataset {
            name: "one chat",
            chats: 1,
        },
        Dataset {
            name: "1,000 chats",
            chats: 1000,
        },
    ] {
        let r = rt.block_on(run(&set, messages));
        report.push(format!("\n{} messages in {}:", messages, set.name));
        report.extend(r.lines.iter().map(|l| format!("  {l}")));
        for (i, sort) in SORTS.iter().enumerate() {
            for (class, name) in ["common", "rare"].iter().enumerate() {
                report.push(format!(
                    "  {sort:<9} {name:<6}  FTS5       {}",
                    r.fts[i][class].line()
                ));
                report.push(format!(
                    "  {sort:<9} {name:<6}  OpenSearch {}",
                    r.engine[i][class].line()
                ));
            }
        }
        report.push(format!("  full LIKE '%q%' scan, rare: {}", r.scan.line()));
        let newest_rare = &r.fts[0][1];
        report.push(format!(
            "  scan p99 ÷ newest rare p99: FTS5 {:.0}×, OpenSearch {:.0}×   (goals: newest p99 ≤ 5 ms FTS5 / ≤ 15 ms OpenSearch, relevance p99 ≤ 50 ms, rare ≥ 100× below the scan)",
            r.scan.p(0.99) / newest_rare.p(0.99),
            r.scan.p(0.99) / r.engine[0][1].p(0.99)
        ));
    }
    println!("\n{}", report.join("\n"));
}

async fn run(set: &Dataset, messages: u64) -> Results {
    let per_chat = (messages / u64::from(set.chats)).max(1);
    let mut lines = Vec::new();
    println!(
        "== {}: generating and loading {messages} messages",
        set.name
    );

    // Embedded profile: a fresh file; rows loaded, then FTS5 built by the reindex job.
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let config = Config {
        fsync: false,
        ..Config::with_database_url(&sqlite_url)
    };
    let embedded = ChatService::open(&config).await.unwrap();
    let app = embedded.create_application("bench").await.unwrap();
    for _ in 0..set.chats {
        embedded.create_chat(&app.token).await.unwrap();
    }
    embedded.close().await;
    let mut db = SqliteConnection::connect(&sqlite_url).await.unwrap();
    let chat_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM chats ORDER BY number")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let mut gen = Gen(0x9E37_79B9_7F4A_7C15);
    let mut bodies: Vec<(u32, u32, String)> = Vec::with_capacity(messages as usize);
    for chat in 1..=set.chats {
        for number in 1..=per_chat as u32 {
            bodies.push((chat, number, body(&mut gen)));
        }
    }
    let now = chrono::Utc::now().timestamp_micros();
    sqlx::query("BEGIN").execute(&mut db).await.unwrap();
    for chunk in bodies.chunks(5000) {
        let mut q = QueryBuilder::new(
            "INSERT INTO messages (id, chat_id, number, body, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, (chat, number, body)| {
            let chat_id = chat_ids[*chat as usize - 1];
            b.push_bind((chat_id << 32) | i64::from(*number))
                .push_bind(chat_id)
                .push_bind(i64::from(*number))
                .push_bind(body.as_str())
                .push_bind(now)
                .push_bind(now);
        });
        q.build().execute(&mut db).await.unwrap();
    }
    sqlx::query("COMMIT").execute(&mut db).await.unwrap();
    // The numbering counters, as the write path would have left them.
    sqlx::query("UPDATE chats SET last_message_number = ?, messages_count = ?")
        .bind(per_chat as i64)
        .bind(per_chat as i64)
        .execute(&mut db)
        .await
        .unwrap();
    let embedded = ChatService::open(&config).await.unwrap();
    let started = Instant::now();
    let summary = embedded.reindex(None, NoProgress::arc()).await.unwrap();
    lines.push(format!(
        "FTS5 reindex      : {} messages in {:.1} s = {}",
        summary.messages,
        started.elapsed().as_secs_f64(),
        rate(summary.messages, started.elapsed())
    ));

    // OpenSearch: a private alias, filled by `_bulk` (the workers' path) for the one-chat set,
    // and by the distributed profile's own reindex from MySQL for the many-chats set.
    let es_url = env("CHAT_TEST_ELASTICSEARCH_URL");
    let suffix = Token::generate().as_str()[..12].to_owned();
    let es_prefix = format!("bench-{suffix}");
    let mut distributed = None;
    let engine = ElasticSearch::open(&es_url, &es_prefix, 1, 0)
        .await
        .unwrap();
    let es_app = 1i64;
    if set.chats == 1 {
        let started = Instant::now();
        for chunk in bodies.chunks(5000) {
            let docs: Vec<Doc> = chunk
                .iter()
                .map(|(chat, number, body)| Doc {
                    app: es_app,
                    chat: *chat,
                    number: *number,
                    body: body.clone(),
                    created_at: now,
                    updated_at: now,
                })
                .collect();
            engine.index(&docs, None).await.unwrap();
        }
        engine.refresh(None).await.unwrap();
        lines.push(format!(
            "OpenSearch _bulk  : {} documents in {:.1} s = {}",
            bodies.len(),
            started.elapsed().as_secs_f64(),
            rate(bodies.len() as u64, started.elapsed())
        ));
    } else {
        let (database, url) =
            chat_tests::cluster::create_database(&env("CHAT_TEST_MYSQL_URL")).await;
        let config = Config {
            redis_url: Some(env("CHAT_TEST_REDIS_URL")),
            elasticsearch_url: Some(es_url.clone()),
            redis_prefix: format!("bench:{suffix}:"),
            index_prefix: es_prefix.clone(),
            index_replicas: 0,
            recount_interval: None,
            ..Config::with_database_url(&url)
        };
        let service = ChatService::open(&config).await.unwrap();
        let dapp = service.create_application("bench").await.unwrap();
        for _ in 0..set.chats {
            service.create_chat(&dapp.token).await.unwrap();
        }
        let mut my = MySqlConnection::connect(&url).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut ids: Vec<(i32, i64)> = Vec::new();
        while ids.len() < set.chats as usize {
            assert!(
                Instant::now() < deadline,
                "the worker did not persist the chats"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            ids = sqlx::query("SELECT number, id FROM chats ORDER BY number")
                .fetch_all(&mut my)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        }
        let at = chrono::DateTime::from_timestamp_micros(now).unwrap();
        for chunk in bodies.chunks(5000) {
            let mut q = QueryBuilder::new(
                "INSERT INTO messages (chat_id, number, body, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, (chat, number, body)| {
                b.push_bind(ids[*chat as usize - 1].1)
                    .push_bind(*number)
                    .push_bind(body.as_str())
                    .push_bind(at)
                    .push_bind(at);
            });
            q.build().execute(&mut my).await.unwrap();
        }
        let started = Instant::now();
        let summary = service.reindex(None, NoProgress::arc()).await.unwrap();
        lines.push(format!(
            "distributed reindex (MySQL → OpenSearch, new index + alias swap): {} messages in {:.1} s = {}",
            summary.messages,
            started.elapsed().as_secs_f64(),
            rate(summary.messages, started.elapsed())
        ));
        let _ = my.close().await;
        distributed = Some((service, dapp.token, database));
    }

    // Latencies: each query in each order against a spread of chats, the same for every
    // engine; each engine's searches of one query and order run as a block, so the CPU they
    // cost (here and in the engine) is sampled around the block.
    let rounds = 40u32;
    let mut fts = by_order();
    let mut es = by_order();
    let mut scan = Latency::new();
    let mut pick = Gen(7);
    let engine_pids = engine_pids();
    // The engine merges segments for a while after a bulk load: wait until it is quiet (under
    // 5% of a core over half a second, at most a minute), so its CPU below is the searches'.
    let quiet_since = Instant::now();
    loop {
        let before = cpu_now(&engine_pids).1;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let busy = cpu_now(&engine_pids).1.saturating_sub(before);
        if busy < Duration::from_millis(25) || quiet_since.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    println!(
        "== {}: searching (engine processes for CPU: {engine_pids:?}; quiet after {:.1} s)",
        set.name,
        quiet_since.elapsed().as_secs_f64()
    );
    for (q, rare) in QUERIES {
        let class = usize::from(rare);
        let chats: Vec<u32> = (0..rounds)
            .map(|_| (pick.number() % u64::from(set.chats)) as u32 + 1)
            .collect();
        for (s, &sort) in SORTS.iter().enumerate() {
            let request = SearchRequest::new(q).sorted(sort).limited(20);
            let (own, eng) = cpu_now(&engine_pids);
            let mut pages = Vec::with_capacity(chats.len());
            for &chat in &chats {
                let n = ChatNumber::new(chat).unwrap();
                let t = Instant::now();
                let a = embedded
                    .search_messages(&app.token, n, &request)
                    .await
                    .unwrap()
                    .items;
                fts[s][class].record(t.elapsed());
                pages.push(a);
            }
            let (own2, eng2) = cpu_now(&engine_pids);
            fts[s][class].own += own2 - own;
            fts[s][class].engine += eng2.saturating_sub(eng);
            let (own, eng) = cpu_now(&engine_pids);
            let mut found = Vec::with_capacity(chats.len());
            for &chat in &chats {
                let n = ChatNumber::new(chat).unwrap();
                let t = Instant::now();
                let b = match &distributed {
                    None => {
                        let spec = SearchSpec {
                            sort,
                            limit: 21,
                            after: None,
                            offset: 0,
                        };
                        let mut b = engine
                            .search(es_app, chat, &Query::parse(q).unwrap(), &spec)
                            .await
                            .unwrap();
                        b.truncate(20);
                        b
                    }
                    Some((service, token, _)) => {
                        service
                            .search_messages(token, n, &request)
                            .await
                            .unwrap()
                            .items
                    }
                };
                es[s][class].record(t.elapsed());
                found.push(b);
            }
            let (own2, eng2) = cpu_now(&engine_pids);
            es[s][class].own += own2 - own;
            es[s][class].engine += eng2.saturating_sub(eng);
            for ((a, b), chat) in pages.iter().zip(&found).zip(&chats) {
                assert_eq!(
                    a.len(),
                    b.len(),
                    "FTS5 and OpenSearch disagree on how many hits {q:?} has in chat {chat} ({sort})"
                );
                if sort == SearchSort::Newest {
                    let numbers =
                        |m: &[chat_core::Message]| m.iter().map(|m| m.number).collect::<Vec<_>>();
                    assert_eq!(
                        numbers(a),
                        numbers(b),
                        "FTS5 and OpenSearch disagree on {q:?} (newest)"
                    );
                }
            }
        }
        if rare {
            // The full scan is slow on a big chat: a few rounds are enough for its latency.
            for &chat in chats.iter().take(3) {
                let t = Instant::now();
                // The chat's rows through the primary key (id = chat << 32 | number), as an
                // index on the chat would give them; counting every match reads every row.
                let first = chat_ids[chat as usize - 1] << 32;
                let found: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM messages WHERE id BETWEEN ? AND ? AND body LIKE ?",
                )
                .bind(first)
                .bind(first | 0xFFFF_FFFF)
                .bind(format!("%{q}%"))
                .fetch_one(&mut db)
                .await
                .unwrap();
                scan.record(t.elapsed());
                std::hint::black_box(found);
            }
        }
    }
    embedded.close().await;
    for index in engine.indices().await.unwrap_or_default() {
        let _ = engine.delete_index(&index).await;
    }
    if let Some((service, _, database)) = distributed {
        service.close().await;
        let client = redis::Client::open(env("CHAT_TEST_REDIS_URL")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("bench:{suffix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        chat_tests::cluster::drop_database(&env("CHAT_TEST_MYSQL_URL"), &database).await;
    }
    Results {
        fts,
        engine: es,
        scan,
        lines,
    }
}

/// Routed vs not routed search on the cluster (see the module doc).
async fn cluster(messages: u64, chats: u32, shards: u32) {
    let urls = env("CHAT_TEST_SEARCH_CLUSTER_URLS");
    let nodes: Vec<String> = urls.split(',').map(str::to_owned).collect();
    let prefix = format!("bench-{}", &Token::generate().as_str()[..12]);
    let engine = ElasticSearch::open(&urls, &prefix, shards, 0)
        .await
        .unwrap();
    let alias = format!("{prefix}-messages");
    let app = 1i64;
    let per_chat = (messages / u64::from(chats)).max(1) as u32;
    println!("== cluster: indexing {messages} messages over {chats} chats, {shards} shards");
    let started = Instant::now();
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    let mut docs = Vec::with_capacity(5000);
    let now = chrono::Utc::now().timestamp_micros();
    for number in 1..=per_chat {
        for chat in 1..=chats {
            docs.push(Doc {
                app,
                chat,
                number,
                body: body(&mut gen),
                created_at: now,
                updated_at: now,
            });
            if docs.len() == 5000 {
                engine.index(&docs, None).await.unwrap();
                docs.clear();
            }
        }
    }
    engine.index(&docs, None).await.unwrap();
    engine.refresh(None).await.unwrap();
    let indexed = u64::from(per_chat) * u64::from(chats);
    let took = started.elapsed();
    println!(
        "   {indexed} documents in {:.1} s = {}",
        took.as_secs_f64(),
        rate(indexed, took)
    );

    let http = reqwest::Client::new();
    let mut routed = Latency::new();
    let mut unrouted = Latency::new();
    let mut shards_read = [0u64; 2];
    let rounds = 200u32;
    for i in 0..rounds {
        let chat = 1 + (i * 7919) % chats;
        let (q, _) = QUERIES[i as usize % QUERIES.len()];
        let body = serde_json::json!({
            "query": {"bool": {"filter": [
                {"term": {"app": app}}, {"term": {"chat": chat}},
                {"match_phrase": {"body.grams": {"query": q}}}
            ]}},
            "sort": [{"number": "desc"}],
            "size": 20,
            "track_total_hits": false
        });
        let node = &nodes[i as usize % nodes.len()];
        for (which, routing) in [(0, Some(format!("{app}-{chat}"))), (1, None)] {
            let mut url = format!("{node}/{alias}/_search");
            if let Some(r) = &routing {
                url.push_str(&format!("?routing={r}"));
            }
            let t = Instant::now();
            let answer: serde_json::Value = http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let d = t.elapsed();
            shards_read[which] += answer["_shards"]["total"].as_u64().unwrap();
            if which == 0 {
                routed.record(d);
            } else {
                unrouted.record(d);
            }
        }
    }
    println!(
        "\n{indexed} messages over {chats} chats, {shards} shards, 3 nodes, newest, limit 20:"
    );
    println!(
        "  routed     {}  ({:.1} shards per search)",
        routed.line(),
        shards_read[0] as f64 / f64::from(rounds)
    );
    println!(
        "  not routed {}  ({:.1} shards per search)",
        unrouted.line(),
        shards_read[1] as f64 / f64::from(rounds)
    );
    for index in engine.indices().await.unwrap_or_default() {
        let _ = engine.delete_index(&index).await;
    }
}
